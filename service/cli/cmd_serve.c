/*
 * cmd_serve.c
 *      `triage serve`: the HTTP service with in-process job workers.
 *
 * Builds the pieces in order (database environment and migrations, HTTP
 * server with its built-in endpoints and the routes of every module,
 * metrics collectors, the worker pool), then waits for SIGTERM or SIGINT
 * on the main thread.  Shutdown runs in the reverse order: stop accepting
 * and finish requests in flight, stop the workers (claimed jobs are given
 * back, running ones finish within shutdown_grace), close the database,
 * and stop the embedded cluster only if this process started it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "zendesk.h"

static const char serve_help[] =
    "Usage: triage serve [--listen HOST:PORT] [--workers N] [OPTIONS]\n"
    "\n"
    "Serve the HTTP API, webhooks and metrics, and run job workers in the\n"
    "same process.  With no database_url, the embedded PostgreSQL under\n"
    "data_dir is started (or reused when it already runs).  SIGTERM or\n"
    "SIGINT stops it gracefully.\n"
    "\n"
    "  --listen HOST:PORT   HTTP address (default 127.0.0.1:8080)\n"
    "  --workers N          job workers in this process; 0 runs none\n"
    "\n"
    "Endpoints: GET /healthz, GET /readyz, GET /metrics,\n"
    "POST /webhooks/zendesk/{tenant}, GET /api/v1/search.\n"
    "\n" TR_CLI_COMMON_HELP;

struct serve {
    struct tr_cli *cli;
    struct tr_db *db;
    struct tr_http_server *http;
    bool routes;
    struct tr_queue_pool *pool;

    /* the Zendesk pull schedule */
    pthread_t puller;
    bool puller_running;
    bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/*
 * The schedule of incremental pulls: every zendesk_pull_interval seconds
 * each tenant with Zendesk settings is pulled from its stored cursor.
 * The wait is on a condition variable so that shutdown ends it at once.
 */
static void *
pull_loop(void *arg)
{
    struct serve *sv = arg;
    int interval = sv->cli->conf.zendesk_pull_interval;
    struct timespec until;

    tr_log_set_req_id("zendesk-pull");
    pthread_mutex_lock(&sv->mu);
    while (!sv->stopping) {
        struct tr_error err = {0};

        pthread_mutex_unlock(&sv->mu);
        if (tr_zendesk_pull_all(sv->db, NULL, &err) != TR_OK)
            TR_LOG_WARN("serve", "pull_failed",
                        TR_KVS(TR_KV_STR("err", tr_err_name(err.code))),
                        "scheduled pull failed: %s", tr_error_msg(&err));
        pthread_mutex_lock(&sv->mu);

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval;
        while (!sv->stopping &&
               pthread_cond_timedwait(&sv->cv, &sv->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&sv->mu);
    return NULL;
}

static enum tr_err
start_puller(struct serve *sv, struct tr_error *err)
{
    pthread_condattr_t ca;

    if (sv->cli->conf.zendesk_pull_interval <= 0)
        return TR_OK;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sv->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sv->puller, NULL, pull_loop, sv) != 0)
        return TR_ERROR(err, TR_E_INTERNAL,
                        "could not start the pull schedule thread");
    sv->puller_running = true;
    return TR_OK;
}

static void
stop_puller(struct serve *sv)
{
    if (!sv->puller_running)
        return;
    pthread_mutex_lock(&sv->mu);
    sv->stopping = true;
    pthread_cond_broadcast(&sv->cv);
    pthread_mutex_unlock(&sv->mu);
    pthread_join(sv->puller, NULL);
    pthread_cond_destroy(&sv->cv);
    sv->puller_running = false;
}

/* Ready when the database answers and its schema is the binary's. */
static enum tr_err
ready_check(void *user, struct tr_error *err)
{
    struct serve *sv = user;

    return tr_db_schema_check(sv->db, err);
}

static enum tr_err
collect_queue(struct tr_buf *out, void *user)
{
    struct serve *sv = user;
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_queue_stats_prometheus(sv->db, out, &err);

    /*
     * A scrape while the database is away must still show the HTTP
     * figures, so the failure is logged and the queue part left out.
     */
    if (rc != TR_OK && rc != TR_E_TOOBIG) {
        TR_LOG_WARN("serve", "metrics_queue_failed",
                    TR_KVS(TR_KV_STR("err", tr_error_msg(&err))),
                    "could not read queue figures");
        return TR_OK;
    }
    return rc;
}

static enum tr_err
start_http(struct serve *sv, struct tr_error *err)
{
    struct tr_http_opts o;
    enum tr_err rc;

    tr_http_opts_from_conf(&o, &sv->cli->conf);
    rc = tr_http_server_new(&o, &sv->http, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_http_builtin_add(sv->http, err);
    if (rc != TR_OK)
        return rc;
    tr_http_server_set_ready(sv->http, ready_check, sv);
    rc = tr_metrics_collector_add(tr_http_server_metrics(sv->http),
                                  collect_queue, sv);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not register the queue metrics");
    rc = tr_cli_routes_register(sv->http, sv->db, err);
    if (rc != TR_OK)
        return rc;
    sv->routes = true;
    return tr_http_server_start(sv->http, err);
}

static enum tr_err
start_workers(struct serve *sv, struct tr_error *err)
{
    struct tr_queue_opts o;

    tr_queue_opts_from_conf(&o, &sv->cli->conf);
    if (o.n_workers <= 0 || tr_queue_handlers_count() == 0) {
        TR_LOG_INFO("serve", "workers_off",
                    TR_KVS(TR_KV_INT("workers", o.n_workers)),
                    "running no job workers in this process");
        return TR_OK;
    }
    return tr_queue_pool_start(sv->db, &o, &sv->pool, err);
}

/*
 * Stop in the reverse order of start.  The HTTP server goes first so
 * that no request enqueues work for a pool that is gone.
 */
static int
shut_down(struct serve *sv)
{
    struct tr_error err = {0};
    int status = TR_EXIT_OK;

    stop_puller(sv);
    if (sv->http != NULL &&
        tr_http_server_stop(sv->http, &err) == TR_E_TIMEOUT) {
        TR_LOG_WARN("serve", "http_grace_exceeded", NULL,
                    "requests still running at the end of the grace "
                    "period were cut off");
        status = TR_EXIT_FAIL;
    }
    if (sv->pool != NULL) {
        if (tr_queue_pool_stop(sv->pool, &err) == TR_E_TIMEOUT) {
            /* Their leases expire and another worker takes them up. */
            TR_LOG_WARN("serve", "worker_grace_exceeded", NULL,
                        "jobs still running at the end of the grace "
                        "period are left to their leases");
            return TR_EXIT_FAIL;
        }
        tr_queue_pool_free(sv->pool);
    }
    tr_cli_jobs_release();
    if (sv->http != NULL)
        tr_http_server_stop(sv->http, &err);
    if (sv->routes)
        tr_cli_routes_release();
    tr_http_server_free(sv->http);
    tr_db_close(sv->db, true);
    return status;
}

static int
run_serve(struct tr_cli *cli)
{
    struct serve sv = {.cli = cli, .mu = PTHREAD_MUTEX_INITIALIZER};
    struct tr_error err = {0};
    sigset_t sigs;
    enum tr_err rc;
    int sig = 0, n_applied = 0;

    /* Block before any thread starts, so that every thread inherits it
     * and only sigwait() below takes the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rc = tr_cli_jobs_register(&cli->conf, &err);
    if (rc == TR_OK)
        rc = tr_db_open(&cli->conf, 0, &sv.db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(sv.db, &n_applied, &err);
    if (rc == TR_OK)
        rc = start_http(&sv, &err);
    if (rc == TR_OK)
        rc = start_workers(&sv, &err);
    if (rc == TR_OK)
        rc = start_puller(&sv, &err);
    if (rc != TR_OK) {
        TR_LOG_ERROR("serve", "start_failed",
                     TR_KVS(TR_KV_STR("err", tr_err_name(rc))), "%s",
                     tr_error_msg(&err));
        shut_down(&sv);
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }

    TR_LOG_INFO("serve", "serve_started",
                TR_KVS(TR_KV_STR("listen", cli->conf.listen),
                       TR_KV_INT("port", tr_http_server_port(sv.http)),
                       TR_KV_STR("database", tr_db_url_masked(sv.db)),
                       TR_KV_INT("migrations_applied", n_applied)),
                "serving on port %d", tr_http_server_port(sv.http));

    while (sigwait(&sigs, &sig) != 0)
        ;
    TR_LOG_INFO("serve", "serve_stopping", TR_KVS(TR_KV_INT("signal", sig)),
                "stopping on signal %d", sig);
    rc = shut_down(&sv);
    TR_LOG_INFO("serve", "serve_stopped", NULL, "stopped");
    return rc;
}

int
tr_cli_cmd_serve(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'l') {
            tr_cli_override(cli, "listen", optarg);
            continue;
        }
        if (opt == 'w') {
            tr_cli_override(cli, "workers", optarg);
            continue;
        }
        rc = tr_cli_common_opt(cli, opt, optarg);
        if (rc == 0)
            return tr_cli_bad_option(cli, argv);
        if (rc < 0)
            return TR_EXIT_USAGE;
    }
    if (cli->want_help) {
        fputs(serve_help, stdout);
        return TR_EXIT_OK;
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return run_serve(cli);
}
