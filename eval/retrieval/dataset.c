/*
 * dataset.c
 *      Loading of a retrieval test collection (corpus, queries, qrels).
 *
 * Files are read whole (up to TR_EVAL_FILE_MAX), parsed line by line
 * with cJSON and copied into one arena owned by the collection.  Ids are
 * resolved through sorted index arrays, so loading stays n log n.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mem.h"
#include "retrieval.h"

/* Sorted view of a set of ids for lookups by id. */
struct id_index {
    const char **ids;
    uint32_t *order;
    size_t n;
};

/* Read the whole file `path` into a new zero-terminated buffer. */
static enum tr_err
read_file(const char *path, char **out, size_t *len, struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct tr_buf b;
    char chunk[65536];
    size_t n;
    enum tr_err rc = TR_OK;

    if (f == NULL)
        return TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                        "could not open file \"%s\": %s", path,
                        strerror(errno));
    tr_buf_init(&b, TR_EVAL_FILE_MAX);
    rc = tr_buf_append(&b, "", 0);
    while (rc == TR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = tr_buf_append(&b, chunk, n);
    if (rc == TR_OK && ferror(f))
        rc = TR_E_IO;
    fclose(f);
    if (rc != TR_OK) {
        tr_buf_cleanup(&b);
        return TR_ERROR(err, rc, "could not read file \"%s\"", path);
    }
    *len = b.len;
    *out = tr_buf_steal(&b);
    return *out != NULL ? TR_OK : TR_ERROR(err, TR_E_NOMEM, "out of memory");
}

/* Next line of `*p` (cut in place), or NULL at the end. */
static char *
next_line(char **p)
{
    char *line = *p, *nl;

    if (*line == '\0')
        return NULL;
    nl = strchr(line, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

/* Copy the string field `name` of `o` into the arena; NULL when absent. */
static const char *
field(struct tr_arena *a, const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));

    return s != NULL ? tr_arena_strdup(a, s) : NULL;
}

static int
cmp_ids(const void *x, const void *y, void *arg)
{
    const char **ids = arg;

    return strcmp(ids[*(const uint32_t *) x], ids[*(const uint32_t *) y]);
}

/* Sort `n` ids; returns -1 when out of memory, 1 on a duplicate. */
static int
index_ids(struct id_index *ix, const char **ids, size_t n)
{
    ix->ids = ids;
    ix->n = n;
    ix->order = malloc((n + 1) * sizeof(*ix->order));
    if (ix->order == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        ix->order[i] = (uint32_t) i;
    qsort_r(ix->order, n, sizeof(*ix->order), cmp_ids, (void *) ids);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[ix->order[i - 1]], ids[ix->order[i]]) == 0)
            return 1;
    return 0;
}

/* Number of `id` in the sorted index, or -1. */
static int64_t
find_id(const struct id_index *ix, const char *id)
{
    size_t lo = 0, hi = ix->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->ids[ix->order[mid]], id);

        if (c == 0)
            return ix->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Upper bound of the number of lines of `s`. */
static size_t
count_lines(const char *s)
{
    size_t n = 1;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/*
 * Parse the JSON Lines file `path` held in `buf`, calling `fn` for each
 * non-blank line's object.  `fn` returns nonzero for a line that lacks
 * what it needs.
 */
typedef int (*line_fn)(struct tr_eval_dataset *ds, const cJSON *o);

static enum tr_err
parse_jsonl(struct tr_eval_dataset *ds, const char *path, char *buf,
            line_fn fn, struct tr_error *err)
{
    char *p = buf, *line;
    size_t lineno = 0;

    while ((line = next_line(&p)) != NULL) {
        cJSON *o;
        int bad;

        lineno++;
        if (line[strspn(line, " \t\r")] == '\0')
            continue;
        o = cJSON_Parse(line);
        if (o == NULL || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return TR_ERROR(err, TR_E_PARSE,
                            "invalid JSON object in \"%s\" line %zu", path,
                            lineno);
        }
        bad = fn(ds, o);
        cJSON_Delete(o);
        if (bad < 0)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        if (bad > 0)
            return TR_ERROR(err, TR_E_PARSE,
                            "missing \"id\" or \"text\" in \"%s\" line %zu",
                            path, lineno);
    }
    return TR_OK;
}

static int
add_doc(struct tr_eval_dataset *ds, const cJSON *o)
{
    struct tr_eval_doc *d = &ds->docs[ds->n_docs];

    if (!cJSON_IsString(cJSON_GetObjectItem(o, "id"))
        || !cJSON_IsString(cJSON_GetObjectItem(o, "text")))
        return 1;
    d->id = field(ds->arena, o, "id");
    d->text = field(ds->arena, o, "text");
    d->title = field(ds->arena, o, "title");
    if (d->title == NULL)
        d->title = "";
    if (d->id == NULL || d->text == NULL)
        return -1;
    ds->n_docs++;
    return 0;
}

static int
add_query(struct tr_eval_dataset *ds, const cJSON *o)
{
    struct tr_eval_query *q = &ds->queries[ds->n_queries];
    const char *half;

    if (!cJSON_IsString(cJSON_GetObjectItem(o, "id"))
        || !cJSON_IsString(cJSON_GetObjectItem(o, "text")))
        return 1;
    q->id = field(ds->arena, o, "id");
    q->text = field(ds->arena, o, "text");
    if (q->id == NULL || q->text == NULL)
        return -1;
    half = cJSON_GetStringValue(cJSON_GetObjectItem(o, "half"));
    q->half = half != NULL ? half[0] : 0;
    ds->n_queries++;
    return 0;
}

/* Number the articles in order of first appearance of their prefix. */
static enum tr_err
assign_articles(struct tr_eval_dataset *ds, struct tr_error *err)
{
    const char **names = calloc(ds->n_docs + 1, sizeof(*names));

    if (names == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < ds->n_docs; i++) {
        const char *id = ds->docs[i].id, *dash = strrchr(id, '-');
        size_t len = dash != NULL ? (size_t) (dash - id) : strlen(id);
        size_t a;

        /* Documents of one article are usually adjacent: look back. */
        for (a = ds->n_articles; a > 0; a--)
            if (strncmp(names[a - 1], id, len) == 0
                && names[a - 1][len] == '\0')
                break;
        if (a == 0) {
            names[ds->n_articles] = tr_arena_strndup(ds->arena, id, len);
            a = ++ds->n_articles;
        }
        ds->docs[i].article = (uint32_t) (a - 1);
    }
    free(names);
    return TR_OK;
}

/* One parsed qrels row. */
struct qrel {
    uint32_t query;
    uint32_t doc;
};

/*
 * Parse qrels.tsv in `buf`: skip the header, resolve both ids, then give
 * each query its array of relevant documents.
 */
static enum tr_err
load_qrels(struct tr_eval_dataset *ds, const char *path, char *buf,
           const struct id_index *qix, const struct id_index *dix,
           struct tr_error *err)
{
    size_t cap = count_lines(buf), n = 0, lineno = 0;
    struct qrel *rows = malloc(cap * sizeof(*rows));
    size_t *fill = calloc(ds->n_queries + 1, sizeof(*fill));
    char *p = buf, *line;
    enum tr_err rc = TR_OK;

    if (rows == NULL || fill == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    while ((line = next_line(&p)) != NULL) {
        char *tab1, *tab2;
        int64_t q, d;

        if (++lineno == 1 || line[0] == '\0')
            continue;
        tab1 = strchr(line, '\t');
        tab2 = tab1 != NULL ? strchr(tab1 + 1, '\t') : NULL;
        if (tab2 == NULL) {
            rc = TR_ERROR(err, TR_E_PARSE, "expected three columns in "
                          "\"%s\" line %zu", path, lineno);
            goto out;
        }
        *tab1 = *tab2 = '\0';
        q = find_id(qix, line);
        d = find_id(dix, tab1 + 1);
        if (q < 0 || d < 0) {
            rc = TR_ERROR(err, TR_E_PARSE, "unknown %s id in \"%s\" line "
                          "%zu", q < 0 ? "query" : "document", path, lineno);
            goto out;
        }
        if (atoi(tab2 + 1) <= 0)
            continue;
        rows[n].query = (uint32_t) q;
        rows[n++].doc = (uint32_t) d;
        ds->queries[q].n_rel++;
    }

    /* Hand out the arrays, then fill them in file order. */
    for (size_t i = 0; i < ds->n_queries; i++) {
        ds->queries[i].rel = tr_arena_alloc(ds->arena,
            (ds->queries[i].n_rel + 1) * sizeof(int64_t));
        if (ds->queries[i].rel == NULL) {
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct tr_eval_query *q = &ds->queries[rows[i].query];

        ((int64_t *) q->rel)[fill[rows[i].query]++] = rows[i].doc;
    }

out:
    free(rows);
    free(fill);
    return rc;
}

/* Read and parse "<dir>/<name>" as JSON Lines with `fn`. */
static enum tr_err
load_jsonl(struct tr_eval_dataset *ds, const char *dir, const char *name,
           line_fn fn, void **arr, size_t elem, struct tr_error *err)
{
    char path[4096];
    char *buf = NULL;
    size_t len;
    enum tr_err rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    rc = read_file(path, &buf, &len, err);
    if (rc != TR_OK)
        return rc;
    *arr = tr_arena_alloc(ds->arena, count_lines(buf) * elem);
    if (*arr == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    else
        rc = parse_jsonl(ds, path, buf, fn, err);
    free(buf);
    return rc;
}

/* Index the ids of documents and queries, refusing duplicates. */
static enum tr_err
index_both(struct tr_eval_dataset *ds, struct id_index *dix,
           struct id_index *qix, struct tr_error *err)
{
    const char **dids = tr_arena_alloc(ds->arena, (ds->n_docs + 1)
                                       * sizeof(char *));
    const char **qids = tr_arena_alloc(ds->arena, (ds->n_queries + 1)
                                       * sizeof(char *));
    int r1, r2;

    if (dids == NULL || qids == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < ds->n_docs; i++)
        dids[i] = ds->docs[i].id;
    for (size_t i = 0; i < ds->n_queries; i++)
        qids[i] = ds->queries[i].id;
    r1 = index_ids(dix, dids, ds->n_docs);
    r2 = index_ids(qix, qids, ds->n_queries);
    if (r1 < 0 || r2 < 0)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if (r1 > 0 || r2 > 0)
        return TR_ERROR(err, TR_E_PARSE, "duplicate %s id",
                        r1 > 0 ? "document" : "query");
    return TR_OK;
}

enum tr_err
tr_eval_dataset_load(const char *dir, struct tr_eval_dataset **out,
                     struct tr_error *err)
{
    struct tr_eval_dataset *ds = calloc(1, sizeof(*ds));
    struct id_index dix = {0}, qix = {0};
    char path[4096];
    char *buf = NULL;
    size_t len;
    enum tr_err rc;

    *out = NULL;
    if (ds == NULL || (ds->arena = tr_arena_new(1 << 20)) == NULL) {
        free(ds);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    rc = load_jsonl(ds, dir, "corpus.jsonl", add_doc, (void **) &ds->docs,
                    sizeof(*ds->docs), err);
    if (rc == TR_OK)
        rc = load_jsonl(ds, dir, "queries.jsonl", add_query,
                        (void **) &ds->queries, sizeof(*ds->queries), err);
    if (rc == TR_OK)
        rc = index_both(ds, &dix, &qix, err);
    if (rc == TR_OK) {
        snprintf(path, sizeof(path), "%s/qrels.tsv", dir);
        rc = read_file(path, &buf, &len, err);
    }
    if (rc == TR_OK)
        rc = load_qrels(ds, path, buf, &qix, &dix, err);
    if (rc == TR_OK)
        rc = assign_articles(ds, err);

    free(buf);
    free(dix.order);
    free(qix.order);
    if (rc != TR_OK) {
        tr_eval_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return TR_OK;
}

void
tr_eval_dataset_free(struct tr_eval_dataset *ds)
{
    if (ds == NULL)
        return;
    tr_arena_free(ds->arena);
    free(ds);
}

int64_t
tr_eval_dataset_doc(const struct tr_eval_dataset *ds, const char *id)
{
    for (size_t i = 0; i < ds->n_docs; i++)
        if (strcmp(ds->docs[i].id, id) == 0)
            return (int64_t) i;
    return -1;
}
