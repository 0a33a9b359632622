/*
 * test_db_cluster.c
 *      The embedded cluster: creation, reuse by a second starter, data
 *      that persists across restarts, stop by pid, the socket path limit
 *      and clear errors.  Each case runs its own small cluster under
 *      $TR_BINARY_DIR, not the fixture's.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tr_test.h"

#include "db.h"

static void
conf_in(struct tr_conf *conf, const char *leaf)
{
    const char *bin = getenv("TR_BINARY_DIR");

    tr_conf_defaults(conf);
    snprintf(conf->data_dir, sizeof(conf->data_dir), "%s/%s-%ld",
             bin != NULL ? bin : "/tmp", leaf, (long) getpid());
}

static void
owner_exec(struct tr_conf *conf, const char *sql, char *buf, size_t len)
{
    struct tr_db *db;
    struct tr_db_conn *c;
    struct tr_error err = {0};

    assert_int_equal(tr_db_open(conf, 1, &db, &err), TR_OK);
    assert_int_equal(tr_db_conn_owner(db, &c, &err), TR_OK);
    if (buf != NULL)
        assert_int_equal(tr_db_query_value(c, sql, 0, NULL, buf, len, NULL,
                                           &err), TR_OK);
    else
        assert_int_equal(tr_db_exec(c, sql, 0, NULL, NULL, &err), TR_OK);
    tr_db_conn_release(c);
    tr_db_close(db, false);
}

static void
cluster_is_created_reused_and_keeps_data(void **state)
{
    struct tr_conf conf;
    struct tr_db_cluster *a, *b;
    struct tr_db_cluster_info info;
    struct tr_error err = {0};
    char buf[32];
    long pid;

    conf_in(&conf, "cl-reuse");
    assert_int_equal(tr_db_cluster_new(&conf, TR_DB_CLUSTER_NO_FSYNC, &a,
                                       &err), TR_OK);
    assert_int_equal(tr_db_cluster_start(a, &err), TR_OK);
    assert_true(tr_db_cluster_started_here(a));
    tr_db_cluster_status(a, &info);
    assert_true(info.initialised && info.running);
    pid = info.pid;

    /* A second starter finds it running and does not own it. */
    assert_int_equal(tr_db_cluster_new(&conf, 0, &b, &err), TR_OK);
    assert_int_equal(tr_db_cluster_start(b, &err), TR_OK);
    assert_false(tr_db_cluster_started_here(b));
    tr_db_cluster_status(b, &info);
    assert_int_equal(info.pid, pid);

    /* tr_db_open with an empty URL uses the same cluster. */
    owner_exec(&conf, "CREATE TABLE kept (v int)", NULL, 0);
    owner_exec(&conf, "INSERT INTO kept VALUES (42)", NULL, 0);

    /* Stop by pid, start again: the row is still there. */
    assert_int_equal(tr_db_cluster_stop(b, &err), TR_OK);
    tr_db_cluster_status(a, &info);
    assert_false(info.running);
    assert_int_equal(tr_db_cluster_start(a, &err), TR_OK);
    assert_true(tr_db_cluster_started_here(a));
    owner_exec(&conf, "SELECT v FROM kept", buf, sizeof(buf));
    assert_string_equal(buf, "42");
    assert_int_equal(tr_db_cluster_stop(a, &err), TR_OK);
    tr_db_cluster_free(a);
    tr_db_cluster_free(b);
}

static void
open_and_close_stop_only_a_cluster_they_started(void **state)
{
    struct tr_conf conf;
    struct tr_db *db1, *db2;
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info;
    struct tr_error err = {0};

    conf_in(&conf, "cl-own");
    assert_int_equal(tr_db_open(&conf, 1, &db1, &err), TR_OK);
    assert_true(tr_db_started_cluster(db1));
    assert_int_equal(tr_db_open(&conf, 1, &db2, &err), TR_OK);
    assert_false(tr_db_started_cluster(db2));

    assert_int_equal(tr_db_cluster_new(&conf, 0, &cl, &err), TR_OK);
    tr_db_close(db2, true);
    tr_db_cluster_status(cl, &info);
    assert_true(info.running);
    tr_db_close(db1, true);
    tr_db_cluster_status(cl, &info);
    assert_false(info.running);
    tr_db_cluster_free(cl);
}

static void
long_data_dir_gets_a_short_socket_dir(void **state)
{
    struct tr_conf conf;
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info;
    struct tr_error err = {0};
    char leaf[160];

    memset(leaf, 'd', sizeof(leaf) - 1);
    leaf[sizeof(leaf) - 1] = '\0';
    conf_in(&conf, leaf);
    assert_int_equal(tr_db_cluster_new(&conf, TR_DB_CLUSTER_NO_FSYNC, &cl,
                                       &err), TR_OK);
    tr_db_cluster_status(cl, &info);
    assert_true(info.sock_in_tmp);
    assert_true(strncmp(info.sock_dir, "/tmp/triage-pg-", 15) == 0);
    assert_true(strlen(info.sock_dir) + 15 < 107);

    assert_int_equal(tr_db_cluster_start(cl, &err), TR_OK);
    owner_exec(&conf, "SELECT 1", leaf, sizeof(leaf));
    assert_int_equal(tr_db_cluster_stop(cl, &err), TR_OK);
    tr_db_cluster_free(cl);
}

static void
missing_programs_say_what_to_install(void **state)
{
    struct tr_conf conf;
    struct tr_db_cluster *cl = NULL;
    struct tr_db *db = NULL;
    struct tr_error err = {0};

    conf_in(&conf, "cl-missing");
    snprintf(conf.pg_bin_dir, sizeof(conf.pg_bin_dir), "/nonexistent/bin");
    assert_int_equal(tr_db_cluster_new(&conf, 0, &cl, &err),
                     TR_E_DB_CLUSTER);
    assert_null(cl);
    assert_non_null(strstr(err.msg, "install postgresql-15"));
    assert_int_equal(tr_db_open(&conf, 1, &db, &err), TR_E_DB_CLUSTER);
    assert_null(db);
}

static void
data_dir_of_another_user_is_refused(void **state)
{
    struct tr_conf conf;
    struct tr_db_cluster *cl;
    struct tr_error err = {0};
    char pg[1100];

    conf_in(&conf, "cl-foreign");
    snprintf(pg, sizeof(pg), "%s/pg", conf.data_dir);
    assert_int_equal(mkdir(conf.data_dir, 0755), 0);
    assert_int_equal(mkdir(pg, 0700), 0);

    /* As root: a dir of some other uid.  Otherwise: one of root's. */
    if (geteuid() == 0)
        assert_int_equal(chown(pg, 54321, 54321), 0);
    else
        snprintf(conf.data_dir, sizeof(conf.data_dir), "/");

    assert_int_equal(tr_db_cluster_new(&conf, 0, &cl, &err), TR_OK);
    assert_int_equal(tr_db_cluster_start(cl, &err), TR_E_DB_CLUSTER);
    if (geteuid() == 0)
        assert_non_null(strstr(err.msg, "is owned by user"));
    tr_db_cluster_free(cl);
    rmdir(pg);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(cluster_is_created_reused_and_keeps_data),
    cmocka_unit_test(open_and_close_stop_only_a_cluster_they_started),
    cmocka_unit_test(long_data_dir_gets_a_short_socket_dir),
    cmocka_unit_test(missing_programs_say_what_to_install),
    cmocka_unit_test(data_dir_of_another_user_is_refused),
};

TR_TEST_MAIN(cases)
