/*
 * routes.c
 *      POST /webhooks/zendesk/{tenant}: the webhook route that turns a
 *      signed Zendesk delivery into a durable inbox row.
 *
 * The handler checks, in order: the tenant exists (404), the body is
 * JSON (415), the body fits the route's cap (413), the signature and
 * timestamp (401), the payload names a ticket (400).  Events that are
 * not about tickets are acknowledged and dropped with a log line.  The
 * rest goes to the group committer, and the 200 is sent only once the
 * commit holding the event has returned.
 *
 * Tenants are looked up through triage_zendesk_tenant() and cached for
 * tenant_cache_ms, so a burst of deliveries costs one lookup per tenant;
 * a changed secret is therefore honoured within that delay.
 *
 * Threads: the handler runs on the HTTP server's pool threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "zendesk.h"

#define CACHE_SLOTS 64
#define NAME_MAX_LEN 200
#define SECRET_MAX_LEN 512

struct tenant_slot {
    char name[NAME_MAX_LEN + 1];
    char secret[SECRET_MAX_LEN];
    int64_t id;
    double expires;             /* monotonic seconds */
};

/* What the route's handler gets as its `user`. */
struct route_ctx {
    struct tr_zendesk_inbox *ib;
    struct tr_db *db;
    struct tr_zendesk_route_opts o;
    pthread_mutex_t lock;
    struct tenant_slot cache[CACHE_SLOTS];
};

/* The routes made by tr_zendesk_http_register(). */
static struct tr_zendesk_inbox *g_inbox;

static double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* FNV-1a of the tenant name, for the cache slot. */
static unsigned
name_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h % CACHE_SLOTS;
}

/*
 * Find tenant `name`: its id and webhook secret (copied to `secret`).
 * TR_E_TENANT when unknown; TR_E_DB_CONNECT when the database is down.
 */
static enum tr_err
tenant_find(struct route_ctx *rc_, const char *name, int64_t *id,
            char *secret, size_t secret_len, struct tr_error *err)
{
    struct tenant_slot *slot = &rc_->cache[name_hash(name)];
    const char *params[1] = {name};
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    double now = mono_now();
    enum tr_err rc;

    if (strlen(name) > NAME_MAX_LEN)
        return TR_ERROR(err, TR_E_TENANT, "unknown tenant");
    pthread_mutex_lock(&rc_->lock);
    if (slot->expires > now && strcmp(slot->name, name) == 0) {
        *id = slot->id;
        snprintf(secret, secret_len, "%s", slot->secret);
        pthread_mutex_unlock(&rc_->lock);
        return TR_OK;
    }
    pthread_mutex_unlock(&rc_->lock);

    rc = tr_db_conn_acquire(rc_->db, &c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT id, webhook_secret FROM "
                           "triage_zendesk_tenant($1)", 1, params, &res,
                        err);
    tr_db_conn_release(c);
    if (rc != TR_OK) {
        /* Whatever went wrong, nothing is acknowledged: 503. */
        tr_db_res_free(res);
        return TR_ERROR(err, TR_E_DB_CONNECT, "database unavailable");
    }
    if (tr_db_res_n_rows(res) != 1 ||
        strlen(tr_db_res_value(res, 0, 1)) >= SECRET_MAX_LEN) {
        tr_db_res_free(res);
        return TR_ERROR(err, TR_E_TENANT, "unknown tenant");
    }
    *id = strtoll(tr_db_res_value(res, 0, 0), NULL, 10);
    snprintf(secret, secret_len, "%s", tr_db_res_value(res, 0, 1));
    tr_db_res_free(res);

    pthread_mutex_lock(&rc_->lock);
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    snprintf(slot->secret, sizeof(slot->secret), "%s", secret);
    slot->id = *id;
    slot->expires = now + rc_->o.tenant_cache_ms / 1000.0;
    pthread_mutex_unlock(&rc_->lock);
    return TR_OK;
}

/* True for "application/json", with or without parameters. */
static bool
is_json(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The inbox payload: the normalised event and the delivery as sent. */
static char *
event_payload(struct tr_arena *a, const struct tr_zendesk_event *ev,
              const char *body, size_t body_len)
{
    struct tr_buf b;
    char *out;

    tr_buf_init(&b, body_len + 1024);
    tr_buf_printf(&b, "{\"ticket_id\":%lld,\"type\":",
                  (long long) ev->ticket_id);
    tr_buf_json_str(&b, ev->type);
    tr_buf_printf(&b, ",\"occurred_at\":%lld,\"subscription\":%s,"
                  "\"event\":", (long long) ev->occurred_at,
                  ev->subscription ? "true" : "false");
    tr_buf_append(&b, body, body_len);
    if (tr_buf_puts(&b, "}") != TR_OK) {
        tr_buf_cleanup(&b);
        return NULL;
    }
    out = tr_arena_strndup(a, b.data, b.len);
    tr_buf_cleanup(&b);
    return out;
}

/* Check what arrived, before the body is trusted; fills tenant/secret. */
static enum tr_err
webhook_check(struct route_ctx *ctx, struct tr_http_req *req,
              int64_t *tenant_id, char *secret, size_t secret_len,
              struct tr_error *err)
{
    const char *name = tr_http_req_param(req, "tenant");
    size_t len;
    enum tr_err rc;

    rc = tenant_find(ctx, name != NULL ? name : "", tenant_id, secret,
                     secret_len, err);
    if (rc != TR_OK)
        return rc;
    if (!is_json(tr_http_req_header(req, "Content-Type")))
        return TR_ERROR(err, TR_E_MEDIATYPE,
                        "webhook bodies must be application/json");
    tr_http_req_body(req, &len);
    if ((long long) len > ctx->o.body_limit)
        return TR_ERROR(err, TR_E_TOOBIG, "webhook body over %lld bytes",
                        ctx->o.body_limit);
    return tr_zendesk_webhook_verify(
        secret, tr_http_req_header(req, TR_ZENDESK_SIG_HEADER),
        tr_http_req_header(req, TR_ZENDESK_SIG_TS_HEADER),
        tr_http_req_body(req, &len), len, time(NULL), ctx->o.window_s, err);
}

static enum tr_err
webhook_handle(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct route_ctx *ctx = user;
    struct tr_arena *a = tr_http_req_arena(req);
    struct tr_zendesk_inbox_item it = {0};
    struct tr_zendesk_event ev;
    char secret[SECRET_MAX_LEN];
    const char *body;
    bool is_new = false;
    size_t len;
    enum tr_err rc;

    rc = webhook_check(ctx, req, &it.tenant_id, secret, sizeof(secret), err);
    memset(secret, 0, sizeof(secret));
    if (rc == TR_E_CONF)
        rc = TR_ERROR(err, TR_E_AUTH, "the tenant has no webhook secret");
    if (rc != TR_OK)
        return rc;

    body = tr_http_req_body(req, &len);
    rc = tr_zendesk_webhook_parse(a, body, len,
                                  tr_http_req_header(req,
                                                     TR_ZENDESK_SIG_TS_HEADER),
                                  &ev, err);
    if (rc == TR_E_UNSUPPORTED) {
        /* Zendesk would retry an error; an event we do not use is
         * acknowledged and dropped. */
        TR_LOG_INFO("zendesk", "webhook_ignored",
                    TR_KVS(TR_KV_INT("tenant", it.tenant_id)),
                    "ignored a webhook event that is not about a ticket");
        return tr_http_reply_json(req, 200, "{\"status\":\"ignored\"}");
    }
    if (rc != TR_OK)
        return rc;

    it.dedup_key = ev.dedup_key;
    it.source = "webhook";
    it.payload = event_payload(a, &ev, body, len);
    if (it.payload == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = tr_zendesk_inbox_submit(ctx->ib, &it, &is_new, err);
    if (rc == TR_E_AGAIN)
        rc = TR_ERROR(err, TR_E_DB_CONNECT, "the service is stopping");
    if (rc != TR_OK)
        return rc;

    TR_LOG_INFO("zendesk", "webhook_stored",
                TR_KVS(TR_KV_INT("tenant", it.tenant_id),
                       TR_KV_INT("ticket_id", ev.ticket_id),
                       TR_KV_BOOL("duplicate", !is_new)),
                "stored webhook event for ticket %lld",
                (long long) ev.ticket_id);
    return tr_http_reply_json(req, 200, is_new
                              ? "{\"status\":\"accepted\"}"
                              : "{\"status\":\"duplicate\"}");
}

/* Free a route context when its inbox goes. */
static void
ctx_free(void *p)
{
    struct route_ctx *ctx = p;

    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

enum tr_err
tr_zendesk_http_route_add(struct tr_http_server *s,
                          struct tr_zendesk_inbox *ib,
                          const struct tr_zendesk_route_opts *o,
                          struct tr_error *err)
{
    struct route_ctx *ctx = calloc(1, sizeof(*ctx));

    /* The inbox owns the context, so it lives as long as the server
     * may call the handler. */
    if (ctx == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    ctx->ib = ib;
    ctx->db = tr_zendesk__inbox_db(ib);
    tr_zendesk__route_opts_fill(&ctx->o, o);
    pthread_mutex_init(&ctx->lock, NULL);
    tr_zendesk__inbox_attach(ib, ctx, ctx_free);
    return tr_http_route_add(s, "POST", "/webhooks/zendesk/{tenant}",
                             "zendesk_webhook", webhook_handle, ctx, err);
}

enum tr_err
tr_zendesk_http_register(struct tr_http_server *s, struct tr_db *db,
                         struct tr_error *err)
{
    enum tr_err rc;

    if (g_inbox != NULL)
        return TR_ERROR(err, TR_E_EXISTS,
                        "the Zendesk webhook route is already registered");
    rc = tr_zendesk_inbox_new(db, NULL, &g_inbox, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_zendesk_http_route_add(s, g_inbox, NULL, err);
    if (rc != TR_OK) {
        tr_zendesk_inbox_free(g_inbox);
        g_inbox = NULL;
    }
    return rc;
}

void
tr_zendesk_http_release(void)
{
    tr_zendesk_inbox_free(g_inbox);
    g_inbox = NULL;
}
