/*
 * test_tok_spm.c
 *      Tests of the sentencepiece bridge: training from memory, small
 *      corpora, determinism, encoding round trips, storing and loading.
 *
 * The corpus is tests/data/index/kb_articles.txt: ten short help-centre
 * articles separated by lines holding "%%".
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_test.h"
#include "tok.h"

#define MAX_ARTICLES 32

struct corpus {
    char *data;
    const char *texts[MAX_ARTICLES];
    size_t n;
};

/*
 * Load the fixture and split it into articles (in place).
 */
static void
corpus_load(struct corpus *c)
{
    const char *src = getenv("TR_SOURCE_DIR");
    char path[1024];
    FILE *f;
    long size;
    char *p;

    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/tests/data/index/kb_articles.txt",
             src);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->data = malloc((size_t) size + 1);
    assert_non_null(c->data);
    assert_int_equal(fread(c->data, 1, (size_t) size, f), (size_t) size);
    c->data[size] = '\0';
    fclose(f);

    c->n = 0;
    p = c->data;
    while (p != NULL && c->n < MAX_ARTICLES) {
        char *sep = strstr(p, "\n%%\n");

        c->texts[c->n++] = p;
        if (sep == NULL)
            break;
        *sep = '\0';
        p = sep + 4;
    }
}

static struct tr_tok_model *
train_corpus(const struct corpus *c, int vocab,
             struct tr_tok_train_info *info)
{
    struct tr_tok_train_opts o = {.vocab_size = vocab};
    struct tr_error err = {0};
    struct tr_tok_model *m;

    m = tr_tok_model_train(c->texts, c->n, &o, info, &err);
    if (m == NULL)
        fail_msg("training failed: %s", err.msg);
    return m;
}

/*
 * Encode then decode `text` and check that the text comes back.
 */
static void
check_round_trip(const struct tr_tok_model *m, const char *text)
{
    struct tr_error err = {0};
    int *ids = NULL;
    size_t n_ids = 0;
    char *back = NULL;
    size_t back_len = 0;

    assert_int_equal(tr_tok_encode_ids(m, text, strlen(text), &ids, &n_ids,
                                       &err), TR_OK);
    assert_true(n_ids > 0);
    assert_int_equal(tr_tok_decode_ids(m, ids, n_ids, &back, &back_len,
                                       &err), TR_OK);
    assert_string_equal(back, text);
    assert_int_equal(back_len, strlen(text));
    assert_int_equal(tr_tok_count((void *) m, text, strlen(text)), n_ids);
    free(ids);
    free(back);
}

static void
tok_train_encode_decode_round_trip(void **state)
{
    struct tr_tok_train_info info;
    struct corpus c;
    struct tr_tok_model *m;

    corpus_load(&c);
    m = train_corpus(&c, 300, &info);

    assert_int_equal(info.vocab_requested, 300);
    assert_int_equal(info.vocab_size, 300);
    assert_int_equal(tr_tok_model_size(m), 300);
    assert_int_equal(info.n_attempts, 1);
    assert_true(info.n_sentences >= 20);

    check_round_trip(m, "Refunds go back to the card that paid.");
    check_round_trip(m, "An unseen sentence about zebras, 42 times.");

    /* A frequent word of the corpus is a piece or a few, not letters. */
    assert_true(tr_tok_count(m, "billing", 7) <= 3);
    assert_null(tr_tok_model_piece(m, -1));
    assert_null(tr_tok_model_piece(m, 300));
    assert_non_null(tr_tok_model_piece(m, 299));

    tr_tok_model_free(m);
    free(c.data);
}

static void
tok_unseen_characters_need_byte_fallback(void **state)
{
    struct tr_tok_train_opts o = {.vocab_size = 400};
    struct tr_error err = {0};
    struct corpus c;
    struct tr_tok_model *m;
    const char *text = "Grüße! ¿Qué?";
    int *ids = NULL;
    size_t n_ids = 0;
    char *back = NULL;

    corpus_load(&c);

    /* Without byte fallback, characters never seen become "unknown". */
    m = tr_tok_model_train(c.texts, c.n, &o, NULL, &err);
    assert_non_null(m);
    assert_int_equal(tr_tok_encode_ids(m, text, strlen(text), &ids, &n_ids,
                                       &err), TR_OK);
    assert_int_equal(tr_tok_decode_ids(m, ids, n_ids, &back, NULL, &err),
                     TR_OK);
    assert_string_not_equal(back, text);
    assert_non_null(strstr(back, "\xe2\x81\x87"));
    free(ids);
    free(back);
    tr_tok_model_free(m);

    /* With it, they are spelt as bytes and come back intact. */
    o.byte_fallback = 1;
    m = tr_tok_model_train(c.texts, c.n, &o, NULL, &err);
    if (m == NULL)
        fail_msg("byte fallback training failed: %s", err.msg);
    check_round_trip(m, text);
    tr_tok_model_free(m);
    free(c.data);
}

struct joined {
    char buf[512];
    size_t len;
    int n;
};

static int
join_piece(void *ud, const char *piece, size_t piece_len, int id)
{
    struct joined *j = ud;

    assert_true(id >= 0);
    assert_true(j->len + piece_len < sizeof(j->buf));
    memcpy(j->buf + j->len, piece, piece_len);
    j->len += piece_len;
    j->buf[j->len] = '\0';
    j->n++;
    return 0;
}

static void
tok_pieces_spell_the_text(void **state)
{
    struct tr_error err = {0};
    struct joined j = {.len = 0};
    struct corpus c;
    struct tr_tok_model *m;
    const char *text = "reset your password";

    corpus_load(&c);
    m = train_corpus(&c, 300, NULL);

    /* Pieces mark a word start with U+2581; every byte is accounted. */
    assert_int_equal(tr_tok_encode_pieces(m, text, strlen(text), join_piece,
                                          &j, &err), TR_OK);
    assert_int_equal(j.n, (int) tr_tok_count(m, text, strlen(text)));
    assert_string_equal(j.buf, "\xe2\x96\x81reset\xe2\x96\x81your"
                        "\xe2\x96\x81password");

    tr_tok_model_free(m);
    free(c.data);
}

static void
tok_training_is_deterministic(void **state)
{
    struct tr_error err = {0};
    struct corpus c;
    struct tr_tok_model *a, *b;
    void *buf_a = NULL, *buf_b = NULL;
    size_t len_a = 0, len_b = 0;
    int *ids_a = NULL, *ids_b = NULL;
    size_t n_a = 0, n_b = 0;
    const char *text = "Administrators invite team members from Settings.";

    corpus_load(&c);
    a = train_corpus(&c, 250, NULL);
    b = train_corpus(&c, 250, NULL);

    assert_int_equal(tr_tok_model_serialize(a, &buf_a, &len_a, &err), TR_OK);
    assert_int_equal(tr_tok_model_serialize(b, &buf_b, &len_b, &err), TR_OK);
    assert_int_equal(len_a, len_b);
    assert_memory_equal(buf_a, buf_b, len_a);

    assert_int_equal(tr_tok_encode_ids(a, text, strlen(text), &ids_a, &n_a,
                                       &err), TR_OK);
    assert_int_equal(tr_tok_encode_ids(b, text, strlen(text), &ids_b, &n_b,
                                       &err), TR_OK);
    assert_int_equal(n_a, n_b);
    assert_memory_equal(ids_a, ids_b, n_a * sizeof(int));

    free(ids_a);
    free(ids_b);
    free(buf_a);
    free(buf_b);
    tr_tok_model_free(a);
    tr_tok_model_free(b);
    free(c.data);
}

static void
tok_tiny_corpus_gets_smaller_vocab(void **state)
{
    static const char *const tiny[] = {
        "Refunds are paid within five days.",
        "Reset your password from the sign-in page.",
        "Invoices show the billing address.",
    };
    struct tr_tok_train_opts o = {.vocab_size = 8000, .min_vocab_size = 16};
    struct tr_tok_train_info info;
    struct tr_error err = {0};
    struct tr_tok_model *m;

    /*
     * Three sentences cannot support 8000 pieces: the trainer refuses,
     * names the largest size it can do, and the bridge trains again with
     * that size.
     */
    m = tr_tok_model_train(tiny, 3, &o, &info, &err);
    if (m == NULL)
        fail_msg("tiny corpus failed: %s", err.msg);
    assert_int_equal(info.vocab_requested, 8000);
    assert_true(info.n_attempts >= 2);
    assert_true(info.vocab_size < 8000);
    assert_int_equal(info.vocab_size, tr_tok_model_size(m));
    check_round_trip(m, "Refunds are paid within five days.");
    tr_tok_model_free(m);
}

static void
tok_tiny_corpus_below_minimum_relaxes_limit(void **state)
{
    static const char *const tiny[] = {"abc abd", "abc"};
    struct tr_tok_train_opts o = {.vocab_size = 8000,
                                  .min_vocab_size = 1000};
    struct tr_tok_train_info info;
    struct tr_error err = {0};
    struct tr_tok_model *m;

    /*
     * The offered size is under min_vocab_size, so the bridge keeps the
     * requested size as a soft limit and takes what the corpus gives.
     */
    m = tr_tok_model_train(tiny, 2, &o, &info, &err);
    if (m == NULL)
        fail_msg("tiny corpus failed: %s", err.msg);
    assert_int_equal(info.hard_limit, 0);
    assert_true(info.vocab_size < 1000);
    check_round_trip(m, "abc abd");
    tr_tok_model_free(m);
}

static void
tok_train_without_text_is_rejected(void **state)
{
    static const char *const blank[] = {"", "  \n\t\n", NULL};
    struct tr_error err = {0};

    assert_null(tr_tok_model_train(blank, 3, NULL, NULL, &err));
    assert_int_equal(err.code, TR_E_INVAL);
}

static void
tok_model_survives_buffer_and_file(void **state)
{
    struct tr_error err = {0};
    struct corpus c;
    struct tr_tok_model *m, *from_buf, *from_file;
    void *buf = NULL;
    size_t len = 0;
    char path[] = "/tmp/tr_tok_XXXXXX";
    int fd;
    const char *text = "Webhooks notify your systems when tickets change.";

    corpus_load(&c);
    m = train_corpus(&c, 300, NULL);

    assert_int_equal(tr_tok_model_serialize(m, &buf, &len, &err), TR_OK);
    from_buf = tr_tok_model_load(buf, len, &err);
    assert_non_null(from_buf);

    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tr_tok_model_write(m, path, &err), TR_OK);
    from_file = tr_tok_model_load_file(path, &err);
    assert_non_null(from_file);
    unlink(path);

    assert_int_equal(tr_tok_model_size(from_buf), tr_tok_model_size(m));
    assert_int_equal(tr_tok_model_size(from_file), tr_tok_model_size(m));
    assert_int_equal(tr_tok_count(from_buf, text, strlen(text)),
                     tr_tok_count(m, text, strlen(text)));
    assert_int_equal(tr_tok_count(from_file, text, strlen(text)),
                     tr_tok_count(m, text, strlen(text)));
    check_round_trip(from_buf, text);

    tr_tok_model_free(from_file);
    tr_tok_model_free(from_buf);
    tr_tok_model_free(m);
    free(buf);
    free(c.data);
}

static void
tok_load_errors_are_reported(void **state)
{
    struct tr_error err = {0};
    char path[] = "/tmp/tr_tok_XXXXXX";
    static const char garbage[] = "this is not a sentencepiece model";
    int fd;

    assert_null(tr_tok_model_load_file("/nonexistent/x.model", &err));
    assert_int_equal(err.code, TR_E_NOTFOUND);

    assert_null(tr_tok_model_load(garbage, sizeof(garbage), &err));
    assert_int_equal(err.code, TR_E_INDEX);

    assert_null(tr_tok_model_load(garbage, 0, &err));
    assert_int_equal(err.code, TR_E_INDEX);

    /* An empty file is not a model either. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_null(tr_tok_model_load_file(path, &err));
    assert_int_equal(err.code, TR_E_INDEX);
    unlink(path);

    assert_int_equal(tr_tok_model_write(NULL, path, &err), TR_E_INVAL);
}

static void
tok_decode_rejects_bad_ids(void **state)
{
    struct tr_error err = {0};
    struct corpus c;
    struct tr_tok_model *m;
    int ids[] = {5, 100000};
    char *out = NULL;

    corpus_load(&c);
    m = train_corpus(&c, 300, NULL);
    assert_int_equal(tr_tok_decode_ids(m, ids, 2, &out, NULL, &err),
                     TR_E_INDEX);
    assert_null(out);
    tr_tok_model_free(m);
    free(c.data);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(tok_train_encode_decode_round_trip),
    cmocka_unit_test(tok_unseen_characters_need_byte_fallback),
    cmocka_unit_test(tok_pieces_spell_the_text),
    cmocka_unit_test(tok_training_is_deterministic),
    cmocka_unit_test(tok_tiny_corpus_gets_smaller_vocab),
    cmocka_unit_test(tok_tiny_corpus_below_minimum_relaxes_limit),
    cmocka_unit_test(tok_train_without_text_is_rejected),
    cmocka_unit_test(tok_model_survives_buffer_and_file),
    cmocka_unit_test(tok_load_errors_are_reported),
    cmocka_unit_test(tok_decode_rejects_bad_ids),
};

TR_TEST_MAIN(cases)
