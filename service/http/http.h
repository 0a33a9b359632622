/*
 * http.h
 *      The HTTP server: a router with path parameters over libmicrohttpd,
 *      request and response helpers, built-in health, readiness and
 *      metrics endpoints, and a graceful stop.
 *
 * The composition root creates one server, registers routes (its own and
 * those connectors hand it), sets a readiness callback, starts it and, at
 * shutdown, stops it.  The server knows nothing of the database or the
 * queue: whatever it needs from them arrives through callbacks.
 *
 * A handler is called on a thread of the server's pool once the whole
 * request body has arrived, with the request's id set as the thread's log
 * request id.  It may block (for a database commit, or until a group
 * commit that includes its write is durable); while it blocks, the other
 * connections served by the same pool thread wait, so the pool size
 * (http_threads) bounds how many handlers can block at once.  Everything
 * a handler allocates from the request arena is freed when the response
 * has been sent.  Every response carries X-Request-Id, and every request
 * produces one "http_request" access-log line and two metric samples.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_HTTP_H
#define TR_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include "conf.h"
#include "err.h"
#include "mem.h"
#include "metrics.h"

/* Most routes one server holds. */
#define TR_HTTP_MAX_ROUTES 256

/* Most path segments of a route pattern and of a routable path. */
#define TR_HTTP_MAX_SEGMENTS 16

/* Default limit on concurrent connections when the options give 0. */
#define TR_HTTP_DEFAULT_CONN_LIMIT 1024

struct tr_http_server;
struct tr_http_req;

/*
 * A route handler.  It reads the request through tr_http_req_*() and
 * answers with one of the tr_http_reply*() helpers, then returns TR_OK.
 * To fail it returns an error code, filling `err` (or not: the code's
 * description is used); the server then answers with the JSON error body
 * and the code's status, unless the handler already replied.  A handler
 * that returns TR_OK without a reply gets a 500 "internal" answer.
 * `user` is what the route was registered with.
 */
typedef enum tr_err (*tr_http_handler_fn)(struct tr_http_req *req,
                                          void *user, struct tr_error *err);

/*
 * Readiness callback for GET /readyz: TR_OK when the process can serve
 * (database reachable, schema current), else an error code with `err`
 * filled.  Called on a server thread at every probe; keep it quick.
 */
typedef enum tr_err (*tr_http_ready_fn)(void *user, struct tr_error *err);

/* How a server is set up; see tr_http_opts_from_conf(). */
struct tr_http_opts {
    char listen[256];          /* "HOST:PORT"; port 0 picks a free port */
    int threads;               /* pool threads, at least 1 */
    int timeout;               /* seconds a connection may stay idle */
    long long body_limit;      /* largest accepted request body, bytes */
    int shutdown_grace;        /* seconds tr_http_server_stop() waits */
    unsigned conn_limit;       /* concurrent connections, 0 = default */
    struct tr_metrics *metrics; /* borrowed; NULL = a private registry */
};

/*
 * Fill `o` from the configuration keys listen, http_threads,
 * http_timeout, http_body_limit and shutdown_grace; conn_limit becomes
 * TR_HTTP_DEFAULT_CONN_LIMIT and metrics NULL.
 */
void tr_http_opts_from_conf(struct tr_http_opts *o, const struct tr_conf *c);

/*
 * Create a server that is not yet listening.  It registers the families
 * http_requests_total and http_request_duration_seconds in o->metrics
 * (or in its own registry).  Returns TR_E_INVAL for bad options,
 * TR_E_EXISTS when the registry already has those families, TR_E_NOMEM.
 * The caller owns the server and frees it with tr_http_server_free().
 */
enum tr_err tr_http_server_new(const struct tr_http_opts *o,
                               struct tr_http_server **out,
                               struct tr_error *err);

/*
 * Stop the server if it still runs (as tr_http_server_stop()) and free
 * it.  NULL is a no-op.  Not from a handler.
 */
void tr_http_server_free(struct tr_http_server *s);

/*
 * Register a route before the server starts.  `method` is an upper-case
 * token ("GET", "POST"); `pattern` starts with '/' and its segments are
 * literals or parameters written "{name}" that match one non-empty
 * segment ("/api/v1/drafts/{id}/approve").  When several routes match a
 * path, the one with the most literal segments wins, then the earliest.
 * A GET route also answers HEAD.  `name` labels the route in metrics and
 * logs (keep it short and fixed, e.g. "draft_approve").  `user` is
 * borrowed and passed to `fn`.  Returns TR_E_INVAL for a bad pattern or
 * method or after start, TR_E_EXISTS for a duplicate method and pattern,
 * TR_E_RANGE past TR_HTTP_MAX_ROUTES.  Not thread-safe: call at setup.
 */
enum tr_err tr_http_route_add(struct tr_http_server *s, const char *method,
                              const char *pattern, const char *name,
                              tr_http_handler_fn fn, void *user,
                              struct tr_error *err);

/*
 * Register GET /healthz (always 200 {"status":"ok"}), GET /readyz (the
 * readiness callback: 200 {"status":"ready"}, or 503 with the JSON error
 * of what it returned; 200 when no callback is set) and GET /metrics (the
 * registry in Prometheus text format 0.0.4).  Same returns and rules as
 * tr_http_route_add().
 */
enum tr_err tr_http_builtin_add(struct tr_http_server *s,
                                struct tr_error *err);

/*
 * Set the readiness callback used by GET /readyz; `user` is borrowed.
 * Call at setup, before start.
 */
void tr_http_server_set_ready(struct tr_http_server *s, tr_http_ready_fn fn,
                              void *user);

/*
 * The registry the server records into and /metrics renders, so that the
 * composition root can add its collectors.  Borrowed, valid while the
 * server lives.
 */
struct tr_metrics *tr_http_server_metrics(struct tr_http_server *s);

/*
 * Bind the listen address and start the pool threads.  Returns
 * TR_E_HTTP_START with a message naming the address and the reason
 * ("address already in use", unknown host, thread start failure) and the
 * errno name as foreign code; TR_E_INVAL when already started.
 */
enum tr_err tr_http_server_start(struct tr_http_server *s,
                                 struct tr_error *err);

/*
 * The port the server listens on (the real one when port 0 was asked),
 * or 0 before start.
 */
int tr_http_server_port(const struct tr_http_server *s);

/*
 * Graceful stop: stop accepting connections at once (new ones are
 * refused), let requests in flight finish for up to shutdown_grace
 * seconds, then close every connection and join the threads.  Responses
 * sent meanwhile carry "Connection: close".  Returns TR_OK, or
 * TR_E_TIMEOUT when requests were still running at the deadline (they
 * are cut off; the server is stopped all the same).  Safe to call from
 * any thread except a handler's, and more than once.
 */
enum tr_err tr_http_server_stop(struct tr_http_server *s,
                                struct tr_error *err);

/*
 * Request accessors, for handlers.  Strings are borrowed, valid until
 * the handler returns; NULL when absent.
 *
 * tr_http_req_method(): "GET", "POST", ...
 * tr_http_req_path(): the decoded path, without the query string.
 * tr_http_req_route(): the name the matched route was registered with.
 * tr_http_req_param(): the value of path parameter "{name}".
 * tr_http_req_query(): a decoded query-string argument; "" for "?flag".
 * tr_http_req_header(): a request header, name matched ignoring case.
 * tr_http_req_body(): the body exactly as received, `*len` bytes (a
 *     zero byte follows it but may also occur inside); "" when empty.
 * tr_http_req_id(): the request id also sent as X-Request-Id.
 * tr_http_req_arena(): memory freed after the response is sent.
 */
const char *tr_http_req_method(const struct tr_http_req *req);
const char *tr_http_req_path(const struct tr_http_req *req);
const char *tr_http_req_route(const struct tr_http_req *req);
const char *tr_http_req_param(const struct tr_http_req *req,
                              const char *name);
const char *tr_http_req_query(const struct tr_http_req *req,
                              const char *name);
const char *tr_http_req_header(const struct tr_http_req *req,
                               const char *name);
const char *tr_http_req_body(const struct tr_http_req *req, size_t *len);
const char *tr_http_req_id(const struct tr_http_req *req);
struct tr_arena *tr_http_req_arena(struct tr_http_req *req);

/*
 * Answer with `len` bytes of `body` (copied) and the given Content-Type.
 * `status` is a success or redirect status (100-399); errors go through
 * tr_http_reply_error() so that their status comes from the one table.
 * A second reply replaces the first.  Returns TR_E_INVAL for a status of
 * 400 or more, TR_E_NOMEM.
 */
enum tr_err tr_http_reply(struct tr_http_req *req, int status,
                          const char *content_type, const void *body,
                          size_t len);

/*
 * tr_http_reply() with "application/json" and a zero-terminated body.
 */
enum tr_err tr_http_reply_json(struct tr_http_req *req, int status,
                               const char *json);

/*
 * tr_http_reply() with "text/plain; charset=utf-8".
 */
enum tr_err tr_http_reply_text(struct tr_http_req *req, int status,
                               const char *text);

/*
 * Answer with {"error":{"code":"<slug>","message":"..."}} and the status
 * tr_err_http_status() gives for e->code.  For a 5xx status the message
 * is the code's generic description and e's own message only goes to the
 * log, so that internals never reach a client.
 */
enum tr_err tr_http_reply_error(struct tr_http_req *req,
                                const struct tr_error *e);

/*
 * tr_http_reply_error() from a code and a printf-style message.
 */
enum tr_err tr_http_reply_err(struct tr_http_req *req, enum tr_err code,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Add a response header (copied); may come before or after the reply.
 * Names holding characters outside an HTTP token, or values holding CR
 * or LF, give TR_E_INVAL.  X-Request-Id and Content-Length are set by
 * the server.
 */
enum tr_err tr_http_header_add(struct tr_http_req *req, const char *name,
                               const char *value);

#endif /* TR_HTTP_H */
