/*
 * test_db_rls.c
 *      Tenant isolation by row-level security: inside tenant A's
 *      transaction, tenant B's rows can be neither read nor written, and
 *      the app role cannot switch the protection off.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "tr_test.h"

#include "db.h"
#include "pgtest.h"

struct fixture {
    struct tr_pgtest t;
    char a[24];                 /* tenant ids */
    char b[24];
};

/* Two tenants, each with a ticket, a user, an article and an inbox row. */
static void
seed(struct fixture *f)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char *ids[2] = {f->a, f->b};
    const char *names[2] = {"alpha", "beta"};

    if (tr_pgtest_open(&f->t, 4, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    for (int i = 0; i < 2; i++) {
        const char *p[1] = {names[i]};

        assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                              "webhook_secret) VALUES ($1, "
                                              "'s') RETURNING id",
                                           1, p, ids[i], 24, NULL, &err),
                         TR_OK);
    }
    tr_db_conn_release(c);

    /* Each tenant writes its own rows through the app role. */
    for (int i = 0; i < 2; i++) {
        const char *p[1] = {ids[i]};

        assert_int_equal(tr_db_tx_begin(f->t.db, atoll(ids[i]), &c, &err),
                         TR_OK);
        assert_int_equal(tr_db_exec(c, "INSERT INTO tickets (tenant_id, "
                                       "external_id, subject) VALUES "
                                       "($1, 'T1', 'hello')",
                                    1, p, NULL, &err), TR_OK);
        assert_int_equal(tr_db_exec(c, "INSERT INTO users (tenant_id, email) "
                                       "VALUES ($1, 'u@example.com')",
                                    1, p, NULL, &err), TR_OK);
        assert_int_equal(tr_db_exec(c, "INSERT INTO articles (tenant_id, "
                                       "external_id, title, body) VALUES "
                                       "($1, 'A1', 'How to', 'Do it')",
                                    1, p, NULL, &err), TR_OK);
        assert_int_equal(tr_db_exec(c, "INSERT INTO inbox (tenant_id, "
                                       "dedup_key, payload) VALUES "
                                       "($1, 'k1', '{}')",
                                    1, p, NULL, &err), TR_OK);
        assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
    }
}

static long long
count_in(struct fixture *f, const char *tenant, const char *sql)
{
    struct tr_db_conn *c;
    struct tr_error err = {0};
    char buf[24];

    assert_int_equal(tr_db_tx_begin(f->t.db, atoll(tenant), &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, sql, 0, NULL, buf, sizeof(buf),
                                       NULL, &err), TR_OK);
    tr_db_tx_rollback(c);
    return atoll(buf);
}

/* Run `sql` with $1 = B's id inside A's transaction; rows it touched. */
static long long
touch_other(struct fixture *f, const char *sql, enum tr_err *rc)
{
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    struct tr_error err = {0};
    const char *p[1] = {f->b};
    long long n = 0;

    assert_int_equal(tr_db_tx_begin(f->t.db, atoll(f->a), &c, &err), TR_OK);
    *rc = tr_db_exec(c, sql, 1, p, &res, &err);
    if (*rc == TR_OK)
        n = tr_db_res_n_affected(res);
    tr_db_res_free(res);
    if (*rc == TR_OK)
        assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
    else
        tr_db_tx_rollback(c);
    return n;
}

static void
check_table(struct fixture *f, const char *table, const char *insert)
{
    char sql[256];
    enum tr_err rc;

    /* SELECT: only A's row, even when asking for B's by id. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(count_in(f, f->a, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE tenant_id = %s",
             table, f->b);
    assert_int_equal(count_in(f, f->a, sql), 0);

    /* UPDATE and DELETE of B's rows touch nothing. */
    snprintf(sql, sizeof(sql), "UPDATE %s SET tenant_id = tenant_id "
                               "WHERE tenant_id = $1", table);
    assert_int_equal(touch_other(f, sql, &rc), 0);
    assert_int_equal(rc, TR_OK);
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant_id = $1", table);
    assert_int_equal(touch_other(f, sql, &rc), 0);
    assert_int_equal(rc, TR_OK);

    /* INSERT with B's id is refused by the policy's WITH CHECK. */
    touch_other(f, insert, &rc);
    assert_int_equal(rc, TR_E_PERM);

    /* Moving one's own row to B is refused too. */
    snprintf(sql, sizeof(sql), "UPDATE %s SET tenant_id = $1", table);
    touch_other(f, sql, &rc);
    assert_int_equal(rc, TR_E_PERM);

    /* B still has exactly its row. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(count_in(f, f->b, sql), 1);
}

static void
tenant_cannot_see_or_write_other_tenants_rows(void **state)
{
    struct fixture f;

    seed(&f);
    check_table(&f, "tickets", "INSERT INTO tickets (tenant_id, external_id) "
                               "VALUES ($1, 'X')");
    check_table(&f, "users", "INSERT INTO users (tenant_id, email) "
                             "VALUES ($1, 'x@example.com')");
    check_table(&f, "articles", "INSERT INTO articles (tenant_id, "
                                "external_id, title, body) VALUES "
                                "($1, 'X', 't', 'b')");
    check_table(&f, "inbox", "INSERT INTO inbox (tenant_id, dedup_key, "
                             "payload) VALUES ($1, 'x', '{}')");
    tr_pgtest_close(&f.t);
}

static void
no_tenant_set_sees_no_rows(void **state)
{
    struct fixture f;

    seed(&f);
    assert_int_equal(count_in(&f, "0", "SELECT count(*) FROM tickets"), 0);
    assert_int_equal(count_in(&f, "0", "SELECT count(*) FROM tenants"), 0);
    assert_int_equal(count_in(&f, f.a, "SELECT count(*) FROM tenants"), 1);
    tr_pgtest_close(&f.t);
}

static void
app_role_cannot_disable_row_security(void **state)
{
    static const char *const attempts[] = {
        "ALTER TABLE tickets DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE tickets NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON tickets",
        "ALTER ROLE triage_app BYPASSRLS",
        "CREATE POLICY open ON tickets USING (true)",
    };
    struct fixture f;
    struct tr_db_conn *c;
    struct tr_error err = {0};

    seed(&f);
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        assert_int_equal(tr_db_conn_acquire(f.t.db, &c, &err), TR_OK);
        assert_int_not_equal(tr_db_exec(c, attempts[i], 0, NULL, NULL, &err),
                             TR_OK);
        tr_db_conn_release(c);
    }

    /* row_security = off makes a filtered query fail, not show more. */
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.a), &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "SET LOCAL row_security = off", 0, NULL,
                                NULL, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "SELECT * FROM tickets", 0, NULL, NULL,
                                &err), TR_E_PERM);
    tr_db_tx_rollback(c);
    assert_int_equal(count_in(&f, f.a, "SELECT count(*) FROM tickets"), 1);
    tr_pgtest_close(&f.t);
}

static void
ledger_is_append_only_and_chained(void **state)
{
    struct fixture f;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    char prev[80], hash[80];
    const char *p[1];

    seed(&f);
    p[0] = f.a;
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.a), &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO ledger (tenant_id, payload) "
                                   "VALUES ($1, '{\"n\": 1}')",
                                1, p, NULL, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO ledger (tenant_id, "
                                          "payload) VALUES ($1, '{\"n\": 2}')"
                                          " RETURNING prev_hash",
                                       1, p, prev, sizeof(prev), NULL, &err),
                     TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT hash FROM ledger ORDER BY "
                                          "id LIMIT 1",
                                       0, NULL, hash, sizeof(hash), NULL,
                                       &err), TR_OK);
    assert_string_equal(prev, hash);
    assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);

    /* Neither the app role nor the owner may rewrite history. */
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.a), &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "UPDATE ledger SET payload = '{}'", 0,
                                NULL, NULL, &err), TR_E_PERM);
    tr_db_tx_rollback(c);
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.a), &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "DELETE FROM ledger", 0, NULL, NULL, &err),
                     TR_E_PERM);
    tr_db_tx_rollback(c);
    assert_int_equal(tr_db_conn_owner(f.t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "DELETE FROM ledger", 0, NULL, NULL, &err),
                     TR_E_PERM);
    assert_non_null(strstr(err.msg, "append-only"));
    assert_int_equal(tr_db_exec(c, "TRUNCATE ledger", 0, NULL, NULL, &err),
                     TR_E_PERM);
    tr_db_conn_release(c);
    assert_int_equal(count_in(&f, f.a, "SELECT count(*) FROM ledger"), 2);
    tr_pgtest_close(&f.t);
}

static void
draft_cannot_reference_other_tenants_ticket(void **state)
{
    struct fixture f;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    char ticket_b[24];
    const char *p[2];

    seed(&f);
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.b), &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT id FROM tickets", 0, NULL,
                                       ticket_b, sizeof(ticket_b), NULL,
                                       &err), TR_OK);
    tr_db_tx_rollback(c);

    p[0] = f.a;
    p[1] = ticket_b;
    assert_int_equal(tr_db_tx_begin(f.t.db, atoll(f.a), &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO drafts (tenant_id, ticket_id,"
                                   " body) VALUES ($1, $2, 'hi')",
                                2, p, NULL, &err), TR_E_DB_QUERY);
    assert_string_equal(err.foreign, "23503");
    tr_db_tx_rollback(c);
    tr_pgtest_close(&f.t);
}

/*
 * Every table with a tenant_id column, present and to come, has row
 * security enabled and forced, and a policy: a new table cannot be left
 * open by forgetting it.
 */
static void
every_tenant_table_has_forced_row_security(void **state)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    struct fixture f;

    (void) state;
    seed(&f);
    assert_int_equal(tr_db_conn_owner(f.t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "SELECT c.relname, c.relrowsecurity, "
                                   "c.relforcerowsecurity, (SELECT count(*) "
                                   "FROM pg_policy p WHERE p.polrelid = "
                                   "c.oid) FROM pg_class c JOIN "
                                   "pg_attribute a ON a.attrelid = c.oid "
                                   "WHERE a.attname = 'tenant_id' AND "
                                   "c.relkind = 'r' AND c.relnamespace = "
                                   "'public'::regnamespace ORDER BY 1",
                                0, NULL, &res, &err), TR_OK);
    tr_db_conn_release(c);
    assert_true(tr_db_res_n_rows(res) >= 10);
    for (int i = 0; i < tr_db_res_n_rows(res); i++) {
        const char *name = tr_db_res_value(res, i, 0);

        if (strcmp(tr_db_res_value(res, i, 1), "t") != 0 ||
            strcmp(tr_db_res_value(res, i, 2), "t") != 0 ||
            strcmp(tr_db_res_value(res, i, 3), "0") == 0)
            fail_msg("table %s lacks forced row security or a policy",
                     name);
    }
    tr_db_res_free(res);
    tr_pgtest_close(&f.t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(tenant_cannot_see_or_write_other_tenants_rows),
    cmocka_unit_test(no_tenant_set_sees_no_rows),
    cmocka_unit_test(app_role_cannot_disable_row_security),
    cmocka_unit_test(ledger_is_append_only_and_chained),
    cmocka_unit_test(draft_cannot_reference_other_tenants_ticket),
    cmocka_unit_test(every_tenant_table_has_forced_row_security),
};

TR_TEST_MAIN(cases)
