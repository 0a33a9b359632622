/*
 * test_embed_local.c
 *      The local embedder: determinism, serialization (and models of the
 *      earlier version), the byte projection, training threads, nearest
 *      neighbours on a tiny corpus and refusal of bad input.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <math.h>
#include <stdlib.h>

#include "embed.h"

/* Eight short help articles on distinct subjects, two per subject. */
static const char *const corpus[] = {
    "How to reset your password: open settings, choose security and "
    "click reset password. A reset link is sent to your email.",
    "Forgot password? Use the reset link on the login page and check "
    "your email for the password reset message.",
    "Exporting invoices: go to billing, select invoices and press export "
    "to download a CSV file of every invoice.",
    "Billing history and invoice download: each invoice can be saved as "
    "PDF from the billing page.",
    "Two-factor authentication adds a code from your phone app at login. "
    "Enable it under security settings.",
    "Lost your phone with the authenticator app? Use a backup code to "
    "login and disable two-factor authentication.",
    "Delete your account permanently from the account page; all data and "
    "projects are removed after thirty days.",
    "Closing an account: account deletion removes projects and data, "
    "and cannot be undone after thirty days.",
};

#define N_DOCS 8

static struct tr_embedder *
train_small(int dim)
{
    struct tr_embed_local_opts o;
    struct tr_embedder *e;
    struct tr_error err;

    tr_embed_local_opts_default(&o);
    o.dim = dim;
    o.min_df = 1;
    e = tr_embed_local_train(corpus, N_DOCS, &o, &err);
    if (e == NULL)
        fail_msg("training failed: %s", err.msg);
    return e;
}

static double
dot(const float *a, const float *b, int dim)
{
    double s = 0.0;

    for (int i = 0; i < dim; i++)
        s += (double) a[i] * b[i];
    return s;
}

static void
embed_local_is_deterministic_and_round_trips(void **state)
{
    struct tr_embedder *a = train_small(16), *b = train_small(16), *c;
    float va[N_DOCS * 16], vb[N_DOCS * 16], vc[N_DOCS * 16];
    struct tr_error err;
    struct tr_buf buf;

    assert_string_equal(tr_embedder_name(a), "local");
    assert_int_equal(tr_embedder_dim(a), 16);
    assert_int_equal(tr_embedder_embed(a, corpus, N_DOCS, 16, va, NULL),
                     TR_OK);
    assert_int_equal(tr_embedder_embed(b, corpus, N_DOCS, 16, vb, NULL),
                     TR_OK);
    assert_memory_equal(va, vb, sizeof(va));

    /* Rows are unit vectors. */
    for (int i = 0; i < N_DOCS; i++)
        assert_float_equal(dot(va + i * 16, va + i * 16, 16), 1.0, 1e-5);

    /* A saved and loaded model embeds identically. */
    tr_buf_init(&buf, 0);
    assert_int_equal(tr_embedder_save(a, &buf, NULL), TR_OK);
    c = tr_embed_local_load(buf.data, buf.len, &err);
    assert_non_null(c);
    assert_int_equal(tr_embedder_embed(c, corpus, N_DOCS, 16, vc, NULL),
                     TR_OK);
    assert_memory_equal(va, vc, sizeof(va));

    /* Damaged bytes are refused. */
    assert_null(tr_embed_local_load(buf.data, buf.len - 1, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    buf.data[3] = '?';
    assert_null(tr_embed_local_load(buf.data, buf.len, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    tr_buf_cleanup(&buf);
    tr_embedder_free(a);
    tr_embedder_free(b);
    tr_embedder_free(c);
}

/* Number of the corpus text nearest to vector `q`. */
static int
nearest(const float *docs, const float *q, int dim)
{
    int best = -1;
    double bs = -2.0;

    for (int i = 0; i < N_DOCS; i++) {
        double s = dot(docs + i * dim, q, dim);

        if (s > bs) {
            bs = s;
            best = i;
        }
    }
    return best;
}

static void
embed_local_neighbours_make_sense(void **state)
{
    struct tr_embedder *e = train_small(8);
    float v[N_DOCS * 8], q[8];
    const char *para[] = {
        "I can't remember my password, how do I get a new one by email?",
        "where can I download my invoices as a file",
        "I lost my phone and cannot get the login code",
    };
    const int want[][2] = {{0, 1}, {2, 3}, {4, 5}};

    assert_int_equal(tr_embedder_embed(e, corpus, N_DOCS, 8, v, NULL),
                     TR_OK);
    for (int i = 0; i < N_DOCS; i++)
        assert_int_equal(nearest(v, v + i * 8, 8), i);

    /* A paraphrase lands on one of the two texts of its subject. */
    for (int p = 0; p < 3; p++) {
        int n;

        assert_int_equal(tr_embedder_embed(e, &para[p], 1, 8, q, NULL),
                         TR_OK);
        n = nearest(v, q, 8);
        assert_true(n == want[p][0] || n == want[p][1]);
    }

    /* A text with no known feature gives a zero vector. */
    const char *unknown = "zzqx";
    assert_int_equal(tr_embedder_embed(e, &unknown, 1, 8, q, NULL), TR_OK);
    assert_float_equal(dot(q, q, 8), 0.0, 0.0);
    tr_embedder_free(e);
}

/* Train on the corpus with `bits` of projection and `threads`. */
static struct tr_embedder *
train_with(int dim, int bits, int threads)
{
    struct tr_embed_local_opts o;
    struct tr_embedder *e;
    struct tr_error err;

    tr_embed_local_opts_default(&o);
    o.dim = dim;
    o.min_df = 1;
    o.proj_bits = bits;
    o.threads = threads;
    e = tr_embed_local_train(corpus, N_DOCS, &o, &err);
    if (e == NULL)
        fail_msg("training failed: %s", err.msg);
    return e;
}

static size_t
saved_len(const struct tr_embedder *e)
{
    struct tr_buf buf;
    size_t n;

    tr_buf_init(&buf, 0);
    assert_int_equal(tr_embedder_save(e, &buf, NULL), TR_OK);
    n = buf.len;
    tr_buf_cleanup(&buf);
    return n;
}

static void
embed_local_bytes_projection_follows_floats(void **state)
{
    struct tr_embedder *f = train_with(16, 32, 1);
    struct tr_embedder *q = train_with(16, 8, 1);
    float vf[N_DOCS * 16], vq[N_DOCS * 16];

    assert_int_equal(tr_embedder_embed(f, corpus, N_DOCS, 16, vf, NULL),
                     TR_OK);
    assert_int_equal(tr_embedder_embed(q, corpus, N_DOCS, 16, vq, NULL),
                     TR_OK);

    /* Rounding to 255 levels a row moves each vector only a little. */
    for (int i = 0; i < N_DOCS; i++) {
        assert_true(dot(vf + i * 16, vq + i * 16, 16) > 0.999);
        assert_int_equal(nearest(vq, vq + i * 16, 16), i);
    }

    /* The projection, most of the model, shrinks to a quarter or so. */
    assert_true(saved_len(q) * 2 < saved_len(f));
    tr_embedder_free(f);
    tr_embedder_free(q);
}

static void
embed_local_threads_change_nothing(void **state)
{
    struct tr_embedder *one = train_with(8, 8, 1);
    struct tr_embedder *three = train_with(8, 8, 3);
    float v1[N_DOCS * 8], v3[N_DOCS * 8];
    struct tr_buf a, b;

    /* The same model, byte for byte, whatever the thread count. */
    tr_buf_init(&a, 0);
    tr_buf_init(&b, 0);
    assert_int_equal(tr_embedder_save(one, &a, NULL), TR_OK);
    assert_int_equal(tr_embedder_save(three, &b, NULL), TR_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);

    /* A batch shared among threads gives the rows of one call. */
    assert_int_equal(tr_embedder_embed(one, corpus, N_DOCS, 8, v1, NULL),
                     TR_OK);
    assert_int_equal(tr_embedder_embed_many(one, corpus, N_DOCS, 8, v3, 3,
                                            NULL), TR_OK);
    assert_memory_equal(v1, v3, sizeof(v1));
    assert_int_equal(tr_embedder_embed_many(one, corpus, N_DOCS, 16, v3, 3,
                                            NULL), TR_E_INVAL);
    tr_buf_cleanup(&a);
    tr_buf_cleanup(&b);
    tr_embedder_free(one);
    tr_embedder_free(three);
}

/*
 * Version 1 models (floats, six integer options) still load: one is
 * made from a float model of today's version by dropping the seventh
 * option, which sits after the magic, the version and six integers.
 */
static void
embed_local_reads_version_1_and_refuses_newer(void **state)
{
    struct tr_embedder *f = train_with(8, 32, 1), *old;
    float vf[N_DOCS * 8], vo[N_DOCS * 8];
    size_t at = 6 + 2 + 6 * sizeof(int32_t);
    uint16_t version = 1;
    struct tr_error err;
    struct tr_buf buf;

    tr_buf_init(&buf, 0);
    assert_int_equal(tr_embedder_save(f, &buf, NULL), TR_OK);
    memmove(buf.data + at, buf.data + at + 4, buf.len - at - 4);
    buf.len -= 4;
    memcpy(buf.data + 6, &version, sizeof(version));
    old = tr_embed_local_load(buf.data, buf.len, &err);
    if (old == NULL)
        fail_msg("version 1 refused: %s", err.msg);
    assert_int_equal(tr_embedder_embed(f, corpus, N_DOCS, 8, vf, NULL),
                     TR_OK);
    assert_int_equal(tr_embedder_embed(old, corpus, N_DOCS, 8, vo, NULL),
                     TR_OK);
    assert_memory_equal(vf, vo, sizeof(vf));

    /* A later version is refused with a parse error. */
    version = 3;
    memcpy(buf.data + 6, &version, sizeof(version));
    assert_null(tr_embed_local_load(buf.data, buf.len, &err));
    assert_int_equal(err.code, TR_E_PARSE);
    tr_buf_cleanup(&buf);
    tr_embedder_free(f);
    tr_embedder_free(old);
}

static void
embed_bad_input_is_refused(void **state)
{
    struct tr_embed_local_opts o;
    struct tr_embedder *e = train_small(8);
    struct tr_error err;
    float v[16];

    /* The caller's dimension must be the embedder's. */
    assert_int_equal(tr_embedder_embed(e, corpus, 1, 16, v, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "8 dimensions"));
    tr_embedder_free(e);

    assert_null(tr_embed_local_train(corpus, 0, NULL, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    tr_embed_local_opts_default(&o);
    o.dim = 0;
    assert_null(tr_embed_local_train(corpus, N_DOCS, &o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    tr_embed_local_opts_default(&o);
    o.ngram_min = 6;
    o.ngram_max = 3;
    assert_null(tr_embed_local_train(corpus, N_DOCS, &o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    tr_embed_local_opts_default(&o);
    strcpy(o.stem_lang, "klingon");
    assert_null(tr_embed_local_train(corpus, N_DOCS, &o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    tr_embed_local_opts_default(&o);
    o.proj_bits = 16;
    assert_null(tr_embed_local_train(corpus, N_DOCS, &o, &err));
    assert_int_equal(err.code, TR_E_INVAL);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(embed_local_is_deterministic_and_round_trips),
    cmocka_unit_test(embed_local_neighbours_make_sense),
    cmocka_unit_test(embed_local_bytes_projection_follows_floats),
    cmocka_unit_test(embed_local_threads_change_nothing),
    cmocka_unit_test(embed_local_reads_version_1_and_refuses_newer),
    cmocka_unit_test(embed_bad_input_is_refused),
};

TR_TEST_MAIN(cases)
