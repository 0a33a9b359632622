/*
 * util.c
 *      Clocks, memory figures, latency percentiles and the thread runner
 *      of the search benchmark.
 *
 * Figures are printed as "key value" lines on stdout, the form the
 * report phase reads back.  bench_threads() starts plain POSIX threads;
 * each runs its share of the calls and nothing is shared between them
 * but the read-only index behind the workers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_search.h"

/* What one thread of bench_threads() runs. */
struct thread_job {
    bench_query_fn fn;
    void *worker;
    void (*init)(void);
    size_t first;
    size_t step;
    size_t n;
    double deadline;            /* bench_now() after which it stops */
    size_t done;
    int failed;
};

/* CLOCK_MONOTONIC: immune to clock steps during a long run. */
double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
bench_mem(long *rss_kb, long *hwm_kb)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    *rss_kb = 0;
    *hwm_kb = 0;
    if (f == NULL)
        return;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kb = atol(line + 6);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = atol(line + 6);
    }
    fclose(f);
}

void
bench_mem_print(const char *prefix)
{
    long rss, hwm;

    /* Freed build buffers would otherwise still count as resident. */
    malloc_trim(0);
    bench_mem(&rss, &hwm);
    printf("%s_rss_mb %.1f\n", prefix, (double) rss / 1024.0);
    printf("%s_hwm_mb %.1f\n", prefix, (double) hwm / 1024.0);
}

void
bench_mem_peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");

    /* "5" resets VmHWM to VmRSS (proc(5)); older kernels refuse it. */
    if (f == NULL)
        return;
    fputs("5", f);
    fclose(f);
}

/* Ascending order for qsort(); latencies are never NaN. */
static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

void
bench_latency_print(const char *prefix, double *lat, size_t n)
{
    double sum = 0;

    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    qsort(lat, n, sizeof(*lat), cmp_double);

    /* Nearest-rank percentiles. */
    printf("%s_p50_ms %.4f\n", prefix, lat[(n - 1) / 2] * 1e3);
    printf("%s_p99_ms %.4f\n", prefix, lat[(size_t) (0.99 * (n - 1))] * 1e3);
    printf("%s_mean_ms %.4f\n", prefix, sum / (double) n * 1e3);
    printf("%s_max_ms %.4f\n", prefix, lat[n - 1] * 1e3);
}

/*
 * One thread of bench_threads(): its share of the calls, stopping at
 * the first failure (which fails the whole run) or at the deadline.
 */
static void *
thread_main(void *arg)
{
    struct thread_job *j = arg;

    if (j->init != NULL)
        j->init();
    for (size_t i = j->first; i < j->n; i += j->step) {
        if (j->fn(j->worker, i) != 0) {
            j->failed = 1;
            break;
        }
        j->done++;

        /* A clock read costs tens of nanoseconds, a query far more. */
        if (bench_now() > j->deadline)
            break;
    }
    return NULL;
}

double
bench_threads(bench_query_fn fn, void **workers, int n_threads, size_t n,
              double budget_s, void (*init)(void), size_t *n_done)
{
    struct thread_job jobs[16];
    pthread_t tids[16];
    int started = 0, failed = 0;
    double t0;

    *n_done = 0;
    if (n_threads < 1 || n_threads > 16)
        return -1;
    t0 = bench_now();
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (struct thread_job) {fn, workers[t], init, (size_t) t,
                                       (size_t) n_threads, n,
                                       t0 + budget_s, 0, 0};
        if (pthread_create(&tids[t], NULL, thread_main, &jobs[t]) != 0)
            break;
        started++;
    }

    for (int t = 0; t < started; t++) {
        pthread_join(tids[t], NULL);
        failed |= jobs[t].failed;
        *n_done += jobs[t].done;
    }
    if (started < n_threads || failed)
        return -1;
    return bench_now() - t0;
}

void
bench_score(struct tr_eval_metrics *m, const struct tr_eval_query *q,
            const int64_t *ranked, size_t n_ranked)
{
    /* Chunk numbers of the collection are its document numbers. */
    tr_eval_metrics_add(m, ranked, n_ranked, q->rel, q->n_rel);
}
