/*
 * server.c
 *      Life of the HTTP server: options, the listen socket, the
 *      libmicrohttpd daemon, route registration and the graceful stop.
 *
 * The server binds its own listen socket, so that a failure to bind is
 * reported with the address and the system's reason, and hands it to
 * libmicrohttpd, which runs an epoll loop on each of its pool threads.
 * The daemon's callbacks (the request path) live in request.c.  The
 * lifecycle functions are called from the composition root's thread;
 * stop may also come from any other thread that is not a handler.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"
#include "log.h"

/* Upper bounds, in seconds, of request durations in the histogram. */
static const double duration_bounds[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

/*
 * The connection limit has no configuration key yet; the default is far
 * above what the pool can serve at once and below the descriptor limit.
 */
void
tr_http_opts_from_conf(struct tr_http_opts *o, const struct tr_conf *c)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->listen, sizeof(o->listen), "%s", c->listen);
    o->threads = c->http_threads;
    o->timeout = c->http_timeout;
    o->body_limit = c->http_body_limit;
    o->shutdown_grace = c->shutdown_grace;
    o->conn_limit = TR_HTTP_DEFAULT_CONN_LIMIT;
}

/*
 * Refuse options the daemon would reject later with less to say, so that
 * a bad configuration names the key at fault.
 */
static enum tr_err
check_opts(const struct tr_http_opts *o, struct tr_error *err)
{
    char host[256];
    int port;

    if (tr_conf_listen_split(o->listen, host, sizeof(host), &port) != TR_OK)
        return TR_ERROR(err, TR_E_INVAL,
                        "listen address \"%s\" is not of the form HOST:PORT",
                        o->listen);
    if (o->threads < 1 || o->threads > 1024)
        return TR_ERROR(err, TR_E_INVAL,
                        "http threads must be between 1 and 1024, not %d",
                        o->threads);
    if (o->timeout < 1)
        return TR_ERROR(err, TR_E_INVAL,
                        "http timeout must be at least 1 second, not %d",
                        o->timeout);
    if (o->body_limit < 1)
        return TR_ERROR(err, TR_E_INVAL,
                        "http body limit must be positive, not %lld",
                        o->body_limit);
    if (o->shutdown_grace < 0)
        return TR_ERROR(err, TR_E_INVAL,
                        "shutdown grace must not be negative, not %d",
                        o->shutdown_grace);
    return TR_OK;
}

/* Register the two families every server records into. */
static enum tr_err
add_families(struct tr_http_server *s, struct tr_error *err)
{
    enum tr_err rc;

    rc = tr_metrics_family_new(s->metrics, TR_METRIC_COUNTER,
                               "http_requests_total",
                               "HTTP requests answered, by route, method "
                               "and status.",
                               "route,method,status", NULL, 0,
                               &s->m_requests, err);
    if (rc != TR_OK)
        return rc;
    return tr_metrics_family_new(s->metrics, TR_METRIC_HISTOGRAM,
                                 "http_request_duration_seconds",
                                 "Time from the request's arrival to its "
                                 "completion, by route.",
                                 "route", duration_bounds,
                                 sizeof(duration_bounds) /
                                     sizeof(duration_bounds[0]),
                                 &s->m_duration, err);
}

enum tr_err
tr_http_server_new(const struct tr_http_opts *o, struct tr_http_server **out,
                   struct tr_error *err)
{
    struct tr_http_server *s;
    enum tr_err rc;

    rc = check_opts(o, err);
    if (rc != TR_OK)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    /* The options are copied: the caller's struct may go away. */
    s->opts = *o;
    if (s->opts.conn_limit == 0)
        s->opts.conn_limit = TR_HTTP_DEFAULT_CONN_LIMIT;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);

    /* Without a shared registry the server keeps one of its own. */
    s->metrics = o->metrics;
    if (s->metrics == NULL) {
        s->metrics = tr_metrics_new();
        s->own_metrics = true;
        if (s->metrics == NULL) {
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    rc = add_families(s, err);
    if (rc != TR_OK)
        goto fail;

    *out = s;
    return TR_OK;

fail:
    tr_http_server_free(s);
    return rc;
}

void
tr_http_server_free(struct tr_http_server *s)
{
    if (s == NULL)
        return;

    /* Stopping first guarantees no pool thread still reads the routes. */
    tr_http_server_stop(s, NULL);
    for (size_t i = 0; i < s->n_routes; i++)
        tr_http__route_clear(&s->routes[i]);
    if (s->own_metrics)
        tr_metrics_free(s->metrics);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Same method and the same shape: literals equal, parameters anywhere. */
static bool
route_same(const struct tr_http_route *a, const struct tr_http_route *b)
{
    if (strcmp(a->method, b->method) != 0 || a->n_segs != b->n_segs)
        return false;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->is_param[i] != b->is_param[i])
            return false;
        if (!a->is_param[i] && strcmp(a->segs[i], b->segs[i]) != 0)
            return false;
    }
    return true;
}

/* A method is an upper-case token short enough for the route's field. */
static bool
method_ok(const char *m)
{
    size_t n = strlen(m);

    if (n == 0 || n >= sizeof(((struct tr_http_route *) 0)->method))
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

enum tr_err
tr_http_route_add(struct tr_http_server *s, const char *method,
                  const char *pattern, const char *name,
                  tr_http_handler_fn fn, void *user, struct tr_error *err)
{
    struct tr_http_route r = {0};
    enum tr_err rc;

    if (s->started)
        return TR_ERROR(err, TR_E_INVAL,
                        "route \"%s\" added after the server started",
                        pattern);
    if (method == NULL || !method_ok(method) || fn == NULL || name == NULL)
        return TR_ERROR(err, TR_E_INVAL,
                        "route \"%s\" needs an upper-case method, a name "
                        "and a handler", pattern);
    if (s->n_routes == TR_HTTP_MAX_ROUTES)
        return TR_ERROR(err, TR_E_RANGE, "more than %d routes",
                        TR_HTTP_MAX_ROUTES);

    /*
     * Two patterns that differ only in parameter names would match the
     * same paths, so the clash check compares shapes.
     */
    rc = tr_http__route_parse(&r, pattern, err);
    if (rc != TR_OK)
        goto fail;
    snprintf(r.method, sizeof(r.method), "%s", method);
    for (size_t i = 0; i < s->n_routes; i++) {
        if (route_same(&s->routes[i], &r)) {
            rc = TR_ERROR(err, TR_E_EXISTS,
                          "route %s \"%s\" clashes with \"%s\"", method,
                          pattern, s->routes[i].pattern);
            goto fail;
        }
    }
    r.name = strdup(name);
    if (r.name == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    r.fn = fn;
    r.user = user;
    s->routes[s->n_routes++] = r;
    return TR_OK;

fail:
    tr_http__route_clear(&r);
    return rc;
}

void
tr_http_server_set_ready(struct tr_http_server *s, tr_http_ready_fn fn,
                         void *user)
{
    s->ready = fn;
    s->ready_user = user;
}

struct tr_metrics *
tr_http_server_metrics(struct tr_http_server *s)
{
    return s->metrics;
}

int
tr_http_server_port(const struct tr_http_server *s)
{
    return s->port;
}

/* Name an errno the way struct tr_error keeps foreign codes. */
static void
set_errno_detail(struct tr_error *err, int e)
{
    const char *name = e == EADDRINUSE      ? "EADDRINUSE"
                       : e == EACCES        ? "EACCES"
                       : e == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
                                            : NULL;
    char text[32];

    if (name == NULL) {
        snprintf(text, sizeof(text), "errno %d", e);
        name = text;
    }
    tr_error_foreign(err, name);
}

/*
 * Bind and listen on one resolved address.  Returns the socket, or -1
 * with errno set.
 */
static int
listen_on(const struct addrinfo *ai)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                                       SOCK_NONBLOCK, ai->ai_protocol);

    if (fd < 0)
        return -1;

    /*
     * SO_REUSEADDR lets a restarted server bind while old connections
     * sit in TIME_WAIT; it never lets two listeners share a port.  The
     * socket is non-blocking because every pool thread accepts on it.
     */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * Resolve the listen address and bind the first address that works,
 * keeping the port actually bound in s->port.  Returns the socket or -1
 * with `err` filled.
 */
static int
open_listener(struct tr_http_server *s, bool *ipv6, struct tr_error *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    char host[256], port_text[16];
    int port, fd = -1, e = 0, gai;

    tr_conf_listen_split(s->opts.listen, host, sizeof(host), &port);
    snprintf(port_text, sizeof(port_text), "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host, port_text, &hints, &res);
    if (gai != 0) {
        TR_ERROR(err, TR_E_HTTP_START,
                 "could not resolve listen host \"%s\": %s", host,
                 gai_strerror(gai));
        return -1;
    }

    /* The first address that binds wins, as for any passive socket. */
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = listen_on(ai);
        e = errno;
        *ipv6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        TR_ERROR(err, TR_E_HTTP_START, "could not listen on \"%s\": %s",
                 s->opts.listen, strerror(e));
        set_errno_detail(err, e);
        return -1;
    }

    /* Port 0 asked the kernel to choose; report what it chose. */
    getsockname(fd, (struct sockaddr *) &ss, &ss_len);
    s->port = ss.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *) &ss)->sin6_port)
                  : ntohs(((struct sockaddr_in *) &ss)->sin_port);
    return fd;
}

enum tr_err
tr_http_server_start(struct tr_http_server *s, struct tr_error *err)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    bool ipv6 = false;
    int fd;

    if (s->started)
        return TR_ERROR(err, TR_E_INVAL, "http server already started");
    fd = open_listener(s, &ipv6, err);
    if (fd < 0)
        return TR_E_HTTP_START;
    if (ipv6)
        flags |= MHD_USE_IPv6;

    /*
     * The logger goes first so that libmicrohttpd reports problems with
     * the later options through it.  A pool of one is no pool: the
     * library wants the pool option above 1 or not at all.
     */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, tr_http__on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, tr_http__on_log, s,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) s->opts.timeout,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.conn_limit,
        MHD_OPTION_NOTIFY_COMPLETED, tr_http__on_completed, s,
        MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned) (s->opts.threads > 1 ? s->opts.threads : 0),
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        /* On failure the daemon leaves the socket to us. */
        close(fd);
        s->port = 0;
        return TR_ERROR(err, TR_E_HTTP_START,
                        "could not start http server on \"%s\" with %d "
                        "threads", s->opts.listen, s->opts.threads);
    }

    s->started = true;
    TR_LOG_INFO("http", "http_started",
                TR_KVS(TR_KV_STR("listen", s->opts.listen),
                       TR_KV_INT("port", s->port),
                       TR_KV_INT("threads", s->opts.threads)),
                "http server listening on port %d", s->port);
    return TR_OK;
}

/*
 * Wait until no request is in flight or the grace period ends.  Returns
 * the number still running.
 */
static int
wait_idle(struct tr_http_server *s)
{
    struct timespec deadline;
    int left;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->opts.shutdown_grace;
    pthread_mutex_lock(&s->lock);
    while (s->in_flight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) != 0)
            break;
    left = s->in_flight;
    pthread_mutex_unlock(&s->lock);
    return left;
}

enum tr_err
tr_http_server_stop(struct tr_http_server *s, struct tr_error *err)
{
    MHD_socket fd;
    int left;

    /* Only the first caller stops; later ones find the flag set. */
    pthread_mutex_lock(&s->lock);
    if (!s->started || s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return TR_OK;
    }
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);

    /* Closing the quiesced socket makes new connections fail at once. */
    fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /*
     * Requests still running at the deadline are cut off: stopping the
     * daemon closes their connections and joins the pool threads, which
     * still waits for a handler that is blocked to return.
     */
    left = wait_idle(s);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    s->port = 0;

    TR_LOG_INFO("http", "http_stopped", TR_KVS(TR_KV_INT("cut_off", left)),
                "http server stopped");
    if (left > 0)
        return TR_ERROR(err, TR_E_TIMEOUT,
                        "%d requests still running after %d seconds were "
                        "cut off", left, s->opts.shutdown_grace);
    return TR_OK;
}
