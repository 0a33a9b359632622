/*
 * kb_import.c
 *      Storing imported articles: validation, one upsert per article
 *      inside one tenant transaction, and the counts of what changed.
 *
 * An article is "unchanged" when every stored field equals the imported
 * one; the upsert then touches nothing, so updated_at keeps telling when
 * the article last really changed.  Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb_int.h"
#include "log.h"

/*
 * The upsert.  The WHERE of the update skips identical rows, so such an
 * article returns no row; xmax is 0 only for a freshly inserted row.
 */
static const char upsert_sql[] =
    "INSERT INTO articles AS a (tenant_id, external_id, title, body, "
    "body_format, locale, section, url, draft) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
    "title = EXCLUDED.title, body = EXCLUDED.body, "
    "body_format = EXCLUDED.body_format, locale = EXCLUDED.locale, "
    "section = EXCLUDED.section, url = EXCLUDED.url, "
    "draft = EXCLUDED.draft, updated_at = now() "
    "WHERE (a.title, a.body, a.body_format, a.locale, a.section, a.url, "
    "a.draft) IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.body, "
    "EXCLUDED.body_format, EXCLUDED.locale, EXCLUDED.section, "
    "EXCLUDED.url, EXCLUDED.draft) "
    "RETURNING (xmax = 0)";

double
tr_kb__now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

const char *
tr_kb__format_name(enum tr_kb_format f)
{
    return f == TR_KB_MARKDOWN ? "markdown" : f == TR_KB_TEXT ? "text"
                                                              : "html";
}

enum tr_kb_format
tr_kb__format_parse(const char *s)
{
    if (s != NULL && strcmp(s, "markdown") == 0)
        return TR_KB_MARKDOWN;
    if (s != NULL && strcmp(s, "text") == 0)
        return TR_KB_TEXT;
    return TR_KB_HTML;
}

enum tr_err
tr_kb_tenant_find(struct tr_db *db, const char *name, int64_t *tenant_id,
                  struct tr_error *err)
{
    const char *p[1] = {name};
    struct tr_db_conn *c;
    char buf[32];
    bool is_null = true;
    enum tr_err rc;

    if (name == NULL || name[0] == '\0')
        return TR_ERROR(err, TR_E_TENANT, "no tenant given");
    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "SELECT triage_tenant_id($1)", 1, p, buf,
                           sizeof(buf), &is_null, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;
    if (is_null)
        return TR_ERROR(err, TR_E_TENANT, "unknown tenant \"%s\"", name);
    *tenant_id = strtoll(buf, NULL, 10);
    return TR_OK;
}

/* Refuse an article that cannot be stored, naming it. */
static enum tr_err
check_article(const struct tr_kb_article *a, size_t i, struct tr_error *err)
{
    if (a->id == NULL || a->id[0] == '\0')
        return TR_ERROR(err, TR_E_PARSE, "article %zu has no id", i + 1);
    if (strlen(a->id) > TR_KB_ID_MAX)
        return TR_ERROR(err, TR_E_PARSE, "article %zu: id longer than %d "
                        "bytes", i + 1, TR_KB_ID_MAX);
    if (a->title == NULL || a->title[0] == '\0')
        return TR_ERROR(err, TR_E_PARSE, "article \"%s\" has no title",
                        a->id);
    if (strlen(a->title) > TR_KB_TITLE_MAX)
        return TR_ERROR(err, TR_E_PARSE, "article \"%s\": title longer "
                        "than %d bytes", a->id, TR_KB_TITLE_MAX);
    if (a->body == NULL)
        return TR_ERROR(err, TR_E_PARSE, "article \"%s\" has no body",
                        a->id);
    return TR_OK;
}

/* Upsert one article and count what happened. */
static enum tr_err
upsert_one(struct tr_db_conn *c, const char *tenant,
           const struct tr_kb_article *a, struct tr_kb_import_stats *st,
           struct tr_error *err)
{
    const char *p[9] = {
        tenant, a->id, a->title, a->body, tr_kb__format_name(a->format),
        a->locale != NULL && a->locale[0] != '\0' ? a->locale : "en",
        a->section, a->url, a->draft ? "true" : "false"
    };
    struct tr_db_res *res = NULL;
    enum tr_err rc;
    const char *v;

    rc = tr_db_exec(c, upsert_sql, 9, p, &res, err);
    if (rc != TR_OK) {
        TR_ERROR(err, rc, "could not store article \"%s\": %s", a->id,
                 tr_error_msg(err));
        return rc;
    }

    v = tr_db_res_n_rows(res) > 0 ? tr_db_res_value(res, 0, 0) : NULL;
    if (v == NULL)
        st->n_unchanged++;
    else if (strcmp(v, "t") == 0)
        st->n_added++;
    else
        st->n_updated++;
    if (a->draft)
        st->n_drafts++;
    tr_db_res_free(res);
    return TR_OK;
}

enum tr_err
tr_kb_import_articles(struct tr_db *db, int64_t tenant_id,
                      const struct tr_kb_article *arts, size_t n,
                      struct tr_kb_import_stats *stats, struct tr_error *err)
{
    struct tr_kb_import_stats st = {0};
    struct tr_db_conn *c = NULL;
    char tenant[24];
    enum tr_err rc;

    /* Validate everything first: a bad article costs no round trip. */
    for (size_t i = 0; i < n; i++) {
        rc = check_article(&arts[i], i, err);
        if (rc != TR_OK)
            return rc;
    }
    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    for (size_t i = 0; i < n && rc == TR_OK; i++)
        rc = upsert_one(c, tenant, &arts[i], &st, err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    rc = tr_db_tx_commit(c, err);
    if (rc != TR_OK)
        return rc;

    TR_LOG_INFO("kb", "kb_import", TR_KVS(TR_KV_INT("tenant", tenant_id),
                TR_KV_INT("added", st.n_added),
                TR_KV_INT("updated", st.n_updated),
                TR_KV_INT("unchanged", st.n_unchanged)),
                "imported %zu articles", n);
    if (stats != NULL)
        *stats = st;
    return TR_OK;
}

enum tr_err
tr_kb__list_add(struct tr_kb__list *l, const struct tr_kb_article *a,
                struct tr_error *err)
{
    struct tr_kb_article *d;

    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 64 : l->cap * 2;
        void *v = realloc(l->v, cap * sizeof(*l->v));

        if (v == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }

    /* Strings are copied so that the parser may free its own. */
    d = &l->v[l->n];
    *d = *a;
    d->id = a->id ? tr_arena_strdup(l->arena, a->id) : NULL;
    d->title = a->title ? tr_arena_strdup(l->arena, a->title) : NULL;
    d->body = a->body ? tr_arena_strdup(l->arena, a->body) : NULL;
    d->url = a->url ? tr_arena_strdup(l->arena, a->url) : NULL;
    d->locale = a->locale ? tr_arena_strdup(l->arena, a->locale) : NULL;
    d->section = a->section ? tr_arena_strdup(l->arena, a->section) : NULL;
    l->n++;
    return TR_OK;
}

enum tr_err
tr_kb_import_path(struct tr_db *db, int64_t tenant_id, const char *path,
                  enum tr_kb_source src, struct tr_kb_import_stats *stats,
                  struct tr_error *err)
{
    struct tr_kb__list l = {0};
    enum tr_err rc;

    l.arena = tr_arena_new(0);
    if (l.arena == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = tr_kb__parse_path(path, src, &l, err);
    if (rc == TR_OK)
        rc = tr_kb_import_articles(db, tenant_id, l.v, l.n, stats, err);
    free(l.v);
    tr_arena_free(l.arena);
    return rc;
}
