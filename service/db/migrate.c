/*
 * migrate.c
 *      Applying the compiled-in schema migrations and telling whether the
 *      schema is current.
 *
 * Each migration runs in its own transaction as the connection's own user
 * (who thereby owns the schema), after pg_advisory_xact_lock on a fixed
 * key: a second process starting at the same moment waits, then sees the
 * version recorded in schema_migrations and skips it.  A failed migration
 * leaves nothing behind.  Any thread; serialised by the database.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"

/* Advisory lock key of migrations ("triage" in ASCII, as a number). */
#define MIGRATE_LOCK_KEY "127982780966757"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Apply migration `m` unless it is recorded; *applied says whether it
 * was.  The caller has begun a transaction on `c`.
 */
static enum tr_err
apply_one(struct tr_db_conn *c, const struct tr_db__migration *m,
          bool *applied, struct tr_error *err)
{
    char version[16], found[8];
    const char *params[2] = {version, m->name};
    enum tr_err rc;

    *applied = false;
    snprintf(version, sizeof(version), "%d", m->version);
    rc = tr_db_exec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
                    0, NULL, NULL, err);
    if (rc == TR_OK)
        rc = tr_db__simple(c->pg, create_table_sql, err);
    if (rc != TR_OK)
        return rc;

    rc = tr_db_query_value(c, "SELECT 1 FROM schema_migrations "
                              "WHERE version = $1",
                           1, params, found, sizeof(found), NULL, err);
    if (rc == TR_OK)
        return TR_OK;           /* someone applied it already */
    if (rc != TR_E_NOTFOUND)
        return rc;

    /* The file may hold many statements: the simple protocol runs them
     * all inside the open transaction.  It is constant text. */
    rc = tr_db__simple(c->pg, m->sql, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "INSERT INTO schema_migrations (version, name) "
                           "VALUES ($1, $2)", 2, params, NULL, err);
    *applied = rc == TR_OK;
    return rc;
}

enum tr_err
tr_db_migrate(struct tr_db *db, int *n_applied, struct tr_error *err)
{
    struct tr_db_conn *c = NULL;
    enum tr_err rc;
    bool applied;
    int n = 0;

    if (n_applied != NULL)
        *n_applied = 0;
    rc = tr_db_conn_owner(db, &c, err);
    if (rc != TR_OK)
        return rc;

    for (int i = 0; i < tr_db__n_migrations; i++) {
        const struct tr_db__migration *m = &tr_db__migrations[i];

        rc = tr_db_conn_begin(c, err);
        if (rc == TR_OK)
            rc = apply_one(c, m, &applied, err);
        if (rc == TR_OK)
            rc = tr_db_conn_commit(c, err);
        if (rc != TR_OK) {
            if (rc != TR_E_DB_CONNECT && err != NULL) {
                char msg[sizeof(err->msg)];

                snprintf(msg, sizeof(msg), "%s", err->msg);
                TR_ERROR(err, TR_E_DB_MIGRATE, "migration %03d_%s failed: %s",
                         m->version, m->name, msg);
                rc = TR_E_DB_MIGRATE;
            }
            goto out;
        }
        if (applied) {
            n++;
            TR_LOG_INFO("db", "migration_applied",
                        TR_KVS(TR_KV_INT("version", m->version),
                               TR_KV_STR("name", m->name)),
                        "applied migration %03d_%s", m->version, m->name);
        }
    }
    if (n_applied != NULL)
        *n_applied = n;

out:
    tr_db_conn_release(c);
    return rc;
}

int
tr_db_schema_latest(void)
{
    return tr_db__n_migrations > 0
               ? tr_db__migrations[tr_db__n_migrations - 1].version
               : 0;
}

enum tr_err
tr_db_schema_check(struct tr_db *db, struct tr_error *err)
{
    struct tr_db_conn *c;
    char count[24], latest[16];
    const char *params[1] = {latest};
    enum tr_err rc;

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc == TR_E_DB_NOTREADY)
        return TR_ERROR(err, TR_E_DB_NOTREADY,
                        "the database has no " TR_DB_APP_ROLE " role yet; "
                        "run triage db migrate");
    if (rc != TR_OK)
        return rc;

    /* Count the recorded versions up to ours: all present means current. */
    snprintf(latest, sizeof(latest), "%d", tr_db_schema_latest());
    rc = tr_db_query_value(c, "SELECT count(*) FROM schema_migrations "
                              "WHERE version <= $1",
                           1, params, count, sizeof(count), NULL, err);
    tr_db_conn_release(c);
    if (rc == TR_E_DB_CONNECT)
        return rc;
    if (rc != TR_OK || atoi(count) != tr_db__n_migrations)
        return TR_ERROR(err, TR_E_DB_NOTREADY,
                        "database schema is not current (%s of %d "
                        "migrations applied); run triage db migrate",
                        rc == TR_OK ? count : "none", tr_db__n_migrations);
    return TR_OK;
}
