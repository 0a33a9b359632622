/*
 * test_embed_openai.c
 *      The "openai" embedder against the fake model server.
 *
 * The fake embeds a text as a hashed bag of its lower-cased words, so
 * two texts with the same words get the same vector and others do not;
 * it records every request, so the cases see the batches that were
 * sent.  Each case starts its own fake and stops it by pid.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "embed.h"
#include "test_llm_fx.h"

#define DIM 48

static struct tr_embedder *
embedder(struct fm_fx *fx, const char *key, size_t batch, long timeout_ms)
{
    struct tr_embed_openai_opts o;
    struct tr_embedder *e;
    struct tr_error err;
    char base[96];

    tr_embed_openai_opts_default(&o);
    snprintf(base, sizeof(base), "%s/v1", fx->base);
    o.base_url = base;
    o.api_key = key;
    o.model = "fake-embed";
    o.dim = DIM;
    o.send_dimensions = true;
    o.max_batch = batch;
    o.timeout_ms = timeout_ms;
    o.policy = &fx->policy;
    e = tr_embed_openai_new(&o, &err);
    assert_non_null(e);
    return e;
}

static bool
rows_equal(const float *a, const float *b)
{
    return memcmp(a, b, sizeof(float) * DIM) == 0;
}

static bool
row_zero(const float *a)
{
    for (int i = 0; i < DIM; i++)
        if (a[i] != 0.0f)
            return false;
    return true;
}

static void
embed_openai_batches_and_maps_rows_by_index(void **state)
{
    static const char *const texts[] = {
        "printer offline", "refund my order", "offline printer",
        "reset password", "", "Printer OFFLINE", "invoice missing",
        "  ", "refund order my", "shipping delay",
    };
    float out[10 * DIM];
    struct fm_fx fx;
    struct tr_embedder *e;
    char *rec;

    fm_start(&fx, 64);
    e = embedder(&fx, FM_KEY, 4, 10000);
    assert_string_equal(tr_embedder_name(e), "openai:fake-embed");

    /* Every answer lists its rows backwards: rows go by index. */
    fm_control(&fx, "fail", "{\"mode\":\"reverse\",\"count\":10}");
    assert_int_equal(tr_embedder_embed(e, texts, 10, DIM, out, NULL),
                     TR_OK);

    /* Batches of 4, 4 and 2 texts; the blank ones are not sent. */
    assert_int_equal(fm_n_requests(&fx), 3);
    rec = fm_record(&fx);
    assert_int_equal(fm_count(rec, "\\\"encoding_format\\\":"
                                   "\\\"float\\\""), 3);
    assert_int_equal(fm_count(rec, "\\\"dimensions\\\":48"), 3);
    assert_null(strstr(rec, "\\\"\\\""));
    assert_int_equal(fm_count(rec, "\"auth\":\"bearer\""), 3);
    free(rec);

    /* Same words, same vector; other words, another one. */
    assert_true(rows_equal(out, out + 2 * DIM));
    assert_true(rows_equal(out, out + 5 * DIM));
    assert_true(rows_equal(out + 1 * DIM, out + 8 * DIM));
    assert_false(rows_equal(out, out + 1 * DIM));
    assert_false(rows_equal(out + 3 * DIM, out + 6 * DIM));
    assert_true(row_zero(out + 4 * DIM));
    assert_true(row_zero(out + 7 * DIM));
    assert_false(row_zero(out + 9 * DIM));

    tr_embedder_free(e);
    fm_stop(&fx);
}

static void
embed_openai_dimension_mismatch_is_refused(void **state)
{
    static const char *const texts[] = {"printer offline"};
    struct tr_embed_openai_opts o;
    struct tr_embedder *e;
    struct tr_error err;
    struct fm_fx fx;
    float out[2 * DIM];
    char base[96];

    fm_start(&fx, 64);
    e = embedder(&fx, FM_KEY, 8, 10000);

    /* The service answers one dimension too many. */
    fm_control(&fx, "fail", "{\"mode\":\"wrong_dim\"}");
    assert_int_equal(tr_embedder_embed(e, texts, 1, DIM, out, &err),
                     TR_E_MODEL);
    assert_non_null(strstr(err.msg, "49 dimensions, expected 48"));

    /* The caller expects another dimension than the embedder's. */
    assert_int_equal(tr_embedder_embed(e, texts, 1, DIM + 1, out, &err),
                     TR_E_INVAL);
    tr_embedder_free(e);

    /* Without "dimensions" the fake answers its default of 64. */
    tr_embed_openai_opts_default(&o);
    snprintf(base, sizeof(base), "%s/v1", fx.base);
    o.base_url = base;
    o.api_key = FM_KEY;
    o.model = "fake-embed";
    o.dim = DIM;
    e = tr_embed_openai_new(&o, &err);
    assert_non_null(e);
    assert_int_equal(tr_embedder_embed(e, texts, 1, DIM, out, &err),
                     TR_E_MODEL);
    assert_non_null(strstr(err.msg, "64 dimensions, expected 48"));

    tr_embedder_free(e);
    fm_stop(&fx);
}

static void
embed_openai_retries_then_fails_clearly(void **state)
{
    static const char *const texts[] = {"printer offline", "refund"};
    struct tr_embedder *e;
    struct tr_error err;
    struct fm_fx fx;
    float out[2 * DIM];

    fm_start(&fx, 64);
    e = embedder(&fx, FM_KEY, 8, 300);

    /* One 429 with Retry-After: waited out, then answered. */
    fm_control(&fx, "fail", "{\"status\":429,\"retry_after\":\"2\"}");
    assert_int_equal(tr_embedder_embed(e, texts, 2, DIM, out, &err),
                     TR_OK);
    assert_int_equal(fx.n_waits, 1);
    assert_true(fx.waits[0] == 2.0);
    assert_false(row_zero(out));

    /* A storm of 500s: three attempts, then a clear error. */
    fm_control(&fx, "reset", NULL);
    fm_control(&fx, "fail", "{\"status\":500,\"count\":20}");
    assert_int_equal(tr_embedder_embed(e, texts, 2, DIM, out, &err),
                     TR_E_HTTP_UPSTREAM);
    assert_non_null(strstr(err.msg, "HTTP 500 after 3 attempts"));
    assert_int_equal(fm_n_requests(&fx), 3);

    /* A service that never answers in time. */
    fm_control(&fx, "reset", NULL);
    fm_control(&fx, "fail", "{\"mode\":\"hang\",\"delay_ms\":3000,"
                            "\"count\":5}");
    assert_int_equal(tr_embedder_embed(e, texts, 2, DIM, out, &err),
                     TR_E_TIMEOUT);
    assert_non_null(strstr(err.msg, "within 300 ms"));

    /* A truncated answer body. */
    fm_control(&fx, "reset", NULL);
    fm_control(&fx, "fail", "{\"mode\":\"malformed\"}");
    assert_int_equal(tr_embedder_embed(e, texts, 2, DIM, out, &err),
                     TR_E_MODEL);

    tr_embedder_free(e);
    fm_stop(&fx);
}

static void
embed_openai_refused_key_is_never_repeated(void **state)
{
    static const char wrong[] = "sk-embed-wrong-secret-55555";
    static const char *const texts[] = {"printer offline"};
    struct tr_embedder *e;
    struct tr_error err;
    struct fm_fx fx;
    float out[DIM];
    char *rec;

    fm_start(&fx, 64);
    e = embedder(&fx, wrong, 8, 10000);
    assert_int_equal(tr_embedder_embed(e, texts, 1, DIM, out, &err),
                     TR_E_AUTH);
    assert_null(strstr(err.msg, wrong));
    assert_non_null(strstr(err.msg, "HTTP 401"));

    /* The key did travel, in the Authorization header. */
    rec = fm_record(&fx);
    assert_non_null(strstr(rec, "\"auth\":\"bearer\""));
    assert_non_null(strstr(rec, "\"status\":401"));
    free(rec);

    tr_embedder_free(e);
    fm_stop(&fx);
}

static void
embed_openai_bad_options_are_refused(void **state)
{
    struct tr_embed_openai_opts o;
    struct tr_error err;

    tr_embed_openai_opts_default(&o);
    o.dim = 8;
    assert_null(tr_embed_openai_new(&o, &err));
    assert_int_equal(err.code, TR_E_CONF);
    o.model = "m";
    o.dim = 0;
    assert_null(tr_embed_openai_new(&o, &err));
    assert_int_equal(err.code, TR_E_CONF);
    o.dim = 8;
    o.max_batch = 4096;
    assert_null(tr_embed_openai_new(&o, &err));
    assert_int_equal(err.code, TR_E_CONF);
    o.max_batch = 16;
    o.base_url = "file:///etc";
    assert_null(tr_embed_openai_new(&o, &err));
    assert_int_equal(err.code, TR_E_CONF);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(embed_openai_batches_and_maps_rows_by_index),
    cmocka_unit_test(embed_openai_dimension_mismatch_is_refused),
    cmocka_unit_test(embed_openai_retries_then_fails_clearly),
    cmocka_unit_test(embed_openai_refused_key_is_never_repeated),
    cmocka_unit_test(embed_openai_bad_options_are_refused),
};

TR_TEST_MAIN(cases)
