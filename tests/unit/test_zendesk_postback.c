/*
 * test_zendesk_postback.c
 *      The post-back job against the fake Zendesk and a real database:
 *      one comment across a crash between the update and its record, a
 *      409 from the safe update retried with a fresh stamp, internal
 *      notes, and drafts that may not be sent.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "test_zendesk_ingest_fx.h"
#include "zendesk.h"

#define REPLY "Please restart the printer and reinstall the driver."

struct env {
    struct tr_pgtest pg;
    struct zfake fake;
    int64_t tenant;
    int64_t draft;
    struct tr_httpc_policy pol;
    double slept;
    struct tr_zendesk_job_opts jo;
    int n_posted_calls;
};

/* A ticket 4711 whose stored version is `updated`, with a draft. */
static void
env_up(struct env *e, const char *mode, const char *updated,
       const char *status)
{
    struct tr_error err = {0};
    char sql[1024];

    memset(e, 0, sizeof(*e));
    assert_int_equal(tr_pgtest_open(&e->pg, 8, true, &err), TR_OK);
    zfx_fake_start(&e->fake);
    e->tenant = zfx_tenant_add(&e->pg, "acme", "postback-secret-0123",
                               e->fake.base, mode);
    zfx_policy(&e->pol, &e->slept);
    e->jo.policy = &e->pol;
    snprintf(sql, sizeof(sql),
             "WITH t AS (INSERT INTO tickets (tenant_id, external_id, "
             "subject, updated_at) VALUES (%lld, '4711', 'Printer offline', "
             "'%s') RETURNING id) INSERT INTO drafts (tenant_id, ticket_id, "
             "body, status) SELECT %lld, id, '%s', '%s' FROM t RETURNING id",
             (long long) e->tenant, updated, (long long) e->tenant, REPLY,
             status);
    e->draft = zfx_count(&e->pg, sql);
}

static void
env_down(struct env *e)
{
    zfx_fake_stop(&e->fake);
    tr_pgtest_close(&e->pg);
}

/* The comments the fake received through ticket updates. */
static int
posted_count(struct env *e, const char *needle)
{
    char *r = zfx_control(&e->fake, "GET", "/posted", NULL);
    int n = zfx_count_of(r, needle);

    free(r);
    return n;
}

/* Dies once, like a process killed right after Zendesk answered. */
static enum tr_err
crash_once(void *arg, int64_t draft_id)
{
    struct env *e = arg;

    (void) draft_id;
    if (e->n_posted_calls++ == 0)
        return TR_E_INTERNAL;
    return TR_OK;
}

static void
postback_posts_once_across_a_crash_between_put_and_record(void **state)
{
    struct tr_error err = {0};
    struct env e;

    (void) state;
    env_up(&e, "public", "2024-05-02T10:01:12Z", "approved");
    e.jo.on_posted = crash_once;
    e.jo.on_posted_arg = &e;
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             "urgent", 0, NULL, 0, &e.jo,
                                             &err), TR_E_INTERNAL);
    assert_int_equal(posted_count(&e, "restart the printer"), 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM drafts WHERE "
                                      "status = 'sent'"), 0);

    /* The retry finds the comment and records it instead of posting. */
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             "urgent", 0, NULL, 0, &e.jo,
                                             &err), TR_OK);
    assert_int_equal(posted_count(&e, "restart the printer"), 1);
    assert_int_equal(e.n_posted_calls, 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "zendesk_postbacks WHERE state = "
                                      "'done' AND found_on_retry AND "
                                      "comment_id IS NOT NULL"), 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM drafts WHERE "
                                      "status = 'sent'"), 1);

    /* And a third run does nothing at all. */
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             NULL, 0, NULL, 0, &e.jo, &err),
                     TR_OK);
    assert_int_equal(posted_count(&e, "restart the printer"), 1);
    env_down(&e);
}

static void
postback_conflict_refetches_and_records_the_answer(void **state)
{
    static const char *const tags[] = {"printer", "answered"};
    struct tr_error err = {0};
    struct env e;
    char *r;

    (void) state;
    /* Our copy is older than Zendesk's: the safe update gets 409. */
    env_up(&e, "internal", "2024-05-01T00:00:00Z", "approved");
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             "high", 360002, tags, 2, &e.jo,
                                             &err), TR_OK);
    r = zfx_control(&e.fake, "GET", "/requests", NULL);
    assert_int_equal(zfx_count_of(r, "\"status\":409"), 1);
    free(r);
    r = zfx_control(&e.fake, "GET", "/posted", NULL);
    assert_int_equal(zfx_count_of(r, "restart the printer"), 1);
    assert_non_null(strstr(r, "\"public\":false"));
    free(r);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "zendesk_postbacks WHERE state = "
                                      "'done' AND audit_id IS NOT NULL AND "
                                      "comment_id IS NOT NULL AND NOT "
                                      "public AND NOT found_on_retry"), 1);
    env_down(&e);
}

static void
postback_refuses_drafts_not_approved_and_unknown(void **state)
{
    struct tr_error err = {0};
    struct env e;

    (void) state;
    env_up(&e, "public", "2024-05-02T10:01:12Z", "pending");
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             NULL, 0, NULL, 0, &e.jo, &err),
                     TR_E_CONFLICT);
    assert_non_null(strstr(tr_error_msg(&err), "not approved"));
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant,
                                             e.draft + 100, NULL, 0, NULL, 0,
                                             &e.jo, &err), TR_E_NOTFOUND);
    assert_int_equal(posted_count(&e, "restart the printer"), 0);
    env_down(&e);
}

static void
postback_waits_out_a_429_storm_and_posts_once(void **state)
{
    struct tr_error err = {0};
    struct env e;
    char *r;

    (void) state;
    env_up(&e, "public", "2024-05-02T10:01:12Z", "approved");
    r = zfx_control(&e.fake, "POST", "/fail",
                    "{\"count\":4,\"status\":429,\"retry_after\":\"5\","
                    "\"path\":\"/api/v2/tickets\"}");
    free(r);
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             NULL, 0, NULL, 0, &e.jo, &err),
                     TR_OK);
    assert_true(e.slept >= 4 * 5 - 0.01);
    assert_int_equal(posted_count(&e, "restart the printer"), 1);
    env_down(&e);
}

/*
 * The reply goes out with the originals of its placeholders, and the
 * check after a crash compares Zendesk's comments with that same text.
 */
static void
postback_restores_placeholders_and_still_posts_once(void **state)
{
    struct tr_error err = {0};
    struct env e;
    char sql[1024];

    (void) state;
    env_up(&e, "public", "2024-05-02T10:01:12Z", "approved");
    snprintf(sql, sizeof(sql),
             "WITH u AS (UPDATE drafts SET body = 'Hello [EMAIL_1], we "
             "sent the label to [EMAIL_1]. [EMAIL_2] stays as written.' "
             "WHERE id = %lld RETURNING 1), r AS (INSERT INTO "
             "draft_redactions (tenant_id, draft_id, placeholder, kind, "
             "original) VALUES (%lld, %lld, '[EMAIL_1]', 'EMAIL', "
             "'ann@example.com') RETURNING 1) SELECT (SELECT count(*) "
             "FROM u) + (SELECT count(*) FROM r)",
             (long long) e.draft, (long long) e.tenant, (long long) e.draft);
    assert_int_equal(zfx_count(&e.pg, sql), 2);

    e.jo.on_posted = crash_once;
    e.jo.on_posted_arg = &e;
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             NULL, 0, NULL, 0, &e.jo, &err),
                     TR_E_INTERNAL);
    assert_int_equal(posted_count(&e, "Hello ann@example.com, we sent the "
                                      "label to ann@example.com. "
                                      "[EMAIL_2] stays as written."), 1);
    assert_int_equal(posted_count(&e, "[EMAIL_1]"), 0);

    /* The retry recognises the restored text as its own comment. */
    assert_int_equal(tr_zendesk_postback_run(e.pg.db, e.tenant, e.draft,
                                             NULL, 0, NULL, 0, &e.jo, &err),
                     TR_OK);
    assert_int_equal(e.n_posted_calls, 1);
    assert_int_equal(posted_count(&e, "ann@example.com"), 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "zendesk_postbacks WHERE state = "
                                      "'done' AND found_on_retry"), 1);
    env_down(&e);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(
        postback_posts_once_across_a_crash_between_put_and_record),
    cmocka_unit_test(postback_conflict_refetches_and_records_the_answer),
    cmocka_unit_test(postback_refuses_drafts_not_approved_and_unknown),
    cmocka_unit_test(postback_waits_out_a_429_storm_and_posts_once),
    cmocka_unit_test(postback_restores_placeholders_and_still_posts_once),
};

TR_TEST_MAIN(cases)
