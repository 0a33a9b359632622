/*
 * draft_ground.c
 *      The grounding check: is every sentence of a draft backed by the
 *      passages it cites?
 *
 * A sentence is compared with the union of its cited passages: the
 * share of its content words (normalised as in draft_words.c) found
 * there is its score.  Numbers must appear as written, because a
 * changed amount or period is the most harmful error a reply can make
 * and word overlap cannot see it.  Negation is compared with the single
 * passage unit most like the sentence (highest Jaccard overlap of
 * words): "you can cancel" and "you cannot cancel" share every content
 * word, and only the cue tells them apart.  The check is lexical: a
 * faithful paraphrase with other words scores low and goes to a person,
 * which is the safe side.
 *
 * Any thread, one draft at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "draft_int.h"

/* What the check knows of one passage, built when first cited. */
struct pinfo {
    bool ready;
    char lang[TR_DRAFT_LANG_MAX];
    struct tr_draft__bag all;       /* whole text, sorted and unique */
    struct tr_draft__units units;
    struct tr_draft__bag *ubags;    /* one per unit, sorted and unique */
};

/* Union of the cited passages of one sentence. */
struct cited {
    struct tr_draft__hvec terms;
    struct tr_draft__hvec nums;
    size_t n_known;
    const char *lang;               /* cue language of the sentence */
};

/* Free one passage's bags and units; safe on a passage never built. */
static void
pinfo_cleanup(struct pinfo *pi)
{
    if (pi->ubags != NULL)
        for (size_t i = 0; i < pi->units.n; i++)
            tr_draft__bag_cleanup(&pi->ubags[i]);
    free(pi->ubags);
    tr_draft__units_cleanup(&pi->units);
    tr_draft__bag_cleanup(&pi->all);
}

/* The check compares sets: drop repeats of words and numbers. */
static void
bag_unique(struct tr_draft__bag *b)
{
    tr_draft__hvec_unique(&b->terms);
    tr_draft__hvec_unique(&b->nums);
}

/* Build the bags of passage `p` once; the language of its cues is its
 * locale, or the draft's when it has none. */
static enum tr_err
pinfo_build(struct pinfo *pi, const struct tr_draft_passage *p,
            const char *draft_lang)
{
    const char *t = p->text ? p->text : "";
    size_t len = strlen(t);
    enum tr_err rc;

    if (pi->ready)
        return TR_OK;
    tr_draft__lang_primary(p->locale, pi->lang);
    if (pi->lang[0] == '\0')
        tr_draft__lang_primary(draft_lang, pi->lang);

    if ((rc = tr_draft__bag_add(&pi->all, t, len, pi->lang)) != TR_OK
        || (rc = tr_draft__split(t, len, &pi->units)) != TR_OK)
        return rc;
    bag_unique(&pi->all);

    pi->ubags = calloc(pi->units.n ? pi->units.n : 1, sizeof(*pi->ubags));
    if (pi->ubags == NULL)
        return TR_E_NOMEM;
    for (size_t i = 0; i < pi->units.n; i++) {
        const struct tr_draft__unit *u = &pi->units.v[i];

        rc = tr_draft__bag_add(&pi->ubags[i], t + u->start,
                               u->end - u->start, pi->lang);
        if (rc != TR_OK)
            return rc;
        bag_unique(&pi->ubags[i]);
    }
    pi->ready = true;
    return TR_OK;
}

/* Append every value of `from` to `to`; TR_E_NOMEM. */
static enum tr_err
hvec_append(struct tr_draft__hvec *to, const struct tr_draft__hvec *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (tr_draft__hvec_push(to, from->v[i]) != TR_OK)
            return TR_E_NOMEM;
    return TR_OK;
}

/*
 * Gather the known cited passages of `s` into `c`; unknown ids set
 * TR_DRAFT_WHY_UNKNOWN_ID in *why.
 */
static enum tr_err
gather(const struct tr_draft_sentence *s, const struct tr_draft_passage *p,
       size_t n, struct pinfo *info, const char *draft_lang,
       struct cited *c, unsigned *why)
{
    enum tr_err rc;

    for (size_t i = 0; i < s->n_cites; i++) {
        size_t k = tr_draft__passage_find(p, n, s->cites[i]);

        if (k == n) {
            *why |= TR_DRAFT_WHY_UNKNOWN_ID;
            continue;
        }
        if ((rc = pinfo_build(&info[k], &p[k], draft_lang)) != TR_OK
            || (rc = hvec_append(&c->terms, &info[k].all.terms)) != TR_OK
            || (rc = hvec_append(&c->nums, &info[k].all.nums)) != TR_OK)
            return rc;
        if (c->n_known++ == 0)
            c->lang = info[k].lang;
    }
    tr_draft__hvec_unique(&c->terms);
    tr_draft__hvec_unique(&c->nums);
    return TR_OK;
}

/*
 * Negation of the cited unit most like `sb` (Jaccard of words); -1
 * when no unit shares a word with it.
 */
static int
closest_negation(const struct tr_draft_sentence *s,
                 const struct tr_draft_passage *p, size_t n,
                 const struct pinfo *info, const struct tr_draft__bag *sb)
{
    double best = 0;
    int neg = -1;

    for (size_t i = 0; i < s->n_cites; i++) {
        size_t k = tr_draft__passage_find(p, n, s->cites[i]);

        if (k == n)
            continue;
        for (size_t u = 0; u < info[k].units.n; u++) {
            const struct tr_draft__bag *ub = &info[k].ubags[u];
            size_t common = tr_draft__hvec_common(&sb->terms, &ub->terms);
            double j;

            if (common == 0)
                continue;
            j = (double)common
                / (double)(sb->terms.n + ub->terms.n - common);

            /* Strictly better only: the earlier unit wins a tie. */
            if (j > best) {
                best = j;
                neg = ub->neg;
            }
        }
    }
    return neg;
}

/* Score the words and numbers of `sb` against the union `c`. */
static double
coverage(const struct tr_draft__bag *sb, const struct cited *c,
         const struct tr_draft_ground_opts *o, unsigned *why)
{
    double cov = 1.0;

    /* A sentence of numbers alone ("24/7.") stands or falls by them. */
    if (sb->terms.n > 0)
        cov = (double)tr_draft__hvec_common(&sb->terms, &c->terms)
              / (double)sb->terms.n;
    if (cov < o->min_coverage)
        *why |= TR_DRAFT_WHY_LOW_COVERAGE;

    if (o->numbers_exact)
        for (size_t i = 0; i < sb->nums.n; i++)
            if (!tr_draft__hvec_has(&c->nums, sb->nums.v[i]))
                *why |= TR_DRAFT_WHY_NUMBER;
    return cov;
}

/* Check one body sentence; fills its verdict, score and reasons. */
static enum tr_err
check_sentence(struct tr_draft *d, struct tr_draft_sentence *s,
               const struct tr_draft_passage *p, size_t n,
               struct pinfo *info, const struct tr_draft_ground_opts *o)
{
    struct tr_draft__bag sb;
    struct cited c = {0};
    unsigned why = 0;
    double score = 0;
    enum tr_err rc;

    tr_draft__bag_init(&sb);
    if (s->n_cites == 0) {
        why |= TR_DRAFT_WHY_NO_CITATION;
        rc = TR_OK;
        goto out;
    }
    if ((rc = gather(s, p, n, info, d->lang, &c, &why)) != TR_OK)
        goto out;
    if ((rc = tr_draft__bag_add(&sb, s->text, strlen(s->text),
                                c.lang ? c.lang : d->lang)) != TR_OK)
        goto out;
    bag_unique(&sb);

    /* Nothing to compare: neither a content word nor a number. */
    if (sb.terms.n == 0 && sb.nums.n == 0) {
        /* "Yes." or "Done!" may be true or not; nothing here can tell,
         * so a person must. */
        why |= TR_DRAFT_WHY_EMPTY;
        goto out;
    }
    /* Every cited id is unknown: there is nothing to compare with. */
    if (c.n_known == 0)
        goto out;

    score = coverage(&sb, &c, o, &why);
    if (o->check_negation) {
        int neg = closest_negation(s, p, n, info, &sb);

        if (neg >= 0 && (bool)neg != sb.neg)
            why |= TR_DRAFT_WHY_NEGATION;
    }
    /* A wrong number or a flipped statement is wrong however many
     * words it shares: the score says so for whoever sorts by it. */
    if (why & (TR_DRAFT_WHY_NUMBER | TR_DRAFT_WHY_NEGATION))
        score = 0;

out:
    s->score = score;
    s->why = why;
    s->verdict = why ? TR_DRAFT_UNSUPPORTED : TR_DRAFT_SUPPORTED;
    free(c.terms.v);
    free(c.nums.v);
    tr_draft__bag_cleanup(&sb);
    return rc;
}

/*
 * Give every sentence of `d` its verdict and list the unsupported ones.
 * Greetings and closings are exempt: they are fixed courtesy, and a
 * provider that marks a claim as greeting is caught by the prompt's
 * rules, not here.
 */
static enum tr_err
check_all(struct tr_draft *d, const struct tr_draft_passage *p, size_t n,
          struct pinfo *info, const struct tr_draft_ground_opts *o)
{
    enum tr_err rc;

    for (size_t i = 0; i < d->n_sentences; i++) {
        struct tr_draft_sentence *s = &d->sentences[i];

        if (s->flags & (TR_DRAFT_SENT_GREETING | TR_DRAFT_SENT_CLOSING)) {
            s->verdict = TR_DRAFT_EXEMPT;
            s->score = 1.0;
            continue;
        }
        if ((rc = check_sentence(d, s, p, n, info, o)) != TR_OK)
            return rc;
        if (s->verdict == TR_DRAFT_UNSUPPORTED)
            d->unsupported[d->n_unsupported++] = i;
    }
    return TR_OK;
}

/*
 * Coverage is a share: a threshold outside [0, 1] would pass or fail
 * everything, which is never what a tenant meant.
 */
static enum tr_err
opts_check(const struct tr_draft_ground_opts *o, struct tr_error *err)
{
    if (!(o->min_coverage >= 0.0 && o->min_coverage <= 1.0))
        return TR_ERROR(err, TR_E_INVAL,
                        "min_coverage must lie in [0, 1], not %g",
                        o->min_coverage);
    return TR_OK;
}

enum tr_err
tr_draft_ground_check(struct tr_draft *d, const struct tr_draft_passage *p,
                      size_t n, const struct tr_draft_ground_opts *o,
                      struct tr_error *err)
{
    struct tr_draft_ground_opts defaults;
    struct pinfo *info = NULL;
    enum tr_err rc;

    if (d == NULL)
        return TR_ERROR(err, TR_E_INVAL, "draft is NULL");
    tr_draft__verdicts_reset(d);
    if (o == NULL) {
        tr_draft_ground_opts_default(&defaults);
        o = &defaults;
    }
    if ((rc = opts_check(o, err)) != TR_OK
        || (rc = tr_draft__passages_check(p, n, err)) != TR_OK)
        return rc;

    /* Passage facts are built on first citation: most passages of a
     * call are cited by no sentence at all. */
    info = calloc(n ? n : 1, sizeof(*info));
    d->unsupported = calloc(d->n_sentences ? d->n_sentences : 1,
                            sizeof(*d->unsupported));
    if (info == NULL || d->unsupported == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    if (check_all(d, p, n, info, o) != TR_OK
        || tr_draft__sources_build(d, p, n) != TR_OK) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    d->checked = true;

out:
    for (size_t i = 0; info != NULL && i < n; i++)
        pinfo_cleanup(&info[i]);
    free(info);
    if (rc != TR_OK)
        tr_draft__verdicts_reset(d);
    return rc;
}
