/*
 * db.h
 *      The PostgreSQL layer: embedded cluster, connection pool, tenant
 *      scoped transactions, parameterised queries, LISTEN/NOTIFY and
 *      schema migrations.
 *
 * A struct tr_db is the database environment of one process: where the
 * server is (the embedded cluster under <data_dir>/pg, or the external
 * conf.database_url), a pool of connections that work as the role
 * triage_app (which owns no table and cannot bypass row-level security),
 * and the migrations compiled into the binary.  No libpq type appears
 * here; results are the opaque struct tr_db_res.
 *
 * Tenant scoping: tr_db_tx_begin() opens a transaction and sets the
 * transaction-local setting triage.tenant_id, which every row-level
 * security policy compares with the row's tenant_id.  Outside such a
 * transaction no tenant-owned row is visible.
 *
 * Threads: a struct tr_db may be shared by any number of threads; one
 * struct tr_db_conn, struct tr_db_res or struct tr_db_listener is used by
 * one thread at a time.  Cluster functions run on the main thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_DB_H
#define TR_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"

/* The role the pool works as; created by the first migration. */
#define TR_DB_APP_ROLE "triage_app"
/* The database and superuser of the embedded cluster. */
#define TR_DB_EMBEDDED_NAME "triage"

struct tr_db;
struct tr_db_conn;
struct tr_db_res;
struct tr_db_cluster;
struct tr_db_listener;

/* ---- embedded cluster ------------------------------------------------ */

/* Test-only start flag: fsync and synchronous_commit off.  Never used by
 * the service, which always runs with both on. */
#define TR_DB_CLUSTER_NO_FSYNC 0x1

struct tr_db_cluster_info {
    bool initialised;           /* initdb has run */
    bool running;               /* a postmaster holds the data dir */
    long pid;                   /* its pid, 0 when not running */
    char data_dir[1100];        /* <data_dir>/pg/data */
    char sock_dir[1100];        /* where its Unix socket lives */
    bool sock_in_tmp;           /* the data dir path was too long */
};

/*
 * Describe the embedded cluster of `conf->data_dir` (made absolute) and
 * check that the PostgreSQL programs exist in conf->pg_bin_dir.  Starts
 * nothing.  `flags` is 0 or TR_DB_CLUSTER_NO_FSYNC.  On success the
 * caller owns *out and frees it with tr_db_cluster_free().
 * Returns TR_E_DB_CLUSTER (with "install postgresql-15 ..." when the
 * programs are missing), TR_E_NOMEM.
 */
enum tr_err tr_db_cluster_new(const struct tr_conf *conf, unsigned flags,
                              struct tr_db_cluster **out,
                              struct tr_error *err);

/*
 * Make sure the cluster runs: create it on first use (initdb as
 * conf->pg_user when we are root), then start it unless a postmaster
 * already serves the data dir, in which case it is reused.  Two processes
 * starting together are serialised by a lock file.  Also creates the
 * database "triage".  Returns TR_E_DB_CLUSTER with the reason (data dir
 * owned by another user, start failure naming the server log) or TR_OK.
 */
enum tr_err tr_db_cluster_start(struct tr_db_cluster *cl,
                                struct tr_error *err);

/*
 * Stop the cluster (fast shutdown: SIGINT to the postmaster's pid, then
 * wait for it to exit, at most 60 s), whoever started it.  TR_OK also
 * when it was not running; TR_E_TIMEOUT when it did not stop.
 */
enum tr_err tr_db_cluster_stop(struct tr_db_cluster *cl,
                               struct tr_error *err);

/*
 * Fill `info` with the cluster's state as found on disk now.
 */
void tr_db_cluster_status(const struct tr_db_cluster *cl,
                          struct tr_db_cluster_info *info);

/*
 * True when tr_db_cluster_start() of this object started the postmaster
 * (false when it reused a running one).
 */
bool tr_db_cluster_started_here(const struct tr_db_cluster *cl);

/*
 * The libpq connection string of database `dbname` (NULL for "triage")
 * as the cluster's superuser, written to `buf`.  Returns `buf`.
 */
const char *tr_db_cluster_conninfo(const struct tr_db_cluster *cl,
                                   const char *dbname, char *buf,
                                   size_t buf_len);

/*
 * Free the object; never stops the cluster.  NULL is a no-op.
 */
void tr_db_cluster_free(struct tr_db_cluster *cl);

/* ---- environment ------------------------------------------------------ */

/*
 * Open the database environment for `conf`: with conf->database_url set,
 * use it and start nothing; otherwise start or reuse the embedded
 * cluster.  Checks that one connection can be made.  The pool holds at
 * most `pool_size` connections (0 picks http_threads + workers + 4).
 * Migrations are not applied; call tr_db_migrate().  The caller owns *out
 * and frees it with tr_db_close().  Returns TR_E_DB_CONNECT,
 * TR_E_DB_CLUSTER or TR_OK.
 */
enum tr_err tr_db_open(const struct tr_conf *conf, int pool_size,
                       struct tr_db **out, struct tr_error *err);

/*
 * Close every connection and free `db`.  With `stop_cluster`, the
 * embedded cluster is stopped too, but only if this tr_db_open() started
 * it.  Connections must all have been released.  NULL is a no-op.
 */
void tr_db_close(struct tr_db *db, bool stop_cluster);

/*
 * True when tr_db_open() started the embedded cluster itself.
 */
bool tr_db_started_cluster(const struct tr_db *db);

/*
 * The connection string in use with any password masked, for messages.
 * Borrowed, valid until tr_db_close().
 */
const char *tr_db_url_masked(const struct tr_db *db);

/* ---- migrations ------------------------------------------------------- */

/*
 * Apply the compiled-in migrations that the database lacks, each in its
 * own transaction under a transaction-level advisory lock, as the
 * connection's own user (the schema owner).  Concurrent callers apply
 * each migration exactly once.  `n_applied` (may be NULL) gets how many
 * this call applied.  Returns TR_E_DB_MIGRATE naming the migration and
 * the server's message, TR_E_DB_CONNECT, or TR_OK.
 */
enum tr_err tr_db_migrate(struct tr_db *db, int *n_applied,
                          struct tr_error *err);

/*
 * Readiness: TR_OK when every compiled-in migration is recorded in
 * schema_migrations, TR_E_DB_NOTREADY when some are missing, or
 * TR_E_DB_CONNECT.  Cheap; meant for /readyz.
 */
enum tr_err tr_db_schema_check(struct tr_db *db, struct tr_error *err);

/*
 * The highest migration version compiled into the binary.
 */
int tr_db_schema_latest(void);

/* ---- connections and transactions ------------------------------------ */

/*
 * Take a pooled connection working as triage_app, in autocommit mode with
 * no tenant set; waits up to 30 s when all are busy (TR_E_AGAIN).  Give it
 * back with tr_db_conn_release().  Returns TR_E_DB_CONNECT when the server
 * cannot be reached.
 */
enum tr_err tr_db_conn_acquire(struct tr_db *db, struct tr_db_conn **out,
                               struct tr_error *err);

/*
 * Open a connection of its own (not pooled) as the schema owner, for
 * migrations and operator commands (tenant add, tenant list).  Release it
 * with tr_db_conn_release(), which closes it.
 */
enum tr_err tr_db_conn_owner(struct tr_db *db, struct tr_db_conn **out,
                             struct tr_error *err);

/*
 * Give a connection back: an open transaction is rolled back, a broken
 * connection is closed.  NULL is a no-op.
 */
void tr_db_conn_release(struct tr_db_conn *c);

/*
 * Take a pooled connection and begin a transaction scoped to tenant
 * `tenant_id` (0 for none: then no tenant-owned row is visible) with
 * set_config('triage.tenant_id', $1, true).  End it with tr_db_tx_commit()
 * or tr_db_tx_rollback(), which also release the connection.
 */
enum tr_err tr_db_tx_begin(struct tr_db *db, int64_t tenant_id,
                           struct tr_db_conn **out, struct tr_error *err);

/*
 * Commit and release `c`.  On failure the transaction is rolled back and
 * `c` is released all the same.
 */
enum tr_err tr_db_tx_commit(struct tr_db_conn *c, struct tr_error *err);

/*
 * Roll back and release `c`.  NULL is a no-op.
 */
void tr_db_tx_rollback(struct tr_db_conn *c);

/*
 * Begin, commit or roll back a transaction on a connection that stays
 * held (for connections from tr_db_conn_owner()).
 */
enum tr_err tr_db_conn_begin(struct tr_db_conn *c, struct tr_error *err);
enum tr_err tr_db_conn_commit(struct tr_db_conn *c, struct tr_error *err);

/*
 * Send NOTIFY `channel` with `payload` soon, from a connection of the
 * sender's own with synchronous_commit off, never inside the caller's
 * transaction (a NOTIFY there would serialize the commits of all
 * notifying transactions on their disk flushes).  Pending duplicates are
 * sent once.  Best effort: a wake-up may be lost when the server is
 * unreachable, so listeners must also poll.  Any thread.
 */
void tr_db_notify(struct tr_db *db, const char *channel,
                  const char *payload);

/*
 * Send NOTIFY `channel`, `payload` with tr_db_notify() once the
 * transaction open on `c` commits; nothing when it rolls back.
 */
void tr_db_conn_notify_on_commit(struct tr_db_conn *c, const char *channel,
                                 const char *payload);

/* ---- queries ---------------------------------------------------------- */

/*
 * Run one statement with `n_params` text parameters ($1..$n; a NULL entry
 * is SQL NULL).  With `res` non-NULL the caller owns *res and frees it
 * with tr_db_res_free(); with NULL the result is dropped.  Errors keep the
 * SQLSTATE in err->foreign and map it: class 08 and a lost connection to
 * TR_E_DB_CONNECT, 23505 to TR_E_EXISTS, 42501 (including row-level
 * security refusals) to TR_E_PERM, 57014 to TR_E_TIMEOUT, any other to
 * TR_E_DB_QUERY.
 */
enum tr_err tr_db_exec(struct tr_db_conn *c, const char *sql, int n_params,
                       const char *const *params, struct tr_db_res **res,
                       struct tr_error *err);

/*
 * Run a statement and copy the first column of its first row into `buf`
 * (empty for SQL NULL; `is_null` may be NULL).  TR_E_NOTFOUND when it
 * returns no row, TR_E_TOOBIG when the value does not fit.
 */
enum tr_err tr_db_query_value(struct tr_db_conn *c, const char *sql,
                              int n_params, const char *const *params,
                              char *buf, size_t buf_len, bool *is_null,
                              struct tr_error *err);

/* Rows and columns of a result. */
int tr_db_res_n_rows(const struct tr_db_res *r);
int tr_db_res_n_cols(const struct tr_db_res *r);

/*
 * The text of a value, NULL for SQL NULL or out-of-range indexes.
 * Borrowed, valid until tr_db_res_free().
 */
const char *tr_db_res_value(const struct tr_db_res *r, int row, int col);

/*
 * Rows touched by an INSERT, UPDATE or DELETE (0 for other statements).
 */
long long tr_db_res_n_affected(const struct tr_db_res *r);

/*
 * Free a result.  NULL is a no-op.
 */
void tr_db_res_free(struct tr_db_res *r);

/* ---- notifications ---------------------------------------------------- */

/*
 * Open a dedicated connection that LISTENs on `channel` (an identifier of
 * [a-z0-9_]).  The caller owns *out; free with tr_db_listener_free().
 */
enum tr_err tr_db_listener_new(struct tr_db *db, const char *channel,
                               struct tr_db_listener **out,
                               struct tr_error *err);

/*
 * Wait up to `timeout_ms` for a notification on the channel, sleeping in
 * poll() on the connection's socket.  Returns TR_OK when at least one
 * arrived (all pending ones are consumed), TR_E_TIMEOUT when none did,
 * TR_E_AGAIN when tr_db_listener_interrupt() was called, TR_E_DB_CONNECT
 * when the connection is lost (the next call reconnects, and a caller
 * should then check for work, since notifications may have been missed).
 */
enum tr_err tr_db_listener_wait(struct tr_db_listener *l, int timeout_ms,
                                struct tr_error *err);

/*
 * Make a current or the next tr_db_listener_wait() return TR_E_AGAIN.
 * Safe from any thread and from a signal handler.
 */
void tr_db_listener_interrupt(struct tr_db_listener *l);

/*
 * Close the connection and free.  NULL is a no-op.
 */
void tr_db_listener_free(struct tr_db_listener *l);

/*
 * Scratch tenants (scratch.c), for offline runs that go through the
 * production code paths and must leave nothing behind.  create adds a
 * tenant named "<purpose>-<pid>-<time>" with a random webhook secret and
 * stores its id in *tenant_id; drop removes it and everything it owns,
 * its ledger rows included, in one transaction.  Owner connection; any
 * thread.  TR_E_DB_* on database failure.
 */
enum tr_err tr_db_scratch_tenant_create(struct tr_db *db,
                                        const char *purpose,
                                        int64_t *tenant_id,
                                        struct tr_error *err);
enum tr_err tr_db_scratch_tenant_drop(struct tr_db *db, int64_t tenant_id,
                                      struct tr_error *err);

#endif /* TR_DB_H */
