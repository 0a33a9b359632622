/*
 * bench_queue.c
 *      Throughput of the job queue on a private cluster with durable
 *      commits: enqueue, then claim and complete with a worker pool.
 *
 * bench_queue start DIR    start (create) a cluster under DIR/pg with
 *                          fsync and synchronous_commit on, migrate, and
 *                          create the table pgbench inserts into
 * bench_queue sock DIR     print its socket directory
 * bench_queue run DIR N W  enqueue N jobs from W threads (autocommit, one
 *                          transaction each), then drain them with a pool
 *                          of W workers; print the rates
 * bench_queue stop DIR     stop the cluster by its pid
 *
 * bench/queue/run drives it and compares with pgbench.  Main thread plus
 * the enqueuers and the pool's threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "queue.h"

struct enqueuer {
    struct tr_db *db;
    int n;
    enum tr_err rc;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static enum tr_err
noop(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    return TR_OK;
}

static void *
enqueue_main(void *arg)
{
    struct enqueuer *e = arg;
    struct tr_error err = {0};

    for (int i = 0; i < e->n && e->rc == TR_OK; i++)
        e->rc = tr_queue_enqueue(e->db, NULL, 0, "bench", "{\"n\": 1}", 0,
                                 NULL, &err);
    if (e->rc != TR_OK)
        fprintf(stderr, "enqueue: %s\n", tr_error_msg(&err));
    return NULL;
}

static int
run(struct tr_db *db, int n, int w)
{
    struct enqueuer e[16];
    pthread_t th[16];
    struct tr_queue_opts o = {
        .lease_ms = 60000, .max_attempts = 3, .backoff_base_ms = 1000,
        .backoff_max_ms = 60000, .idle_ms = 1000, .n_workers = w,
        .grace_ms = 5000,
    };
    struct tr_queue_pool *pool;
    struct tr_error err = {0};
    long long done = 0, failed = 0;
    double t0, t1, t2;

    t0 = now_s();
    for (int i = 0; i < w; i++) {
        e[i] = (struct enqueuer){db, n / w + (i < n % w), TR_OK};
        pthread_create(&th[i], NULL, enqueue_main, &e[i]);
    }
    for (int i = 0; i < w; i++)
        pthread_join(th[i], NULL);
    t1 = now_s();

    if (tr_queue_handler_register("bench", noop, NULL, 0, &err) != TR_OK ||
        tr_queue_pool_start(db, &o, &pool, &err) != TR_OK) {
        fprintf(stderr, "pool: %s\n", tr_error_msg(&err));
        return 1;
    }
    while (done + failed < n) {
        usleep(2000);
        tr_queue_pool_counts(pool, &done, &failed);
    }
    t2 = now_s();
    tr_queue_pool_stop(pool, NULL);
    tr_queue_pool_free(pool);

    printf("jobs %d, threads %d, failed %lld\n", n, w, failed);
    printf("enqueue            %8.0f jobs/s  (1 commit each)\n",
           n / (t1 - t0));
    printf("claim+complete     %8.0f jobs/s  (1 commit each: a completion "
           "and the next claim)\n",
           n / (t2 - t1));
    printf("end to end         %8.0f jobs/s  (2 commits each, %.0f "
           "commits/s)\n", n / (t2 - t0), 2.0 * n / (t2 - t0));
    return 0;
}

int
main(int argc, char **argv)
{
    struct tr_conf conf;
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info;
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    enum tr_err rc;
    int ex = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_queue start|sock|run|stop DIR [N W]\n");
        return 2;
    }
    tr_conf_defaults(&conf);
    snprintf(conf.data_dir, sizeof(conf.data_dir), "%s", argv[2]);
    rc = tr_db_cluster_new(&conf, 0, &cl, &err);
    if (rc != TR_OK)
        goto out;

    if (strcmp(argv[1], "stop") == 0) {
        rc = tr_db_cluster_stop(cl, &err);
    } else if (strcmp(argv[1], "sock") == 0) {
        tr_db_cluster_status(cl, &info);
        printf("%s\n", info.sock_dir);
    } else if (strcmp(argv[1], "start") == 0 ||
               strcmp(argv[1], "run") == 0) {
        rc = tr_db_open(&conf, 8, &db, &err);
        if (rc == TR_OK && strcmp(argv[1], "start") == 0) {
            rc = tr_db_migrate(db, NULL, &err);
            if (rc == TR_OK)
                rc = tr_db_conn_owner(db, &c, &err);
            if (rc == TR_OK) {
                rc = tr_db_exec(c, "CREATE TABLE IF NOT EXISTS bench_rows "
                                   "(id bigserial PRIMARY KEY, v int)",
                                0, NULL, NULL, &err);
                tr_db_conn_release(c);
            }
        } else if (rc == TR_OK) {
            ex = run(db, argc > 3 ? atoi(argv[3]) : 20000,
                     argc > 4 ? atoi(argv[4]) : 2);
        }
        tr_db_close(db, false);
    }

out:
    tr_db_cluster_free(cl);
    if (rc != TR_OK) {
        fprintf(stderr, "bench_queue %s: %s\n", argv[1], tr_error_msg(&err));
        return 1;
    }
    return ex;
}
