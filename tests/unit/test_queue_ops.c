/*
 * test_queue_ops.c
 *      Single queue operations against a real PostgreSQL (fixture "pg"):
 *      transactional enqueue, leases, reclaim, backoff and metrics.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <unistd.h>

#include "tr_test.h"

#include "pgtest.h"
#include "queue.h"

static struct tr_queue_opts opts = {
    .lease_ms = 60000, .max_attempts = 3, .backoff_base_ms = 100,
    .backoff_max_ms = 1000, .idle_ms = 1000, .n_workers = 1,
    .grace_ms = 1000,
};

static void
open_db(struct tr_pgtest *t)
{
    struct tr_error err = {0};

    if (tr_pgtest_open(t, 4, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
}

static long long
owner_count(struct tr_pgtest *t, const char *sql)
{
    char buf[32];

    assert_int_equal(tr_pgtest_owner_value(t, sql, buf, sizeof(buf)), TR_OK);
    return atoll(buf);
}

static int64_t
add_tenant(struct tr_pgtest *t, const char *name)
{
    char sql[160], buf[32];

    snprintf(sql, sizeof(sql), "INSERT INTO tenants (name, webhook_secret) "
                               "VALUES ('%s', 's') RETURNING id", name);
    assert_int_equal(tr_pgtest_owner_value(t, sql, buf, sizeof(buf)), TR_OK);
    return atoll(buf);
}

static void
enqueue_in_rolled_back_transaction_leaves_no_job(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *tx;
    struct tr_error err = {0};
    int64_t tenant, id = 0;

    open_db(&t);
    tenant = add_tenant(&t, "acme");

    assert_int_equal(tr_db_tx_begin(t.db, tenant, &tx, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, tx, tenant, "triage", "{}", 0,
                                      &id, &err), TR_OK);
    assert_true(id > 0);
    tr_db_tx_rollback(tx);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs"), 0);

    /* The same inside a committed transaction does leave the job. */
    assert_int_equal(tr_db_tx_begin(t.db, tenant, &tx, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, tx, tenant, "triage", "{}", 0,
                                      &id, &err), TR_OK);
    assert_int_equal(tr_db_tx_commit(tx, &err), TR_OK);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs"), 1);
    tr_pgtest_close(&t);
}

static void
enqueue_for_another_tenant_inside_transaction_is_refused(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *tx;
    struct tr_error err = {0};
    int64_t a, b;

    open_db(&t);
    a = add_tenant(&t, "a");
    b = add_tenant(&t, "b");
    assert_int_equal(tr_db_tx_begin(t.db, a, &tx, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, tx, b, "triage", NULL, 0, NULL,
                                      &err), TR_E_PERM);
    tr_db_tx_rollback(tx);

    /* And the app role cannot write the table directly. */
    assert_int_equal(tr_db_tx_begin(t.db, a, &tx, &err), TR_OK);
    assert_int_equal(tr_db_exec(tx, "UPDATE jobs SET state = 'done'", 0, NULL,
                                NULL, &err), TR_E_PERM);
    tr_db_tx_rollback(tx);
    tr_pgtest_close(&t);
}

static void
bad_kind_is_rejected(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};

    open_db(&t);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "Bad Kind", NULL, 0,
                                      NULL, &err), TR_E_INVAL);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "", NULL, 0, NULL, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "ok", "{not json", 0,
                                      NULL, &err), TR_E_DB_QUERY);
    assert_string_equal(err.foreign, "22P02");
    tr_pgtest_close(&t);
}

static void
expired_lease_is_reclaimed_and_old_holder_loses_it(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_opts o = opts;
    struct tr_queue_job job, job2;
    struct tr_arena *a = tr_arena_new(4096);
    struct tr_error err = {0};
    const char *kinds[1] = {"sync"};
    int n = 0;

    open_db(&t);
    o.lease_ms = 200;
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "sync", "{\"a\":1}", 0,
                                      NULL, &err), TR_OK);
    assert_int_equal(tr_queue_claim(t.db, &o, "w1", kinds, 1, a, &job, &err),
                     TR_OK);
    assert_int_equal(job.attempt, 1);
    assert_string_equal(job.payload, "{\"a\": 1}");

    /* Locked by w1's lease: nothing else to claim, nothing to reclaim. */
    assert_int_equal(tr_queue_claim(t.db, &o, "w2", kinds, 1, a, &job2, &err),
                     TR_E_QUEUE_EMPTY);
    assert_int_equal(tr_queue_reclaim(t.db, &o, &n, &err), TR_OK);
    assert_int_equal(n, 0);

    usleep(300 * 1000);
    assert_int_equal(tr_queue_reclaim(t.db, &o, &n, &err), TR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tr_queue_claim(t.db, &o, "w2", kinds, 1, a, &job2, &err),
                     TR_OK);
    assert_int_equal(job2.id, job.id);
    assert_int_equal(job2.attempt, 2);

    assert_int_equal(tr_queue_complete(t.db, &job, &err), TR_E_QUEUE_LEASE);
    assert_int_equal(tr_queue_complete(t.db, &job2, &err), TR_OK);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs "
                                     "WHERE state = 'done'"), 1);
    tr_arena_free(a);
    tr_pgtest_close(&t);
}

static void
complete_claim_finishes_one_and_leases_the_next(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_job a_job, b_job, c_job;
    struct tr_arena *a = tr_arena_new(4096), *b = tr_arena_new(4096);
    struct tr_error err = {0};
    const char *kinds[1] = {"chain"};
    bool completed = false;
    int64_t id1, id2;

    open_db(&t);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "chain", NULL, 0, &id1,
                                      &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "chain", NULL, 0, &id2,
                                      &err), TR_OK);
    assert_int_equal(tr_queue_claim(t.db, &opts, "w1", kinds, 1, a, &a_job,
                                    &err), TR_OK);
    assert_int_equal(a_job.id, id1);

    /* Done with the first, holding the second, in one call. */
    assert_int_equal(tr_queue_complete_claim(t.db, &opts, &a_job, kinds, 1,
                                             b, &b_job, &completed, &err),
                     TR_OK);
    assert_true(completed);
    assert_int_equal(b_job.id, id2);
    assert_string_equal(b_job.worker, "w1");
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs "
                                     "WHERE state = 'done'"), 1);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs "
                                     "WHERE state = 'running'"), 1);

    /* The last one: completed, nothing left to hold. */
    tr_arena_reset(a);
    assert_int_equal(tr_queue_complete_claim(t.db, &opts, &b_job, kinds, 1,
                                             a, &c_job, &completed, &err),
                     TR_E_QUEUE_EMPTY);
    assert_true(completed);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs "
                                     "WHERE state = 'done'"), 2);

    /* A job no longer leased to us is not completed a second time. */
    assert_int_equal(tr_queue_complete_claim(t.db, &opts, &b_job, kinds, 1,
                                             a, &c_job, &completed, &err),
                     TR_E_QUEUE_EMPTY);
    assert_false(completed);
    tr_arena_free(a);
    tr_arena_free(b);
    tr_pgtest_close(&t);
}

static void
release_gives_back_the_attempt(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_job job;
    struct tr_arena *a = tr_arena_new(4096);
    struct tr_error err = {0};
    const char *kinds[1] = {"sync"};

    open_db(&t);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "sync", NULL, 0, NULL,
                                      &err), TR_OK);
    assert_int_equal(tr_queue_claim(t.db, &opts, "w1", kinds, 1, a, &job,
                                    &err), TR_OK);
    assert_int_equal(tr_queue_release(t.db, &job, &err), TR_OK);
    assert_int_equal(tr_queue_claim(t.db, &opts, "w2", kinds, 1, a, &job,
                                    &err), TR_OK);
    assert_int_equal(job.attempt, 1);
    tr_arena_free(a);
    tr_pgtest_close(&t);
}

static void
backoff_doubles_with_bounded_jitter_and_caps(void **state)
{
    struct tr_queue_opts o = opts;
    unsigned seed = 7;
    int prev = 0, d;

    o.backoff_base_ms = 1000;
    o.backoff_max_ms = 30000;
    for (int attempt = 1; attempt <= 5; attempt++) {
        d = tr_queue_backoff_ms(&o, attempt, &seed);
        assert_true(d >= 1000 << (attempt - 1));
        assert_true(d < (1000 << (attempt - 1)) * 5 / 4);
        assert_true(d > prev);
        prev = d;
    }
    for (int i = 0; i < 100; i++) {
        d = tr_queue_backoff_ms(&o, 20 + i, &seed);
        assert_true(d >= 30000 && d < 37500);
    }
}

static void
stats_report_open_jobs_by_kind_and_state(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_opts o = opts;
    struct tr_queue_job job;
    struct tr_arena *a = tr_arena_new(4096);
    struct tr_error err = {0};
    struct tr_buf out;
    const char *kinds[1] = {"mail"};
    bool parked = false;
    unsigned seed = 1;

    open_db(&t);
    o.max_attempts = 1;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "index", NULL, 0,
                                          NULL, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "mail", NULL, 0, NULL,
                                      &err), TR_OK);
    assert_int_equal(tr_queue_claim(t.db, &o, "w", kinds, 1, a, &job, &err),
                     TR_OK);
    assert_int_equal(tr_queue_fail(t.db, &o, &job, "smtp down", &seed,
                                   &parked, &err), TR_OK);
    assert_true(parked);

    tr_buf_init(&out, 65536);
    assert_int_equal(tr_queue_stats_prometheus(t.db, &out, &err), TR_OK);
    assert_non_null(strstr(out.data, "# TYPE triage_queue_jobs gauge\n"));
    assert_non_null(strstr(out.data, "triage_queue_jobs{kind=\"index\","
                                     "state=\"queued\"} 3\n"));
    assert_non_null(strstr(out.data, "triage_queue_jobs{kind=\"mail\","
                                     "state=\"parked\"} 1\n"));
    assert_non_null(strstr(out.data, "\ntriage_queue_parked 1\n"));
    tr_buf_cleanup(&out);

    /* A buffer too small is an error, not a truncated page. */
    tr_buf_init(&out, 16);
    assert_int_equal(tr_queue_stats_prometheus(t.db, &out, &err),
                     TR_E_TOOBIG);
    tr_buf_cleanup(&out);
    tr_arena_free(a);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(enqueue_in_rolled_back_transaction_leaves_no_job),
    cmocka_unit_test(enqueue_for_another_tenant_inside_transaction_is_refused),
    cmocka_unit_test(bad_kind_is_rejected),
    cmocka_unit_test(expired_lease_is_reclaimed_and_old_holder_loses_it),
    cmocka_unit_test(complete_claim_finishes_one_and_leases_the_next),
    cmocka_unit_test(release_gives_back_the_attempt),
    cmocka_unit_test(backoff_doubles_with_bounded_jitter_and_caps),
    cmocka_unit_test(stats_report_open_jobs_by_kind_and_state),
};

TR_TEST_MAIN(cases)
