/*
 * cmd_reindex.c
 *      `triage reindex --tenant T`: build a new index version of the
 *      tenant's published articles and make it live.
 *
 * On a terminal, one progress line per stage is redrawn in place with
 * its rate and estimated time left; otherwise each stage logs
 * "reindex_progress" lines at most once a second.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "kb.h"
#include "log.h"

static const char reindex_help[] =
    "Usage: triage reindex --tenant NAME [--no-switch] [OPTIONS]\n"
    "\n"
    "Build a new search index of the tenant's published articles, store\n"
    "it in the database and make it live; the previous version stays for\n"
    "`triage kb rollback`.\n"
    "\n"
    "  --tenant NAME   the tenant (required)\n"
    "  --no-switch     store the new version as ready without going live\n"
    "\n" TR_CLI_COMMON_HELP;

/* State of the progress display. */
struct progress {
    bool tty;
    char stage[16];
    double stage_t0;
    double last;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
on_progress(void *ud, const char *stage, size_t done, size_t total)
{
    struct progress *p = ud;
    double t = now_s(), el, rate, eta;
    bool fresh = strcmp(p->stage, stage) != 0;

    if (fresh) {
        if (p->tty && p->stage[0] != '\0')
            fputc('\n', stderr);
        snprintf(p->stage, sizeof(p->stage), "%s", stage);
        p->stage_t0 = t;
        p->last = 0;
    }

    /* Redraw at most ten times a second, log at most once a second. */
    if (done < total && t - p->last < (p->tty ? 0.1 : 1.0))
        return;
    p->last = t;
    el = t - p->stage_t0;
    rate = el > 0 ? (double) done / el : 0;
    eta = rate > 0 && total > done ? (double) (total - done) / rate : 0;
    if (p->tty)
        fprintf(stderr, "\r%-9s %10zu/%-10zu %9.0f/s  ETA %5.1fs ", stage,
                done, total, rate, eta);
    else
        TR_LOG_INFO("cli", "reindex_progress", TR_KVS(TR_KV_STR("stage",
                    stage), TR_KV_INT("done", done),
                    TR_KV_INT("total", total), TR_KV_DBL("rate", rate),
                    TR_KV_DBL("eta_s", eta)), "reindex %s", stage);
}

static int
run_reindex(struct tr_cli *cli, const char *tenant, bool no_switch)
{
    struct tr_kb_reindex_opts o = {0};
    struct tr_kb_reindex_result r;
    struct progress p = {0};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    int64_t tid;
    enum tr_err rc;

    p.tty = isatty(STDERR_FILENO) != 0;
    o.progress = on_progress;
    o.progress_ud = &p;
    o.no_switch = no_switch;

    /* The reindex holds one pooled connection for its lock. */
    rc = tr_db_open(&cli->conf, 4, &db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_kb_tenant_find(db, tenant, &tid, &err);
    if (rc == TR_OK)
        rc = tr_kb_reindex(db, tid, &o, &r, &err);
    tr_db_close(db, false);
    if (p.tty && p.stage[0] != '\0')
        fputc('\n', stderr);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "reindex failed, live index unchanged: %s",
                           tr_error_msg(&err));

    printf("tenant \"%s\": index version %lld %s: %zu articles, %zu "
           "chunks, %s, %zu bytes, built in %.2f s, stored in %.2f s\n",
           tenant, (long long) r.version_id, no_switch ? "ready" : "live",
           r.n_articles, r.n_chunks, r.factory, r.n_bytes, r.build_s,
           r.store_s);
    return TR_EXIT_OK;
}

int
tr_cli_cmd_reindex(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"no-switch", no_argument, NULL, 'n'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    const char *tenant = NULL;
    bool no_switch = false;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 't') {
            tenant = optarg;
        } else if (opt == 'n') {
            no_switch = true;
        } else {
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (cli->want_help) {
        fputs(reindex_help, stdout);
        return TR_EXIT_OK;
    }
    if (tenant == NULL)
        return tr_cli_usage_error(cli, "--tenant is required");
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return run_reindex(cli, tenant, no_switch);
}
