/*
 * test_ledger_chain.c
 *      The decision ledger against a real PostgreSQL: appends under
 *      concurrency keep one chain, verify finds rows altered, re-hashed,
 *      removed from the middle or the end, the app role cannot rewrite
 *      history, tenants do not see each other's ledgers, and a decision's
 *      model input comes back byte for byte.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"

#include "db.h"
#include "ledger.h"
#include "mem.h"
#include "pgtest.h"

#define PER_THREAD 40

struct fixture {
    struct tr_pgtest t;
    int64_t a, b;               /* tenants "a" and "b" */
};

static int64_t
add_tenant(struct fixture *f, const char *name)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    const char *p[1] = {name};
    char id[24];

    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                          "webhook_secret) VALUES ($1, 's')"
                                          " RETURNING id", 1, p, id,
                                       sizeof(id), NULL, &err), TR_OK);
    tr_db_conn_release(c);
    return atoll(id);
}

static void
setup(struct fixture *f)
{
    struct tr_error err = {0};

    memset(f, 0, sizeof(*f));
    if (tr_pgtest_open(&f->t, 8, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    f->a = add_tenant(f, "a");
    f->b = add_tenant(f, "b");
}

/* Append one entry for `tenant` in a transaction of its own. */
static enum tr_err
append(struct fixture *f, int64_t tenant, const char *kind, int64_t draft,
       const char *payload, struct tr_ledger_entry *out)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_db_tx_begin(f->t.db, tenant, &c, &err);
    if (rc != TR_OK)
        return rc;
    rc = tr_ledger_append(c, tenant, kind, draft, 0, payload, out, &err);
    if (rc != TR_OK) {
        print_message("append refused: %s\n", tr_error_msg(&err));
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, &err);
}

/* Append `n` numbered decisions to tenant a. */
static void
append_n(struct fixture *f, int n)
{
    char payload[96];

    for (int i = 1; i <= n; i++) {
        snprintf(payload, sizeof(payload),
                 "{\"outcome\":\"draft\",\"n\":%d,\"score\":0.%d5}", i, i);
        assert_int_equal(append(f, f->a, "decision", 100 + i, payload, NULL),
                         TR_OK);
    }
}

/* Run statements in one transaction as the owner. */
static void
as_owner(struct fixture *f, const char *const *sql, size_t n)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;

    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_conn_begin(c, &err), TR_OK);
    for (size_t i = 0; i < n; i++)
        if (tr_db_exec(c, sql[i], 0, NULL, NULL, &err) != TR_OK)
            fail_msg("%s: %s", sql[i], tr_error_msg(&err));
    assert_int_equal(tr_db_conn_commit(c, &err), TR_OK);
    tr_db_conn_release(c);
}

/* Run one statement on rows of tenant a with the append-only trigger
 * lifted, as someone with the owner's rights could. */
static void
tamper(struct fixture *f, const char *stmt)
{
    const char *sql[3] = {
        "ALTER TABLE ledger DISABLE TRIGGER ledger_no_update",
        stmt,
        "ALTER TABLE ledger ENABLE TRIGGER ledger_no_update",
    };

    as_owner(f, sql, 3);
}

static void
verify_a(struct fixture *f, struct tr_ledger_report *rep)
{
    struct tr_error err = {0};

    if (tr_ledger_verify(f->t.db, f->a, 0, NULL, rep, &err) != TR_OK)
        fail_msg("verify failed: %s", tr_error_msg(&err));
}

struct writer {
    struct fixture *f;
    int failures;
};

/*
 * Append and keep the transaction open a little before committing, as a
 * triage job does, so that the other writer has to wait for the tenant's
 * lock and then chain to a row committed after its own statement began.
 */
static enum tr_err
append_slowly(struct writer *w, const char *payload)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_db_tx_begin(w->f->t.db, w->f->a, &c, &err);
    if (rc != TR_OK)
        return rc;
    rc = tr_ledger_append(c, w->f->a, "decision", 0, 0, payload, NULL, &err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT pg_sleep(0.002)", 0, NULL, NULL, &err);
    if (rc != TR_OK) {
        print_message("append refused: %s\n", tr_error_msg(&err));
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, &err);
}

static void *
write_many(void *arg)
{
    struct writer *w = arg;
    char payload[64];

    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(payload, sizeof(payload), "{\"i\":%d,\"w\":\"%p\"}", i,
                 (void *)w);
        if (append_slowly(w, payload) != TR_OK)
            w->failures++;
    }
    return NULL;
}

static void
concurrent_appends_keep_one_chain(void **state)
{
    struct writer w[2];
    pthread_t th[2];
    struct tr_ledger_report rep;
    struct fixture f;
    char buf[64];

    setup(&f);
    for (int i = 0; i < 2; i++) {
        w[i].f = &f;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(w[0].failures + w[1].failures, 0);

    /* 1..2N with no gap, no repeat, each chained to its predecessor. */
    assert_int_equal(tr_pgtest_owner_value(&f.t, "SELECT count(DISTINCT seq)"
                                                 " || '/' || min(seq) || '/'"
                                                 " || max(seq) FROM ledger",
                                           buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "80/1/80");
    assert_int_equal(tr_pgtest_owner_value(&f.t, "SELECT count(*) FROM "
                                                 "ledger l JOIN ledger p ON "
                                                 "p.tenant_id = l.tenant_id "
                                                 "AND p.seq = l.seq - 1 "
                                                 "WHERE l.prev_hash = p.hash",
                                           buf, sizeof(buf)), TR_OK);
    assert_string_equal(buf, "79");
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.n_rows, 2 * PER_THREAD);
    assert_int_equal(rep.head_seq, 2 * PER_THREAD);
    tr_pgtest_close(&f.t);
}

static void
append_returns_the_stored_row(void **state)
{
    struct tr_ledger_entry e1, e2;
    struct tr_ledger_report rep;
    struct fixture f;
    char h[TR_LEDGER_HASH_LEN + 1];
    struct tr_error err = {0};

    setup(&f);
    assert_int_equal(append(&f, f.a, "decision", 5, "{\"b\":[1, 2.50],"
                            " \"a\":\"x\"}", &e1), TR_OK);
    assert_int_equal(append(&f, f.a, "approval", 5, "{\"a\":\"x\","
                            "\"b\":[1,2.50]}", &e2), TR_OK);
    assert_int_equal(e1.seq, 1);
    assert_int_equal(e2.seq, 2);
    assert_string_equal(e1.prev_hash, "");
    assert_string_equal(e2.prev_hash, e1.hash);
    assert_int_equal(e1.draft_id, 5);
    assert_int_equal(e1.ticket_id, 0);
    assert_string_equal(e2.kind, "approval");

    /* Key order does not reach the stored text; numbers stay as written. */
    assert_string_equal(e1.payload_text, "{\"a\":\"x\",\"b\":[1,2.50]}");
    assert_string_equal(e2.payload_text, e1.payload_text);
    assert_int_equal(tr_ledger_entry_hash(&e2, h, &err), TR_OK);
    assert_string_equal(h, e2.hash);
    tr_ledger_entry_cleanup(&e1);
    tr_ledger_entry_cleanup(&e2);

    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.n_rows, 2);
    tr_pgtest_close(&f.t);
}

static void
bad_appends_are_refused_and_write_nothing(void **state)
{
    struct tr_ledger_report rep;
    struct fixture f;
    struct tr_error err = {0};
    struct tr_db_conn *c;

    setup(&f);
    assert_int_equal(append(&f, f.a, "decision", 0, "{\"a\":1,\"a\":2}",
                            NULL), TR_E_PARSE);
    assert_int_equal(append(&f, f.a, "decision", 0, "[1,2]", NULL),
                     TR_E_PARSE);
    assert_int_equal(append(&f, f.a, "Decision", 0, "{}", NULL), TR_E_INVAL);
    assert_int_equal(append(&f, f.a, "a-b", 0, "{}", NULL), TR_E_INVAL);
    assert_int_equal(append(&f, f.a, "", 0, "{}", NULL), TR_E_INVAL);

    /* A tenant transaction cannot append to another tenant's ledger. */
    assert_int_equal(tr_db_tx_begin(f.t.db, f.a, &c, &err), TR_OK);
    assert_int_equal(tr_ledger_append(c, f.b, "decision", 0, 0, "{}", NULL,
                                      &err), TR_E_PERM);
    tr_db_tx_rollback(c);

    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.n_rows, 0);
    assert_int_equal(rep.head_seq, 0);
    tr_pgtest_close(&f.t);
}

static void
altered_payload_is_found_at_its_row(void **state)
{
    struct tr_ledger_report rep;
    struct fixture f;
    char sql[256];

    setup(&f);
    append_n(&f, 5);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);

    snprintf(sql, sizeof(sql), "UPDATE ledger SET payload_text = "
             "'{\"outcome\":\"send\"}', payload = '{\"outcome\":\"send\"}' "
             "WHERE tenant_id = %" PRId64 " AND seq = 3", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_ALTERED);
    assert_int_equal(rep.fault_seq, 3);
    assert_true(rep.fault_id > 0);
    assert_non_null(strstr(rep.reason, "seq 3 was altered"));
    /* The rows before it are counted good. */
    assert_int_equal(rep.n_rows, 2);
    assert_int_equal(rep.head_seq, 2);
    tr_pgtest_close(&f.t);
}

static void
rehashed_row_breaks_the_next_link(void **state)
{
    struct tr_ledger_report rep;
    struct fixture f;
    char sql[640];

    setup(&f);
    append_n(&f, 4);
    /* Change a field that is hashed and store a matching hash for it:
     * the row alone looks fine, its successor no longer chains. */
    snprintf(sql, sizeof(sql), "UPDATE ledger SET kind = 'edit', hash = "
             "repeat('0', 64) WHERE tenant_id = %" PRId64 " AND seq = 2",
             f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_ALTERED);
    assert_int_equal(rep.fault_seq, 2);

    /* Recompute row 2's hash the way the trigger does. */
    snprintf(sql, sizeof(sql), "UPDATE ledger SET hash = encode(sha256("
             "convert_to('triage-ledger-1' || E'\\n' || tenant_id || E'\\n'"
             " || seq || E'\\n' || to_char(created_at AT TIME ZONE 'UTC', "
             "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || E'\\n' || kind || "
             "E'\\n' || coalesce(draft_id::text, '') || E'\\n' || E'\\n' "
             "|| prev_hash || E'\\n' || payload_text, 'UTF8')), 'hex') "
             "WHERE tenant_id = %" PRId64 " AND seq = 2", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_LINK);
    assert_int_equal(rep.fault_seq, 3);
    assert_non_null(strstr(rep.reason, "does not chain to seq 2"));
    tr_pgtest_close(&f.t);
}

static void
removed_rows_are_found(void **state)
{
    struct tr_ledger_report rep;
    struct tr_error err = {0};
    struct fixture f;
    char sql[160], head[TR_LEDGER_HASH_LEN + 1];

    setup(&f);
    append_n(&f, 6);
    verify_a(&f, &rep);
    assert_int_equal(rep.head_seq, 6);
    snprintf(head, sizeof(head), "%s", rep.head_hash);

    /* From the middle: the gap is named. */
    snprintf(sql, sizeof(sql), "DELETE FROM ledger WHERE tenant_id = %"
             PRId64 " AND seq = 4", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_MISSING);
    assert_int_equal(rep.fault_seq, 4);
    assert_int_equal(rep.fault_id, 0);
    assert_non_null(strstr(rep.reason, "seq 4 is missing"));

    /* From the end: only a recorded head can tell. */
    snprintf(sql, sizeof(sql), "DELETE FROM ledger WHERE tenant_id = %"
             PRId64 " AND seq >= 4", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.head_seq, 3);
    assert_int_equal(tr_ledger_verify(f.t.db, f.a, 6, head, &rep, &err),
                     TR_OK);
    assert_int_equal(rep.fault, TR_LEDGER_ANCHOR);
    assert_int_equal(rep.fault_seq, 6);
    assert_non_null(strstr(rep.reason, "removed from its end"));
    tr_pgtest_close(&f.t);
}

static void
anchor_and_payload_column_checks(void **state)
{
    struct tr_ledger_report rep;
    struct tr_error err = {0};
    struct fixture f;
    char sql[200], head[TR_LEDGER_HASH_LEN + 1];

    setup(&f);
    append_n(&f, 3);
    verify_a(&f, &rep);
    snprintf(head, sizeof(head), "%s", rep.head_hash);
    assert_int_equal(tr_ledger_verify(f.t.db, f.a, 3, head, &rep, &err),
                     TR_OK);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    head[0] = head[0] == 'a' ? 'b' : 'a';
    assert_int_equal(tr_ledger_verify(f.t.db, f.a, 3, head, &rep, &err),
                     TR_OK);
    assert_int_equal(rep.fault, TR_LEDGER_ANCHOR);

    /* The jsonb column is held to the hashed text by a constraint; with
     * the constraint dropped, verify still compares them. */
    snprintf(sql, sizeof(sql), "UPDATE ledger SET payload = '{\"n\":9}' "
             "WHERE tenant_id = %" PRId64 " AND seq = 2", f.a);
    {
        const char *drop[1] = {
            "ALTER TABLE ledger DROP CONSTRAINT ledger_payload_same"};

        as_owner(&f, drop, 1);
    }
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_PAYLOAD);
    assert_int_equal(rep.fault_seq, 2);

    /* Text that is not JSON any more is a finding, not a crash. */
    snprintf(sql, sizeof(sql), "UPDATE ledger SET payload_text = 'oops' "
             "WHERE tenant_id = %" PRId64 " AND seq = 1", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_PAYLOAD);
    assert_int_equal(rep.fault_seq, 1);
    tr_pgtest_close(&f.t);
}

static void
app_role_cannot_rewrite_history(void **state)
{
    static const char *const refused[] = {
        "UPDATE ledger SET payload_text = '{}', payload = '{}'",
        "DELETE FROM ledger",
        "TRUNCATE ledger",
        "ALTER TABLE ledger DISABLE TRIGGER ledger_no_update",
        "INSERT INTO ledger (tenant_id, payload, hash, seq) VALUES "
        "(current_setting('triage.tenant_id')::bigint, '{}', "
        "repeat('0', 64), 99)",
    };
    struct tr_ledger_report rep;
    struct tr_error err = {0};
    struct tr_db_conn *c;
    struct fixture f;
    char buf[32];

    setup(&f);
    append_n(&f, 2);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(tr_db_tx_begin(f.t.db, f.a, &c, &err), TR_OK);
        if (tr_db_exec(c, refused[i], 0, NULL, NULL, &err) != TR_E_PERM)
            fail_msg("\"%s\" was not refused: %s", refused[i],
                     tr_error_msg(&err));
        tr_db_tx_rollback(c);
    }

    /* A raw insert is still numbered and chained by the server. */
    assert_int_equal(tr_db_tx_begin(f.t.db, f.a, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO ledger (tenant_id, "
                                          "payload) VALUES (current_setting"
                                          "('triage.tenant_id')::bigint, "
                                          "'{\"raw\": 1}') RETURNING seq",
                                       0, NULL, buf, sizeof(buf), NULL,
                                       &err), TR_OK);
    assert_string_equal(buf, "3");
    assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.n_rows, 3);
    tr_pgtest_close(&f.t);
}

static void
tenants_do_not_see_each_others_ledger(void **state)
{
    struct tr_ledger_entry e;
    struct tr_ledger_report rep;
    struct tr_error err = {0};
    struct tr_db_conn *c;
    struct fixture f;
    char buf[24];

    setup(&f);
    assert_int_equal(append(&f, f.a, "decision", 7, "{\"who\":\"a\"}",
                            NULL), TR_OK);
    assert_int_equal(append(&f, f.b, "decision", 8, "{\"who\":\"b\"}",
                            NULL), TR_OK);

    /* Each tenant's chain starts at 1. */
    assert_int_equal(tr_db_tx_begin(f.t.db, f.b, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT count(*) || '/' || "
                                          "max(seq) FROM ledger", 0, NULL,
                                       buf, sizeof(buf), NULL, &err), TR_OK);
    assert_string_equal(buf, "1/1");
    assert_int_equal(tr_ledger_get_by_draft(c, 7, NULL, &e, &err),
                     TR_E_NOTFOUND);
    assert_int_equal(tr_ledger_get_by_draft(c, 8, NULL, &e, &err), TR_OK);
    assert_string_equal(e.payload_text, "{\"who\":\"b\"}");
    tr_ledger_entry_cleanup(&e);
    tr_db_tx_rollback(c);

    /* Each verify walks its own tenant's one row. */
    verify_a(&f, &rep);
    assert_int_equal(rep.n_rows, 1);
    assert_int_equal(tr_ledger_verify(f.t.db, f.b, 0, NULL, &rep, &err),
                     TR_OK);
    assert_int_equal(rep.n_rows, 1);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    tr_pgtest_close(&f.t);
}

static void
replay_gives_exact_bytes_and_checks_the_hash(void **state)
{
    /* A request body with spacing, escapes and non-ASCII that a JSON
     * re-encoding would not keep. */
    static const char body[] = "{ \"model\": \"m\",\n  \"messages\": [{\"role"
                               "\": \"user\", \"content\": \"Caf\xc3\xa9 "
                               "\\u00e9 \\\"q\\\" 1.50\"}] }\n";
    char hash[TR_LEDGER_HASH_LEN + 1], rec[TR_LEDGER_HASH_LEN + 8];
    char act[TR_LEDGER_HASH_LEN + 1];
    struct tr_ledger_entry e;
    struct tr_error err = {0};
    struct tr_db_conn *c;
    struct tr_buf p;
    struct fixture f;
    char *out;
    size_t out_len;
    bool ok;

    setup(&f);
    tr_ledger_sha256_hex(body, strlen(body), hash);
    tr_buf_init(&p, 0);
    tr_buf_printf(&p, "{\"prompt_hash\":\"sha256:%s\",\"model_input\":",
                  hash);
    tr_buf_json_str(&p, body);
    tr_buf_puts(&p, ",\"outcome\":\"draft\"}");
    assert_int_equal(append(&f, f.a, "decision", 42, p.data, NULL), TR_OK);
    /* A later decision for another draft, then a tampered prompt hash. */
    assert_int_equal(append(&f, f.a, "decision", 43, "{\"model_input\":"
                            "\"abc\",\"prompt_hash\":\"ba7816bf8f01cfea4141"
                            "40de5dae2223b00361a396177a9cb410ff61f20015ae\"}",
                            NULL), TR_OK);
    tr_buf_cleanup(&p);

    assert_int_equal(tr_db_tx_begin(f.t.db, f.a, &c, &err), TR_OK);
    assert_int_equal(tr_ledger_get_by_draft(c, 42, NULL, &e, &err), TR_OK);
    assert_int_equal(tr_ledger_model_input(&e, &out, &out_len, rec, act, &ok,
                                           &err), TR_OK);
    assert_int_equal(out_len, strlen(body));
    assert_memory_equal(out, body, out_len);
    assert_string_equal(act, hash);
    assert_true(ok);
    free(out);
    tr_ledger_entry_cleanup(&e);

    assert_int_equal(tr_ledger_get_by_draft(c, 43, NULL, &e, &err), TR_OK);
    assert_int_equal(tr_ledger_model_input(&e, &out, &out_len, rec, act, &ok,
                                           &err), TR_OK);
    assert_memory_equal(out, "abc", 3);
    assert_false(ok);
    assert_string_equal(act, "ba7816bf8f01cfea414140de5dae2223b00361a39617"
                             "7a9cb410ff61f20015ad");
    free(out);
    tr_ledger_entry_cleanup(&e);

    assert_int_equal(tr_ledger_get_by_draft(c, 44, NULL, &e, &err),
                     TR_E_NOTFOUND);
    assert_int_equal(tr_ledger_get_by_draft(c, 42, "approval", &e, &err),
                     TR_E_NOTFOUND);
    tr_db_tx_rollback(c);
    tr_pgtest_close(&f.t);
}

static void
old_format_rows_verify_only_as_a_prefix(void **state)
{
    struct tr_ledger_report rep;
    struct fixture f;
    char sql[900];

    setup(&f);
    /* A row as the chain trigger of 001_schema.sql wrote it, numbered by
     * 005_ledger.sql, inserted with the triggers lifted. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO ledger (tenant_id, seq, kind, format, payload, "
             "payload_text, hash) SELECT %" PRId64 ", 1, 'legacy', 0, "
             "'{\"n\": 1}', '{\"n\": 1}', encode(sha256(convert_to("
             "'%" PRId64 "' || '{\"n\": 1}', 'UTF8')), 'hex')",
             f.a, f.a);
    {
        const char *sql2[3] = {
            "ALTER TABLE ledger DISABLE TRIGGER ledger_chain", sql,
            "ALTER TABLE ledger ENABLE TRIGGER ledger_chain"};

        as_owner(&f, sql2, 3);
    }
    append_n(&f, 2);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_INTACT);
    assert_int_equal(rep.n_rows, 3);

    /* A new row passed off as an old one is refused. */
    snprintf(sql, sizeof(sql), "UPDATE ledger SET format = 0, kind = "
             "'legacy', draft_id = NULL, hash = encode(sha256(convert_to("
             "prev_hash || tenant_id || payload_text, 'UTF8')), 'hex') "
             "WHERE tenant_id = %" PRId64 " AND seq = 3", f.a);
    tamper(&f, sql);
    verify_a(&f, &rep);
    assert_int_equal(rep.fault, TR_LEDGER_ALTERED);
    assert_int_equal(rep.fault_seq, 3);
    assert_non_null(strstr(rep.reason, "old record format"));
    tr_pgtest_close(&f.t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(concurrent_appends_keep_one_chain),
    cmocka_unit_test(append_returns_the_stored_row),
    cmocka_unit_test(bad_appends_are_refused_and_write_nothing),
    cmocka_unit_test(altered_payload_is_found_at_its_row),
    cmocka_unit_test(rehashed_row_breaks_the_next_link),
    cmocka_unit_test(removed_rows_are_found),
    cmocka_unit_test(anchor_and_payload_column_checks),
    cmocka_unit_test(app_role_cannot_rewrite_history),
    cmocka_unit_test(tenants_do_not_see_each_others_ledger),
    cmocka_unit_test(replay_gives_exact_bytes_and_checks_the_hash),
    cmocka_unit_test(old_format_rows_verify_only_as_a_prefix),
};

TR_TEST_MAIN(cases)
