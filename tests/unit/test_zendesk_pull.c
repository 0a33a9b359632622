/*
 * test_zendesk_pull.c
 *      The cursor pull against the fake Zendesk and a real database: a
 *      crash on the third page resumes without gap or duplicate, tickets
 *      a webhook announced are not counted as recovered, and the metrics
 *      collector reports the count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "test_zendesk_ingest_fx.h"
#include "zendesk.h"

struct env {
    struct tr_pgtest pg;
    struct zfake fake;
    int64_t tenant;
    struct tr_httpc_policy pol;
    double slept;
    struct tr_zendesk_job_opts jo;
};

static void
env_up(struct env *e)
{
    struct tr_error err = {0};
    char *r;

    memset(e, 0, sizeof(*e));
    assert_int_equal(tr_pgtest_open(&e->pg, 8, true, &err), TR_OK);
    zfx_fake_start(&e->fake);
    e->tenant = zfx_tenant_add(&e->pg, "acme", "pull-test-secret-0123",
                               e->fake.base, "public");
    zfx_policy(&e->pol, &e->slept);
    e->jo.policy = &e->pol;

    /* Six tickets in pages of two: three pages. */
    r = zfx_control(&e->fake, "POST", "/tickets",
                    "{\"id\":4716,\"subject\":\"Late\",\"status\":\"open\","
                    "\"updated_at\":\"2024-05-04T08:00:00Z\","
                    "\"generated_timestamp\":1714809600}");
    free(r);
    r = zfx_control(&e->fake, "POST", "/config",
                    "{\"export_page_size\":2,\"hide_recent\":0}");
    free(r);
}

static void
env_down(struct env *e)
{
    zfx_fake_stop(&e->fake);
    tr_pgtest_close(&e->pg);
}

struct crash {
    struct zfake *fake;
    int after;
};

/* After page `after` is committed, make the next export calls fail. */
static enum tr_err
crash_after(void *arg, int page)
{
    struct crash *c = arg;
    char *r;

    if (page == c->after) {
        r = zfx_control(c->fake, "POST", "/fail",
                        "{\"count\":20,\"status\":500,\"path\":"
                        "\"/api/v2/incremental\"}");
        free(r);
    }
    return TR_OK;
}

static void
pull_resumes_after_a_crash_on_page_three_without_gap_or_duplicate(
    void **state)
{
    struct tr_zendesk_pull_result res;
    struct tr_error err = {0};
    struct crash cr;
    struct env e;
    char *r;

    (void) state;
    env_up(&e);
    cr.fake = &e.fake;
    cr.after = 2;
    e.jo.on_page = crash_after;
    e.jo.on_page_arg = &cr;
    assert_int_not_equal(tr_zendesk_pull_run(e.pg.db, e.tenant, 0, &e.jo,
                                             &res, &err), TR_OK);
    assert_int_equal(res.n_pages, 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM tickets"), 4);
    assert_int_equal(zfx_count(&e.pg, "SELECT pages FROM zendesk_cursors"),
                     2);

    /* Resume from the stored cursor once the fake is well again. */
    r = zfx_control(&e.fake, "POST", "/reset", NULL);
    free(r);
    r = zfx_control(&e.fake, "POST", "/tickets",
                    "{\"id\":4716,\"subject\":\"Late\",\"status\":\"open\","
                    "\"updated_at\":\"2024-05-04T08:00:00Z\","
                    "\"generated_timestamp\":1714809600}");
    free(r);
    e.jo.on_page = NULL;
    assert_int_equal(tr_zendesk_pull_run(e.pg.db, e.tenant, -1, &e.jo, &res,
                                         &err), TR_OK);
    assert_true(res.end_of_stream);
    assert_int_equal(res.n_tickets, 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM tickets"), 6);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(DISTINCT external_id) "
                                      "FROM tickets"), 6);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox WHERE "
                                      "source = 'pull'"), 6);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs WHERE "
                                      "kind = 'zendesk.ingest'"), 6);
    assert_int_equal(zfx_count(&e.pg, "SELECT recovered FROM "
                                      "zendesk_cursors"), 6);

    /* Another pull from the cursor finds nothing new. */
    assert_int_equal(tr_zendesk_pull_run(e.pg.db, e.tenant, -1, &e.jo, &res,
                                         &err), TR_OK);
    assert_int_equal(res.n_recovered, 0);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 6);
    env_down(&e);
}

static void
pull_counts_only_tickets_no_webhook_announced(void **state)
{
    struct tr_zendesk_pull_result res;
    struct tr_error err = {0};
    struct tr_buf out;
    struct env e;
    char sql[512], expect[128];

    (void) state;
    env_up(&e);
    /* A webhook already brought 4711's current version. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO inbox (tenant_id, dedup_key, source, payload) "
             "VALUES (%lld, 'zen:trg:4711:x', 'webhook', "
             "'{\"ticket_id\":4711,\"occurred_at\":1714644100}') "
             "RETURNING id", (long long) e.tenant);
    zfx_count(&e.pg, sql);
    assert_int_equal(tr_zendesk_pull_run(e.pg.db, e.tenant, 0, &e.jo, &res,
                                         &err), TR_OK);
    assert_int_equal(res.n_tickets, 6);
    assert_int_equal(res.n_recovered, 5);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM tickets"), 6);

    tr_buf_init(&out, 65536);
    assert_int_equal(tr_zendesk_metrics_collect(&out, e.pg.db), TR_OK);
    snprintf(expect, sizeof(expect),
             "triage_zendesk_recovered_by_pull_total{tenant=\"acme\"} 5");
    assert_non_null(strstr(out.data, expect));
    assert_non_null(strstr(out.data, "# TYPE triage_zendesk_recovered_by_"
                                     "pull_total counter"));
    tr_buf_cleanup(&out);
    env_down(&e);
}

static void
pull_without_settings_is_a_configuration_error(void **state)
{
    struct tr_error err = {0};
    struct env e;
    int64_t bare;

    (void) state;
    env_up(&e);
    bare = zfx_tenant_add(&e.pg, "bare", "pull-test-secret-0123", NULL,
                          NULL);
    assert_int_equal(tr_zendesk_pull_run(e.pg.db, bare, 0, &e.jo, NULL,
                                         &err), TR_E_CONF);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "zendesk_cursors"), 0);
    env_down(&e);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(
        pull_resumes_after_a_crash_on_page_three_without_gap_or_duplicate),
    cmocka_unit_test(pull_counts_only_tickets_no_webhook_announced),
    cmocka_unit_test(pull_without_settings_is_a_configuration_error),
};

TR_TEST_MAIN(cases)
