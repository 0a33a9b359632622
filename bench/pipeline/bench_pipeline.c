/*
 * bench_pipeline.c
 *      Tickets triaged per second by the whole pipeline with the
 *      extractive drafter, with the time share of each step, called
 *      directly from worker threads and through the job queue.
 *
 * bench_pipeline articles N [SEED]
 *      write N generated help-center articles as JSON Lines to stdout
 * bench_pipeline run TENANT [OPTIONS]
 *      insert generated tickets for tenant TENANT and triage them:
 *      --tickets N     tickets per phase (default 5000)
 *      --seconds S     longest a phase may run (default 30)
 *      --threads LIST  a direct phase per entry, e.g. 1,2 (default)
 *      --queue W       a phase through the job queue with W workers
 *                      (default 2; 0 for none)
 *      --seed X        of the ticket texts (default 1)
 *      --sample        sample what the pipeline's backends do (state
 *                      and wait event, every 5 ms) during each phase
 *
 * The database is the embedded cluster of TRIAGE_DATA_DIR, which must
 * have been migrated, with the tenant made and its knowledge base
 * indexed (bench/pipeline/run does all that).  A phase stops when its
 * tickets are done or its time is up, whichever comes first.  The main
 * thread prepares and reports; the phase's threads (or the queue's
 * pool) triage.  The log (one line per ticket, as in service) goes to
 * stderr.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_pipeline.h"
#include "conf.h"
#include "db.h"
#include "kb.h"
#include "log.h"
#include "pipeline.h"
#include "queue.h"

/* Tickets inserted per transaction while preparing a phase. */
#define INSERT_BATCH 250

/* Tickets triaged untimed first: the searcher, profiles and patterns
 * are loaded by the first runs. */
#define WARMUP_TICKETS 50

#define MAX_THREADS 16

/* Distinct backend states the sampler keeps apart. */
#define MAX_LABELS 24

static const char *const step_names[TR_PIPELINE_N_STEPS] = {
    "load", "language", "redaction", "retrieval", "routing", "decision",
    "draft", "grounding", "record",
};

static const char *const action_names[3] = {"escalate", "draft",
                                            "auto_send"};

struct opts {
    const char *tenant;
    int n_tickets;
    int seconds;
    int threads[8];
    int n_phases;
    int queue_workers;
    unsigned seed;
    int sample;
};

/* What the backends of the pool were doing, sampled during a phase. */
struct samples {
    long long n_sweeps;
    int n_labels;
    char label[MAX_LABELS][64];   /* "<state> <wait event or CPU>" */
    long long count[MAX_LABELS];
};

/* What one phase measured. */
struct phase {
    const char *mode;           /* "direct" or "queue" */
    int threads;
    int n;                      /* tickets prepared */
    long long n_done;
    long long n_failed;
    int64_t wall_ns;
    int64_t cpu_ns;             /* of this process */
    long long pg_ticks;         /* of the cluster */
    int64_t *lat_ns;            /* per ticket; -1 when not run */
    int64_t step_ns[TR_PIPELINE_N_STEPS];
    int64_t run_ns;             /* sum of lat_ns */
    long long actions[3];
    long long n_redacted;
    long long n_passages;
    struct samples smp;
};

/* The shared state of a direct phase's threads. */
struct direct {
    struct tr_pipeline *p;
    struct tr_db *db;
    int64_t tenant;
    const int64_t *ids;
    struct phase *ph;
    atomic_int next;
    int64_t deadline_ns;
    pthread_mutex_t lock;       /* guards the sums of `ph` */
};

static int64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/* ---- the cluster's CPU time ------------------------------------------ */

/* utime + stime (+ cutime + cstime with `reaped`) of `pid`, in ticks. */
static long long
proc_ticks(long pid, int reaped, long *ppid)
{
    char path[64], buf[1024];
    unsigned long long v[4];
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    /* Fields after the command, which may hold spaces: state ppid ...,
     * utime is the 14th field of the line. */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %ld %*s %*s %*s %*s %*s %*s %*s "
                                   "%*s %*s %llu %llu %llu %llu",
                            ppid, &v[0], &v[1], &v[2], &v[3]) != 5)
        return 0;
    return (long long) (v[0] + v[1] + (reaped ? v[2] + v[3] : 0));
}

/* The postmaster, the backends it has reaped and those that live. */
static long long
cluster_ticks(long pm)
{
    char path[64];
    long long t;
    long ppid = 0;
    FILE *d;

    if (pm <= 0)
        return 0;
    t = proc_ticks(pm, 1, &ppid);
    snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pm, pm);
    d = fopen(path, "r");
    if (d != NULL) {
        long child;

        while (fscanf(d, "%ld", &child) == 1)
            t += proc_ticks(child, 0, &ppid);
        fclose(d);
    }
    return t;
}

static long
postmaster_pid(const struct tr_conf *conf)
{
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info = {0};
    struct tr_error err = {0};

    if (tr_db_cluster_new(conf, 0, &cl, &err) != TR_OK)
        return 0;
    tr_db_cluster_status(cl, &info);
    tr_db_cluster_free(cl);
    return info.pid;
}

/* ---- the sampler ------------------------------------------------------ */

struct sampler {
    struct tr_db *db;
    struct samples *smp;
    atomic_bool stop;
};

static void
sample_add(struct samples *smp, const char *state, const char *wait)
{
    char label[64];
    int i;

    snprintf(label, sizeof(label), "%s %s", state, wait);
    for (i = 0; i < smp->n_labels; i++)
        if (strcmp(smp->label[i], label) == 0)
            break;
    if (i == smp->n_labels) {
        if (i == MAX_LABELS)
            i--;                /* the last slot takes the rest */
        else
            smp->n_labels++;
        snprintf(smp->label[i], sizeof(smp->label[i]), "%s", label);
    }
    smp->count[i]++;
}

/* Every 5 ms, the state and wait of each other non-idle client backend
 * of the cluster's superuser, which the pool logs in as before it takes
 * the application role.  The sampler's own connection is an owner's:
 * the application role may not see other connections' states.  Autocommit,
 * so each sweep sees a fresh view. */
static void *
sampler_main(void *arg)
{
    struct sampler *s = arg;
    struct tr_db_conn *c;
    struct tr_error err = {0};

    if (tr_db_conn_owner(s->db, &c, &err) != TR_OK) {
        fprintf(stderr, "sampler: %s\n", tr_error_msg(&err));
        return NULL;
    }
    while (!atomic_load(&s->stop)) {
        struct tr_db_res *res = NULL;

        if (tr_db_exec(c, "SELECT state, coalesce(wait_event_type || ':' "
                          "|| wait_event, 'CPU') FROM pg_stat_activity "
                          "WHERE usename = session_user AND pid <> "
                          "pg_backend_pid() AND state <> 'idle' AND "
                          "backend_type = 'client backend'",
                       0, NULL, &res, &err) != TR_OK)
            break;
        for (int i = 0; i < tr_db_res_n_rows(res); i++)
            sample_add(s->smp, tr_db_res_value(res, i, 0),
                       tr_db_res_value(res, i, 1));
        s->smp->n_sweeps++;
        tr_db_res_free(res);
        usleep(5000);
    }
    tr_db_conn_release(c);
    return NULL;
}

/* ---- tickets ---------------------------------------------------------- */

/* What went into the tickets of a phase. */
struct mix {
    int n_pii;                  /* tickets with personal data */
    int n_escalation;           /* with an escalation phrase */
    int n_en;                   /* in English */
};

/* Insert `n` generated tickets "<tag>-<i>" for `tenant` into `ids`;
 * `mix` (may be NULL) counts what they carry. */
static enum tr_err
tickets_insert(struct tr_db *db, int64_t tenant, struct bp_rng *rng,
               const char *tag, int n, int64_t *ids, struct mix *mix,
               struct tr_error *err)
{
    struct bp_str subject = {0}, body = {0};
    struct bp_ticket_kind kind;
    struct tr_db_conn *c = NULL;
    enum tr_err rc = TR_OK;
    char ext[64], id[24] = "";

    for (int i = 0; i < n && rc == TR_OK; i++) {
        const char *params[3] = {ext, NULL, NULL};

        if (c == NULL && (rc = tr_db_tx_begin(db, tenant, &c, err)) != TR_OK)
            break;
        bp_ticket_make(rng, i, &subject, &body, &kind);
        if (mix != NULL) {
            mix->n_pii += kind.n_pii > 0;
            mix->n_escalation += kind.escalation;
            mix->n_en += strcmp(kind.lang, "en") == 0;
        }
        snprintf(ext, sizeof(ext), "%s-%d", tag, i);
        params[1] = subject.buf;
        params[2] = body.buf;
        rc = tr_db_query_value(c, "INSERT INTO tickets (tenant_id, "
                                  "external_id, subject, description) "
                                  "VALUES (current_setting('triage."
                                  "tenant_id')::bigint, $1, $2, $3) "
                                  "RETURNING id", 3, params, id,
                               sizeof(id), NULL, err);
        ids[i] = strtoll(id, NULL, 10);
        if (rc == TR_OK && (i % INSERT_BATCH == INSERT_BATCH - 1 ||
                            i == n - 1)) {
            rc = tr_db_tx_commit(c, err);
            c = NULL;
        }
    }
    tr_db_tx_rollback(c);
    bp_str_free(&subject);
    bp_str_free(&body);
    return rc;
}

/* ---- the direct phase ------------------------------------------------- */

static int
action_index(const char *action)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(action, action_names[i]) == 0)
            return i;
    return 0;
}

static void *
direct_main(void *arg)
{
    struct direct *d = arg;
    struct phase sum = {0};
    struct tr_pipeline_result res;
    struct tr_error err = {0};
    int i;

    while ((i = atomic_fetch_add(&d->next, 1)) < d->ph->n &&
           now_ns() < d->deadline_ns) {
        int64_t t0 = now_ns();
        enum tr_err rc = tr_pipeline_run(d->p, d->db, d->tenant, d->ids[i],
                                         0, &res, &err);

        d->ph->lat_ns[i] = now_ns() - t0;
        if (rc != TR_OK) {
            if (sum.n_failed++ == 0)
                fprintf(stderr, "ticket %lld: %s\n", (long long) d->ids[i],
                        tr_error_msg(&err));
            continue;
        }
        sum.n_done++;
        sum.run_ns += d->ph->lat_ns[i];
        for (int s = 0; s < TR_PIPELINE_N_STEPS; s++)
            sum.step_ns[s] += res.step_ns[s];
        sum.actions[action_index(res.action)]++;
        sum.n_redacted += (long long) res.n_redacted;
        sum.n_passages += (long long) res.n_passages;
    }

    pthread_mutex_lock(&d->lock);
    d->ph->n_done += sum.n_done;
    d->ph->n_failed += sum.n_failed;
    d->ph->run_ns += sum.run_ns;
    for (int s = 0; s < TR_PIPELINE_N_STEPS; s++)
        d->ph->step_ns[s] += sum.step_ns[s];
    for (int a = 0; a < 3; a++)
        d->ph->actions[a] += sum.actions[a];
    d->ph->n_redacted += sum.n_redacted;
    d->ph->n_passages += sum.n_passages;
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* Triage `ph->n` tickets of `ids` with `ph->threads` threads. */
static void
phase_direct(struct tr_pipeline *p, struct tr_db *db, int64_t tenant,
             const int64_t *ids, int seconds, struct phase *ph)
{
    struct direct d = {p, db, tenant, ids, ph};
    pthread_t th[MAX_THREADS];

    atomic_init(&d.next, 0);
    pthread_mutex_init(&d.lock, NULL);
    d.deadline_ns = now_ns() + (int64_t) seconds * 1000000000;
    for (int i = 0; i < ph->threads; i++)
        pthread_create(&th[i], NULL, direct_main, &d);
    for (int i = 0; i < ph->threads; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&d.lock);
}

/* ---- the queue phase -------------------------------------------------- */

/* Enqueue one triage job per ticket, committed in batches. */
static enum tr_err
jobs_enqueue(struct tr_db *db, int64_t tenant, const int64_t *ids, int n,
             struct tr_error *err)
{
    struct tr_db_conn *c = NULL;
    enum tr_err rc = TR_OK;
    char payload[64];

    for (int i = 0; i < n && rc == TR_OK; i++) {
        if (c == NULL && (rc = tr_db_tx_begin(db, tenant, &c, err)) != TR_OK)
            break;
        snprintf(payload, sizeof(payload), "{\"ticket_id\": %lld}",
                 (long long) ids[i]);
        rc = tr_queue_enqueue(db, c, tenant, TR_PIPELINE_JOB, payload, 0,
                              NULL, err);
        if (rc == TR_OK && (i % INSERT_BATCH == INSERT_BATCH - 1 ||
                            i == n - 1)) {
            rc = tr_db_tx_commit(c, err);
            c = NULL;
        }
    }
    tr_db_tx_rollback(c);
    return rc;
}

/* The actions of the runs that jobs made, from triage_runs. */
static enum tr_err
queue_actions(struct tr_db *db, int64_t tenant, struct phase *ph,
              struct tr_error *err)
{
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    rc = tr_db_tx_begin(db, tenant, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT action, count(*) FROM triage_runs "
                       "WHERE job_id IS NOT NULL GROUP BY action",
                    0, NULL, &res, err);
    tr_db_tx_rollback(c);
    for (int i = 0; rc == TR_OK && i < tr_db_res_n_rows(res); i++)
        ph->actions[action_index(tr_db_res_value(res, i, 0))] =
            strtoll(tr_db_res_value(res, i, 1), NULL, 10);
    tr_db_res_free(res);
    return rc;
}

/* Run the queued jobs with a pool of `ph->threads` workers. */
static enum tr_err
phase_queue(struct tr_db *db, int seconds, struct phase *ph,
            struct tr_error *err)
{
    struct tr_queue_opts o = {
        .lease_ms = 120000, .max_attempts = 3, .backoff_base_ms = 1000,
        .backoff_max_ms = 60000, .idle_ms = 1000,
        .n_workers = ph->threads, .grace_ms = 5000,
    };
    struct tr_queue_pool *pool;
    int64_t deadline = now_ns() + (int64_t) seconds * 1000000000;
    enum tr_err rc;

    rc = tr_queue_pool_start(db, &o, &pool, err);
    if (rc != TR_OK)
        return rc;
    while (ph->n_done + ph->n_failed < ph->n && now_ns() < deadline) {
        usleep(2000);
        tr_queue_pool_counts(pool, &ph->n_done, &ph->n_failed);
    }
    tr_queue_pool_stop(pool, NULL);
    tr_queue_pool_counts(pool, &ph->n_done, &ph->n_failed);
    tr_queue_pool_free(pool);
    return TR_OK;
}

/* ---- the report ------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}

/* Percentile `q` (0..1) of the run latencies, in ms; -1 when none. */
static double
lat_ms(const struct phase *ph, double q)
{
    int64_t *v = malloc(sizeof(*v) * (size_t) (ph->n > 0 ? ph->n : 1));
    size_t m = 0;
    double out = -1;

    if (v == NULL)
        return -1;
    for (int i = 0; ph->lat_ns != NULL && i < ph->n; i++)
        if (ph->lat_ns[i] >= 0)
            v[m++] = ph->lat_ns[i];
    if (m > 0) {
        qsort(v, m, sizeof(*v), cmp_i64);
        out = (double) v[(size_t) (q * (double) (m - 1) + 0.5)] / 1e6;
    }
    free(v);
    return out;
}

static void
report_row(const struct phase *ph)
{
    double s = (double) ph->wall_ns / 1e9;
    double n = ph->n_done > 0 ? (double) ph->n_done : 1;
    long hz = sysconf(_SC_CLK_TCK);
    double cpu_ms = (double) ph->cpu_ns / 1e6 / n +
                    (double) ph->pg_ticks * 1000.0 / (double) hz / n;
    char p50[16] = "-", p99[16] = "-";

    if (ph->lat_ns != NULL) {
        snprintf(p50, sizeof(p50), "%.2f", lat_ms(ph, 0.50));
        snprintf(p99, sizeof(p99), "%.2f", lat_ms(ph, 0.99));
    }
    /* The last figure is the rate the machine's CPUs would allow if the
     * benchmark and the cluster had them to themselves. */
    printf("%-7s %7d %7lld %6lld %9.0f %7s %7s %9.3f %9.3f %9.0f  "
           "%lld/%lld/%lld\n", ph->mode, ph->threads, ph->n_done,
           ph->n_failed, (double) ph->n_done / s, p50, p99,
           (double) ph->cpu_ns / 1e6 / n,
           (double) ph->pg_ticks * 1000.0 / (double) hz / n,
           cpu_ms > 0 ? 1000.0 * (double) sysconf(_SC_NPROCESSORS_ONLN)
                            / cpu_ms : 0,
           ph->actions[0], ph->actions[1], ph->actions[2]);
}

/* The step shares of the direct phases, one column pair each. */
static void
report_steps(const struct phase *ph, int n_ph)
{
    printf("\n%-10s", "step");
    for (int j = 0; j < n_ph; j++)
        printf("   %2d thr: ms/ticket share", ph[j].threads);
    printf("\n");
    for (int s = 0; s <= TR_PIPELINE_N_STEPS; s++) {
        printf("%-10s", s < TR_PIPELINE_N_STEPS ? step_names[s] : "other");
        for (int j = 0; j < n_ph; j++) {
            double n = ph[j].n_done > 0 ? (double) ph[j].n_done : 1;
            int64_t v = ph[j].run_ns;

            if (s < TR_PIPELINE_N_STEPS) {
                v = ph[j].step_ns[s];
            } else {
                for (int k = 0; k < TR_PIPELINE_N_STEPS; k++)
                    v -= ph[j].step_ns[k];
            }
            printf("   %16.3f %4.1f %%", (double) v / 1e6 / n,
                   ph[j].run_ns > 0 ? 100.0 * (double) v
                                          / (double) ph[j].run_ns : 0);
        }
        printf("\n");
    }
}

/* ---- the run ---------------------------------------------------------- */

/* Measure one phase: prepare its tickets, then time what it does. */
static enum tr_err
phase_run(struct tr_pipeline *p, struct tr_db *db, int64_t tenant,
          long pm, const struct opts *o, struct phase *ph,
          struct tr_error *err)
{
    struct sampler smp;
    struct mix mix = {0};
    pthread_t smp_th;
    struct bp_rng rng;
    char tag[32];
    int64_t *ids, t0, c0, e0;
    long long g0;
    enum tr_err rc;

    ids = malloc(sizeof(*ids) * (size_t) ph->n);
    if (ids == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    snprintf(tag, sizeof(tag), "%s%d-%lld", ph->mode, ph->threads,
             (long long) now_ns());
    bp_rng_seed(&rng, o->seed);
    e0 = now_ns();
    rc = tickets_insert(db, tenant, &rng, tag, ph->n, ids, &mix, err);
    if (rc == TR_OK && strcmp(ph->mode, "queue") == 0)
        rc = jobs_enqueue(db, tenant, ids, ph->n, err);
    if (rc != TR_OK)
        goto out;
    fprintf(stderr, "%s %d: %d tickets%s ready in %.1f s (%d with "
            "personal data, %d with an escalation phrase, %d in English)\n",
            ph->mode, ph->threads, ph->n,
            strcmp(ph->mode, "queue") == 0 ? " and jobs" : "",
            (double) (now_ns() - e0) / 1e9, mix.n_pii, mix.n_escalation,
            mix.n_en);

    smp.db = db;
    smp.smp = &ph->smp;
    atomic_init(&smp.stop, false);
    if (o->sample)
        pthread_create(&smp_th, NULL, sampler_main, &smp);
    t0 = now_ns();
    c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    g0 = cluster_ticks(pm);
    if (strcmp(ph->mode, "queue") == 0) {
        rc = phase_queue(db, o->seconds, ph, err);
    } else {
        phase_direct(p, db, tenant, ids, o->seconds, ph);
    }
    ph->wall_ns = now_ns() - t0;
    ph->cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    ph->pg_ticks = cluster_ticks(pm) - g0;
    if (o->sample) {
        atomic_store(&smp.stop, true);
        pthread_join(smp_th, NULL);
    }
    if (rc == TR_OK && strcmp(ph->mode, "queue") == 0)
        rc = queue_actions(db, tenant, ph, err);

out:
    free(ids);
    return rc;
}

/* Untimed runs that load what the first tickets would otherwise pay. */
static enum tr_err
warm_up(struct tr_pipeline *p, struct tr_db *db, int64_t tenant,
        const struct opts *o, struct tr_error *err)
{
    int64_t ids[WARMUP_TICKETS];
    struct tr_pipeline_result res;
    struct bp_rng rng;
    char tag[32];
    enum tr_err rc;

    bp_rng_seed(&rng, o->seed + 1000);
    snprintf(tag, sizeof(tag), "warm-%lld", (long long) now_ns());
    rc = tickets_insert(db, tenant, &rng, tag, WARMUP_TICKETS, ids, NULL,
                        err);
    for (int i = 0; rc == TR_OK && i < WARMUP_TICKETS; i++)
        rc = tr_pipeline_run(p, db, tenant, ids[i], 0, &res, err);
    return rc;
}

/* The sampled backend states of each phase: busy backends on average. */
static void
report_samples(const struct phase *ph, int n_ph)
{
    printf("\nbackends of the pool, sampled every 5 ms: average number in "
           "each state (0.01 and more)\n");
    for (int j = 0; j < n_ph; j++) {
        const struct samples *m = &ph[j].smp;
        double n = m->n_sweeps > 0 ? (double) m->n_sweeps : 1;

        printf("%s %d thr (%lld sweeps):\n", ph[j].mode, ph[j].threads,
               m->n_sweeps);
        for (int i = 0; i < m->n_labels; i++)
            if ((double) m->count[i] / n >= 0.005)
                printf("  %-44s %5.2f\n", m->label[i],
                       (double) m->count[i] / n);
    }
}

static void
report(const struct opts *o, struct phase *ph, int n_ph)
{
    int n_direct = 0;

    printf("pipeline: extractive drafter, %d tickets per phase (at most "
           "%d s), %ld CPUs\n", o->n_tickets, o->seconds,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-7s %7s %7s %6s %9s %7s %7s %9s %9s %9s  %s\n", "mode",
           "threads", "tickets", "failed", "tickets/s", "p50_ms", "p99_ms",
           "cpu_bench", "cpu_pg", "cpu_bound", "escalate/draft/auto_send");
    printf("%-7s %7s %7s %6s %9s %7s %7s %9s %9s %9s\n", "", "", "", "",
           "", "", "", "ms/ticket", "ms/ticket", "tickets/s");
    for (int i = 0; i < n_ph; i++) {
        report_row(&ph[i]);
        if (ph[i].lat_ns != NULL)
            n_direct++;
    }
    if (n_direct > 0) {
        report_steps(ph, n_direct);
        printf("(direct %d thr: %.2f placeholders and %.2f passages per "
               "ticket)\n", ph[0].threads,
               (double) ph[0].n_redacted
                   / (double) (ph[0].n_done > 0 ? ph[0].n_done : 1),
               (double) ph[0].n_passages
                   / (double) (ph[0].n_done > 0 ? ph[0].n_done : 1));
    }
    if (o->sample)
        report_samples(ph, n_ph);
}

static int
opts_parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.n_tickets = 5000, .seconds = 30, .threads = {1, 2},
                       .n_phases = 2, .queue_workers = 2, .seed = 1};
    if (argc < 3)
        return -1;
    o->tenant = argv[2];
    for (int i = 3; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

        if (strcmp(k, "--tickets") == 0) {
            o->n_tickets = atoi(v);
        } else if (strcmp(k, "--seconds") == 0) {
            o->seconds = atoi(v);
        } else if (strcmp(k, "--queue") == 0) {
            o->queue_workers = atoi(v);
        } else if (strcmp(k, "--seed") == 0) {
            o->seed = (unsigned) strtoul(v, NULL, 10);
        } else if (strcmp(k, "--sample") == 0) {
            o->sample = 1;
            i--;                /* takes no value */
        } else if (strcmp(k, "--threads") == 0) {
            char *end;

            o->n_phases = 0;
            for (const char *s = v; *s != '\0' && o->n_phases < 8;
                 s = *end == ',' ? end + 1 : end) {
                o->threads[o->n_phases++] = (int) strtol(s, &end, 10);
                if (end == s)
                    return -1;
            }
        } else {
            return -1;
        }
    }
    if (o->n_tickets < 1 || o->n_tickets > 1000000 ||
        o->seconds < 1 || o->queue_workers < 0 ||
        o->queue_workers > MAX_THREADS)
        return -1;
    for (int i = 0; i < o->n_phases; i++)
        if (o->threads[i] < 1 || o->threads[i] > MAX_THREADS)
            return -1;
    return 0;
}

/* Open the database and the pipeline, run the phases, report. */
static int
cmd_run(const struct opts *o)
{
    struct tr_pipeline_opts po = {0};
    struct tr_pipeline *p = NULL;
    struct tr_db *db = NULL;
    struct tr_conf conf;
    struct tr_error err = {0};
    struct phase ph[9] = {{0}};
    int64_t tenant = 0;
    int n_ph = 0;
    long pm;
    enum tr_err rc;

    tr_conf_defaults(&conf);
    rc = tr_conf_load_env(&conf, &err);
    if (rc == TR_OK)
        rc = tr_db_open(&conf, MAX_THREADS + 4, &db, &err);
    if (rc == TR_OK)
        rc = tr_kb_tenant_find(db, o->tenant, &tenant, &err);
    po.drafter = TR_PIPELINE_EXTRACTIVE;
    po.k = conf.retrieval_k;
    po.fallback_extractive = true;
    if (rc == TR_OK)
        rc = tr_pipeline_new(&po, &p, &err);
    if (rc == TR_OK)
        rc = tr_pipeline_jobs_register(p, &err);
    if (rc == TR_OK)
        rc = warm_up(p, db, tenant, o, &err);
    pm = postmaster_pid(&conf);

    for (int i = 0; rc == TR_OK && i <= o->n_phases; i++) {
        struct phase *f = &ph[n_ph];

        if (i == o->n_phases && o->queue_workers == 0)
            break;
        f->mode = i < o->n_phases ? "direct" : "queue";
        f->threads = i < o->n_phases ? o->threads[i] : o->queue_workers;
        f->n = o->n_tickets;
        if (i < o->n_phases) {
            f->lat_ns = malloc(sizeof(*f->lat_ns) * (size_t) f->n);
            if (f->lat_ns == NULL) {
                rc = TR_ERROR(&err, TR_E_NOMEM, "out of memory");
                break;
            }
            for (int j = 0; j < f->n; j++)
                f->lat_ns[j] = -1;
        }
        n_ph++;
        rc = phase_run(p, db, tenant, pm, o, f, &err);
    }
    if (rc == TR_OK)
        report(o, ph, n_ph);
    else
        fprintf(stderr, "bench_pipeline run: %s\n", tr_error_msg(&err));

    for (int i = 0; i < n_ph; i++)
        free(ph[i].lat_ns);
    tr_pipeline_free(p);
    tr_kb_cache_drop(db);
    tr_db_close(db, false);
    return rc == TR_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct opts o;

    tr_log_init(TR_LOG_INFO, TR_LOG_FORMAT_JSON, 2);
    if (argc >= 3 && strcmp(argv[1], "articles") == 0) {
        int n = atoi(argv[2]);

        if (n < 1 || n > 100000) {
            fprintf(stderr, "bench_pipeline articles: N is 1 to 100000\n");
            return 2;
        }
        bp_articles_write(stdout, n, argc > 3 ? strtoull(argv[3], NULL, 10)
                                              : 1);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "run") == 0 &&
        opts_parse(argc, argv, &o) == 0)
        return cmd_run(&o);
    fprintf(stderr, "usage: bench_pipeline articles N [SEED]\n"
                    "       bench_pipeline run TENANT [--tickets N] "
                    "[--seconds S] [--threads 1,2] [--queue W] "
                    "[--seed X] [--sample]\n");
    return 2;
}
