/*
 * scratch.c
 *      Tenants made for one offline run (the eval commands) and removed
 *      again with everything they own.
 *
 * An evaluation goes through the production code paths, so it needs a
 * real tenant; it must also leave nothing behind.  Rows of tenant tables
 * go with the tenant by cascade, except the ledger, which has no cascade
 * and whose trigger refuses every delete.  Removing a scratch tenant
 * lifts that refusal for its own transaction only: the ALTER TABLE takes
 * the ledger's exclusive lock, so no other connection ever sees the
 * trigger off, and ledger writers of other tenants wait a few
 * milliseconds.  Nothing else in the service deletes ledger rows.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "db.h"

enum tr_err
tr_db_scratch_tenant_create(struct tr_db *db, const char *purpose,
                            int64_t *tenant_id, struct tr_error *err)
{
    char name[96], id[24];
    const char *p[1] = {name};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(name, sizeof(name), "%s-%ld-%ld", purpose, (long) getpid(),
             (long) time(NULL));
    rc = tr_db_conn_owner(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "INSERT INTO tenants (name, webhook_secret) "
                              "VALUES ($1, md5(random()::text)) "
                              "RETURNING id", 1, p, id, sizeof(id), NULL,
                           err);
    tr_db_conn_release(c);
    if (rc == TR_OK)
        *tenant_id = strtoll(id, NULL, 10);
    return rc;
}

enum tr_err
tr_db_scratch_tenant_drop(struct tr_db *db, int64_t tenant_id,
                          struct tr_error *err)
{
    char id[24];
    const char *p[1] = {id};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(id, sizeof(id), "%lld", (long long) tenant_id);
    rc = tr_db_conn_owner(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_conn_begin(c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT set_config('triage.tenant_id', $1, "
                           "true)", 1, p, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "ALTER TABLE ledger DISABLE TRIGGER "
                           "ledger_no_update", 0, NULL, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "DELETE FROM ledger WHERE tenant_id = $1", 1, p,
                        NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "ALTER TABLE ledger ENABLE TRIGGER "
                           "ledger_no_update", 0, NULL, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "DELETE FROM tenants WHERE id = $1", 1, p, NULL,
                        err);
    if (rc == TR_OK)
        rc = tr_db_conn_commit(c, err);
    tr_db_conn_release(c);
    return rc;
}
