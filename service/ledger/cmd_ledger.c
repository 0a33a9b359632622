/*
 * cmd_ledger.c
 *      `triage ledger verify --tenant T [--head SEQ:HASH] [--json]` and
 *      `triage ledger replay DRAFT_ID [--tenant T]`.
 *
 * verify walks a tenant's ledger and exits 1 naming the first row found
 * altered, missing or out of place.  replay prints, byte for byte, what
 * the model was given for a draft's decision and exits 1 unless its
 * SHA-256 is the prompt_hash recorded with it.  This file includes cli.h
 * but the library does not link tr_cli; the tr_cli_* calls resolve in
 * the triage binary.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "ledger.h"
#include "mem.h"

static const char ledger_help[] =
    "Usage: triage ledger verify --tenant NAME [--head SEQ:HASH] [--json]\n"
    "       triage ledger replay DRAFT_ID [--tenant NAME]\n"
    "\n"
    "  verify             recompute the hash chain of the tenant's ledger;\n"
    "                     exit 0 when intact, 1 naming the first row that\n"
    "                     was altered, removed or reordered\n"
    "  replay DRAFT_ID    print the exact model input recorded with the\n"
    "                     draft's decision on stdout; exit 1 unless its\n"
    "                     SHA-256 equals the recorded prompt_hash\n"
    "  --tenant NAME      the tenant (required for verify; replay finds\n"
    "                     it when the database owner sees every row)\n"
    "  --head SEQ:HASH    a head printed by an earlier verify: also fail\n"
    "                     when that row is gone or has another hash, which\n"
    "                     finds rows removed from the end\n"
    "  --json             print the verify result as one JSON object\n"
    "\n" TR_CLI_COMMON_HELP;

struct ledger_opts {
    bool verify;
    const char *tenant;
    const char *head;
    bool json;
    int64_t draft_id;
    int64_t anchor_seq;
    char anchor_hash[TR_LEDGER_HASH_LEN + 1];
};

/* A positive decimal int64, the whole string. */
static bool
parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0)
        return false;
    *out = v;
    return true;
}

/* "SEQ:HASH" with 64 hex digits, as verify prints the head. */
static bool
parse_head(const char *s, struct ledger_opts *o)
{
    const char *colon = strchr(s, ':');
    char seq[24];

    if (colon == NULL || (size_t)(colon - s) >= sizeof(seq)
        || strlen(colon + 1) != TR_LEDGER_HASH_LEN
        || strspn(colon + 1, "0123456789abcdefABCDEF") != TR_LEDGER_HASH_LEN)
        return false;
    memcpy(seq, s, (size_t)(colon - s));
    seq[colon - s] = '\0';
    snprintf(o->anchor_hash, sizeof(o->anchor_hash), "%s", colon + 1);
    return parse_id(seq, &o->anchor_seq);
}

/* Open the database with the schema current: verify needs the
 * functions and columns of 005_ledger.sql. */
static int
open_db(struct tr_cli *cli, struct tr_db **db)
{
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_db_open(&cli->conf, 2, db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(*db, NULL, &err);
    if (rc != TR_OK) {
        tr_db_close(*db, false);
        *db = NULL;
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }
    return TR_EXIT_OK;
}

/* The id of the tenant called `name`, through the app role, which may
 * ask exactly this through triage_tenant_id() and nothing more. */
static int
find_tenant(struct tr_cli *cli, struct tr_db *db, const char *name,
            int64_t *tenant_id)
{
    const char *p[1] = {name};
    struct tr_error err = {0};
    struct tr_db_conn *c;
    bool is_null = true;
    char buf[24];
    enum tr_err rc;

    rc = tr_db_conn_acquire(db, &c, &err);
    if (rc == TR_OK) {
        rc = tr_db_query_value(c, "SELECT triage_tenant_id($1)", 1, p, buf,
                               sizeof(buf), &is_null, &err);
        tr_db_conn_release(c);
    }
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    if (is_null)
        return tr_cli_fail(cli, "unknown tenant \"%s\"", name);
    *tenant_id = strtoll(buf, NULL, 10);
    return TR_EXIT_OK;
}

/* One JSON object; "head" is what to pass as --head next time. */
static void
print_report_json(const struct tr_ledger_report *rep, const char *tenant,
                  int64_t tenant_id)
{
    struct tr_buf b;

    tr_buf_init(&b, 0);
    tr_buf_puts(&b, "{\"tenant\":");
    tr_buf_json_str(&b, tenant);
    tr_buf_printf(&b, ",\"tenant_id\":%" PRId64 ",\"intact\":%s,"
                  "\"rows\":%" PRId64 ",\"head\":", tenant_id,
                  rep->fault == TR_LEDGER_INTACT ? "true" : "false",
                  rep->n_rows);
    if (rep->head_seq > 0)
        tr_buf_printf(&b, "{\"seq\":%" PRId64 ",\"hash\":\"%s\"}",
                      rep->head_seq, rep->head_hash);
    else
        tr_buf_puts(&b, "null");
    tr_buf_puts(&b, ",\"fault\":");
    if (rep->fault == TR_LEDGER_INTACT) {
        tr_buf_puts(&b, "null");
    } else {
        tr_buf_printf(&b, "{\"kind\":\"%s\",\"seq\":%" PRId64 ",\"id\":",
                      tr_ledger_fault_name(rep->fault), rep->fault_seq);
        if (rep->fault_id > 0)
            tr_buf_printf(&b, "%" PRId64, rep->fault_id);
        else
            tr_buf_puts(&b, "null");
        tr_buf_puts(&b, ",\"reason\":");
        tr_buf_json_str(&b, rep->reason);
        tr_buf_puts(&b, "}");
    }
    tr_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    tr_buf_cleanup(&b);
}

/* Exit 0 intact, 1 tampered or failed; the result goes to stdout
 * either way, errors to stderr. */
static int
ledger_verify(struct tr_cli *cli, const struct ledger_opts *o)
{
    struct tr_ledger_report rep;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    int64_t tid = 0;
    enum tr_err rc;
    int ex;

    ex = open_db(cli, &db);
    if (ex == TR_EXIT_OK)
        ex = find_tenant(cli, db, o->tenant, &tid);
    if (ex != TR_EXIT_OK) {
        tr_db_close(db, false);
        return ex;
    }
    rc = tr_ledger_verify(db, tid, o->anchor_seq,
                          o->anchor_seq > 0 ? o->anchor_hash : NULL, &rep,
                          &err);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));

    if (o->json)
        print_report_json(&rep, o->tenant, tid);
    else if (rep.fault == TR_LEDGER_INTACT)
        printf("ledger of tenant \"%s\" is intact: %" PRId64 " rows, head "
               "%" PRId64 ":%s\n", o->tenant, rep.n_rows, rep.head_seq,
               rep.head_hash);
    else
        printf("ledger of tenant \"%s\" was tampered with: %s at seq %"
               PRId64 ": %s\n", o->tenant, tr_ledger_fault_name(rep.fault),
               rep.fault_seq, rep.reason);
    return rep.fault == TR_LEDGER_INTACT ? TR_EXIT_OK : TR_EXIT_FAIL;
}

/*
 * Without --tenant, ask which tenant's ledger holds the draft, as the
 * owner (who sees every row only when it is a superuser, as with the
 * embedded cluster).
 */
static int
tenant_of_draft(struct tr_cli *cli, struct tr_db *db, int64_t draft_id,
                int64_t *tenant_id)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char did[24], buf[24];
    const char *p[1] = {did};
    enum tr_err rc;

    snprintf(did, sizeof(did), "%" PRId64, draft_id);
    rc = tr_db_conn_owner(db, &c, &err);
    if (rc == TR_OK) {
        rc = tr_db_query_value(c, "SELECT tenant_id FROM ledger "
                                  "WHERE draft_id = $1 LIMIT 1", 1, p, buf,
                               sizeof(buf), NULL, &err);
        tr_db_conn_release(c);
    }
    if (rc == TR_E_NOTFOUND)
        return tr_cli_fail(cli, "no ledger entry for draft %" PRId64 " is "
                           "visible without --tenant; name the tenant",
                           draft_id);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    *tenant_id = strtoll(buf, NULL, 10);
    return TR_EXIT_OK;
}

/* Fetch the draft's decision and check the row's own hash. */
static int
load_decision(struct tr_cli *cli, struct tr_db *db, int64_t tenant_id,
              int64_t draft_id, struct tr_ledger_entry *e)
{
    char mine[TR_LEDGER_HASH_LEN + 1];
    struct tr_error err = {0};
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_db_tx_begin(db, tenant_id, &c, &err);
    if (rc == TR_OK) {
        rc = tr_ledger_get_by_draft(c, draft_id, NULL, e, &err);
        tr_db_tx_rollback(c);
    }
    if (rc == TR_OK)
        rc = tr_ledger_entry_hash(e, mine, &err);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    if (strcmp(mine, e->hash) != 0)
        return tr_cli_fail(cli, "ledger entry seq %" PRId64 " for draft %"
                           PRId64 " does not match its hash: the record was "
                           "altered (run triage ledger verify)", e->seq,
                           draft_id);
    return TR_EXIT_OK;
}

/* Say on stderr whether the replayed bytes are what was recorded. */
static int
judge_replay(struct tr_cli *cli, int64_t draft_id,
             const struct tr_ledger_entry *e, size_t input_len,
             const char *recorded, const char *actual, bool matches)
{
    if (recorded[0] == '\0')
        return tr_cli_fail(cli, "draft %" PRId64 ": no prompt_hash was "
                           "recorded with seq %" PRId64, draft_id, e->seq);
    if (!matches)
        return tr_cli_fail(cli, "draft %" PRId64 ": the model input hashes "
                           "to sha256:%s, but seq %" PRId64 " recorded "
                           "prompt_hash %s", draft_id, actual, e->seq,
                           recorded);
    fprintf(stderr, "draft %" PRId64 ": %zu bytes from ledger seq %" PRId64
            ", sha256:%s matches the recorded prompt_hash\n", draft_id,
            input_len, e->seq, actual);
    return TR_EXIT_OK;
}

/*
 * The bytes are printed even when the hash does not match, so that an
 * operator can see what differs; the exit code and stderr say whether
 * they are what was recorded.
 */
static int
ledger_replay(struct tr_cli *cli, const struct ledger_opts *o)
{
    char recorded[TR_LEDGER_HASH_LEN + 8], actual[TR_LEDGER_HASH_LEN + 1];
    struct tr_ledger_entry e = {0};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    char *input = NULL;
    size_t input_len = 0;
    int64_t tid = 0;
    bool matches;
    int ex;

    ex = open_db(cli, &db);
    if (ex == TR_EXIT_OK)
        ex = o->tenant != NULL ? find_tenant(cli, db, o->tenant, &tid)
                               : tenant_of_draft(cli, db, o->draft_id, &tid);
    if (ex == TR_EXIT_OK)
        ex = load_decision(cli, db, tid, o->draft_id, &e);
    tr_db_close(db, false);
    if (ex != TR_EXIT_OK)
        goto out;
    if (tr_ledger_model_input(&e, &input, &input_len, recorded, actual,
                              &matches, &err) != TR_OK) {
        ex = tr_cli_fail(cli, "%s", tr_error_msg(&err));
        goto out;
    }

    /* The bytes alone go to stdout, so they can be piped or diffed. */
    if (fwrite(input, 1, input_len, stdout) != input_len
        || fflush(stdout) != 0)
        ex = tr_cli_fail(cli, "could not write the model input: %s",
                         strerror(errno));
    else
        ex = judge_replay(cli, o->draft_id, &e, input_len, recorded, actual,
                          matches);

out:
    free(input);
    tr_ledger_entry_cleanup(&e);
    return ex;
}

/* Options of both subcommands; --head and --json belong to verify. */
static int
parse_opts(struct tr_cli *cli, int argc, char **argv, struct ledger_opts *o)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"head", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 't') {
            o->tenant = optarg;
        } else if ((opt == 'H' || opt == 'j') && !o->verify) {
            return tr_cli_usage_error(cli, "option not valid for replay");
        } else if (opt == 'H') {
            if (!parse_head(optarg, o))
                return tr_cli_usage_error(cli, "--head wants SEQ:HASH with "
                                          "a 64-digit hex hash");
        } else if (opt == 'j') {
            o->json = true;
        } else {
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    return TR_EXIT_OK;
}

/* Positional arguments after the options. */
static int
check_args(struct tr_cli *cli, int argc, char **argv, struct ledger_opts *o)
{
    if (o->verify) {
        if (optind < argc)
            return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                      argv[optind]);
        if (o->tenant == NULL)
            return tr_cli_usage_error(cli, "--tenant is required");
        return TR_EXIT_OK;
    }
    if (optind + 1 != argc)
        return tr_cli_usage_error(cli, "replay takes one DRAFT_ID");
    if (!parse_id(argv[optind], &o->draft_id))
        return tr_cli_usage_error(cli, "\"%s\" is not a draft id",
                                  argv[optind]);
    return TR_EXIT_OK;
}

int
tr_cli_cmd_ledger(struct tr_cli *cli, int argc, char **argv)
{
    struct ledger_opts o = {0};
    int rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(ledger_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (verify, "
                                       "replay)");
    }
    o.verify = strcmp(argv[1], "verify") == 0;
    if (!o.verify && strcmp(argv[1], "replay") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"",
                                  argv[1]);

    /* getopt sees argv from the subcommand on. */
    argc--;
    argv++;
    rc = parse_opts(cli, argc, argv, &o);
    if (rc != TR_EXIT_OK)
        return rc;
    if (cli->want_help) {
        fputs(ledger_help, stdout);
        return TR_EXIT_OK;
    }
    rc = check_args(cli, argc, argv, &o);
    if (rc == TR_EXIT_OK)
        rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return o.verify ? ledger_verify(cli, &o) : ledger_replay(cli, &o);
}
