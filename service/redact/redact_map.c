/*
 * redact_map.c
 *      Placeholders: numbering them, the map back to the originals,
 *      writing redacted text and restoring a draft.
 *
 * A map is a small list (one entry per distinct finding of a text), so
 * lookups are linear.  Its originals are personal data: the map is
 * wiped with explicit_bzero() before it is freed and nothing here logs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "redact_int.h"

/* Longest placeholder: '[', kind, '_', a number, ']'. */
#define PLACEHOLDER_MAX (TR_REDACT_NAME_MAX + 24)

struct entry {
    char *placeholder;
    const char *kind;           /* points into placeholder storage */
    char *kind_buf;
    char *original;
    size_t original_len;
};

struct tr_redact_map {
    struct entry *e;
    size_t n;
    size_t cap;
};

static void
wipe_free(char *s, size_t n)
{
    if (s == NULL)
        return;
    explicit_bzero(s, n);
    free(s);
}

void
tr_redact_map_free(struct tr_redact_map *map)
{
    if (map == NULL)
        return;
    for (size_t i = 0; i < map->n; i++) {
        wipe_free(map->e[i].original, map->e[i].original_len);
        free(map->e[i].placeholder);
        free(map->e[i].kind_buf);
    }
    free(map->e);
    free(map);
}

static const struct entry *
find_original(const struct tr_redact_map *map, const char *kind,
              const char *s, size_t n)
{
    for (size_t i = 0; i < map->n; i++) {
        const struct entry *e = &map->e[i];

        if (e->original_len == n && strcmp(e->kind, kind) == 0
            && memcmp(e->original, s, n) == 0)
            return e;
    }
    return NULL;
}

static size_t
count_kind(const struct tr_redact_map *map, const char *kind)
{
    size_t n = 0;

    for (size_t i = 0; i < map->n; i++)
        n += strcmp(map->e[i].kind, kind) == 0;
    return n;
}

/* Whether `ph` occurs in one of the texts of `seen`. */
static bool
seen_in(const struct tr_redact__texts *seen, const char *ph, size_t n)
{
    for (size_t i = 0; i < seen->n; i++)
        if (memmem(seen->texts[i], seen->lens[i], ph, n) != NULL)
            return true;
    return false;
}

/* Whether the map already hands out placeholder `ph`. */
static bool
in_map(const struct tr_redact_map *map, const char *ph)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->e[i].placeholder, ph) == 0)
            return true;
    return false;
}

/*
 * A new entry numbered after the entries of its kind, skipping numbers
 * whose placeholder already occurs in the input, so that restoring can
 * never turn a customer's own "[EMAIL_1]" into somebody's address, and
 * numbers an earlier entry took after such a skip.
 */
static const struct entry *
add_entry(struct tr_redact_map *map, const struct tr_redact__texts *seen,
          const char *kind, const char *s, size_t n)
{
    char ph[PLACEHOLDER_MAX];
    size_t num = count_kind(map, kind) + 1;
    struct entry *e;
    int w;

    for (;; num++) {
        w = snprintf(ph, sizeof(ph), "[%s_%zu]", kind, num);
        if (!seen_in(seen, ph, (size_t)w) && !in_map(map, ph))
            break;
    }
    if (map->n == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 8;
        struct entry *v = realloc(map->e, cap * sizeof(*v));

        if (v == NULL)
            return NULL;
        map->e = v;
        map->cap = cap;
    }
    e = &map->e[map->n];
    memset(e, 0, sizeof(*e));
    e->placeholder = strdup(ph);
    e->kind_buf = strdup(kind);
    e->original = malloc(n + 1);
    if (e->placeholder == NULL || e->kind_buf == NULL
        || e->original == NULL) {
        free(e->placeholder);
        free(e->kind_buf);
        free(e->original);
        return NULL;
    }
    memcpy(e->original, s, n);
    e->original[n] = '\0';
    e->original_len = n;
    e->kind = e->kind_buf;
    map->n++;
    return e;
}

struct tr_redact_map *
tr_redact_map_new(void)
{
    return calloc(1, sizeof(struct tr_redact_map));
}

/* "[KIND_N]": '[', the kind, '_', digits, ']'. */
static bool
placeholder_ok(const char *ph, const char *kind)
{
    size_t n = strlen(ph), k = strlen(kind), i;

    if (n >= PLACEHOLDER_MAX || k == 0 || n < k + 4 || ph[0] != '[' ||
        strncmp(ph + 1, kind, k) != 0 || ph[k + 1] != '_' ||
        ph[n - 1] != ']')
        return false;
    for (i = k + 2; i < n - 1; i++)
        if (ph[i] < '0' || ph[i] > '9')
            return false;
    return true;
}

enum tr_err
tr_redact_map_put(struct tr_redact_map *map, const char *placeholder,
                  const char *kind, const char *original,
                  struct tr_error *err)
{
    struct entry *e;

    if (!placeholder_ok(placeholder, kind))
        return TR_ERROR(err, TR_E_INVAL, "\"%s\" is not a placeholder of "
                        "kind %s", placeholder, kind);
    if (in_map(map, placeholder))
        return TR_ERROR(err, TR_E_INVAL, "placeholder %s is given twice",
                        placeholder);
    if (map->n == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 8;
        struct entry *v = realloc(map->e, cap * sizeof(*v));

        if (v == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        map->e = v;
        map->cap = cap;
    }
    e = &map->e[map->n];
    memset(e, 0, sizeof(*e));
    e->placeholder = strdup(placeholder);
    e->kind_buf = strdup(kind);
    e->original_len = strlen(original);
    e->original = strdup(original);
    if (e->placeholder == NULL || e->kind_buf == NULL
        || e->original == NULL) {
        free(e->placeholder);
        free(e->kind_buf);
        wipe_free(e->original, e->original_len);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    e->kind = e->kind_buf;
    map->n++;
    return TR_OK;
}

enum tr_err
tr_redact__apply(struct tr_redact_map *m, const struct tr_redact__texts *seen,
                 const char *text, size_t len,
                 const struct tr_redact__span *v, size_t n,
                 const char *const *kinds, char **out, size_t *out_len)
{
    struct tr_buf b;
    size_t at = 0;
    enum tr_err rc = TR_OK;

    tr_buf_init(&b, len + n * PLACEHOLDER_MAX + 1);
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        const char *kind = kinds[v[i].det];
        const char *s = text + v[i].start;
        const struct entry *e = find_original(m, kind, s, v[i].len);

        if (e == NULL)
            e = add_entry(m, seen, kind, s, v[i].len);
        if (e == NULL) {
            rc = TR_E_NOMEM;
            break;
        }
        rc = tr_buf_append(&b, text + at, v[i].start - at);
        if (rc == TR_OK)
            rc = tr_buf_puts(&b, e->placeholder);
        at = v[i].start + v[i].len;
    }
    if (rc == TR_OK)
        rc = tr_buf_append(&b, text + at, len - at);
    if (rc != TR_OK) {
        if (b.data != NULL)
            explicit_bzero(b.data, b.cap);
        tr_buf_cleanup(&b);
        return TR_E_NOMEM;
    }
    *out_len = b.len;
    *out = tr_buf_steal(&b);
    return *out == NULL ? TR_E_NOMEM : TR_OK;
}

static const struct entry *
find_placeholder(const struct tr_redact_map *map, const char *s, size_t n)
{
    for (size_t i = 0; i < map->n; i++)
        if (strlen(map->e[i].placeholder) == n
            && memcmp(map->e[i].placeholder, s, n) == 0)
            return &map->e[i];
    return NULL;
}

enum tr_err
tr_redact_restore(const struct tr_redact_map *map, const char *text,
                  size_t len, char **out, size_t *out_len,
                  struct tr_error *err)
{
    struct tr_buf b;
    size_t at = 0, copied = 0;
    enum tr_err rc = TR_OK;

    *out = NULL;
    if (len > TR_REDACT_TEXT_MAX)
        return TR_ERROR(err, TR_E_TOOBIG,
                        "text of %zu bytes is larger than %u", len,
                        TR_REDACT_TEXT_MAX);
    /* Originals may be longer than their placeholders; allow plenty. */
    tr_buf_init(&b, 16 * (size_t)TR_REDACT_TEXT_MAX);
    while (rc == TR_OK && at < len) {
        const char *open = memchr(text + at, '[', len - at);
        const char *close;
        const struct entry *e;
        size_t lim;

        if (open == NULL)
            break;
        lim = (size_t)(text + len - open);
        close = memchr(open, ']', lim < PLACEHOLDER_MAX ? lim
                                                        : PLACEHOLDER_MAX);
        e = map && close ? find_placeholder(map, open,
                                            (size_t)(close - open) + 1)
                         : NULL;
        at = (size_t)(open - text) + 1;
        if (e == NULL)
            continue;
        rc = tr_buf_append(&b, text + copied, (size_t)(open - text) - copied);
        if (rc == TR_OK)
            rc = tr_buf_append(&b, e->original, e->original_len);
        at = copied = (size_t)(close - text) + 1;
    }
    if (rc == TR_OK)
        rc = tr_buf_append(&b, text + copied, len - copied);
    if (rc != TR_OK) {
        if (b.data != NULL)
            explicit_bzero(b.data, b.cap);
        tr_buf_cleanup(&b);
        return TR_ERROR(err, rc, "could not restore the draft");
    }
    *out_len = b.len;
    *out = tr_buf_steal(&b);
    if (*out == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "could not restore the draft");
    return TR_OK;
}

size_t
tr_redact_map_count(const struct tr_redact_map *map)
{
    return map ? map->n : 0;
}

const char *
tr_redact_map_placeholder(const struct tr_redact_map *map, size_t i)
{
    return map && i < map->n ? map->e[i].placeholder : NULL;
}

const char *
tr_redact_map_kind(const struct tr_redact_map *map, size_t i)
{
    return map && i < map->n ? map->e[i].kind : NULL;
}

const char *
tr_redact_map_original(const struct tr_redact_map *map, size_t i)
{
    return map && i < map->n ? map->e[i].original : NULL;
}
