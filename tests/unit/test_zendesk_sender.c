/*
 * test_zendesk_sender.c
 *      The fake webhook sender against a receiver that uses the real
 *      verification: good deliveries verify and dedupe, every wrong
 *      signature style is refused, failed deliveries are retried.
 *
 * The receiver is a libmicrohttpd server on 127.0.0.1 (ephemeral port)
 * inside this test; it answers 503 to the first `fail_first` requests,
 * then 200 when tr_zendesk_webhook_verify() and _parse() accept the
 * delivery, else 401.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <microhttpd.h>

#include "zendesk.h"

#define SECRET "example-signing-secret"

struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    int fail_first;
    int n_requests;
    int n_accepted;
    char last_key[128];
    char last_err[512];
};

struct upload {
    char data[4096];
    size_t len;
};

/* Verify one delivery as the webhook route will. */
static int
judge(struct receiver *rc, struct MHD_Connection *conn, struct upload *up)
{
    struct tr_zendesk_event ev;
    struct tr_error err = {0};
    struct tr_arena *a;
    const char *sig, *ts;
    int status = 401;

    sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                      TR_ZENDESK_SIG_HEADER);
    ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     TR_ZENDESK_SIG_TS_HEADER);
    a = tr_arena_new(0);
    if (tr_zendesk_webhook_verify(SECRET, sig, ts, up->data, up->len,
                                  time(NULL), 0, &err) == TR_OK &&
        tr_zendesk_webhook_parse(a, up->data, up->len, ts, &ev, &err) ==
            TR_OK) {
        status = 200;
        rc->n_accepted++;
        snprintf(rc->last_key, sizeof(rc->last_key), "%s", ev.dedup_key);
    }
    snprintf(rc->last_err, sizeof(rc->last_err), "%s", err.msg);
    tr_arena_free(a);
    return status;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *data,
           size_t *data_size, void **con_cls)
{
    struct receiver *rc = cls;
    struct upload *up = *con_cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    int status;

    if (up == NULL) {
        *con_cls = calloc(1, sizeof(*up));
        return MHD_YES;
    }
    if (*data_size > 0) {
        size_t room = sizeof(up->data) - 1 - up->len;

        if (room > *data_size)
            room = *data_size;
        memcpy(up->data + up->len, data, room);
        up->len += room;
        *data_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&rc->lock);
    rc->n_requests++;
    status = rc->n_requests <= rc->fail_first ? 503 : judge(rc, conn, up);
    pthread_mutex_unlock(&rc->lock);

    r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, (unsigned) status, r);
    MHD_destroy_response(r);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

static void
receiver_start(struct receiver *rc, int fail_first)
{
    struct sockaddr_in sa;

    memset(rc, 0, sizeof(*rc));
    pthread_mutex_init(&rc->lock, NULL);
    rc->fail_first = fail_first;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                             on_request, rc, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_END);
    assert_non_null(rc->d);
    rc->port = MHD_get_daemon_info(rc->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void
receiver_stop(struct receiver *rc)
{
    MHD_stop_daemon(rc->d);
    pthread_mutex_destroy(&rc->lock);
}

/* Run the sender; returns its exit code and its output in `out`. */
static int
run_sender(const struct receiver *rc, const char *mode, const char *extra,
           char *out, size_t out_len)
{
    char cmd[1024];
    FILE *p;
    size_t n;
    int status;

    snprintf(cmd, sizeof(cmd),
             "%s --url http://127.0.0.1:%d/webhooks/zendesk --secret %s "
             "--body '{\"ticket_id\":\"4711\",\"event\":\"ticket_updated\"}' "
             "--mode %s --retry-delay-ms 10 %s",
             FAKE_ZENDESK_SEND, rc->port, SECRET, mode, extra);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, out_len - 1, p);
    out[n] = '\0';
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
sender_signs_deliveries_that_verify(void **state)
{
    struct receiver rc;
    char out[1024];

    receiver_start(&rc, 0);
    assert_int_equal(run_sender(&rc, "good", "--times 2", out, sizeof(out)),
                     0);
    assert_int_equal(rc.n_accepted, 2);
    assert_non_null(strstr(out, "delivery=2 attempt=1 status=200"));

    /* A duplicate delivery carries the same dedup key. */
    assert_int_equal(strncmp(rc.last_key, "zen:trg:4711:", 13), 0);
    receiver_stop(&rc);
}

static void
sender_wrong_signatures_are_refused(void **state)
{
    static const char *const modes[] = {"badsig", "nosig", "nots",
                                        "stale", "future", "tampered",
                                        "b64secret", "hex"};
    struct receiver rc;
    char out[1024];

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        receiver_start(&rc, 0);
        assert_int_equal(run_sender(&rc, modes[i], "--retries 0", out,
                                    sizeof(out)),
                         1);
        assert_int_equal(rc.n_requests, 1);
        assert_int_equal(rc.n_accepted, 0);
        assert_non_null(strstr(out, "status=401"));
        assert_true(rc.last_err[0] != '\0');
        receiver_stop(&rc);
    }
}

static void
sender_retries_failed_deliveries(void **state)
{
    struct receiver rc;
    char out[1024];

    receiver_start(&rc, 2);
    assert_int_equal(run_sender(&rc, "good", "", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "attempt=1 status=503"));
    assert_non_null(strstr(out, "attempt=3 status=200"));
    assert_int_equal(rc.n_requests, 3);
    assert_int_equal(rc.n_accepted, 1);
    receiver_stop(&rc);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(sender_signs_deliveries_that_verify),
    cmocka_unit_test(sender_wrong_signatures_are_refused),
    cmocka_unit_test(sender_retries_failed_deliveries),
};

TR_TEST_MAIN(cases)
