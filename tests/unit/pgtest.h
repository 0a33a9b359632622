/*
 * pgtest.h
 *      Test support: a fresh database per test program in the private
 *      cluster of the CTest fixture "pg".
 *
 * The fixture (pgtest_ctl start/stop, see tests/CMakeLists.txt) runs one
 * socket-only cluster under $TR_BINARY_DIR/test-pg for the whole test
 * run.  tr_pgtest_open() creates a database with a unique name in it and
 * opens a struct tr_db on it; tr_pgtest_close() closes it and drops the
 * database, so tests running in parallel never see each other's rows.
 * Main thread of the test program.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_PGTEST_H
#define TR_PGTEST_H

#include <stdbool.h>

#include "conf.h"
#include "db.h"

struct tr_pgtest {
    struct tr_conf conf;        /* database_url names the fresh database */
    struct tr_db *db;
    char name[64];              /* the database's name */
    char admin_url[2048];       /* the maintenance database "postgres" */
};

/*
 * Create a fresh database, open `t->db` on it (pool of `pool_size`, 0 for
 * the default) and, with `migrate`, apply the migrations.  Returns TR_OK
 * or the failure, with the reason in `err`.
 */
enum tr_err tr_pgtest_open(struct tr_pgtest *t, int pool_size, bool migrate,
                           struct tr_error *err);

/*
 * Close `t->db` (if open) and drop the database.
 */
void tr_pgtest_close(struct tr_pgtest *t);

/*
 * Run a statement as the owner (superuser of the test cluster) on the
 * test database and return the first value of its first row in `buf`
 * ("" when none).  For checks that must look past row-level security.
 */
enum tr_err tr_pgtest_owner_value(struct tr_pgtest *t, const char *sql,
                                  char *buf, size_t buf_len);

#endif /* TR_PGTEST_H */
