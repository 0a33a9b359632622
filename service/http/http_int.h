/*
 * http_int.h
 *      Layouts shared by the files of the HTTP server module: the server,
 *      a route and the per-request context.
 *
 * Only the files of service/http include this header, and only they see
 * libmicrohttpd types.  A route table is written during setup and read
 * without locks once the server runs.  A request context belongs to the
 * one pool thread that serves its connection.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_HTTP_INT_H
#define TR_HTTP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <microhttpd.h>

#include "http.h"

/* Longest accepted incoming X-Request-Id; generated ids are 16 hex. */
#define TR_HTTP_REQ_ID_MAX 64

struct tr_http_route {
    char method[16];
    char *pattern;
    char *name;
    tr_http_handler_fn fn;
    void *user;
    size_t n_segs;
    int n_literals;
    char *segs[TR_HTTP_MAX_SEGMENTS];
    bool is_param[TR_HTTP_MAX_SEGMENTS];
};

/* One response header queued by a handler, kept in the request arena. */
struct tr_http_hdr {
    struct tr_http_hdr *next;
    char *name;
    char *value;
};

struct tr_http_req {
    struct tr_http_server *srv;
    struct MHD_Connection *conn;
    struct tr_arena *arena;
    char *method;
    char *path;
    const struct tr_http_route *route;
    size_t n_params;
    const char *param_names[TR_HTTP_MAX_SEGMENTS];
    char *param_values[TR_HTTP_MAX_SEGMENTS];
    char id[TR_HTTP_REQ_ID_MAX + 1];
    struct timespec start;

    /* the body as received, capped at the body limit */
    struct tr_buf body;
    unsigned long long body_seen;
    bool too_big;

    /* the answer being prepared, and whether it went out */
    struct MHD_Response *resp;
    int status;
    size_t resp_len;
    struct tr_http_hdr *headers;
    bool queued;
};

struct tr_http_server {
    struct tr_http_opts opts;
    struct MHD_Daemon *daemon;
    int port;

    struct tr_http_route routes[TR_HTTP_MAX_ROUTES];
    size_t n_routes;

    tr_http_ready_fn ready;
    void *ready_user;

    struct tr_metrics *metrics;
    bool own_metrics;
    struct tr_metric *m_requests;
    struct tr_metric *m_duration;

    /* lifecycle and requests in flight, for the graceful stop */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int in_flight;
    bool started;
    bool stopping;
};

/*
 * Result of routing one request.  On TR_OK `route` and the parameters are
 * set; TR_E_NOTFOUND means no pattern matches the path; TR_E_HTTP_METHOD
 * means some do, for other methods, listed in `allow` ("GET, HEAD, POST").
 */
enum tr_err tr_http__route_find(struct tr_http_server *s,
                                struct tr_http_req *req, char *allow,
                                size_t allow_len);

/*
 * Parse `pattern` into `r`, whose strings are heap copies freed by
 * tr_http__route_clear().  TR_E_INVAL with a message when malformed.
 */
enum tr_err tr_http__route_parse(struct tr_http_route *r,
                                 const char *pattern, struct tr_error *err);
void tr_http__route_clear(struct tr_http_route *r);

/*
 * Build and queue the prepared response of `req` (adding X-Request-Id,
 * Content-Type and the handler's headers).  Returns what MHD returns.
 */
enum MHD_Result tr_http__queue(struct tr_http_req *req);

/*
 * Reply with the JSON error of `e` but with status `status`; used where
 * the status is fixed by a protocol (readiness answers 503).
 */
enum tr_err tr_http__reply_error_status(struct tr_http_req *req,
                                        const struct tr_error *e,
                                        int status);

/*
 * Free the prepared response of `req`, if any.
 */
void tr_http__reply_drop(struct tr_http_req *req);

/*
 * The libmicrohttpd callbacks, in request.c: the access handler (runs
 * routing, body collection and the handler), the completion notice
 * (access log, metrics, freeing the request) and the error logger.
 */
enum MHD_Result tr_http__on_request(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **ctx);
void tr_http__on_completed(void *cls, struct MHD_Connection *conn,
                           void **ctx, enum MHD_RequestTerminationCode toe);
void tr_http__on_log(void *cls, const char *fmt, va_list ap);

#endif /* TR_HTTP_INT_H */
