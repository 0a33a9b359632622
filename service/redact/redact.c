/*
 * redact.c
 *      The redactor: compiled detectors, finding spans, resolving
 *      overlaps and writing the redacted text.
 *
 * Every detector is one PCRE2 expression compiled in UTF mode that
 * accepts invalid UTF-8 (so odd input never fails a match), with JIT
 * when the platform has it, plus an optional validator for what a regex
 * cannot check (checksums, ranges).  The built-in expressions anchor on
 * what may not touch a value (a digit before a card number, a word
 * character before an address) so that each candidate is a maximal run
 * and a long order number is never searched for a card inside it; a
 * phone number may not follow a digit and a separator, so the groups of
 * an IBAN or card that failed its checksum are not taken for one.
 * Matching uses per-call match data and a match context with limits, so
 * a shared redactor serves many threads and a pathological tenant
 * pattern fails the call instead of spinning.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact_int.h"

/* Matching steps allowed per pcre2_match() call. */
#define MATCH_LIMIT 1000000

/* Lowest rank is most specific; tenant patterns come first. */
enum {
    RANK_TENANT, RANK_CARD, RANK_IBAN, RANK_EMAIL, RANK_SSN, RANK_IP,
    RANK_PHONE
};

struct builtin {
    const char *kind;
    const char *regex;
    tr_redact__check_fn *check;
    int rank;
};

static const struct builtin builtins[] = {
    {"CARD", "(?<!\\d)(?<!\\d[ -])\\d(?:[ -]?\\d){12,18}(?![ -]?\\d)",
     tr_redact__card_ok, RANK_CARD},
    {"IBAN", "(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]){11,32}"
             "(?![A-Za-z0-9])",
     tr_redact__iban_ok, RANK_IBAN},
    {"EMAIL", "(?<![A-Za-z0-9._%+\\x{80}-\\x{10ffff}-])"
              "[A-Za-z0-9._%+\\x{80}-\\x{10ffff}-]{1,64}@"
              "(?:[A-Za-z0-9\\x{80}-\\x{10ffff}]"
              "(?:[A-Za-z0-9\\x{80}-\\x{10ffff}-]{0,61}"
              "[A-Za-z0-9\\x{80}-\\x{10ffff}])?\\.)+"
              "[A-Za-z]{2,24}(?![A-Za-z0-9-])",
     NULL, RANK_EMAIL},
    {"SSN", "(?<![\\d-])\\d{3}-\\d{2}-\\d{4}(?![\\d-])",
     tr_redact__ssn_ok, RANK_SSN},
    {"IP", "(?<![\\d.])\\d{1,3}(?:\\.\\d{1,3}){3}(?!\\.?\\d)",
     tr_redact__ipv4_ok, RANK_IP},
    {"IP", "(?<![\\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)"
           "[0-9A-Fa-f:.]++(?!\\w)",
     tr_redact__ipv6_ok, RANK_IP},
    {"PHONE", "(?<!\\d[ .-])"
              "(?:(?<![\\w+#])(?:\\+|00)\\d{1,3}"
              "(?:[ .-]?\\(?\\d{1,5}\\)?){1,6}"
              "|(?<![\\w+#])\\(\\d{3}\\)[ .-]?\\d{3}[ .-]\\d{4}"
              "|(?<![\\w+#.-])\\d{3}[.-]\\d{3}[.-]\\d{4}"
              "|(?<![\\w+#.-])0\\d{1,4}(?:[ /.-]?\\d{2,8}){1,4})"
              "(?![.-]?\\d)",
     tr_redact__phone_ok, RANK_PHONE},
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

struct detector {
    char kind[TR_REDACT_NAME_MAX + 1];
    pcre2_code *code;
    tr_redact__check_fn *check;
    int rank;
};

struct tr_redact {
    struct detector *dets;
    size_t n_dets;
};

/* Spans found in one text. */
struct spans {
    struct tr_redact__span *v;
    size_t n;
    size_t cap;
};

static enum tr_err
compile(struct detector *d, const char *regex, struct tr_error *err)
{
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE at;
    int code;

    d->code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
                            &at, NULL);
    if (d->code == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        return TR_ERROR(err, TR_E_INVAL,
                        "pattern \"%s\" does not compile at offset %zu: %s",
                        d->kind, (size_t)at, (char *)msg);
    }

    /* Without JIT (some platforms) the interpreter gives the same
     * answers, only slower. */
    (void)pcre2_jit_compile(d->code, PCRE2_JIT_COMPLETE);
    return TR_OK;
}

static bool
name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > TR_REDACT_NAME_MAX || !isalpha((unsigned char)*name))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

/* A regex that matches nothing at all would number empty placeholders. */
static bool
matches_empty(const pcre2_code *code)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc;

    if (md == NULL)
        return false;
    rc = pcre2_match(code, (PCRE2_SPTR)"", 0, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static enum tr_err
add_tenant(struct tr_redact *r, const struct tr_redact_pattern *p,
           struct tr_error *err)
{
    struct detector *d = &r->dets[r->n_dets];
    enum tr_err rc;

    if (!name_ok(p->name) || p->regex == NULL)
        return TR_ERROR(err, TR_E_INVAL,
                        "pattern name \"%s\" must be 1 to %d letters, "
                        "digits or '_', starting with a letter",
                        p->name ? p->name : "", TR_REDACT_NAME_MAX);
    for (size_t i = 0; p->name[i] != '\0'; i++)
        d->kind[i] = (char)toupper((unsigned char)p->name[i]);
    for (size_t i = 0; i < r->n_dets; i++)
        if (strcmp(r->dets[i].kind, d->kind) == 0)
            return TR_ERROR(err, TR_E_INVAL,
                            "pattern name \"%s\" is already used",
                            p->name);

    rc = compile(d, p->regex, err);
    if (rc != TR_OK)
        return rc;
    d->rank = RANK_TENANT;
    r->n_dets++;
    if (matches_empty(d->code))
        return TR_ERROR(err, TR_E_INVAL,
                        "pattern \"%s\" matches the empty string", p->name);
    return TR_OK;
}

enum tr_err
tr_redact_new(const struct tr_redact_pattern *patterns, size_t n_patterns,
              struct tr_redact **out, struct tr_error *err)
{
    struct tr_redact *r;
    enum tr_err rc = TR_OK;

    *out = NULL;
    if (n_patterns > TR_REDACT_PATTERNS_MAX)
        return TR_ERROR(err, TR_E_RANGE, "more than %d tenant patterns",
                        TR_REDACT_PATTERNS_MAX);
    r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->dets = calloc(N_BUILTINS + n_patterns, sizeof(*r->dets));
    if (r == NULL || r->dets == NULL) {
        free(r);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for a redactor");
    }

    for (size_t i = 0; i < N_BUILTINS && rc == TR_OK; i++) {
        struct detector *d = &r->dets[i];

        strcpy(d->kind, builtins[i].kind);
        d->check = builtins[i].check;
        d->rank = builtins[i].rank;
        rc = compile(d, builtins[i].regex, err);
        r->n_dets += rc == TR_OK;
    }
    for (size_t i = 0; i < n_patterns && rc == TR_OK; i++)
        rc = add_tenant(r, &patterns[i], err);
    if (rc != TR_OK) {
        tr_redact_free(r);
        return rc;
    }
    *out = r;
    return TR_OK;
}

void
tr_redact_free(struct tr_redact *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_dets; i++)
        pcre2_code_free(r->dets[i].code);
    free(r->dets);
    free(r);
}

static enum tr_err
spans_push(struct spans *s, size_t start, size_t len, int det, int rank)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct tr_redact__span *v = realloc(s->v, cap * sizeof(*v));

        if (v == NULL)
            return TR_E_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct tr_redact__span){start, len, det, rank};
    return TR_OK;
}

static size_t
next_char(const char *text, size_t len, size_t at)
{
    at++;
    while (at < len && ((unsigned char)text[at] & 0xc0) == 0x80)
        at++;
    return at;
}

/* Every validated match of detector `di` in `text`. */
static enum tr_err
find_all(const struct tr_redact *r, size_t di, const char *text,
         size_t len, pcre2_match_data *md, pcre2_match_context *mc,
         struct spans *s, struct tr_error *err)
{
    const struct detector *d = &r->dets[di];
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t at = 0;
    int m;

    while (at <= len) {
        size_t start, mlen;

        m = pcre2_match(d->code, (PCRE2_SPTR)text, len, at, 0, md, mc);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0)
            return TR_ERROR(err, TR_E_INTERNAL,
                            "pattern \"%s\" failed on this text (pcre2 "
                            "error %d); nothing was redacted", d->kind, m);
        start = ov[0];
        mlen = ov[1] - ov[0];
        if (mlen == 0) {
            at = next_char(text, len, start);
            continue;
        }
        at = ov[1];
        if (d->check != NULL && !d->check(text + start, &mlen))
            continue;
        if (spans_push(s, start, mlen, (int)di, d->rank) != TR_OK)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory for spans");
    }
    return TR_OK;
}

static int
cmp_pick(const void *a, const void *b)
{
    const struct tr_redact__span *x = a, *y = b;

    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank - y->rank;
    return (x->start > y->start) - (x->start < y->start);
}

static int
cmp_start(const void *a, const void *b)
{
    const struct tr_redact__span *x = a, *y = b;

    return (x->start > y->start) - (x->start < y->start);
}

/*
 * Keep the longest span of each overlapping group (then the most
 * specific, then the first), in text order.
 */
static enum tr_err
resolve(struct spans *s, size_t len)
{
    unsigned char *taken;
    size_t kept = 0;

    if (s->n == 0)
        return TR_OK;
    taken = calloc(len + 1, 1);
    if (taken == NULL)
        return TR_E_NOMEM;
    qsort(s->v, s->n, sizeof(*s->v), cmp_pick);
    for (size_t i = 0; i < s->n; i++) {
        struct tr_redact__span *sp = &s->v[i];
        bool free_run = memchr(taken + sp->start, 1, sp->len) == NULL;

        if (!free_run)
            continue;
        memset(taken + sp->start, 1, sp->len);
        s->v[kept++] = *sp;
    }
    free(taken);
    s->n = kept;
    qsort(s->v, s->n, sizeof(*s->v), cmp_start);
    return TR_OK;
}

static enum tr_err
find_spans(const struct tr_redact *r, const char *text, size_t len,
           struct spans *s, struct tr_error *err)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_match_data *md = NULL;
    enum tr_err rc = TR_OK;

    if (mc == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for matching");
    pcre2_set_match_limit(mc, MATCH_LIMIT);
    for (size_t i = 0; i < r->n_dets && rc == TR_OK; i++) {
        md = pcre2_match_data_create_from_pattern(r->dets[i].code, NULL);
        if (md == NULL) {
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for matching");
            break;
        }
        rc = find_all(r, i, text, len, md, mc, s, err);
        pcre2_match_data_free(md);
    }
    pcre2_match_context_free(mc);
    if (rc == TR_OK && resolve(s, len) != TR_OK)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for spans");
    return rc;
}

enum tr_err
tr_redact_fields(const struct tr_redact *r, size_t n,
                 const char *const *texts, const size_t *lens, char **outs,
                 size_t *out_lens, struct tr_redact_map **map,
                 struct tr_error *err)
{
    static const char empty[] = "";
    const char *in[TR_REDACT_FIELDS_MAX];
    size_t in_len[TR_REDACT_FIELDS_MAX];
    struct tr_redact__texts seen = {in, in_len, n};
    struct tr_redact_map *m = NULL;
    const char **kinds = NULL;
    enum tr_err rc = TR_OK;

    *map = NULL;
    if (n > TR_REDACT_FIELDS_MAX)
        return TR_ERROR(err, TR_E_INVAL, "%zu fields are more than %d", n,
                        TR_REDACT_FIELDS_MAX);
    for (size_t i = 0; i < n; i++)
        outs[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        in[i] = texts[i] != NULL ? texts[i] : empty;
        in_len[i] = texts[i] != NULL ? lens[i] : 0;
        if (in_len[i] > TR_REDACT_TEXT_MAX)
            return TR_ERROR(err, TR_E_TOOBIG,
                            "text of %zu bytes is larger than %u",
                            in_len[i], TR_REDACT_TEXT_MAX);
    }

    m = tr_redact_map_new();
    kinds = malloc(r->n_dets * sizeof(*kinds));
    if (m == NULL || kinds == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for redaction");
        goto out;
    }
    for (size_t i = 0; i < r->n_dets; i++)
        kinds[i] = r->dets[i].kind;

    /* A failure in any field frees every output below, so that a
     * pattern over its limits never lets one field through unredacted. */
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        struct spans s = {0};

        rc = find_spans(r, in[i], in_len[i], &s, err);
        if (rc == TR_OK) {
            rc = tr_redact__apply(m, &seen, in[i], in_len[i], s.v, s.n,
                                  kinds, &outs[i], &out_lens[i]);
            if (rc != TR_OK)
                TR_ERROR(err, rc, "out of memory for redaction");
        }
        free(s.v);
    }

out:
    free(kinds);
    if (rc != TR_OK) {
        for (size_t i = 0; i < n; i++) {
            if (outs[i] != NULL)
                explicit_bzero(outs[i], out_lens[i]);
            free(outs[i]);
            outs[i] = NULL;
        }
        tr_redact_map_free(m);
        return rc;
    }
    *map = m;
    return TR_OK;
}

enum tr_err
tr_redact_text(const struct tr_redact *r, const char *text, size_t len,
               char **out, size_t *out_len, struct tr_redact_map **map,
               struct tr_error *err)
{
    return tr_redact_fields(r, 1, &text, &len, out, out_len, map, err);
}
