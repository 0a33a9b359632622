/*
 * routes_inbox.c
 *      The group committer of the Zendesk inbox: webhook handlers hand
 *      their events here and sleep until a shared commit holds them.
 *
 * Handlers append an item to one pending list and wait on its done
 * flag.  Each committer thread takes up to batch_max pending items and
 * stores
 * them with one call of triage_zendesk_inbox_batch() (004_zendesk.sql),
 * which runs every item in its own subtransaction and enqueues its
 * ingest job.  That call is one autocommit statement, so the batch costs
 * one WAL flush.  Only after it returns does the committer set each
 * item's result and wake the handlers; a failed commit fails every item
 * of the batch, and none is acknowledged.
 *
 * When to commit: at once when no other commit is in flight, since
 * nothing would be gained by waiting and a lone delivery would pay the
 * wait in full.  While another commit is in flight, the batch waits for
 * it to return, at most batch_wait_us, taking in what arrives
 * meanwhile: the batch grows with the load and the commits do not queue
 * one behind the other for the WAL flush.
 *
 * Threads: submit from any thread; the committers are our own threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "zendesk.h"

#define MAX_COMMITTERS 16

/* One event waiting for its commit; lives on the submitter's stack. */
struct pending {
    const struct tr_zendesk_inbox_item *it;
    struct pending *next;
    bool done;
    enum tr_err rc;
    bool is_new;
    char sqlstate[16];
    char msg[160];
};

struct tr_zendesk_inbox {
    struct tr_db *db;
    struct tr_zendesk_route_opts o;
    pthread_mutex_t lock;
    pthread_cond_t work;        /* items arrived, or stopping */
    pthread_cond_t done;        /* a batch finished */
    struct pending *head, *tail;
    int n_pending;
    int n_busy;                 /* committers inside batch_commit() */
    bool stopping;
    pthread_t threads[MAX_COMMITTERS];
    int n_threads;
    atomic_llong n_commits;
    atomic_llong n_events;
    void *attached[8];          /* route contexts, freed with the inbox */
    void (*attached_free[8])(void *);
    int n_attached;
};

void
tr_zendesk__route_opts_fill(struct tr_zendesk_route_opts *o,
          const struct tr_zendesk_route_opts *in)
{
    if (in != NULL)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (o->body_limit <= 0)
        o->body_limit = 256 * 1024;
    if (o->window_s <= 0)
        o->window_s = TR_ZENDESK_WEBHOOK_WINDOW_S;
    if (o->batch_max <= 0)
        o->batch_max = 256;
    if (o->batch_wait_us < 0)
        o->batch_wait_us = 0;
    else if (o->batch_wait_us == 0)
        o->batch_wait_us = 1000;
    if (o->n_committers <= 0)
        o->n_committers = 2;
    if (o->n_committers > MAX_COMMITTERS)
        o->n_committers = MAX_COMMITTERS;
    if (o->tenant_cache_ms <= 0)
        o->tenant_cache_ms = 5000;
}

/* Absolute CLOCK_REALTIME deadline `us` microseconds from now. */
static struct timespec
deadline_in(long us)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (us % 1000000) * 1000;
    ts.tv_sec += us / 1000000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

/*
 * Wait for work and detach a batch.  Returns NULL when stopping with
 * nothing pending.  Called with the lock held.
 */
static struct pending *
batch_take(struct tr_zendesk_inbox *ib, int *n_out)
{
    struct pending *first, *p;
    struct timespec until;
    int n = 0;

    while (ib->head == NULL && !ib->stopping)
        pthread_cond_wait(&ib->work, &ib->lock);
    if (ib->head == NULL)
        return NULL;

    /*
     * While another commit is in flight, wait (at most batch_wait_us)
     * for it to return, so that handlers arriving meanwhile join this
     * batch; committer_main() signals `work` when a commit ends.
     */
    if (ib->n_pending < ib->o.batch_max && !ib->stopping &&
        ib->n_busy > 0 && ib->o.batch_wait_us > 0) {
        until = deadline_in(ib->o.batch_wait_us);
        while (ib->n_pending < ib->o.batch_max && !ib->stopping &&
               ib->n_busy > 0 &&
               pthread_cond_timedwait(&ib->work, &ib->lock, &until) == 0)
            ;
    }

    first = ib->head;
    for (p = first; p != NULL && n < ib->o.batch_max; p = p->next) {
        n++;
        if (n == ib->o.batch_max || p->next == NULL) {
            ib->head = p->next;
            p->next = NULL;
            break;
        }
    }
    if (ib->head == NULL)
        ib->tail = NULL;
    ib->n_pending -= n;
    *n_out = n;
    return first;
}

/* The JSON array argument of triage_zendesk_inbox_batch(). */
static enum tr_err
batch_json(struct pending *list, struct tr_buf *b)
{
    enum tr_err rc = tr_buf_puts(b, "[");

    for (struct pending *p = list; p != NULL && rc == TR_OK; p = p->next) {
        const struct tr_zendesk_inbox_item *it = p->it;

        tr_buf_printf(b, "%s{\"t\":%lld,\"k\":", p == list ? "" : ",",
                      (long long) it->tenant_id);
        tr_buf_json_str(b, it->dedup_key);
        tr_buf_puts(b, ",\"s\":");
        tr_buf_json_str(b, it->source != NULL ? it->source : "webhook");
        tr_buf_puts(b, ",\"p\":");
        tr_buf_puts(b, it->payload);
        rc = tr_buf_puts(b, "}");
    }
    if (rc == TR_OK)
        rc = tr_buf_puts(b, "]");
    return rc;
}

/* Give every item of the batch the same failure. */
static void
batch_fail_all(struct pending *list, enum tr_err code, const char *msg)
{
    for (struct pending *p = list; p != NULL; p = p->next) {
        p->rc = code;
        snprintf(p->msg, sizeof(p->msg), "%s", msg);
    }
}

/* Spread the per-item rows of the batch result over the items. */
static void
batch_results(struct pending *list, int n, struct tr_db_res *res)
{
    struct pending **byidx = calloc((size_t) n, sizeof(*byidx));
    int i = 0;

    if (byidx == NULL) {
        batch_fail_all(list, TR_E_NOMEM, "out of memory");
        return;
    }
    for (struct pending *p = list; p != NULL; p = p->next)
        byidx[i++] = p;
    /* Items with no row (cannot happen) stay failed. */
    batch_fail_all(list, TR_E_INTERNAL, "no result for event");

    for (int r = 0; r < tr_db_res_n_rows(res); r++) {
        int idx = atoi(tr_db_res_value(res, r, 0));
        const char *st = tr_db_res_value(res, r, 2);
        struct pending *p;

        if (idx < 0 || idx >= n || st == NULL)
            continue;
        p = byidx[idx];
        if (strcmp(st, "new") == 0 || strcmp(st, "dup") == 0) {
            p->rc = TR_OK;
            p->is_new = st[0] == 'n';
        } else {
            p->rc = TR_E_DB_QUERY;
            snprintf(p->sqlstate, sizeof(p->sqlstate), "%s",
                     strncmp(st, "error:", 6) == 0 ? st + 6 : st);
            snprintf(p->msg, sizeof(p->msg),
                     "could not store the event (sqlstate %s)", p->sqlstate);
        }
    }
    free(byidx);
}

static void batch_commit(struct tr_zendesk_inbox *ib, struct pending *list,
                         int n);

/* Commit every item of `list` as a batch of its own. */
static void
batch_split(struct tr_zendesk_inbox *ib, struct pending *list)
{
    struct pending *p = list, *next;

    while (p != NULL) {
        next = p->next;
        p->next = NULL;
        batch_commit(ib, p, 1);
        p->next = next;
        p = next;
    }
}

/* Store one batch; sets every item's result. */
static void
batch_commit(struct tr_zendesk_inbox *ib, struct pending *list, int n)
{
    struct tr_error err = {0};
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    const char *params[1];
    struct tr_buf b;
    enum tr_err rc;

    tr_buf_init(&b, (size_t) 64 * 1024 * 1024);
    rc = batch_json(list, &b);
    if (rc != TR_OK) {
        batch_fail_all(list, rc, "could not build the batch");
        goto out;
    }
    params[0] = b.data;

    rc = tr_db_conn_acquire(ib->db, &c, &err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT idx, inbox_id, status FROM "
                           "triage_zendesk_inbox_batch($1::jsonb)",
                        1, params, &res, &err);
    if (rc == TR_E_DB_QUERY && n > 1) {
        /* The batch as a whole was refused (one payload PostgreSQL will
         * not take as jsonb, say): store the items one by one so that
         * only the bad one fails. */
        tr_db_res_free(res);
        res = NULL;
        tr_db_conn_release(c);
        c = NULL;
        batch_split(ib, list);
        goto out;
    }
    if (rc != TR_OK) {
        /* A lost connection means the commit is in doubt or did not
         * happen; either way nobody is told "stored". */
        if (rc != TR_E_DB_QUERY)
            rc = TR_E_DB_CONNECT;
        batch_fail_all(list, rc, tr_error_msg(&err));
        TR_LOG_WARN("zendesk", "inbox_commit_failed",
                    TR_KVS(TR_KV_INT("n", n), TR_KV_STR("err",
                           tr_err_slug(err.code))),
                    "could not commit %d webhook events", n);
        goto out;
    }
    batch_results(list, n, res);
    atomic_fetch_add(&ib->n_commits, 1);
    atomic_fetch_add(&ib->n_events, n);

out:
    tr_db_res_free(res);
    tr_db_conn_release(c);
    tr_buf_cleanup(&b);
}

static void *
committer_main(void *arg)
{
    struct tr_zendesk_inbox *ib = arg;
    struct pending *list;
    int n = 0;

    pthread_mutex_lock(&ib->lock);
    while ((list = batch_take(ib, &n)) != NULL) {
        ib->n_busy++;
        pthread_mutex_unlock(&ib->lock);
        batch_commit(ib, list, n);

        /* Wake the submitters; `list` belongs to them once done is set. */
        pthread_mutex_lock(&ib->lock);
        ib->n_busy--;
        for (struct pending *p = list, *next; p != NULL; p = next) {
            next = p->next;
            p->done = true;
        }
        pthread_cond_broadcast(&ib->done);

        /* A committer holding a batch open for this commit may go now. */
        if (ib->head != NULL)
            pthread_cond_signal(&ib->work);
    }
    pthread_mutex_unlock(&ib->lock);
    return NULL;
}

enum tr_err
tr_zendesk_inbox_new(struct tr_db *db, const struct tr_zendesk_route_opts *o,
                     struct tr_zendesk_inbox **out, struct tr_error *err)
{
    struct tr_zendesk_inbox *ib = calloc(1, sizeof(*ib));

    if (ib == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    ib->db = db;
    tr_zendesk__route_opts_fill(&ib->o, o);
    pthread_mutex_init(&ib->lock, NULL);
    pthread_cond_init(&ib->work, NULL);
    pthread_cond_init(&ib->done, NULL);

    for (int i = 0; i < ib->o.n_committers; i++) {
        if (pthread_create(&ib->threads[i], NULL, committer_main, ib) != 0) {
            tr_zendesk_inbox_free(ib);
            return TR_ERROR(err, TR_E_INTERNAL,
                            "could not start a committer thread");
        }
        ib->n_threads++;
    }
    *out = ib;
    return TR_OK;
}

void
tr_zendesk_inbox_free(struct tr_zendesk_inbox *ib)
{
    if (ib == NULL)
        return;
    pthread_mutex_lock(&ib->lock);
    ib->stopping = true;
    pthread_cond_broadcast(&ib->work);
    pthread_mutex_unlock(&ib->lock);
    for (int i = 0; i < ib->n_threads; i++)
        pthread_join(ib->threads[i], NULL);

    for (int i = 0; i < ib->n_attached; i++)
        ib->attached_free[i](ib->attached[i]);
    pthread_cond_destroy(&ib->work);
    pthread_cond_destroy(&ib->done);
    pthread_mutex_destroy(&ib->lock);
    free(ib);
}

enum tr_err
tr_zendesk_inbox_submit(struct tr_zendesk_inbox *ib,
                        const struct tr_zendesk_inbox_item *it,
                        bool *is_new, struct tr_error *err)
{
    struct pending p = {.it = it, .rc = TR_E_INTERNAL};

    pthread_mutex_lock(&ib->lock);
    if (ib->stopping) {
        pthread_mutex_unlock(&ib->lock);
        return TR_ERROR(err, TR_E_AGAIN, "the inbox is stopping");
    }
    if (ib->tail != NULL)
        ib->tail->next = &p;
    else
        ib->head = &p;
    ib->tail = &p;
    ib->n_pending++;
    if (ib->n_pending == 1 || ib->n_pending >= ib->o.batch_max)
        pthread_cond_signal(&ib->work);

    while (!p.done)
        pthread_cond_wait(&ib->done, &ib->lock);
    pthread_mutex_unlock(&ib->lock);

    if (is_new != NULL)
        *is_new = p.is_new;
    if (p.rc != TR_OK) {
        TR_ERROR(err, p.rc, "%s", p.msg);
        if (p.sqlstate[0] != '\0')
            tr_error_foreign(err, p.sqlstate);
    }
    return p.rc;
}

void
tr_zendesk_inbox_counts(const struct tr_zendesk_inbox *ib,
                        long long *n_commits, long long *n_events)
{
    *n_commits = atomic_load(&ib->n_commits);
    *n_events = atomic_load(&ib->n_events);
}

struct tr_db *
tr_zendesk__inbox_db(struct tr_zendesk_inbox *ib)
{
    return ib->db;
}

void
tr_zendesk__inbox_attach(struct tr_zendesk_inbox *ib, void *obj,
                         void (*free_fn)(void *))
{
    /* More routes on one inbox than slots is a setup bug. */
    assert(ib->n_attached < 8);
    ib->attached[ib->n_attached] = obj;
    ib->attached_free[ib->n_attached] = free_fn;
    ib->n_attached++;
}
