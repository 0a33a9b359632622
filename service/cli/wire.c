/*
 * wire.c
 *      What the processes of triage plug in: the job handlers of every
 *      module, and the routes and metrics collectors of `serve`.
 *
 * This is the one place that knows which modules contribute job kinds
 * and HTTP routes, so that `serve` and `worker` always run the same
 * handlers.  Main thread, at start-up and shutdown only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "db.h"
#include "http.h"
#include "kb_http.h"
#include "metrics.h"
#include "pipeline.h"
#include "zendesk.h"

/* The triage pipeline shared by the workers of this process. */
static struct tr_pipeline *pipeline;

enum tr_err
tr_cli_jobs_register(const struct tr_conf *conf, struct tr_error *err)
{
    struct tr_pipeline_opts po;
    enum tr_err rc;

    rc = tr_zendesk_jobs_register(NULL, err);
    if (rc == TR_OK)
        rc = tr_pipeline_opts_from_conf(&po, conf, err);
    if (rc == TR_OK && pipeline == NULL)
        rc = tr_pipeline_new(&po, &pipeline, err);
    if (rc == TR_OK)
        rc = tr_pipeline_jobs_register(pipeline, err);
    return rc;
}

void
tr_cli_jobs_release(void)
{
    tr_pipeline_free(pipeline);
    pipeline = NULL;
}

enum tr_err
tr_cli_routes_register(struct tr_http_server *http, struct tr_db *db,
                       struct tr_error *err)
{
    enum tr_err rc;

    rc = tr_zendesk_http_register(http, db, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_kb_http_register(http, db, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_metrics_collector_add(tr_http_server_metrics(http),
                                  tr_zendesk_metrics_collect, db);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not register the Zendesk metrics");
    return TR_OK;
}

void
tr_cli_routes_release(void)
{
    tr_zendesk_http_release();
}
