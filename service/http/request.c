/*
 * request.c
 *      The request path: libmicrohttpd's callbacks, the per-request
 *      context, request ids, body collection, the handler call, the
 *      access log and the request metrics.
 *
 * libmicrohttpd calls the access handler several times per request on
 * the pool thread that owns the connection: once when the headers are
 * in (routing, early refusals), once per piece of body, and once when
 * the body is complete (the handler runs then).  The completion notice
 * follows when the response has been sent or the connection died; it
 * writes the access-log line and frees the request's arena.  Each entry
 * sets the thread's log request id and clears it on the way out, so that
 * lines written for other connections of the same thread never carry it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http_int.h"
#include "log.h"

/*
 * A body that is already too big is read and thrown away, so that the
 * client gets its 413; past this many bytes over the limit the
 * connection is simply closed instead.
 */
#define DISCARD_SLACK (1024ULL * 1024ULL)

/* An incoming id is kept when it is 1-64 of [A-Za-z0-9._-]. */
static bool
id_ok(const char *id)
{
    size_t n = 0;

    for (; id[n] != '\0'; n++) {
        char c = id[n];

        if (n == TR_HTTP_REQ_ID_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/*
 * Make a fresh id of 16 hex digits from the kernel's random source.
 * getrandom() only fails when interrupted early or unavailable; the clock
 * and address mixed in below still keep ids distinct then.
 */
static void
id_make(char *out, const void *salt)
{
    unsigned char r[8];
    struct timespec ts;

    if (getrandom(r, sizeof(r), 0) != (ssize_t) sizeof(r)) {
        unsigned long long x;

        clock_gettime(CLOCK_REALTIME, &ts);
        x = (unsigned long long) ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
            (unsigned long long) ts.tv_sec ^ (unsigned long long) salt;
        memcpy(r, &x, sizeof(r));
    }
    for (size_t i = 0; i < sizeof(r); i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

/*
 * Make the context of a new request in its own arena, pick its id and
 * count it as in flight.  NULL when out of memory (the connection is then
 * dropped).
 */
static struct tr_http_req *
req_begin(struct tr_http_server *s, struct MHD_Connection *conn,
          const char *url, const char *method)
{
    struct tr_arena *a = tr_arena_new(0);
    struct tr_http_req *req;
    const char *in_id;

    if (a == NULL)
        return NULL;
    req = tr_arena_alloc(a, sizeof(*req));
    if (req == NULL)
        goto fail;
    req->srv = s;
    req->conn = conn;
    req->arena = a;
    req->method = tr_arena_strdup(a, method);
    req->path = tr_arena_strdup(a, url);
    if (req->method == NULL || req->path == NULL)
        goto fail;
    tr_buf_init(&req->body, (size_t) s->opts.body_limit);
    clock_gettime(CLOCK_MONOTONIC, &req->start);

    in_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                        "X-Request-Id");
    if (in_id != NULL && id_ok(in_id))
        snprintf(req->id, sizeof(req->id), "%s", in_id);
    else
        id_make(req->id, req);

    pthread_mutex_lock(&s->lock);
    s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    return req;

fail:
    tr_arena_free(a);
    return NULL;
}

/*
 * Free the request and, when it was the last one running, wake a stop
 * that waits for the server to become idle.
 */
static void
req_end(struct tr_http_req *req)
{
    struct tr_http_server *s = req->srv;

    tr_http__reply_drop(req);
    tr_buf_cleanup(&req->body);
    tr_arena_free(req->arena);

    pthread_mutex_lock(&s->lock);
    if (--s->in_flight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* Answer at once with an error, before or instead of the handler. */
static enum MHD_Result
answer_error(struct tr_http_req *req, enum tr_err code, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

static enum MHD_Result
answer_error(struct tr_http_req *req, enum tr_err code, const char *fmt, ...)
{
    struct tr_error e = {0};
    va_list ap;

    e.code = code;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    if (tr_http_reply_error(req, &e) != TR_OK)
        return MHD_NO;
    return tr_http__queue(req);
}

/*
 * First call, headers complete: route, and refuse what can be refused
 * before any body is read (unknown path, wrong method, a declared length
 * over the limit).
 */
static enum MHD_Result
on_headers(struct tr_http_server *s, struct tr_http_req *req)
{
    char allow[128];
    const char *cl;
    enum tr_err rc;

    rc = tr_http__route_find(s, req, allow, sizeof(allow));
    if (rc == TR_E_NOMEM)
        return MHD_NO;
    if (rc == TR_E_NOTFOUND)
        return answer_error(req, TR_E_NOTFOUND, "no route for \"%s\"",
                            req->path);
    if (rc == TR_E_HTTP_METHOD) {
        tr_http_header_add(req, "Allow", allow);
        return answer_error(req, TR_E_HTTP_METHOD,
                            "method \"%s\" is not allowed here, use %s",
                            req->method, allow);
    }

    /*
     * libmicrohttpd has already rejected a malformed Content-Length, so a
     * plain conversion is enough here.  Chunked bodies have none and are
     * counted as they stream in.
     */
    cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strtoull(cl, NULL, 10) >
                          (unsigned long long) s->opts.body_limit)
        return answer_error(req, TR_E_TOOBIG,
                            "request body exceeds the limit of %lld bytes",
                            s->opts.body_limit);
    return MHD_YES;
}

/*
 * One piece of body.  Past the limit the bytes are counted and dropped;
 * the 413 goes out when the body ends, or the connection is closed when
 * the client goes on far beyond the limit.
 */
static enum MHD_Result
on_body(struct tr_http_req *req, const char *data, size_t *size)
{
    unsigned long long limit = (unsigned long long) req->srv->opts.body_limit;
    size_t n = *size;

    *size = 0;
    if (req->queued)
        return MHD_YES;
    req->body_seen += n;
    if (req->body_seen > limit)
        req->too_big = true;
    if (req->too_big)
        return req->body_seen - limit > DISCARD_SLACK ? MHD_NO : MHD_YES;
    if (tr_buf_append(&req->body, data, n) != TR_OK)
        return MHD_NO;
    return MHD_YES;
}

/* Body complete: run the handler and queue whatever it produced. */
static enum MHD_Result
on_complete(struct tr_http_req *req)
{
    struct tr_error err = {0};
    enum tr_err rc;

    if (req->queued)
        return MHD_YES;
    if (req->too_big)
        return answer_error(req, TR_E_TOOBIG,
                            "request body exceeds the limit of %lld bytes",
                            req->srv->opts.body_limit);

    /*
     * The handler may block as long as it needs; a failure it did not
     * answer itself becomes the JSON error of the code it returned.
     */
    rc = req->route->fn(req, req->route->user, &err);
    if (rc != TR_OK && req->resp == NULL) {
        if (err.code != rc)
            tr_error_clear(&err);
        err.code = rc;
        tr_http_reply_error(req, &err);
    } else if (rc == TR_OK && req->resp == NULL) {
        TR_LOG_ERROR("http", "handler_no_reply",
                     TR_KVS(TR_KV_STR("route", req->route->name)),
                     "handler of route \"%s\" returned without a reply",
                     req->route->name);
    }
    return tr_http__queue(req);
}

enum MHD_Result
tr_http__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                    const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size,
                    void **ctx)
{
    struct tr_http_server *s = cls;
    struct tr_http_req *req = *ctx;
    enum MHD_Result ok;

    /* The first call for a request has no context yet. */
    if (req == NULL) {
        req = req_begin(s, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *ctx = req;
        tr_log_set_req_id(req->id);
        ok = on_headers(s, req);
    } else if (*upload_data_size > 0) {
        tr_log_set_req_id(req->id);
        ok = on_body(req, upload_data, upload_data_size);
    } else {
        tr_log_set_req_id(req->id);
        ok = on_complete(req);
    }
    tr_log_set_req_id(NULL);
    return ok;
}

/* Record the request in the two metric families. */
static void
record(struct tr_http_req *req, const char *route, double seconds)
{
    struct tr_http_server *s = req->srv;
    char status[16];
    const char *rm[3];
    const char *rd[1];

    snprintf(status, sizeof(status), "%d", req->status);
    rm[0] = route;
    rm[1] = req->method;
    rm[2] = status;
    rd[0] = route;
    tr_metric_counter_add(tr_metric_series_get(s->m_requests, rm), 1);
    tr_metric_histogram_observe(tr_metric_series_get(s->m_duration, rd),
                                seconds);
}

void
tr_http__on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                      enum MHD_RequestTerminationCode toe)
{
    struct tr_http_req *req = *ctx;
    const char *route;
    struct timespec now;
    double secs;

    if (req == NULL)
        return;
    *ctx = NULL;
    clock_gettime(CLOCK_MONOTONIC, &now);
    secs = (double) (now.tv_sec - req->start.tv_sec) +
           (double) (now.tv_nsec - req->start.tv_nsec) / 1e9;
    route = req->route != NULL ? req->route->name : "unmatched";

    /* A request that never got an answer is logged but not counted. */
    tr_log_set_req_id(req->id);
    if (req->queued)
        record(req, route, secs);
    TR_LOG_INFO("http", "http_request",
                TR_KVS(TR_KV_STR("method", req->method),
                       TR_KV_STR("route", route),
                       TR_KV_INT("status", req->queued ? req->status : 0),
                       TR_KV_DBL("dur_ms", secs * 1000.0),
                       TR_KV_INT("bytes", req->resp_len),
                       TR_KV_BOOL("completed",
                                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)),
                "%s %s %d", req->method, route,
                req->queued ? req->status : 0);
    tr_log_set_req_id(NULL);
    req_end(req);
}

/*
 * libmicrohttpd's own complaints (connection limit reached, malformed
 * requests, socket errors) become warnings of our log.
 */
void
tr_http__on_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    size_t n;

    vsnprintf(text, sizeof(text), fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    TR_LOG_WARN("http", "server_error", NULL, "%s", text);
}
