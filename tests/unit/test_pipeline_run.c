/*
 * test_pipeline_run.c
 *      The triage pipeline end to end against a real PostgreSQL: a small
 *      knowledge base, tickets with personal data, the extractive
 *      drafter and a model drafter behind the fake model server.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"

#include <cjson/cJSON.h>

#include "db.h"
#include "kb.h"
#include "ledger.h"
#include "llm.h"
#include "pgtest.h"
#include "pipeline.h"
#include "policy.h"
#include "route.h"
#include "test_llm_fx.h"

struct fixture {
    struct tr_pgtest t;
    int64_t tenant;
    char path[1024];
};

static const char *refund_subject = "Refund for my order";
static const char *refund_body =
    "Hello, I bought the plan last week and want a refund. How do I get "
    "my money back? Write to jane.doe@example.com or call +1 415 555 "
    "0100. My card was 4111 1111 1111 1111.";

static void
setup(struct fixture *f, bool with_kb)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char id[24];

    memset(f, 0, sizeof(*f));
    if (tr_pgtest_open(&f->t, 8, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                          "webhook_secret) VALUES ('acme', "
                                          "'s') RETURNING id", 0, NULL, id,
                                       sizeof(id), NULL, &err), TR_OK);
    tr_db_conn_release(c);
    f->tenant = atoll(id);
    tr_kb_cache_set_check_ms(0);
    if (!with_kb)
        return;

    snprintf(f->path, sizeof(f->path), "%s/tests/data/kb/tiny.jsonl",
             getenv("TR_SOURCE_DIR"));
    assert_int_equal(tr_kb_import_path(f->t.db, f->tenant, f->path,
                                       TR_KB_SOURCE_GUESS, NULL, &err),
                     TR_OK);
    if (tr_kb_reindex(f->t.db, f->tenant, NULL, NULL, &err) != TR_OK)
        fail_msg("reindex failed: %s", tr_error_msg(&err));
}

static void
teardown(struct fixture *f)
{
    tr_kb_cache_drop(f->t.db);
    tr_pgtest_close(&f->t);
}

/* Insert a ticket and return its id. */
static int64_t
ticket_add(struct fixture *f, const char *ext, const char *subject,
           const char *body)
{
    const char *params[3] = {ext, subject, body};
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char id[24];

    assert_int_equal(tr_db_tx_begin(f->t.db, f->tenant, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tickets (tenant_id, "
                                          "external_id, subject, "
                                          "description) VALUES (current_"
                                          "setting('triage.tenant_id')::"
                                          "bigint, $1, $2, $3) RETURNING id",
                                       3, params, id, sizeof(id), NULL,
                                       &err), TR_OK);
    assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
    return atoll(id);
}

/* The first value of `sql` in the tenant's context, into `buf`. */
static const char *
value(struct fixture *f, const char *sql, char *buf, size_t len)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    bool is_null = false;

    assert_int_equal(tr_db_tx_begin(f->t.db, f->tenant, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, sql, 0, NULL, buf, len, &is_null,
                                       &err), TR_OK);
    tr_db_tx_rollback(c);
    if (is_null)
        buf[0] = '\0';
    return buf;
}

static long long
count(struct fixture *f, const char *sql)
{
    char buf[32];

    return atoll(value(f, sql, buf, sizeof(buf)));
}

static struct tr_pipeline *
pipeline_offline(void)
{
    struct tr_pipeline_opts o = {0};
    struct tr_pipeline *p = NULL;
    struct tr_error err = {0};

    o.drafter = TR_PIPELINE_EXTRACTIVE;
    o.k = 3;
    o.fallback_extractive = true;
    if (tr_pipeline_new(&o, &p, &err) != TR_OK)
        fail_msg("pipeline: %s", tr_error_msg(&err));
    return p;
}

/* A configuration that drafts whatever retrieval finds. */
static void
config_set(struct fixture *f, const char *json)
{
    struct tr_policy_config *cfg;
    struct tr_error err = {0};

    if (tr_policy_config_parse(json, strlen(json), &cfg, &err) != TR_OK)
        fail_msg("config: %s", tr_error_msg(&err));
    assert_int_equal(tr_policy_config_store(f->t.db, f->tenant, cfg, &err),
                     TR_OK);
    tr_policy_config_free(cfg);
}

static const char *lenient =
    "{\"thresholds\": {\"retrieval_min_score\": 0.01}}";

static void
pipeline_drafts_a_cited_reply_without_personal_data(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    struct tr_ledger_report rep;
    char buf[8192];
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    p = pipeline_offline();
    tid = ticket_add(&f, "9001", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_true(res.draft_id > 0);
    assert_true(res.n_passages >= 1);
    assert_int_equal(res.n_redacted, 3);     /* e-mail, phone, card */
    assert_string_equal(res.language, "en");

    /* The draft cites the refund article and waits for approval. */
    value(&f, "SELECT status || ' ' || citations::text FROM drafts", buf,
          sizeof(buf));
    assert_non_null(strstr(buf, "pending"));
    assert_non_null(strstr(buf, "Getting a refund"));
    value(&f, "SELECT body FROM drafts", buf, sizeof(buf));
    assert_non_null(strstr(buf, "refund"));
    assert_null(strstr(buf, "jane.doe"));

    /* The ledger holds the redacted input, never the originals. */
    value(&f, "SELECT payload_text FROM ledger", buf, sizeof(buf));
    assert_null(strstr(buf, "jane.doe@example.com"));
    assert_null(strstr(buf, "4111 1111"));
    assert_null(strstr(buf, "555 0100"));
    assert_non_null(strstr(buf, "[EMAIL_1]"));
    assert_non_null(strstr(buf, "\"action\":\"draft\""));
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs WHERE "
                               "action = 'draft' AND draft_id IS NOT NULL"),
                     1);
    value(&f, "SELECT language FROM tickets", buf, sizeof(buf));
    assert_string_equal(buf, "en");

    assert_int_equal(tr_ledger_verify(f.t.db, f.tenant, 0, NULL, &rep, &err),
                     TR_OK);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    tr_pipeline_free(p);
    teardown(&f);
}

static void
pipeline_replay_gives_the_hashed_input(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_ledger_entry e = {0};
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char recorded[TR_LEDGER_HASH_LEN + 8], actual[TR_LEDGER_HASH_LEN + 1];
    char *input = NULL;
    size_t len = 0;
    bool matches = false;
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    p = pipeline_offline();
    tid = ticket_add(&f, "9002", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_true(res.draft_id > 0);

    assert_int_equal(tr_db_tx_begin(f.t.db, f.tenant, &c, &err), TR_OK);
    assert_int_equal(tr_ledger_get_by_draft(c, res.draft_id, NULL, &e, &err),
                     TR_OK);
    tr_db_tx_rollback(c);
    assert_int_equal(tr_ledger_model_input(&e, &input, &len, recorded,
                                           actual, &matches, &err), TR_OK);
    assert_true(matches);
    assert_non_null(strstr(input, "[CARD_1]"));
    assert_null(strstr(input, "4111"));
    free(input);
    tr_ledger_entry_cleanup(&e);
    tr_pipeline_free(p);
    teardown(&f);
}

static void
pipeline_rerun_of_a_job_writes_nothing_twice(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result r1, r2;
    struct tr_error err = {0};
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    p = pipeline_offline();
    tid = ticket_add(&f, "9003", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 77, &r1,
                                     &err), TR_OK);
    assert_false(r1.again);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 77, &r2,
                                     &err), TR_OK);
    assert_true(r2.again);
    assert_int_equal(r2.run_id, r1.run_id);
    assert_int_equal(r2.draft_id, r1.draft_id);
    assert_int_equal(count(&f, "SELECT count(*) FROM drafts"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM ledger"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs"), 1);
    tr_pipeline_free(p);
    teardown(&f);
}

static void
pipeline_escalates_threats_and_tickets_without_articles(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[4096];
    int64_t tid;

    /* No knowledge base at all: nothing to cite. */
    setup(&f, false);
    p = pipeline_offline();
    tid = ticket_add(&f, "9004", "Question", "How do I get a refund?");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "escalate");
    assert_int_equal(res.draft_id, 0);
    assert_int_equal(res.n_passages, 0);
    value(&f, "SELECT reasons::text FROM triage_runs", buf, sizeof(buf));
    assert_non_null(strstr(buf, "no_article_above_threshold"));
    tr_pipeline_free(p);
    teardown(&f);

    /* A legal threat goes to a human even with a perfect article. */
    setup(&f, true);
    config_set(&f, lenient);
    p = pipeline_offline();
    tid = ticket_add(&f, "9005", "Refund now",
                     "Give me my refund or my lawyer will sue you.");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "escalate");
    assert_int_equal(res.draft_id, 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM drafts"), 0);
    value(&f, "SELECT payload_text FROM ledger", buf, sizeof(buf));
    assert_non_null(strstr(buf, "legal_threat"));
    tr_pipeline_free(p);
    teardown(&f);
}

static void
pipeline_unknown_ticket_is_reported(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};

    setup(&f, false);
    p = pipeline_offline();
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, 424242, 0, &res,
                                     &err), TR_E_NOTFOUND);
    assert_non_null(strstr(tr_error_msg(&err), "424242"));
    assert_int_equal(count(&f, "SELECT count(*) FROM ledger"), 0);
    tr_pipeline_free(p);
    teardown(&f);
}

static void
pipeline_auto_send_enqueues_the_post_back(void **state)
{
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[4096];
    int64_t tid;

    setup(&f, true);
    config_set(&f, "{\"teams\": [{\"name\": \"billing\", "
                   "\"zendesk_group_id\": 55}], "
                   "\"sections\": {\"Billing\": \"billing\"}, "
                   "\"thresholds\": {\"retrieval_min_score\": 0.01, "
                   "\"evidence_min_score\": 0.01}, "
                   "\"auto_send\": {\"enabled\": true, "
                   "\"min_confidence\": 0.01, \"min_intent_prob\": 0, "
                   "\"min_score\": 0.01}}");
    p = pipeline_offline();
    tid = ticket_add(&f, "9006", "How do I get a refund",
                     "How do I get a refund for my purchase?");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    value(&f, "SELECT reasons::text FROM triage_runs", buf, sizeof(buf));
    if (strcmp(res.action, "auto_send") != 0)
        fail_msg("not sent: %s", buf);
    value(&f, "SELECT status FROM drafts", buf, sizeof(buf));
    assert_string_equal(buf, "approved");
    value(&f, "SELECT payload::text FROM jobs WHERE kind = "
              "'zendesk.postback'", buf, sizeof(buf));
    snprintf(buf + 2048, 64, "\"draft_id\": %lld", (long long) res.draft_id);
    assert_non_null(strstr(buf, buf + 2048));

    /* The team came from the section of the retrieved article. */
    assert_string_equal(res.team, "billing");
    assert_non_null(strstr(buf, "\"group_id\": 55"));
    tr_pipeline_free(p);
    teardown(&f);
}

/* A pipeline drafting with the fake's OpenAI-compatible endpoint. */
static struct tr_pipeline *
pipeline_model(struct fm_fx *fx, bool fallback)
{
    struct tr_pipeline_opts o = {0};
    struct tr_pipeline *p = NULL;
    struct tr_error err = {0};
    char base[96];

    snprintf(base, sizeof(base), "%s/v1", fx->base);
    o.drafter = TR_PIPELINE_OPENAI;
    o.base_url = base;
    o.api_key = FM_KEY;
    o.model = "gpt-fake";
    o.timeout_s = 5;
    o.k = 3;
    o.fallback_extractive = fallback;
    if (tr_pipeline_new(&o, &p, &err) != TR_OK)
        fail_msg("pipeline: %s", tr_error_msg(&err));
    return p;
}

static void
pipeline_model_receives_only_redacted_text(void **state)
{
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[4096], *rec;
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    fm_start(&fx, 64);
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9007", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_false(res.fallback);

    /* What the model server actually received. */
    rec = fm_record(&fx);
    assert_non_null(rec);
    assert_int_equal(fm_count(rec, "/v1/chat/completions"), 1);
    assert_int_equal(fm_count(rec, "jane.doe"), 0);
    assert_int_equal(fm_count(rec, "4111"), 0);
    assert_int_equal(fm_count(rec, "555 0100"), 0);
    assert_true(fm_count(rec, "[EMAIL_1]") >= 1);
    free(rec);

    value(&f, "SELECT provider || '/' || model FROM drafts", buf,
          sizeof(buf));
    assert_string_equal(buf, "openai/gpt-fake");
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

static void
pipeline_model_failure_falls_back_or_escalates(void **state)
{
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[8192];
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    fm_start(&fx, 64);
    fm_control(&fx, "fail", "{\"mode\":\"malformed\",\"count\":100}");

    /* Fallback: the extractive drafter writes the reply. */
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9008", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_true(res.fallback);
    value(&f, "SELECT provider FROM drafts", buf, sizeof(buf));
    assert_string_equal(buf, "extractive");
    value(&f, "SELECT payload_text FROM ledger", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"fallback\":true"));
    assert_null(strstr(buf, FM_KEY));
    tr_pipeline_free(p);

    /* No fallback: a human takes the ticket. */
    p = pipeline_model(&fx, false);
    tid = ticket_add(&f, "9009", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "escalate");
    assert_int_equal(res.draft_id, 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs WHERE "
                               "reasons ? 'model_failed'"), 1);
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

/*
 * A tenant's own kind of personal data is redacted like the built-in
 * ones, and subject and body share one map: the address written in both
 * is one placeholder, the second address another.
 */
static void
pipeline_tenant_patterns_and_one_map_for_subject_and_body(void **state)
{
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char *rec;
    int64_t tid;

    setup(&f, true);
    config_set(&f, "{\"thresholds\": {\"retrieval_min_score\": 0.01},"
                   " \"redaction\": {\"patterns\": [{\"name\": "
                   "\"ORDER\", \"pattern\": \"\\\\bPO-[0-9]{6}\\\\b\"}]}}");
    fm_start(&fx, 64);
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9010",
                     "Refund for PO-123456 (jane.doe@example.com)",
                     "Hello, I want a refund for order PO-123456. Reply to "
                     "jane.doe@example.com, copy to finance@example.org.");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_int_equal(res.n_redacted, 3);

    rec = fm_record(&fx);
    assert_non_null(rec);
    assert_int_equal(fm_count(rec, "PO-123456"), 0);
    assert_int_equal(fm_count(rec, "jane.doe"), 0);
    assert_int_equal(fm_count(rec, "finance@"), 0);
    assert_true(fm_count(rec, "[ORDER_1]") >= 2);
    assert_true(fm_count(rec, "[EMAIL_1]") >= 2);
    assert_true(fm_count(rec, "[EMAIL_2]") >= 1);
    assert_int_equal(fm_count(rec, "[EMAIL_3]"), 0);
    free(rec);
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

/*
 * A draft that uses a placeholder keeps the original of that one only,
 * for the post-back and for staff allowed to see it.
 */
static void
pipeline_keeps_originals_of_the_placeholders_a_draft_uses(void **state)
{
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[4096];
    int64_t tid;

    setup(&f, true);
    config_set(&f, lenient);
    fm_start(&fx, 64);
    fm_control(&fx, "fail",
               "{\"mode\":\"greet_placeholder\",\"count\":5}");
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9011", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_false(res.fallback);
    assert_int_equal(res.n_redacted, 3);

    value(&f, "SELECT body FROM drafts", buf, sizeof(buf));
    assert_non_null(strstr(buf, "Hello [EMAIL_1],"));
    assert_null(strstr(buf, "jane.doe"));
    value(&f, "SELECT string_agg(placeholder || '=' || kind || '=' || "
              "original, ';') FROM draft_redactions", buf, sizeof(buf));
    assert_string_equal(buf, "[EMAIL_1]=EMAIL=jane.doe@example.com");
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

/*
 * The pipeline caches each tenant's configuration and classifier; a new
 * configuration or a newly stored classifier is used by the very next
 * ticket of the same pipeline.
 */
static void
pipeline_sees_a_new_configuration_and_classifier_at_once(void **state)
{
    static const char *const texts[] = {
        "where is my parcel", "my parcel has not arrived",
        "track my parcel please", "parcel still not delivered",
        "refund my money", "I want a refund", "give me my money back",
        "refund the last payment",
    };
    struct tr_route_example rows[40];
    struct tr_route_params rp;
    struct tr_route_model *m = NULL;
    struct fixture f;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    char buf[256];
    int64_t tid;

    setup(&f, true);
    config_set(&f, "{\"teams\": [{\"name\": \"billing\"}, "
                   "{\"name\": \"shipping\"}], \"rules\": [{\"name\": "
                   "\"r\", \"pattern\": \"parcel\", \"team\": "
                   "\"billing\"}], \"thresholds\": "
                   "{\"retrieval_min_score\": 0.01}}");
    p = pipeline_offline();
    tid = ticket_add(&f, "9020", "Parcel", "Where is my parcel?");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.team, "billing");

    config_set(&f, "{\"teams\": [{\"name\": \"billing\"}, "
                   "{\"name\": \"shipping\"}], \"rules\": [{\"name\": "
                   "\"r\", \"pattern\": \"parcel\", \"team\": "
                   "\"shipping\"}], \"thresholds\": "
                   "{\"retrieval_min_score\": 0.01}}");
    tid = ticket_add(&f, "9021", "Parcel", "Where is my parcel?");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.team, "shipping");

    /* A classifier stored now names the intent of the next ticket. */
    config_set(&f, "{\"teams\": [{\"name\": \"billing\"}, "
                   "{\"name\": \"shipping\"}], \"intents\": "
                   "{\"track\": \"shipping\", \"refund\": \"billing\"}, "
                   "\"escalation\": {\"out_of_scope\": false}, "
                   "\"thresholds\": {\"retrieval_min_score\": 0.01, "
                   "\"classifier_min_prob\": 0}}");
    for (size_t i = 0; i < 40; i++) {
        rows[i].text = texts[i % 8];
        rows[i].label = i % 8 < 4 ? "track" : "refund";
    }
    tr_route_params_default(&rp);
    assert_int_equal(tr_route_train(&rp, rows, 40, &m, &err), TR_OK);
    assert_int_equal(tr_policy_model_store(f.t.db, f.tenant, m, NULL, NULL,
                                           &err), TR_OK);
    tr_route_model_free(m);
    tid = ticket_add(&f, "9022", "Money", "Please refund my money");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.team, "billing");
    value(&f, "SELECT intent FROM triage_runs ORDER BY id DESC LIMIT 1",
          buf, sizeof(buf));
    assert_string_equal(buf, "refund");
    tr_pipeline_free(p);
    teardown(&f);
}

/*
 * A tenant that lets the model route.  The fake answers a routing
 * schema with the first value of every enum and confidence 0: team
 * "shipping", priority "low", so `min_confidence` decides whether its
 * answer counts.  Without the model the ticket goes to "billing", by
 * the rule for parcels or by default.
 */
static void
config_model_routing(struct fixture *f, const char *when, double min_conf)
{
    char json[1024];

    snprintf(json, sizeof(json),
             "{\"teams\": [{\"name\": \"shipping\", \"description\": "
             "\"Parcels and deliveries\", \"zendesk_group_id\": 66}, "
             "{\"name\": \"billing\", \"description\": \"Refunds and "
             "payments\", \"zendesk_group_id\": 55}], "
             "\"default_team\": \"billing\", \"rules\": [{\"name\": "
             "\"parcel\", \"pattern\": \"parcel\", \"team\": "
             "\"billing\", \"priority\": \"high\"}], "
             "\"thresholds\": {\"retrieval_min_score\": 0.01}, "
             "\"model_routing\": {\"enabled\": true, \"when\": "
             "\"%s\", \"min_confidence\": %g}}", when, min_conf);
    config_set(f, json);
}

/* The latest ledger payload, in a buffer of the caller's. */
static const char *
last_payload(struct fixture *f, char *buf, size_t len)
{
    return value(f, "SELECT payload_text FROM ledger ORDER BY id DESC "
                    "LIMIT 1", buf, len);
}

/* The bodies of the routing requests the fake received, as a JSON
 * array; the caller deletes it. */
static cJSON *
route_requests(const struct fm_fx *fx)
{
    char *rec = fm_record(fx), *line = rec, *nl;
    cJSON *arr = cJSON_CreateArray();

    for (; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1
                                                            : NULL) {
        cJSON *o, *body;
        const cJSON *b;

        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        o = cJSON_Parse(line);
        b = cJSON_GetObjectItem(o, "body");
        if (cJSON_IsString(b) &&
            strstr(b->valuestring, "\"name\":\"ticket_route\"") != NULL &&
            (body = cJSON_Parse(b->valuestring)) != NULL)
            cJSON_AddItemToArray(arr, body);
        cJSON_Delete(o);
    }
    free(rec);
    return arr;
}

static void
pipeline_model_routes_a_ticket_no_rule_decides(void **state)
{
    static char buf[65536];
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    const cJSON *team_enum;
    cJSON *reqs;
    char *sent, hash[65];
    int64_t tid;

    setup(&f, true);
    config_model_routing(&f, "undecided", 0);
    fm_start(&fx, 64);
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9030", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_string_equal(res.team, "shipping");
    assert_string_equal(res.priority, "low");
    value(&f, "SELECT team || ' ' || group_id FROM triage_runs", buf,
          sizeof(buf));
    assert_string_equal(buf, "shipping 66");

    /* One routing request: redacted text, the teams as an enum. */
    reqs = route_requests(&fx);
    assert_int_equal(cJSON_GetArraySize(reqs), 1);
    sent = cJSON_PrintUnformatted(cJSON_GetArrayItem(reqs, 0));
    assert_null(strstr(sent, "jane.doe"));
    assert_null(strstr(sent, "4111"));
    assert_null(strstr(sent, "555 0100"));
    assert_non_null(strstr(sent, "[EMAIL_1]"));
    assert_non_null(strstr(sent, "[CARD_1]"));
    assert_non_null(strstr(sent, "Parcels and deliveries"));
    team_enum = cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(
                    cJSON_GetObjectItem(
                        cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0),
                                            "response_format"),
                        "json_schema"),
                    "schema"),
                "properties"),
            "team"),
        "enum");
    assert_int_equal(cJSON_GetArraySize(team_enum), 2);
    assert_string_equal(cJSON_GetArrayItem(team_enum, 0)->valuestring,
                        "shipping");
    assert_string_equal(cJSON_GetArrayItem(team_enum, 1)->valuestring,
                        "billing");
    free(sent);
    cJSON_Delete(reqs);

    /* The ledger says the model routed it, with the request's hash. */
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"team_source\":\"model\""));
    assert_non_null(strstr(buf, "\"kind\":\"model\""));
    assert_non_null(strstr(buf, "\"outcome\":\"used\""));
    assert_non_null(strstr(buf, "\"status\":\"answered\""));
    assert_null(strstr(buf, "jane.doe"));
    value(&f, "SELECT payload->'model_routing'->>'request' FROM ledger "
              "ORDER BY id DESC LIMIT 1", buf, sizeof(buf));
    tr_llm_sha256_hex(buf, strlen(buf), hash);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, hash));
    value(&f, "SELECT payload->'routing'->'model'->>'request_hash' FROM "
              "ledger ORDER BY id DESC LIMIT 1", buf, sizeof(buf));
    assert_string_equal(buf, hash);

    /* Under the default bar of 0.6 its answer of 0 does not count. */
    config_model_routing(&f, "undecided", 0.6);
    tid = ticket_add(&f, "9031", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.team, "billing");
    assert_string_equal(res.priority, "normal");
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"outcome\":\"below_min_confidence\""));
    assert_non_null(strstr(buf, "\"team_source\":\"default\""));
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

static void
pipeline_rule_and_escalation_stand_over_the_model(void **state)
{
    static char buf[65536];
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    cJSON *reqs;
    int64_t tid;

    setup(&f, true);
    config_model_routing(&f, "undecided", 0);
    fm_start(&fx, 64);
    p = pipeline_model(&fx, true);

    /* The rule chose the team: the model is not even asked. */
    tid = ticket_add(&f, "9032", "Refund for a parcel", refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.team, "billing");
    assert_string_equal(res.priority, "high");
    reqs = route_requests(&fx);
    assert_int_equal(cJSON_GetArraySize(reqs), 0);
    cJSON_Delete(reqs);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":\"not_needed\""));

    /* The model routes an escalated ticket, which still goes to a
     * human, and its "low" does not lower an escalated priority. */
    tid = ticket_add(&f, "9033", "Refund now",
                     "Give me my refund or my lawyer will sue you.");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "escalate");
    assert_string_equal(res.team, "shipping");
    assert_string_equal(res.priority, "normal");
    reqs = route_requests(&fx);
    assert_int_equal(cJSON_GetArraySize(reqs), 1);
    cJSON_Delete(reqs);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"escalations\":[\"legal_threat\"]"));
    assert_non_null(strstr(buf, "\"outcome\":\"used\""));
    assert_non_null(strstr(buf, "\"priority_source\":\"default\""));
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

static void
pipeline_model_answer_off_the_list_is_refused(void **state)
{
    static char buf[65536];
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    int64_t tid;

    setup(&f, true);
    config_model_routing(&f, "undecided", 0);
    fm_start(&fx, 64);

    /* Only the first request, the routing one, ignores the schema. */
    fm_control(&fx, "fail", "{\"mode\":\"off_enum\",\"count\":1}");
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9034", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_false(res.fallback);
    assert_string_equal(res.team, "billing");
    assert_string_equal(res.priority, "normal");
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs WHERE "
                               "reasons ? 'model_routing_refused'"), 1);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":\"refused\""));
    assert_non_null(strstr(buf, "not-in-the-enum"));
    assert_non_null(strstr(buf, "\"model\":null"));
    assert_non_null(strstr(buf, "\"team_source\":\"default\""));
    tr_pipeline_free(p);
    fm_stop(&fx);
    teardown(&f);
}

static void
pipeline_model_routing_failure_leaves_the_ticket_triaged(void **state)
{
    static char buf[65536];
    struct fixture f;
    struct fm_fx fx;
    struct tr_pipeline *p;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    int64_t tid;

    setup(&f, true);
    config_model_routing(&f, "undecided", 0);
    fm_start(&fx, 64);

    /* The first attempt and both retries of the routing call fail. */
    fm_control(&fx, "fail", "{\"path\":\"/v1/chat/completions\","
                            "\"status\":500,\"count\":3}");
    p = pipeline_model(&fx, true);
    tid = ticket_add(&f, "9035", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_false(res.fallback);
    assert_string_equal(res.team, "billing");
    assert_int_equal(fm_n_requests(&fx), 4);
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs WHERE "
                               "reasons ? 'model_routing_failed'"), 1);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":\"failed\""));
    assert_non_null(strstr(buf, "HTTP 500"));
    assert_non_null(strstr(buf, "\"team_source\":\"default\""));
    assert_null(strstr(buf, FM_KEY));
    tr_pipeline_free(p);
    fm_stop(&fx);

    /* Offline there is no provider: skipped, and said so. */
    p = pipeline_offline();
    tid = ticket_add(&f, "9036", refund_subject, refund_body);
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_string_equal(res.action, "draft");
    assert_string_equal(res.team, "billing");
    assert_int_equal(count(&f, "SELECT count(*) FROM triage_runs WHERE "
                               "reasons ? "
                               "'model_routing_skipped_no_provider'"), 1);
    last_payload(&f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":\"skipped\""));
    tr_pipeline_free(p);
    teardown(&f);
}

/*
 * The cache keeps the tenants used last, no more than its cap: a tenant
 * pushed out is loaded again by its next ticket.
 */
static void
pipeline_cache_keeps_only_the_tenants_used_last(void **state)
{
    const int n = TR_PIPELINE_POLICY_CACHE_MAX + 2;
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    struct tr_pipeline *p;
    struct tr_db_conn *c;
    struct fixture f;
    int64_t first = 0, tid;
    char name[32], id[24];
    const char *params[1] = {name};

    (void) state;
    setup(&f, false);
    p = pipeline_offline();
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "cache-%d", i);
        assert_int_equal(tr_db_conn_owner(f.t.db, &c, &err), TR_OK);
        assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                              "webhook_secret) VALUES ($1, "
                                              "'s') RETURNING id", 1,
                                           params, id, sizeof(id), NULL,
                                           &err), TR_OK);
        tr_db_conn_release(c);
        f.tenant = atoll(id);
        if (i == 0)
            first = f.tenant;
        tid = ticket_add(&f, "9100", "Hello", "Where is my parcel?");
        assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                         &err), TR_OK);
        assert_int_equal(tr_pipeline_cached_tenants(p),
                         (size_t) (i + 1 < TR_PIPELINE_POLICY_CACHE_MAX
                                   ? i + 1 : TR_PIPELINE_POLICY_CACHE_MAX));
    }

    /* The first tenant was pushed out; its next ticket still runs. */
    f.tenant = first;
    tid = ticket_add(&f, "9101", "Hello", "Where is my parcel?");
    assert_int_equal(tr_pipeline_run(p, f.t.db, f.tenant, tid, 0, &res,
                                     &err), TR_OK);
    assert_int_equal(tr_pipeline_cached_tenants(p),
                     TR_PIPELINE_POLICY_CACHE_MAX);
    tr_pipeline_free(p);
    teardown(&f);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(pipeline_drafts_a_cited_reply_without_personal_data),
    cmocka_unit_test(pipeline_replay_gives_the_hashed_input),
    cmocka_unit_test(pipeline_rerun_of_a_job_writes_nothing_twice),
    cmocka_unit_test(pipeline_escalates_threats_and_tickets_without_articles),
    cmocka_unit_test(pipeline_unknown_ticket_is_reported),
    cmocka_unit_test(pipeline_auto_send_enqueues_the_post_back),
    cmocka_unit_test(pipeline_model_receives_only_redacted_text),
    cmocka_unit_test(pipeline_model_failure_falls_back_or_escalates),
    cmocka_unit_test(
        pipeline_tenant_patterns_and_one_map_for_subject_and_body),
    cmocka_unit_test(
        pipeline_keeps_originals_of_the_placeholders_a_draft_uses),
    cmocka_unit_test(
        pipeline_sees_a_new_configuration_and_classifier_at_once),
    cmocka_unit_test(pipeline_cache_keeps_only_the_tenants_used_last),
    cmocka_unit_test(pipeline_model_routes_a_ticket_no_rule_decides),
    cmocka_unit_test(pipeline_rule_and_escalation_stand_over_the_model),
    cmocka_unit_test(pipeline_model_answer_off_the_list_is_refused),
    cmocka_unit_test(
        pipeline_model_routing_failure_leaves_the_ticket_triaged),
};

TR_TEST_MAIN(cases)
