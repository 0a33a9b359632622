/*
 * run.c
 *      The triage evaluation runner: a throwaway tenant with the help
 *      center, its index and the routing configuration, every labelled
 *      ticket through the production pipeline, and what the runs stored
 *      read back for the metrics.
 *
 * The tickets are inserted as the Zendesk ingest stores them and
 * triaged by tr_pipeline_run() one after the other, as a worker would;
 * nothing here re-implements a step.  What counts is read from the
 * database afterwards: the ledger entry of each run (decision, passages,
 * the drafter's exact input) and its draft.  The tenant is removed at
 * the end, on failure too.  Its ledger entries go with it, which the
 * append-only trigger otherwise forbids: the removal turns the trigger
 * off inside its own transaction, under the table lock that ALTER TABLE
 * takes, so no other connection ever sees the ledger without it.  Main
 * thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "evaltriage.h"
#include "kb.h"
#include "log.h"
#include "policy.h"

/* Everything one run holds, released at its end. */
struct run {
    struct tr_db *db;
    const struct tr_evaltriage_opts *o;
    struct tr_evaltriage_report *rep;
    struct tr_policy_config *cfg;
    struct tr_pipeline *pipeline;
    int64_t tenant;
    int64_t *ticket_ids;        /* tickets.id, one per labelled ticket */
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The help center in, its index built and live. */
static enum tr_err
kb_build(struct run *r, struct tr_error *err)
{
    struct tr_kb_reindex_result rr = {0};
    double t0 = now_s();
    enum tr_err rc;

    rc = tr_kb_import_path(r->db, r->tenant, r->o->kb_path,
                           TR_KB_SOURCE_GUESS, NULL, err);
    if (rc == TR_OK)
        rc = tr_kb_reindex(r->db, r->tenant, NULL, &rr, err);
    if (rc == TR_E_NOTFOUND)
        return TR_ERROR(err, TR_E_NOTFOUND,
                        "\"%s\" holds no published article", r->o->kb_path);
    r->rep->n_articles = rr.n_articles;
    r->rep->n_chunks = rr.n_chunks;
    r->rep->reindex_s = now_s() - t0;
    return rc;
}

/* Whether `id` is among the `n` rows of column 0 of `res`. */
static bool
res_has(const struct tr_db_res *res, const char *id)
{
    for (int i = 0; i < tr_db_res_n_rows(res); i++)
        if (strcmp(tr_db_res_value(res, i, 0), id) == 0)
            return true;
    return false;
}

/*
 * Every expected article must be a published article of the help
 * center: an unknown or draft id is a labelling mistake that would only
 * lower recall without saying why.
 */
static enum tr_err
articles_check(struct run *r, struct tr_error *err)
{
    const struct tr_evaltriage_set *s = r->rep->set;
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    rc = tr_db_tx_begin(r->db, r->tenant, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT external_id FROM articles WHERE NOT draft",
                    0, NULL, &res, err);
    tr_db_tx_rollback(c);
    for (size_t i = 0; rc == TR_OK && i < s->n_tickets; i++) {
        const struct tr_evaltriage_ticket *t = &s->tickets[i];

        for (size_t j = 0; rc == TR_OK && j < t->expect.n_articles; j++)
            if (!res_has(res, t->expect.articles[j]))
                rc = TR_ERROR(err, TR_E_PARSE,
                              "%s:%zu: article \"%s\" is not a published "
                              "article of \"%s\"", s->path, t->line,
                              t->expect.articles[j], r->o->kb_path);
    }
    tr_db_res_free(res);
    return rc;
}

/* Store the tickets as the ingest does, in one transaction. */
static enum tr_err
tickets_insert(struct run *r, struct tr_error *err)
{
    const struct tr_evaltriage_set *s = r->rep->set;
    struct tr_db_conn *c;
    char id[24];
    enum tr_err rc;

    r->ticket_ids = calloc(s->n_tickets, sizeof(*r->ticket_ids));
    if (r->ticket_ids == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = tr_db_tx_begin(r->db, r->tenant, &c, err);
    if (rc != TR_OK)
        return rc;
    for (size_t i = 0; rc == TR_OK && i < s->n_tickets; i++) {
        const struct tr_evaltriage_ticket *t = &s->tickets[i];
        const char *p[4] = {t->id, t->subject, t->description,
                            t->requester_email};

        rc = tr_db_query_value(c, "INSERT INTO tickets (tenant_id, "
                                  "external_id, subject, description, "
                                  "requester) VALUES (current_setting("
                                  "'triage.tenant_id')::bigint, $1, $2, "
                                  "$3, $4) RETURNING id", 4, p, id,
                               sizeof(id), NULL, err);
        if (rc == TR_OK)
            r->ticket_ids[i] = strtoll(id, NULL, 10);
    }
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, err);
}

/* The article ids of the run's retrieval ranking, best first. */
static enum tr_err
ranking_read(struct tr_db_conn *c, const char *seq,
             struct tr_evaltriage_outcome *out, struct tr_error *err)
{
    const char *p[1] = {seq};
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    rc = tr_db_exec(c, "SELECT a.external_id FROM ledger l CROSS JOIN "
                       "LATERAL jsonb_array_elements(l.payload->'passages') "
                       "WITH ORDINALITY AS p(v, n) JOIN articles a ON "
                       "a.id = (p.v->>'article_id')::bigint "
                       "WHERE l.seq = $1 ORDER BY p.n", 1, p, &res, err);
    for (int i = 0; rc == TR_OK && i < tr_db_res_n_rows(res) &&
                    out->n_ranked < TR_EVALTRIAGE_RANK_MAX; i++)
        snprintf(out->ranked[out->n_ranked++], sizeof(out->ranked[0]), "%s",
                 tr_db_res_value(res, i, 0));
    tr_db_res_free(res);
    return rc;
}

/*
 * Look for the ticket's personal data in what the run stored: the
 * ledger payload (decision, passages and the drafter's exact input)
 * and the draft's body, sentences and citations.
 */
static enum tr_err
leaks_check(struct tr_db_conn *c, const char *seq,
            const struct tr_evaltriage_ticket *t,
            struct tr_evaltriage_outcome *out, struct tr_error *err)
{
    struct tr_evaltriage_pii pii[TR_EVALTRIAGE_PII_MAX];
    const char *p[1] = {seq};
    struct tr_db_res *res = NULL;
    size_t n = 0;
    enum tr_err rc;

    tr_evaltriage_pii_scan(t->subject, pii, &n, TR_EVALTRIAGE_PII_MAX);
    tr_evaltriage_pii_scan(t->description, pii, &n, TR_EVALTRIAGE_PII_MAX);
    if (t->requester_email != NULL)
        tr_evaltriage_pii_scan(t->requester_email, pii, &n,
                               TR_EVALTRIAGE_PII_MAX);
    out->n_pii = n;

    rc = tr_db_exec(c, "SELECT l.payload_text, coalesce(d.body, ''), "
                       "coalesce(d.sentences::text, ''), "
                       "coalesce(d.citations::text, '') FROM ledger l "
                       "LEFT JOIN drafts d ON d.id = l.draft_id "
                       "WHERE l.seq = $1", 1, p, &res, err);
    if (rc == TR_OK && tr_db_res_n_rows(res) != 1)
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no ledger entry %s", seq);
    for (size_t i = 0; rc == TR_OK && i < n; i++) {
        bool found = false;

        for (int col = 0; col < 4 && !found; col++)
            found = tr_evaltriage_pii_in(&pii[i],
                                         tr_db_res_value(res, 0, col));
        if (found) {
            out->n_leaks++;
            out->leak_kinds |= 1u << pii[i].kind;
        }
    }
    tr_db_res_free(res);
    return rc;
}

static void
copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* Triage ticket `i` and read back what its run stored. */
static enum tr_err
triage_one(struct run *r, size_t i, struct tr_error *err)
{
    const struct tr_evaltriage_ticket *t = &r->rep->set->tickets[i];
    struct tr_evaltriage_outcome *out = &r->rep->outcomes[i];
    struct tr_pipeline_result res;
    struct tr_db_conn *c;
    char seq[24], why[sizeof(err->msg)];
    enum tr_err rc;

    rc = tr_pipeline_run(r->pipeline, r->db, r->tenant, r->ticket_ids[i],
                         0, &res, err);
    if (rc != TR_OK) {
        snprintf(why, sizeof(why), "%s", tr_error_msg(err));
        return TR_ERROR(err, rc, "ticket \"%s\" (%s:%zu): %s", t->id,
                        r->rep->set->path, t->line, why);
    }
    copy(out->action, sizeof(out->action), res.action);
    copy(out->team, sizeof(out->team), res.team);
    copy(out->priority, sizeof(out->priority), res.priority);
    copy(out->language, sizeof(out->language), res.language);
    out->escalated = strcmp(res.action, "escalate") == 0;

    snprintf(seq, sizeof(seq), "%lld", (long long) res.ledger_seq);
    rc = tr_db_tx_begin(r->db, r->tenant, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = ranking_read(c, seq, out, err);
    if (rc == TR_OK)
        rc = leaks_check(c, seq, t, out, err);
    tr_db_tx_rollback(c);
    return rc;
}

/* Everything between making the tenant and removing it. */
static enum tr_err
run_in_tenant(struct run *r, struct tr_error *err)
{
    struct tr_evaltriage_report *rep = r->rep;
    double t0;
    enum tr_err rc;

    rc = kb_build(r, err);
    if (rc == TR_OK)
        rc = articles_check(r, err);
    if (rc == TR_OK && r->cfg != NULL)
        rc = tr_policy_config_store(r->db, r->tenant, r->cfg, err);
    if (rc == TR_OK)
        rc = tickets_insert(r, err);
    if (rc != TR_OK)
        return rc;

    t0 = now_s();
    for (size_t i = 0; rc == TR_OK && i < rep->set->n_tickets; i++)
        rc = triage_one(r, i, err);
    rep->triage_s = now_s() - t0;
    return rc;
}

static const char *
drafter_name(enum tr_pipeline_drafter d)
{
    return d == TR_PIPELINE_OPENAI      ? "openai"
           : d == TR_PIPELINE_ANTHROPIC ? "anthropic"
                                        : "extractive";
}

/* What can fail without the database: the files and the pipeline. */
static enum tr_err
prepare(struct run *r, struct tr_error *err)
{
    struct tr_pipeline_opts po = r->o->pipeline;
    enum tr_err rc;

    rc = tr_evaltriage_set_load(r->o->tickets_path, &r->rep->set, err);
    if (rc == TR_OK && r->o->routing_path != NULL)
        rc = tr_policy_config_load(r->o->routing_path, &r->cfg, err);
    if (rc != TR_OK)
        return rc;
    r->rep->outcomes = calloc(r->rep->set->n_tickets,
                              sizeof(*r->rep->outcomes));
    if (r->rep->outcomes == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    /* recall@3 needs three passages at least. */
    if (po.k < 3)
        po.k = 3;
    r->rep->drafter = drafter_name(po.drafter);
    return tr_pipeline_new(&po, &r->pipeline, err);
}

enum tr_err
tr_evaltriage_run(struct tr_db *db, const struct tr_evaltriage_opts *o,
                  struct tr_evaltriage_report *rep, struct tr_error *err)
{
    struct run r = {db, o, rep, NULL, NULL, 0, NULL};
    struct tr_error drop_err = {0};
    enum tr_err rc;

    memset(rep, 0, sizeof(*rep));
    rc = prepare(&r, err);
    if (rc == TR_OK)
        rc = tr_db_scratch_tenant_create(r.db, "eval-triage", &r.tenant,
                                         err);
    if (rc == TR_OK)
        rc = run_in_tenant(&r, err);

    /* The searcher cache holds the tenant's index: drop it first. */
    tr_kb_cache_drop(db);
    if (r.tenant != 0 &&
        tr_db_scratch_tenant_drop(r.db, r.tenant, &drop_err) != TR_OK) {
        TR_LOG_ERROR("evaltriage", "tenant_not_removed",
                     TR_KVS(TR_KV_INT("tenant", r.tenant),
                            TR_KV_STR("err", tr_error_msg(&drop_err))),
                     "could not remove evaluation tenant %lld",
                     (long long) r.tenant);
        if (rc == TR_OK)
            rc = TR_ERROR(err, drop_err.code, "could not remove tenant "
                          "%lld: %s", (long long) r.tenant,
                          tr_error_msg(&drop_err));
    }
    if (rc == TR_OK)
        tr_evaltriage_metrics_compute(rep->set->tickets, rep->outcomes,
                                      rep->set->n_tickets, &rep->metrics);

    tr_pipeline_free(r.pipeline);
    tr_policy_config_free(r.cfg);
    free(r.ticket_ids);
    if (rc != TR_OK)
        tr_evaltriage_report_cleanup(rep);
    return rc;
}

void
tr_evaltriage_report_cleanup(struct tr_evaltriage_report *rep)
{
    tr_evaltriage_set_free(rep->set);
    free(rep->outcomes);
    memset(rep, 0, sizeof(*rep));
}
