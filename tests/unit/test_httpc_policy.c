/*
 * test_httpc_policy.c
 *      The retry policy without a server: which answers are retried, how
 *      long the waits are, the token bucket and the URL helper.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <math.h>
#include <stdlib.h>

#include "httpc.h"

/* A fixed clock: 2024-04-17T17:18:10Z. */
static double fixed_now = 1713374290.0;

static double
fake_clock(void *arg)
{
    return *(double *) arg;
}

static double
fake_rand(void *arg)
{
    return *(double *) arg;
}

static void
answer(struct tr_httpc_resp *r, int status, const char *ra,
       const char *ra_ms, int should)
{
    tr_httpc_resp_init(r);
    r->status = status;
    snprintf(r->retry_after, sizeof(r->retry_after), "%s", ra);
    snprintf(r->retry_after_ms, sizeof(r->retry_after_ms), "%s", ra_ms);
    r->should_retry = should;
}

static void
policy_retries_transport_errors_and_listed_statuses(void **state)
{
    static const int yes[] = {408, 409, 429, 500, 502, 503, 529};
    static const int no[] = {200, 201, 400, 401, 403, 404, 413, 422};
    struct tr_httpc_resp r;

    assert_true(tr_httpc_policy_retryable(TR_E_TIMEOUT, NULL));
    assert_true(tr_httpc_policy_retryable(TR_E_HTTP_UPSTREAM, NULL));
    assert_false(tr_httpc_policy_retryable(TR_E_TOOBIG, NULL));
    assert_false(tr_httpc_policy_retryable(TR_E_INVAL, NULL));

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        answer(&r, yes[i], "", "", -1);
        assert_true(tr_httpc_policy_retryable(TR_OK, &r));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        answer(&r, no[i], "", "", -1);
        assert_false(tr_httpc_policy_retryable(TR_OK, &r));
    }
}

static void
policy_obeys_x_should_retry(void **state)
{
    struct tr_httpc_resp r;

    answer(&r, 500, "", "", 0);
    assert_false(tr_httpc_policy_retryable(TR_OK, &r));
    answer(&r, 400, "", "", 1);
    assert_true(tr_httpc_policy_retryable(TR_OK, &r));
}

static void
retry_after_forms_are_parsed(void **state)
{
    double now = fixed_now;

    assert_true(fabs(tr_httpc_parse_retry_after("1500", "9", now) - 1.5)
                < 1e-9);
    assert_true(fabs(tr_httpc_parse_retry_after("", "2.25", now) - 2.25)
                < 1e-9);
    assert_true(fabs(tr_httpc_parse_retry_after("junk", "93", now) - 93)
                < 1e-9);
    /* 17:18:10 + 20 s as an IMF-fixdate. */
    assert_true(fabs(tr_httpc_parse_retry_after(
                         NULL, "Wed, 17 Apr 2024 17:18:30 GMT", now) -
                     20) < 1e-9);
    /* A date in the past means no wait at all. */
    assert_true(tr_httpc_parse_retry_after(
                    NULL, "Wed, 17 Apr 2024 17:00:00 GMT", now) == 0);
    assert_true(tr_httpc_parse_retry_after(NULL, "soon", now) < 0);
    assert_true(tr_httpc_parse_retry_after(NULL, "-3", now) < 0);
    assert_true(tr_httpc_parse_retry_after(NULL, "", now) < 0);
    assert_true(tr_httpc_parse_retry_after(NULL, "12abc", now) < 0);
}

static void
delay_honours_server_wait_within_cap(void **state)
{
    struct tr_httpc_policy p;
    struct tr_httpc_resp r;
    double now = fixed_now, zero = 0;

    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_ANTHROPIC);
    p.clock = fake_clock;
    p.clock_arg = &now;
    p.rand = fake_rand;
    p.rand_arg = &zero;

    answer(&r, 429, "7", "", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 7) < 1e-9);
    answer(&r, 429, "60", "", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 60) < 1e-9);
    answer(&r, 503, "", "250", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 0.25) < 1e-9);

    /* Zero is not a usable wait: backoff applies (0.5 s at retry 0). */
    answer(&r, 503, "0", "", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 0.5) < 1e-9);
}

static void
delay_over_cap_follows_the_preset(void **state)
{
    struct tr_httpc_policy p;
    struct tr_httpc_resp r;
    double now = fixed_now, zero = 0;

    answer(&r, 429, "61", "", -1);

    /* Anthropic: ignore the long wait and back off instead. */
    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_ANTHROPIC);
    p.rand = fake_rand;
    p.rand_arg = &zero;
    p.clock = fake_clock;
    p.clock_arg = &now;
    assert_true(fabs(tr_httpc_policy_delay(&p, 1, &r) - 1.0) < 1e-9);

    /* OpenAI: 61 s is within its 120 s cap; 121 s is not: give up. */
    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_OPENAI);
    p.clock = fake_clock;
    p.clock_arg = &now;
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 61) < 1e-9);
    answer(&r, 429, "121", "", -1);
    assert_true(tr_httpc_policy_delay(&p, 0, &r) < 0);

    /* Zendesk: 93 s is honoured, 400 s is clamped to its 300 s cap. */
    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_ZENDESK);
    p.clock = fake_clock;
    p.clock_arg = &now;
    answer(&r, 429, "93", "", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 93) < 1e-9);
    answer(&r, 429, "400", "", -1);
    assert_true(fabs(tr_httpc_policy_delay(&p, 0, &r) - 300) < 1e-9);
}

static void
backoff_doubles_to_eight_seconds_with_jitter(void **state)
{
    static const double want[] = {0.5, 1, 2, 4, 8, 8, 8};
    struct tr_httpc_policy p;
    double r0 = 0, r1 = 0.999999, d;

    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_DEFAULT);
    p.rand = fake_rand;
    for (int i = 0; i < 7; i++) {
        p.rand_arg = &r0;
        d = tr_httpc_policy_delay(&p, i, NULL);
        assert_true(fabs(d - want[i]) < 1e-9);

        /* The jitter factor stays in (0.75, 1]. */
        p.rand_arg = &r1;
        d = tr_httpc_policy_delay(&p, i, NULL);
        assert_true(d > want[i] * 0.75 && d < want[i]);
    }

    /* The real generator also stays inside the bounds. */
    p.rand = NULL;
    tr_httpc_policy_preset(&p, TR_HTTPC_PRESET_DEFAULT);
    for (int i = 0; i < 1000; i++) {
        d = tr_httpc_policy_delay(&p, 2, NULL);
        assert_true(d > 1.5 && d <= 2.0);
    }
}

static void
bucket_limits_rate_and_refills(void **state)
{
    struct tr_httpc_bucket b;
    double now = 1000.0, w;

    /* 60 a minute, burst 2: two go at once, the third waits 1 s. */
    tr_httpc_bucket_init(&b, 60, 2, fake_clock, &now);
    assert_true(tr_httpc_bucket_take(&b) == 0);
    assert_true(tr_httpc_bucket_take(&b) == 0);
    w = tr_httpc_bucket_take(&b);
    assert_true(fabs(w - 1.0) < 1e-9);

    now += 0.5;
    w = tr_httpc_bucket_take(&b);
    assert_true(fabs(w - 0.5) < 1e-9);
    now += 0.5;
    assert_true(tr_httpc_bucket_take(&b) == 0);

    /* A long pause refills only up to the burst. */
    now += 3600;
    assert_true(tr_httpc_bucket_take(&b) == 0);
    assert_true(tr_httpc_bucket_take(&b) == 0);
    assert_true(tr_httpc_bucket_take(&b) > 0);
    tr_httpc_bucket_cleanup(&b);
}

static void
status_map_and_query_escape(void **state)
{
    struct tr_buf b;

    assert_int_equal(tr_httpc_status_err(200), TR_OK);
    assert_int_equal(tr_httpc_status_err(401), TR_E_AUTH);
    assert_int_equal(tr_httpc_status_err(403), TR_E_PERM);
    assert_int_equal(tr_httpc_status_err(404), TR_E_NOTFOUND);
    assert_int_equal(tr_httpc_status_err(409), TR_E_CONFLICT);
    assert_int_equal(tr_httpc_status_err(422), TR_E_INVAL);
    assert_int_equal(tr_httpc_status_err(429), TR_E_AGAIN);
    assert_int_equal(tr_httpc_status_err(503), TR_E_HTTP_UPSTREAM);

    tr_buf_init(&b, 100);
    assert_int_equal(tr_httpc_query_escape(&b, "MTc=+/a b~"), TR_OK);
    assert_string_equal(b.data, "MTc%3D%2B%2Fa%20b~");
    tr_buf_cleanup(&b);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(policy_retries_transport_errors_and_listed_statuses),
    cmocka_unit_test(policy_obeys_x_should_retry),
    cmocka_unit_test(retry_after_forms_are_parsed),
    cmocka_unit_test(delay_honours_server_wait_within_cap),
    cmocka_unit_test(delay_over_cap_follows_the_preset),
    cmocka_unit_test(backoff_doubles_to_eight_seconds_with_jitter),
    cmocka_unit_test(bucket_limits_rate_and_refills),
    cmocka_unit_test(status_map_and_query_escape),
};

TR_TEST_MAIN(cases)
