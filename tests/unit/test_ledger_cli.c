/*
 * test_ledger_cli.c
 *      `triage ledger verify` and `triage ledger replay` run in process
 *      against a real PostgreSQL, with stdout captured: exit codes, the
 *      row named on tampering, and replayed bytes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_test.h"

#include "cli.h"
#include "db.h"
#include "ledger.h"
#include "mem.h"
#include "pgtest.h"

struct fixture {
    struct tr_pgtest t;
    int64_t tenant;
    char out[8192];             /* stdout of the last command */
    size_t out_len;
};

static void
setup(struct fixture *f)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char id[24];

    memset(f, 0, sizeof(*f));
    if (tr_pgtest_open(&f->t, 4, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                          "webhook_secret) VALUES ('acme', "
                                          "'s') RETURNING id", 0, NULL, id,
                                       sizeof(id), NULL, &err), TR_OK);
    tr_db_conn_release(c);
    f->tenant = atoll(id);
}

/*
 * Run `triage ledger ARGS... --database-url URL` (at most 6 ARGS, NULL
 * terminated) with stdout captured in f->out.  Returns the exit code.
 */
static int
run(struct fixture *f, const char *a0, ...)
{
    char path[] = "/tmp/ledger-cli-XXXXXX";
    char *argv[12];
    struct tr_cli cli;
    int argc = 0, fd, saved, rc;
    const char *a;
    va_list ap;
    ssize_t n;

    argv[argc++] = (char *)"ledger";
    va_start(ap, a0);
    for (a = a0; a != NULL && argc < 9; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc++] = (char *)"--database-url";
    argv[argc++] = f->t.conf.database_url;
    argv[argc] = NULL;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stdout);
    saved = dup(1);
    assert_true(dup2(fd, 1) >= 0);
    tr_cli_init(&cli, "ledger");
    rc = tr_cli_cmd_ledger(&cli, argc, argv);
    fflush(stdout);
    assert_true(dup2(saved, 1) >= 0);
    close(saved);

    n = pread(fd, f->out, sizeof(f->out) - 1, 0);
    assert_true(n >= 0);
    f->out_len = (size_t)n;
    f->out[n] = '\0';
    close(fd);
    return rc;
}

static void
append(struct fixture *f, int64_t draft, const char *payload)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;

    assert_int_equal(tr_db_tx_begin(f->t.db, f->tenant, &c, &err), TR_OK);
    if (tr_ledger_append(c, f->tenant, "decision", draft, 0, payload, NULL,
                         &err) != TR_OK)
        fail_msg("append failed: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_tx_commit(c, &err), TR_OK);
}

static void
ledger_command_help_and_usage_errors(void **state)
{
    struct fixture f;

    setup(&f);
    assert_int_equal(run(&f, "--help", NULL), TR_EXIT_OK);
    assert_non_null(strstr(f.out, "triage ledger verify"));
    assert_int_equal(run(&f, "verify", "--help", NULL), TR_EXIT_OK);
    assert_non_null(strstr(f.out, "--head SEQ:HASH"));

    assert_int_equal(run(&f, "verify", "--tenant", "acme", "--bogus", NULL),
                     TR_EXIT_USAGE);
    assert_int_equal(run(&f, "verify", NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, "verify", "--tenant", "acme", "--head", "3:ab",
                         NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, "replay", NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, "replay", "x12", NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, "replay", "12", "--json", NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, "frobnicate", NULL), TR_EXIT_USAGE);
    assert_int_equal(run(&f, NULL), TR_EXIT_USAGE);
    assert_int_equal(f.out_len, 0);

    /* An unknown tenant is a failure, not a usage error. */
    assert_int_equal(run(&f, "verify", "--tenant", "nobody", NULL),
                     TR_EXIT_FAIL);
    tr_pgtest_close(&f.t);
}

static void
ledger_verify_exits_0_then_1_with_the_row(void **state)
{
    struct fixture f;
    char sql[256], head[100], buf[8];
    const char *h;

    setup(&f);
    assert_int_equal(run(&f, "verify", "--tenant", "acme", NULL), TR_EXIT_OK);
    assert_non_null(strstr(f.out, "intact: 0 rows"));
    for (int i = 1; i <= 4; i++)
        append(&f, i, "{\"outcome\":\"draft\"}");

    assert_int_equal(run(&f, "verify", "--tenant", "acme", "--json", NULL),
                     TR_EXIT_OK);
    assert_non_null(strstr(f.out, "\"intact\":true,\"rows\":4,"));
    h = strstr(f.out, "\"hash\":\"");
    assert_non_null(h);
    snprintf(head, sizeof(head), "4:%.64s", h + 8);
    assert_int_equal(run(&f, "verify", "--tenant", "acme", "--head", head,
                         NULL), TR_EXIT_OK);

    snprintf(sql, sizeof(sql), "ALTER TABLE ledger DISABLE TRIGGER "
             "ledger_no_update");
    assert_int_equal(tr_pgtest_owner_value(&f.t, sql, buf, sizeof(buf)),
                     TR_OK);
    snprintf(sql, sizeof(sql), "UPDATE ledger SET ticket_id = 77 WHERE "
             "tenant_id = %" PRId64 " AND seq = 2 RETURNING seq", f.tenant);
    assert_int_equal(tr_pgtest_owner_value(&f.t, sql, buf, sizeof(buf)),
                     TR_OK);
    assert_string_equal(buf, "2");
    assert_int_equal(tr_pgtest_owner_value(&f.t, "ALTER TABLE ledger ENABLE "
                                                 "TRIGGER ledger_no_update",
                                           buf, sizeof(buf)), TR_OK);

    assert_int_equal(run(&f, "verify", "--tenant", "acme", NULL),
                     TR_EXIT_FAIL);
    assert_non_null(strstr(f.out, "tampered with: altered at seq 2"));
    assert_int_equal(run(&f, "verify", "--tenant", "acme", "--json", NULL),
                     TR_EXIT_FAIL);
    assert_non_null(strstr(f.out, "\"intact\":false"));
    assert_non_null(strstr(f.out, "\"fault\":{\"kind\":\"altered\","
                                  "\"seq\":2,\"id\":"));
    tr_pgtest_close(&f.t);
}

static void
ledger_replay_prints_exact_bytes_and_checks_the_hash(void **state)
{
    static const char body[] = "{\"messages\": [{\"content\": \"R\xc3\xa9"
                               "sum\xc3\xa9 1.50\\n\"}]}\n\n";
    char hash[TR_LEDGER_HASH_LEN + 1];
    struct tr_buf p;
    struct fixture f;

    setup(&f);
    tr_ledger_sha256_hex(body, strlen(body), hash);
    tr_buf_init(&p, 0);
    tr_buf_printf(&p, "{\"prompt_hash\":\"%s\",\"model_input\":", hash);
    tr_buf_json_str(&p, body);
    tr_buf_puts(&p, "}");
    append(&f, 31, p.data);
    tr_buf_cleanup(&p);
    append(&f, 32, "{\"model_input\":\"x\",\"prompt_hash\":\"sha256:00\"}");
    append(&f, 33, "{\"model_input\":\"x\"}");
    append(&f, 34, "{\"outcome\":\"escalate\"}");

    assert_int_equal(run(&f, "replay", "31", "--tenant", "acme", NULL),
                     TR_EXIT_OK);
    assert_int_equal(f.out_len, strlen(body));
    assert_memory_equal(f.out, body, f.out_len);
    /* The tenant is found from the draft when the owner sees all rows. */
    assert_int_equal(run(&f, "replay", "31", NULL), TR_EXIT_OK);
    assert_memory_equal(f.out, body, f.out_len);

    /* Bytes are printed, but a hash that does not match fails. */
    assert_int_equal(run(&f, "replay", "32", "--tenant", "acme", NULL),
                     TR_EXIT_FAIL);
    assert_string_equal(f.out, "x");
    assert_int_equal(run(&f, "replay", "33", "--tenant", "acme", NULL),
                     TR_EXIT_FAIL);
    assert_int_equal(run(&f, "replay", "34", "--tenant", "acme", NULL),
                     TR_EXIT_FAIL);
    assert_int_equal(f.out_len, 0);
    assert_int_equal(run(&f, "replay", "99", "--tenant", "acme", NULL),
                     TR_EXIT_FAIL);
    assert_int_equal(run(&f, "replay", "99", NULL), TR_EXIT_FAIL);
    tr_pgtest_close(&f.t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(ledger_command_help_and_usage_errors),
    cmocka_unit_test(ledger_verify_exits_0_then_1_with_the_row),
    cmocka_unit_test(ledger_replay_prints_exact_bytes_and_checks_the_hash),
};

TR_TEST_MAIN(cases)
