/*
 * pool.c
 *      The worker pool: N threads that claim and run jobs, and one thread
 *      that listens for wake-ups and reclaims expired leases.
 *
 * Idle workers sleep on a condition variable until the listener thread
 * hears NOTIFY triage_jobs (a dedicated connection, poll() on its socket),
 * until the next delayed job is due, or at most opts.idle_ms: no tight
 * polling.  The listener thread also runs the reclaim of expired leases
 * every half lease (at most every idle_ms), so a job whose worker died
 * is taken up again soon after its lease ends.
 *
 * Stopping sets `stopping`: workers start no new job, give back one they
 * claimed but did not start, and running handlers get grace_ms to end.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue_int.h"

#define CLAIM_ARENA_BLOCK 16384

struct worker {
    struct tr_queue_pool *pool;
    pthread_t thread;
    char name[128];
    unsigned seed;
    const char *kinds[TR_QUEUE_MAX_HANDLERS];   /* kinds it claims */
    size_t n_kinds;
    bool started;
    bool joined;
};

struct tr_queue_pool {
    struct tr_db *db;
    struct tr_queue_opts o;
    atomic_bool stopping;
    atomic_llong n_done;
    atomic_llong n_failed;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned long wake_gen;     /* bumped by every wake-up */
    struct tr_db_listener *listener;
    pthread_t listen_thread;
    bool listen_started;
    bool listen_joined;
    struct worker *workers;
    int n_workers;
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wake_all(struct tr_queue_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->wake_gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

/* Sleep up to `ms` unless woken (NOTIFY, reclaim, stop) meanwhile. */
static void
sleep_until_woken(struct tr_queue_pool *p, unsigned long gen, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&p->lock);
    while (p->wake_gen == gen && !atomic_load(&p->stopping))
        if (pthread_cond_timedwait(&p->wake, &p->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&p->lock);
}

/* How long an idle worker may sleep: until the next delayed job. */
static int
idle_wait_ms(struct tr_queue_pool *p, const char *const *kinds,
             size_t n_kinds)
{
    char due[24], klist[16 + TR_QUEUE_MAX_HANDLERS * (TR_QUEUE_KIND_MAX + 1)];
    const char *params[1] = {klist};
    struct tr_db_conn *c;
    bool is_null = true;
    size_t len = 1;
    long long ms = p->o.idle_ms;

    strcpy(klist, "{");
    for (size_t i = 0; i < n_kinds; i++)
        len += (size_t) snprintf(klist + len, sizeof(klist) - len, "%s%s",
                                 i > 0 ? "," : "", kinds[i]);
    snprintf(klist + len, sizeof(klist) - len, "}");

    if (tr_db_conn_acquire(p->db, &c, NULL) != TR_OK)
        return p->o.idle_ms;
    if (tr_db_query_value(c, "SELECT triage_job_next_due($1)", 1, params,
                          due, sizeof(due), &is_null, NULL) == TR_OK &&
        !is_null && atoll(due) < ms)
        ms = atoll(due);
    tr_db_conn_release(c);
    return ms < 5 ? 5 : (int) ms;
}

/*
 * Record the end of a job whose handler succeeded and, unless the pool
 * is stopping, claim the next one into `next` in the same transaction.
 * True when `next` holds a job.
 */
static bool
finish_ok(struct worker *w, struct tr_queue_job *job, struct tr_arena *arena,
          struct tr_queue_job *next, struct tr_error *err)
{
    struct tr_queue_pool *p = w->pool;
    bool completed = false;
    enum tr_err rc;

    if (atomic_load(&p->stopping)) {
        rc = tr_queue_complete(p->db, job, err);
        completed = rc == TR_OK;
    } else {
        tr_arena_reset(arena);
        rc = tr_queue_complete_claim(p->db, &p->o, job, w->kinds,
                                     w->n_kinds, arena, next, &completed,
                                     err);
        if (rc == TR_OK || rc == TR_E_QUEUE_EMPTY) {
            if (!completed)
                TR_ERROR(err, TR_E_QUEUE_LEASE,
                         "job %lld is no longer leased to \"%s\"",
                         (long long) job->id, job->worker);
        }
    }
    if (completed)
        atomic_fetch_add(&p->n_done, 1);
    else if (rc == TR_OK || rc == TR_E_QUEUE_EMPTY)
        TR_LOG_ERROR("queue", "job_finish_failed",
                     TR_KVS(TR_KV_INT("job_id", job->id),
                            TR_KV_STR("err", tr_error_msg(err))),
                     "could not record the end of job %lld",
                     (long long) job->id);
    return rc == TR_OK;
}

/*
 * Run the handler of a claimed job, then complete or fail it.  True when
 * the completion also claimed the next job into `next` (its strings in
 * `arena`).
 */
static bool
run_job(struct worker *w, struct tr_queue_job *job, struct tr_arena *arena,
        struct tr_queue_job *next)
{
    struct tr_queue_pool *p = w->pool;
    struct tr_queue__handler h;
    struct tr_error herr = {0}, err = {0};
    enum tr_err rc;
    bool parked = false, claimed = false;

    job->stopping = &p->stopping;
    job->arena = NULL;
    if (!tr_queue__handler_find(job->kind, &h)) {
        rc = TR_ERROR(&herr, TR_E_INTERNAL, "no handler for job kind \"%s\"",
                      job->kind);
    } else {
        job->arena = tr_arena_new(h.arena_block);
        rc = job->arena == NULL
                 ? TR_ERROR(&herr, TR_E_NOMEM, "out of memory")
                 : h.fn(job, h.ud, &herr);
        tr_arena_free(job->arena);
        job->arena = NULL;
    }

    if (rc == TR_OK) {
        claimed = finish_ok(w, job, arena, next, &err);
        rc = TR_OK;
    } else {
        atomic_fetch_add(&p->n_failed, 1);
        rc = tr_queue_fail(p->db, &p->o, job, tr_error_msg(&herr), &w->seed,
                           &parked, &err);
        TR_LOG_WARN("queue", parked ? "job_parked" : "job_failed",
                    TR_KVS(TR_KV_INT("job_id", job->id),
                           TR_KV_STR("kind", job->kind),
                           TR_KV_INT("attempt", job->attempt),
                           TR_KV_STR("err", tr_error_msg(&herr))),
                    "job %lld failed", (long long) job->id);
    }
    if (rc != TR_OK)
        TR_LOG_ERROR("queue", "job_finish_failed",
                     TR_KVS(TR_KV_INT("job_id", job->id),
                            TR_KV_STR("err", tr_error_msg(&err))),
                     "could not record the end of job %lld",
                     (long long) job->id);
    return claimed;
}

/*
 * A worker claims a job, runs it, and completes it together with the
 * claim of the next one; it claims on its own only when it had nothing
 * in hand.  The two arenas take turns: the job in hand keeps its strings
 * in one while the next job's are copied into the other.
 */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct tr_queue_pool *p = w->pool;
    struct tr_arena *scratch[2];
    struct tr_queue_job job, next;
    struct tr_error err;
    unsigned long gen;
    enum tr_err rc;
    bool in_hand = false;
    int cur = 0;

    w->n_kinds = tr_queue__kinds(w->kinds, TR_QUEUE_MAX_HANDLERS);
    scratch[0] = tr_arena_new(CLAIM_ARENA_BLOCK);
    scratch[1] = tr_arena_new(CLAIM_ARENA_BLOCK);

    while (scratch[0] != NULL && scratch[1] != NULL &&
           !atomic_load(&p->stopping)) {
        if (!in_hand) {
            tr_arena_reset(scratch[cur]);
            pthread_mutex_lock(&p->lock);
            gen = p->wake_gen;
            pthread_mutex_unlock(&p->lock);

            rc = tr_queue_claim(p->db, &p->o, w->name, w->kinds, w->n_kinds,
                                scratch[cur], &job, &err);
            if (rc == TR_E_QUEUE_EMPTY) {
                sleep_until_woken(p, gen,
                                  idle_wait_ms(p, w->kinds, w->n_kinds));
                continue;
            }
            if (rc != TR_OK) {
                TR_LOG_ERROR("queue", "claim_failed",
                             TR_KVS(TR_KV_STR("err", tr_error_msg(&err))),
                             "could not claim a job");
                sleep_until_woken(p, gen, 1000);
                continue;
            }
        }

        /* Claimed while the pool began to stop: give it back unstarted. */
        if (atomic_load(&p->stopping)) {
            tr_queue_release(p->db, &job, NULL);
            break;
        }
        in_hand = run_job(w, &job, scratch[cur ^ 1], &next);
        if (in_hand) {
            job = next;
            cur ^= 1;
        }
    }
    tr_arena_free(scratch[0]);
    tr_arena_free(scratch[1]);
    return NULL;
}

static void *
listener_main(void *arg)
{
    struct tr_queue_pool *p = arg;
    long long next_reclaim = 0;
    int interval = p->o.lease_ms / 2, n;
    enum tr_err rc;

    if (interval > p->o.idle_ms)
        interval = p->o.idle_ms;
    if (interval < 50)
        interval = 50;

    while (!atomic_load(&p->stopping)) {
        if (now_ms() >= next_reclaim) {
            n = 0;
            if (tr_queue_reclaim(p->db, &p->o, &n, NULL) == TR_OK && n > 0) {
                TR_LOG_WARN("queue", "leases_reclaimed",
                            TR_KVS(TR_KV_INT("n", n)),
                            "queued %d jobs again after their lease ended",
                            n);
                wake_all(p);
            }
            next_reclaim = now_ms() + interval;
        }

        rc = tr_db_listener_wait(p->listener, interval, NULL);
        if (rc == TR_OK) {
            wake_all(p);
        } else if (rc == TR_E_DB_CONNECT) {
            /* Notifications may be lost: let workers look, then wait a
             * moment before reconnecting. */
            wake_all(p);
            usleep(200 * 1000);
        }
    }
    return NULL;
}

static enum tr_err
pool_check(const struct tr_queue_opts *o, struct tr_error *err)
{
    const char *kinds[1];

    if (o->n_workers < 1 || o->lease_ms < 1 || o->max_attempts < 1 ||
        o->backoff_base_ms < 1 || o->backoff_max_ms < 1 || o->idle_ms < 1)
        return TR_ERROR(err, TR_E_INVAL, "invalid queue options");
    if (tr_queue__kinds(kinds, 1) == 0)
        return TR_ERROR(err, TR_E_INVAL, "no job handler is registered");
    return TR_OK;
}

enum tr_err
tr_queue_pool_start(struct tr_db *db, const struct tr_queue_opts *o,
                    struct tr_queue_pool **out, struct tr_error *err)
{
    struct tr_queue_pool *p;
    char host[64] = "host";
    enum tr_err rc;

    *out = NULL;
    rc = pool_check(o, err);
    if (rc != TR_OK)
        return rc;
    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->workers = calloc((size_t) o->n_workers,
                                          sizeof(*p->workers))) == NULL) {
        free(p);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    p->db = db;
    p->o = *o;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);

    rc = tr_db_listener_new(db, TR_QUEUE_CHANNEL, &p->listener, err);
    if (rc != TR_OK)
        goto fail;
    if (pthread_create(&p->listen_thread, NULL, listener_main, p) != 0) {
        rc = TR_ERROR(err, TR_E_INTERNAL, "could not start a thread");
        goto fail;
    }
    p->listen_started = true;

    gethostname(host, sizeof(host) - 1);
    for (int i = 0; i < o->n_workers; i++) {
        struct worker *w = &p->workers[i];

        w->pool = p;
        w->seed = (unsigned) (getpid() * 7919 + i * 104729 + now_ms());
        snprintf(w->name, sizeof(w->name), "%s:%ld:%d", host,
                 (long) getpid(), i);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            rc = TR_ERROR(err, TR_E_INTERNAL, "could not start a thread");
            goto fail;
        }
        w->started = true;
        p->n_workers = i + 1;
    }
    *out = p;
    return TR_OK;

fail:
    tr_queue_pool_stop(p, NULL);
    tr_queue_pool_free(p);
    return rc;
}

enum tr_err
tr_queue_pool_stop(struct tr_queue_pool *p, struct tr_error *err)
{
    struct timespec deadline;
    int n_left = 0;

    atomic_store(&p->stopping, true);
    wake_all(p);
    if (p->listener != NULL)
        tr_db_listener_interrupt(p->listener);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += p->o.grace_ms / 1000;
    deadline.tv_nsec += (long) (p->o.grace_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    for (int i = 0; i < p->n_workers; i++) {
        struct worker *w = &p->workers[i];

        if (w->started && !w->joined &&
            pthread_timedjoin_np(w->thread, NULL, &deadline) == 0)
            w->joined = true;
        if (w->started && !w->joined)
            n_left++;
    }
    if (p->listen_started && !p->listen_joined &&
        pthread_timedjoin_np(p->listen_thread, NULL, &deadline) == 0)
        p->listen_joined = true;

    if (n_left > 0)
        return TR_ERROR(err, TR_E_TIMEOUT,
                        "%d job handlers still run after the grace period",
                        n_left);
    return TR_OK;
}

void
tr_queue_pool_free(struct tr_queue_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_workers; i++)
        if (p->workers[i].started && !p->workers[i].joined)
            pthread_join(p->workers[i].thread, NULL);
    if (p->listen_started && !p->listen_joined)
        pthread_join(p->listen_thread, NULL);
    tr_db_listener_free(p->listener);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
}

void
tr_queue_pool_counts(const struct tr_queue_pool *p, long long *n_done,
                     long long *n_failed)
{
    *n_done = atomic_load(&((struct tr_queue_pool *) p)->n_done);
    *n_failed = atomic_load(&((struct tr_queue_pool *) p)->n_failed);
}
