/*
 * reply.c
 *      What a handler sees of a request, and the helpers that build its
 *      response.
 *
 * Accessors read the request context and the libmicrohttpd connection;
 * reply helpers copy the body into a libmicrohttpd response held by the
 * context until the server queues it after the handler returns.  All of
 * this runs on the pool thread that serves the connection.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "log.h"

const char *
tr_http_req_method(const struct tr_http_req *req)
{
    return req->method;
}

const char *
tr_http_req_path(const struct tr_http_req *req)
{
    return req->path;
}

const char *
tr_http_req_route(const struct tr_http_req *req)
{
    return req->route != NULL ? req->route->name : NULL;
}

const char *
tr_http_req_param(const struct tr_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

const char *
tr_http_req_query(const struct tr_http_req *req, const char *name)
{
    const char *v;

    /* A bare "?flag" is stored without a value; report it as "". */
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), &v, NULL) != MHD_YES)
        return NULL;
    return v != NULL ? v : "";
}

/* libmicrohttpd compares header names ignoring case, as HTTP wants. */
const char *
tr_http_req_header(const struct tr_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/*
 * The buffer keeps the bytes as they came off the wire: webhook
 * signatures are computed over exactly these.
 */
const char *
tr_http_req_body(const struct tr_http_req *req, size_t *len)
{
    *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}

const char *
tr_http_req_id(const struct tr_http_req *req)
{
    return req->id;
}

struct tr_arena *
tr_http_req_arena(struct tr_http_req *req)
{
    return req->arena;
}

void
tr_http__reply_drop(struct tr_http_req *req)
{
    if (req->resp != NULL)
        MHD_destroy_response(req->resp);
    req->resp = NULL;
}

/*
 * Build the response without checking the status, for the server's own
 * error answers; the public helper adds the check.
 */
static enum tr_err
reply_any(struct tr_http_req *req, int status, const char *content_type,
          const void *body, size_t len)
{
    struct MHD_Response *r;

    /*
     * The body is copied because the caller's memory (often the request
     * arena) may be gone before the last byte is written to the socket.
     */
    r = MHD_create_response_from_buffer(len, (void *) body,
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return TR_E_NOMEM;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type) != MHD_YES) {
        MHD_destroy_response(r);
        return TR_E_NOMEM;
    }

    /* A later reply replaces an earlier one. */
    tr_http__reply_drop(req);
    req->resp = r;
    req->status = status;
    req->resp_len = len;
    return TR_OK;
}

enum tr_err
tr_http_reply(struct tr_http_req *req, int status, const char *content_type,
              const void *body, size_t len)
{
    if (status < 100 || status >= 400) {
        TR_LOG_ERROR("http", "bad_reply_status",
                     TR_KVS(TR_KV_INT("status", status)),
                     "handler replied with status %d, errors must use "
                     "tr_http_reply_error", status);
        return TR_E_INVAL;
    }
    return reply_any(req, status, content_type, body, len);
}

enum tr_err
tr_http_reply_json(struct tr_http_req *req, int status, const char *json)
{
    return tr_http_reply(req, status, "application/json", json,
                         strlen(json));
}

enum tr_err
tr_http_reply_text(struct tr_http_req *req, int status, const char *text)
{
    return tr_http_reply(req, status, "text/plain; charset=utf-8", text,
                         strlen(text));
}

enum tr_err
tr_http__reply_error_status(struct tr_http_req *req, const struct tr_error *e,
                            int status)
{
    const char *msg = tr_error_msg(e);
    struct tr_buf b;
    enum tr_err rc;

    /* Server-side failures keep their detail in the log only. */
    if (status >= 500) {
        if (e->msg[0] != '\0')
            TR_LOG_ERROR("http", "request_failed",
                         TR_KVS(TR_KV_STR("err", tr_err_name(e->code)),
                                TR_KV_STR("foreign", e->foreign)),
                         "%s", e->msg);
        msg = tr_err_str(e->code);
    }

    tr_buf_init(&b, 4096);
    rc = tr_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":",
                       tr_err_slug(e->code));
    if (rc == TR_OK)
        rc = tr_buf_json_str(&b, msg);
    if (rc == TR_OK)
        rc = tr_buf_puts(&b, "}}");

    /* A message too long for the buffer is cut rather than lost. */
    if (rc == TR_E_TOOBIG) {
        tr_buf_reset(&b);
        rc = tr_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":"
                           "\"%s\"}}", tr_err_slug(e->code),
                           tr_err_str(e->code));
    }
    if (rc == TR_OK)
        rc = reply_any(req, status, "application/json", b.data, b.len);
    tr_buf_cleanup(&b);
    return rc;
}

enum tr_err
tr_http_reply_error(struct tr_http_req *req, const struct tr_error *e)
{
    return tr_http__reply_error_status(req, e, tr_err_http_status(e->code));
}

enum tr_err
tr_http_reply_err(struct tr_http_req *req, enum tr_err code, const char *fmt,
                  ...)
{
    struct tr_error e = {0};
    va_list ap;

    e.code = code;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    return tr_http_reply_error(req, &e);
}

/* An HTTP token: visible ASCII without separators. */
static bool
is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 127 ||
            strchr("()<>@,;:\\\"/[]?={}", *s) != NULL)
            return false;
    return true;
}

enum tr_err
tr_http_header_add(struct tr_http_req *req, const char *name,
                   const char *value)
{
    struct tr_http_hdr *h;

    /*
     * CR or LF in a value would let a caller inject headers; the two
     * headers the server owns cannot be overridden.
     */
    if (!is_token(name) || strpbrk(value, "\r\n") != NULL ||
        strcasecmp(name, "X-Request-Id") == 0 ||
        strcasecmp(name, "Content-Length") == 0)
        return TR_E_INVAL;
    h = tr_arena_alloc(req->arena, sizeof(*h));
    if (h == NULL)
        return TR_E_NOMEM;
    h->name = tr_arena_strdup(req->arena, name);
    h->value = tr_arena_strdup(req->arena, value);
    if (h->name == NULL || h->value == NULL)
        return TR_E_NOMEM;
    h->next = req->headers;
    req->headers = h;
    return TR_OK;
}

/*
 * Queue the prepared response with the server's headers.  Without one
 * (a handler that forgot to reply, or memory running out) a plain 500 is
 * sent so that the client is never left waiting.
 */
enum MHD_Result
tr_http__queue(struct tr_http_req *req)
{
    enum MHD_Result ok;
    bool stopping;

    if (req->resp == NULL) {
        struct tr_error e = {.code = TR_E_INTERNAL};

        if (tr_http__reply_error_status(req, &e, 500) != TR_OK)
            return MHD_NO;
    }
    /* Handler headers first, then the ones every response carries. */
    for (struct tr_http_hdr *h = req->headers; h != NULL; h = h->next)
        MHD_add_response_header(req->resp, h->name, h->value);
    MHD_add_response_header(req->resp, "X-Request-Id", req->id);

    /* While stopping, ask keep-alive clients to go elsewhere. */
    pthread_mutex_lock(&req->srv->lock);
    stopping = req->srv->stopping;
    pthread_mutex_unlock(&req->srv->lock);
    if (stopping)
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONNECTION,
                                "close");

    /* The connection holds its own reference once queued. */
    ok = MHD_queue_response(req->conn, (unsigned) req->status, req->resp);
    tr_http__reply_drop(req);
    req->queued = ok == MHD_YES;
    return ok;
}
