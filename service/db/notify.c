/*
 * notify.c
 *      Wake-up notifications sent after commit, off the committing path.
 *
 * A transaction that calls NOTIFY takes a database-wide lock before its
 * commit record is written and keeps it until the commit is flushed, so
 * every notifying transaction waits for the disk flush of the one before
 * it: group commit stops working and durable writers serialize.  Our
 * notifications are only wake-ups (a listener that misses one finds the
 * work at its next poll), so they need not share the data's transaction.
 *
 * tr_db_notify() therefore only records the (channel, payload) pair in a
 * small set and signals one sender thread per struct tr_db.  The sender
 * owns a connection of its own with synchronous_commit off and sends each
 * pending pair once: a thousand enqueues during one send cost one more
 * NOTIFY, not a thousand.  The sender is started on first use and
 * stopped, after a last flush, by tr_db_close().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"

/* Give up on a notification after this many failed sends in a row. */
#define NOTIFY_MAX_FAILURES 3

struct tr_db__notifier {
    pthread_t thread;
    pthread_cond_t more;
    bool started;
    bool stopping;
    int n_pending;
    struct tr_db__note pending[TR_DB_NOTIFY_MAX];
};

/* Add (channel, payload) to `set` unless present; merge on overflow. */
static void
note_add(struct tr_db__note *set, int *n, const char *channel,
         const char *payload)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(set[i].channel, channel) == 0 &&
            strcmp(set[i].payload, payload) == 0)
            return;

    /* A full set keeps one entry per channel with no payload: listeners
     * are told that something happened, if not exactly what. */
    if (*n == TR_DB_NOTIFY_MAX) {
        for (int i = 0; i < *n; i++)
            if (strcmp(set[i].channel, channel) == 0) {
                set[i].payload[0] = '\0';
                return;
            }
        set[0].payload[0] = '\0';
        return;
    }
    snprintf(set[*n].channel, sizeof(set[*n].channel), "%s", channel);
    snprintf(set[*n].payload, sizeof(set[*n].payload), "%s", payload);
    (*n)++;
}

/* Open the sender's own connection, with asynchronous commits. */
static PGconn *
sender_connect(struct tr_db *db)
{
    struct tr_error err = {0};
    PGconn *pg = tr_db__connect(db->conninfo, &err);

    if (pg == NULL) {
        TR_LOG_WARN("db", "notify_connect_failed",
                    TR_KVS(TR_KV_STR("err", tr_error_msg(&err))),
                    "could not connect to send wake-ups");
        return NULL;
    }
    if (tr_db__simple(pg, "SET synchronous_commit = off", &err) != TR_OK) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* Send one notification; false when the connection must be replaced. */
static bool
send_one(PGconn *pg, const struct tr_db__note *note)
{
    const char *params[2] = {note->channel, note->payload};
    PGresult *res;
    bool ok;

    res = PQexecParams(pg, "SELECT pg_notify($1, $2)", 2, NULL, params,
                       NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    return ok;
}

static void *
sender_main(void *arg)
{
    struct tr_db *db = arg;
    struct tr_db__notifier *n = db->notifier;
    struct tr_db__note batch[TR_DB_NOTIFY_MAX];
    PGconn *pg = NULL;
    int n_batch, failures = 0;
    bool stop;

    for (;;) {
        pthread_mutex_lock(&db->lock);
        while (n->n_pending == 0 && !n->stopping)
            pthread_cond_wait(&n->more, &db->lock);
        n_batch = n->n_pending;
        memcpy(batch, n->pending, sizeof(batch[0]) * (size_t) n_batch);
        n->n_pending = 0;
        stop = n->stopping;
        pthread_mutex_unlock(&db->lock);

        for (int i = 0; i < n_batch; i++) {
            if (pg == NULL)
                pg = sender_connect(db);
            while (pg != NULL && !send_one(pg, &batch[i]) &&
                   ++failures < NOTIFY_MAX_FAILURES) {
                PQfinish(pg);
                pg = sender_connect(db);
            }
            failures = 0;
        }
        if (stop)
            break;
    }
    if (pg != NULL)
        PQfinish(pg);
    return NULL;
}

void
tr_db_notify(struct tr_db *db, const char *channel, const char *payload)
{
    struct tr_db__notifier *n;

    pthread_mutex_lock(&db->lock);
    n = db->notifier;
    if (n == NULL) {
        n = calloc(1, sizeof(*n));
        if (n == NULL) {
            pthread_mutex_unlock(&db->lock);
            return;             /* listeners will find the work by polling */
        }
        pthread_cond_init(&n->more, NULL);
        db->notifier = n;
    }
    if (!n->started && !n->stopping) {
        n->started = pthread_create(&n->thread, NULL, sender_main, db) == 0;
        if (!n->started)
            TR_LOG_WARN("db", "notify_thread_failed", NULL,
                        "could not start the wake-up sender");
    }
    if (!n->stopping) {
        note_add(n->pending, &n->n_pending, channel,
                 payload != NULL ? payload : "");
        pthread_cond_signal(&n->more);
    }
    pthread_mutex_unlock(&db->lock);
}

void
tr_db_conn_notify_on_commit(struct tr_db_conn *c, const char *channel,
                            const char *payload)
{
    note_add(c->notes, &c->n_notes, channel, payload != NULL ? payload : "");
}

void
tr_db__notes_flush(struct tr_db_conn *c, bool committed)
{
    if (committed)
        for (int i = 0; i < c->n_notes; i++)
            tr_db_notify(c->db, c->notes[i].channel, c->notes[i].payload);
    c->n_notes = 0;
}

void
tr_db__notifier_stop(struct tr_db *db)
{
    struct tr_db__notifier *n = db->notifier;

    if (n == NULL)
        return;
    pthread_mutex_lock(&db->lock);
    n->stopping = true;
    pthread_cond_signal(&n->more);
    pthread_mutex_unlock(&db->lock);

    /* The sender sends what is pending, then ends. */
    if (n->started)
        pthread_join(n->thread, NULL);
    pthread_cond_destroy(&n->more);
    free(n);
    db->notifier = NULL;
}
