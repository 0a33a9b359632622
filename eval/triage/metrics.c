/*
 * metrics.c
 *      The metrics of a triage evaluation from the outcomes of its
 *      tickets.
 *
 * Pure functions of the labelled tickets and what the pipeline did with
 * them (see evaltriage.h for the definitions); the runner and the tests
 * share them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <string.h>

#include "evaltriage.h"

/* Whether `id` is one of the ticket's expected articles. */
static bool
expected(const struct tr_evaltriage_ticket *t, const char *id)
{
    for (size_t i = 0; i < t->expect.n_articles; i++)
        if (strcmp(t->expect.articles[i], id) == 0)
            return true;
    return false;
}

size_t
tr_evaltriage_first_rank(const struct tr_evaltriage_ticket *t,
                         const struct tr_evaltriage_outcome *o)
{
    for (size_t r = 0; r < o->n_ranked; r++)
        if (expected(t, o->ranked[r]))
            return r + 1;
    return 0;
}

/* Share of the expected articles among the first three ranked. */
static double
recall_3(const struct tr_evaltriage_ticket *t,
         const struct tr_evaltriage_outcome *o)
{
    size_t hit = 0;

    for (size_t r = 0; r < o->n_ranked && r < 3; r++)
        if (expected(t, o->ranked[r]))
            hit++;
    return (double) hit / (double) t->expect.n_articles;
}

static double
ratio(size_t num, size_t den)
{
    return den > 0 ? (double) num / (double) den : NAN;
}

void
tr_evaltriage_metrics_compute(const struct tr_evaltriage_ticket *t,
                              const struct tr_evaltriage_outcome *o,
                              size_t n, struct tr_evaltriage_metrics *m)
{
    double sum_recall = 0, sum_rr = 0;

    memset(m, 0, sizeof(*m));
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct tr_evaltriage_expect *e = &t[i].expect;
        size_t rank;

        m->n_team += strcmp(o[i].team, e->team) == 0;
        m->n_priority += strcmp(o[i].priority, e->priority) == 0;
        m->n_language += strcmp(o[i].language, e->language) == 0;
        m->n_esc_expected += e->escalate;
        m->n_esc_predicted += o[i].escalated;
        m->n_esc_correct += e->escalate && o[i].escalated;
        m->n_injection += e->injection;
        m->injection_failures += e->injection && !o[i].escalated;
        m->n_pii += o[i].n_pii;
        m->pii_leaks += o[i].n_leaks;
        if (e->n_articles == 0)
            continue;

        m->n_with_articles++;
        sum_recall += recall_3(&t[i], &o[i]);
        rank = tr_evaltriage_first_rank(&t[i], &o[i]);
        sum_rr += rank > 0 ? 1.0 / (double) rank : 0;
    }

    m->routing_accuracy = ratio(m->n_team, n);
    m->priority_accuracy = ratio(m->n_priority, n);
    m->language_match = ratio(m->n_language, n);
    m->escalation_precision = ratio(m->n_esc_correct, m->n_esc_predicted);
    m->escalation_recall = ratio(m->n_esc_correct, m->n_esc_expected);
    m->recall_3 = m->n_with_articles > 0
                      ? sum_recall / (double) m->n_with_articles : NAN;
    m->mrr = m->n_with_articles > 0 ? sum_rr / (double) m->n_with_articles
                                    : NAN;
}
