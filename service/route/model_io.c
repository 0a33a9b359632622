/*
 * model_io.c
 *      Serialisation of router models to and from byte buffers.
 *
 * Layout, every number little-endian whatever the machine:
 *   "TRROUTE1", u32 version, i32 char_min, i32 char_max,
 *   i32 word_ngrams, f32 char_weight, f64 temperature, f64 threshold,
 *   u32 confidence kind (from version 2 on), f32 IDF of unseen features
 *   (from version 3 on),
 *   u32 n_classes, i32 oos_class, u64 n_feat,
 *   abstain label and n_classes labels (u32 length, bytes),
 *   u64 keys[n_feat] (strictly increasing), f32 idf[n_feat],
 *   f32 bias[n_classes], f32 w[n_feat * n_classes].
 * The loader checks every length against what is left and every field
 * against its range, so a truncated or altered buffer is refused rather
 * than read out of bounds.  Older buffers still load as they were
 * meant: version 1 ones have their threshold on the top probability,
 * and version 1 and 2 ones leave unseen features out of the norm.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route_int.h"

#define MAGIC "TRROUTE1"
#define VERSION 3u

struct writer {
    unsigned char *p;
};

struct reader {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static void
put_u32(struct writer *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *w->p++ = (unsigned char)(v >> (8 * i));
}

static void
put_u64(struct writer *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *w->p++ = (unsigned char)(v >> (8 * i));
}

static void
put_f32(struct writer *w, float f)
{
    uint32_t v;

    memcpy(&v, &f, sizeof(v));
    put_u32(w, v);
}

static void
put_f64(struct writer *w, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    put_u64(w, v);
}

static void
put_str(struct writer *w, const char *s)
{
    size_t n = strlen(s);

    put_u32(w, (uint32_t)n);
    memcpy(w->p, s, n);
    w->p += n;
}

static size_t
saved_size(const struct tr_route_model *m)
{
    size_t n = 8 + 4 * 5 + 8 * 2 + 4 * 2 + 4 * 2 + 8;

    n += 4 + strlen(m->abstain_label);
    for (size_t k = 0; k < m->n_classes; k++)
        n += 4 + strlen(m->labels[k]);
    n += m->n_feat * (8 + 4) + m->n_classes * 4;
    n += m->n_feat * m->n_classes * 4;
    return n;
}

enum tr_err
tr_route_model_save(const struct tr_route_model *m, unsigned char **buf,
                    size_t *buf_len, struct tr_error *err)
{
    size_t size = saved_size(m);
    struct writer w;

    *buf = malloc(size);
    if (*buf == NULL)
        return TR_ERROR(err, TR_E_NOMEM,
                        "out of memory for a model of %zu bytes", size);
    w.p = *buf;
    memcpy(w.p, MAGIC, 8);
    w.p += 8;
    put_u32(&w, VERSION);
    put_u32(&w, (uint32_t)m->spec.char_min);
    put_u32(&w, (uint32_t)m->spec.char_max);
    put_u32(&w, (uint32_t)m->spec.word_ngrams);
    put_f32(&w, m->spec.char_weight);
    put_f64(&w, m->temperature);
    put_f64(&w, m->threshold);
    put_u32(&w, (uint32_t)m->conf);
    put_f32(&w, m->spec.idf_unseen);
    put_u32(&w, (uint32_t)m->n_classes);
    put_u32(&w, (uint32_t)m->oos_class);
    put_u64(&w, m->n_feat);

    put_str(&w, m->abstain_label);
    for (size_t k = 0; k < m->n_classes; k++)
        put_str(&w, m->labels[k]);
    for (size_t f = 0; f < m->n_feat; f++)
        put_u64(&w, m->keys[f]);
    for (size_t f = 0; f < m->n_feat; f++)
        put_f32(&w, m->idf[f]);
    for (size_t k = 0; k < m->n_classes; k++)
        put_f32(&w, m->bias[k]);
    for (size_t i = 0; i < m->n_feat * m->n_classes; i++)
        put_f32(&w, m->w[i]);
    *buf_len = size;
    return TR_OK;
}

static const unsigned char *
take(struct reader *r, size_t n)
{
    const unsigned char *p = r->p;

    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t
get_u32(struct reader *r)
{
    const unsigned char *p = take(r, 4);
    uint32_t v = 0;

    for (int i = 0; p != NULL && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t
get_u64(struct reader *r)
{
    const unsigned char *p = take(r, 8);
    uint64_t v = 0;

    for (int i = 0; p != NULL && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float
get_f32(struct reader *r)
{
    uint32_t v = get_u32(r);
    float f;

    memcpy(&f, &v, sizeof(f));
    return f;
}

static double
get_f64(struct reader *r)
{
    uint64_t v = get_u64(r);
    double d;

    memcpy(&d, &v, sizeof(d));
    return d;
}

static char *
get_str(struct reader *r)
{
    uint32_t n = get_u32(r);
    const unsigned char *p;
    char *s;

    if (n > TR_ROUTE_LABEL_MAX)
        r->bad = true;
    p = take(r, n);
    if (p == NULL || memchr(p, '\0', n) != NULL) {
        r->bad = true;
        return NULL;
    }
    s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* The fixed-size head; false when a field is out of its range. */
static bool
read_head(struct reader *r, struct tr_route_model *m)
{
    const unsigned char *magic = take(r, 8);
    uint32_t version, conf = TR_ROUTE_CONF_PROB;

    if (magic == NULL || memcmp(magic, MAGIC, 8) != 0)
        return false;
    version = get_u32(r);
    if (version < 1 || version > VERSION)
        return false;
    m->spec.char_min = (int)get_u32(r);
    m->spec.char_max = (int)get_u32(r);
    m->spec.word_ngrams = (int)get_u32(r);
    m->spec.char_weight = get_f32(r);
    m->temperature = get_f64(r);
    m->threshold = get_f64(r);
    if (version >= 2)
        conf = get_u32(r);
    m->conf = (enum tr_route_conf)conf;
    m->spec.idf_unseen = version >= 3 ? get_f32(r) : 0;
    m->n_classes = get_u32(r);
    m->oos_class = (int)get_u32(r);
    m->n_feat = get_u64(r);
    if (r->bad || conf > TR_ROUTE_CONF_MARGIN)
        return false;

    return m->spec.char_min >= 0 && m->spec.char_max >= m->spec.char_min
           && m->spec.char_max <= 8 && m->spec.word_ngrams >= 1
           && m->spec.word_ngrams <= 3 && m->spec.char_weight >= 0
           && m->spec.char_weight <= 1 && m->spec.idf_unseen >= 0
           && isfinite(m->spec.idf_unseen) && m->temperature > 0
           && isfinite(m->temperature) && m->threshold >= 0
           && m->threshold <= 1 && m->n_classes >= 2
           && m->n_classes <= 1000000 && m->oos_class >= -1
           && m->oos_class < (int)m->n_classes
           && m->n_feat <= UINT32_MAX
           && m->n_feat * (12 + 4 * m->n_classes) <= r->left;
}

static bool
read_arrays(struct reader *r, struct tr_route_model *m)
{
    size_t n_w = m->n_feat * m->n_classes;

    m->labels = calloc(m->n_classes, sizeof(*m->labels));
    m->keys = malloc((m->n_feat ? m->n_feat : 1) * sizeof(*m->keys));
    m->idf = malloc((m->n_feat ? m->n_feat : 1) * sizeof(*m->idf));
    m->bias = malloc(m->n_classes * sizeof(*m->bias));
    m->w = malloc((n_w ? n_w : 1) * sizeof(*m->w));
    m->abstain_label = get_str(r);
    if (m->labels == NULL || m->keys == NULL || m->idf == NULL
        || m->bias == NULL || m->w == NULL || m->abstain_label == NULL)
        return false;
    for (size_t k = 0; k < m->n_classes && !r->bad; k++)
        if ((m->labels[k] = get_str(r)) == NULL)
            return false;

    for (size_t f = 0; f < m->n_feat; f++) {
        m->keys[f] = get_u64(r);
        if (f > 0 && m->keys[f] <= m->keys[f - 1])
            r->bad = true;
    }
    for (size_t f = 0; f < m->n_feat; f++)
        m->idf[f] = get_f32(r);
    for (size_t k = 0; k < m->n_classes; k++)
        m->bias[k] = get_f32(r);
    for (size_t i = 0; i < n_w; i++)
        m->w[i] = get_f32(r);
    return !r->bad && r->left == 0;
}

enum tr_err
tr_route_model_load(const void *buf, size_t buf_len,
                    struct tr_route_model **out, struct tr_error *err)
{
    struct reader r = {buf, buf_len, false};
    struct tr_route_model *m;

    *out = NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for a model");
    if (!read_head(&r, m)) {
        free(m);
        return TR_ERROR(err, TR_E_PARSE,
                        "buffer of %zu bytes is not a router model of "
                        "version 1 to %u", buf_len, VERSION);
    }
    if (!read_arrays(&r, m)) {
        bool bad = r.bad || r.left != 0;

        tr_route_model_free(m);
        if (!bad)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory for a model");
        return TR_ERROR(err, TR_E_PARSE,
                        "router model buffer is truncated or inconsistent");
    }
    *out = m;
    return TR_OK;
}
