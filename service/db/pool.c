/*
 * pool.c
 *      The database environment and its connection pool, with tenant
 *      scoped transactions.
 *
 * Connections are opened lazily up to max_open and kept on an idle stack.
 * A pooled connection works as triage_app from the moment it is made
 * (SET ROLE right after connecting), so nothing that borrows it can read
 * past row-level security.  A connection that comes back inside a
 * transaction is rolled back; one that lost its server is closed.  The
 * pool's mutex guards the idle stack and the count; libpq calls happen
 * outside it.  Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_int.h"
#include "log.h"

#define ACQUIRE_WAIT_S 30

/* Server notices ("relation exists, skipping") go to the debug log, not
 * to stderr as libpq would print them. */
static void
notice_to_log(void *arg, const char *message)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "%s", message);
    msg[strcspn(msg, "\n")] = '\0';
    TR_LOG_DEBUG("db", "server_notice", NULL, "%s", msg);
}

PGconn *
tr_db__connect(const char *conninfo, struct tr_error *err)
{
    PGconn *pg = PQconnectdb(conninfo);
    char msg[400];

    if (pg != NULL && PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, notice_to_log, NULL);
        return pg;
    }

    /* libpq's message never includes the password. */
    snprintf(msg, sizeof(msg), "%s",
             pg != NULL ? PQerrorMessage(pg) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    TR_ERROR(err, TR_E_DB_CONNECT, "could not connect to the database: %s",
             msg);
    PQfinish(pg);
    return NULL;
}

enum tr_err
tr_db_open(const struct tr_conf *conf, int pool_size, struct tr_db **out,
           struct tr_error *err)
{
    struct tr_db *db;
    PGconn *pg;
    enum tr_err rc;

    *out = NULL;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->freed, NULL);
    db->max_open = pool_size > 0 ? pool_size
                                 : conf->http_threads + conf->workers + 4;

    if (conf->database_url[0] != '\0') {
        snprintf(db->conninfo, sizeof(db->conninfo), "%s",
                 conf->database_url);
    } else {
        rc = tr_db_cluster_new(conf, 0, &db->cluster, err);
        if (rc == TR_OK)
            rc = tr_db_cluster_start(db->cluster, err);
        if (rc != TR_OK)
            goto fail;
        tr_db_cluster_conninfo(db->cluster, NULL, db->conninfo,
                               sizeof(db->conninfo));
    }
    tr_conf_mask_url(db->conninfo, db->masked, sizeof(db->masked));

    /* Fail at open, not at the first request, when the server is away. */
    pg = tr_db__connect(db->conninfo, err);
    if (pg == NULL) {
        rc = TR_E_DB_CONNECT;
        goto fail;
    }
    PQfinish(pg);
    *out = db;
    return TR_OK;

fail:
    tr_db_close(db, false);
    return rc;
}

void
tr_db_close(struct tr_db *db, bool stop_cluster)
{
    struct tr_db_conn *c;

    if (db == NULL)
        return;
    tr_db__notifier_stop(db);
    while ((c = db->idle) != NULL) {
        db->idle = c->next;
        PQfinish(c->pg);
        free(c);
    }
    if (stop_cluster && tr_db_cluster_started_here(db->cluster))
        tr_db_cluster_stop(db->cluster, NULL);
    tr_db_cluster_free(db->cluster);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

bool
tr_db_started_cluster(const struct tr_db *db)
{
    return db != NULL && tr_db_cluster_started_here(db->cluster);
}

const char *
tr_db_url_masked(const struct tr_db *db)
{
    return db->masked;
}

/* Open one connection; `app` switches it to the application role. */
static enum tr_err
conn_new(struct tr_db *db, bool app, struct tr_db_conn **out,
         struct tr_error *err)
{
    struct tr_db_conn *c;
    enum tr_err rc;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    c->db = db;
    c->pooled = app;
    c->pg = tr_db__connect(db->conninfo, err);
    if (c->pg == NULL) {
        free(c);
        return TR_E_DB_CONNECT;
    }
    if (app) {
        rc = tr_db__simple(c->pg, "SET ROLE " TR_DB_APP_ROLE, err);
        if (rc != TR_OK) {
            PQfinish(c->pg);
            free(c);
            return rc == TR_E_DB_CONNECT ? rc : TR_E_DB_NOTREADY;
        }
    }
    *out = c;
    return TR_OK;
}

/* Take an idle connection or a free slot, waiting while none is left. */
static enum tr_err
pool_take(struct tr_db *db, struct tr_db_conn **out, struct tr_error *err)
{
    struct timespec deadline;
    int wrc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ACQUIRE_WAIT_S;

    *out = NULL;
    pthread_mutex_lock(&db->lock);
    while (db->idle == NULL && db->n_open >= db->max_open && wrc == 0)
        wrc = pthread_cond_timedwait(&db->freed, &db->lock, &deadline);
    if (db->idle != NULL) {
        *out = db->idle;
        db->idle = (*out)->next;
    } else if (db->n_open < db->max_open) {
        db->n_open++;           /* slot reserved; connect outside the lock */
    } else {
        pthread_mutex_unlock(&db->lock);
        return TR_ERROR(err, TR_E_AGAIN,
                        "all %d database connections stay busy",
                        db->max_open);
    }
    pthread_mutex_unlock(&db->lock);
    return TR_OK;
}

static void
pool_forget(struct tr_db *db)
{
    pthread_mutex_lock(&db->lock);
    db->n_open--;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

enum tr_err
tr_db_conn_acquire(struct tr_db *db, struct tr_db_conn **out,
                   struct tr_error *err)
{
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = pool_take(db, &c, err);
    if (rc != TR_OK)
        return rc;

    /* An idle connection whose server went away is replaced once. */
    if (c != NULL && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        free(c);
        c = NULL;
    }
    if (c == NULL) {
        rc = conn_new(db, true, &c, err);
        if (rc != TR_OK) {
            pool_forget(db);
            return rc;
        }
    }
    c->next = NULL;
    *out = c;
    return TR_OK;
}

enum tr_err
tr_db_conn_owner(struct tr_db *db, struct tr_db_conn **out,
                 struct tr_error *err)
{
    return conn_new(db, false, out, err);
}

void
tr_db_conn_release(struct tr_db_conn *c)
{
    struct tr_db *db;

    if (c == NULL)
        return;
    db = c->db;

    /* Never hand on a transaction, or a tenant setting with it. */
    tr_db__notes_flush(c, false);
    if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE &&
        tr_db__simple(c->pg, "ROLLBACK", NULL) != TR_OK)
        c->broken = true;
    if (PQstatus(c->pg) != CONNECTION_OK)
        c->broken = true;

    if (!c->pooled || c->broken) {
        bool pooled = c->pooled;

        PQfinish(c->pg);
        free(c);
        if (pooled)
            pool_forget(db);
        return;
    }
    pthread_mutex_lock(&db->lock);
    c->next = db->idle;
    db->idle = c;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

enum tr_err
tr_db_tx_begin(struct tr_db *db, int64_t tenant_id, struct tr_db_conn **out,
               struct tr_error *err)
{
    char tenant[24];
    const char *params[1] = {tenant};
    struct tr_db_conn *c;
    enum tr_err rc;

    *out = NULL;
    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;

    /* An empty setting matches no row; "0" would name no tenant either. */
    if (tenant_id > 0)
        snprintf(tenant, sizeof(tenant), "%" PRId64, tenant_id);
    else
        tenant[0] = '\0';
    rc = tr_db__simple(c->pg, "BEGIN", err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT set_config('triage.tenant_id', $1, true)",
                        1, params, NULL, err);
    if (rc != TR_OK) {
        tr_db_conn_release(c);
        return rc;
    }
    *out = c;
    return TR_OK;
}

enum tr_err
tr_db_conn_begin(struct tr_db_conn *c, struct tr_error *err)
{
    return tr_db__simple(c->pg, "BEGIN", err);
}

enum tr_err
tr_db_conn_commit(struct tr_db_conn *c, struct tr_error *err)
{
    PGresult *res;
    enum tr_err rc = TR_OK;

    /* COMMIT of a transaction that already failed answers "ROLLBACK"
     * with success status: that is a failure for the caller. */
    res = PQexec(c->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = tr_db__fail(c, c->pg, res, "could not commit", err);
    else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = TR_ERROR(err, TR_E_DB_QUERY,
                      "transaction was rolled back after an earlier error");
    PQclear(res);
    tr_db__notes_flush(c, rc == TR_OK);

    if (rc != TR_OK && !c->broken &&
        PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        tr_db__simple(c->pg, "ROLLBACK", NULL);
    return rc;
}

enum tr_err
tr_db_tx_commit(struct tr_db_conn *c, struct tr_error *err)
{
    enum tr_err rc = tr_db_conn_commit(c, err);

    tr_db_conn_release(c);
    return rc;
}

void
tr_db_tx_rollback(struct tr_db_conn *c)
{
    tr_db_conn_release(c);
}
