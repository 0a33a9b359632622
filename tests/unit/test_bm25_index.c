/*
 * test_bm25_index.c
 *      BM25 scores against hand-computed values, tokenizer, stemming,
 *      title weight, serialization (and buffers of the earlier version),
 *      bad input and concurrent searches.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "bm25.h"

/* The small corpus of the hand computations below. */
static const char *const docs[] = {
    "The cat sat",
    "the dog sat on the MAT",
    "cat, and dog!",
};

static struct tr_bm25 *
make_index(const char *stem, double title_weight)
{
    struct tr_bm25_opts o;
    struct tr_bm25 *ix;

    tr_bm25_opts_default(&o);
    o.title_weight = title_weight;
    strcpy(o.stem_lang, stem);
    ix = tr_bm25_new(&o, NULL);
    assert_non_null(ix);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_bm25_add(ix, 100 + i, NULL, docs[i], NULL),
                         TR_OK);
    assert_int_equal(tr_bm25_build(ix, NULL), TR_OK);
    return ix;
}

static void
bm25_scores_match_hand_computation(void **state)
{
    struct tr_bm25 *ix = make_index("", 1.0);
    struct tr_bm25_hit hits[5];
    size_t n;
    /* N = 3, lengths 3, 6, 3, avgdl = 4, k1 = 1.2, b = 0.75. */
    double idf_df2 = log(1.0 + (3 - 2 + 0.5) / (2 + 0.5));
    double idf_df1 = log(1.0 + (3 - 1 + 0.5) / (1 + 0.5));
    double short_doc = 1.0 * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 3 / 4.0));
    double long_doc = 1.0 * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 6 / 4.0));

    /* "cat" is in chunks 100 and 102 with equal scores: insertion order. */
    assert_int_equal(tr_bm25_search(ix, "cat", 5, hits, &n, NULL), TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].id, 100);
    assert_int_equal(hits[1].id, 102);
    assert_float_equal(hits[0].score, idf_df2 * short_doc, 1e-5);
    assert_float_equal(hits[1].score, idf_df2 * short_doc, 1e-5);

    /* "dog mat": chunk 101 has both, chunk 102 only "dog". */
    assert_int_equal(tr_bm25_search(ix, "Dog MAT?", 5, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].id, 101);
    assert_float_equal(hits[0].score, (idf_df2 + idf_df1) * long_doc, 1e-5);
    assert_int_equal(hits[1].id, 102);
    assert_float_equal(hits[1].score, idf_df2 * short_doc, 1e-5);

    /* A repeated query word counts twice; k limits the answer. */
    assert_int_equal(tr_bm25_search(ix, "mat mat", 1, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 1);
    assert_float_equal(hits[0].score, 2 * idf_df1 * long_doc, 1e-5);

    /* Nothing matches: no hits, not an error. */
    assert_int_equal(tr_bm25_search(ix, "zebra ..", 5, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tr_bm25_count(ix), 3);
    assert_int_equal(tr_bm25_n_terms(ix), 7);
    tr_bm25_free(ix);
}

static void
bm25_title_tokens_count_with_weight(void **state)
{
    struct tr_bm25_opts o;
    struct tr_bm25 *ix;
    struct tr_bm25_hit hits[2];
    size_t n;
    double idf, w;

    tr_bm25_opts_default(&o);
    o.stem_lang[0] = '\0';
    o.title_weight = 3.0;
    ix = tr_bm25_new(&o, NULL);
    assert_non_null(ix);
    assert_int_equal(tr_bm25_add(ix, 1, "printer", "paper jam", NULL),
                     TR_OK);
    assert_int_equal(tr_bm25_add(ix, 2, NULL, "printer offline", NULL),
                     TR_OK);
    assert_int_equal(tr_bm25_build(ix, NULL), TR_OK);

    /*
     * BM25F: text lengths 2 and 2 (average 2), title lengths 1 and 0
     * (average 0.5).  Chunk 1 has "printer" once in its title, chunk 2
     * once in its text.
     */
    idf = log(1.0 + (2 - 2 + 0.5) / (2 + 0.5));
    assert_int_equal(tr_bm25_search(ix, "printer", 2, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].id, 1);
    w = 3.0 * 1 / (0.25 + 0.75 * 1 / 0.5);
    assert_float_equal(hits[0].score, idf * w * 2.2 / (w + 1.2), 1e-5);
    w = 1.0 / (0.25 + 0.75 * 2 / 2.0);
    assert_float_equal(hits[1].score, idf * w * 2.2 / (w + 1.2), 1e-5);
    tr_bm25_free(ix);
}

/* Collects tokens into one space-separated string. */
static enum tr_err
collect(void *ctx, const char *tok, size_t len)
{
    char *out = ctx;

    if (out[0] != '\0')
        strcat(out, " ");
    strncat(out, tok, len);
    return TR_OK;
}

static void
bm25_tokenizer_lowercases_splits_and_stems(void **state)
{
    struct tr_bm25_tokenizer *t;
    char out[256] = "";

    t = tr_bm25_tokenizer_new(NULL, NULL);
    assert_non_null(t);
    assert_int_equal(tr_bm25_tokenize(t, "Can't LOG-IN to Gmail2\xc2\xa0"
                                      "\xc3\x89t\xc3\xa9 \xf0\x9f\x98\x80ok",
                                      collect, out), TR_OK);
    assert_string_equal(out, "can t log in to gmail2 \xc3\xa9t\xc3\xa9 ok");
    tr_bm25_tokenizer_free(t);

    t = tr_bm25_tokenizer_new("english", NULL);
    assert_non_null(t);
    out[0] = '\0';
    assert_int_equal(tr_bm25_tokenize(t, "Running runs connected",
                                      collect, out), TR_OK);
    assert_string_equal(out, "run run connect");
    tr_bm25_tokenizer_free(t);
}

static void
bm25_stemming_matches_word_forms(void **state)
{
    struct tr_bm25 *plain = make_index("", 1.0);
    struct tr_bm25 *stem = make_index("english", 1.0);
    struct tr_bm25_hit hits[3];
    size_t n;

    /* "cats sitting" shares no surface form with the corpus ... */
    assert_int_equal(tr_bm25_search(plain, "cats", 3, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 0);

    /* ... but its stem "cat" is in chunks 100 and 102. */
    assert_int_equal(tr_bm25_search(stem, "cats", 3, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].id, 100);
    assert_int_equal(hits[1].id, 102);
    tr_bm25_free(plain);
    tr_bm25_free(stem);
}

static void
bm25_round_trips_through_a_buffer(void **state)
{
    struct tr_bm25 *ix = make_index("english", 2.0), *back;
    struct tr_bm25_hit a[3], b[3];
    struct tr_error err;
    struct tr_buf buf;
    size_t na, nb;

    tr_buf_init(&buf, 0);
    assert_int_equal(tr_bm25_save(ix, &buf, NULL), TR_OK);
    back = tr_bm25_load(buf.data, buf.len, &err);
    assert_non_null(back);
    assert_string_equal(tr_bm25_opts_get(back)->stem_lang, "english");
    assert_float_equal(tr_bm25_opts_get(back)->title_weight, 2.0, 0);

    const char *queries[] = {"cat", "the dog sat", "mats", "nothing"};
    for (int q = 0; q < 4; q++) {
        assert_int_equal(tr_bm25_search(ix, queries[q], 3, a, &na, NULL),
                         TR_OK);
        assert_int_equal(tr_bm25_search(back, queries[q], 3, b, &nb, NULL),
                         TR_OK);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(a[i].id, b[i].id);
            assert_true(a[i].score == b[i].score);
        }
    }
    tr_bm25_free(back);

    /* A truncated buffer and a foreign one are refused. */
    assert_null(tr_bm25_load(buf.data, buf.len - 3, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    buf.data[0] = 'X';
    assert_null(tr_bm25_load(buf.data, buf.len, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    assert_null(tr_bm25_load("", 0, &err));
    tr_buf_cleanup(&buf);
    tr_bm25_free(ix);
}

/* Append one term of a version 2 buffer: its postings' frequencies. */
static void
v2_term(struct tr_buf *b, const char *term, uint32_t n,
        const float (*post)[3])
{
    uint32_t len = (uint32_t) strlen(term);

    tr_buf_append(b, &len, sizeof(len));
    tr_buf_append(b, term, len);
    tr_buf_append(b, &n, sizeof(n));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t doc = (uint32_t) post[i][0];

        tr_buf_append(b, &doc, sizeof(doc));
        tr_buf_append(b, &post[i][1], 2 * sizeof(float));
    }
}

/*
 * The index of bm25_title_tokens_count_with_weight() as version 2 wrote
 * it: chunk lengths after the ids, and field frequencies per posting.
 */
static void
v2_buffer(struct tr_buf *b)
{
    static const float printer[][3] = {{0, 0, 1}, {1, 1, 0}};
    static const float in_0[][3] = {{0, 1, 0}}, in_1[][3] = {{1, 1, 0}};
    uint16_t version = 2;
    double set[3] = {1.2, 0.75, 3.0};
    char lang[TR_BM25_LANG_MAX] = "";
    uint64_t counts[3] = {2, 4, 5};
    int64_t ids[2] = {1, 2};
    float lens[2] = {2, 2}, tlens[2] = {1, 0};

    tr_buf_append(b, "TRBM25", 6);
    tr_buf_append(b, &version, sizeof(version));
    tr_buf_append(b, set, sizeof(set));
    tr_buf_append(b, lang, sizeof(lang));
    tr_buf_append(b, counts, sizeof(counts));
    tr_buf_append(b, ids, sizeof(ids));
    tr_buf_append(b, lens, sizeof(lens));
    tr_buf_append(b, tlens, sizeof(tlens));
    v2_term(b, "printer", 2, printer);
    v2_term(b, "paper", 1, in_0);
    v2_term(b, "jam", 1, in_0);
    v2_term(b, "offline", 1, in_1);
}

static void
bm25_reads_version_2_and_refuses_newer(void **state)
{
    struct tr_bm25 *ix;
    struct tr_bm25_hit hits[2];
    struct tr_error err;
    struct tr_buf buf;
    uint16_t version, later = 4;
    size_t n;
    double idf = log(1.0 + (2 - 2 + 0.5) / (2 + 0.5)), w;

    /* Version 2 keeps loading and scores as when it was written. */
    tr_buf_init(&buf, 0);
    v2_buffer(&buf);
    ix = tr_bm25_load(buf.data, buf.len, &err);
    if (ix == NULL)
        fail_msg("version 2 refused: %s", err.msg);
    assert_int_equal(tr_bm25_search(ix, "printer", 2, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].id, 1);
    w = 3.0 * 1 / (0.25 + 0.75 * 1 / 0.5);
    assert_float_equal(hits[0].score, idf * w * 2.2 / (w + 1.2), 1e-5);
    w = 1.0 / (0.25 + 0.75 * 2 / 2.0);
    assert_float_equal(hits[1].score, idf * w * 2.2 / (w + 1.2), 1e-5);

    /* Saved again, it is in today's version and still scores the same. */
    tr_buf_reset(&buf);
    assert_int_equal(tr_bm25_save(ix, &buf, NULL), TR_OK);
    memcpy(&version, buf.data + 6, sizeof(version));
    assert_int_equal(version, 3);
    tr_bm25_free(ix);
    ix = tr_bm25_load(buf.data, buf.len, &err);
    assert_non_null(ix);
    assert_int_equal(tr_bm25_search(ix, "printer", 2, hits, &n, NULL),
                     TR_OK);
    assert_int_equal(hits[1].id, 2);
    assert_float_equal(hits[1].score, idf * w * 2.2 / (w + 1.2), 1e-5);
    tr_bm25_free(ix);

    /* A version this code does not know is refused, not misread. */
    memcpy(buf.data + 6, &later, sizeof(later));
    assert_null(tr_bm25_load(buf.data, buf.len, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    tr_buf_cleanup(&buf);
}

static void
bm25_bad_settings_and_misuse_are_errors(void **state)
{
    struct tr_bm25_opts o;
    struct tr_bm25 *ix;
    struct tr_bm25_hit h;
    struct tr_error err;
    size_t n;

    tr_bm25_opts_default(&o);
    o.b = 1.5;
    assert_null(tr_bm25_new(&o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    tr_bm25_opts_default(&o);
    strcpy(o.stem_lang, "klingon");
    assert_null(tr_bm25_new(&o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    assert_non_null(strstr(err.msg, "klingon"));

    /* Searching before build, adding after it. */
    ix = tr_bm25_new(NULL, NULL);
    assert_non_null(ix);
    assert_int_equal(tr_bm25_add(ix, 1, NULL, NULL, &err), TR_E_INVAL);
    assert_int_equal(tr_bm25_add(ix, 1, "t", "x", NULL), TR_OK);
    assert_int_equal(tr_bm25_search(ix, "x", 1, &h, &n, &err),
                     TR_E_CONFLICT);
    assert_int_equal(tr_bm25_build(ix, NULL), TR_OK);
    assert_int_equal(tr_bm25_add(ix, 2, NULL, "y", &err), TR_E_CONFLICT);
    tr_bm25_free(ix);
}

/* Each thread checks many searches against the expected answer. */
static void *
search_many(void *arg)
{
    struct tr_bm25 *ix = arg;
    long bad = 0;

    for (int i = 0; i < 2000; i++) {
        struct tr_bm25_hit hits[3];
        size_t n = 0;

        if (tr_bm25_search(ix, i % 2 ? "dog mat" : "cat", 3, hits, &n,
                           NULL) != TR_OK)
            bad++;
        else if (n != 2 || hits[0].id != (i % 2 ? 101 : 100))
            bad++;
    }
    return (void *) bad;
}

static void
bm25_concurrent_searches_agree(void **state)
{
    struct tr_bm25 *ix = make_index("english", 1.0);
    pthread_t th[2];
    void *bad;

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, search_many, ix), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_int_equal((long) bad, 0);
    }
    tr_bm25_free(ix);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(bm25_scores_match_hand_computation),
    cmocka_unit_test(bm25_title_tokens_count_with_weight),
    cmocka_unit_test(bm25_tokenizer_lowercases_splits_and_stems),
    cmocka_unit_test(bm25_stemming_matches_word_forms),
    cmocka_unit_test(bm25_round_trips_through_a_buffer),
    cmocka_unit_test(bm25_reads_version_2_and_refuses_newer),
    cmocka_unit_test(bm25_bad_settings_and_misuse_are_errors),
    cmocka_unit_test(bm25_concurrent_searches_agree),
};

TR_TEST_MAIN(cases)
