/*
 * test_draft_extract.c
 *      Extractive drafter: cites only what it was given, is
 *      deterministic, prefers passages in the ticket's language, greets
 *      in it, keeps steps whole, respects its caps, passes its own
 *      grounding check, renders text and JSON, and refuses bad input or
 *      a lack of passages clearly.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "tr_test.h"

#include "test_draft_fx.h"

static const char reset_en[] =
    "Cannot log in\n\nI forgot my password and cannot sign in. How do I "
    "reset my password? The reset email never came.";
static const char reset_de[] =
    "Passwort vergessen\n\nIch habe mein Passwort vergessen. Wie kann ich "
    "mein Passwort zurücksetzen? Die E-Mail mit dem Link kam nicht an.";

static struct tr_draft *
draft(const char *ticket, const char *lang,
      const struct tr_draft_passage *p, size_t n)
{
    struct tr_draft *d = NULL;
    struct tr_error err = {0};

    if (tr_draft_extractive(ticket, strlen(ticket), lang, p, n, NULL, &d,
                            &err) != TR_OK)
        fail_msg("drafting failed: %s", tr_error_msg(&err));
    assert_non_null(d);
    return d;
}

static size_t
n_body(const struct tr_draft *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->n_sentences; i++)
        if (!(d->sentences[i].flags
              & (TR_DRAFT_SENT_GREETING | TR_DRAFT_SENT_CLOSING)))
            n++;
    return n;
}

static void
draft_extractive_cites_only_given_passages(void **state)
{
    struct fx f;
    struct tr_draft_passage p[3];
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    p[0] = fx_get(&f, "a101#1");
    p[1] = fx_get(&f, "a202#1");
    p[2] = fx_get(&f, "a404#1");
    d = draft(reset_en, "en", p, 3);
    assert_true(n_body(d) > 0);

    for (size_t i = 0; i < d->n_sentences; i++) {
        const struct tr_draft_sentence *s = &d->sentences[i];

        if (s->flags & (TR_DRAFT_SENT_GREETING | TR_DRAFT_SENT_CLOSING)) {
            assert_int_equal(s->n_cites, 0);
            continue;
        }
        assert_int_equal(s->n_cites, 1);
        assert_true(strcmp(s->cites[0], "a101#1") == 0
                    || strcmp(s->cites[0], "a202#1") == 0
                    || strcmp(s->cites[0], "a404#1") == 0);

        /* Every body sentence is text of the passage it cites. */
        for (size_t k = 0; k < 3; k++)
            if (strcmp(p[k].id, s->cites[0]) == 0)
                assert_non_null(strstr(p[k].text, s->text));
    }

    /* The password question is answered from the password article. */
    assert_true(fx_sentence_with(d, "Forgot password") >= 0);
    assert_false(d->weak_match);
    assert_string_equal(d->sources[0].id, "a101#1");
    assert_string_equal(d->sources[0].url, p[0].url);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_is_deterministic(void **state)
{
    struct fx f;
    struct tr_draft *a, *b;
    char *ta, *tb, *ja, *jb;

    (void)state;
    fx_load(&f);
    a = draft(reset_en, "en", f.p, f.n);
    b = draft(reset_en, "en", f.p, f.n);
    assert_int_equal(tr_draft_render_text(a, &ta, NULL, NULL), TR_OK);
    assert_int_equal(tr_draft_render_text(b, &tb, NULL, NULL), TR_OK);
    assert_int_equal(tr_draft_render_json(a, &ja, NULL), TR_OK);
    assert_int_equal(tr_draft_render_json(b, &jb, NULL), TR_OK);
    assert_string_equal(ta, tb);
    assert_string_equal(ja, jb);
    free(ta);
    free(tb);
    free(ja);
    free(jb);
    tr_draft_free(a);
    tr_draft_free(b);
    fx_free(&f);
}

static void
draft_extractive_prefers_locale_matching_passage(void **state)
{
    struct fx f;
    struct tr_draft_passage p[2];
    struct tr_draft *d;

    (void)state;
    fx_load(&f);

    /* The English passage ranks first, the German one second. */
    p[0] = fx_get(&f, "a101#1");
    p[1] = fx_get(&f, "a101#de1");
    d = draft(reset_de, "de", p, 2);
    assert_string_equal(d->lang, "de");
    for (size_t i = 0; i < d->n_sentences; i++)
        for (size_t c = 0; c < d->sentences[i].n_cites; c++)
            assert_string_equal(d->sentences[i].cites[c], "a101#de1");
    assert_true(fx_sentence_with(d, "Passwort vergessen") >= 0);
    tr_draft_free(d);

    /* A region in the locale still matches ("en-us" for "en"). */
    d = draft(reset_en, "en", p, 2);
    assert_int_equal(d->n_sources, 1);
    assert_string_equal(d->sources[0].id, "a101#1");
    tr_draft_free(d);

    /* With no passage in the ticket's language, the others are used. */
    d = draft("Wachtwoord vergeten, hoe reset ik mijn password?", "nl",
              p, 1);
    assert_string_equal(d->lang, "nl");
    assert_true(n_body(d) > 0);
    assert_string_equal(d->sources[0].id, "a101#1");
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_greets_in_ticket_language(void **state)
{
    static const struct {
        const char *lang, *greeting, *want_lang;
    } want[] = {
        {"en", "Hello,", "en"}, {"de", "Hallo,", "de"},
        {"fr", "Bonjour,", "fr"}, {"es", "Hola,", "es"},
        {"pt", "Olá,", "pt"}, {"it", "Buongiorno,", "it"},
        {"nl", "Hallo,", "nl"}, {"pt-BR", "Olá,", "pt"},
        {"sv", "Hello,", "en"}, {NULL, "Hello,", "en"},
    };
    struct fx f;
    struct tr_draft_passage p;

    (void)state;
    fx_load(&f);
    p = fx_get(&f, "a202#1");
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct tr_draft *d = draft("refund please", want[i].lang, &p, 1);
        const struct tr_draft_sentence *last;

        assert_string_equal(d->sentences[0].text, want[i].greeting);
        assert_true(d->sentences[0].flags & TR_DRAFT_SENT_GREETING);
        assert_string_equal(d->lang, want[i].want_lang);
        last = &d->sentences[d->n_sentences - 1];
        assert_true(last->flags & TR_DRAFT_SENT_CLOSING);
        tr_draft_free(d);
    }
    fx_free(&f);
}

static void
draft_extractive_keeps_steps_whole(void **state)
{
    struct fx f;
    struct tr_draft_passage p;
    struct tr_draft *d;
    int lead, s1, s2, s3;

    (void)state;
    fx_load(&f);
    p = fx_get(&f, "a101#1");
    d = draft("How do I reset my password? Which steps?", "en", &p, 1);
    lead = fx_sentence_with(d, "To reset your password:");
    s1 = fx_sentence_with(d, "1. Open the sign-in page");
    s2 = fx_sentence_with(d, "2. Enter the email address");
    s3 = fx_sentence_with(d, "3. Open the link");
    assert_true(lead >= 0);
    assert_int_equal(s1, lead + 1);
    assert_int_equal(s2, lead + 2);
    assert_int_equal(s3, lead + 3);
    assert_false(d->sentences[lead].flags & TR_DRAFT_SENT_STEP);
    assert_true(d->sentences[s1].flags & TR_DRAFT_SENT_STEP);
    assert_true(d->sentences[s3].flags & TR_DRAFT_SENT_STEP);

    /* The heading of the chunk is not a sentence of the reply. */
    assert_int_equal(fx_sentence_with(d, "Reset your password"), -1);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_respects_caps(void **state)
{
    struct fx f;
    struct tr_draft_extractive_opts o;
    struct tr_draft *d = NULL;
    size_t chars = 0;

    (void)state;
    fx_load(&f);
    tr_draft_extractive_opts_default(&o);
    o.max_sentences = 2;
    assert_int_equal(tr_draft_extractive(reset_en, strlen(reset_en), "en",
                                         f.p, f.n, &o, &d, NULL), TR_OK);
    assert_true(n_body(d) >= 1 && n_body(d) <= 2);
    tr_draft_free(d);

    tr_draft_extractive_opts_default(&o);
    o.max_chars = 150;
    o.max_passages = 1;
    assert_int_equal(tr_draft_extractive(reset_en, strlen(reset_en), "en",
                                         f.p, f.n, &o, &d, NULL), TR_OK);
    for (size_t i = 0; i < d->n_sentences; i++)
        if (d->sentences[i].n_cites > 0) {
            chars += strlen(d->sentences[i].text);
            assert_string_equal(d->sentences[i].cites[0], "a101#1");
        }
    assert_true(chars > 0 && chars <= 150);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_passes_its_own_grounding(void **state)
{
    static const struct {
        const char *ticket, *lang;
    } t[] = {
        {reset_en, "en"},
        {reset_de, "de"},
        {"Je veux annuler mon abonnement, serai-je remboursé ?", "fr"},
        {"When will my express delivery arrive?", "en"},
        {"Can I get a refund for my annual plan?", "en"},
    };
    struct fx f;

    (void)state;
    fx_load(&f);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tr_draft *d = draft(t[i].ticket, t[i].lang, f.p, f.n);

        assert_int_equal(tr_draft_ground_check(d, f.p, f.n, NULL, NULL),
                         TR_OK);
        if (!tr_draft_grounded(d))
            fail_msg("draft %zu not grounded: %zu unsupported", i,
                     d->n_unsupported);
        tr_draft_free(d);
    }
    fx_free(&f);
}

static void
draft_render_text_marks_citations(void **state)
{
    struct fx f;
    struct tr_draft_passage p[2];
    struct tr_draft *d;
    char *text;
    size_t len = 0;

    (void)state;
    fx_load(&f);
    p[0] = fx_get(&f, "a202#1");
    p[1] = fx_get(&f, "a404#1");
    d = draft("Refund of my annual plan, and how long does express "
              "delivery take?", "en", p, 2);
    assert_int_equal(tr_draft_render_text(d, &text, &len, NULL), TR_OK);
    assert_int_equal(len, strlen(text));
    assert_true(strncmp(text, "Hello,\n\n", 8) == 0);
    assert_non_null(strstr(text, "pro rata after the first 30 days. [1]"));
    assert_non_null(strstr(text, "before 2 pm. [2]"));
    assert_non_null(strstr(text, "Related articles:\n[1] Refund policy: "
                                 "https://help.example.com/en/articles/202"
                                 "\n[2] Delivery times: "));
    free(text);

    /* Steps go on lines of their own. */
    tr_draft_free(d);
    p[0] = fx_get(&f, "a101#1");
    d = draft(reset_en, "en", p, 1);
    assert_int_equal(tr_draft_render_text(d, &text, NULL, NULL), TR_OK);
    assert_non_null(strstr(text, "password: [1]\n1. Open the sign-in"));
    free(text);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_render_json_keeps_everything(void **state)
{
    struct fx f;
    struct tr_draft *d;
    cJSON *root, *sents, *first, *src;
    char *json;
    const char *id = "a999#1";
    const char *bad = "We refund everything twice.";

    (void)state;
    fx_load(&f);
    d = draft(reset_en, "en", f.p, f.n);
    assert_int_equal(tr_draft_sentence_add(d, bad, strlen(bad), 0, &id, 1,
                                           NULL), TR_OK);
    assert_int_equal(tr_draft_ground_check(d, f.p, f.n, NULL, NULL), TR_OK);
    assert_int_equal(tr_draft_render_json(d, &json, NULL), TR_OK);
    root = cJSON_Parse(json);
    assert_non_null(root);

    assert_string_equal(cJSON_GetObjectItem(root, "language")->valuestring,
                        "en");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "checked")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(root, "grounded")));
    sents = cJSON_GetObjectItem(root, "sentences");
    assert_int_equal(cJSON_GetArraySize(sents), (int)d->n_sentences);
    first = cJSON_GetArrayItem(sents, 0);
    assert_string_equal(cJSON_GetObjectItem(first, "kind")->valuestring,
                        "greeting");
    assert_string_equal(cJSON_GetObjectItem(first, "verdict")->valuestring,
                        "exempt");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root,
                                                            "unsupported")),
                     1);
    first = cJSON_GetArrayItem(sents, (int)d->n_sentences - 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(first,
                                                               "reasons"),
                                           0)->valuestring, "unknown_id");
    src = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "sources"), 0);
    assert_string_equal(cJSON_GetObjectItem(src, "article_id")->valuestring,
                        "101");
    cJSON_Delete(root);
    free(json);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_without_passages_is_refused(void **state)
{
    struct tr_draft *d = (struct tr_draft *)&d;
    struct tr_error err = {0};
    struct tr_draft_passage p[3] = {
        {.id = "a1#1", .text = NULL},
        {.id = "a2#1", .text = " \n\n "},
        {.id = "a3#1", .text = "Only a heading"},
    };

    (void)state;
    assert_int_equal(tr_draft_extractive(reset_en, strlen(reset_en), "en",
                                         NULL, 0, NULL, &d, &err),
                     TR_E_NOTFOUND);
    assert_null(d);
    assert_non_null(strstr(err.msg, "no passage"));

    /* Passages without usable text are as good as none. */
    assert_int_equal(tr_draft_extractive(reset_en, strlen(reset_en), "en",
                                         p, 2, NULL, &d, &err),
                     TR_E_NOTFOUND);
    assert_null(d);
    assert_int_equal(tr_draft_extractive(reset_en, strlen(reset_en), "en",
                                         p, 3, NULL, &d, &err),
                     TR_E_NOTFOUND);
    assert_null(d);
}

static void
draft_extractive_refuses_bad_input(void **state)
{
    struct fx f;
    struct tr_draft *d = NULL;
    struct tr_error err = {0};
    struct tr_draft_extractive_opts o;
    struct tr_draft_passage p[2];
    char *text = NULL;

    (void)state;
    fx_load(&f);
    assert_int_equal(tr_draft_extractive(NULL, 0, "en", f.p, f.n, NULL, &d,
                                         &err), TR_E_INVAL);
    assert_int_equal(tr_draft_extractive("", 0, "en", f.p, f.n, NULL, &d,
                                         &err), TR_E_INVAL);
    assert_int_equal(tr_draft_extractive(" \n ", 3, "en", f.p, f.n, NULL,
                                         &d, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(tr_draft_extractive("x", 1, "en", NULL, 2, NULL, &d,
                                         &err), TR_E_INVAL);

    p[0] = fx_get(&f, "a202#1");
    p[1] = fx_get(&f, "a404#1");
    p[1].id = NULL;
    assert_int_equal(tr_draft_extractive("refund", 6, "en", p, 2, NULL, &d,
                                         &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "passage 2 has no id"));

    assert_int_equal(tr_draft_extractive("x", TR_DRAFT_TICKET_MAX + 1, "en",
                                         f.p, f.n, NULL, &d, &err),
                     TR_E_TOOBIG);
    tr_draft_extractive_opts_default(&o);
    o.max_sentences = 0;
    assert_int_equal(tr_draft_extractive("refund", 6, "en", f.p, f.n, &o,
                                         &d, &err), TR_E_INVAL);
    tr_draft_extractive_opts_default(&o);
    o.b = 2.0;
    assert_int_equal(tr_draft_extractive("refund", 6, "en", f.p, f.n, &o,
                                         &d, &err), TR_E_INVAL);
    assert_null(d);
    assert_int_equal(tr_draft_render_text(NULL, &text, NULL, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_draft_render_json(NULL, &text, &err), TR_E_INVAL);
    assert_null(text);
    fx_free(&f);
}

static void
draft_extractive_flags_a_weak_match(void **state)
{
    struct fx f;
    struct tr_draft_passage p[2];
    struct tr_draft *d;

    (void)state;
    fx_load(&f);
    p[0] = fx_get(&f, "a202#1");
    p[1] = fx_get(&f, "a404#1");

    /* No word of the ticket occurs: the best passage's opening is used,
     * from the best passage only, and the draft says it is weak. */
    d = draft("Zzyzx quux?", "en", p, 2);
    assert_true(d->weak_match);
    assert_true(n_body(d) >= 1 && n_body(d) <= 3);
    assert_int_equal(d->n_sources, 1);
    assert_string_equal(d->sources[0].id, "a202#1");
    assert_true(fx_sentence_with(d, "You can request a refund") >= 0);
    tr_draft_free(d);
    fx_free(&f);
}

static void
draft_extractive_keeps_abbreviations_inside_sentences(void **state)
{
    struct tr_draft_passage p = {
        .id = "a7#1", .locale = "en",
        .text = "Choose a strong password, e.g. Blue-Horse-42. We send "
                "codes to P.O. boxes too. Call Dr. Smith on weekdays! "
                "Is it safe? Yes.\n\nDas Angebot gilt ab dem 3. Mai f\xc3"
                "\xbcr alle Konten.",
    };
    const char *q = "password codes boxes Smith safe Angebot Mai Konten";
    struct tr_draft_extractive_opts o;
    struct tr_draft *d = NULL;

    (void)state;
    tr_draft_extractive_opts_default(&o);
    o.max_chars = 4000;
    assert_int_equal(tr_draft_extractive(q, strlen(q), "en", &p, 1, &o, &d,
                                         NULL), TR_OK);
    assert_true(fx_sentence_with(d, "Choose a strong password, e.g. "
                                    "Blue-Horse-42.") >= 0);
    assert_true(fx_sentence_with(d, "We send codes to P.O. boxes too.")
                >= 0);
    assert_true(fx_sentence_with(d, "Call Dr. Smith on weekdays!") >= 0);
    assert_true(fx_sentence_with(d, "Is it safe?") >= 0);
    assert_true(fx_sentence_with(d, "Das Angebot gilt ab dem 3. Mai") >= 0);
    tr_draft_free(d);
}

static void
draft_extractive_refuses_huge_passage_by_name(void **state)
{
    struct fx f;
    struct tr_draft *d = NULL;
    struct tr_error err = {0};
    struct tr_draft_passage p[2];
    char *huge;

    (void)state;
    fx_load(&f);
    p[0] = fx_get(&f, "a202#1");

    /* A huge passage is refused by name, not cut silently. */
    huge = malloc(TR_DRAFT_PASSAGE_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'y', TR_DRAFT_PASSAGE_MAX + 1);
    huge[TR_DRAFT_PASSAGE_MAX + 1] = '\0';
    p[1] = fx_get(&f, "a404#1");
    p[1].text = huge;
    assert_int_equal(tr_draft_extractive("refund", 6, "en", p, 2, NULL, &d,
                                         &err), TR_E_TOOBIG);
    assert_non_null(strstr(err.msg, "a404#1"));
    assert_null(d);

    /* Just under the cap is fine, and unreadable bytes do no harm. */
    memset(huge, 0xFF, TR_DRAFT_PASSAGE_MAX);
    memcpy(huge, "Refunds need a receipt. ", 24);
    huge[TR_DRAFT_PASSAGE_MAX] = '\0';
    assert_int_equal(tr_draft_extractive("refund receipt", 14, "en", p + 1,
                                         1, NULL, &d, &err), TR_OK);
    assert_true(fx_sentence_with(d, "Refunds need a receipt.") >= 0);
    tr_draft_free(d);
    free(huge);
    fx_free(&f);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(draft_extractive_cites_only_given_passages),
    cmocka_unit_test(draft_extractive_is_deterministic),
    cmocka_unit_test(draft_extractive_prefers_locale_matching_passage),
    cmocka_unit_test(draft_extractive_greets_in_ticket_language),
    cmocka_unit_test(draft_extractive_keeps_steps_whole),
    cmocka_unit_test(draft_extractive_respects_caps),
    cmocka_unit_test(draft_extractive_passes_its_own_grounding),
    cmocka_unit_test(draft_extractive_flags_a_weak_match),
    cmocka_unit_test(draft_extractive_keeps_abbreviations_inside_sentences),
    cmocka_unit_test(draft_render_text_marks_citations),
    cmocka_unit_test(draft_render_json_keeps_everything),
    cmocka_unit_test(draft_extractive_without_passages_is_refused),
    cmocka_unit_test(draft_extractive_refuses_bad_input),
    cmocka_unit_test(draft_extractive_refuses_huge_passage_by_name),
};

TR_TEST_MAIN(cases)
