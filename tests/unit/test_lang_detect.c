/*
 * test_lang_detect.c
 *      Language identification: one sentence per supported language,
 *      short and empty input, mixed text, options and concurrency.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>

#include "tr_test.h"

#include "lang.h"

struct sample {
    const char *code;
    const char *text;
};

/* Support-ticket sentences written for these tests, one per language. */
static const struct sample samples[] = {
    {"en", "Hello, my card was charged twice for the same order and I "
           "would like a refund as soon as possible."},
    {"de", "Guten Tag, meine Karte wurde für dieselbe Bestellung zweimal "
           "belastet und ich hätte gerne eine Rückerstattung."},
    {"es", "Hola, me han cobrado dos veces el mismo pedido en la tarjeta "
           "y quisiera que me devuelvan el dinero."},
    {"fr", "Bonjour, ma carte a été débitée deux fois pour la même "
           "commande et je voudrais être remboursé rapidement."},
    {"pt", "Olá, o meu cartão foi cobrado duas vezes pela mesma "
           "encomenda e gostaria de receber o reembolso."},
    {"it", "Buongiorno, la mia carta è stata addebitata due volte per lo "
           "stesso ordine e vorrei essere rimborsato al più presto."},
    {"nl", "Goedendag, mijn kaart is twee keer afgeschreven voor "
           "dezelfde bestelling en ik wil graag mijn geld terug."},
};

static void
lang_each_language_is_identified(void **state)
{
    struct tr_lang *l = NULL;
    struct tr_lang_result r;

    (void)state;
    assert_int_equal(tr_lang_new(NULL, &l, NULL), TR_OK);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        assert_int_equal(tr_lang_detect(l, samples[i].text,
                                        strlen(samples[i].text), &r, NULL),
                         TR_OK);
        assert_string_equal(r.code, samples[i].code);
        assert_string_equal(r.guess, samples[i].code);
        assert_true(r.reliable);
    }
    tr_lang_free(l);
}

static void
lang_short_and_empty_text_get_the_default(void **state)
{
    struct tr_lang_opts o = {.default_lang = "de"};
    struct tr_lang *l = NULL;
    struct tr_lang_result r;

    (void)state;
    assert_int_equal(tr_lang_new(&o, &l, NULL), TR_OK);
    assert_int_equal(tr_lang_detect(l, "", 0, &r, NULL), TR_OK);
    assert_int_equal(r.status, TR_LANG_SHORT);
    assert_string_equal(r.code, "de");
    assert_false(r.reliable);

    assert_int_equal(tr_lang_detect(l, "ok thx", 6, &r, NULL), TR_OK);
    assert_int_equal(r.status, TR_LANG_SHORT);
    assert_string_equal(r.code, "de");

    /* Digits and punctuation are not letters. */
    assert_int_equal(tr_lang_detect(l, "1234 5678 9012 3456 !!! ???", 27,
                                    &r, NULL), TR_OK);
    assert_int_equal(r.status, TR_LANG_SHORT);
    assert_int_equal(tr_lang_detect(l, NULL, 0, &r, NULL), TR_OK);
    assert_string_equal(r.code, "de");
    assert_string_equal(tr_lang_status_name(r.status), "short");
    tr_lang_free(l);
}

static void
lang_mixed_text_answers_one_of_its_languages(void **state)
{
    const char *mixed = "Thanks for your help! Vielen Dank für Ihre "
                        "schnelle Hilfe mit meiner Bestellung, it arrived";
    struct tr_lang *l = NULL;
    struct tr_lang_result r;

    (void)state;
    assert_int_equal(tr_lang_new(NULL, &l, NULL), TR_OK);
    assert_int_equal(tr_lang_detect(l, mixed, strlen(mixed), &r, NULL),
                     TR_OK);
    assert_true(strcmp(r.guess, "de") == 0 || strcmp(r.guess, "en") == 0);
    if (!r.reliable)
        assert_string_equal(r.code, "en");
    tr_lang_free(l);
}

static void
lang_ambiguous_text_falls_back_to_the_default(void **state)
{
    /*
     * This sentence also scores close to Spanish, and a huge margin
     * makes any runner-up too close.
     */
    struct tr_lang_opts o = {.default_lang = "fr", .margin = 10.0};
    const char *text = "Ciao, la mia carta è stata addebitata due volte.";
    struct tr_lang *l = NULL;
    struct tr_lang_result r;

    (void)state;
    assert_int_equal(tr_lang_new(&o, &l, NULL), TR_OK);
    assert_int_equal(tr_lang_detect(l, text, strlen(text), &r, NULL),
                     TR_OK);
    assert_int_equal(r.status, TR_LANG_AMBIGUOUS);
    assert_string_equal(r.code, "fr");
    assert_string_equal(r.guess, "it");
    assert_false(r.reliable);
    tr_lang_free(l);
}

static void
lang_language_list_is_checked(void **state)
{
    struct tr_lang_opts o = {0};
    struct tr_lang *l = NULL;
    struct tr_error err = {0};

    (void)state;
    o.langs = "en,xx";
    assert_int_equal(tr_lang_new(&o, &l, &err), TR_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "xx.lm"));
    assert_null(l);
    o.langs = "en,,de";
    assert_int_equal(tr_lang_new(&o, &l, &err), TR_E_INVAL);
    o.langs = "../etc";
    assert_int_equal(tr_lang_new(&o, &l, &err), TR_E_INVAL);
    o.langs = "en";
    o.data_dir = "/nonexistent";
    assert_int_equal(tr_lang_new(&o, &l, &err), TR_E_NOTFOUND);

    /* A detector of two languages answers within them. */
    o.langs = "de,nl";
    o.data_dir = NULL;
    assert_int_equal(tr_lang_new(&o, &l, &err), TR_OK);
    {
        struct tr_lang_result r;

        assert_int_equal(tr_lang_detect(l, samples[6].text,
                                        strlen(samples[6].text), &r, NULL),
                         TR_OK);
        assert_string_equal(r.code, "nl");
    }
    tr_lang_free(l);
    tr_lang_free(NULL);
}

struct worker {
    struct tr_lang *l;
    int wrong;
};

static void *
detect_many(void *arg)
{
    struct worker *w = arg;
    struct tr_lang_result r;

    for (int i = 0; i < 200; i++) {
        const struct sample *s = &samples[i % 7];

        tr_lang_detect(w->l, s->text, strlen(s->text), &r, NULL);
        w->wrong += strcmp(r.code, s->code) != 0;
    }
    return NULL;
}

static void
lang_shared_detector_is_safe_across_threads(void **state)
{
    struct worker w[4];
    pthread_t t[4];
    struct tr_lang *l = NULL;

    (void)state;
    assert_int_equal(tr_lang_new(NULL, &l, NULL), TR_OK);
    for (int i = 0; i < 4; i++) {
        w[i].l = l;
        w[i].wrong = 0;
        assert_int_equal(pthread_create(&t[i], NULL, detect_many, &w[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }
    tr_lang_free(l);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(lang_each_language_is_identified),
    cmocka_unit_test(lang_short_and_empty_text_get_the_default),
    cmocka_unit_test(lang_mixed_text_answers_one_of_its_languages),
    cmocka_unit_test(lang_ambiguous_text_falls_back_to_the_default),
    cmocka_unit_test(lang_language_list_is_checked),
    cmocka_unit_test(lang_shared_detector_is_safe_across_threads),
};

TR_TEST_MAIN(cases)
