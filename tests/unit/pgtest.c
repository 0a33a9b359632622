/*
 * pgtest.c
 *      The per-test database helpers of pgtest.h and, built with
 *      TR_PGTEST_MAIN, the pgtest_ctl program of the "pg" fixture.
 *
 * pgtest_ctl start DIR starts (or reuses) the embedded cluster code of
 * the database module on DIR with fsync off, and applies the migrations
 * once to its "triage" database so that the cluster-wide role
 * triage_app exists before tests run in parallel.  pgtest_ctl stop DIR
 * stops it by the pid in postmaster.pid.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgtest.h"

/* The fixture's configuration: only data_dir differs from defaults. */
static enum tr_err
fixture_conf(struct tr_conf *conf, const char *dir, struct tr_error *err)
{
    tr_conf_defaults(conf);
    if (dir == NULL)
        return TR_ERROR(err, TR_E_CONF, "TR_BINARY_DIR is not set");
    snprintf(conf->data_dir, sizeof(conf->data_dir), "%s", dir);
    return TR_OK;
}

static enum tr_err
owner_exec(const char *url, const char *sql, char *buf, size_t buf_len,
           struct tr_error *err)
{
    struct tr_conf conf;
    struct tr_db *db;
    struct tr_db_conn *c;
    enum tr_err rc;

    tr_conf_defaults(&conf);
    snprintf(conf.database_url, sizeof(conf.database_url), "%s", url);
    rc = tr_db_open(&conf, 1, &db, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_conn_owner(db, &c, err);
    if (rc == TR_OK) {
        if (buf != NULL) {
            rc = tr_db_query_value(c, sql, 0, NULL, buf, buf_len, NULL, err);
            if (rc == TR_E_NOTFOUND) {
                buf[0] = '\0';
                rc = TR_OK;
            }
        } else {
            rc = tr_db_exec(c, sql, 0, NULL, NULL, err);
        }
        tr_db_conn_release(c);
    }
    tr_db_close(db, false);
    return rc;
}

enum tr_err
tr_pgtest_open(struct tr_pgtest *t, int pool_size, bool migrate,
               struct tr_error *err)
{
    char dir[1024], sql[128];
    struct tr_db_cluster *cl;
    enum tr_err rc;
    const char *bin = getenv("TR_BINARY_DIR");

    memset(t, 0, sizeof(*t));
    snprintf(dir, sizeof(dir), "%s/test-pg", bin != NULL ? bin : "");
    rc = fixture_conf(&t->conf, bin != NULL ? dir : NULL, err);
    if (rc == TR_OK)
        rc = tr_db_cluster_new(&t->conf, 0, &cl, err);
    if (rc != TR_OK)
        return rc;
    tr_db_cluster_conninfo(cl, "postgres", t->admin_url,
                           sizeof(t->admin_url));

    /* pid, time and a counter make the name unique among parallel test
     * programs and within one. */
    static int n_opened;

    snprintf(t->name, sizeof(t->name), "t_%ld_%ld_%d", (long) getpid(),
             (long) time(NULL), n_opened++);
    tr_db_cluster_conninfo(cl, t->name, t->conf.database_url,
                           sizeof(t->conf.database_url));
    tr_db_cluster_free(cl);

    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->name);
    rc = owner_exec(t->admin_url, sql, NULL, 0, err);
    if (rc == TR_OK)
        rc = tr_db_open(&t->conf, pool_size, &t->db, err);
    if (rc == TR_OK && migrate)
        rc = tr_db_migrate(t->db, NULL, err);
    return rc;
}

void
tr_pgtest_close(struct tr_pgtest *t)
{
    char sql[128];

    tr_db_close(t->db, false);
    t->db = NULL;
    if (t->name[0] == '\0')
        return;
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             t->name);
    owner_exec(t->admin_url, sql, NULL, 0, NULL);
    t->name[0] = '\0';
}

enum tr_err
tr_pgtest_owner_value(struct tr_pgtest *t, const char *sql, char *buf,
                      size_t buf_len)
{
    return owner_exec(t->conf.database_url, sql, buf, buf_len, NULL);
}

#ifdef TR_PGTEST_MAIN
int
main(int argc, char **argv)
{
    struct tr_conf conf;
    struct tr_error err = {0};
    struct tr_db_cluster *cl = NULL;
    struct tr_db *db = NULL;
    enum tr_err rc;

    if (argc != 3 || (strcmp(argv[1], "start") != 0 &&
                      strcmp(argv[1], "stop") != 0)) {
        fprintf(stderr, "usage: pgtest_ctl start|stop DIR\n");
        return 2;
    }
    rc = fixture_conf(&conf, argv[2], &err);
    if (rc == TR_OK)
        rc = tr_db_cluster_new(&conf, TR_DB_CLUSTER_NO_FSYNC, &cl, &err);
    if (rc == TR_OK && strcmp(argv[1], "stop") == 0) {
        rc = tr_db_cluster_stop(cl, &err);
    } else if (rc == TR_OK) {
        rc = tr_db_cluster_start(cl, &err);
        if (rc == TR_OK) {
            tr_db_cluster_conninfo(cl, NULL, conf.database_url,
                                   sizeof(conf.database_url));
            rc = tr_db_open(&conf, 1, &db, &err);
        }
        if (rc == TR_OK)
            rc = tr_db_migrate(db, NULL, &err);
        tr_db_close(db, false);
    }
    tr_db_cluster_free(cl);
    if (rc != TR_OK) {
        fprintf(stderr, "pgtest_ctl %s: %s\n", argv[1], tr_error_msg(&err));
        return 1;
    }
    printf("pgtest_ctl %s: ok (%s/pg)\n", argv[1], argv[2]);
    return 0;
}
#endif
