/*
 * dataset.c
 *      Loading of a labelled tickets file for the triage evaluation.
 *
 * The file is read whole (up to TR_EVALTRIAGE_FILE_MAX) and parsed line
 * by line with cJSON; every string is copied into the set's arena.  A
 * line that breaks the format stops the load with the file, the line
 * and what is wrong, so a labelling mistake is found before any tenant
 * is made.  Blank lines are skipped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "evaltriage.h"
#include "mem.h"

/* Where a line is read: for messages and for copies into the arena. */
struct line_ctx {
    struct tr_evaltriage_set *set;
    size_t line;
    struct tr_error *err;
};

/* Read the whole file `path` into a new zero-terminated buffer. */
static enum tr_err
slurp(const char *path, char **out, struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct tr_buf b;
    char chunk[65536];
    size_t n;
    enum tr_err rc;

    if (f == NULL)
        return TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                        "could not open file \"%s\": %s", path,
                        strerror(errno));
    tr_buf_init(&b, TR_EVALTRIAGE_FILE_MAX);
    rc = tr_buf_append(&b, "", 0);
    while (rc == TR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = tr_buf_append(&b, chunk, n);
    if (rc == TR_OK && ferror(f))
        rc = TR_E_IO;
    fclose(f);
    if (rc != TR_OK) {
        tr_buf_cleanup(&b);
        return TR_ERROR(err, rc, rc == TR_E_TOOBIG
                                     ? "file \"%s\" is too large"
                                     : "could not read file \"%s\"",
                        path);
    }
    *out = tr_buf_steal(&b);
    return *out != NULL ? TR_OK : TR_ERROR(err, TR_E_NOMEM, "out of memory");
}

static enum tr_err
bad(const struct line_ctx *lc, const char *what, const char *name)
{
    return TR_ERROR(lc->err, TR_E_PARSE, "%s:%zu: %s \"%s\"",
                    lc->set->path, lc->line, what, name);
}

/*
 * The string member `name` of `o`, copied; NULL when absent and
 * optional.  A present member of another type is an error.
 */
static enum tr_err
get_str(const struct line_ctx *lc, const cJSON *o, const char *name,
        bool required, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return required ? bad(lc, "missing field", name) : TR_OK;
    if (!cJSON_IsString(v))
        return bad(lc, "expected a string in field", name);
    if (required && v->valuestring[0] == '\0')
        return bad(lc, "empty field", name);
    *out = tr_arena_strdup(lc->set->arena, v->valuestring);
    return *out != NULL ? TR_OK
                        : TR_ERROR(lc->err, TR_E_NOMEM, "out of memory");
}

static enum tr_err
get_bool(const struct line_ctx *lc, const cJSON *o, const char *name,
         bool required, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    *out = false;
    if (v == NULL)
        return required ? bad(lc, "missing field", name) : TR_OK;
    if (!cJSON_IsBool(v))
        return bad(lc, "expected true or false in field", name);
    *out = cJSON_IsTrue(v);
    return TR_OK;
}

/* expected.articles: an array of article ids, possibly empty. */
static enum tr_err
get_articles(const struct line_ctx *lc, const cJSON *o,
             struct tr_evaltriage_expect *e)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "articles");
    const cJSON *v;

    if (arr == NULL)
        return bad(lc, "missing field", "expected.articles");
    if (!cJSON_IsArray(arr))
        return bad(lc, "expected an array in field", "expected.articles");
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
            return bad(lc, "expected article ids (strings) in field",
                       "expected.articles");
        if (e->n_articles == TR_EVALTRIAGE_ARTICLES_MAX)
            return bad(lc, "too many article ids in field",
                       "expected.articles");
        e->articles[e->n_articles] = tr_arena_strdup(lc->set->arena,
                                                     v->valuestring);
        if (e->articles[e->n_articles++] == NULL)
            return TR_ERROR(lc->err, TR_E_NOMEM, "out of memory");
    }
    return TR_OK;
}

static enum tr_err
get_expect(const struct line_ctx *lc, const cJSON *root,
           struct tr_evaltriage_expect *e)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "expected");
    enum tr_err rc;

    if (o == NULL)
        return bad(lc, "missing field", "expected");
    if (!cJSON_IsObject(o))
        return bad(lc, "expected an object in field", "expected");
    rc = get_str(lc, o, "team", true, &e->team);
    if (rc == TR_OK)
        rc = get_str(lc, o, "priority", true, &e->priority);
    if (rc == TR_OK)
        rc = get_bool(lc, o, "escalate", true, &e->escalate);
    if (rc == TR_OK)
        rc = get_bool(lc, o, "injection", false, &e->injection);
    if (rc == TR_OK)
        rc = get_articles(lc, o, e);
    if (rc == TR_OK)
        rc = get_str(lc, o, "language", true, &e->language);
    if (rc == TR_OK && e->injection && !e->escalate)
        rc = bad(lc, "an injection must be expected to escalate: set",
                 "expected.escalate");
    return rc;
}

/* Parse one non-blank line into `t`. */
static enum tr_err
parse_line(const struct line_ctx *lc, const char *text,
           struct tr_evaltriage_ticket *t)
{
    cJSON *root = cJSON_Parse(text);
    enum tr_err rc;

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return TR_ERROR(lc->err, TR_E_PARSE, "%s:%zu: not a JSON object",
                        lc->set->path, lc->line);
    }
    memset(t, 0, sizeof(*t));
    t->line = lc->line;
    rc = get_str(lc, root, "id", true, &t->id);
    if (rc == TR_OK)
        rc = get_str(lc, root, "subject", false, &t->subject);
    if (rc == TR_OK && t->subject == NULL)
        t->subject = "";
    if (rc == TR_OK)
        rc = get_str(lc, root, "description", true, &t->description);
    if (rc == TR_OK)
        rc = get_str(lc, root, "requester_email", false,
                     &t->requester_email);
    if (rc == TR_OK)
        rc = get_expect(lc, root, &t->expect);
    cJSON_Delete(root);
    return rc;
}

/* A repeated id makes outcomes ambiguous: refuse it. */
static enum tr_err
check_unique(const struct line_ctx *lc, const struct tr_evaltriage_set *s,
             const struct tr_evaltriage_ticket *t)
{
    for (size_t i = 0; i < s->n_tickets; i++)
        if (strcmp(s->tickets[i].id, t->id) == 0)
            return TR_ERROR(lc->err, TR_E_PARSE,
                            "%s:%zu: id \"%s\" is already used on line %zu",
                            s->path, lc->line, t->id, s->tickets[i].line);
    return TR_OK;
}

static size_t
count_lines(const char *s)
{
    size_t n = 1;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static enum tr_err
parse_all(struct tr_evaltriage_set *s, char *text, struct tr_error *err)
{
    struct line_ctx lc = {s, 0, err};
    char *p = text, *line, *nl;
    enum tr_err rc;

    s->tickets = tr_arena_alloc(s->arena, count_lines(text)
                                              * sizeof(*s->tickets));
    if (s->tickets == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    while (*p != '\0') {
        line = p;
        nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        lc.line++;
        if (strspn(line, " \t\r") == strlen(line))
            continue;

        rc = parse_line(&lc, line, &s->tickets[s->n_tickets]);
        if (rc == TR_OK)
            rc = check_unique(&lc, s, &s->tickets[s->n_tickets]);
        if (rc != TR_OK)
            return rc;
        s->n_tickets++;
    }
    if (s->n_tickets == 0)
        return TR_ERROR(err, TR_E_PARSE, "%s: no tickets", s->path);
    return TR_OK;
}

enum tr_err
tr_evaltriage_set_load(const char *path, struct tr_evaltriage_set **out,
                       struct tr_error *err)
{
    struct tr_evaltriage_set *s;
    char *text = NULL;
    enum tr_err rc;

    *out = NULL;
    rc = slurp(path, &text, err);
    if (rc != TR_OK)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->arena = tr_arena_new(64 * 1024)) == NULL ||
        (s->path = tr_arena_strdup(s->arena, path)) == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    rc = parse_all(s, text, err);

out:
    free(text);
    if (rc != TR_OK) {
        tr_evaltriage_set_free(s);
        return rc;
    }
    *out = s;
    return TR_OK;
}

void
tr_evaltriage_set_free(struct tr_evaltriage_set *s)
{
    if (s == NULL)
        return;
    tr_arena_free(s->arena);
    free(s);
}
