/*
 * test_draft_ground.c
 *      Grounding check: copied sentences pass; invented ones, changed
 *      numbers, flipped negations, missing and unknown citations fail;
 *      greetings are exempt; thresholds come from the options; bad
 *      input is refused and loses nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "tr_test.h"

#include "test_draft_fx.h"

/* A draft of one body sentence citing `id` (NULL: no citation). */
static struct tr_draft *
one(const char *lang, const char *text, const char *id)
{
    struct tr_draft *d = NULL;

    assert_int_equal(tr_draft_new(lang, &d, NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, text, strlen(text), 0,
                                           id ? &id : NULL, id ? 1 : 0,
                                           NULL), TR_OK);
    return d;
}

/* Check a one-sentence draft against all fixtures; return its verdict. */
static const struct tr_draft_sentence *
check(struct fx *f, struct tr_draft *d)
{
    assert_int_equal(tr_draft_ground_check(d, f->p, f->n, NULL, NULL),
                     TR_OK);
    assert_true(d->checked);
    return &d->sentences[d->n_sentences - 1];
}

static void
expect(struct fx *f, const char *lang, const char *text, const char *id,
       enum tr_draft_verdict want, unsigned why)
{
    struct tr_draft *d = one(lang, text, id);
    const struct tr_draft_sentence *s = check(f, d);

    if (s->verdict != want || (why != 0 && !(s->why & why)))
        fail_msg("\"%s\": verdict %s score %.2f why 0x%x, want %s 0x%x",
                 text, tr_draft_verdict_name(s->verdict), s->score, s->why,
                 tr_draft_verdict_name(want), why);
    assert_true(s->score >= 0.0 && s->score <= 1.0);
    assert_int_equal(tr_draft_grounded(d), want == TR_DRAFT_SUPPORTED);
    tr_draft_free(d);
}

static void
draft_ground_copied_sentence_is_supported(void **state)
{
    struct fx f;
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "You can request a refund within 30 days of purchase.",
           "a202#1", TR_DRAFT_SUPPORTED, 0);
    expect(&f, "de", "Der Link läuft nach 24 Stunden ab.", "a101#de1",
           TR_DRAFT_SUPPORTED, 0);
    expect(&f, "fr", "L'annulation prend effet à la fin de la période en "
           "cours.", "a303#1", TR_DRAFT_SUPPORTED, 0);

    /* A copy scores 1 and leaves nothing unsupported. */
    d = one("en", "Refunds are paid to the original payment method.",
            "a202#1");
    assert_true(check(&f, d)->score > 0.999);
    assert_int_equal(d->n_unsupported, 0);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_normalises_case_accents_and_stems(void **state)
{
    struct fx f;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "REFUNDS ARE PAID TO YOUR ORIGINAL PAYMENT METHODS.",
           "a202#1", TR_DRAFT_SUPPORTED, 0);
    expect(&f, "en", "Reset passwords from the sign-in page.", "a101#1",
           TR_DRAFT_SUPPORTED, 0);
    expect(&f, "de", "Das Passwort können Sie auf der ANMELDESEITE "
           "zurücksetzen.", "a101#de1", TR_DRAFT_SUPPORTED, 0);
    expect(&f, "fr", "Vous pouvez annuler votre abonnement depuis la page "
           "facturation.", "a303#1", TR_DRAFT_SUPPORTED, 0);
    fx_free(&f);
}

static void
draft_ground_invented_sentence_is_unsupported(void **state)
{
    struct fx f;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "Our manager will call you tomorrow with a voucher.",
           "a202#1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_LOW_COVERAGE);
    expect(&f, "de", "Ihr Konto wurde wegen Betrugsverdacht gesperrt.",
           "a101#de1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_LOW_COVERAGE);

    /* True elsewhere, but not in the passage it cites. */
    expect(&f, "en", "Standard delivery takes 3 to 5 business days.",
           "a202#1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_LOW_COVERAGE);
    fx_free(&f);
}

static void
draft_ground_changed_number_is_unsupported(void **state)
{
    struct fx f;
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "You can request a refund within 60 days of purchase.",
           "a202#1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NUMBER);
    expect(&f, "en", "The reset link expires after 48 hours.", "a101#1",
           TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NUMBER);
    expect(&f, "fr", "Les frais sont remboursés dans les 30 jours suivant "
           "l'achat.", "a303#1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NUMBER);

    /* Score drops to zero even though every word is covered. */
    d = one("en", "Standard delivery takes 3 to 7 business days.",
            "a404#1");
    assert_true(check(&f, d)->score == 0.0);
    assert_true(d->sentences[0].why & TR_DRAFT_WHY_NUMBER);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_flipped_negation_is_unsupported(void **state)
{
    struct fx f;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "You can reuse an old link.", "a101#1",
           TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NEGATION);
    expect(&f, "en", "Refunds for gift cards are possible.", "a202#1",
           TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NEGATION);
    expect(&f, "en", "We don't offer express delivery.", "a404#1",
           TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NEGATION);
    expect(&f, "de", "Ein alter Link kann erneut verwendet werden.",
           "a101#de1", TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NEGATION);
    expect(&f, "fr", "Les frais déjà payés sont remboursés.", "a303#1",
           TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NEGATION);

    /* The negation kept as in the source passes. */
    expect(&f, "en", "An old link cannot be reused.", "a101#1",
           TR_DRAFT_SUPPORTED, 0);
    fx_free(&f);
}

static void
draft_ground_missing_citation_is_unsupported(void **state)
{
    struct fx f;
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    expect(&f, "en", "You can request a refund within 30 days of purchase.",
           NULL, TR_DRAFT_UNSUPPORTED, TR_DRAFT_WHY_NO_CITATION);

    d = one("en", "Refunds are paid to the original payment method.", NULL);
    assert_true(check(&f, d)->score == 0.0);
    assert_int_equal(d->n_unsupported, 1);
    assert_int_equal(d->unsupported[0], 0);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_unknown_id_is_unsupported(void **state)
{
    struct fx f;
    struct tr_draft *d = NULL;
    const char *ids[] = {"a202#1", "a999#9"};
    const char *text = "You can request a refund within 30 days of "
                       "purchase.";

    (void)state;
    fx_load(&f);
    expect(&f, "en", text, "a999#9", TR_DRAFT_UNSUPPORTED,
           TR_DRAFT_WHY_UNKNOWN_ID);

    /* One good and one unknown citation is still unsupported. */
    assert_int_equal(tr_draft_new("en", &d, NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, text, strlen(text), 0, ids, 2,
                                           NULL), TR_OK);
    assert_int_equal(check(&f, d)->verdict, TR_DRAFT_UNSUPPORTED);
    assert_true(d->sentences[0].why & TR_DRAFT_WHY_UNKNOWN_ID);

    /* Only the known passage becomes a source. */
    assert_int_equal(d->n_sources, 1);
    assert_string_equal(d->sources[0].id, "a202#1");
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_exempts_greeting_and_closing(void **state)
{
    struct fx f;
    struct tr_draft *d = NULL;
    const char *id = "a202#1";
    const char *hi = "Hello, we are sorry to hear about your trouble.";
    const char *body = "Refunds are paid to the original payment method.";
    const char *bye = "Best regards";

    (void)state;
    fx_load(&f);
    assert_int_equal(tr_draft_new("en", &d, NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, hi, strlen(hi),
                                           TR_DRAFT_SENT_GREETING, NULL, 0,
                                           NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, body, strlen(body), 0, &id, 1,
                                           NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, bye, strlen(bye),
                                           TR_DRAFT_SENT_CLOSING, NULL, 0,
                                           NULL), TR_OK);
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, NULL, NULL), TR_OK);
    assert_int_equal(d->sentences[0].verdict, TR_DRAFT_EXEMPT);
    assert_int_equal(d->sentences[1].verdict, TR_DRAFT_SUPPORTED);
    assert_int_equal(d->sentences[2].verdict, TR_DRAFT_EXEMPT);
    assert_true(tr_draft_grounded(d));
    tr_draft_free(d);

    /* Greetings alone ground nothing: no body, no auto-send. */
    assert_int_equal(tr_draft_new("en", &d, NULL), TR_OK);
    assert_int_equal(tr_draft_sentence_add(d, hi, strlen(hi),
                                           TR_DRAFT_SENT_GREETING, NULL, 0,
                                           NULL), TR_OK);
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, NULL, NULL), TR_OK);
    assert_false(tr_draft_grounded(d));
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_lists_unsupported_sentences(void **state)
{
    struct fx f;
    struct tr_draft *d = NULL;
    const char *id = "a101#1";
    const char *s[] = {
        "If you forgot your password, you can reset it from the sign-in "
        "page.",
        "Our staff will reset it for you by phone.",
        "The reset link expires after 24 hours.",
        "The reset link expires after 12 hours.",
    };

    (void)state;
    fx_load(&f);
    assert_int_equal(tr_draft_new("en", &d, NULL), TR_OK);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tr_draft_sentence_add(d, s[i], strlen(s[i]), 0,
                                               &id, 1, NULL), TR_OK);
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, NULL, NULL), TR_OK);
    assert_false(tr_draft_grounded(d));
    assert_int_equal(d->n_unsupported, 2);
    assert_int_equal(d->unsupported[0], 1);
    assert_int_equal(d->unsupported[1], 3);

    /* Adding a sentence clears the check: it must run again. */
    assert_int_equal(tr_draft_sentence_add(d, s[0], strlen(s[0]), 0, &id, 1,
                                           NULL), TR_OK);
    assert_false(d->checked);
    assert_int_equal(d->n_unsupported, 0);
    assert_int_equal(d->sentences[1].verdict, TR_DRAFT_UNCHECKED);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_threshold_comes_from_options(void **state)
{
    struct fx f;
    struct tr_draft_ground_opts o;
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    tr_draft_ground_opts_default(&o);
    assert_true(o.min_coverage > 0.59 && o.min_coverage < 0.61);
    assert_true(o.numbers_exact && o.check_negation);

    /* Two of the five content words are in the passage. */
    d = one("en", "Annual plans get a discount coupon.", "a202#1");
    assert_int_equal(check(&f, d)->verdict, TR_DRAFT_UNSUPPORTED);
    o.min_coverage = 0.2;
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, &o, NULL), TR_OK);
    assert_int_equal(d->sentences[0].verdict, TR_DRAFT_SUPPORTED);
    tr_draft_free(d);

    /* Switching the number check off lets a changed number through. */
    tr_draft_ground_opts_default(&o);
    o.numbers_exact = false;
    d = one("en", "The reset link expires after 48 hours.", "a101#1");
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, &o, NULL), TR_OK);
    assert_int_equal(d->sentences[0].verdict, TR_DRAFT_SUPPORTED);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_ground_refuses_bad_input(void **state)
{
    struct fx f;
    struct tr_draft *d;
    struct tr_draft_ground_opts o;
    struct tr_draft_passage big[2];
    struct tr_error err = {0};
    char *huge;

    (void)state;
    fx_load(&f);
    assert_int_equal(tr_draft_ground_check(NULL, f.p, f.n, NULL, &err),
                     TR_E_INVAL);
    assert_false(tr_draft_grounded(NULL));

    d = one("en", "Refunds are paid to the original payment method.",
            "a202#1");
    assert_int_equal(check(&f, d)->verdict, TR_DRAFT_SUPPORTED);
    assert_int_equal(tr_draft_ground_check(d, NULL, 3, NULL, &err),
                     TR_E_INVAL);

    /* A failed check leaves no verdict behind to be trusted. */
    assert_false(d->checked);
    assert_int_equal(d->sentences[0].verdict, TR_DRAFT_UNCHECKED);
    assert_false(tr_draft_grounded(d));

    tr_draft_ground_opts_default(&o);
    o.min_coverage = 1.5;
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, &o, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "min_coverage"));

    /* A passage past the cap is refused by name. */
    huge = malloc(TR_DRAFT_PASSAGE_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'x', TR_DRAFT_PASSAGE_MAX + 1);
    huge[TR_DRAFT_PASSAGE_MAX + 1] = '\0';
    big[0] = fx_get(&f, "a202#1");
    big[1] = fx_get(&f, "a404#1");
    big[1].text = huge;
    assert_int_equal(tr_draft_ground_check(d, big, 2, NULL, &err),
                     TR_E_TOOBIG);
    assert_non_null(strstr(err.msg, "a404#1"));
    free(huge);

    /* The draft itself is intact and checks again. */
    assert_int_equal(d->n_sentences, 1);
    assert_int_equal(check(&f, d)->verdict, TR_DRAFT_SUPPORTED);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_sentence_add_refuses_bad_input(void **state)
{
    struct tr_draft *d = NULL;
    struct tr_error err = {0};
    const char *ids[TR_DRAFT_CITES_MAX + 1];
    const char *empty = "";
    const char *dup[] = {"a1#1", "a1#1"};
    char *longs;

    (void)state;
    for (size_t i = 0; i <= TR_DRAFT_CITES_MAX; i++)
        ids[i] = "a1#1";
    assert_int_equal(tr_draft_new("a-language-code-far-too-long", &d, &err),
                     TR_E_INVAL);
    assert_null(d);
    assert_int_equal(tr_draft_new(NULL, &d, &err), TR_OK);
    assert_string_equal(d->lang, "en");

    assert_int_equal(tr_draft_sentence_add(d, NULL, 0, 0, NULL, 0, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_draft_sentence_add(d, " \n\t", 3, 0, NULL, 0, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_draft_sentence_add(d, "x y", 3, 0, &empty, 1, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_draft_sentence_add(d, "x y", 3, 0, ids,
                                           TR_DRAFT_CITES_MAX + 1, &err),
                     TR_E_INVAL);
    longs = malloc(TR_DRAFT_SENTENCE_MAX + 1);
    assert_non_null(longs);
    memset(longs, 'a', TR_DRAFT_SENTENCE_MAX + 1);
    assert_int_equal(tr_draft_sentence_add(d, longs,
                                           TR_DRAFT_SENTENCE_MAX + 1, 0,
                                           NULL, 0, &err), TR_E_TOOBIG);
    free(longs);
    assert_int_equal(d->n_sentences, 0);

    /* Whitespace is squeezed and a repeated id kept once. */
    assert_int_equal(tr_draft_sentence_add(d, "  a \n  b  ", 10, 0, dup, 2,
                                           &err), TR_OK);
    assert_string_equal(d->sentences[0].text, "a b");
    assert_int_equal(d->sentences[0].n_cites, 1);
    tr_draft_free(d);
    tr_draft_free(NULL);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(draft_ground_copied_sentence_is_supported),
    cmocka_unit_test(draft_ground_normalises_case_accents_and_stems),
    cmocka_unit_test(draft_ground_invented_sentence_is_unsupported),
    cmocka_unit_test(draft_ground_changed_number_is_unsupported),
    cmocka_unit_test(draft_ground_flipped_negation_is_unsupported),
    cmocka_unit_test(draft_ground_missing_citation_is_unsupported),
    cmocka_unit_test(draft_ground_unknown_id_is_unsupported),
    cmocka_unit_test(draft_ground_exempts_greeting_and_closing),
    cmocka_unit_test(draft_ground_lists_unsupported_sentences),
    cmocka_unit_test(draft_ground_threshold_comes_from_options),
    cmocka_unit_test(draft_ground_refuses_bad_input),
    cmocka_unit_test(draft_sentence_add_refuses_bad_input),
};

TR_TEST_MAIN(cases)
