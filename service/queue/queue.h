/*
 * queue.h
 *      The durable job queue on PostgreSQL: enqueue, claim with a lease,
 *      complete, retry with backoff, park, reclaim, handlers by kind and
 *      the worker pool.
 *
 * Jobs live in the table `jobs` (service/db/migrations/002_jobs.sql).
 * Claims use FOR UPDATE SKIP LOCKED, so workers in any number of
 * processes never take the same job; a claim is a lease that runs out
 * after opts.lease_ms, after which the job is reclaimed.  Delivery is at
 * least once: a handler whose process dies mid-job runs again, so
 * handlers must be idempotent (record what they did in the same
 * transaction as their effect).  Enqueueing sends NOTIFY triage_jobs
 * when the job is due now, which wakes idle workers at once; without it
 * workers look again after opts.idle_ms.
 *
 * Modules register a handler per job kind before the pool starts; the
 * registration table lives here so that the queue never includes a
 * module above it.
 *
 * Threads: every function may be called from any thread; the pool runs
 * handlers on its own threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_QUEUE_H
#define TR_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "mem.h"

#define TR_QUEUE_CHANNEL "triage_jobs"
#define TR_QUEUE_KIND_MAX 64
#define TR_QUEUE_MAX_HANDLERS 64

struct tr_queue_opts {
    int lease_ms;               /* how long a claim holds a job */
    int max_attempts;           /* attempts before a job is parked */
    int backoff_base_ms;        /* first retry delay, doubling */
    int backoff_max_ms;         /* cap of the retry delay */
    int idle_ms;                /* longest sleep of an idle worker */
    int n_workers;              /* threads of the pool */
    int grace_ms;               /* how long stop waits for running jobs */
};

/* One claimed job, as a handler sees it.  Strings live in `arena`. */
struct tr_queue_job {
    int64_t id;
    int64_t tenant_id;          /* 0 for a job of no tenant */
    const char *kind;
    const char *payload;        /* JSON text */
    int attempt;                /* 1 for the first run */
    const char *worker;         /* who holds the lease */
    struct tr_arena *arena;     /* per job; freed when the handler ends */
    struct tr_db *db;
    const atomic_bool *stopping;  /* set when the pool is stopping */
};

/*
 * A job handler.  Return TR_OK to complete the job; any other code fails
 * the attempt, and err's message becomes the job's last_error (so it must
 * not hold secrets).  `ud` is what was registered.  Runs on a pool thread.
 */
typedef enum tr_err tr_queue_handler_fn(struct tr_queue_job *job, void *ud,
                                        struct tr_error *err);

/*
 * Fill `o` from the configuration: queue_lease, queue_max_attempts,
 * queue_backoff_base, queue_backoff_max (seconds), workers and
 * shutdown_grace; idle_ms is 5000.
 */
void tr_queue_opts_from_conf(struct tr_queue_opts *o,
                             const struct tr_conf *conf);

/*
 * The delay before retry number `attempt` (1 after the first failure):
 * backoff_base_ms * 2^(attempt-1), capped at backoff_max_ms, plus up to a
 * quarter of it of random jitter from `*seed` (rand_r).  Pure.
 */
int tr_queue_backoff_ms(const struct tr_queue_opts *o, int attempt,
                        unsigned *seed);

/* ---- handlers --------------------------------------------------------- */

/*
 * Register `fn` for jobs of `kind` ([a-z0-9_.:-], 1 to 64 characters);
 * each run gets a fresh arena whose blocks are `arena_block` bytes (0 for
 * 64 KiB).  Call before tr_queue_pool_start().  Returns TR_E_INVAL for a
 * bad kind, TR_E_EXISTS when the kind has a handler, TR_E_RANGE when the
 * table is full.
 */
enum tr_err tr_queue_handler_register(const char *kind,
                                      tr_queue_handler_fn *fn, void *ud,
                                      size_t arena_block,
                                      struct tr_error *err);

/*
 * Forget every registration (for tests and for a process that rebuilds
 * its table).  Not while a pool runs.
 */
void tr_queue_handlers_clear(void);

/*
 * How many job kinds have a handler (serve starts no pool when none).
 */
size_t tr_queue_handlers_count(void);

/* ---- single operations ------------------------------------------------ */

/*
 * Enqueue a job of `kind` with JSON `payload` (NULL for {}), due after
 * `delay_ms`, for tenant `tenant_id` (0 for none).  With `tx` non-NULL
 * the job is part of that open transaction (and must then belong to its
 * tenant): it exists, and wakes workers, only if the transaction commits.
 * With `tx` NULL it is committed at once.  `id` may be NULL.
 */
enum tr_err tr_queue_enqueue(struct tr_db *db, struct tr_db_conn *tx,
                             int64_t tenant_id, const char *kind,
                             const char *payload, int delay_ms, int64_t *id,
                             struct tr_error *err);

/*
 * Claim the oldest due job among `kinds` for `worker`, leased for
 * o->lease_ms.  Strings of `job` are copied into `arena`.
 * TR_E_QUEUE_EMPTY when none is due.
 */
enum tr_err tr_queue_claim(struct tr_db *db, const struct tr_queue_opts *o,
                           const char *worker, const char *const *kinds,
                           size_t n_kinds, struct tr_arena *arena,
                           struct tr_queue_job *job, struct tr_error *err);

/*
 * Mark `done` complete and claim the next due job among `kinds` into
 * `next` (strings copied into `arena`, which must not hold those of
 * `done`), in one transaction: one disk flush per job instead of two.
 * `completed` tells whether `done` was still leased to its worker and is
 * now done.  TR_OK with a job in `next`, TR_E_QUEUE_EMPTY when none was
 * due, or the database error (then nothing changed).
 */
enum tr_err tr_queue_complete_claim(struct tr_db *db,
                                    const struct tr_queue_opts *o,
                                    const struct tr_queue_job *done,
                                    const char *const *kinds,
                                    size_t n_kinds, struct tr_arena *arena,
                                    struct tr_queue_job *next,
                                    bool *completed, struct tr_error *err);

/*
 * Mark a claimed job done.  TR_E_QUEUE_LEASE when its lease was lost
 * (reclaimed after expiry): then another worker owns it.
 */
enum tr_err tr_queue_complete(struct tr_db *db,
                              const struct tr_queue_job *job,
                              struct tr_error *err);

/*
 * Record a failed attempt with `error` (stored as last_error): the job
 * is queued again after tr_queue_backoff_ms(), or parked when it has had
 * o->max_attempts attempts.  `parked` (may be NULL) says which.
 * TR_E_QUEUE_LEASE when the lease was lost.
 */
enum tr_err tr_queue_fail(struct tr_db *db, const struct tr_queue_opts *o,
                          const struct tr_queue_job *job, const char *error,
                          unsigned *seed, bool *parked,
                          struct tr_error *err);

/*
 * Give back a claimed job that was not started; the attempt does not
 * count.
 */
enum tr_err tr_queue_release(struct tr_db *db,
                             const struct tr_queue_job *job,
                             struct tr_error *err);

/*
 * Queue again (or park, when attempts are used up) every job whose lease
 * has expired.  `n` (may be NULL) gets how many.
 */
enum tr_err tr_queue_reclaim(struct tr_db *db, const struct tr_queue_opts *o,
                             int *n, struct tr_error *err);

/* ---- worker pool ------------------------------------------------------ */

struct tr_queue_pool;

/*
 * Start o->n_workers threads that claim and run jobs of the registered
 * kinds, plus one thread that LISTENs for wake-ups on a dedicated
 * connection and reclaims expired leases.  The caller owns *out: stop it
 * with tr_queue_pool_stop(), then free it with tr_queue_pool_free().
 * `db` must outlive the pool.  TR_E_INVAL when no handler is registered.
 */
enum tr_err tr_queue_pool_start(struct tr_db *db,
                                const struct tr_queue_opts *o,
                                struct tr_queue_pool **out,
                                struct tr_error *err);

/*
 * Stop the pool: no new job is started, a job claimed but not started is
 * released, and running handlers get o->grace_ms to finish (they can see
 * job->stopping).  TR_OK when every thread ended, TR_E_TIMEOUT when some
 * handler still runs; its lease will expire and another worker will
 * reclaim the job.  Signal-safe it is not; call it from a normal thread.
 */
enum tr_err tr_queue_pool_stop(struct tr_queue_pool *p,
                               struct tr_error *err);

/*
 * Free a stopped pool, waiting for handlers that outlived the grace
 * period.  NULL is a no-op.
 */
void tr_queue_pool_free(struct tr_queue_pool *p);

/*
 * Jobs completed and attempts failed by this pool since it started.
 */
void tr_queue_pool_counts(const struct tr_queue_pool *p, long long *n_done,
                          long long *n_failed);

/* ---- metrics ---------------------------------------------------------- */

/*
 * Append Prometheus text to `out`: triage_queue_jobs{kind,state} (queued,
 * running and parked jobs of every tenant) and triage_queue_parked (all
 * parked jobs).  TR_E_TOOBIG when `out` is full.
 */
enum tr_err tr_queue_stats_prometheus(struct tr_db *db, struct tr_buf *out,
                                      struct tr_error *err);

#endif /* TR_QUEUE_H */
