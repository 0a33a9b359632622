/*
 * corpus_gen.c
 *      The benchmark corpus: the collection's documents followed by
 *      generated help-center chunks.
 *
 * Generated chunks are made so that the indexes meet what a real help
 * center gives them.  The vocabulary is the collection's own words
 * ranked by frequency, followed by invented words (syllable strings)
 * that stand for product names and rare terms; words are drawn from it
 * with a Zipf law (weight 1 / (rank + 2.7)), so that posting lists have
 * a real help center's long tail.  Each generated article has a topic
 * (eight mid-frequency words) and 1 to 4 chunks that share its title;
 * a chunk walks through one or two of the collection's documents and
 * keeps 35 % of their words in order, puts a topic word in 25 % of the
 * places and a Zipf word in the rest, so that chunks of an article
 * cluster in vector space and share phrases with real answers.  Chunk
 * lengths are those of the collection's documents.  Every article draws
 * from its own generator seeded by (seed, article number), so any
 * prefix of the corpus is the same whatever its size.  One thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_search.h"
#include "mem.h"

#define GEN_SYNTH_WORDS 40000   /* invented words after the real ones */
#define GEN_TOPIC_WORDS 8
#define GEN_TOPIC_MIN_RANK 100  /* topic words are not the commonest */
#define GEN_HASH_SIZE 65536     /* vocabulary hash slots, power of two */
#define GEN_WORD_MAX 24

/* Words of one document of the collection, in order. */
struct toks {
    const char **w;
    size_t n;
};

/* What generation reads: vocabulary, Zipf table, tokenized sources. */
struct gen {
    struct tr_arena *arena;
    const char **vocab;
    size_t n_vocab;
    double *cdf;
    struct toks *title;
    struct toks *text;
    size_t n_src;
    struct tr_buf buf;
};

/* One counted word of the collection. */
struct vword {
    const char *s;
    uint32_t count;
};

/*
 * SplitMix64: small, fast and the same on every platform, which is
 * what keeps the corpus identical from one phase to the next.
 */
static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static double
uniform(uint64_t *s)
{
    return (double) (splitmix(s) >> 11) / 9007199254740992.0;
}

/* FNV-1a of the `len` bytes of `s`, for the vocabulary table. */
static uint32_t
hash_word(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    return h;
}

/* Count the lower-cased ASCII words of `s` into the table `tab`. */
static int
count_words(struct tr_arena *a, struct vword *tab, const char *s)
{
    char w[GEN_WORD_MAX];

    while (*s != '\0') {
        size_t len = 0;
        uint32_t h;

        for (; *s != '\0' && !((*s | 32) >= 'a' && (*s | 32) <= 'z'); s++)
            ;
        for (; (*s | 32) >= 'a' && (*s | 32) <= 'z'; s++)
            if (len < GEN_WORD_MAX - 1)
                w[len++] = (char) (*s | 32);
        if (len == 0)
            continue;
        w[len] = '\0';

        /* Linear probing; the table is far larger than the vocabulary. */
        h = hash_word(w, len) & (GEN_HASH_SIZE - 1);
        while (tab[h].s != NULL && strcmp(tab[h].s, w) != 0)
            h = (h + 1) & (GEN_HASH_SIZE - 1);
        if (tab[h].s == NULL && (tab[h].s = tr_arena_strdup(a, w)) == NULL)
            return -1;
        tab[h].count++;
    }
    return 0;
}

/* Commonest first; ties by spelling, so that the order is stable. */
static int
cmp_vword(const void *a, const void *b)
{
    const struct vword *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->s, y->s);
}

/* An invented word of two to four syllables. */
static char *
synth_word(struct tr_arena *a, uint64_t *rng)
{
    static const char *const on[] = {"b", "c", "d", "f", "g", "k", "l",
        "m", "n", "p", "r", "s", "t", "v", "z", "br", "cl", "st", "tr"};
    static const char *const nu[] = {"a", "e", "i", "o", "u", "ai", "ou"};
    char w[GEN_WORD_MAX] = "";
    int n_syl = 2 + (int) (splitmix(rng) % 3);

    for (int i = 0; i < n_syl; i++) {
        strcat(w, on[splitmix(rng) % (sizeof(on) / sizeof(on[0]))]);
        strcat(w, nu[splitmix(rng) % (sizeof(nu) / sizeof(nu[0]))]);
    }
    if (splitmix(rng) % 3 == 0)
        strcat(w, "x");
    return tr_arena_strdup(a, w);
}

/* Vocabulary: the collection's words by frequency, then invented ones. */
static int
make_vocab(struct gen *g, const struct tr_eval_dataset *ds, uint64_t seed)
{
    struct vword *tab = calloc(GEN_HASH_SIZE, sizeof(*tab));
    size_t n_real = 0;
    int rc = -1;

    if (tab == NULL)
        return -1;

    for (size_t i = 0; i < ds->n_docs; i++)
        if (count_words(g->arena, tab, ds->docs[i].title) != 0 ||
            count_words(g->arena, tab, ds->docs[i].text) != 0)
            goto out;
    for (size_t i = 0; i < GEN_HASH_SIZE; i++)
        if (tab[i].s != NULL)
            tab[n_real++] = tab[i];
    qsort(tab, n_real, sizeof(*tab), cmp_vword);


    g->n_vocab = n_real + GEN_SYNTH_WORDS;
    g->vocab = tr_arena_alloc(g->arena, g->n_vocab * sizeof(*g->vocab));
    g->cdf = tr_arena_alloc(g->arena, g->n_vocab * sizeof(*g->cdf));
    if (g->vocab == NULL || g->cdf == NULL)
        goto out;

    for (size_t i = 0; i < n_real; i++)
        g->vocab[i] = tab[i].s;
    for (size_t i = n_real; i < g->n_vocab; i++)
        if ((g->vocab[i] = synth_word(g->arena, &seed)) == NULL)
            goto out;

    /* Zipf-Mandelbrot weights, cumulated then normalised. */
    for (size_t i = 0; i < g->n_vocab; i++)
        g->cdf[i] = (i > 0 ? g->cdf[i - 1] : 0) + 1.0 / ((double) i + 2.7);
    for (size_t i = 0; i < g->n_vocab; i++)
        g->cdf[i] /= g->cdf[g->n_vocab - 1];
    rc = 0;

out:
    free(tab);
    return rc;
}

/* Split `s` on blanks into `t` (words copied into the arena). */
static int
split_blanks(struct tr_arena *a, const char *s, struct toks *t)
{
    size_t cap = 1;

    for (const char *p = s; *p != '\0'; p++)
        cap += (*p == ' ');
    t->n = 0;
    t->w = tr_arena_alloc(a, cap * sizeof(*t->w));
    if (t->w == NULL)
        return -1;

    while (*s != '\0') {
        const char *e;

        for (; *s == ' ' || *s == '\n' || *s == '\t'; s++)
            ;
        for (e = s; *e != '\0' && *e != ' ' && *e != '\n' && *e != '\t'; e++)
            ;
        if (e > s && t->n < cap &&
            (t->w[t->n++] = tr_arena_strndup(a, s, (size_t) (e - s))) == NULL)
            return -1;
        s = e;
    }
    return 0;
}

/* A vocabulary rank drawn from the Zipf law (binary search in the cdf). */
static size_t
zipf_rank(const struct gen *g, uint64_t *rng)
{
    double u = uniform(rng);
    size_t lo = 0, hi = g->n_vocab - 1;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (g->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Append word `w` and a blank to the buffer. */
static int
put_word(struct gen *g, const char *w)
{
    if (g->buf.len > 0 && tr_buf_append(&g->buf, " ", 1) != TR_OK)
        return -1;
    return tr_buf_puts(&g->buf, w) == TR_OK ? 0 : -1;
}

/* Title of a generated article: a source title with topic words. */
static const char *
make_title(struct gen *g, const struct toks *src, const char **topic,
           uint64_t *rng)
{
    tr_buf_reset(&g->buf);
    for (size_t i = 0; i < src->n; i++) {
        const char *w = src->w[i];

        if (uniform(rng) >= 0.45)
            w = topic[splitmix(rng) % GEN_TOPIC_WORDS];
        if (put_word(g, w) != 0)
            return NULL;
    }
    if (uniform(rng) < 0.5 &&
        put_word(g, topic[splitmix(rng) % GEN_TOPIC_WORDS]) != 0)
        return NULL;
    return tr_arena_strndup(g->arena, g->buf.data, g->buf.len);
}

/* Text of one chunk, walking through sources `s0` then `s1`. */
static const char *
make_text(struct gen *g, size_t s0, size_t s1, const char **topic,
          uint64_t *rng)
{
    const struct toks *src = &g->text[s0];
    size_t len = g->text[splitmix(rng) % g->n_src].n;
    size_t pos = src->n > 0 ? splitmix(rng) % src->n : 0;

    len = len < 12 ? 12 : len > 400 ? 400 : len;

    tr_buf_reset(&g->buf);
    for (size_t i = 0; i < len; i++) {
        double u = uniform(rng);
        const char *w;

        /* At the end of one source, go on with the other. */
        if (pos >= src->n) {
            src = src == &g->text[s0] ? &g->text[s1] : &g->text[s0];
            pos = 0;
        }

        if (u < 0.35 && src->n > 0)
            w = src->w[pos];
        else if (u < 0.60)
            w = topic[splitmix(rng) % GEN_TOPIC_WORDS];
        else
            w = g->vocab[zipf_rank(g, rng)];
        pos++;
        if (put_word(g, w) != 0)
            return NULL;
        if (splitmix(rng) % 14 == 0 && tr_buf_append(&g->buf, ".", 1) != 0)
            return NULL;
    }
    return tr_arena_strndup(g->arena, g->buf.data, g->buf.len);
}

/*
 * Chunks of generated article `gen_art`, the corpus's article `art`,
 * from c->n onwards.
 */
static int
make_article(struct gen *g, uint64_t seed, size_t gen_art, size_t art,
             struct bench_corpus *c, size_t n)
{
    uint64_t rng = seed ^ ((uint64_t) gen_art * 0xD1B54A32D192ED03ULL);
    size_t s0 = splitmix(&rng) % g->n_src, s1 = splitmix(&rng) % g->n_src;
    const char *topic[GEN_TOPIC_WORDS], *title;
    size_t n_chunks = 1 + splitmix(&rng) % 4;

    for (int i = 0; i < GEN_TOPIC_WORDS; i++) {
        size_t r = zipf_rank(g, &rng);

        /* Redraw the commonest words, a few times at most. */
        for (int k = 0; k < 20 && r < GEN_TOPIC_MIN_RANK; k++)
            r = zipf_rank(g, &rng);
        topic[i] = g->vocab[r];
    }
    title = make_title(g, &g->title[s0], topic, &rng);
    if (title == NULL)
        return -1;

    for (size_t k = 0; k < n_chunks && c->n < n; k++) {
        c->article[c->n] = (uint32_t) art;
        c->title[c->n] = title;
        c->text[c->n] = make_text(g, s0, s1, topic, &rng);
        if (c->text[c->n++] == NULL)
            return -1;
    }
    return 0;
}

/* Tokenize the sources and build the vocabulary. */
static int
gen_init(struct gen *g, const struct tr_eval_dataset *ds, uint64_t seed)
{
    g->n_src = ds->n_docs;
    g->title = tr_arena_alloc(g->arena, g->n_src * sizeof(*g->title));
    g->text = tr_arena_alloc(g->arena, g->n_src * sizeof(*g->text));
    if (g->title == NULL || g->text == NULL)
        return -1;
    for (size_t i = 0; i < g->n_src; i++)
        if (split_blanks(g->arena, ds->docs[i].title, &g->title[i]) != 0 ||
            split_blanks(g->arena, ds->docs[i].text, &g->text[i]) != 0)
            return -1;
    return make_vocab(g, ds, seed);
}

int
bench_corpus_make(const struct tr_eval_dataset *ds, size_t n, uint64_t seed,
                  struct bench_corpus *c)
{
    struct gen g = {0};
    int rc = -1;

    memset(c, 0, sizeof(*c));
    c->arena = tr_arena_new(1 << 20);
    g.arena = c->arena;
    c->title = calloc(n + 1, sizeof(*c->title));
    c->text = calloc(n + 1, sizeof(*c->text));
    c->article = calloc(n + 1, sizeof(*c->article));
    tr_buf_init(&g.buf, 1 << 20);
    if (c->arena == NULL || c->title == NULL || c->text == NULL ||
        c->article == NULL || ds->n_docs == 0 || gen_init(&g, ds, seed) != 0)
        goto out;

    /*
     * The collection numbers its articles in order of first appearance
     * and keeps their documents together, so they head the corpus in
     * order; generated articles are numbered after them.
     */
    for (size_t i = 0; i < ds->n_docs && c->n < n; i++) {
        c->article[c->n] = ds->docs[i].article;
        c->title[c->n] = ds->docs[i].title;
        c->text[c->n++] = ds->docs[i].text;
    }
    c->n_real = c->n;
    for (size_t art = 0; c->n < n; art++)
        if (make_article(&g, seed, art, ds->n_articles + art, c, n) != 0)
            goto out;
    rc = 0;

out:
    tr_buf_cleanup(&g.buf);
    if (rc != 0) {
        fprintf(stderr, "bench_search: could not make the corpus: "
                "out of memory\n");
        bench_corpus_free(c);
    }
    return rc;
}

/* Of the first `n_articles` articles, the number of chunks. */
size_t
bench_corpus_head(const struct bench_corpus *c, size_t n_articles)
{
    size_t i = 0;

    /*
     * Articles are consecutive runs numbered upwards: stop at the first
     * chunk past the last wanted one.
     */
    while (i < c->n && c->article[i] < n_articles)
        i++;
    return i;
}

void
bench_corpus_free(struct bench_corpus *c)
{
    free(c->title);
    free(c->text);
    free(c->article);
    tr_arena_free(c->arena);
    memset(c, 0, sizeof(*c));
}
