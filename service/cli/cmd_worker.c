/*
 * cmd_worker.c
 *      `triage worker`: run the job worker pool until SIGTERM or SIGINT.
 *
 * Opens the database (starting the embedded cluster when needed),
 * applies pending migrations, and runs the handlers that modules
 * registered with tr_queue_handler_register().  On a signal it stops
 * taking jobs, gives back claimed ones, lets running ones finish within
 * shutdown_grace, and stops the embedded cluster only if it started it.
 * The signals are blocked in every thread and taken by sigwait() on the
 * main thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "queue.h"

static const char worker_help[] =
    "Usage: triage worker [--threads N] [OPTIONS]\n"
    "\n"
    "Run job workers until SIGTERM or SIGINT, then finish running jobs\n"
    "(within shutdown_grace seconds) and exit.\n"
    "\n"
    "  --threads N          worker threads (default: the workers setting,\n"
    "                       or 1 when it is 0)\n"
    "\n" TR_CLI_COMMON_HELP;

static int
run_workers(struct tr_cli *cli, int threads)
{
    struct tr_queue_opts o;
    struct tr_queue_pool *pool = NULL;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    sigset_t sigs;
    enum tr_err rc;
    int sig = 0;

    /* Block before any thread starts, so that all inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    tr_queue_opts_from_conf(&o, &cli->conf);
    o.n_workers = threads > 0 ? threads : (o.n_workers > 0 ? o.n_workers : 1);
    rc = tr_cli_jobs_register(&cli->conf, &err);
    if (rc == TR_OK)
        rc = tr_db_open(&cli->conf, o.n_workers + 2, &db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_queue_pool_start(db, &o, &pool, &err);
    if (rc != TR_OK)
        goto out;

    TR_LOG_INFO("worker", "worker_start",
                TR_KVS(TR_KV_INT("threads", o.n_workers)),
                "worker pool running");
    while (sigwait(&sigs, &sig) != 0)
        ;
    TR_LOG_INFO("worker", "worker_stop", TR_KVS(TR_KV_INT("signal", sig)),
                "stopping on signal %d", sig);
    rc = tr_queue_pool_stop(pool, &err);
    if (rc == TR_E_TIMEOUT) {
        /* The lease of what still runs expires and another worker takes
         * it up.  Leave without waiting for the handlers; the database
         * stays open (and the embedded cluster running) under them. */
        TR_LOG_WARN("worker", "worker_grace_exceeded",
                    TR_KVS(TR_KV_STR("err", tr_error_msg(&err))),
                    "exiting with jobs still running");
        return TR_EXIT_FAIL;
    }
    tr_queue_pool_free(pool);
    tr_cli_jobs_release();

out:
    tr_db_close(db, true);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    return TR_EXIT_OK;
}

int
tr_cli_cmd_worker(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    int opt, rc, threads = 0;
    char *end;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 't') {
            threads = (int) strtol(optarg, &end, 10);
            if (*end != '\0' || threads < 1 || threads > 256)
                return tr_cli_usage_error(cli, "--threads wants 1 to 256, "
                                               "not \"%s\"", optarg);
            continue;
        }
        rc = tr_cli_common_opt(cli, opt, optarg);
        if (rc == 0)
            return tr_cli_bad_option(cli, argv);
        if (rc < 0)
            return TR_EXIT_USAGE;
    }
    if (cli->want_help) {
        fputs(worker_help, stdout);
        return TR_EXIT_OK;
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return run_workers(cli, threads);
}
