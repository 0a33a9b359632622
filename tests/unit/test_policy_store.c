/*
 * test_policy_store.c
 *      The `triage route` command and routing storage on PostgreSQL:
 *      training stores a model that loads back and predicts the same,
 *      config set validates before it stores, usage errors exit 2, and
 *      row-level security keeps the new tables per tenant.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tr_test.h"

#include "cli.h"
#include "db.h"
#include "pgtest.h"
#include "policy.h"
#include "route.h"

/* Two tenants, "acme" and "globex"; ids in `ids`. */
static void
seed(struct tr_pgtest *t, int64_t ids[2])
{
    static const char *names[2] = {"acme", "globex"};
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char buf[24];

    if (tr_pgtest_open(t, 4, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_conn_owner(t->db, &c, &err), TR_OK);
    for (int i = 0; i < 2; i++) {
        const char *p[1] = {names[i]};

        assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                              "webhook_secret) VALUES ($1, "
                                              "'s') RETURNING id", 1, p,
                                           buf, sizeof(buf), NULL, &err),
                         TR_OK);
        ids[i] = atoll(buf);
    }
    tr_db_conn_release(c);
}

/*
 * Run `triage route ...` (argv after "route") against the test database
 * with stdout captured into `out` (may be NULL).  Returns the exit code.
 */
static int
run_route(struct tr_pgtest *t, const char *const *args, char *out,
          size_t out_len)
{
    char path[] = "/tmp/policy_out_XXXXXX";
    char *argv[16];
    struct tr_cli cli;
    int argc = 0, fd, saved, ex;
    ssize_t n;

    argv[argc++] = "route";
    for (; *args != NULL; args++)
        argv[argc++] = (char *)*args;
    argv[argc++] = "--database-url";
    argv[argc++] = t->conf.database_url;
    argv[argc] = NULL;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(1);
    dup2(fd, 1);
    tr_cli_init(&cli, "route");
    optind = 0;
    ex = tr_cli_cmd_route(&cli, argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);

    if (out != NULL) {
        lseek(fd, 0, SEEK_SET);
        n = read(fd, out, out_len - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    unlink(path);
    return ex;
}

static void
data_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/tests/data/%s", getenv("TR_SOURCE_DIR"), rel);
}

static void
policy_train_stores_model_that_loads_back(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_route_model *m = NULL, *none = NULL;
    struct tr_route_set *set = NULL;
    struct tr_route_result r;
    size_t correct = 0;
    char data[1024], val[1024], out[8192], buf[64];
    const char *text = "where is my parcel, it has not arrived";
    int64_t ids[2];
    int version = 0;
    double acc;
    const char *p;

    seed(&t, ids);
    data_path(data, sizeof(data), "route/train.jsonl");
    data_path(val, sizeof(val), "route/val.jsonl");
    assert_int_equal(tr_policy_model_fetch(t.db, ids[0], &m, NULL, &err),
                     TR_E_NOTFOUND);

    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", "--data", data, NULL}, out,
                               sizeof(out)), TR_EXIT_OK);
    assert_non_null(strstr(out, "routing model version 1 is active"));
    p = strstr(out, "held-out accuracy: ");
    assert_non_null(p);
    acc = strtod(p + strlen("held-out accuracy: "), NULL);
    assert_true(acc >= 0.6);    /* four intents and oos: chance is 0.2 */

    /* A second training with --val becomes version 2, the active one. */
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", "--data", data, "--val", val, NULL},
                               out, sizeof(out)), TR_EXIT_OK);
    print_message("%s", out);
    assert_non_null(strstr(out, "version 2 is active"));
    assert_int_equal(tr_policy_model_fetch(t.db, ids[0], &m, &version,
                                           &err), TR_OK);
    assert_int_equal(version, 2);
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT count(*) FILTER "
                                           "(WHERE active) || '/' || "
                                           "count(*) FROM route_models",
                                           buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "1/2");
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT metrics->>"
                                           "'calibrated_on' FROM route_models"
                                           " WHERE version = 2", buf,
                                           sizeof(buf)), TR_OK);
    assert_string_equal(buf, "val");

    /* The stored model routes unseen test rows well above chance, and
     * the stored labels are the model's. */
    data_path(data, sizeof(data), "route/test.jsonl");
    assert_int_equal(tr_route_set_load(data, &set, &err), TR_OK);
    for (size_t i = 0; i < set->n_rows; i++) {
        assert_int_equal(tr_route_predict(m, set->rows[i].text,
                                          strlen(set->rows[i].text), &r,
                                          NULL, &err), TR_OK);
        correct += strcmp(r.label, set->rows[i].label) == 0;
    }
    assert_true(correct * 10 >= set->n_rows * 6);
    assert_int_equal(tr_pgtest_owner_value(&t, "SELECT labels->>0 FROM "
                                           "route_models WHERE version = 2",
                                           buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, tr_route_model_label(m, 0));

    /* The other tenant has no model; route test uses acme's. */
    assert_int_equal(tr_policy_model_fetch(t.db, ids[1], &none, NULL, &err),
                     TR_E_NOTFOUND);
    assert_int_equal(run_route(&t, (const char *[]){"test", "--tenant",
                               "acme", "--json", text, NULL}, out,
                               sizeof(out)), TR_EXIT_OK);
    assert_non_null(strstr(out, "\"intent\":\"shipping\""));

    tr_route_set_free(set);
    tr_route_model_free(m);
    tr_pgtest_close(&t);
}

static void
policy_config_set_validates_then_stores(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_policy_config *cfg = NULL;
    char good[1024], bad[] = "/tmp/policy_bad_XXXXXX", out[8192];
    int64_t ids[2];
    FILE *f;
    int fd;

    seed(&t, ids);
    data_path(good, sizeof(good), "policy/example.json");
    assert_int_equal(run_route(&t, (const char *[]){"config", "show",
                               "--tenant", "acme", NULL}, out, sizeof(out)),
                     TR_EXIT_OK);
    assert_non_null(strstr(out, "no routing configuration"));

    assert_int_equal(run_route(&t, (const char *[]){"config", "set",
                               "--tenant", "acme", good, NULL}, out,
                               sizeof(out)), TR_EXIT_OK);
    assert_non_null(strstr(out, "4 teams, 3 rules, 1 escalation rules"));

    /* A bad file fails and leaves the stored configuration alone. */
    fd = mkstemp(bad);
    f = fdopen(fd, "w");
    fputs("{\"teams\": [], \"default_team\": \"billing\"}", f);
    fclose(f);
    assert_int_equal(run_route(&t, (const char *[]){"config", "set",
                               "--tenant", "acme", bad, NULL}, out,
                               sizeof(out)), TR_EXIT_FAIL);
    unlink(bad);
    assert_int_equal(tr_policy_config_fetch(t.db, ids[0], &cfg, &err),
                     TR_OK);
    assert_int_equal(tr_policy_config_n_teams(cfg), 4);
    tr_policy_config_free(cfg);

    assert_int_equal(run_route(&t, (const char *[]){"config", "show",
                               "--tenant", "acme", NULL}, out, sizeof(out)),
                     TR_EXIT_OK);
    assert_non_null(strstr(out, "\"zendesk_group_id\": 360001"));
    assert_int_equal(tr_policy_config_fetch(t.db, ids[1], &cfg, &err),
                     TR_E_NOTFOUND);

    /* route test applies it: a rule routes, an escalation fires. */
    assert_int_equal(run_route(&t, (const char *[]){"test", "--tenant",
                               "acme", "--subject", "Invoice", "My lawyer "
                               "will call you.", NULL}, out, sizeof(out)),
                     TR_EXIT_OK);
    assert_non_null(strstr(out, "team:        billing (rule), zendesk "
                                "group 360001"));
    assert_non_null(strstr(out, "escalations: legal_threat"));
    tr_pgtest_close(&t);
}

static void
policy_command_usage_errors(void **state)
{
    struct tr_pgtest t;
    int64_t ids[2];
    char out[8192];

    seed(&t, ids);
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", "--data", "x", "--bogus", NULL},
                               NULL, 0), TR_EXIT_USAGE);
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", NULL}, NULL, 0), TR_EXIT_USAGE);
    assert_int_equal(run_route(&t, (const char *[]){"explode", NULL}, NULL,
                               0), TR_EXIT_USAGE);
    assert_int_equal(run_route(&t, (const char *[]){"config", "show", NULL},
                               NULL, 0), TR_EXIT_USAGE);
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", "--data", "x", "--holdout", "1.5",
                               NULL}, NULL, 0), TR_EXIT_USAGE);
    assert_int_equal(run_route(&t, (const char *[]){"test", "--help", NULL},
                               out, sizeof(out)), TR_EXIT_OK);
    assert_non_null(strstr(out, "Usage: triage route train"));

    /* Unknown tenant and unreadable data fail without a model. */
    assert_int_equal(run_route(&t, (const char *[]){"test", "--tenant",
                               "nobody", "hello", NULL}, NULL, 0),
                     TR_EXIT_FAIL);
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "acme", "--data", "/nonexistent.jsonl",
                               NULL}, NULL, 0), TR_EXIT_FAIL);
    tr_pgtest_close(&t);
}

/* Count rows of `table` visible inside tenant `tid`'s transaction. */
static long long
visible(struct tr_pgtest *t, int64_t tid, const char *sql)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char buf[24];

    assert_int_equal(tr_db_tx_begin(t->db, tid, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, sql, 0, NULL, buf, sizeof(buf),
                                       NULL, &err), TR_OK);
    tr_db_tx_rollback(c);
    return atoll(buf);
}

static void
policy_route_tables_rls(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_policy_config *cfg = NULL;
    struct tr_db_conn *c;
    char other[24];
    const char *p[1] = {other};
    int64_t ids[2];

    seed(&t, ids);
    assert_int_equal(tr_policy_config_default(&cfg, &err), TR_OK);
    assert_int_equal(tr_policy_config_store(t.db, ids[0], cfg, &err), TR_OK);
    assert_int_equal(tr_pgtest_owner_value(&t, "INSERT INTO route_models "
                                           "(tenant_id, version, model, "
                                           "active) SELECT id, 1, '\\x00', "
                                           "true FROM tenants RETURNING 1",
                                           other, sizeof(other)), TR_OK);

    /* Each tenant sees its own rows only. */
    assert_int_equal(visible(&t, ids[0], "SELECT count(*) FROM "
                             "routing_configs"), 1);
    assert_int_equal(visible(&t, ids[1], "SELECT count(*) FROM "
                             "routing_configs"), 0);
    assert_int_equal(visible(&t, ids[1], "SELECT count(*) FROM "
                             "route_models"), 1);
    assert_int_equal(visible(&t, 0, "SELECT count(*) FROM route_models"), 0);

    /* Writing another tenant's row is refused. */
    snprintf(other, sizeof(other), "%lld", (long long)ids[0]);
    assert_int_equal(tr_db_tx_begin(t.db, ids[1], &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO routing_configs (tenant_id,"
                                   " config) VALUES ($1, '{}')", 1, p, NULL,
                                &err), TR_E_PERM);
    tr_db_tx_rollback(c);
    assert_int_equal(tr_db_tx_begin(t.db, ids[1], &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO route_models (tenant_id, "
                                   "version, model) VALUES ($1, 7, '\\x00')",
                                1, p, NULL, &err), TR_E_PERM);
    tr_db_tx_rollback(c);

    /* Updates cannot reach it either: zero rows touched. */
    assert_int_equal(tr_db_tx_begin(t.db, ids[1], &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "UPDATE routing_configs SET config = "
                                   "'{\"x\":1}'", 0, NULL, NULL, &err),
                     TR_OK);
    assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
    tr_policy_config_free(cfg);
    assert_int_equal(tr_policy_config_fetch(t.db, ids[0], &cfg, &err),
                     TR_OK);
    assert_string_equal(tr_policy_config_text(cfg), "{}");
    tr_policy_config_free(cfg);
    tr_pgtest_close(&t);
}

/*
 * A realistic size: BANKING77's 10,003 training rows (77 intents, no
 * out-of-scope rows) through the command, the model stored and loaded
 * back.  The floor sits under the measured figure, which is printed.
 */
static void
policy_train_banking77_accuracy_floor(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_route_model *m = NULL;
    char data[1024], out[8192];
    int64_t ids[2];
    const char *p;

    snprintf(data, sizeof(data), "%s/../shared/datasets/banking77/"
             "train.jsonl", getenv("TR_SOURCE_DIR"));
    if (access(data, R_OK) != 0)
        fail_msg("dataset missing: %s", data);
    seed(&t, ids);
    assert_int_equal(run_route(&t, (const char *[]){"train", "--tenant",
                               "globex", "--data", data, NULL}, out,
                               sizeof(out)), TR_EXIT_OK);
    print_message("%s", out);
    p = strstr(out, "held-out accuracy: ");
    assert_non_null(p);
    assert_true(strtod(p + strlen("held-out accuracy: "), NULL) >= 0.85);

    assert_int_equal(tr_policy_model_fetch(t.db, ids[1], &m, NULL, &err),
                     TR_OK);
    assert_int_equal(tr_route_model_n_classes(m), 77);
    tr_route_model_free(m);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(policy_train_stores_model_that_loads_back),
    cmocka_unit_test(policy_config_set_validates_then_stores),
    cmocka_unit_test(policy_command_usage_errors),
    cmocka_unit_test(policy_route_tables_rls),
    cmocka_unit_test(policy_train_banking77_accuracy_floor),
};

TR_TEST_MAIN(cases)
