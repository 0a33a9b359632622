/*
 * draft_extract.c
 *      The extractive drafter: a cited reply made only of sentences
 *      taken from the retrieved passages.
 *
 * The best few passages (those in the ticket's language when there are
 * any) are cut into sentences and list items.  Each unit is scored
 * against the ticket's words with BM25 weights computed over the units
 * themselves, so a word that every unit shares counts for little; a
 * small discount by passage rank keeps retrieval's judgement as the tie
 * breaker.  A run of list items, with the sentence that introduces it
 * ("Follow these steps:"), is one group: picked whole or not at all,
 * because half a procedure misleads.  Groups are taken best first while
 * the caps allow, then written in passage order and, within a passage,
 * in text order, each citing its passage.  When no unit shares a word
 * with the ticket, the opening of the best passage is used: retrieval
 * found it relevant by other means (dense vectors, titles).
 *
 * Nothing is invented between greeting and closing, which is what makes
 * this drafter safe to run without a model; it reads stilted, and the
 * approval step is where a person smooths it.
 *
 * Any thread; every call works on its own memory.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draft_int.h"

/* Discount per passage rank: score / (1 + RANK_DISCOUNT * rank). */
#define RANK_DISCOUNT 0.1

/* Units taken from the best passage when nothing matches the ticket. */
#define FALLBACK_UNITS 3

/* A passage taken for drafting. */
struct chosen {
    const struct tr_draft_passage *p;
    struct tr_draft__units units;
};

/* One candidate unit. */
struct cand {
    size_t pi;                  /* index into the chosen passages */
    struct tr_draft__unit unit;
    char *text;                 /* whitespace squeezed */
    struct tr_draft__bag bag;   /* terms sorted, repeats kept */
    double score;
    size_t group;
    bool dropped;               /* a step past max_steps */
    bool picked;
};

struct group {
    size_t first;               /* cands[first, last] */
    size_t last;
    size_t pi;
    double score;
};

struct ctx {
    const struct tr_draft_extractive_opts *o;
    char lang[TR_DRAFT_LANG_MAX];
    struct chosen *ch;
    size_t n_ch;
    struct cand *c;
    size_t n_c;
    size_t cap_c;
    struct group *g;
    size_t n_g;
    struct tr_draft__hvec query;    /* sorted, unique */
    bool weak;                      /* nothing matched the ticket */
};

/* True when `s` holds only whitespace (or nothing). */
static bool
blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/*
 * Zero caps would make an empty reply that still looks like a draft;
 * refuse them rather than send a greeting alone.
 */
static enum tr_err
opts_check(const struct tr_draft_extractive_opts *o, struct tr_error *err)
{
    if (o->max_passages == 0 || o->max_sentences == 0 || o->max_chars == 0
        || o->max_steps == 0)
        return TR_ERROR(err, TR_E_INVAL,
                        "drafting caps must be at least 1");
    if (!(o->k1 >= 0.0 && o->k1 <= 10.0) || !(o->b >= 0.0 && o->b <= 1.0))
        return TR_ERROR(err, TR_E_INVAL,
                        "BM25 parameters out of range (k1 %g, b %g)",
                        o->k1, o->b);
    return TR_OK;
}

/*
 * Pick the passages to draft from: those with text whose locale matches
 * the ticket's language, or all with text when none does, best first,
 * at most max_passages.
 */
static enum tr_err
choose(struct ctx *x, const struct tr_draft_passage *p, size_t n)
{
    x->ch = calloc(n ? n : 1, sizeof(*x->ch));
    if (x->ch == NULL)
        return TR_E_NOMEM;

    /*
     * Pass 0 takes the passages in the ticket's language; pass 1, run
     * only when there were none, takes any, because an answer in the
     * article's language beats escalating for want of a translation.
     */
    for (int pass = 0; pass < 2 && x->n_ch == 0; pass++) {
        for (size_t i = 0; i < n && x->n_ch < x->o->max_passages; i++) {
            char loc[TR_DRAFT_LANG_MAX];
            const char *t = p[i].text;
            bool match;

            if (t == NULL || blank(t, strlen(t)))
                continue;
            tr_draft__lang_primary(p[i].locale, loc);
            match = x->lang[0] != '\0' && strcmp(loc, x->lang) == 0;
            if (pass == 0 && !match)
                continue;
            x->ch[x->n_ch++].p = &p[i];
        }
    }
    return TR_OK;
}

/*
 * Append unit `u` of chosen passage `pi` as a candidate, with its
 * squeezed text (what the reply will say) and its terms.  The candidate
 * is counted before its buffers are filled so that cleanup frees them
 * whatever failed.
 */
static enum tr_err
cand_add(struct ctx *x, size_t pi, const struct tr_draft__unit *u)
{
    struct cand *c;
    const char *t = x->ch[pi].p->text;

    if (x->n_c == x->cap_c) {
        size_t cap = x->cap_c ? x->cap_c * 2 : 64;
        struct cand *v = realloc(x->c, cap * sizeof(*v));

        if (v == NULL)
            return TR_E_NOMEM;
        x->c = v;
        x->cap_c = cap;
    }
    c = &x->c[x->n_c];
    memset(c, 0, sizeof(*c));
    c->pi = pi;
    c->unit = *u;
    tr_draft__bag_init(&c->bag);
    x->n_c++;

    c->text = tr_draft__squeeze(t + u->start, u->end - u->start);
    if (c->text == NULL
        || tr_draft__bag_add(&c->bag, t + u->start, u->end - u->start,
                             x->lang) != TR_OK)
        return TR_E_NOMEM;

    /* Sorted with repeats, so that a term's frequency is a run. */
    tr_draft__hvec_sort(&c->bag.terms);
    return TR_OK;
}

/* Cut the chosen passages into candidate units, headings left out. */
static enum tr_err
gather(struct ctx *x)
{
    enum tr_err rc;

    for (size_t pi = 0; pi < x->n_ch; pi++) {
        const char *t = x->ch[pi].p->text;

        rc = tr_draft__split(t, strlen(t), &x->ch[pi].units);
        if (rc != TR_OK)
            return rc;
        for (size_t u = 0; u < x->ch[pi].units.n; u++) {
            if (x->ch[pi].units.v[u].kind == TR_DRAFT__HEAD)
                continue;
            if ((rc = cand_add(x, pi, &x->ch[pi].units.v[u])) != TR_OK)
                return rc;
        }
    }
    return TR_OK;
}

/* How often `q` occurs in the sorted `h`. */
static size_t
term_freq(const struct tr_draft__hvec *h, uint64_t q)
{
    size_t lo = 0, hi = h->n, n = 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (h->v[mid] < q)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo + n < h->n && h->v[lo + n] == q)
        n++;
    return n;
}

/* BM25 of every candidate against the ticket's terms. */
static void
score(struct ctx *x)
{
    double avg = 0, k1 = x->o->k1, b = x->o->b;

    for (size_t i = 0; i < x->n_c; i++)
        avg += (double)x->c[i].bag.terms.n;
    avg = x->n_c ? avg / (double)x->n_c : 0;
    if (avg <= 0)
        avg = 1;

    for (size_t q = 0; q < x->query.n; q++) {
        uint64_t t = x->query.v[q];
        size_t df = 0;
        double idf;

        for (size_t i = 0; i < x->n_c; i++)
            df += term_freq(&x->c[i].bag.terms, t) > 0;
        /* A ticket word found in no unit says nothing about them. */
        if (df == 0)
            continue;
        idf = log(1.0 + ((double)x->n_c - (double)df + 0.5)
                            / ((double)df + 0.5));

        for (size_t i = 0; i < x->n_c; i++) {
            double tf = (double)term_freq(&x->c[i].bag.terms, t);
            double len = (double)x->c[i].bag.terms.n;

            if (tf > 0)
                x->c[i].score += idf * tf * (k1 + 1)
                                 / (tf + k1 * (1 - b + b * len / avg));
        }
    }
    for (size_t i = 0; i < x->n_c; i++)
        x->c[i].score /= 1.0 + RANK_DISCOUNT * (double)x->c[i].pi;
}

/* True when cands[i] introduces the list that cands[i + 1] starts. */
static bool
is_lead_in(const struct ctx *x, size_t i)
{
    const struct cand *a = &x->c[i], *b = &x->c[i + 1];
    size_t len = strlen(a->text);

    return a->unit.kind == TR_DRAFT__SENT && b->unit.kind == TR_DRAFT__ITEM
           && a->pi == b->pi && b->unit.block == a->unit.block + 1
           && len > 0 && a->text[len - 1] == ':';
}

/*
 * Group the candidates: a list with its lead-in is one group, any
 * other unit its own.  Steps past max_steps are dropped.
 */
static enum tr_err
group(struct ctx *x)
{
    size_t steps = 0;

    x->g = calloc(x->n_c ? x->n_c : 1, sizeof(*x->g));
    if (x->g == NULL)
        return TR_E_NOMEM;

    for (size_t i = 0; i < x->n_c; i++) {
        struct cand *c = &x->c[i];
        const struct cand *prev = i > 0 ? &x->c[i - 1] : NULL;
        bool join = prev != NULL && c->unit.kind == TR_DRAFT__ITEM
                    && prev->pi == c->pi
                    && ((prev->unit.kind == TR_DRAFT__ITEM
                         && c->unit.block == prev->unit.block + 1)
                        || is_lead_in(x, i - 1));

        if (!join) {
            x->g[x->n_g++] = (struct group){i, i, c->pi, 0};
            steps = 0;
        }
        x->g[x->n_g - 1].last = i;
        c->group = x->n_g - 1;
        if (c->unit.kind == TR_DRAFT__ITEM && ++steps > x->o->max_steps)
            c->dropped = true;
        if (!c->dropped && c->score > x->g[x->n_g - 1].score)
            x->g[x->n_g - 1].score = c->score;
    }
    return TR_OK;
}

static int
cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->pi != y->pi)
        return x->pi < y->pi ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

/* True when a picked unit already says exactly the text of `c`. */
static bool
said(const struct ctx *x, const struct cand *c)
{
    for (size_t i = 0; i < x->n_c; i++)
        if (x->c[i].picked && strcmp(x->c[i].text, c->text) == 0)
            return true;
    return false;
}

/*
 * Take group `g` if it fits what is left of the caps; the first group
 * taken is cut to fit instead.  *n_units and *n_chars count what is
 * taken so far.
 */
static void
take(struct ctx *x, const struct group *g, size_t max_units,
     size_t *n_units, size_t *n_chars)
{
    size_t units = 0, chars = 0;
    bool first = *n_units == 0;

    for (size_t i = g->first; i <= g->last; i++)
        if (!x->c[i].dropped && !said(x, &x->c[i])) {
            units++;
            chars += strlen(x->c[i].text);
        }
    if (units == 0)
        return;

    /* A later group that does not fit is skipped whole; a smaller one
     * further down the list may still fit. */
    if (!first && (*n_units + units > max_units
                   || *n_chars + chars > x->o->max_chars))
        return;

    for (size_t i = g->first; i <= g->last; i++) {
        struct cand *c = &x->c[i];
        size_t len = strlen(c->text);

        if (c->dropped || said(x, c))
            continue;
        /* The best group is cut rather than lost: a reply needs at
         * least that. */
        if (first && *n_units > 0 && (*n_units + 1 > max_units
                                      || *n_chars + len > x->o->max_chars))
            break;
        c->picked = true;
        (*n_units)++;
        *n_chars += len;
    }
}

/* Choose the units of the reply. */
static void
select_units(struct ctx *x)
{
    size_t n_units = 0, n_chars = 0, max_units = x->o->max_sentences;
    bool fallback;

    if (x->n_g == 0)
        return;
    qsort(x->g, x->n_g, sizeof(*x->g), cmp_group);

    /* Nothing shares a word with the ticket: open the best passage. */
    fallback = x->g[0].score <= 0;
    x->weak = fallback;
    if (fallback) {
        if (max_units > FALLBACK_UNITS)
            max_units = FALLBACK_UNITS;
        for (size_t i = 0; i < x->n_g; i++)
            if (x->g[i].pi == x->c[0].pi)
                take(x, &x->g[i], max_units, &n_units, &n_chars);
        return;
    }

    /* Groups that share no word with the ticket add only length. */
    for (size_t i = 0; i < x->n_g && x->g[i].score > 0; i++)
        take(x, &x->g[i], max_units, &n_units, &n_chars);
}

/* Write greeting, picked units and closing into a new draft. */
static enum tr_err
compose(struct ctx *x, struct tr_draft **out, struct tr_error *err)
{
    const struct tr_draft__tmpl *t = tr_draft__tmpl_find(x->lang);
    struct tr_draft *d = NULL;
    const unsigned greet = TR_DRAFT_SENT_GREETING | TR_DRAFT_SENT_PARA;
    const unsigned close = TR_DRAFT_SENT_CLOSING | TR_DRAFT_SENT_PARA;
    size_t last_pi = (size_t)-1;
    enum tr_err rc;

    if ((rc = tr_draft_new(t->lang, &d, err)) != TR_OK)
        return rc;
    if ((rc = tr_draft_sentence_add(d, t->greeting, strlen(t->greeting),
                                    greet, NULL, 0, err)) != TR_OK
        || (rc = tr_draft_sentence_add(d, t->intro, strlen(t->intro),
                                       greet, NULL, 0, err)) != TR_OK)
        goto fail;

    /* Candidates are in passage and text order already. */
    for (size_t i = 0; i < x->n_c; i++) {
        const struct cand *c = &x->c[i];
        const char *id = x->ch[c->pi].p->id;
        unsigned flags = 0;

        if (!c->picked)
            continue;
        /* One paragraph per passage: a reader sees where each source
         * begins, and its marker changes there too. */
        if (c->pi != last_pi)
            flags |= TR_DRAFT_SENT_PARA;
        if (c->unit.kind == TR_DRAFT__ITEM)
            flags |= TR_DRAFT_SENT_STEP;
        last_pi = c->pi;
        rc = tr_draft_sentence_add(d, c->text, strlen(c->text), flags,
                                   &id, 1, err);
        if (rc != TR_OK)
            goto fail;
    }

    if ((rc = tr_draft_sentence_add(d, t->closing, strlen(t->closing),
                                    close, NULL, 0, err)) != TR_OK
        || (rc = tr_draft_sentence_add(d, t->signoff, strlen(t->signoff),
                                       close, NULL, 0, err)) != TR_OK)
        goto fail;
    *out = d;
    return TR_OK;

fail:
    tr_draft_free(d);
    return rc;
}

/* Release everything the drafting context holds. */
static void
ctx_cleanup(struct ctx *x)
{
    for (size_t i = 0; i < x->n_c; i++) {
        free(x->c[i].text);
        tr_draft__bag_cleanup(&x->c[i].bag);
    }
    free(x->c);
    for (size_t i = 0; x->ch != NULL && i < x->n_ch; i++)
        tr_draft__units_cleanup(&x->ch[i].units);
    free(x->ch);
    free(x->g);
    free(x->query.v);
}

/* Check the arguments of tr_draft_extractive(). */
static enum tr_err
args_check(const char *ticket, size_t len,
           const struct tr_draft_extractive_opts *o,
           const struct tr_draft_passage *p, size_t n, struct tr_error *err)
{
    enum tr_err rc;

    if (ticket == NULL)
        return TR_ERROR(err, TR_E_INVAL, "ticket text is NULL");
    if (len > TR_DRAFT_TICKET_MAX)
        return TR_ERROR(err, TR_E_TOOBIG,
                        "ticket text of %zu bytes exceeds the limit of %zu",
                        len, TR_DRAFT_TICKET_MAX);
    if (blank(ticket, len))
        return TR_ERROR(err, TR_E_INVAL, "ticket text is empty");
    if ((rc = opts_check(o, err)) != TR_OK)
        return rc;
    return tr_draft__passages_check(p, n, err);
}

/*
 * The ticket's distinct content words are the query.  Numbers and
 * negation play no part in choosing sentences: a ticket that says "not"
 * still wants the article that answers it.
 */
static enum tr_err
query_build(struct ctx *x, const char *ticket, size_t len)
{
    struct tr_draft__bag q;
    enum tr_err rc;

    tr_draft__bag_init(&q);
    rc = tr_draft__bag_add(&q, ticket, len, x->lang);
    if (rc == TR_OK) {
        tr_draft__hvec_unique(&q.terms);
        x->query = q.terms;
        q.terms = (struct tr_draft__hvec){0};
    }
    tr_draft__bag_cleanup(&q);
    return rc;
}

enum tr_err
tr_draft_extractive(const char *ticket, size_t len, const char *lang,
                    const struct tr_draft_passage *p, size_t n,
                    const struct tr_draft_extractive_opts *o,
                    struct tr_draft **out, struct tr_error *err)
{
    struct tr_draft_extractive_opts defaults;
    struct ctx x = {0};
    enum tr_err rc;

    *out = NULL;
    if (o == NULL) {
        tr_draft_extractive_opts_default(&defaults);
        o = &defaults;
    }
    if ((rc = args_check(ticket, len, o, p, n, err)) != TR_OK)
        return rc;
    x.o = o;
    tr_draft__lang_primary(lang, x.lang);

    if (choose(&x, p, n) != TR_OK || query_build(&x, ticket, len) != TR_OK
        || gather(&x) != TR_OK)
        goto nomem;

    /* Nothing to say: the caller escalates instead of drafting. */
    if (x.n_c == 0) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no passage with a sentence to "
                      "draft a reply from");
        goto out;
    }
    score(&x);
    if (group(&x) != TR_OK)
        goto nomem;
    select_units(&x);

    if ((rc = compose(&x, out, err)) != TR_OK)
        goto out;
    (*out)->weak_match = x.weak;

    /* Sources are resolved now so that the draft renders unchecked. */
    if (tr_draft__sources_build(*out, p, n) != TR_OK) {
        tr_draft_free(*out);
        *out = NULL;
        goto nomem;
    }
    goto out;

nomem:
    rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
out:
    ctx_cleanup(&x);
    return rc;
}
