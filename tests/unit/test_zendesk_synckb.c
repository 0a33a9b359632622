/*
 * test_zendesk_synckb.c
 *      The Help Center sync against the fake Zendesk and a real
 *      database: every page is imported and indexed with drafts left
 *      out, a second sync changes nothing, a failure on a later page or
 *      a broken page stores nothing, and a locale narrows the list.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "kb.h"
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
env_up(struct env *e, bool settings)
{
    struct tr_error err = {0};

    memset(e, 0, sizeof(*e));
    assert_int_equal(tr_pgtest_open(&e->pg, 4, true, &err), TR_OK);
    zfx_fake_start(&e->fake);
    e->tenant = zfx_tenant_add(&e->pg, "acme", "sync-test-secret-0123",
                               settings ? e->fake.base : NULL, "public");
    zfx_policy(&e->pol, &e->slept);
    e->jo.policy = &e->pol;
}

static void
env_down(struct env *e)
{
    tr_kb_cache_drop(e->pg.db);
    zfx_fake_stop(&e->fake);
    tr_pgtest_close(&e->pg);
}

/* The external id of the best BM25 hit for `q`, or "" when none. */
static void
best_hit(struct env *e, int64_t version, const char *q, char *out,
         size_t out_len)
{
    struct tr_kb_searcher *s = NULL;
    struct tr_kb_hit hits[8];
    struct tr_error err = {0};
    size_t n = 0;

    assert_int_equal(tr_kb_searcher_load(e->pg.db, e->tenant, version, &s,
                                         &err), TR_OK);
    assert_int_equal(tr_kb_search(s, q, 8, TR_KB_BM25, hits, &n, &err),
                     TR_OK);
    snprintf(out, out_len, "%s", n > 0 ? hits[0].external_id : "");
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(hits[i].external_id, "360012");
    tr_kb_searcher_release(s);
}

static void
sync_imports_every_page_and_indexes_published_articles(void **state)
{
    struct tr_zendesk_kb_sync_opts o = {0};
    struct tr_zendesk_kb_sync_result r;
    struct tr_kb_reindex_result ri = {0};
    struct tr_error err = {0};
    struct env e;
    char id[32];

    (void) state;
    env_up(&e, true);
    o.page_size = 1;
    o.jobs = &e.jo;
    o.reindex = &ri;
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_OK);
    assert_int_equal(r.n_pages, 4);
    assert_int_equal(r.n_articles, 4);
    assert_int_equal(r.n_added, 4);
    assert_int_equal(r.n_drafts, 1);
    assert_true(r.reindexed);
    assert_int_equal(ri.n_articles, 3);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 4);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles WHERE "
                                      "external_id = '360013' AND locale = "
                                      "'de' AND section = '3601'"), 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles WHERE "
                                      "draft AND external_id = '360012'"),
                     1);

    /* The HTML became text: the script is gone, the entity decoded. */
    best_hit(&e, ri.version_id, "power button", id, sizeof(id));
    assert_string_equal(id, "360010");
    best_hit(&e, ri.version_id, "refunds within 30 days", id, sizeof(id));
    assert_string_equal(id, "360011");
    best_hit(&e, ri.version_id, "alert", id, sizeof(id));
    assert_string_equal(id, "");
    best_hit(&e, ri.version_id, "upcoming plans draft", id, sizeof(id));
    assert_string_not_equal(id, "360012");

    /* The same Help Center again: nothing to change. */
    o.reindex = NULL;
    o.page_size = 0;
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_OK);
    assert_int_equal(r.n_pages, 1);
    assert_int_equal(r.n_unchanged, 4);
    assert_int_equal(r.n_added + r.n_updated, 0);
    assert_false(r.reindexed);
    env_down(&e);
}

static void
sync_failing_on_a_later_page_stores_nothing(void **state)
{
    struct tr_zendesk_kb_sync_opts o = {0};
    struct tr_zendesk_kb_sync_result r;
    struct tr_error err = {0};
    struct env e;
    char *body;

    (void) state;
    env_up(&e, true);
    o.page_size = 1;
    o.jobs = &e.jo;

    /* The first page answers, every try at the second one is a 500. */
    body = zfx_control(&e.fake, "POST", "/fail",
                       "{\"skip\":1,\"count\":50,\"status\":500,"
                       "\"path\":\"/api/v2/help_center\"}");
    free(body);
    assert_int_not_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r,
                                            &err), TR_OK);
    assert_int_equal(r.n_articles, 0);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 0);
    assert_true(e.slept > 0);
    body = zfx_control(&e.fake, "GET", "/requests", NULL);
    assert_int_equal(zfx_count_of(body, "\"status\":200"), 1);
    assert_true(zfx_count_of(body, "\"status\":500") > 1);
    free(body);

    /* A page cut in half is a parse error, and stores nothing either. */
    body = zfx_control(&e.fake, "POST", "/reset", NULL);
    free(body);
    body = zfx_control(&e.fake, "POST", "/fail",
                       "{\"skip\":2,\"count\":50,\"status\":0,"
                       "\"truncate\":true,"
                       "\"path\":\"/api/v2/help_center\"}");
    free(body);
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_E_PARSE);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 0);

    /* Once Zendesk is well again the sync goes through. */
    body = zfx_control(&e.fake, "POST", "/reset", NULL);
    free(body);
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_OK);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 4);
    env_down(&e);
}

static void
sync_by_locale_and_its_errors(void **state)
{
    struct tr_zendesk_kb_sync_opts o = {0};
    struct tr_zendesk_kb_sync_result r;
    struct tr_error err = {0};
    struct env e;

    (void) state;
    env_up(&e, true);
    o.jobs = &e.jo;
    o.locale = "de";
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_OK);
    assert_int_equal(r.n_articles, 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 1);

    /* A locale the Help Center does not have is Zendesk's 404. */
    o.locale = "xx";
    assert_int_not_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r,
                                            &err), TR_OK);
    assert_non_null(strstr(tr_error_msg(&err), "404"));

    o.locale = NULL;
    o.page_size = 101;
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, &o, &r, &err),
                     TR_E_INVAL);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM articles"), 1);
    env_down(&e);
}

static void
sync_without_settings_is_a_configuration_error(void **state)
{
    struct tr_zendesk_kb_sync_result r;
    struct tr_error err = {0};
    struct env e;

    (void) state;
    env_up(&e, false);
    assert_int_equal(tr_zendesk_kb_sync(e.pg.db, e.tenant, NULL, &r, &err),
                     TR_E_CONF);
    assert_non_null(strstr(tr_error_msg(&err), "Zendesk settings"));
    env_down(&e);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(sync_imports_every_page_and_indexes_published_articles),
    cmocka_unit_test(sync_failing_on_a_later_page_stores_nothing),
    cmocka_unit_test(sync_by_locale_and_its_errors),
    cmocka_unit_test(sync_without_settings_is_a_configuration_error),
};

TR_TEST_MAIN(cases)
