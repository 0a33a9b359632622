/*
 * client.c
 *      The Zendesk REST client: configuration, authentication, one
 *      request path for every call, and the calls themselves.
 *
 * Every call goes through tr_zendesk__call(): it builds the URL under the API
 * base, adds Accept, Content-Type (with a body) and Authorization, runs
 * the request under the Zendesk retry policy and the tenant's budget,
 * turns a non-2xx answer into our status with Zendesk's own error text
 * when the body is JSON (it may be text/plain, e.g. on 429), and parses
 * a 2xx body as a JSON object.  The credentials are kept only inside the
 * prepared Authorization header and never logged.  A client is used by
 * one thread at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "zendesk_int.h"

#define TR_ZENDESK_MAX_RESPONSE ((size_t) 16 << 20)

struct tr_zendesk {
    struct tr_httpc *hc;
    struct tr_httpc_policy policy;
    tr_httpc_budget_fn *budget;
    void *budget_arg;
    size_t max_response;
    char *base;                    /* ".../api/v2", no trailing slash */
    char *auth;                    /* "Authorization: ..." */
};

/* Build "Authorization: Basic base64(email/token:token)" or Bearer. */
static char *
make_auth(const struct tr_zendesk_cfg *cfg)
{
    struct tr_buf b;
    char *plain, *out;
    size_t n;

    tr_buf_init(&b, 4096);
    if (cfg->oauth_token != NULL && cfg->oauth_token[0] != '\0') {
        tr_buf_printf(&b, "Authorization: Bearer %s", cfg->oauth_token);
        return tr_buf_steal(&b);
    }

    if (tr_buf_printf(&b, "%s/token:%s", cfg->email, cfg->api_token) !=
        TR_OK) {
        tr_buf_cleanup(&b);
        return NULL;
    }
    n = b.len;
    plain = tr_buf_steal(&b);
    out = plain != NULL ? malloc(32 + 4 * ((n + 2) / 3) + 1) : NULL;
    if (out != NULL) {
        strcpy(out, "Authorization: Basic ");
        EVP_EncodeBlock((unsigned char *) out + strlen(out),
                        (unsigned char *) plain, (int) n);
    }
    if (plain != NULL) {
        OPENSSL_cleanse(plain, n);
        free(plain);
    }
    return out;
}

/* Check the configuration and derive the API base URL. */
static char *
make_base(const struct tr_zendesk_cfg *cfg, struct tr_error *err)
{
    struct tr_buf b;
    size_t n;

    tr_buf_init(&b, 1024);
    if (cfg->base_url != NULL && cfg->base_url[0] != '\0') {
        n = strlen(cfg->base_url);
        while (n > 0 && cfg->base_url[n - 1] == '/')
            n--;
        tr_buf_printf(&b, "%.*s/api/v2", (int) n, cfg->base_url);
        return tr_buf_steal(&b);
    }
    if (cfg->subdomain == NULL || cfg->subdomain[0] == '\0') {
        TR_ERROR(err, TR_E_CONF, "zendesk needs a subdomain or a base URL");
        return NULL;
    }

    /* The subdomain becomes part of a host name: keep it to [a-z0-9-]. */
    for (const char *p = cfg->subdomain; *p != '\0'; p++) {
        if (!isalnum((unsigned char) *p) && *p != '-') {
            TR_ERROR(err, TR_E_CONF, "invalid zendesk subdomain \"%.64s\"",
                     cfg->subdomain);
            return NULL;
        }
    }
    tr_buf_printf(&b, "https://%s.zendesk.com/api/v2", cfg->subdomain);
    return tr_buf_steal(&b);
}

static bool
has_credentials(const struct tr_zendesk_cfg *cfg)
{
    if (cfg->oauth_token != NULL && cfg->oauth_token[0] != '\0')
        return true;
    return cfg->email != NULL && cfg->email[0] != '\0' &&
           cfg->api_token != NULL && cfg->api_token[0] != '\0';
}

/*
 * The credentials are checked first so that nothing is allocated for a
 * configuration that cannot work; every later failure goes through one
 * exit that frees what was built.
 */
struct tr_zendesk *
tr_zendesk_new(const struct tr_zendesk_cfg *cfg, struct tr_error *err)
{
    struct tr_zendesk *zd;

    if (!has_credentials(cfg)) {
        TR_ERROR(err, TR_E_CONF,
                 "zendesk needs an email and API token or an OAuth token");
        return NULL;
    }
    zd = calloc(1, sizeof(*zd));
    if (zd == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }

    zd->base = make_base(cfg, err);
    if (zd->base == NULL)
        goto fail;
    zd->auth = make_auth(cfg);
    if (zd->auth == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    zd->hc = tr_httpc_new(cfg->http, err);
    if (zd->hc == NULL)
        goto fail;

    if (cfg->policy != NULL)
        zd->policy = *cfg->policy;
    else
        tr_httpc_policy_preset(&zd->policy, TR_HTTPC_PRESET_ZENDESK);
    zd->budget = cfg->budget;
    zd->budget_arg = cfg->budget_arg;
    zd->max_response = cfg->max_response > 0 ? cfg->max_response
                                             : TR_ZENDESK_MAX_RESPONSE;
    return zd;

fail:
    tr_zendesk_free(zd);
    return NULL;
}

/* The Authorization line holds the secret: wipe it before freeing. */
void
tr_zendesk_free(struct tr_zendesk *zd)
{
    if (zd == NULL)
        return;
    tr_httpc_free(zd->hc);
    if (zd->auth != NULL) {
        OPENSSL_cleanse(zd->auth, strlen(zd->auth));
        free(zd->auth);
    }
    free(zd->base);
    free(zd);
}

const char *
tr_zendesk_base(const struct tr_zendesk *zd)
{
    return zd->base;
}

/*
 * Describe a non-2xx answer.  Zendesk's JSON errors carry "error" and
 * often "description"; anything else is reported by status and type
 * only, since a text body could echo request content.
 */
static enum tr_err
answer_error(const struct tr_httpc_resp *resp, const char *what,
             struct tr_error *err)
{
    enum tr_err code = tr_httpc_status_err(resp->status);
    cJSON *root = NULL;
    const cJSON *e, *d;

    if (strstr(resp->content_type, "json") != NULL)
        root = cJSON_ParseWithLength(resp->body.data != NULL
                                         ? resp->body.data : "",
                                     resp->body.len);
    e = cJSON_GetObjectItemCaseSensitive(root, "error");
    d = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (cJSON_IsString(e))
        TR_ERROR(err, code, "zendesk %s failed with status %d: %.100s%s%.200s",
                 what, resp->status, e->valuestring,
                 cJSON_IsString(d) ? ": " : "",
                 cJSON_IsString(d) ? d->valuestring : "");
    else
        TR_ERROR(err, code,
                 "zendesk %s failed with status %d (%zu bytes of \"%.40s\")",
                 what, resp->status, resp->body.len,
                 resp->content_type[0] != '\0' ? resp->content_type
                                               : "no content type");
    cJSON_Delete(root);
    return code;
}

enum tr_err
tr_zendesk__call(struct tr_zendesk *zd, const char *method,
                 const char *path, const struct tr_buf *body,
                 const char *what, cJSON **root, struct tr_error *err)
{
    const char *headers[3];
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_buf url;
    enum tr_err rc;

    *root = NULL;
    tr_buf_init(&url, 8192);
    tr_httpc_resp_init(&resp);
    rc = tr_buf_printf(&url, "%s%s", zd->base, path);
    if (rc != TR_OK) {
        rc = TR_ERROR(err, rc, "zendesk %s: URL too long", what);
        goto out;
    }

    /* Zendesk wants Accept on every call and Content-Type with a body;
     * the Authorization line was prepared once by tr_zendesk_new(). */
    headers[0] = "Accept: application/json";
    headers[1] = zd->auth;
    headers[2] = "Content-Type: application/json";
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url.data;
    req.headers = headers;
    req.n_headers = body != NULL ? 3 : 2;
    req.body = body != NULL ? (body->data != NULL ? body->data : "") : NULL;
    req.body_len = body != NULL ? body->len : 0;
    req.max_response = zd->max_response;

    /* Retries, waits and the tenant's budget all happen in here. */
    rc = tr_httpc_request(zd->hc, &zd->policy, zd->budget, zd->budget_arg,
                          &req, &resp, err);
    if (rc != TR_OK)
        goto out;
    if (resp.status < 200 || resp.status > 299) {
        rc = answer_error(&resp, what, err);
        goto out;
    }

    /* A 2xx body must be a JSON object; a truncated or HTML answer from
     * a proxy is reported, never half-read. */
    *root = cJSON_ParseWithLength(resp.body.data != NULL ? resp.body.data
                                                         : "",
                                  resp.body.len);
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        rc = TR_ERROR(err, TR_E_PARSE,
                      "zendesk %s answered %d with a body that is not a "
                      "JSON object", what, resp.status);
    }

out:
    TR_LOG_DEBUG("zendesk", "api_call",
                 TR_KVS(TR_KV_STR("what", what),
                        TR_KV_INT("status", resp.status),
                        TR_KV_INT("attempts", resp.n_attempts),
                        TR_KV_STR("err", tr_err_name(rc))),
                 "zendesk api call done");
    tr_httpc_resp_cleanup(&resp);
    tr_buf_cleanup(&url);
    return rc;
}

/* GET /tickets/{id}.json and parse {"ticket": {...}}. */
enum tr_err
tr_zendesk_ticket_fetch(struct tr_zendesk *zd, struct tr_arena *a,
                        int64_t id, struct tr_zendesk_ticket *out,
                        struct tr_error *err)
{
    char path[64];
    cJSON *root;
    enum tr_err rc;

    if (id < 1)
        return TR_ERROR(err, TR_E_INVAL, "ticket id must be positive");
    snprintf(path, sizeof(path), "/tickets/%lld.json", (long long) id);
    rc = tr_zendesk__call(zd, "GET", path, NULL, "ticket fetch", &root, err);
    if (rc != TR_OK)
        return rc;

    rc = tr_zendesk__ticket_from_json(
        a, cJSON_GetObjectItemCaseSensitive(root, "ticket"), out, err);
    cJSON_Delete(root);
    return rc;
}

/* Brackets are percent-encoded so no layer mistakes them for a glob. */
enum tr_err
tr_zendesk__cursor_query(struct tr_buf *path, int page_size, const char *after)
{
    enum tr_err rc;

    rc = tr_buf_printf(path, "?page%%5Bsize%%5D=%d", page_size);
    if (rc == TR_OK && after != NULL && after[0] != '\0') {
        rc = tr_buf_puts(path, "&page%5Bafter%5D=");
        if (rc == TR_OK)
            rc = tr_httpc_query_escape(path, after);
    }
    return rc;
}

void
tr_zendesk__read_meta(struct tr_arena *a, const cJSON *root, bool *has_more,
          const char **after)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");

    *has_more = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(meta, "has_more"));
    *after = tr_zendesk__json_str(a, meta, "after_cursor");
}

/*
 * One page of comments.  The arena array gets one spare slot so that an
 * empty page still yields a valid pointer.
 */
enum tr_err
tr_zendesk_comments_list(struct tr_zendesk *zd, struct tr_arena *a,
                         int64_t ticket_id, const char *after,
                         int page_size, struct tr_zendesk_comment_page *out,
                         struct tr_error *err)
{
    struct tr_buf path;
    const cJSON *arr, *it;
    cJSON *root = NULL;
    enum tr_err rc;
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (ticket_id < 1)
        return TR_ERROR(err, TR_E_INVAL, "ticket id must be positive");
    tr_buf_init(&path, 4096);
    tr_buf_printf(&path, "/tickets/%lld/comments.json",
                  (long long) ticket_id);
    rc = tr_zendesk__cursor_query(&path, page_size > 0 ? page_size : 100,
                                  after);
    if (rc != TR_OK) {
        rc = TR_ERROR(err, rc, "comment cursor too long");
        goto out;
    }
    rc = tr_zendesk__call(zd, "GET", path.data, NULL, "comment list",
                          &root, err);
    if (rc != TR_OK)
        goto out;

    arr = cJSON_GetObjectItemCaseSensitive(root, "comments");
    if (!cJSON_IsArray(arr)) {
        rc = TR_ERROR(err, TR_E_PARSE, "comment list has no \"comments\"");
        goto out;
    }
    out->comments = tr_arena_alloc(
        a, sizeof(*out->comments) * ((size_t) cJSON_GetArraySize(arr) + 1));
    if (out->comments == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(it, arr) {
        rc = tr_zendesk__comment_from_json(a, it, &out->comments[n], err);
        if (rc != TR_OK)
            goto out;
        n++;
    }
    out->n_comments = n;
    tr_zendesk__read_meta(a, root, &out->has_more, &out->after_cursor);

out:
    cJSON_Delete(root);
    tr_buf_cleanup(&path);
    return rc;
}

/* Parse the "tickets" array of an export page into `out`. */
static enum tr_err
export_tickets(struct tr_arena *a, const cJSON *root,
               struct tr_zendesk_export_page *out, struct tr_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "tickets");
    const cJSON *it;
    enum tr_err rc;
    size_t n = 0;

    if (!cJSON_IsArray(arr))
        return TR_ERROR(err, TR_E_PARSE, "export page has no \"tickets\"");
    out->tickets = tr_arena_alloc(
        a, sizeof(*out->tickets) * ((size_t) cJSON_GetArraySize(arr) + 1));
    if (out->tickets == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    cJSON_ArrayForEach(it, arr) {
        rc = tr_zendesk__ticket_from_json(a, it, &out->tickets[n], err);
        if (rc != TR_OK)
            return rc;
        n++;
    }
    out->n_tickets = n;
    return TR_OK;
}

/*
 * One export page.  A cursor wins over start_time, as Zendesk wants: the
 * cursor alone says where to continue.  end_of_stream is required, since
 * a loop that polls until it is true must never spin on a page that
 * lacks it.
 */
enum tr_err
tr_zendesk_export_next(struct tr_zendesk *zd, struct tr_arena *a,
                       int64_t start_time, const char *cursor,
                       struct tr_zendesk_export_page *out,
                       struct tr_error *err)
{
    struct tr_buf path;
    cJSON *root = NULL;
    const cJSON *eos;
    enum tr_err rc;

    memset(out, 0, sizeof(*out));
    tr_buf_init(&path, 4096);
    if (cursor != NULL && cursor[0] != '\0') {
        rc = tr_buf_puts(&path, "/incremental/tickets/cursor.json?cursor=");
        if (rc == TR_OK)
            rc = tr_httpc_query_escape(&path, cursor);
    } else if (start_time >= 0) {
        rc = tr_buf_printf(&path,
                           "/incremental/tickets/cursor.json?start_time=%lld",
                           (long long) start_time);
    } else {
        rc = TR_ERROR(err, TR_E_INVAL, "export needs a start time or cursor");
        goto out;
    }
    if (rc != TR_OK) {
        rc = TR_ERROR(err, rc, "export cursor too long");
        goto out;
    }

    rc = tr_zendesk__call(zd, "GET", path.data, NULL, "incremental export",
                          &root, err);
    if (rc != TR_OK)
        goto out;
    rc = export_tickets(a, root, out, err);
    if (rc != TR_OK)
        goto out;

    eos = cJSON_GetObjectItemCaseSensitive(root, "end_of_stream");
    if (!cJSON_IsBool(eos)) {
        rc = TR_ERROR(err, TR_E_PARSE, "export page has no \"end_of_stream\"");
        goto out;
    }
    out->end_of_stream = cJSON_IsTrue(eos);
    out->after_cursor = tr_zendesk__json_str(a, root, "after_cursor");

out:
    cJSON_Delete(root);
    tr_buf_cleanup(&path);
    return rc;
}
