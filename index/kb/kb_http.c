/*
 * kb_http.c
 *      GET /api/v1/search: hybrid search of a tenant's live index over
 *      HTTP, answered as JSON.
 *
 * Runs on the server's pool threads; the searcher comes from the
 * process-wide cache of kb_search.c, so a reindex switch is picked up
 * without a restart and without failing requests in flight.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "kb_http.h"
#include "mem.h"

/* Most hits one request may ask for. */
#define KB_HTTP_K_MAX 50

/* Append the hits as the response's JSON. */
static enum tr_err
write_hits(struct tr_buf *b, const char *tenant, int64_t version,
           const char *q, const struct tr_kb_hit *hits, size_t n)
{
    char snip[320];

    tr_buf_puts(b, "{\"tenant\":");
    tr_buf_json_str(b, tenant);
    tr_buf_printf(b, ",\"version\":%lld,\"query\":", (long long) version);
    tr_buf_json_str(b, q);
    tr_buf_puts(b, ",\"hits\":[");
    for (size_t i = 0; i < n; i++) {
        const struct tr_kb_hit *h = &hits[i];

        tr_buf_printf(b, "%s{\"rank\":%zu,\"score\":%.6f,\"dense\":%.6f,"
                      "\"bm25\":%.6f,\"article_id\":", i > 0 ? "," : "",
                      i + 1, h->score, h->dense_score, h->bm25_score);
        tr_buf_json_str(b, h->external_id);
        tr_buf_puts(b, ",\"title\":");
        tr_buf_json_str(b, h->title);
        tr_buf_puts(b, ",\"url\":");
        tr_buf_json_str(b, h->url);
        tr_buf_puts(b, ",\"locale\":");
        tr_buf_json_str(b, h->locale);
        tr_buf_puts(b, ",\"heading_path\":");
        tr_buf_json_str(b, h->heading_path);
        tr_buf_puts(b, ",\"snippet\":");
        tr_buf_json_str(b, tr_kb_snippet(h->text, 240, snip, sizeof(snip)));
        tr_buf_printf(b, ",\"start\":%zu,\"end\":%zu}", h->start, h->end);
    }
    return tr_buf_puts(b, "]}");
}

static enum tr_err
handle_search(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct tr_db *db = user;
    const char *tenant = tr_http_req_query(req, "tenant");
    const char *q = tr_http_req_query(req, "q");
    const char *ks = tr_http_req_query(req, "k");
    struct tr_kb_hit hits[KB_HTTP_K_MAX];
    struct tr_kb_searcher *s = NULL;
    struct tr_buf b;
    int64_t tid;
    long k = 5;
    size_t n;
    char *end;
    enum tr_err rc;

    if (tenant == NULL || tenant[0] == '\0')
        return TR_ERROR(err, TR_E_TENANT, "parameter \"tenant\" missing");
    if (q == NULL || q[0] == '\0')
        return TR_ERROR(err, TR_E_INVAL, "parameter \"q\" missing");
    if (ks != NULL) {
        k = strtol(ks, &end, 10);
        if (end == ks || *end != '\0' || k < 1 || k > KB_HTTP_K_MAX)
            return TR_ERROR(err, TR_E_INVAL, "parameter \"k\" must be 1 "
                            "to %d", KB_HTTP_K_MAX);
    }

    rc = tr_kb_tenant_find(db, tenant, &tid, err);
    if (rc == TR_OK)
        rc = tr_kb_searcher_get(db, tid, &s, err);
    if (rc == TR_OK)
        rc = tr_kb_search(s, q, (size_t) k, TR_KB_HYBRID, hits, &n, err);
    if (rc != TR_OK) {
        tr_kb_searcher_release(s);
        return rc;
    }

    tr_buf_init(&b, (size_t) 4 << 20);
    rc = write_hits(&b, tenant, tr_kb_searcher_version(s), q, hits, n);
    tr_kb_searcher_release(s);
    if (rc == TR_OK)
        rc = tr_http_reply_json(req, 200, b.data);
    tr_buf_cleanup(&b);
    return rc == TR_OK ? TR_OK : TR_ERROR(err, rc, "could not answer");
}

enum tr_err
tr_kb_http_register(struct tr_http_server *s, struct tr_db *db,
                    struct tr_error *err)
{
    return tr_http_route_add(s, "GET", "/api/v1/search", "search",
                             handle_search, db, err);
}
