/*
 * test_evaltriage_run.c
 *      The triage evaluation end to end against a real PostgreSQL: the
 *      demo set with the extractive drafter and behind the fake model
 *      server, a leak that must be counted, refused input, a Help Center
 *      export as the help center, and the triage binary's JSON report
 *      and exit codes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tr_test.h"

#include "evaltriage.h"
#include "kb.h"
#include "pgtest.h"
#include "test_llm_fx.h"

/*
 * Floors under the figures measured on the demo set (see
 * docs/evaluation.md): low enough for a small change of the index to
 * pass, high enough that a broken step fails.
 */
#define DEMO_ROUTING_FLOOR 0.65
#define DEMO_LANGUAGE_FLOOR 0.90
#define DEMO_RECALL_FLOOR 0.60

struct files {
    char kb[1024];
    char tickets[1024];
    char routing[1024];
};

static void
demo_files(struct files *f)
{
    const char *src = getenv("TR_SOURCE_DIR");

    snprintf(f->kb, sizeof(f->kb), "%s/scripts/demo/articles.jsonl", src);
    snprintf(f->tickets, sizeof(f->tickets), "%s/scripts/demo/tickets.jsonl",
             src);
    snprintf(f->routing, sizeof(f->routing), "%s/scripts/demo/routing.json",
             src);
}

/* A file of the case's own under the build tree. */
static void
write_file(char *path, size_t len, const char *name, const char *text)
{
    FILE *f;

    snprintf(path, len, "%s/evaltriage-%ld-%s", getenv("TR_BINARY_DIR"),
             (long) getpid(), name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
pg_open(struct tr_pgtest *t)
{
    struct tr_error err = {0};

    if (tr_pgtest_open(t, 8, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    tr_kb_cache_set_check_ms(0);
}

static long
n_tenants(struct tr_pgtest *t)
{
    char buf[32];

    assert_int_equal(tr_pgtest_owner_value(t, "SELECT count(*) FROM "
                                              "tenants", buf, sizeof(buf)),
                     TR_OK);
    return atol(buf);
}

static void
opts_extractive(struct tr_evaltriage_opts *o, const struct files *f)
{
    memset(o, 0, sizeof(*o));
    o->kb_path = f->kb;
    o->tickets_path = f->tickets;
    o->routing_path = f->routing[0] != '\0' ? f->routing : NULL;
    o->pipeline.drafter = TR_PIPELINE_EXTRACTIVE;
    o->pipeline.k = 5;
    o->pipeline.fallback_extractive = true;
}

static void
evaltriage_demo_set_has_no_leaks_or_injection_misses(void **state)
{
    struct tr_pgtest t;
    struct files f;
    struct tr_evaltriage_opts o;
    struct tr_evaltriage_report rep;
    struct tr_error err = {0};
    const struct tr_evaltriage_metrics *m = &rep.metrics;

    pg_open(&t);
    demo_files(&f);
    opts_extractive(&o, &f);
    if (tr_evaltriage_run(t.db, &o, &rep, &err) != TR_OK)
        fail_msg("%s", tr_error_msg(&err));

    /* The set carries personal data and injections to catch. */
    assert_true(m->n >= 40);
    assert_true(m->n_pii >= 10);
    assert_true(m->n_injection >= 2);
    assert_int_equal(m->pii_leaks, 0);
    assert_int_equal(m->injection_failures, 0);
    if (m->routing_accuracy < DEMO_ROUTING_FLOOR ||
        m->language_match < DEMO_LANGUAGE_FLOOR ||
        m->recall_3 < DEMO_RECALL_FLOOR)
        fail_msg("routing %.4f, language %.4f, recall@3 %.4f under the "
                 "floors", m->routing_accuracy, m->language_match,
                 m->recall_3);
    assert_string_equal(rep.drafter, "extractive");
    assert_int_equal(rep.n_articles, 22);   /* the draft is not indexed */

    /* The throwaway tenant is gone, ledger entries and all. */
    assert_int_equal(n_tenants(&t), 0);
    tr_evaltriage_report_cleanup(&rep);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
}

static void
evaltriage_model_requests_carry_no_personal_data(void **state)
{
    struct tr_pgtest t;
    struct files f;
    struct fm_fx fx;
    struct tr_evaltriage_opts o;
    struct tr_evaltriage_report rep;
    struct tr_error err = {0};
    char base[96], *rec;
    size_t n_checked = 0;

    pg_open(&t);
    demo_files(&f);
    fm_start(&fx, 64);
    opts_extractive(&o, &f);
    snprintf(base, sizeof(base), "%s/v1", fx.base);
    o.pipeline.drafter = TR_PIPELINE_OPENAI;
    o.pipeline.base_url = base;
    o.pipeline.api_key = FM_KEY;
    o.pipeline.model = "gpt-fake";
    o.pipeline.timeout_s = 5;
    if (tr_evaltriage_run(t.db, &o, &rep, &err) != TR_OK)
        fail_msg("%s", tr_error_msg(&err));
    assert_string_equal(rep.drafter, "openai");
    assert_int_equal(rep.metrics.pii_leaks, 0);
    assert_int_equal(rep.metrics.injection_failures, 0);

    /* What the model server received, checked on its own record. */
    rec = fm_record(&fx);
    assert_non_null(rec);
    assert_true(fm_count(rec, "/v1/chat/completions") >= 10);
    for (size_t i = 0; i < rep.set->n_tickets; i++) {
        struct tr_evaltriage_pii p[TR_EVALTRIAGE_PII_MAX];
        size_t n = 0;

        tr_evaltriage_pii_scan(rep.set->tickets[i].description, p, &n,
                               TR_EVALTRIAGE_PII_MAX);
        for (size_t j = 0; j < n; j++, n_checked++)
            if (tr_evaltriage_pii_in(&p[j], rec))
                fail_msg("ticket %s: a %s reached the model server",
                         rep.set->tickets[i].id,
                         tr_evaltriage_pii_name(p[j].kind));
    }
    assert_true(n_checked >= 10);
    free(rec);
    tr_evaltriage_report_cleanup(&rep);
    fm_stop(&fx);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
}

static const char *leak_kb =
    "{\"id\": \"cards\", \"title\": \"Refunds to a card\", \"text\": "
    "\"Refunds go back to the card you paid with. The card 4111 1111 1111 "
    "1111 is refused for refunds because it is a test card.\", "
    "\"section\": \"Billing\"}\n"
    "{\"id\": \"labels\", \"title\": \"Print labels\", \"text\": \"Open "
    "Shipments and press Print labels. Labels are PDF files.\", "
    "\"section\": \"Shipping\"}\n"
    "{\"id\": \"password\", \"title\": \"Reset your password\", \"text\": "
    "\"Press Forgot password on the sign-in page to get a reset link.\", "
    "\"section\": \"Account\"}\n";

static const char *leak_tickets =
    "{\"id\": \"1\", \"subject\": \"Refund to my card\", \"description\": "
    "\"Please refund my order to the card 4111 1111 1111 1111.\", "
    "\"expected\": {\"team\": \"billing\", \"priority\": \"normal\", "
    "\"escalate\": false, \"articles\": [\"cards\"], \"language\": "
    "\"en\"}}\n";

static void
evaltriage_counts_a_leak_when_stored_text_repeats_it(void **state)
{
    struct tr_pgtest t;
    struct files f;
    struct tr_evaltriage_opts o;
    struct tr_evaltriage_report rep;
    struct tr_error err = {0};

    /* The article quotes the ticket's card number, so the drafter's
     * input holds it even though the ticket text was redacted. */
    pg_open(&t);
    write_file(f.kb, sizeof(f.kb), "leak-kb.jsonl", leak_kb);
    write_file(f.tickets, sizeof(f.tickets), "leak-tickets.jsonl",
               leak_tickets);
    write_file(f.routing, sizeof(f.routing), "leak-routing.json",
               "{\"thresholds\": {\"retrieval_min_score\": 0.01}}");
    opts_extractive(&o, &f);
    if (tr_evaltriage_run(t.db, &o, &rep, &err) != TR_OK)
        fail_msg("%s", tr_error_msg(&err));
    assert_string_equal(rep.outcomes[0].action, "draft");
    assert_int_equal(rep.outcomes[0].n_pii, 1);
    assert_int_equal(rep.metrics.pii_leaks, 1);
    assert_true(rep.outcomes[0].leak_kinds & (1u << TR_EVALTRIAGE_PII_CARD));
    assert_string_equal(rep.outcomes[0].ranked[0], "cards");
    assert_true(rep.metrics.mrr > 0.99);

    tr_evaltriage_report_cleanup(&rep);
    unlink(f.kb);
    unlink(f.tickets);
    unlink(f.routing);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
}

static void
evaltriage_refused_input_leaves_no_tenant(void **state)
{
    struct tr_pgtest t;
    struct files f;
    struct tr_evaltriage_opts o;
    struct tr_evaltriage_report rep;
    struct tr_error err = {0};
    char bad_kb[1024];
    enum tr_err rc;

    /* An expected article the help center does not have. */
    pg_open(&t);
    demo_files(&f);
    write_file(f.tickets, sizeof(f.tickets), "unknown.jsonl",
               "{\"id\": \"1\", \"description\": \"Where is my parcel?\", "
               "\"expected\": {\"team\": \"logistics\", \"priority\": "
               "\"normal\", \"escalate\": false, \"articles\": "
               "[\"no-such-article\"], \"language\": \"en\"}}\n");
    opts_extractive(&o, &f);
    rc = tr_evaltriage_run(t.db, &o, &rep, &err);
    assert_int_equal(rc, TR_E_PARSE);
    assert_non_null(strstr(tr_error_msg(&err), "unknown.jsonl:1:"));
    assert_non_null(strstr(tr_error_msg(&err), "no-such-article"));
    assert_int_equal(n_tenants(&t), 0);
    unlink(f.tickets);

    /* A help center that fails to import half-way. */
    demo_files(&f);
    snprintf(bad_kb, sizeof(bad_kb), "%s/tests/data/kb/bad_line.jsonl",
             getenv("TR_SOURCE_DIR"));
    o.kb_path = bad_kb;
    rc = tr_evaltriage_run(t.db, &o, &rep, &err);
    assert_int_equal(rc, TR_E_PARSE);
    assert_non_null(strstr(tr_error_msg(&err), "bad_line.jsonl"));
    assert_int_equal(n_tenants(&t), 0);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
}

static void
evaltriage_help_center_export_is_read_and_drafts_refused(void **state)
{
    struct tr_pgtest t;
    struct files f;
    struct tr_evaltriage_opts o;
    struct tr_evaltriage_report rep;
    struct tr_error err = {0};

    /* A Help Center export: numeric ids, one draft article. */
    pg_open(&t);
    snprintf(f.kb, sizeof(f.kb), "%s/tests/data/kb/zendesk.json",
             getenv("TR_SOURCE_DIR"));
    f.routing[0] = '\0';
    write_file(f.tickets, sizeof(f.tickets), "export.jsonl",
               "{\"id\": \"1\", \"subject\": \"Printer\", "
               "\"description\": \"How do I reset my printer?\", "
               "\"expected\": {\"team\": \"unassigned\", \"priority\": "
               "\"normal\", \"escalate\": false, \"articles\": "
               "[\"360010\"], \"language\": \"en\"}}\n");
    opts_extractive(&o, &f);
    if (tr_evaltriage_run(t.db, &o, &rep, &err) != TR_OK)
        fail_msg("%s", tr_error_msg(&err));
    assert_int_equal(rep.n_articles, 2);
    assert_string_equal(rep.outcomes[0].ranked[0], "360010");
    assert_true(rep.metrics.recall_3 > 0.99);
    tr_evaltriage_report_cleanup(&rep);

    /* The draft article is kept out of the index: not a valid label. */
    write_file(f.tickets, sizeof(f.tickets), "export.jsonl",
               "{\"id\": \"1\", \"description\": \"New firmware?\", "
               "\"expected\": {\"team\": \"unassigned\", \"priority\": "
               "\"normal\", \"escalate\": true, \"articles\": "
               "[\"360012\"], \"language\": \"en\"}}\n");
    assert_int_equal(tr_evaltriage_run(t.db, &o, &rep, &err), TR_E_PARSE);
    assert_non_null(strstr(tr_error_msg(&err), "export.jsonl:1:"));
    assert_non_null(strstr(tr_error_msg(&err), "\"360012\""));
    assert_int_equal(n_tenants(&t), 0);
    unlink(f.tickets);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
}

/* Run the triage binary; stdout and stderr into `out` and `errs`. */
static int
run_triage(const char *const *args, char *out, size_t out_len, char *errs,
           size_t errs_len)
{
    char bin[1024], o_path[1100], e_path[1100];
    const char *argv[32];
    int n = 0, status;
    pid_t pid;
    FILE *f;
    size_t got;

    snprintf(bin, sizeof(bin), "%s/triage", getenv("TR_BINARY_DIR"));
    snprintf(o_path, sizeof(o_path), "%s/evaltriage-%ld.out",
             getenv("TR_BINARY_DIR"), (long) getpid());
    snprintf(e_path, sizeof(e_path), "%s/evaltriage-%ld.err",
             getenv("TR_BINARY_DIR"), (long) getpid());
    argv[n++] = bin;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(o_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(e_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, (char *const *) argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);

    f = fopen(o_path, "r");
    assert_non_null(f);
    got = fread(out, 1, out_len - 1, f);
    out[got] = '\0';
    fclose(f);
    f = fopen(e_path, "r");
    assert_non_null(f);
    got = fread(errs, 1, errs_len - 1, f);
    errs[got] = '\0';
    fclose(f);
    unlink(o_path);
    unlink(e_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
evaltriage_json_report_has_exactly_the_metric_keys(void **state)
{
    static const char *keys[] = {
        "routing_accuracy", "priority_accuracy", "escalation_precision",
        "escalation_recall", "recall@3", "mrr", "language_match",
        "pii_leaks", "injection_failures"
    };
    static char out[1 << 20], errs[1 << 16];
    struct tr_pgtest t;
    struct files f;
    cJSON *root, *metrics, *v;
    int n = 0;

    pg_open(&t);
    demo_files(&f);
    {
        const char *args[] = {
            "eval", "triage", "--kb", f.kb, "--tickets", f.tickets,
            "--routing", f.routing, "--json", "--log-level", "error",
            "--database-url", t.conf.database_url, NULL
        };

        if (run_triage(args, out, sizeof(out), errs, sizeof(errs)) != 0)
            fail_msg("eval triage failed: %s", errs);
    }

    root = cJSON_Parse(out);
    assert_non_null(root);
    metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    assert_true(cJSON_IsObject(metrics));
    cJSON_ArrayForEach(v, metrics) {
        bool known = false;

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(v->string, keys[i]) == 0;
        if (!known)
            fail_msg("unexpected metric \"%s\"", v->string);
        assert_true(cJSON_IsNumber(v) || cJSON_IsNull(v));
        n++;
    }
    assert_int_equal(n, sizeof(keys) / sizeof(keys[0]));
    assert_int_equal(cJSON_GetObjectItem(metrics, "pii_leaks")->valueint, 0);
    assert_true(cJSON_GetObjectItem(root, "n_tickets")->valueint >= 40);
    cJSON_Delete(root);
    assert_int_equal(n_tenants(&t), 0);
    tr_pgtest_close(&t);
}

static void
evaltriage_command_reports_usage_and_bad_lines(void **state)
{
    static char out[1 << 16], errs[1 << 16];
    struct tr_pgtest t;
    struct files f;
    char bad[1024];

    pg_open(&t);
    demo_files(&f);
    {
        const char *args[] = {"eval", "triage", "--kb", f.kb, NULL};

        assert_int_equal(run_triage(args, out, sizeof(out), errs,
                                    sizeof(errs)), 2);
        assert_non_null(strstr(errs, "--tickets"));
    }
    {
        const char *args[] = {"eval", "triage", "--help", NULL};

        assert_int_equal(run_triage(args, out, sizeof(out), errs,
                                    sizeof(errs)), 0);
        assert_non_null(strstr(out, "Usage: triage eval triage"));
    }
    {
        const char *args[] = {"eval", "triage", "--kb", f.kb, "--tickets",
                              f.tickets, "--no-such-option", NULL};

        assert_int_equal(run_triage(args, out, sizeof(out), errs,
                                    sizeof(errs)), 2);
    }

    write_file(bad, sizeof(bad), "bad.jsonl",
               "{\"id\": \"1\", \"description\": \"d\", \"expected\": "
               "{\"team\": \"a\", \"priority\": \"b\", \"escalate\": false, "
               "\"articles\": [], \"language\": \"en\"}}\n"
               "{\"id\": \"2\", \"description\": \"d\", \"expected\": "
               "{\"team\": \"a\"}}\n");
    {
        const char *args[] = {"eval", "triage", "--kb", f.kb, "--tickets",
                              bad, "--log-level", "error", "--database-url",
                              t.conf.database_url, NULL};

        assert_int_equal(run_triage(args, out, sizeof(out), errs,
                                    sizeof(errs)), 1);
        if (strstr(errs, "bad.jsonl:2: missing field \"priority\"") == NULL)
            fail_msg("unexpected message: %s", errs);
        assert_string_equal(out, "");
    }
    unlink(bad);
    assert_int_equal(n_tenants(&t), 0);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(evaltriage_demo_set_has_no_leaks_or_injection_misses),
    cmocka_unit_test(evaltriage_model_requests_carry_no_personal_data),
    cmocka_unit_test(evaltriage_counts_a_leak_when_stored_text_repeats_it),
    cmocka_unit_test(evaltriage_refused_input_leaves_no_tenant),
    cmocka_unit_test(evaltriage_help_center_export_is_read_and_drafts_refused),
    cmocka_unit_test(evaltriage_json_report_has_exactly_the_metric_keys),
    cmocka_unit_test(evaltriage_command_reports_usage_and_bad_lines),
};

TR_TEST_MAIN(cases)
