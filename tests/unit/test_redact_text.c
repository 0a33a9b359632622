/*
 * test_redact_text.c
 *      Redaction: every built-in kind with valid and invalid values,
 *      shared placeholders, overlaps, tenant patterns, restore round
 *      trips and bad input.
 *
 * Card and IBAN values are the public test numbers of the card networks
 * and of the IBAN registry examples, not real accounts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "tr_test.h"

#include "redact.h"

static struct tr_redact *
make(const struct tr_redact_pattern *p, size_t n)
{
    struct tr_redact *r = NULL;
    struct tr_error err = {0};

    assert_int_equal(tr_redact_new(p, n, &r, &err), TR_OK);
    return r;
}

/* Redact `in` and compare with `want`; returns the map for more checks. */
static struct tr_redact_map *
check(const struct tr_redact *r, const char *in, const char *want)
{
    struct tr_redact_map *map = NULL;
    char *out = NULL;
    size_t out_len = 0;

    assert_int_equal(tr_redact_text(r, in, strlen(in), &out, &out_len,
                                    &map, NULL), TR_OK);
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    free(out);
    return map;
}

static void
expect(const struct tr_redact *r, const char *in, const char *want)
{
    tr_redact_map_free(check(r, in, want));
}

static void
redact_cards_need_a_valid_luhn_digit(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "card 4111 1111 1111 1111 please", "card [CARD_1] please");
    expect(r, "card 4111-1111-1111-1111.", "card [CARD_1].");
    expect(r, "amex 378282246310005", "amex [CARD_1]");
    /* Last digit changed: Luhn fails, the number stays. */
    expect(r, "card 4111 1111 1111 1112 please",
           "card 4111 1111 1111 1112 please");
    /* A 20-digit order number is not searched for cards inside it. */
    expect(r, "order 41111111111111110000", "order 41111111111111110000");
    tr_redact_free(r);
}

static void
redact_iban_needs_valid_check_digits(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "IBAN DE89 3704 0044 0532 0130 00, thanks",
           "IBAN [IBAN_1], thanks");
    expect(r, "to GB82WEST12345698765432 today", "to [IBAN_1] today");
    expect(r, "pay DE89 3704 0044 0532 0130 00 AB now",
           "pay [IBAN_1] AB now");
    /* Check digits 88 instead of 89. */
    expect(r, "IBAN DE88 3704 0044 0532 0130 00",
           "IBAN DE88 3704 0044 0532 0130 00");
    /* Right checksum but wrong length for Germany. */
    expect(r, "IBAN DE89370400440532013", "IBAN DE89370400440532013");
    tr_redact_free(r);
}

static void
redact_email_addresses(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "write to jane.doe+tickets@example.co.uk.",
           "write to [EMAIL_1].");
    expect(r, "a@b is not an address", "a@b is not an address");
    /* Non-ASCII local parts and domains are addresses too. */
    expect(r, "Grüße von josé@exämple.com", "Grüße von [EMAIL_1]");
    tr_redact_free(r);
}

static void
redact_phone_numbers_but_not_dates_or_orders(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "call +49 30 1234567 now", "call [PHONE_1] now");
    expect(r, "call +1 (415) 555-0132", "call [PHONE_1]");
    expect(r, "or (415) 555-0132 or 415-555-0132",
           "or [PHONE_1] or [PHONE_2]");
    expect(r, "Tel. 030 12345678", "Tel. [PHONE_1]");
    expect(r, "portable 06 12 34 56 78", "portable [PHONE_1]");
    expect(r, "0044 20 7946 0958", "[PHONE_1]");
    expect(r, "on 05.06.2024 at 10:30", "on 05.06.2024 at 10:30");
    expect(r, "on 2024-06-05 we", "on 2024-06-05 we");
    expect(r, "order 123456789 and #0301234567",
           "order 123456789 and #0301234567");
    tr_redact_free(r);
}

static void
redact_ssn_outside_invalid_ranges(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "SSN 123-45-6789.", "SSN [SSN_1].");
    expect(r, "SSN 000-45-6789", "SSN 000-45-6789");
    expect(r, "SSN 666-45-6789", "SSN 666-45-6789");
    expect(r, "SSN 912-45-6789", "SSN 912-45-6789");
    expect(r, "SSN 123-00-6789", "SSN 123-00-6789");
    expect(r, "SSN 123-45-0000", "SSN 123-45-0000");
    tr_redact_free(r);
}

static void
redact_ip_addresses(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "from 192.168.1.20, then 10.0.0.1.",
           "from [IP_1], then [IP_2].");
    expect(r, "not 256.1.1.1 nor 1.2.3", "not 256.1.1.1 nor 1.2.3");
    expect(r, "v6 2001:db8::ff00:42:8329 and fe80::1.",
           "v6 [IP_1] and [IP_2].");
    expect(r, "loopback ::1 works", "loopback [IP_1] works");
    expect(r, "meet at 10:30:45 ok", "meet at 10:30:45 ok");
    tr_redact_free(r);
}

static void
redact_repeated_values_share_a_placeholder(void **state)
{
    struct tr_redact *r = make(NULL, 0);
    struct tr_redact_map *map;

    (void)state;
    map = check(r, "a@x.org b@x.org a@x.org",
                "[EMAIL_1] [EMAIL_2] [EMAIL_1]");
    assert_int_equal(tr_redact_map_count(map), 2);
    assert_string_equal(tr_redact_map_placeholder(map, 0), "[EMAIL_1]");
    assert_string_equal(tr_redact_map_kind(map, 1), "EMAIL");
    assert_string_equal(tr_redact_map_original(map, 1), "b@x.org");
    assert_null(tr_redact_map_original(map, 2));
    tr_redact_map_free(map);

    /* A placeholder already in the text is never handed out. */
    expect(r, "see [EMAIL_1]: c@x.org", "see [EMAIL_1]: [EMAIL_2]");
    tr_redact_free(r);
}

static void
redact_restore_round_trips(void **state)
{
    const char *in = "Hi, I am jane@example.com, card 4111 1111 1111 1111,"
                     " phone +44 20 7946 0958, jane@example.com again. "
                     "Grüße!";
    struct tr_redact *r = make(NULL, 0);
    struct tr_redact_map *map = NULL;
    char *red = NULL, *back = NULL;
    size_t red_len, back_len;

    (void)state;
    assert_int_equal(tr_redact_text(r, in, strlen(in), &red, &red_len, &map,
                                    NULL), TR_OK);
    assert_null(strstr(red, "jane@"));
    assert_null(strstr(red, "4111"));
    assert_int_equal(tr_redact_restore(map, red, red_len, &back, &back_len,
                                       NULL), TR_OK);
    assert_string_equal(back, in);
    free(back);

    /* A draft built from placeholders gets the originals back. */
    in = "Dear [EMAIL_1], [X_1] [EMAIL_9] [EMAIL_1";
    assert_int_equal(tr_redact_restore(map, in, strlen(in), &back,
                                       &back_len, NULL), TR_OK);
    assert_string_equal(back, "Dear jane@example.com, [X_1] [EMAIL_9]"
                              " [EMAIL_1");
    free(back);
    free(red);
    tr_redact_map_free(map);
    tr_redact_free(r);
}

static void
redact_tenant_patterns_get_their_own_placeholders(void **state)
{
    const struct tr_redact_pattern p[] = {
        {"customer_id", "\\bCUST-[0-9]{6}\\b"},
        {"Policy", "POL[0-9]{4}"},
    };
    struct tr_redact *r = make(p, 2);

    (void)state;
    expect(r, "I am CUST-123456 (also CUST-123456), policy POL1234.",
           "I am [CUSTOMER_ID_1] (also [CUSTOMER_ID_1]), policy "
           "[POLICY_1].");
    tr_redact_free(r);
}

static void
redact_bad_tenant_patterns_are_refused_clearly(void **state)
{
    struct tr_redact_pattern p = {"order", "ORD-[0-9"};
    struct tr_redact *r = NULL;
    struct tr_error err = {0};

    (void)state;
    assert_int_equal(tr_redact_new(&p, 1, &r, &err), TR_E_INVAL);
    assert_null(r);
    assert_non_null(strstr(err.msg, "\"ORDER\" does not compile"));
    assert_non_null(strstr(err.msg, "offset"));

    p.regex = "x*";
    assert_int_equal(tr_redact_new(&p, 1, &r, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "empty string"));
    p.name = "9lives";
    p.regex = "x";
    assert_int_equal(tr_redact_new(&p, 1, &r, &err), TR_E_INVAL);
    p.name = "email";
    assert_int_equal(tr_redact_new(&p, 1, &r, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "already used"));
}

static void
redact_overlaps_keep_the_longest(void **state)
{
    const struct tr_redact_pattern p[] = {{"acct", "[0-9]{4} [0-9]{4}"}};
    struct tr_redact *r = make(p, 1);

    (void)state;
    /* The card covers the tenant pattern's shorter match. */
    expect(r, "4111 1111 1111 1111", "[CARD_1]");
    /* The e-mail covers the digits inside it. */
    expect(r, "x4111111111111111@example.com", "[EMAIL_1]");
    tr_redact_free(r);
}

static void
redact_text_without_personal_data_is_unchanged(void **state)
{
    const char *in = "My order #12345 from 2024-06-05 arrived broken; "
                     "version 1.2.3, 3 items, ça ne marche pas \xff\xfe.";
    struct tr_redact *r = make(NULL, 0);
    struct tr_redact_map *map;

    (void)state;
    map = check(r, in, in);
    assert_int_equal(tr_redact_map_count(map), 0);
    tr_redact_map_free(map);
    expect(r, "", "");
    tr_redact_map_free(NULL);
    tr_redact_free(NULL);
    tr_redact_free(r);
}

static void
redact_invalid_utf8_around_values_is_safe(void **state)
{
    struct tr_redact *r = make(NULL, 0);

    (void)state;
    expect(r, "\xc3 a@example.com \xe2\x82", "\xc3 [EMAIL_1] \xe2\x82");
    tr_redact_free(r);
}

/*
 * Fields of one message share a map: a value in two fields is one
 * placeholder, different values never share one, and a placeholder that
 * one field holds literally is not given to a value of another.
 */
static void
redact_fields_share_one_map(void **state)
{
    const char *in[3] = {"Mail [EMAIL_1] or ann@example.com",
                         "ann@example.com, bob@example.org, ann@example.com",
                         NULL};
    size_t len[3] = {strlen(in[0]), strlen(in[1]), 0};
    struct tr_redact *r = make(NULL, 0);
    struct tr_redact_map *map = NULL;
    char *out[3], *back = NULL;
    size_t out_len[3], back_len;

    (void)state;
    assert_int_equal(tr_redact_fields(r, 3, in, len, out, out_len, &map,
                                      NULL), TR_OK);
    assert_string_equal(out[0], "Mail [EMAIL_1] or [EMAIL_2]");
    assert_string_equal(out[1], "[EMAIL_2], [EMAIL_3], [EMAIL_2]");
    assert_string_equal(out[2], "");
    assert_int_equal(tr_redact_map_count(map), 2);
    assert_int_equal(tr_redact_restore(map, out[1], out_len[1], &back,
                                       &back_len, NULL), TR_OK);
    assert_string_equal(back, in[1]);
    free(back);
    for (int i = 0; i < 3; i++)
        free(out[i]);
    tr_redact_map_free(map);

    /* One field alone: the number skipped for the literal is not handed
     * out twice. */
    expect(r, "[EMAIL_1] a@example.com b@example.com",
           "[EMAIL_1] [EMAIL_2] [EMAIL_3]");

    assert_int_equal(tr_redact_fields(r, TR_REDACT_FIELDS_MAX + 1, in, len,
                                      out, out_len, &map, NULL),
                     TR_E_INVAL);
    assert_null(map);
    tr_redact_free(r);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(redact_cards_need_a_valid_luhn_digit),
    cmocka_unit_test(redact_iban_needs_valid_check_digits),
    cmocka_unit_test(redact_email_addresses),
    cmocka_unit_test(redact_phone_numbers_but_not_dates_or_orders),
    cmocka_unit_test(redact_ssn_outside_invalid_ranges),
    cmocka_unit_test(redact_ip_addresses),
    cmocka_unit_test(redact_repeated_values_share_a_placeholder),
    cmocka_unit_test(redact_restore_round_trips),
    cmocka_unit_test(redact_tenant_patterns_get_their_own_placeholders),
    cmocka_unit_test(redact_bad_tenant_patterns_are_refused_clearly),
    cmocka_unit_test(redact_overlaps_keep_the_longest),
    cmocka_unit_test(redact_text_without_personal_data_is_unchanged),
    cmocka_unit_test(redact_invalid_utf8_around_values_is_safe),
    cmocka_unit_test(redact_fields_share_one_map),
};

TR_TEST_MAIN(cases)
