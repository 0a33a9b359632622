/*
 * test_base_log.c
 *      Log line format, levels and per-thread request ids.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

/* Capture what the logger writes through a pipe. */
static int pipe_fd[2];

static void
capture(enum tr_log_level level, enum tr_log_format format)
{
    assert_int_equal(pipe(pipe_fd), 0);
    tr_log_init(level, format, pipe_fd[1]);
}

static char *
drain(void)
{
    static char text[16384];
    ssize_t n;

    close(pipe_fd[1]);
    n = read(pipe_fd[0], text, sizeof(text) - 1);
    close(pipe_fd[0]);
    text[n > 0 ? n : 0] = '\0';
    tr_log_init(TR_LOG_INFO, TR_LOG_FORMAT_JSON, 2);
    return text;
}

static void
log_json_line_has_leading_keys_in_order(void **state)
{
    char *out, *ts, *lv, *md, *ev, *ms;

    capture(TR_LOG_INFO, TR_LOG_FORMAT_JSON);
    TR_LOG_INFO("db", "cluster_started",
                TR_KVS(TR_KV_STR("dir", "/x \"q\""), TR_KV_INT("pid", 7)),
                "started cluster in \"%s\"", "/x");
    out = drain();
    ts = strstr(out, "{\"ts\":\"");
    lv = strstr(out, "\"level\":\"info\"");
    md = strstr(out, "\"mod\":\"db\"");
    ev = strstr(out, "\"event\":\"cluster_started\"");
    ms = strstr(out, "\"msg\":\"started cluster in \\\"/x\\\"\"");
    assert_true(ts == out);
    assert_true(ts < lv && lv < md && md < ev && ev < ms);
    assert_non_null(strstr(out, "\"dir\":\"/x \\\"q\\\"\""));
    assert_non_null(strstr(out, "\"pid\":7}\n"));
}

static void
log_text_line_quotes_values_with_spaces(void **state)
{
    char *out;

    capture(TR_LOG_DEBUG, TR_LOG_FORMAT_TEXT);
    TR_LOG_WARN("http", "slow_client", TR_KVS(TR_KV_STR("peer", "a b"),
                                              TR_KV_BOOL("closed", 1)),
                "closing");
    out = drain();
    assert_true(strncmp(out, "ts=", 3) == 0);
    assert_non_null(strstr(out, " level=warn mod=http event=slow_client "
                                "msg=closing peer=\"a b\" closed=true\n"));
}

static int side_effects;

static int
count_call(void)
{
    return ++side_effects;
}

static void
log_level_filters_lines(void **state)
{
    char *out;

    capture(TR_LOG_WARN, TR_LOG_FORMAT_JSON);
    side_effects = 0;
    TR_LOG_DEBUG("x", "hidden", NULL, "n=%d", count_call());
    TR_LOG_INFO("x", "hidden", NULL, "n=%d", count_call());
    TR_LOG_ERROR("x", "shown", NULL, "n=%d", count_call());
    out = drain();
    /* Arguments of filtered lines are never evaluated. */
    assert_int_equal(side_effects, 1);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown"));
}

static void *
other_thread(void *arg)
{
    tr_log_set_req_id("thread-b");
    TR_LOG_INFO("t", "from_b", NULL, "b");
    return NULL;
}

static void
log_req_id_is_per_thread(void **state)
{
    pthread_t t;
    char *out, *a, *b;

    capture(TR_LOG_INFO, TR_LOG_FORMAT_JSON);
    tr_log_set_req_id("thread-a");
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    TR_LOG_INFO("t", "from_a", NULL, "a");
    tr_log_set_req_id(NULL);
    TR_LOG_INFO("t", "no_req", NULL, "c");
    out = drain();
    a = strstr(out, "\"event\":\"from_a\"");
    b = strstr(out, "\"event\":\"from_b\"");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, "\"req_id\":\"thread-a\""));
    assert_true(strstr(b, "\"req_id\":\"thread-b\"") < a);
    assert_null(strstr(strstr(out, "no_req"), "req_id"));
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(log_json_line_has_leading_keys_in_order),
    cmocka_unit_test(log_text_line_quotes_values_with_spaces),
    cmocka_unit_test(log_level_filters_lines),
    cmocka_unit_test(log_req_id_is_per_thread),
};

TR_TEST_MAIN(cases)
