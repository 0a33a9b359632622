/*
 * metrics.c
 *      Ranking metrics of one query and their means over a run.
 *
 * Pure functions over caller-owned arrays; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <string.h>

#include "retrieval.h"

/* Whether document `d` is among the `n` relevant ones. */
static int
is_relevant(int64_t d, const int64_t *rel, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rel[i] == d)
            return 1;
    return 0;
}

void
tr_eval_metrics_init(struct tr_eval_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void
tr_eval_metrics_add(struct tr_eval_metrics *m, const int64_t *ranked,
                    size_t n_ranked, const int64_t *rel, size_t n_rel)
{
    double dcg = 0.0, ideal = 0.0, rr = 0.0;
    size_t found = 0, found_1 = 0, found_5 = 0;

    m->n_queries++;
    if (n_ranked > 10)
        n_ranked = 10;
    if (n_rel == 0)
        return;

    /* Rank r (from 1) is discounted by log2(r + 1). */
    for (size_t i = 0; i < n_ranked; i++) {
        if (!is_relevant(ranked[i], rel, n_rel))
            continue;
        dcg += 1.0 / log2((double) i + 2.0);
        if (rr == 0.0)
            rr = 1.0 / ((double) i + 1.0);
        found++;
        if (i < 1)
            found_1++;
        if (i < 5)
            found_5++;
    }
    for (size_t i = 0; i < n_rel && i < 10; i++)
        ideal += 1.0 / log2((double) i + 2.0);

    m->mrr_10 += rr;
    m->ndcg_10 += dcg / ideal;
    m->recall_1 += (double) found_1 / (double) n_rel;
    m->recall_5 += (double) found_5 / (double) n_rel;
    m->recall_10 += (double) found / (double) n_rel;
    m->success_1 += found_1 > 0;
    m->success_5 += found_5 > 0;
    m->success_10 += found > 0;
}

void
tr_eval_metrics_finish(struct tr_eval_metrics *m)
{
    double n = (double) m->n_queries;

    if (m->n_queries == 0)
        return;
    m->mrr_10 /= n;
    m->ndcg_10 /= n;
    m->recall_1 /= n;
    m->recall_5 /= n;
    m->recall_10 /= n;
    m->success_1 /= n;
    m->success_5 /= n;
    m->success_10 /= n;
}
