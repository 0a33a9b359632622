/*
 * sync_kb.c
 *      The Help Center sync: a tenant's Zendesk articles copied into its
 *      knowledge base through the same import as the files.
 *
 * The sync has two phases so that a failure in the first stores nothing:
 * every page of the article list is fetched and parsed into one arena,
 * then the whole set goes to tr_kb_import_articles(), which stores it in
 * one transaction and counts what was added, updated or left alone.
 * Because the import compares every field before writing, a sync of an
 * unchanged Help Center reports every article unchanged and touches no
 * row, so it is cheap to run often.
 *
 * Articles deleted in Zendesk stay in the knowledge base: the list API
 * only tells what exists, and the import keeps what it is not given.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "log.h"
#include "zendesk_int.h"

/* The most articles a page may carry; the API caps cursor pages at 100. */
#define PAGE_SIZE_MAX 100

/* Every article fetched so far, in arrival order. */
struct fetched {
    struct tr_zendesk_article *arts;
    size_t n, cap;
};

/* Append a page's articles to `f`; their strings stay in the arena. */
static enum tr_err
fetched_add(struct fetched *f, const struct tr_zendesk_article_page *pg,
            struct tr_error *err)
{
    if (f->n + pg->n_articles > f->cap) {
        size_t cap = f->cap == 0 ? 64 : f->cap;
        struct tr_zendesk_article *p;

        while (cap < f->n + pg->n_articles)
            cap *= 2;
        p = realloc(f->arts, cap * sizeof(*p));
        if (p == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        f->arts = p;
        f->cap = cap;
    }
    memcpy(f->arts + f->n, pg->articles,
           pg->n_articles * sizeof(*pg->articles));
    f->n += pg->n_articles;
    return TR_OK;
}

/*
 * Fetch every page.  A page that says there is more but hands back no
 * cursor, or the cursor it was asked with, would loop for ever: that is
 * reported as a malformed answer rather than trusted.
 */
static enum tr_err
fetch_all(struct tr_zendesk *zd, struct tr_arena *a,
          const struct tr_zendesk_kb_sync_opts *o, struct fetched *f,
          int *n_pages, struct tr_error *err)
{
    struct tr_zendesk_article_page pg;
    const char *after = NULL;
    enum tr_err rc;

    for (;;) {
        rc = tr_zendesk_articles_list(zd, a, o->locale, after, o->page_size,
                                      &pg, err);
        if (rc != TR_OK)
            return rc;
        (*n_pages)++;
        rc = fetched_add(f, &pg, err);
        if (rc != TR_OK || !pg.has_more)
            return rc;
        if (pg.after_cursor == NULL || pg.after_cursor[0] == '\0' ||
            (after != NULL && strcmp(after, pg.after_cursor) == 0))
            return TR_ERROR(err, TR_E_PARSE, "article list page %d says "
                            "there is more but gives no new cursor",
                            *n_pages);
        after = pg.after_cursor;
    }
}

/* Order by article id, then by arrival, so the last copy comes last. */
static int
by_id_then_arrival(const void *x, const void *y)
{
    const struct tr_zendesk_article *const *p = x, *const *q = y;

    if ((*p)->id != (*q)->id)
        return (*p)->id < (*q)->id ? -1 : 1;
    return *p < *q ? -1 : *p > *q;
}

/* One import record from one Help Center article. */
static bool
kb_fill(struct tr_arena *a, const struct tr_zendesk_article *z,
        struct tr_kb_article *k)
{
    k->id = tr_arena_sprintf(a, "%lld", (long long) z->id);
    k->title = z->title;
    k->body = z->body != NULL ? z->body : "";  /* Zendesk sends null */
    k->format = TR_KB_HTML;
    k->url = z->html_url;
    k->locale = z->locale;
    k->section = NULL;
    if (z->section_id > 0)
        k->section = tr_arena_sprintf(a, "%lld", (long long) z->section_id);
    k->draft = z->draft;
    return k->id != NULL && (z->section_id <= 0 || k->section != NULL);
}

/*
 * Turn the fetched articles into import records, one per article id.
 * Cursor paging is stable, but an article edited during the sync can
 * still show up twice; the copy fetched last is the newest, so it wins.
 * The mapping is the one of a Help Center export file without its
 * "sections" list, so a file import and a sync agree field for field.
 */
static enum tr_err
to_kb(struct tr_arena *a, const struct fetched *f,
      struct tr_kb_article **out, size_t *n_out, struct tr_error *err)
{
    const struct tr_zendesk_article **ord;
    struct tr_kb_article *kb;
    size_t n = 0;

    ord = tr_arena_alloc(a, (f->n + 1) * sizeof(*ord));
    kb = tr_arena_alloc(a, (f->n + 1) * sizeof(*kb));
    if (ord == NULL || kb == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++)
        ord[i] = &f->arts[i];
    if (f->n > 1)
        qsort(ord, f->n, sizeof(*ord), by_id_then_arrival);

    for (size_t i = 0; i < f->n; i++) {
        if (i + 1 < f->n && ord[i + 1]->id == ord[i]->id)
            continue;
        if (!kb_fill(a, ord[i], &kb[n++]))
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    *out = kb;
    *n_out = n;
    return TR_OK;
}

/* Say which tenant lacks settings; the client's reason follows. */
static enum tr_err
conf_error(int64_t tenant_id, struct tr_error *err)
{
    char why[sizeof(err->msg)];

    snprintf(why, sizeof(why), "%s", tr_error_msg(err));
    return TR_ERROR(err, TR_E_CONF, "tenant %lld has no usable Zendesk "
                    "settings: %s", (long long) tenant_id, why);
}

/* Import, then reindex when asked; fills the counts of `res`. */
static enum tr_err
store(struct tr_db *db, int64_t tenant_id,
      const struct tr_zendesk_kb_sync_opts *o, const struct tr_kb_article *kb,
      size_t n, struct tr_zendesk_kb_sync_result *res, struct tr_error *err)
{
    struct tr_kb_import_stats st = {0};
    enum tr_err rc;

    rc = tr_kb_import_articles(db, tenant_id, kb, n, &st, err);
    if (rc != TR_OK)
        return rc;
    res->n_articles = n;
    res->n_added = st.n_added;
    res->n_updated = st.n_updated;
    res->n_unchanged = st.n_unchanged;
    res->n_drafts = st.n_drafts;
    TR_LOG_INFO("zendesk", "kb_synced",
                TR_KVS(TR_KV_INT("tenant", tenant_id),
                       TR_KV_INT("pages", res->n_pages),
                       TR_KV_INT("articles", (long long) n),
                       TR_KV_INT("added", (long long) st.n_added),
                       TR_KV_INT("updated", (long long) st.n_updated)),
                "synced %zu Help Center articles", n);
    if (o->reindex == NULL)
        return TR_OK;

    rc = tr_kb_reindex(db, tenant_id, NULL, o->reindex, err);
    res->reindexed = rc == TR_OK;
    return rc;
}

enum tr_err
tr_zendesk_kb_sync(struct tr_db *db, int64_t tenant_id,
                   const struct tr_zendesk_kb_sync_opts *o,
                   struct tr_zendesk_kb_sync_result *res,
                   struct tr_error *err)
{
    static const struct tr_zendesk_kb_sync_opts none = {0};
    struct tr_zendesk_kb_sync_result scratch;
    struct tr_zendesk__tenant t = {0};
    struct fetched f = {0};
    struct tr_kb_article *kb = NULL;
    struct tr_arena *a = NULL;
    size_t n = 0;
    enum tr_err rc;

    if (o == NULL)
        o = &none;
    if (res == NULL)
        res = &scratch;
    memset(res, 0, sizeof(*res));
    if (o->page_size < 0 || o->page_size > PAGE_SIZE_MAX)
        return TR_ERROR(err, TR_E_INVAL, "page size %d is not between 1 "
                        "and %d", o->page_size, PAGE_SIZE_MAX);

    rc = tr_zendesk__tenant_open(db, tenant_id, o->jobs, NULL, &t, err);
    if (rc == TR_E_CONF)
        return conf_error(tenant_id, err);
    if (rc != TR_OK)
        return rc;
    a = tr_arena_new(0);
    if (a == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    /* All pages first: a failure on any of them stores nothing. */
    rc = fetch_all(t.zd, a, o, &f, &res->n_pages, err);
    if (rc == TR_OK)
        rc = to_kb(a, &f, &kb, &n, err);
    if (rc == TR_OK)
        rc = store(db, tenant_id, o, kb, n, res, err);

out:
    tr_zendesk_free(t.zd);
    tr_arena_free(a);
    free(f.arts);
    return rc;
}
