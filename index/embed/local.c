/*
 * local.c
 *      The "local" embedder: TF-IDF features of words and character
 *      n-grams, projected by a truncated SVD learnt from the corpus.
 *
 * Features are hashed into buckets: the word block and the n-gram block
 * each have 2^LOCAL_HASH_BITS buckets, told apart by one high bit.  A
 * text's vector is (1 + ln tf) * idf per kept feature, each block scaled
 * to unit length and then to its weight, so that the many n-grams do not
 * drown the few words.  The model is the sorted list of kept buckets,
 * their IDFs and the projection matrix; it is read-only after training,
 * and each embed call makes its own tokenizer, so calls may run in
 * parallel.
 *
 * The projection is kept either in floats or, by default, as one signed
 * byte per entry with a float scale per row (the row's largest magnitude
 * over 127): a quarter of the memory, and the arithmetic stays in
 * floats.  Training passes over the sample run on several threads, each
 * on its own slice of the texts, and are merged in text order, so the
 * model does not depend on the thread count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"
#include "embed_int.h"

#define LOCAL_HASH_BITS 20
#define LOCAL_HASH_MASK ((1u << LOCAL_HASH_BITS) - 1)
#define LOCAL_NGRAM_BIT (1u << LOCAL_HASH_BITS)
#define LOCAL_N_BUCKETS (2u << LOCAL_HASH_BITS)

struct local_model {
    struct tr_embed_local_opts opts;
    size_t n_cols;
    uint32_t *buckets;      /* kept buckets, increasing */
    float *idf;             /* per kept bucket */
    float *proj;            /* n_cols x dim, row-major; NULL with codes */
    int8_t *codes;          /* n_cols x dim when proj_bits is 8 */
    float *scale;           /* per row of codes */
};

/* The features of one text: buckets with counts, then weights. */
struct feats {
    uint32_t *b;
    float *w;
    size_t n;
    size_t cap;
};

/* State of the tokenizer callback while features are collected. */
struct feat_ctx {
    const struct tr_embed_local_opts *o;
    struct feats *f;
};

void
tr_embed_local_opts_default(struct tr_embed_local_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dim = 256;
    o->ngram_min = 3;
    o->ngram_max = 5;
    o->word_weight = 1.0f;
    o->ngram_weight = 1.0f;
    o->min_df = 2;
    o->max_features = 65536;
    o->max_train = 5000;
    o->power_iters = 2;
    o->proj_bits = 8;
    o->threads = 0;
    o->seed = 0x7472696167650001ULL;
    strcpy(o->stem_lang, "english");
}

/* FNV-1a of `len` bytes, continuing from `h`. */
static uint32_t
hash_bytes(uint32_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }
    return h;
}

static int
push_bucket(struct feats *f, uint32_t b)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        void *p = realloc(f->b, cap * sizeof(*f->b));

        if (p == NULL)
            return -1;
        f->b = p;
        f->cap = cap;
    }
    f->b[f->n++] = b;
    return 0;
}

/* One word: its own feature, then its n-grams with boundary marks. */
static enum tr_err
feat_token(void *arg, const char *tok, size_t len)
{
    struct feat_ctx *c = arg;
    char w[TR_BM25_TOKEN_MAX + 8];
    size_t wl = len + 2;

    if (push_bucket(c->f, hash_bytes(2166136261u, tok, len)
                    & LOCAL_HASH_MASK) != 0)
        return TR_E_NOMEM;
    w[0] = '<';
    memcpy(w + 1, tok, len);
    w[len + 1] = '>';
    for (int n = c->o->ngram_min; n <= c->o->ngram_max && n > 0; n++) {
        for (size_t i = 0; i + (size_t) n <= wl; i++) {
            uint32_t h = hash_bytes(2166136261u, w + i, (size_t) n);

            if (push_bucket(c->f, (h & LOCAL_HASH_MASK) | LOCAL_NGRAM_BIT)
                != 0)
                return TR_E_NOMEM;
        }
    }
    return TR_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}

/*
 * Collect the distinct buckets of `text` into `f`, each with its count
 * in f->w.  `tok` is the caller's tokenizer.
 */
static enum tr_err
extract(const struct tr_embed_local_opts *o, struct tr_bm25_tokenizer *tok,
        const char *text, struct feats *f)
{
    struct feat_ctx c = {o, f};
    size_t m = 0;
    enum tr_err rc;
    void *p;

    f->n = 0;
    rc = tr_bm25_tokenize(tok, text, feat_token, &c);
    if (rc != TR_OK)
        return rc;
    qsort(f->b, f->n, sizeof(*f->b), cmp_u32);
    p = realloc(f->w, (f->n + 1) * sizeof(*f->w));
    if (p == NULL)
        return TR_E_NOMEM;
    f->w = p;

    /* Run-length: equal buckets are adjacent after the sort. */
    for (size_t i = 0; i < f->n; i++) {
        if (m > 0 && f->b[m - 1] == f->b[i]) {
            f->w[m - 1] += 1.0f;
            continue;
        }
        f->b[m] = f->b[i];
        f->w[m++] = 1.0f;
    }
    f->n = m;
    return TR_OK;
}

static void
feats_free(struct feats *f)
{
    free(f->b);
    free(f->w);
    memset(f, 0, sizeof(*f));
}

/* Column of bucket `b` in the model, or -1 when it was not kept. */
static int64_t
find_col(const struct local_model *m, uint32_t b)
{
    size_t lo = 0, hi = m->n_cols;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->buckets[mid] == b)
            return (int64_t) mid;
        if (m->buckets[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/*
 * Turn counted features into weighted columns of the model: drop the
 * unknown ones, apply TF-IDF and scale each block to its weight.  On
 * return f->b holds column numbers.
 */
static void
weigh(const struct local_model *m, struct feats *f)
{
    double ss[2] = {0.0, 0.0}, scale[2];
    uint32_t blk[1];
    size_t k = 0;

    for (size_t i = 0; i < f->n; i++) {
        int64_t col = find_col(m, f->b[i]);
        int g = (f->b[i] & LOCAL_NGRAM_BIT) != 0;
        float w;

        if (col < 0)
            continue;
        w = (1.0f + logf(f->w[i])) * m->idf[col];
        ss[g] += (double) w * w;
        f->b[k] = (uint32_t) col | (uint32_t) g << 31;
        f->w[k++] = w;
    }
    f->n = k;
    scale[0] = ss[0] > 0 ? m->opts.word_weight / sqrt(ss[0]) : 0.0;
    scale[1] = ss[1] > 0 ? m->opts.ngram_weight / sqrt(ss[1]) : 0.0;
    for (size_t i = 0; i < f->n; i++) {
        blk[0] = f->b[i] >> 31;
        f->w[i] = (float) (f->w[i] * scale[blk[0]]);
        f->b[i] &= 0x7fffffffu;
    }
}

static void
model_free(void *impl)
{
    struct local_model *m = impl;

    if (m == NULL)
        return;
    free(m->buckets);
    free(m->idf);
    free(m->proj);
    free(m->codes);
    free(m->scale);
    free(m);
}

/* Project one weighted feature list into `out` (dim floats). */
static void
project(const struct local_model *m, const struct feats *f, float *out)
{
    int dim = m->opts.dim;

    memset(out, 0, (size_t) dim * sizeof(*out));
    if (m->codes != NULL) {
        for (size_t i = 0; i < f->n; i++) {
            const int8_t *row = m->codes + (size_t) f->b[i] * dim;
            float w = f->w[i] * m->scale[f->b[i]];

            for (int j = 0; j < dim; j++)
                out[j] += w * (float) row[j];
        }
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        const float *row = m->proj + (size_t) f->b[i] * dim;
        float w = f->w[i];

        for (int j = 0; j < dim; j++)
            out[j] += w * row[j];
    }
}

/*
 * Replace the float projection of `m` by bytes with a scale per row,
 * each entry rounded to the nearest of 255 levels of its row.
 */
static enum tr_err
quantise(struct local_model *m, struct tr_error *err)
{
    size_t dim = (size_t) m->opts.dim;

    m->codes = malloc(m->n_cols * dim);
    m->scale = malloc(m->n_cols * sizeof(*m->scale));
    if (m->codes == NULL || m->scale == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t r = 0; r < m->n_cols; r++) {
        const float *row = m->proj + r * dim;
        float mx = 0.0f, inv;

        for (size_t j = 0; j < dim; j++)
            mx = fabsf(row[j]) > mx ? fabsf(row[j]) : mx;
        m->scale[r] = mx / 127.0f;
        inv = mx > 0.0f ? 127.0f / mx : 0.0f;
        for (size_t j = 0; j < dim; j++)
            m->codes[r * dim + j] = (int8_t) lrintf(row[j] * inv);
    }
    free(m->proj);
    m->proj = NULL;
    return TR_OK;
}

static enum tr_err
local_embed(void *impl, const char *const *texts, size_t n, float *out,
            struct tr_error *err)
{
    const struct local_model *m = impl;
    struct tr_bm25_tokenizer *tok;
    struct feats f = {0};
    enum tr_err rc = TR_OK;

    tok = tr_bm25_tokenizer_new(m->opts.stem_lang, err);
    if (tok == NULL)
        return err != NULL ? err->code : TR_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        rc = extract(&m->opts, tok, texts[i] ? texts[i] : "", &f);
        if (rc != TR_OK) {
            TR_ERROR(err, rc, "could not extract features of text %zu", i);
            break;
        }
        weigh(m, &f);
        project(m, &f, out + i * (size_t) m->opts.dim);
    }
    feats_free(&f);
    tr_bm25_tokenizer_free(tok);
    return rc;
}

/* Copy the first slice error of `errs` into `err` (may be NULL). */
static void
first_error(const struct tr_error *errs, int n, struct tr_error *err)
{
    for (int t = 0; t < n; t++) {
        if (errs[t].code != TR_OK) {
            if (err != NULL)
                *err = errs[t];
            return;
        }
    }
}

/* A pass over the training sample, shared among threads. */
struct pass {
    const struct tr_embed_local_opts *o;
    const struct local_model *m;    /* for the second pass */
    const char *const *texts;
    const size_t *pick;
    uint32_t **df;                  /* first pass: counts per slice */
    struct tr_embed__csr *rows;     /* second pass: rows per slice */
    struct tr_error *errs;          /* per slice */
};

/* Count, in the slice's df, the texts of [from, to) holding a bucket. */
static enum tr_err
count_slice(void *arg, int no, size_t from, size_t to)
{
    struct pass *p = arg;
    struct tr_error *err = &p->errs[no];
    struct tr_bm25_tokenizer *tok;
    struct feats f = {0};
    uint32_t *df = p->df[no];
    enum tr_err rc = TR_OK;

    tok = tr_bm25_tokenizer_new(p->o->stem_lang, err);
    if (tok == NULL)
        return err->code != TR_OK ? err->code : TR_E_NOMEM;
    for (size_t i = from; i < to && rc == TR_OK; i++) {
        rc = extract(p->o, tok, p->texts[p->pick[i]], &f);
        for (size_t j = 0; j < f.n && rc == TR_OK; j++)
            df[f.b[j]]++;
    }
    if (rc != TR_OK)
        TR_ERROR(err, rc, "could not extract features");
    feats_free(&f);
    tr_bm25_tokenizer_free(tok);
    return rc;
}

/*
 * Count, in `df`, the texts of the sample holding each bucket, on
 * `n_threads` threads with a count array each, summed at the end.
 */
static enum tr_err
count_df(const struct tr_embed_local_opts *o, const char *const *texts,
         const size_t *pick, size_t n_pick, int n_threads, uint32_t *df,
         struct tr_error *err)
{
    uint32_t *part[TR_EMBED_THREADS_MAX] = {NULL};
    struct tr_error errs[TR_EMBED_THREADS_MAX];
    struct pass p = {o, NULL, texts, pick, part, NULL, errs};
    enum tr_err rc = TR_OK;

    memset(errs, 0, sizeof(errs));
    part[0] = df;
    for (int t = 1; t < n_threads; t++)
        if ((part[t] = calloc(LOCAL_N_BUCKETS, sizeof(*df))) == NULL)
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if (rc == TR_OK)
        rc = tr_embed__parallel(n_pick, n_threads, count_slice, &p);
    if (rc != TR_OK)
        first_error(errs, n_threads, err);
    for (int t = 1; t < n_threads; t++) {
        for (size_t b = 0; rc == TR_OK && b < LOCAL_N_BUCKETS; b++)
            df[b] += part[t][b];
        free(part[t]);
    }
    return rc;
}

/* Order of candidate features: more frequent first, then by bucket. */
static int
cmp_by_df(const void *a, const void *b, void *arg)
{
    const uint32_t *df = arg;
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    if (df[x] != df[y])
        return df[x] > df[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/*
 * Keep the buckets seen in at least min_df texts, the max_features most
 * frequent of them, in increasing order, with their IDFs.
 */
static enum tr_err
select_features(struct local_model *m, const uint32_t *df, size_t n_texts,
                struct tr_error *err)
{
    size_t n = 0;

    m->buckets = malloc(LOCAL_N_BUCKETS * sizeof(*m->buckets));
    if (m->buckets == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (uint32_t b = 0; b < LOCAL_N_BUCKETS; b++)
        if (df[b] >= (uint32_t) m->opts.min_df && df[b] > 0)
            m->buckets[n++] = b;
    if (n > (size_t) m->opts.max_features) {
        qsort_r(m->buckets, n, sizeof(*m->buckets), cmp_by_df,
                (void *) df);
        n = (size_t) m->opts.max_features;
        qsort(m->buckets, n, sizeof(*m->buckets), cmp_u32);
    }
    if (n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no feature occurs in %d "
                        "training texts", m->opts.min_df);

    m->n_cols = n;
    m->idf = malloc(n * sizeof(*m->idf));
    if (m->idf == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        m->idf[i] = (float) (log((n_texts + 1.0) / (df[m->buckets[i]]
                                                     + 1.0)) + 1.0);
    return TR_OK;
}

/* Append the weighted features of one text as the next row of `x`. */
static int
csr_push(struct tr_embed__csr *x, size_t *cap, const struct feats *f)
{
    size_t nnz = x->row_ptr[x->n_rows];

    if (nnz + f->n > *cap) {
        size_t c = (*cap ? *cap * 2 : 65536) + f->n;
        void *p = realloc(x->col, c * sizeof(*x->col));

        if (p == NULL)
            return -1;
        x->col = p;
        p = realloc(x->val, c * sizeof(*x->val));
        if (p == NULL)
            return -1;
        x->val = p;
        *cap = c;
    }
    memcpy(x->col + nnz, f->b, f->n * sizeof(*x->col));
    memcpy(x->val + nnz, f->w, f->n * sizeof(*x->val));
    x->row_ptr[++x->n_rows] = nnz + f->n;
    return 0;
}

/* The weighted rows of texts [from, to) into the slice's matrix. */
static enum tr_err
rows_slice(void *arg, int no, size_t from, size_t to)
{
    struct pass *p = arg;
    struct tr_error *err = &p->errs[no];
    struct tr_embed__csr *x = &p->rows[no];
    struct tr_bm25_tokenizer *tok;
    struct feats f = {0};
    size_t cap = 0;
    enum tr_err rc = TR_OK;

    x->row_ptr = calloc(to - from + 1, sizeof(*x->row_ptr));
    tok = tr_bm25_tokenizer_new(p->o->stem_lang, err);
    if (x->row_ptr == NULL || tok == NULL) {
        rc = tok == NULL && err->code != TR_OK ? err->code : TR_E_NOMEM;
        TR_ERROR(err, rc, "could not prepare the training matrix");
        goto out;
    }
    for (size_t i = from; i < to; i++) {
        rc = extract(p->o, tok, p->texts[p->pick[i]], &f);
        if (rc != TR_OK) {
            TR_ERROR(err, rc, "could not extract features");
            goto out;
        }
        weigh(p->m, &f);
        if (csr_push(x, &cap, &f) != 0) {
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
            goto out;
        }
    }

out:
    feats_free(&f);
    tr_bm25_tokenizer_free(tok);
    return rc;
}

/* Join the slices' matrices into `x`, in slice order, freeing them. */
static int
csr_join(struct tr_embed__csr *x, struct tr_embed__csr *part, int n)
{
    size_t nnz = 0, r = 0;

    for (int t = 0; t < n; t++)
        nnz += part[t].row_ptr[part[t].n_rows];
    x->col = malloc((nnz + 1) * sizeof(*x->col));
    x->val = malloc((nnz + 1) * sizeof(*x->val));
    if (x->col == NULL || x->val == NULL)
        return -1;
    nnz = 0;
    for (int t = 0; t < n; t++) {
        size_t pn = part[t].row_ptr[part[t].n_rows];

        memcpy(x->col + nnz, part[t].col, pn * sizeof(*x->col));
        memcpy(x->val + nnz, part[t].val, pn * sizeof(*x->val));
        for (size_t i = 1; i <= part[t].n_rows; i++)
            x->row_ptr[++r] = nnz + part[t].row_ptr[i];
        nnz += pn;
        free(part[t].col);
        free(part[t].val);
        part[t].col = NULL;
        part[t].val = NULL;
    }
    x->n_rows = r;
    return 0;
}

/*
 * Second pass over the sample: its weighted rows, built on `n_threads`
 * threads and joined in text order, then the SVD.
 */
static enum tr_err
learn_projection(struct local_model *m, const char *const *texts,
                 const size_t *pick, size_t n_pick, int n_threads,
                 struct tr_error *err)
{
    struct tr_embed__csr x = {0}, part[TR_EMBED_THREADS_MAX];
    struct tr_error errs[TR_EMBED_THREADS_MAX];
    struct pass p = {&m->opts, m, texts, pick, NULL, part, errs};
    enum tr_err rc;

    memset(part, 0, sizeof(part));
    memset(errs, 0, sizeof(errs));
    x.n_cols = m->n_cols;
    x.row_ptr = calloc(n_pick + 1, sizeof(*x.row_ptr));
    m->proj = calloc(m->n_cols * (size_t) m->opts.dim, sizeof(*m->proj));
    if (x.row_ptr == NULL || m->proj == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "could not prepare the training "
                      "matrix");
        goto out;
    }
    rc = tr_embed__parallel(n_pick, n_threads, rows_slice, &p);
    if (rc != TR_OK) {
        first_error(errs, n_threads, err);
        goto out;
    }
    if (csr_join(&x, part, n_threads) != 0) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    rc = tr_embed__svd(&x, m->opts.dim, m->opts.power_iters, m->opts.seed,
                       n_threads, m->proj, err);
    if (rc == TR_OK && m->opts.proj_bits == 8)
        rc = quantise(m, err);

out:
    for (int t = 0; t < TR_EMBED_THREADS_MAX; t++) {
        free(part[t].row_ptr);
        free(part[t].col);
        free(part[t].val);
    }
    free(x.row_ptr);
    free(x.col);
    free(x.val);
    return rc;
}

static enum tr_err local_save(const void *impl, struct tr_buf *out,
                              struct tr_error *err);

static const struct tr_embedder_ops local_ops = {
    local_embed,
    local_save,
    model_free,
};

/* Check options before any work. */
static enum tr_err
check_opts(const struct tr_embed_local_opts *o, struct tr_error *err)
{
    if (o->dim < 1 || o->dim > 4096)
        return TR_ERROR(err, TR_E_INVAL, "embedding dimension %d is not "
                        "in [1, 4096]", o->dim);
    if (o->ngram_max > 0 && (o->ngram_min < 1 || o->ngram_min > o->ngram_max
                             || o->ngram_max > 8))
        return TR_ERROR(err, TR_E_INVAL, "character n-gram range %d-%d "
                        "is not within 1-8", o->ngram_min, o->ngram_max);
    if (!(o->word_weight >= 0.0f) || !(o->ngram_weight >= 0.0f)
        || o->word_weight + o->ngram_weight <= 0.0f)
        return TR_ERROR(err, TR_E_INVAL, "feature weights must be >= 0 "
                        "and not both 0");
    if (o->min_df < 1 || o->max_features < 1 || o->max_train < 1
        || o->power_iters < 0 || o->power_iters > 20)
        return TR_ERROR(err, TR_E_INVAL, "bad local embedder limits");
    if (o->proj_bits != 8 && o->proj_bits != 32)
        return TR_ERROR(err, TR_E_INVAL, "projection precision %d is not "
                        "8 or 32 bits", o->proj_bits);
    if (o->threads < 0)
        return TR_ERROR(err, TR_E_INVAL, "thread count %d is negative",
                        o->threads);
    if (memchr(o->stem_lang, '\0', sizeof(o->stem_lang)) == NULL)
        return TR_ERROR(err, TR_E_INVAL, "stemming language too long");
    return TR_OK;
}

struct tr_embedder *
tr_embed_local_train(const char *const *texts, size_t n,
                     const struct tr_embed_local_opts *o,
                     struct tr_error *err)
{
    struct local_model *m = calloc(1, sizeof(*m));
    uint32_t *df = NULL;
    size_t *pick = NULL, n_pick;
    int n_threads;
    enum tr_err rc;

    if (m == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (o != NULL)
        m->opts = *o;
    else
        tr_embed_local_opts_default(&m->opts);
    if (check_opts(&m->opts, err) != TR_OK)
        goto fail;
    if (n == 0 || texts == NULL) {
        TR_ERROR(err, TR_E_INVAL, "no text to learn an embedder from");
        goto fail;
    }

    /* An evenly spaced sample bounds the cost on large corpora. */
    n_pick = n < m->opts.max_train ? n : m->opts.max_train;
    pick = malloc(n_pick * sizeof(*pick));
    df = calloc(LOCAL_N_BUCKETS, sizeof(*df));
    if (pick == NULL || df == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_pick; i++)
        pick[i] = (size_t) ((double) i * (double) n / (double) n_pick);
    n_threads = tr_embed__threads(m->opts.threads);
    if ((size_t) n_threads > n_pick)
        n_threads = (int) n_pick;

    rc = count_df(&m->opts, texts, pick, n_pick, n_threads, df, err);
    if (rc == TR_OK)
        rc = select_features(m, df, n_pick, err);
    free(df);
    df = NULL;
    if (rc == TR_OK)
        rc = learn_projection(m, texts, pick, n_pick, n_threads, err);
    if (rc != TR_OK)
        goto fail;
    free(pick);
    return tr_embedder_new("local", m->opts.dim, 0, &local_ops, m, err);

fail:
    free(df);
    free(pick);
    model_free(m);
    return NULL;
}

/*
 * Serialized form, host byte order: "TREMBL", a 16-bit version, the
 * options field by field, the column count (u64), the buckets (u32) and
 * the IDFs (float), then the projection.  Version 1 (still read) has six
 * integer options and the projection in floats, n_cols x dim.  Version 2
 * adds a seventh, the projection's bits: 32 keeps the floats, 8 stores
 * the row scales (float, n_cols) and then the bytes (n_cols x dim).
 */
#define LOCAL_MAGIC "TREMBL"
#define LOCAL_VERSION 2

static enum tr_err
local_save(const void *impl, struct tr_buf *out, struct tr_error *err)
{
    const struct local_model *m = impl;
    const struct tr_embed_local_opts *o = &m->opts;
    uint16_t version = LOCAL_VERSION;
    uint64_t n_cols = m->n_cols, max_train = o->max_train;
    int32_t ints[7] = {o->dim, o->ngram_min, o->ngram_max, o->min_df,
                       o->max_features, o->power_iters, o->proj_bits};
    float weights[2] = {o->word_weight, o->ngram_weight};
    size_t n_proj = m->n_cols * (size_t) o->dim;
    enum tr_err rc;

    rc = tr_buf_append(out, LOCAL_MAGIC, 6);
    if (rc == TR_OK)
        rc = tr_buf_append(out, &version, sizeof(version));
    if (rc == TR_OK)
        rc = tr_buf_append(out, ints, sizeof(ints));
    if (rc == TR_OK)
        rc = tr_buf_append(out, weights, sizeof(weights));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &max_train, sizeof(max_train));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &o->seed, sizeof(o->seed));
    if (rc == TR_OK)
        rc = tr_buf_append(out, o->stem_lang, sizeof(o->stem_lang));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &n_cols, sizeof(n_cols));
    if (rc == TR_OK)
        rc = tr_buf_append(out, m->buckets, m->n_cols * sizeof(uint32_t));
    if (rc == TR_OK)
        rc = tr_buf_append(out, m->idf, m->n_cols * sizeof(float));
    if (rc == TR_OK && m->codes != NULL) {
        rc = tr_buf_append(out, m->scale, m->n_cols * sizeof(float));
        if (rc == TR_OK)
            rc = tr_buf_append(out, m->codes, n_proj);
    } else if (rc == TR_OK) {
        rc = tr_buf_append(out, m->proj, n_proj * sizeof(float));
    }
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not serialize the local embedder");
    return TR_OK;
}

struct reader {
    const unsigned char *p;
    size_t left;
};

static int
take(struct reader *r, void *dst, size_t n)
{
    if (r->left < n)
        return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

/* Bytes per column after the header: bucket, IDF, projection row. */
static size_t
col_bytes(const struct tr_embed_local_opts *o)
{
    if (o->proj_bits == 8)
        return 8 + 4 + (size_t) o->dim;
    return 8 + 4 * (size_t) o->dim;
}

/* Read the header into `m`; -1 when malformed or of another version. */
static int
read_header(struct reader *r, struct local_model *m)
{
    struct tr_embed_local_opts *o = &m->opts;
    char magic[6];
    uint16_t version;
    int32_t ints[7];
    float weights[2];
    uint64_t max_train, n_cols;

    if (take(r, magic, 6) != 0 || memcmp(magic, LOCAL_MAGIC, 6) != 0
        || take(r, &version, 2) != 0 || version < 1
        || version > LOCAL_VERSION)
        return -1;

    /* Version 1 had no precision field: its projection is in floats. */
    ints[6] = 32;
    if (take(r, ints, (version == 1 ? 6 : 7) * sizeof(int32_t)) != 0
        || take(r, weights, sizeof(weights)) != 0
        || take(r, &max_train, 8) != 0 || take(r, &o->seed, 8) != 0
        || take(r, o->stem_lang, sizeof(o->stem_lang)) != 0
        || take(r, &n_cols, 8) != 0)
        return -1;
    o->dim = ints[0];
    o->ngram_min = ints[1];
    o->ngram_max = ints[2];
    o->min_df = ints[3];
    o->max_features = ints[4];
    o->power_iters = ints[5];
    o->proj_bits = ints[6];
    o->word_weight = weights[0];
    o->ngram_weight = weights[1];
    o->max_train = (size_t) max_train;
    if (check_opts(o, NULL) != TR_OK || n_cols == 0
        || n_cols > (uint64_t) o->max_features)
        return -1;

    /* The rest must be exactly the arrays. */
    if (r->left / col_bytes(o) < n_cols
        || r->left != n_cols * col_bytes(o))
        return -1;
    m->n_cols = (size_t) n_cols;
    return 0;
}

/* Read the projection of `m`; -1 when a number is not finite. */
static int
read_projection(struct reader *r, struct local_model *m)
{
    size_t n_proj = m->n_cols * (size_t) m->opts.dim;

    if (m->opts.proj_bits == 8) {
        take(r, m->scale, m->n_cols * sizeof(*m->scale));
        take(r, m->codes, n_proj);
        for (size_t i = 0; i < m->n_cols; i++)
            if (!isfinite(m->scale[i]) || m->scale[i] < 0.0f)
                return -1;
        return 0;
    }
    take(r, m->proj, n_proj * sizeof(*m->proj));
    for (size_t i = 0; i < n_proj; i++)
        if (!isfinite(m->proj[i]))
            return -1;
    return 0;
}

struct tr_embedder *
tr_embed_local_load(const void *data, size_t len, struct tr_error *err)
{
    struct local_model *m = calloc(1, sizeof(*m));
    struct reader r = {data, len};
    size_t n_proj;

    if (m == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (data == NULL || read_header(&r, m) != 0)
        goto bad;
    n_proj = m->n_cols * (size_t) m->opts.dim;
    m->buckets = malloc(m->n_cols * sizeof(*m->buckets));
    m->idf = malloc(m->n_cols * sizeof(*m->idf));
    if (m->opts.proj_bits == 8) {
        m->scale = malloc(m->n_cols * sizeof(*m->scale));
        m->codes = malloc(n_proj);
    } else {
        m->proj = malloc(n_proj * sizeof(*m->proj));
    }
    if (m->buckets == NULL || m->idf == NULL
        || (m->proj == NULL && m->codes == NULL)
        || (m->codes != NULL && m->scale == NULL)) {
        model_free(m);
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    take(&r, m->buckets, m->n_cols * sizeof(*m->buckets));
    take(&r, m->idf, m->n_cols * sizeof(*m->idf));
    if (read_projection(&r, m) != 0)
        goto bad;

    /* Buckets must increase (lookups bisect) and numbers be finite. */
    for (size_t i = 0; i < m->n_cols; i++)
        if ((i > 0 && m->buckets[i] <= m->buckets[i - 1])
            || m->buckets[i] >= LOCAL_N_BUCKETS || !isfinite(m->idf[i]))
            goto bad;
    if (m->opts.stem_lang[0] != '\0') {
        struct tr_bm25_tokenizer *t;

        t = tr_bm25_tokenizer_new(m->opts.stem_lang, NULL);
        if (t == NULL)
            goto bad;
        tr_bm25_tokenizer_free(t);
    }
    return tr_embedder_new("local", m->opts.dim, 0, &local_ops, m, err);

bad:
    model_free(m);
    TR_ERROR(err, TR_E_PARSE, "local embedder data is damaged or of "
             "another version");
    return NULL;
}
