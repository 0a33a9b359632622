/*
 * test_httpc_client.c
 *      The HTTP client and its retry loop against a scripted server on
 *      127.0.0.1 (libmicrohttpd, ephemeral port, one thread per
 *      connection so that a slow answer blocks nothing else).
 *
 * The server plays a list of answers in order and repeats the last one;
 * it records how many requests and connections it saw and the last
 * request's method, body and content type.  Waits go through an injected
 * sleep that only records, so no test sleeps for real except the one
 * about timeouts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "httpc.h"

struct script_step {
    int status;
    const char *hname;     /* one extra header, or NULL */
    const char *hvalue;
    const char *body;      /* NULL: big_body */
    int delay_ms;
};

struct server {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    const struct script_step *steps;
    int n_steps;
    int n_requests;
    int n_connections;
    char method[16];
    char ctype[64];
    char body[256];
};

struct upload {
    char data[256];
    size_t len;
};

static char big_body[100000];

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
              enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;

    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    pthread_mutex_lock(&s->lock);
    s->n_connections++;
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result
reply(struct server *s, struct MHD_Connection *conn, struct upload *up,
      const char *method)
{
    const struct script_step *st;
    struct MHD_Response *r;
    const char *ct, *body;
    enum MHD_Result ret;
    int i;

    pthread_mutex_lock(&s->lock);
    i = s->n_requests < s->n_steps ? s->n_requests : s->n_steps - 1;
    s->n_requests++;
    st = &s->steps[i];
    snprintf(s->method, sizeof(s->method), "%s", method);
    snprintf(s->body, sizeof(s->body), "%.*s", (int) up->len, up->data);
    ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     "Content-Type");
    snprintf(s->ctype, sizeof(s->ctype), "%s", ct != NULL ? ct : "");
    pthread_mutex_unlock(&s->lock);

    if (st->delay_ms > 0)
        usleep((useconds_t) st->delay_ms * 1000);
    body = st->body != NULL ? st->body : big_body;
    r = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                        MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (st->hname != NULL)
        MHD_add_response_header(r, st->hname, st->hvalue);
    ret = MHD_queue_response(conn, (unsigned) st->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    struct upload *up = *con_cls;
    size_t room;

    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        room = sizeof(up->data) - up->len;
        if (room > *upload_data_size)
            room = *upload_data_size;
        memcpy(up->data + up->len, upload_data, room);
        up->len += room;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return reply(cls, conn, up, method);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

static void
server_start(struct server *s, const struct script_step *steps, int n)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->steps = steps;
    s->n_steps = n;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
        0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    assert_non_null(s->d);
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
}

static void
server_stop(struct server *s)
{
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
}

/* Injected sleep: remembers each wait instead of sleeping. */
struct sleeps {
    double waits[32];
    int n;
};

static void
record_sleep(void *arg, double seconds)
{
    struct sleeps *sl = arg;

    if (sl->n < 32)
        sl->waits[sl->n] = seconds;
    sl->n++;
}

static double
zero_rand(void *arg)
{
    return 0;
}

static void
test_policy(struct tr_httpc_policy *p, enum tr_httpc_preset which,
            struct sleeps *sl)
{
    tr_httpc_policy_preset(p, which);
    memset(sl, 0, sizeof(*sl));
    p->sleep = record_sleep;
    p->sleep_arg = sl;
    p->rand = zero_rand;
}

static void
make_req(struct tr_httpc_req *req, char *url, size_t url_len, int port,
         const char *path)
{
    memset(req, 0, sizeof(*req));
    snprintf(url, url_len, "http://127.0.0.1:%d%s", port, path);
    req->method = "GET";
    req->url = url;
}

static void
retries_500_and_429_then_succeeds(void **state)
{
    static const struct script_step steps[] = {
        {500, NULL, NULL, "{\"error\":\"boom\"}", 0},
        {429, "Retry-After", "3", "slow down", 0},
        {200, NULL, NULL, "{\"ok\":true}", 0},
    };
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 3);
    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    c = tr_httpc_new(NULL, &err);
    assert_non_null(c);
    make_req(&req, url, sizeof(url), s.port, "/x");
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body.data, "{\"ok\":true}");
    assert_int_equal(resp.n_attempts, 3);
    assert_int_equal(s.n_requests, 3);

    /* Backoff 0.5 s after the 500, then the server's 3 s. */
    assert_int_equal(sl.n, 2);
    assert_true(fabs(sl.waits[0] - 0.5) < 1e-9);
    assert_true(fabs(sl.waits[1] - 3.0) < 1e-9);
    assert_true(fabs(resp.slept_s - 3.5) < 1e-9);

    /* Every attempt went over the same kept-alive connection. */
    assert_int_equal(s.n_connections, 1);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static void
retry_after_ms_and_date_are_honoured(void **state)
{
    static const struct script_step steps[] = {
        {503, "retry-after-ms", "1250", "", 0},
        {429, "Retry-After", "Wed, 17 Apr 2024 17:18:40 GMT", "", 0},
        {200, NULL, NULL, "done", 0},
    };
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 3);
    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    p.clock = NULL;
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/y");
    tr_httpc_resp_init(&resp);

    /* The date is long past by the real clock, so the wait is zero and
     * the policy falls back to backoff for that retry (retry 0 of 429). */
    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(sl.n, 2);
    assert_true(fabs(sl.waits[0] - 1.25) < 1e-9);
    assert_true(fabs(sl.waits[1] - 0.5) < 1e-9);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static void
x_should_retry_false_stops_retries(void **state)
{
    static const struct script_step steps[] = {
        {503, "x-should-retry", "false", "{\"error\":\"no\"}", 0},
        {200, NULL, NULL, "never", 0},
    };
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 2);
    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/z");
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.status, 503);
    assert_int_equal(resp.should_retry, 0);
    assert_int_equal(resp.n_attempts, 1);
    assert_int_equal(sl.n, 0);
    assert_int_equal(tr_httpc_status_err(resp.status), TR_E_HTTP_UPSTREAM);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static void
retry_after_over_cap_gives_up_or_clamps(void **state)
{
    static const struct script_step steps[] = {
        {429, "Retry-After", "500", "Number of allowed API requests", 0},
        {429, "Retry-After", "500", "Number of allowed API requests", 0},
        {200, NULL, NULL, "ok", 0},
    };
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 3);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/cap");
    tr_httpc_resp_init(&resp);

    /* OpenAI-like: a wait over the cap ends the retries at once. */
    test_policy(&p, TR_HTTPC_PRESET_OPENAI, &sl);
    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.status, 429);
    assert_int_equal(resp.n_attempts, 1);
    assert_int_equal(sl.n, 0);
    assert_string_equal(resp.retry_after, "500");

    /* Zendesk: wait the cap (300 s), then retry and succeed. */
    test_policy(&p, TR_HTTPC_PRESET_ZENDESK, &sl);
    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.n_attempts, 2);
    assert_int_equal(sl.n, 1);
    assert_true(fabs(sl.waits[0] - 300) < 1e-9);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static void
body_over_cap_is_toobig_and_not_retried(void **state)
{
    static const struct script_step steps[] = {{200, NULL, NULL, NULL, 0}};
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    memset(big_body, 'a', sizeof(big_body) - 1);
    server_start(&s, steps, 1);
    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/big");
    req.max_response = 1000;
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_E_TOOBIG);
    assert_int_equal(err.code, TR_E_TOOBIG);
    assert_non_null(strstr(err.msg, "larger than 1000 bytes"));
    assert_int_equal(resp.n_attempts, 1);

    /* The same body fits under a larger cap. */
    req.max_response = sizeof(big_body);
    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_OK);
    assert_int_equal(resp.body.len, sizeof(big_body) - 1);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static void
slow_answer_times_out_and_is_retried(void **state)
{
    static const struct script_step steps[] = {
        {200, NULL, NULL, "late", 800}};
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 1);
    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    p.max_retries = 1;
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/slow");
    req.timeout_ms = 200;
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_E_TIMEOUT);
    assert_int_equal(err.code, TR_E_TIMEOUT);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_int_equal(resp.n_attempts, 2);
    assert_int_equal(sl.n, 1);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

/* A loopback port that nobody listens on. */
static int
closed_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void
connection_refused_is_upstream_error(void **state)
{
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];

    test_policy(&p, TR_HTTPC_PRESET_DEFAULT, &sl);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), closed_port(), "/nobody?secret=1");
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, NULL, NULL, &req, &resp, &err),
                     TR_E_HTTP_UPSTREAM);
    assert_int_equal(resp.status, 0);
    assert_int_equal(resp.n_attempts, 3);
    assert_int_equal(sl.n, 2);
    assert_non_null(strstr(err.msg, "could not connect to"));
    assert_null(strstr(err.msg, "secret"));
    assert_string_equal(err.foreign, "CURLE 7");

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
}

static void
put_sends_body_headers_and_method(void **state)
{
    static const struct script_step steps[] = {{201, NULL, NULL, "{}", 0}};
    static const char *const hdrs[] = {"Content-Type: application/json",
                                       "Accept: application/json"};
    struct server s;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct tr_httpc *c;
    char url[128];

    server_start(&s, steps, 1);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/put");
    req.method = "PUT";
    req.headers = hdrs;
    req.n_headers = 2;
    req.body = "{\"a\":1}";
    req.body_len = 7;
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_send(c, &req, &resp, &err), TR_OK);
    assert_int_equal(resp.status, 201);
    assert_string_equal(resp.content_type, "application/json");
    assert_string_equal(s.method, "PUT");
    assert_string_equal(s.body, "{\"a\":1}");
    assert_string_equal(s.ctype, "application/json");

    /* A request without a URL is refused before anything is sent. */
    req.url = NULL;
    assert_int_equal(tr_httpc_send(c, &req, &resp, &err), TR_E_INVAL);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static double budget_wait = 2.5;

static double
budget_once(void *arg)
{
    int *calls = arg;

    (*calls)++;
    return *calls == 1 ? budget_wait : 0;
}

static void
budget_hook_delays_attempts(void **state)
{
    static const struct script_step steps[] = {{200, NULL, NULL, "ok", 0}};
    struct server s;
    struct tr_httpc_policy p;
    struct tr_httpc_req req;
    struct tr_httpc_resp resp;
    struct tr_error err = {0};
    struct sleeps sl;
    struct tr_httpc *c;
    char url[128];
    int calls = 0;

    server_start(&s, steps, 1);
    test_policy(&p, TR_HTTPC_PRESET_ZENDESK, &sl);
    c = tr_httpc_new(NULL, &err);
    make_req(&req, url, sizeof(url), s.port, "/b");
    tr_httpc_resp_init(&resp);

    assert_int_equal(tr_httpc_request(c, &p, budget_once, &calls, &req,
                                      &resp, &err), TR_OK);
    assert_int_equal(calls, 2);
    assert_int_equal(sl.n, 1);
    assert_true(fabs(sl.waits[0] - budget_wait) < 1e-9);

    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(c);
    server_stop(&s);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(retries_500_and_429_then_succeeds),
    cmocka_unit_test(retry_after_ms_and_date_are_honoured),
    cmocka_unit_test(x_should_retry_false_stops_retries),
    cmocka_unit_test(retry_after_over_cap_gives_up_or_clamps),
    cmocka_unit_test(body_over_cap_is_toobig_and_not_retried),
    cmocka_unit_test(slow_answer_times_out_and_is_retried),
    cmocka_unit_test(connection_refused_is_upstream_error),
    cmocka_unit_test(put_sends_body_headers_and_method),
    cmocka_unit_test(budget_hook_delays_attempts),
};

TR_TEST_MAIN(cases)
