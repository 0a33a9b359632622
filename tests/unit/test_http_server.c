/*
 * test_http_server.c
 *      The HTTP server on a real loopback socket: routing, errors,
 *      request ids, bodies and their limit, timeouts, built-in endpoints,
 *      metrics and the graceful stop.
 *
 * Every case starts its own server on 127.0.0.1 with an ephemeral port
 * and stops it before returning.  Clients are libcurl, or raw sockets
 * where a client must misbehave (chunked bodies, half-sent requests).
 * Log lines go to a temporary file that cases read back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

/* ---- fixture ---------------------------------------------------------- */

struct fixture {
    struct tr_http_server *srv;
    int port;
    atomic_int calls;          /* handler invocations */
    atomic_int entered;        /* the slow handler has started */
    enum tr_err ready_rc;
    int slow_ms;
    char log_path[64];
    int log_fd;
};

static struct fixture fx;

static enum tr_err
h_echo(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct tr_buf b;
    const char *names[] = {"id", "tenant", "a", "b", "flag", "hdr"};
    const char *vals[6];
    enum tr_err rc;

    atomic_fetch_add(&fx.calls, 1);
    vals[0] = tr_http_req_param(req, "id");
    vals[1] = tr_http_req_param(req, "tenant");
    vals[2] = tr_http_req_query(req, "a");
    vals[3] = tr_http_req_query(req, "b");
    vals[4] = tr_http_req_query(req, "flag");
    vals[5] = tr_http_req_header(req, "x-custom");

    /* {"route":..., "id":..., ...} with null for what is absent */
    tr_buf_init(&b, 4096);
    tr_buf_puts(&b, "{\"route\":");
    tr_buf_json_str(&b, tr_http_req_route(req));
    for (int i = 0; i < 6; i++) {
        tr_buf_printf(&b, ",\"%s\":", names[i]);
        tr_buf_json_str(&b, vals[i]);
    }
    tr_buf_puts(&b, "}");
    tr_http_header_add(req, "X-Echo", "yes");
    rc = tr_http_reply_json(req, 200, b.data);
    tr_buf_cleanup(&b);
    return rc;
}

static enum tr_err
h_body(struct tr_http_req *req, void *user, struct tr_error *err)
{
    size_t len;
    const char *body = tr_http_req_body(req, &len);

    atomic_fetch_add(&fx.calls, 1);
    TR_LOG_INFO("test", "handler_said", TR_KVS(TR_KV_INT("len", len)),
                "body of %zu bytes", len);
    return tr_http_reply(req, 201, "application/octet-stream", body, len);
}

static enum tr_err
h_fail(struct tr_http_req *req, void *user, struct tr_error *err)
{
    const char *kind = tr_http_req_param(req, "kind");

    if (strcmp(kind, "inval") == 0)
        return TR_ERROR(err, TR_E_INVAL, "field \"x\" is missing");
    if (strcmp(kind, "db") == 0)
        return TR_ERROR(err, TR_E_DB_QUERY, "relation \"t\" has no column");
    if (strcmp(kind, "status") == 0) {
        /* A handler may not pick an error status itself. */
        if (tr_http_reply_json(req, 404, "{}") != TR_E_INVAL)
            return tr_http_reply_text(req, 200, "accepted 404");
        return tr_http_reply_text(req, 200, "refused 404");
    }
    return TR_OK;  /* "none": no reply at all */
}

static enum tr_err
h_slow(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct timespec ts = {fx.slow_ms / 1000, (fx.slow_ms % 1000) * 1000000L};

    atomic_store(&fx.entered, 1);
    nanosleep(&ts, NULL);
    return tr_http_reply_text(req, 200, "slow done");
}

static enum tr_err
ready_cb(void *user, struct tr_error *err)
{
    if (fx.ready_rc == TR_OK)
        return TR_OK;
    return TR_ERROR(err, fx.ready_rc, "database at \"sock\" is down");
}

static enum tr_err
collect_queue(struct tr_buf *out, void *user)
{
    const char *names[] = {"kind", "state"};
    const char *vals[] = {"triage", "queued"};
    enum tr_err rc;

    rc = tr_metrics_write_header(out, "triage_queue_jobs", "Jobs by state.",
                                 TR_METRIC_GAUGE);
    if (rc == TR_OK)
        rc = tr_metrics_write_sample(out, "triage_queue_jobs", 2, names, vals,
                                     5);
    if (rc == TR_OK)
        rc = tr_metrics_write_header(out, "triage_queue_parked",
                                     "Parked jobs.", TR_METRIC_GAUGE);
    if (rc == TR_OK)
        rc = tr_metrics_write_sample(out, "triage_queue_parked", 0, NULL,
                                     NULL, 2);
    return rc;
}

/*
 * Start a server with the test routes; timeout and grace in seconds,
 * `conn_limit` 0 for the default.
 */
static void
start_with(int timeout, int grace, int threads, unsigned conn_limit)
{
    struct tr_http_opts o = {0};
    struct tr_error err = {0};
    struct tr_http_server *s;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.log_path, sizeof(fx.log_path), "/tmp/tr_http_log_XXXXXX");
    fx.log_fd = mkstemp(fx.log_path);
    assert_true(fx.log_fd >= 0);

    /* Read back through the descriptor; nothing is left if a case fails. */
    unlink(fx.log_path);
    tr_log_init(TR_LOG_INFO, TR_LOG_FORMAT_JSON, fx.log_fd);

    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:0");
    o.threads = threads;
    o.timeout = timeout;
    o.body_limit = 1024;
    o.shutdown_grace = grace;
    o.conn_limit = conn_limit;
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_OK);
    assert_int_equal(tr_http_builtin_add(s, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/items/{id}", "item_get",
                                       h_echo, NULL, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/items/new", "item_new",
                                       h_echo, NULL, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "POST", "/webhooks/zendesk/{tenant}",
                                       "zendesk_webhook", h_body, NULL, &err),
                     TR_OK);
    assert_int_equal(tr_http_route_add(s, "POST",
                                       "/api/v1/drafts/{id}/approve",
                                       "draft_approve", h_echo, NULL, &err),
                     TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/fail/{kind}", "fail",
                                       h_fail, NULL, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/slow", "slow", h_slow,
                                       NULL, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "OPTIONS", "/", "root", h_echo,
                                       NULL, &err), TR_OK);
    tr_http_server_set_ready(s, ready_cb, NULL);
    assert_int_equal(tr_metrics_collector_add(tr_http_server_metrics(s),
                                              collect_queue, NULL), TR_OK);
    assert_int_equal(tr_http_server_start(s, &err), TR_OK);
    fx.srv = s;
    fx.port = tr_http_server_port(s);
    assert_true(fx.port > 0);
}

static void
start(int timeout, int grace)
{
    start_with(timeout, grace, 4, 0);
}

static void
finish(void)
{
    tr_http_server_free(fx.srv);
    fx.srv = NULL;
    tr_log_init(TR_LOG_INFO, TR_LOG_FORMAT_JSON, 2);
    close(fx.log_fd);
}

/* The log written so far; static storage, overwritten by the next call. */
static const char *
log_text(void)
{
    static char text[1 << 18];
    ssize_t n = pread(fx.log_fd, text, sizeof(text) - 1, 0);

    text[n > 0 ? n : 0] = '\0';
    return text;
}

/* ---- clients ---------------------------------------------------------- */

struct resp {
    long status;
    char body[65536];
    size_t len;
    char headers[8192];
    size_t hlen;
};

static size_t
on_data(char *p, size_t size, size_t n, void *user)
{
    struct resp *r = user;
    size_t k = size * n;

    if (r->len + k < sizeof(r->body)) {
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
    }
    return k;
}

static size_t
on_header(char *p, size_t size, size_t n, void *user)
{
    struct resp *r = user;
    size_t k = size * n;

    if (r->hlen + k < sizeof(r->headers)) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/*
 * Send one request with libcurl.  `hdrs` is NULL-terminated or NULL;
 * `body` NULL sends none.  Returns the curl result.
 */
static CURLcode
request(const char *method, const char *path, const char *body, size_t len,
        const char *const *hdrs, struct resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *list = NULL;
    char url[512];
    CURLcode cc;

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) len);
    }
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
        list = curl_slist_append(list, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return cc;
}

static void
get(const char *path, struct resp *r)
{
    assert_int_equal(request("GET", path, NULL, 0, NULL, r), CURLE_OK);
}

/* The value of response header `name` (copied into static storage). */
static const char *
header(const struct resp *r, const char *name)
{
    static char value[256];
    size_t nl = strlen(name);

    for (const char *p = r->headers; *p != '\0';) {
        const char *eol = strstr(p, "\r\n");

        if (eol == NULL)
            break;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;

            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int) (eol - v), v);
            return value;
        }
        p = eol + 2;
    }
    return NULL;
}

static int
connect_port(int port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * Send `req` raw, then read until the server closes or `wait_ms` passes.
 * Returns the bytes read into `out` (zero-terminated).
 */
static size_t
raw_exchange(const char *req, size_t len, char *out, size_t out_len,
             int wait_ms)
{
    int fd = connect_port(fx.port);
    size_t got = 0;
    struct pollfd p;

    assert_true(fd >= 0);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t) len);
    p.fd = fd;
    p.events = POLLIN;
    while (got + 1 < out_len && poll(&p, 1, wait_ms) > 0) {
        ssize_t n = recv(fd, out + got, out_len - 1 - got, 0);

        if (n <= 0)
            break;
        got += (size_t) n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- routing ---------------------------------------------------------- */

static void
routes_match_params_and_prefer_literals(void **state)
{
    struct resp r;

    start(5, 5);
    get("/items/42", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"route\":\"item_get\",\"id\":\"42\""));
    assert_string_equal(header(&r, "X-Echo"), "yes");
    assert_string_equal(header(&r, "Content-Type"), "application/json");

    /* The literal segment beats the parameter, whatever the order. */
    get("/items/new", &r);
    assert_non_null(strstr(r.body, "\"route\":\"item_new\",\"id\":null"));

    assert_int_equal(request("POST", "/api/v1/drafts/d-7/approve", "", 0,
                             NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"route\":\"draft_approve\","
                                   "\"id\":\"d-7\""));

    /* Percent-escapes in a segment are decoded before matching. */
    get("/items/a%20b", &r);
    assert_non_null(strstr(r.body, "\"id\":\"a b\""));
    finish();
}

static void
unknown_path_is_404_json_error(void **state)
{
    static const char star[] = "OPTIONS * HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n";
    char out[2048];
    struct resp r;

    start(5, 5);
    get("/nowhere", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body,
                        "{\"error\":{\"code\":\"notfound\",\"message\":"
                        "\"no route for \\\"/nowhere\\\"\"}}");

    /* Trailing slashes, empty segments and extra depth do not match. */
    get("/items/42/", &r);
    assert_int_equal(r.status, 404);
    get("/items//42", &r);
    assert_int_equal(r.status, 404);
    get("/items/42/more", &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(atomic_load(&fx.calls), 0);

    /* "*" is not the root path, even where a root route exists. */
    raw_exchange(star, sizeof(star) - 1, out, sizeof(out), 3000);
    assert_true(strncmp(out, "HTTP/1.1 404", 12) == 0);
    finish();
}

static void
wrong_method_is_405_with_allow(void **state)
{
    struct resp r;

    start(5, 5);
    assert_int_equal(request("DELETE", "/items/42", NULL, 0, NULL, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow"), "GET, HEAD");
    assert_non_null(strstr(r.body, "\"code\":\"http_method\""));
    assert_non_null(header(&r, "X-Request-Id"));

    get("/webhooks/zendesk/acme", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow"), "POST");
    assert_int_equal(atomic_load(&fx.calls), 0);

    /* HEAD is served by the GET route, without a body. */
    assert_int_equal(request("HEAD", "/healthz", NULL, 0, NULL, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    finish();
}

static void
query_and_headers_are_readable(void **state)
{
    const char *hdrs[] = {"X-CUSTOM: v1", NULL};
    struct resp r;

    start(5, 5);
    assert_int_equal(request("GET", "/items/1?a=1&b=x%20y%26z&flag", NULL, 0,
                             hdrs, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"a\":\"1\",\"b\":\"x y&z\","
                                   "\"flag\":\"\",\"hdr\":\"v1\""));

    get("/items/1", &r);
    assert_non_null(strstr(r.body, "\"a\":null,\"b\":null,\"flag\":null,"
                                   "\"hdr\":null"));
    finish();
}

/* ---- request ids and logs --------------------------------------------- */

static bool
is_hex16(const char *s)
{
    if (s == NULL || strlen(s) < 16)
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void
request_id_is_generated_or_echoed(void **state)
{
    const char *good[] = {"X-Request-Id: abc-123.X_y", NULL};
    const char *bad[] = {"X-Request-Id: bad id!", NULL};
    char first[64];
    struct resp r;

    start(5, 5);
    get("/healthz", &r);
    assert_true(is_hex16(header(&r, "X-Request-Id")));
    snprintf(first, sizeof(first), "%s", header(&r, "X-Request-Id"));
    get("/healthz", &r);
    assert_true(is_hex16(header(&r, "X-Request-Id")));
    assert_string_not_equal(first, header(&r, "X-Request-Id"));

    assert_int_equal(request("GET", "/healthz", NULL, 0, good, &r), CURLE_OK);
    assert_string_equal(header(&r, "X-Request-Id"), "abc-123.X_y");
    assert_int_equal(request("GET", "/healthz", NULL, 0, bad, &r), CURLE_OK);
    assert_true(is_hex16(header(&r, "X-Request-Id")));

    /* Errors carry it too: 404, 405, a handler's error. */
    assert_int_equal(request("GET", "/nowhere", NULL, 0, good, &r), CURLE_OK);
    assert_string_equal(header(&r, "X-Request-Id"), "abc-123.X_y");
    assert_int_equal(request("PUT", "/healthz", NULL, 0, good, &r), CURLE_OK);
    assert_string_equal(header(&r, "X-Request-Id"), "abc-123.X_y");
    get("/fail/db", &r);
    assert_true(is_hex16(header(&r, "X-Request-Id")));
    finish();
}

static void
handler_log_lines_carry_request_id(void **state)
{
    const char *hdrs[] = {"X-Request-Id: req-log-1",
                          "Authorization: Bearer tok-very-secret", NULL};
    const char *log;
    const char *said, *access;
    struct resp r;

    start(5, 5);
    assert_int_equal(request("POST", "/webhooks/zendesk/acme",
                             "body-words-private", 18, hdrs, &r), CURLE_OK);
    assert_int_equal(r.status, 201);

    /* The access line is written after the answer; give it a moment. */
    for (int i = 0; i < 100; i++) {
        log = log_text();
        if (strstr(log, "\"event\":\"http_request\"") != NULL)
            break;
        usleep(20000);
    }
    said = strstr(log, "\"event\":\"handler_said\"");
    access = strstr(log, "\"event\":\"http_request\"");
    assert_non_null(said);
    assert_non_null(access);
    assert_non_null(strstr(said, "\"req_id\":\"req-log-1\""));
    assert_true(strstr(said, "\"req_id\":\"req-log-1\"") <
                strchr(said, '\n'));
    assert_non_null(strstr(access, "\"req_id\":\"req-log-1\""));
    assert_non_null(strstr(access, "\"method\":\"POST\""));
    assert_non_null(strstr(access, "\"route\":\"zendesk_webhook\""));
    assert_non_null(strstr(access, "\"status\":201"));
    assert_non_null(strstr(access, "\"bytes\":18"));
    assert_non_null(strstr(access, "\"dur_ms\":"));

    /* Neither the body nor the credentials reach the log. */
    assert_null(strstr(log, "body-words-private"));
    assert_null(strstr(log, "tok-very-secret"));
    finish();
}

/* ---- errors and bodies ------------------------------------------------ */

static void
handler_errors_become_json_with_table_status(void **state)
{
    struct resp r;

    start(5, 5);
    get("/fail/inval", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"inval\",\"message\":"
                                "\"field \\\"x\\\" is missing\"}}");

    /* A server-side failure shows only the generic text to the client. */
    get("/fail/db", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"db_query\","
                                "\"message\":\"database query failed\"}}");
    assert_non_null(strstr(log_text(), "relation \\\"t\\\" has no column"));

    get("/fail/none", &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "\"code\":\"internal\""));
    assert_non_null(strstr(log_text(), "\"event\":\"handler_no_reply\""));

    get("/fail/status", &r);
    assert_string_equal(r.body, "refused 404");
    finish();
}

static void
body_is_kept_byte_for_byte(void **state)
{
    char body[1024];
    struct resp r;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char) (i * 7 + 3);
    body[10] = '\0';
    start(5, 5);

    /* Exactly the limit is still accepted. */
    assert_int_equal(request("POST", "/webhooks/zendesk/acme", body,
                             sizeof(body), NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, sizeof(body));
    assert_memory_equal(r.body, body, sizeof(body));

    assert_int_equal(request("POST", "/webhooks/zendesk/acme", "", 0, NULL,
                             &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 0);
    finish();
}

static void
oversized_body_with_length_is_413(void **state)
{
    const char *no_expect[] = {"Expect:", NULL};
    char body[2000];
    struct resp r;

    memset(body, 'x', sizeof(body));
    start(5, 5);
    assert_int_equal(request("POST", "/webhooks/zendesk/acme", body,
                             sizeof(body), NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "{\"error\":{\"code\":\"toobig\""));
    assert_non_null(strstr(r.body, "limit of 1024 bytes"));
    assert_non_null(header(&r, "X-Request-Id"));

    /* Also when the client sends the body without waiting. */
    assert_int_equal(request("POST", "/webhooks/zendesk/acme", body,
                             sizeof(body), no_expect, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_int_equal(atomic_load(&fx.calls), 0);
    finish();
}

static void
oversized_chunked_body_is_413(void **state)
{
    char req[8192], out[4096];
    size_t n;

    start(5, 5);
    n = (size_t) snprintf(req, sizeof(req),
                          "POST /webhooks/zendesk/acme HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += (size_t) snprintf(req + n, sizeof(req) - n, "320\r\n");
        memset(req + n, 'y', 800);
        n += 800;
        n += (size_t) snprintf(req + n, sizeof(req) - n, "\r\n");
    }
    n += (size_t) snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");

    raw_exchange(req, n, out, sizeof(out), 3000);
    assert_true(strncmp(out, "HTTP/1.1 413", 12) == 0);
    assert_non_null(strcasestr(out, "\r\nX-Request-Id: "));
    assert_non_null(strstr(out, "\"code\":\"toobig\""));
    assert_int_equal(atomic_load(&fx.calls), 0);

    /* A chunked body within the limit reaches the handler intact. */
    n = (size_t) snprintf(req, sizeof(req),
                          "POST /webhooks/zendesk/acme HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\nConnection: close\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    raw_exchange(req, n, out, sizeof(out), 3000);
    assert_true(strncmp(out, "HTTP/1.1 201", 12) == 0);
    assert_non_null(strstr(out, "\r\n\r\nabcdefg"));
    finish();
}

static void
slow_client_is_disconnected_after_timeout(void **state)
{
    static const char half[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    char out[256];
    double t0, waited;

    start(1, 5);
    t0 = now_s();
    raw_exchange(half, sizeof(half) - 1, out, sizeof(out), 10000);
    waited = now_s() - t0;

    /* Closed without an answer, after about the 1 s timeout. */
    assert_string_equal(out, "");
    assert_true(waited >= 0.8);
    assert_true(waited < 5.0);
    finish();
}

/* ---- built-in endpoints ----------------------------------------------- */

static void
healthz_and_readyz_answer(void **state)
{
    struct resp r;

    start(5, 5);
    get("/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");

    fx.ready_rc = TR_OK;
    get("/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");

    /* Any failure is 503, with the callback's error in the body. */
    fx.ready_rc = TR_E_DB_NOTREADY;
    get("/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "{\"error\":{\"code\":\"db_notready\""));
    fx.ready_rc = TR_E_CONF;
    get("/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"code\":\"conf\""));
    assert_non_null(header(&r, "X-Request-Id"));
    finish();
}

static void
metrics_count_requests_and_run_collectors(void **state)
{
    const char *want[] = {
        "http_requests_total{route=\"healthz\",method=\"GET\","
        "status=\"200\"} 3\n",
        "http_requests_total{route=\"unmatched\",method=\"GET\","
        "status=\"404\"} 2\n",
        "http_requests_total{route=\"item_get\",method=\"DELETE\","
        "status=\"405\"} 1\n",
        "http_request_duration_seconds_count{route=\"healthz\"} 3\n",
        "http_request_duration_seconds_bucket{route=\"healthz\","
        "le=\"+Inf\"} 3\n",
    };
    struct resp r;
    bool all = false;

    start(5, 5);
    for (int i = 0; i < 3; i++)
        get("/healthz", &r);
    get("/a", &r);
    get("/b", &r);
    request("DELETE", "/items/3", NULL, 0, NULL, &r);

    /* Counts land when each exchange completes, just after the answer. */
    for (int tries = 0; tries < 100 && !all; tries++) {
        get("/metrics", &r);
        all = true;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            all = all && strstr(r.body, want[i]) != NULL;
        if (!all)
            usleep(20000);
    }
    assert_true(all);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE http_requests_total counter\n"));
    assert_non_null(strstr(r.body,
        "# TYPE http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(r.body,
        "triage_queue_jobs{kind=\"triage\",state=\"queued\"} 5\n"));
    assert_non_null(strstr(r.body, "triage_queue_parked 2\n"));
    finish();
}

static void
connection_limit_holds_extra_clients_back(void **state)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    char out[1024];
    struct resp r;
    int idle[2];

    /* Two threads, two connections: each pool thread takes one. */
    start_with(5, 5, 2, 2);
    for (int i = 0; i < 2; i++) {
        idle[i] = connect_port(fx.port);
        assert_true(idle[i] >= 0);
    }
    usleep(200000);

    /* A third client is not served while both slots are taken. */
    raw_exchange(req, sizeof(req) - 1, out, sizeof(out), 1000);
    assert_null(strstr(out, "200 OK"));

    /* Freed slots serve new clients again. */
    close(idle[0]);
    close(idle[1]);
    usleep(200000);
    get("/healthz", &r);
    assert_int_equal(r.status, 200);
    finish();
}

/* ---- lifecycle -------------------------------------------------------- */

struct client {
    pthread_t thread;
    struct resp r;
    CURLcode cc;
};

static void *
client_run(void *arg)
{
    struct client *c = arg;

    c->cc = request("GET", "/slow", NULL, 0, NULL, &c->r);
    return NULL;
}

static void
wait_entered(void)
{
    for (int i = 0; i < 500 && !atomic_load(&fx.entered); i++)
        usleep(10000);
    assert_true(atomic_load(&fx.entered));
}

static void
graceful_stop_finishes_in_flight_and_refuses_new(void **state)
{
    struct tr_error err = {0};
    struct client c;
    double t0;
    int port, fd;

    start(5, 5);
    fx.slow_ms = 1500;
    port = fx.port;
    assert_int_equal(pthread_create(&c.thread, NULL, client_run, &c), 0);
    wait_entered();

    /* Stop from another thread; it returns once the handler is done. */
    t0 = now_s();
    assert_int_equal(tr_http_server_stop(fx.srv, &err), TR_OK);
    assert_true(now_s() - t0 > 0.5);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.cc, CURLE_OK);
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body, "slow done");
    assert_string_equal(header(&c.r, "Connection"), "close");

    /* The port is closed for good; a second stop is a no-op. */
    fd = connect_port(port);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(tr_http_server_stop(fx.srv, &err), TR_OK);
    finish();
}

struct stopper {
    pthread_t thread;
    enum tr_err rc;
    double took;
};

static void *
stopper_run(void *arg)
{
    struct stopper *st = arg;
    struct tr_error err = {0};
    double t0 = now_s();

    st->rc = tr_http_server_stop(fx.srv, &err);
    st->took = now_s() - t0;
    return NULL;
}

static void
new_connections_are_refused_while_stopping(void **state)
{
    struct client c;
    struct stopper st;
    int fd;

    start(5, 5);
    fx.slow_ms = 1500;
    assert_int_equal(pthread_create(&c.thread, NULL, client_run, &c), 0);
    wait_entered();
    assert_int_equal(pthread_create(&st.thread, NULL, stopper_run, &st), 0);
    usleep(300000);

    /* The slow request still runs, yet the door is already shut. */
    fd = connect_port(fx.port);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ECONNREFUSED);
    pthread_join(c.thread, NULL);
    pthread_join(st.thread, NULL);
    assert_int_equal(c.r.status, 200);
    assert_int_equal(st.rc, TR_OK);
    finish();
}

static void
stop_cuts_off_after_grace(void **state)
{
    struct tr_error err = {0};
    struct client c;
    double t0, took;

    start(5, 1);
    fx.slow_ms = 3000;
    assert_int_equal(pthread_create(&c.thread, NULL, client_run, &c), 0);
    wait_entered();
    t0 = now_s();
    assert_int_equal(tr_http_server_stop(fx.srv, &err), TR_E_TIMEOUT);
    took = now_s() - t0;
    assert_non_null(strstr(err.msg, "still running after 1 seconds"));

    /* Joining the pool waits for the handler, not the full grace twice. */
    assert_true(took >= 0.9 && took < 6.0);
    pthread_join(c.thread, NULL);
    finish();
}

static void
start_fails_clearly_on_address_in_use(void **state)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof(a);
    struct tr_http_opts o = {0};
    struct tr_error err = {0};
    struct tr_http_server *s;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *) &a, &alen);

    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:%d", ntohs(a.sin_port));
    o.threads = 2;
    o.timeout = 5;
    o.body_limit = 1024;
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_OK);
    assert_int_equal(tr_http_server_start(s, &err), TR_E_HTTP_START);
    assert_non_null(strstr(err.msg, "could not listen on \"127.0.0.1:"));
    assert_non_null(strstr(err.msg, "Address already in use"));
    assert_string_equal(err.foreign, "EADDRINUSE");
    assert_int_equal(tr_http_server_port(s), 0);
    tr_http_server_free(s);
    close(fd);

    snprintf(o.listen, sizeof(o.listen), "no-such-host.invalid:0");
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_OK);
    assert_int_equal(tr_http_server_start(s, &err), TR_E_HTTP_START);
    assert_non_null(strstr(err.msg, "could not resolve listen host "
                                    "\"no-such-host.invalid\""));
    tr_http_server_free(s);

    snprintf(o.listen, sizeof(o.listen), "8080");
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "not of the form HOST:PORT"));
}

static void
route_add_rejects_bad_routes(void **state)
{
    static const char *const bad[] = {
        "items", "/a//b", "/a/", "/a/{b", "/a/{}", "/a/{b-c}", "/a b", NULL
    };
    struct tr_http_opts o = {0};
    struct tr_error err = {0};
    struct tr_http_server *s;

    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:0");
    o.threads = 1;
    o.timeout = 5;
    o.body_limit = 1024;
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_OK);
    for (size_t i = 0; bad[i] != NULL; i++)
        assert_int_equal(tr_http_route_add(s, "GET", bad[i], "n", h_echo,
                                           NULL, &err), TR_E_INVAL);
    assert_int_equal(tr_http_route_add(s, "get", "/x", "n", h_echo, NULL,
                                       &err), TR_E_INVAL);
    assert_int_equal(tr_http_route_add(s, "GET", "/x/{a}", "n", h_echo, NULL,
                                       &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/x/{b}", "n", h_echo, NULL,
                                       &err), TR_E_EXISTS);
    assert_non_null(strstr(err.msg, "clashes with \"/x/{a}\""));
    assert_int_equal(tr_http_route_add(s, "POST", "/x/{b}", "n", h_echo,
                                       NULL, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/", "root", h_echo, NULL,
                                       &err), TR_OK);

    /* A second server on the same registry would double the families. */
    o.metrics = tr_http_server_metrics(s);
    assert_int_equal(tr_http_server_new(&o, &s, &err), TR_E_EXISTS);
    o.metrics = NULL;

    assert_int_equal(tr_http_server_start(s, &err), TR_OK);
    assert_int_equal(tr_http_route_add(s, "GET", "/late", "n", h_echo, NULL,
                                       &err), TR_E_INVAL);
    assert_int_equal(tr_http_server_start(s, &err), TR_E_INVAL);
    tr_http_server_free(s);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(routes_match_params_and_prefer_literals),
    cmocka_unit_test(unknown_path_is_404_json_error),
    cmocka_unit_test(wrong_method_is_405_with_allow),
    cmocka_unit_test(query_and_headers_are_readable),
    cmocka_unit_test(request_id_is_generated_or_echoed),
    cmocka_unit_test(handler_log_lines_carry_request_id),
    cmocka_unit_test(handler_errors_become_json_with_table_status),
    cmocka_unit_test(body_is_kept_byte_for_byte),
    cmocka_unit_test(oversized_body_with_length_is_413),
    cmocka_unit_test(oversized_chunked_body_is_413),
    cmocka_unit_test(slow_client_is_disconnected_after_timeout),
    cmocka_unit_test(connection_limit_holds_extra_clients_back),
    cmocka_unit_test(healthz_and_readyz_answer),
    cmocka_unit_test(metrics_count_requests_and_run_collectors),
    cmocka_unit_test(graceful_stop_finishes_in_flight_and_refuses_new),
    cmocka_unit_test(new_connections_are_refused_while_stopping),
    cmocka_unit_test(stop_cuts_off_after_grace),
    cmocka_unit_test(start_fails_clearly_on_address_in_use),
    cmocka_unit_test(route_add_rejects_bad_routes),
};

TR_TEST_MAIN(cases)
