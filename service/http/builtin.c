/*
 * builtin.c
 *      The endpoints every server offers: liveness, readiness and the
 *      Prometheus scrape.
 *
 * /healthz answers as long as the process serves at all; /readyz asks the
 * readiness callback of the composition root; /metrics renders the
 * registry, collectors included.  They run on pool threads like any
 * handler.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "http_int.h"

/* Largest scrape answer; far above what the registry's caps allow. */
#define METRICS_MAX (16u * 1024u * 1024u)

static enum tr_err
serve_health(struct tr_http_req *req, void *user, struct tr_error *err)
{
    return tr_http_reply_json(req, 200, "{\"status\":\"ok\"}");
}

/*
 * Readiness is binary for a load balancer: any failure is 503, whatever
 * status the code would carry in an API answer.
 */
static enum tr_err
serve_ready(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct tr_http_server *s = user;
    struct tr_error why = {0};
    enum tr_err rc;

    if (s->ready == NULL)
        return tr_http_reply_json(req, 200, "{\"status\":\"ready\"}");
    rc = s->ready(s->ready_user, &why);
    if (rc == TR_OK)
        return tr_http_reply_json(req, 200, "{\"status\":\"ready\"}");
    if (why.code != rc)
        tr_error_clear(&why);
    why.code = rc;
    return tr_http__reply_error_status(req, &why, 503);
}

static enum tr_err
serve_metrics(struct tr_http_req *req, void *user, struct tr_error *err)
{
    struct tr_http_server *s = user;
    struct tr_buf b;
    enum tr_err rc;

    tr_buf_init(&b, METRICS_MAX);
    rc = tr_metrics_render(s->metrics, &b);
    if (rc == TR_OK)
        rc = tr_http_reply(req, 200, "text/plain; version=0.0.4; "
                           "charset=utf-8", b.data != NULL ? b.data : "",
                           b.len);
    else
        TR_ERROR(err, rc, "could not render metrics");
    tr_buf_cleanup(&b);
    return rc;
}

enum tr_err
tr_http_builtin_add(struct tr_http_server *s, struct tr_error *err)
{
    enum tr_err rc;

    rc = tr_http_route_add(s, "GET", "/healthz", "healthz", serve_health, s,
                           err);
    if (rc == TR_OK)
        rc = tr_http_route_add(s, "GET", "/readyz", "readyz", serve_ready, s,
                               err);
    if (rc == TR_OK)
        rc = tr_http_route_add(s, "GET", "/metrics", "metrics",
                               serve_metrics, s, err);
    return rc;
}
