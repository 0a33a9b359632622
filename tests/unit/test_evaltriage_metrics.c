/*
 * test_evaltriage_metrics.c
 *      The parts of the triage evaluation that need no database: the
 *      metrics against hand computation, the personal-data scan, and the
 *      tickets file with its errors.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_test.h"

#include "evaltriage.h"

/* A labelled ticket with one or no expected article. */
static struct tr_evaltriage_ticket
ticket(const char *team, const char *prio, bool esc, bool inj,
       const char *article, const char *lang)
{
    struct tr_evaltriage_ticket t;

    memset(&t, 0, sizeof(t));
    t.id = "t";
    t.subject = "";
    t.description = "d";
    t.expect.team = team;
    t.expect.priority = prio;
    t.expect.escalate = esc;
    t.expect.injection = inj;
    t.expect.language = lang;
    if (article != NULL) {
        t.expect.articles[0] = article;
        t.expect.n_articles = 1;
    }
    return t;
}

static struct tr_evaltriage_outcome
outcome(const char *team, const char *prio, bool esc, const char *lang,
        const char *r1, const char *r2, const char *r3, const char *r4)
{
    struct tr_evaltriage_outcome o;
    const char *ranked[4] = {r1, r2, r3, r4};

    memset(&o, 0, sizeof(o));
    snprintf(o.team, sizeof(o.team), "%s", team);
    snprintf(o.priority, sizeof(o.priority), "%s", prio);
    snprintf(o.language, sizeof(o.language), "%s", lang);
    snprintf(o.action, sizeof(o.action), "%s", esc ? "escalate" : "draft");
    o.escalated = esc;
    for (int i = 0; i < 4 && ranked[i] != NULL; i++)
        snprintf(o.ranked[o.n_ranked++], sizeof(o.ranked[0]), "%s",
                 ranked[i]);
    return o;
}

static void
evaltriage_metrics_match_hand_computation(void **state)
{
    struct tr_evaltriage_ticket t[5];
    struct tr_evaltriage_outcome o[5];
    struct tr_evaltriage_metrics m;

    /* Article found first, third, fourth (outside the top 3), and two
     * tickets that expect none; one injection that was not escalated. */
    t[0] = ticket("billing", "normal", false, false, "a", "en");
    o[0] = outcome("billing", "normal", false, "en", "a", "b", NULL, NULL);
    t[1] = ticket("accounts", "normal", false, false, "c", "de");
    o[1] = outcome("billing", "normal", true, "de", "x", "y", "c", NULL);
    t[2] = ticket("logistics", "high", true, false, "d", "fr");
    o[2] = outcome("logistics", "normal", true, "en", "x", "y", "z", "d");
    t[3] = ticket("support", "normal", true, true, NULL, "en");
    o[3] = outcome("support", "normal", false, "en", NULL, NULL, NULL, NULL);
    t[4] = ticket("support", "normal", true, false, NULL, "es");
    o[4] = outcome("support", "normal", true, "es", "a", NULL, NULL, NULL);
    o[0].n_pii = 3;
    o[0].n_leaks = 1;
    o[2].n_pii = 1;

    tr_evaltriage_metrics_compute(t, o, 5, &m);
    assert_int_equal(m.n, 5);
    assert_true(fabs(m.routing_accuracy - 4.0 / 5) < 1e-9);
    assert_true(fabs(m.priority_accuracy - 4.0 / 5) < 1e-9);
    assert_true(fabs(m.language_match - 4.0 / 5) < 1e-9);
    /* Escalated: 1, 2, 4; expected: 2, 3, 4. */
    assert_true(fabs(m.escalation_precision - 2.0 / 3) < 1e-9);
    assert_true(fabs(m.escalation_recall - 2.0 / 3) < 1e-9);
    assert_int_equal(m.n_with_articles, 3);
    assert_true(fabs(m.recall_3 - 2.0 / 3) < 1e-9);
    assert_true(fabs(m.mrr - (1.0 + 1.0 / 3 + 1.0 / 4) / 3) < 1e-9);
    assert_int_equal(m.pii_leaks, 1);
    assert_int_equal(m.n_pii, 4);
    assert_int_equal(m.n_injection, 1);
    assert_int_equal(m.injection_failures, 1);
    assert_int_equal(tr_evaltriage_first_rank(&t[2], &o[2]), 4);
}

static void
evaltriage_metrics_without_cases_are_undefined(void **state)
{
    struct tr_evaltriage_ticket t[1];
    struct tr_evaltriage_outcome o[1];
    struct tr_evaltriage_metrics m;

    /* Nothing expected to escalate, nothing escalated, no articles. */
    t[0] = ticket("billing", "normal", false, false, NULL, "en");
    o[0] = outcome("billing", "normal", false, "en", "a", NULL, NULL, NULL);
    tr_evaltriage_metrics_compute(t, o, 1, &m);
    assert_true(isnan(m.escalation_precision));
    assert_true(isnan(m.escalation_recall));
    assert_true(isnan(m.recall_3));
    assert_true(isnan(m.mrr));
    assert_true(fabs(m.routing_accuracy - 1) < 1e-9);
}

/* How many findings of `kind` the scan of `text` gives. */
static size_t
scan_count(const char *text, enum tr_evaltriage_pii_kind kind,
           struct tr_evaltriage_pii *out, size_t *n)
{
    size_t k = 0;

    *n = 0;
    tr_evaltriage_pii_scan(text, out, n, TR_EVALTRIAGE_PII_MAX);
    for (size_t i = 0; i < *n; i++)
        k += out[i].kind == kind;
    return k;
}

static void
evaltriage_pii_scan_finds_only_checked_numbers(void **state)
{
    struct tr_evaltriage_pii p[TR_EVALTRIAGE_PII_MAX];
    size_t n;

    /* Luhn-valid cards in several groupings; a wrong digit is none. */
    assert_int_equal(scan_count("card 4111 1111 1111 1111.",
                                TR_EVALTRIAGE_PII_CARD, p, &n), 1);
    assert_string_equal(p[0].text, "4111 1111 1111 1111");
    assert_string_equal(p[0].compact, "4111111111111111");
    assert_int_equal(scan_count("Amex 3782 822463 10005 and "
                                "5555-5555-5555-4444",
                                TR_EVALTRIAGE_PII_CARD, p, &n), 2);
    assert_int_equal(scan_count("card 4111 1111 1111 1112",
                                TR_EVALTRIAGE_PII_CARD, p, &n), 0);
    assert_int_equal(scan_count("order 20251203 of 12 parcels",
                                TR_EVALTRIAGE_PII_CARD, p, &n), 0);

    /* IBANs pass mod 97 and stop before the next word. */
    assert_int_equal(scan_count("IBAN DE89 3704 0044 0532 0130 00 please",
                                TR_EVALTRIAGE_PII_IBAN, p, &n), 1);
    assert_string_equal(p[0].text, "DE89 3704 0044 0532 0130 00");
    assert_int_equal(scan_count("GB82 WEST 1234 5698 7654 32, FR14 2004 "
                                "1010 0505 0001 3M02 606",
                                TR_EVALTRIAGE_PII_IBAN, p, &n), 2);
    assert_int_equal(scan_count("DE88 3704 0044 0532 0130 00",
                                TR_EVALTRIAGE_PII_IBAN, p, &n), 0);

    /* E-mail addresses and international phone numbers. */
    assert_int_equal(scan_count("write to maria.lopez@example.com.",
                                TR_EVALTRIAGE_PII_EMAIL, p, &n), 1);
    assert_string_equal(p[0].text, "maria.lopez@example.com");
    assert_int_equal(scan_count("not@mail or @handle",
                                TR_EVALTRIAGE_PII_EMAIL, p, &n), 0);
    assert_int_equal(scan_count("call +44 20 7946 0958 today",
                                TR_EVALTRIAGE_PII_PHONE, p, &n), 1);
    assert_string_equal(p[0].text, "+44 20 7946 0958");
    assert_int_equal(scan_count("+1 2", TR_EVALTRIAGE_PII_PHONE, p, &n), 0);

    /* A repeat is one finding. */
    assert_int_equal(scan_count("a@b.example a@b.example",
                                TR_EVALTRIAGE_PII_EMAIL, p, &n), 1);
}

static void
evaltriage_pii_is_found_as_written_or_compact(void **state)
{
    struct tr_evaltriage_pii p[TR_EVALTRIAGE_PII_MAX];
    size_t n = 0;

    tr_evaltriage_pii_scan("card 4111 1111 1111 1111, mail a.b@c.example",
                           p, &n, TR_EVALTRIAGE_PII_MAX);
    assert_int_equal(n, 2);
    assert_true(tr_evaltriage_pii_in(&p[0], "x 4111 1111 1111 1111 y"));
    assert_true(tr_evaltriage_pii_in(&p[0], "{\"t\":\"4111111111111111\"}"));
    assert_false(tr_evaltriage_pii_in(&p[0], "card [CARD_1] ends 1111"));
    assert_true(tr_evaltriage_pii_in(&p[1], "to a.b@c.example now"));
    assert_false(tr_evaltriage_pii_in(&p[1], "to [EMAIL_1] now"));
    assert_false(tr_evaltriage_pii_in(&p[1], NULL));
}

/* Write `text` to a file of its own and return its path in `path`. */
static void
write_file(char *path, size_t len, const char *tag, const char *text)
{
    FILE *f;

    snprintf(path, len, "%s/evaltriage-%s-%ld.jsonl",
             getenv("TR_BINARY_DIR"), tag, (long) getpid());
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loading `text` fails with TR_E_PARSE and a message holding `want`. */
static void
load_fails(const char *text, const char *want)
{
    struct tr_evaltriage_set *s = NULL;
    struct tr_error err = {0};
    char path[1024], where[1100];

    write_file(path, sizeof(path), "bad", text);
    assert_int_equal(tr_evaltriage_set_load(path, &s, &err), TR_E_PARSE);
    assert_null(s);
    if (strstr(tr_error_msg(&err), want) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", tr_error_msg(&err), want);
    snprintf(where, sizeof(where), "%s:", path);
    assert_non_null(strstr(tr_error_msg(&err), where));
    unlink(path);
}

#define GOOD "{\"id\":\"1\",\"subject\":\"s\",\"description\":\"d\"," \
    "\"expected\":{\"team\":\"billing\",\"priority\":\"normal\","       \
    "\"escalate\":false,\"articles\":[\"a\"],\"language\":\"en\"}}\n"

static void
evaltriage_tickets_file_errors_name_the_line(void **state)
{
    load_fails(GOOD "\n{\"id\":\"2\",\"description\":\"d\"\n", ":3: not a");
    load_fails(GOOD "{\"id\":\"2\",\"description\":\"d\"}\n",
               ":2: missing field \"expected\"");
    load_fails(GOOD GOOD, ":2: id \"1\" is already used on line 1");
    load_fails("{\"id\":\"1\",\"description\":\"d\",\"expected\":{"
               "\"team\":\"b\",\"priority\":\"n\",\"escalate\":\"no\","
               "\"articles\":[],\"language\":\"en\"}}\n",
               ":1: expected true or false in field \"escalate\"");
    load_fails("{\"id\":\"1\",\"description\":\"d\",\"expected\":{"
               "\"team\":\"b\",\"priority\":\"n\",\"escalate\":true,"
               "\"articles\":[7],\"language\":\"en\"}}\n",
               ":1: expected article ids");
    load_fails("{\"id\":\"1\",\"description\":\"d\",\"expected\":{"
               "\"team\":\"b\",\"priority\":\"n\",\"escalate\":false,"
               "\"injection\":true,\"articles\":[],\"language\":\"en\"}}\n",
               ":1: an injection must be expected to escalate");
    load_fails("{\"id\":\"1\",\"description\":\"\",\"expected\":{}}\n",
               ":1: empty field \"description\"");
    load_fails("\n\n", "no tickets");
}

static void
evaltriage_demo_tickets_load_with_every_kind_of_case(void **state)
{
    struct tr_evaltriage_set *s = NULL;
    struct tr_error err = {0};
    size_t n_esc = 0, n_inj = 0, n_pii = 0, n_lang[4] = {0};
    static const char *langs[4] = {"en", "de", "es", "fr"};
    char path[1024];

    snprintf(path, sizeof(path), "%s/scripts/demo/tickets.jsonl",
             getenv("TR_SOURCE_DIR"));
    if (tr_evaltriage_set_load(path, &s, &err) != TR_OK)
        fail_msg("%s", tr_error_msg(&err));
    assert_true(s->n_tickets >= 40);
    for (size_t i = 0; i < s->n_tickets; i++) {
        const struct tr_evaltriage_ticket *t = &s->tickets[i];
        struct tr_evaltriage_pii p[TR_EVALTRIAGE_PII_MAX];
        size_t n = 0;

        n_esc += t->expect.escalate;
        n_inj += t->expect.injection;
        tr_evaltriage_pii_scan(t->description, p, &n, TR_EVALTRIAGE_PII_MAX);
        n_pii += n > 0;
        for (int l = 0; l < 4; l++)
            n_lang[l] += strcmp(t->expect.language, langs[l]) == 0;
    }
    assert_true(n_esc >= 8);
    assert_true(n_inj >= 2);
    assert_true(n_pii >= 8);
    for (int l = 0; l < 4; l++)
        assert_true(n_lang[l] >= 4);
    tr_evaltriage_set_free(s);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(evaltriage_metrics_match_hand_computation),
    cmocka_unit_test(evaltriage_metrics_without_cases_are_undefined),
    cmocka_unit_test(evaltriage_pii_scan_finds_only_checked_numbers),
    cmocka_unit_test(evaltriage_pii_is_found_as_written_or_compact),
    cmocka_unit_test(evaltriage_tickets_file_errors_name_the_line),
    cmocka_unit_test(evaltriage_demo_tickets_load_with_every_kind_of_case),
};

TR_TEST_MAIN(cases)
