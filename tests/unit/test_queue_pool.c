/*
 * test_queue_pool.c
 *      The worker pool against a real PostgreSQL (fixture "pg"): many
 *      jobs done exactly once, a killed worker process, retries with
 *      growing delays, NOTIFY wake-ups and graceful stop.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_test.h"

#include "pgtest.h"
#include "queue.h"

#define N_JOBS 10000

static struct tr_queue_opts opts = {
    .lease_ms = 30000, .max_attempts = 3, .backoff_base_ms = 100,
    .backoff_max_ms = 5000, .idle_ms = 2000, .n_workers = 2,
    .grace_ms = 5000,
};

static atomic_int runs[N_JOBS + 1];
static atomic_llong first_run_ms;
static atomic_int n_runs;
static long long run_ms[16];

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
open_db(struct tr_pgtest *t, int pool_size)
{
    struct tr_error err = {0};

    tr_queue_handlers_clear();
    if (tr_pgtest_open(t, pool_size, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
}

static long long
owner_count(struct tr_pgtest *t, const char *sql)
{
    char buf[32];

    assert_int_equal(tr_pgtest_owner_value(t, sql, buf, sizeof(buf)), TR_OK);
    return atoll(buf);
}

/* Wait up to `ms` for `sql` to count `want`; returns the last count. */
static long long
wait_count(struct tr_pgtest *t, const char *sql, long long want, int ms)
{
    long long n = -1;

    for (long long end = now_ms() + ms; now_ms() < end; usleep(50 * 1000)) {
        n = owner_count(t, sql);
        if (n == want)
            break;
    }
    return n;
}

static enum tr_err
count_run(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    long long k = atoll(job->payload + 5);  /* {"k": N} */

    if (k < 1 || k > N_JOBS)
        return TR_ERROR(err, TR_E_INVAL, "bad payload");
    atomic_fetch_add(&runs[k], 1);
    atomic_fetch_add(&n_runs, 1);
    return TR_OK;
}

static void
workers_complete_many_jobs_exactly_once(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p1, *p2;
    struct tr_error err = {0};
    struct tr_db_conn *tx;
    char payload[32];
    long long done1, done2, failed;

    open_db(&t, 8);
    assert_int_equal(tr_queue_handler_register("count", count_run, NULL, 0,
                                               &err), TR_OK);

    /* Enqueue in batches of 500 per transaction. */
    for (int k = 1; k <= N_JOBS; k++) {
        if (k % 500 == 1)
            assert_int_equal(tr_db_tx_begin(t.db, 0, &tx, &err), TR_OK);
        snprintf(payload, sizeof(payload), "{\"k\": %d}", k);
        assert_int_equal(tr_queue_enqueue(t.db, tx, 0, "count", payload, 0,
                                          NULL, &err), TR_OK);
        if (k % 500 == 0)
            assert_int_equal(tr_db_tx_commit(tx, &err), TR_OK);
    }

    /* Two pools of two workers, as two processes would be. */
    assert_int_equal(tr_queue_pool_start(t.db, &opts, &p1, &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &opts, &p2, &err), TR_OK);
    assert_int_equal(wait_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'done'", N_JOBS, 100000),
                     N_JOBS);
    assert_int_equal(tr_queue_pool_stop(p1, &err), TR_OK);
    assert_int_equal(tr_queue_pool_stop(p2, &err), TR_OK);

    tr_queue_pool_counts(p1, &done1, &failed);
    assert_int_equal(failed, 0);
    tr_queue_pool_counts(p2, &done2, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(done1 + done2, N_JOBS);
    assert_true(done1 > 0 && done2 > 0);
    for (int k = 1; k <= N_JOBS; k++)
        assert_int_equal(atomic_load(&runs[k]), 1);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "attempts <> 1"), 0);
    tr_queue_pool_free(p1);
    tr_queue_pool_free(p2);
    tr_pgtest_close(&t);
}

/* The child's handler: tell the parent, then hang until killed. */
static enum tr_err
hang(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    int fd = *(int *) ud;

    if (write(fd, "s", 1) != 1)
        _exit(3);
    for (;;)
        pause();
    return TR_OK;
}

static enum tr_err
record_run(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    run_ms[atomic_fetch_add(&n_runs, 1) % 16] = now_ms();
    return TR_OK;
}

static void
killed_worker_process_job_is_reclaimed_and_done_once(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p;
    struct tr_queue_opts o = opts;
    struct tr_error err = {0};
    int fds[2], status;
    char c;
    pid_t pid;

    open_db(&t, 4);
    o.lease_ms = 1000;
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "slow", NULL, 0, NULL,
                                      &err), TR_OK);
    assert_int_equal(pipe(fds), 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A worker process of its own, with its own connections. */
        struct tr_db *db;

        if (tr_db_open(&t.conf, 4, &db, NULL) != TR_OK ||
            tr_queue_handler_register("slow", hang, &fds[1], 0, NULL) !=
                TR_OK ||
            tr_queue_pool_start(db, &o, &p, NULL) != TR_OK)
            _exit(2);
        for (;;)
            pause();
    }

    /* Once the child runs the job, kill it without a chance to clean. */
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'running'"), 1);

    atomic_store(&n_runs, 0);
    assert_int_equal(tr_queue_handler_register("slow", record_run, NULL, 0,
                                               &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    assert_int_equal(wait_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'done' AND attempts = 2",
                                1, 10000), 1);
    usleep(300 * 1000);
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_OK);
    tr_queue_pool_free(p);
    assert_int_equal(atomic_load(&n_runs), 1);
    tr_pgtest_close(&t);
}

static enum tr_err
always_fail(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    run_ms[atomic_fetch_add(&n_runs, 1) % 16] = now_ms();
    return TR_ERROR(err, TR_E_HTTP_UPSTREAM, "upstream said no (attempt %d)",
                    job->attempt);
}

static void
failing_job_is_retried_with_growing_delays_then_parked(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p;
    struct tr_queue_opts o = opts;
    struct tr_error err = {0};
    char buf[256];

    open_db(&t, 4);
    o.max_attempts = 4;
    o.backoff_base_ms = 200;
    atomic_store(&n_runs, 0);
    assert_int_equal(tr_queue_handler_register("flaky", always_fail, NULL, 0,
                                               &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "flaky", NULL, 0, NULL,
                                      &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    assert_int_equal(wait_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'parked'", 1, 15000), 1);
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_OK);
    tr_queue_pool_free(p);

    /* Runs 4 times: gaps of about 200, 400 and 800 ms, each longer. */
    assert_int_equal(atomic_load(&n_runs), 4);
    for (int i = 1; i < 4; i++) {
        long long gap = run_ms[i] - run_ms[i - 1];

        assert_true(gap >= 200LL << (i - 1));
        if (i > 1)
            assert_true(gap > run_ms[i - 1] - run_ms[i - 2]);
    }
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT attempts || ' ' || "
                                               "last_error FROM jobs",
                                           buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "4 upstream said no (attempt 4)");
    tr_pgtest_close(&t);
}

static enum tr_err
first_run(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    long long zero = 0;

    atomic_compare_exchange_strong(&first_run_ms, &zero, now_ms());
    return TR_OK;
}

static void
notify_wakes_an_idle_worker_fast(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p;
    struct tr_queue_opts o = opts;
    struct tr_error err = {0};
    long long sent;

    open_db(&t, 4);
    o.idle_ms = 20000;
    atomic_store(&first_run_ms, 0);
    assert_int_equal(tr_queue_handler_register("ping", first_run, NULL, 0,
                                               &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    usleep(700 * 1000);         /* the workers found nothing and sleep */

    sent = now_ms();
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "ping", NULL, 0, NULL,
                                      &err), TR_OK);
    for (int i = 0; i < 200 && atomic_load(&first_run_ms) == 0; i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&first_run_ms) != 0);

    /* Far below the 20 s a worker would sleep without the NOTIFY. */
    assert_true(atomic_load(&first_run_ms) - sent < 1000);
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_OK);
    tr_queue_pool_free(p);
    tr_pgtest_close(&t);
}

static void
wake_up_follows_the_commit_not_the_enqueue(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p;
    struct tr_queue_opts o = opts;
    struct tr_db_conn *tx;
    struct tr_error err = {0};
    long long committed;

    open_db(&t, 6);
    o.idle_ms = 20000;
    atomic_store(&first_run_ms, 0);
    assert_int_equal(tr_queue_handler_register("ping", first_run, NULL, 0,
                                               &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    usleep(700 * 1000);         /* the workers found nothing and sleep */

    /* Rolled back: no job, and whatever wake-up comes finds nothing. */
    assert_int_equal(tr_db_tx_begin(t.db, 0, &tx, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, tx, 0, "ping", NULL, 0, NULL,
                                      &err), TR_OK);
    tr_db_tx_rollback(tx);

    /* Enqueued in a transaction: nothing runs until it commits. */
    assert_int_equal(tr_db_tx_begin(t.db, 0, &tx, &err), TR_OK);
    assert_int_equal(tr_queue_enqueue(t.db, tx, 0, "ping", NULL, 0, NULL,
                                      &err), TR_OK);
    usleep(300 * 1000);
    assert_int_equal(atomic_load(&first_run_ms), 0);
    committed = now_ms();
    assert_int_equal(tr_db_tx_commit(tx, &err), TR_OK);

    for (int i = 0; i < 200 && atomic_load(&first_run_ms) == 0; i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&first_run_ms) != 0);
    assert_true(atomic_load(&first_run_ms) - committed < 1000);
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_OK);
    tr_queue_pool_free(p);
    tr_pgtest_close(&t);
}

static enum tr_err
sleepy(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    int ms = atoi(job->payload + 6);  /* {"ms": N} */

    atomic_fetch_add(&n_runs, 1);
    usleep((useconds_t) ms * 1000);
    return TR_OK;
}

static void
stop_lets_running_jobs_finish_within_grace(void **state)
{
    struct tr_pgtest t;
    struct tr_queue_pool *p;
    struct tr_queue_opts o = opts;
    struct tr_error err = {0};

    open_db(&t, 4);
    o.n_workers = 1;
    o.grace_ms = 3000;
    atomic_store(&n_runs, 0);
    assert_int_equal(tr_queue_handler_register("nap", sleepy, NULL, 0, &err),
                     TR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "nap",
                                          "{\"ms\": 500}", 0, NULL, &err),
                         TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    for (int i = 0; i < 200 && atomic_load(&n_runs) == 0; i++)
        usleep(10 * 1000);

    /* The running job ends done; the two others stay queued. */
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_OK);
    tr_queue_pool_free(p);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'done'"), 1);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'queued' AND attempts = 0"), 2);

    /* A handler longer than the grace period makes stop time out; the
     * job still ends done once the handler returns. */
    o.grace_ms = 200;
    atomic_store(&n_runs, 0);
    assert_int_equal(tr_queue_enqueue(t.db, NULL, 0, "nap", "{\"ms\": 1500}",
                                      0, NULL, &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(t.db, &o, &p, &err), TR_OK);
    for (int i = 0; i < 200 && atomic_load(&n_runs) == 0; i++)
        usleep(10 * 1000);
    assert_int_equal(tr_queue_pool_stop(p, &err), TR_E_TIMEOUT);
    tr_queue_pool_free(p);
    assert_int_equal(owner_count(&t, "SELECT count(*) FROM jobs WHERE "
                                     "state = 'done'"), 2);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(workers_complete_many_jobs_exactly_once),
    cmocka_unit_test(killed_worker_process_job_is_reclaimed_and_done_once),
    cmocka_unit_test(failing_job_is_retried_with_growing_delays_then_parked),
    cmocka_unit_test(notify_wakes_an_idle_worker_fast),
    cmocka_unit_test(wake_up_follows_the_commit_not_the_enqueue),
    cmocka_unit_test(stop_lets_running_jobs_finish_within_grace),
};

TR_TEST_MAIN(cases)
