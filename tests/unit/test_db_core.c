/*
 * test_db_core.c
 *      Migrations, readiness, the pool, transactions and error mapping
 *      of the database module, against a real PostgreSQL (fixture "pg").
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>

#include "tr_test.h"

#include "db.h"
#include "pgtest.h"

static void
open_db(struct tr_pgtest *t, bool migrate)
{
    struct tr_error err = {0};

    if (tr_pgtest_open(t, 4, migrate, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
}

static void
migrations_apply_once_and_schema_becomes_current(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    char buf[32];
    int n = -1;

    open_db(&t, false);
    assert_int_equal(tr_db_schema_check(t.db, &err), TR_E_DB_NOTREADY);

    assert_int_equal(tr_db_migrate(t.db, &n, &err), TR_OK);
    assert_true(n >= 2);
    assert_int_equal(tr_db_schema_latest(), n);
    assert_int_equal(tr_db_schema_check(t.db, &err), TR_OK);

    /* A second run applies nothing. */
    assert_int_equal(tr_db_migrate(t.db, &n, &err), TR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT count(*) FROM "
                                               "schema_migrations",
                                           buf, sizeof(buf)), TR_OK);
    assert_int_equal(atoi(buf), tr_db_schema_latest());
    tr_pgtest_close(&t);
}

struct migrate_arg {
    struct tr_conf *conf;
    pthread_barrier_t *barrier;
    int n_applied;
    enum tr_err rc;
};

static void *
migrate_thread(void *p)
{
    struct migrate_arg *a = p;
    struct tr_db *db;
    struct tr_error err = {0};

    a->rc = tr_db_open(a->conf, 2, &db, &err);
    pthread_barrier_wait(a->barrier);
    if (a->rc == TR_OK)
        a->rc = tr_db_migrate(db, &a->n_applied, &err);
    tr_db_close(db, false);
    return NULL;
}

static void
concurrent_migrations_apply_each_once(void **state)
{
    struct tr_pgtest t;
    struct migrate_arg a[4];
    pthread_t th[4];
    pthread_barrier_t barrier;
    char buf[32];
    int total = 0;

    open_db(&t, false);
    pthread_barrier_init(&barrier, NULL, 4);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct migrate_arg){&t.conf, &barrier, 0, TR_OK};
        pthread_create(&th[i], NULL, migrate_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].rc, TR_OK);
        total += a[i].n_applied;
    }
    pthread_barrier_destroy(&barrier);

    assert_int_equal(total, tr_db_schema_latest());
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT count(*) FROM "
                                               "schema_migrations",
                                           buf, sizeof(buf)), TR_OK);
    assert_int_equal(atoi(buf), tr_db_schema_latest());
    tr_pgtest_close(&t);
}

static void
pool_works_as_app_role_without_bypass(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    char buf[64];

    open_db(&t, true);
    assert_int_equal(tr_db_conn_acquire(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT current_user", 0, NULL, buf,
                                       sizeof(buf), NULL, &err), TR_OK);
    assert_string_equal(buf, TR_DB_APP_ROLE);
    assert_int_equal(tr_db_query_value(c, "SELECT rolbypassrls::text || "
                                          "rolsuper::text FROM pg_roles "
                                          "WHERE rolname = current_user",
                                       0, NULL, buf, sizeof(buf), NULL, &err),
                     TR_OK);
    assert_string_equal(buf, "falsefalse");
    tr_db_conn_release(c);
    tr_pgtest_close(&t);
}

static void
errors_keep_sqlstate_and_map_codes(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    const char *p[1] = {"acme"};

    open_db(&t, true);
    assert_int_equal(tr_db_conn_owner(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO tenants (name, "
                                   "webhook_secret) VALUES ($1, 's')",
                                1, p, NULL, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO tenants (name, "
                                   "webhook_secret) VALUES ($1, 's')",
                                1, p, NULL, &err), TR_E_EXISTS);
    assert_string_equal(err.foreign, "23505");

    assert_int_equal(tr_db_exec(c, "SELEKT 1", 0, NULL, NULL, &err),
                     TR_E_DB_QUERY);
    assert_string_equal(err.foreign, "42601");

    /* A parameter is a value, never SQL. */
    p[0] = "x'); DROP TABLE tenants; --";
    assert_int_equal(tr_db_exec(c, "INSERT INTO tenants (name, "
                                   "webhook_secret) VALUES ($1, 's')",
                                1, p, NULL, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT count(*) FROM tenants", 0,
                                       NULL, err.msg, sizeof(err.msg), NULL,
                                       &err), TR_OK);
    assert_string_equal(err.msg, "2");
    tr_db_conn_release(c);
    tr_pgtest_close(&t);
}

static void
lost_connection_maps_to_db_connect(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *c, *owner;
    struct tr_error err = {0};
    char pid[16], buf[16];
    const char *p[1] = {pid};

    open_db(&t, true);
    assert_int_equal(tr_db_conn_acquire(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT pg_backend_pid()", 0, NULL,
                                       pid, sizeof(pid), NULL, &err), TR_OK);
    assert_int_equal(tr_db_conn_owner(t.db, &owner, &err), TR_OK);
    assert_int_equal(tr_db_exec(owner, "SELECT pg_terminate_backend($1)", 1,
                                p, NULL, &err), TR_OK);
    tr_db_conn_release(owner);

    assert_int_equal(tr_db_exec(c, "SELECT 1", 0, NULL, NULL, &err),
                     TR_E_DB_CONNECT);
    tr_db_conn_release(c);

    /* The pool replaces the dead connection. */
    assert_int_equal(tr_db_conn_acquire(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT 7", 0, NULL, buf,
                                       sizeof(buf), NULL, &err), TR_OK);
    assert_string_equal(buf, "7");
    tr_db_conn_release(c);
    tr_pgtest_close(&t);
}

static void
unreachable_server_is_db_connect(void **state)
{
    struct tr_conf conf;
    struct tr_db *db = NULL;
    struct tr_error err = {0};

    tr_conf_defaults(&conf);
    snprintf(conf.database_url, sizeof(conf.database_url),
             "host=/nonexistent/sock dbname=x user=y connect_timeout=2");
    assert_int_equal(tr_db_open(&conf, 1, &db, &err), TR_E_DB_CONNECT);
    assert_null(db);
    assert_non_null(strstr(err.msg, "could not connect"));
}

static void
tenant_setting_ends_with_the_transaction(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    char buf[32];
    bool is_null;

    /* A pool of one: the second transaction reuses the connection. */
    tr_pgtest_open(&t, 1, true, &err);
    assert_int_equal(tr_db_tx_begin(t.db, 42, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT current_setting("
                                          "'triage.tenant_id', true)",
                                       0, NULL, buf, sizeof(buf), NULL, &err),
                     TR_OK);
    assert_string_equal(buf, "42");
    tr_db_tx_rollback(c);

    assert_int_equal(tr_db_conn_acquire(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT NULLIF(current_setting("
                                          "'triage.tenant_id', true), '')",
                                       0, NULL, buf, sizeof(buf), &is_null,
                                       &err), TR_OK);
    assert_true(is_null);
    tr_db_conn_release(c);
    tr_pgtest_close(&t);
}

static void
commit_after_failed_statement_is_an_error(void **state)
{
    struct tr_pgtest t;
    struct tr_db_conn *c;
    struct tr_error err = {0};

    open_db(&t, true);
    assert_int_equal(tr_db_tx_begin(t.db, 0, &c, &err), TR_OK);
    assert_int_not_equal(tr_db_exec(c, "SELECT 1/0", 0, NULL, NULL, &err),
                         TR_OK);
    assert_string_equal(err.foreign, "22012");
    assert_int_equal(tr_db_tx_commit(c, &err), TR_E_DB_QUERY);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(migrations_apply_once_and_schema_becomes_current),
    cmocka_unit_test(concurrent_migrations_apply_each_once),
    cmocka_unit_test(pool_works_as_app_role_without_bypass),
    cmocka_unit_test(errors_keep_sqlstate_and_map_codes),
    cmocka_unit_test(lost_connection_maps_to_db_connect),
    cmocka_unit_test(unreachable_server_is_db_connect),
    cmocka_unit_test(tenant_setting_ends_with_the_transaction),
    cmocka_unit_test(commit_after_failed_statement_is_an_error),
};

TR_TEST_MAIN(cases)
