/*
 * test_zendesk_webhook.c
 *      Webhook signatures (the fact sheet's test vectors and every way a
 *      delivery can be wrong) and the parsing of both payload styles.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include "zendesk.h"

#define VEC_TS "2024-04-17T17:18:10Z"
#define VEC_BODY "{\"ticket_id\":\"35436\",\"status\":\"open\"}"
#define VEC_NOW ((time_t) 1713374290)

static void
signature_vectors_from_the_sheet_verify(void **state)
{
    struct tr_error err = {0};
    char sig[64];

    assert_int_equal(strlen(VEC_BODY), 37);
    assert_int_equal(tr_zendesk_webhook_verify(
                         "example-signing-secret",
                         "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=",
                         VEC_TS, VEC_BODY, 37, VEC_NOW, 0, &err),
                     TR_OK);
    assert_int_equal(tr_zendesk_webhook_verify(
                         "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
                         "sQwWiFN+1zAFhls9KzPqWgpzV+0ptw4vuEGEjGQIYFI=",
                         VEC_TS, VEC_BODY, 37, VEC_NOW, 0, &err),
                     TR_OK);

    /* The signer produces the same text. */
    assert_int_equal(tr_zendesk_webhook_sign("example-signing-secret",
                                             VEC_TS, VEC_BODY, 37, sig,
                                             sizeof(sig)),
                     TR_OK);
    assert_string_equal(sig, "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=");
}

static void
signature_mismatches_are_rejected(void **state)
{
    static const char *const bad[] = {
        /* the other secret's signature */
        "sQwWiFN+1zAFhls9KzPqWgpzV+0ptw4vuEGEjGQIYFI=",
        /* one character changed */
        "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE1=",
        /* truncated, and with extra bytes */
        "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0",
        "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0==",
        /* hex of the digest instead of base64 */
        "accbcad7047ae875d78eb749653322",
    };
    struct tr_error err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tr_zendesk_webhook_verify(
                             "example-signing-secret", bad[i], VEC_TS,
                             VEC_BODY, 37, VEC_NOW, 0, &err),
                         TR_E_AUTH);
        assert_non_null(strstr(err.msg, "does not match"));
    }

    /* The secret wrongly base64-decoded does not verify either. */
    assert_int_equal(tr_zendesk_webhook_verify(
                         "this_secret_is_for_testing_only",
                         "sQwWiFN+1zAFhls9KzPqWgpzV+0ptw4vuEGEjGQIYFI=",
                         VEC_TS, VEC_BODY, 37, VEC_NOW, 0, &err),
                     TR_E_AUTH);
}

static void
tampered_body_is_rejected(void **state)
{
    const char *tampered = "{\"ticket_id\":\"35437\",\"status\":\"open\"}";
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_webhook_verify(
                         "example-signing-secret",
                         "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=",
                         VEC_TS, tampered, strlen(tampered), VEC_NOW, 0,
                         &err),
                     TR_E_AUTH);

    /* One byte fewer (a trailing byte dropped) also fails. */
    assert_int_equal(tr_zendesk_webhook_verify(
                         "example-signing-secret",
                         "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=",
                         VEC_TS, VEC_BODY, 36, VEC_NOW, 0, &err),
                     TR_E_AUTH);
}

static void
missing_headers_and_secret_are_reported(void **state)
{
    struct tr_error err = {0};
    const char *sig = "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=";

    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               NULL, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW, 0, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, TR_ZENDESK_SIG_HEADER));
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, "", VEC_BODY, 37,
                                               VEC_NOW, 0, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, TR_ZENDESK_SIG_TS_HEADER));
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, "yesterday", VEC_BODY,
                                               37, VEC_NOW, 0, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, "ISO 8601"));
    assert_int_equal(tr_zendesk_webhook_verify("", sig, VEC_TS, VEC_BODY,
                                               37, VEC_NOW, 0, &err),
                     TR_E_CONF);
}

static void
replayed_and_future_timestamps_are_rejected(void **state)
{
    struct tr_error err = {0};
    const char *sig = "rMvK1wRz6HXXjrdJZTMiWe2RLuDLslcoHlIG4OXCTE0=";

    /* Inside the default 300 s window on both sides. */
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW + 300, 0, &err),
                     TR_OK);
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW - 300, 0, &err),
                     TR_OK);

    /* A replay an hour later, and a delivery from the future. */
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW + 3600, 0, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, "3600 s old"));
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW - 301, 0, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, "future"));

    /* A narrower window set by the caller. */
    assert_int_equal(tr_zendesk_webhook_verify("example-signing-secret",
                                               sig, VEC_TS, VEC_BODY, 37,
                                               VEC_NOW + 61, 60, &err),
                     TR_E_AUTH);
}

static void
time_parse_accepts_iso_utc_forms(void **state)
{
    int64_t t = 0;

    assert_true(tr_zendesk_time_parse("2024-04-17T17:18:10Z", &t));
    assert_int_equal(t, 1713374290);
    assert_true(tr_zendesk_time_parse("2024-04-17T17:18:10.123Z", &t));
    assert_int_equal(t, 1713374290);
    assert_true(tr_zendesk_time_parse("2024-04-17T19:18:10+02:00", &t));
    assert_int_equal(t, 1713374290);
    assert_true(tr_zendesk_time_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_false(tr_zendesk_time_parse("2024-04-17 17:18:10Z", &t));
    assert_false(tr_zendesk_time_parse("2024-04-17T17:18:10", &t));
    assert_false(tr_zendesk_time_parse("2024-13-17T17:18:10Z", &t));
    assert_false(tr_zendesk_time_parse("2024-04-17T17:18:10Zjunk", &t));
}

static void
trigger_payloads_are_normalised(void **state)
{
    const char *b1 = VEC_BODY;
    const char *b2 = "{\"ticket\":{\"id\":4711,"
                     "\"updated_at\":\"2024-05-02T10:01:12Z\"},"
                     "\"event\":\"ticket_updated\"}";
    struct tr_arena *a = tr_arena_new(0);
    struct tr_zendesk_event ev, ev2;
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_webhook_parse(a, b1, strlen(b1), VEC_TS,
                                              &ev, &err),
                     TR_OK);
    assert_int_equal(ev.ticket_id, 35436);
    assert_false(ev.subscription);
    assert_string_equal(ev.type, "ticket.trigger");
    assert_int_equal(ev.occurred_at, 1713374290);
    assert_int_equal(strncmp(ev.dedup_key, "zen:trg:35436:", 14), 0);
    assert_int_equal(strlen(ev.dedup_key), 14 + 32);

    /* The same bytes give the same key; other bytes another key. */
    assert_int_equal(tr_zendesk_webhook_parse(a, b1, strlen(b1), NULL,
                                              &ev2, &err),
                     TR_OK);
    assert_string_equal(ev.dedup_key, ev2.dedup_key);

    assert_int_equal(tr_zendesk_webhook_parse(a, b2, strlen(b2), VEC_TS,
                                              &ev2, &err),
                     TR_OK);
    assert_int_equal(ev2.ticket_id, 4711);
    assert_string_equal(ev2.type, "ticket_updated");
    assert_int_equal(ev2.occurred_at, 1714644072);
    assert_string_not_equal(ev.dedup_key, ev2.dedup_key);
    tr_arena_free(a);
}

static void
subscription_payloads_are_normalised(void **state)
{
    const char *b =
        "{\"type\":\"zen:event-type:ticket.created\",\"account_id\":1234567,"
        "\"id\":\"0f5c1a2e-6f1d-4c7e-9a51-3e2d8f0b7c11\","
        "\"time\":\"2024-05-02T09:14:01Z\","
        "\"zendesk_event_version\":\"2022-11-06\","
        "\"subject\":\"zen:ticket:4711\","
        "\"detail\":{\"id\":\"4711\",\"status\":\"NEW\"},"
        "\"event\":{\"meta\":{\"sequence\":{\"id\":\"b1e3\"}}}}";
    const char *no_detail =
        "{\"type\":\"zen:event-type:ticket.status_changed\",\"id\":\"e2\","
        "\"subject\":\"zen:ticket:99\"}";
    struct tr_arena *a = tr_arena_new(0);
    struct tr_zendesk_event ev;
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_webhook_parse(a, b, strlen(b), VEC_TS, &ev,
                                              &err),
                     TR_OK);
    assert_true(ev.subscription);
    assert_int_equal(ev.ticket_id, 4711);
    assert_string_equal(ev.type, "ticket.created");
    assert_string_equal(ev.dedup_key,
                        "zen:evt:0f5c1a2e-6f1d-4c7e-9a51-3e2d8f0b7c11");
    assert_int_equal(ev.occurred_at, 1714641241);

    /* Without detail the subject names the ticket. */
    assert_int_equal(tr_zendesk_webhook_parse(a, no_detail,
                                              strlen(no_detail), VEC_TS,
                                              &ev, &err),
                     TR_OK);
    assert_int_equal(ev.ticket_id, 99);
    assert_int_equal(ev.occurred_at, 1713374290);
    tr_arena_free(a);
}

static void
bad_payloads_get_clear_errors(void **state)
{
    static const struct {
        const char *body;
        enum tr_err rc;
        const char *msg;
    } cases[] = {
        {"{\"ticket_id\":", TR_E_PARSE, "not valid JSON"},
        {"[1,2]", TR_E_PARSE, "not a JSON object"},
        {"{\"status\":\"open\"}", TR_E_INVAL, "neither"},
        {"{\"ticket_id\":\"{{ticket.id}}\"}", TR_E_INVAL, "positive"},
        {"{\"ticket_id\":-4}", TR_E_INVAL, "positive"},
        {"{\"ticket_id\":1.5}", TR_E_INVAL, "positive"},
        {"{\"ticket\":{\"id\":null}}", TR_E_INVAL, "positive"},
        {"{\"type\":\"zen:event-type:user.active_changed\",\"id\":\"x\"}",
         TR_E_UNSUPPORTED, "not about a ticket"},
        {"{\"type\":\"zen:event-type:ticket.created\",\"id\":\"x\"}",
         TR_E_INVAL, "no ticket id"},
        {"{\"type\":\"zen:event-type:ticket.created\",\"detail\":{\"id\":1}}",
         TR_E_INVAL, "no \"id\""},
    };
    struct tr_arena *a = tr_arena_new(0);
    struct tr_zendesk_event ev;
    struct tr_error err = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tr_zendesk_webhook_parse(a, cases[i].body,
                                                  strlen(cases[i].body),
                                                  VEC_TS, &ev, &err),
                         cases[i].rc);
        assert_non_null(strstr(err.msg, cases[i].msg));
    }
    assert_int_equal(tr_zendesk_webhook_parse(a, "", 0, VEC_TS, &ev, &err),
                     TR_E_PARSE);
    tr_arena_free(a);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(signature_vectors_from_the_sheet_verify),
    cmocka_unit_test(signature_mismatches_are_rejected),
    cmocka_unit_test(tampered_body_is_rejected),
    cmocka_unit_test(missing_headers_and_secret_are_reported),
    cmocka_unit_test(replayed_and_future_timestamps_are_rejected),
    cmocka_unit_test(time_parse_accepts_iso_utc_forms),
    cmocka_unit_test(trigger_payloads_are_normalised),
    cmocka_unit_test(subscription_payloads_are_normalised),
    cmocka_unit_test(bad_payloads_get_clear_errors),
};

TR_TEST_MAIN(cases)
