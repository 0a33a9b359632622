/*
 * httpc.c
 *      One attempt of an outbound HTTP request over libcurl.
 *
 * This is the only file of triage that includes libcurl.  A client keeps
 * one easy handle; curl_easy_reset() between requests clears the options
 * but keeps the connection cache, which is how connections are reused.
 * The header callback keeps only the few headers the retry policy and
 * callers read, and the write callback fills a capped buffer.  Runs on
 * the thread that owns the client.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "httpc.h"
#include "log.h"

#define TR_HTTPC_DEFAULT_MAX_RESPONSE ((size_t) 8 << 20)

struct tr_httpc {
    CURL *h;
    struct tr_httpc_opts opts;
    char errbuf[CURL_ERROR_SIZE];
};

/* State shared by the callbacks during one transfer. */
struct transfer {
    struct tr_httpc_resp *resp;
    bool too_big;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

/*
 * curl_global_init() is not thread-safe, so it runs exactly once, from
 * whichever thread gets here first (main, in practice).
 */
static void
global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum tr_err
tr_httpc_global_init(struct tr_error *err)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK)
        return TR_ERROR(err, TR_E_INTERNAL,
                        "could not initialise libcurl: %s",
                        curl_easy_strerror(global_rc));
    return TR_OK;
}

/*
 * Defaults follow the OpenAI and Anthropic SDKs: 5 s to connect, 600 s
 * for the whole request.  The easy handle is made once and reused.
 */
struct tr_httpc *
tr_httpc_new(const struct tr_httpc_opts *opts, struct tr_error *err)
{
    struct tr_httpc *c;

    if (tr_httpc_global_init(err) != TR_OK)
        return NULL;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (opts != NULL)
        c->opts = *opts;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = 5000;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = 600000;
    if (c->opts.user_agent == NULL)
        c->opts.user_agent = "triage/0.1";

    c->h = curl_easy_init();
    if (c->h == NULL) {
        free(c);
        TR_ERROR(err, TR_E_INTERNAL, "could not create a libcurl handle");
        return NULL;
    }
    return c;
}

/* Cleaning the handle closes its cached connections. */
void
tr_httpc_free(struct tr_httpc *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->h);
    free(c);
}

void
tr_httpc_resp_init(struct tr_httpc_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    tr_buf_init(&resp->body, TR_HTTPC_DEFAULT_MAX_RESPONSE);
    resp->should_retry = -1;
}

void
tr_httpc_resp_cleanup(struct tr_httpc_resp *resp)
{
    tr_buf_cleanup(&resp->body);
    tr_httpc_resp_init(resp);
}

/* Forget the headers of an earlier block (a 100 Continue, say). */
static void
reset_headers(struct tr_httpc_resp *resp)
{
    resp->content_type[0] = '\0';
    resp->retry_after[0] = '\0';
    resp->retry_after_ms[0] = '\0';
    resp->rate_limit_remaining[0] = '\0';
    resp->should_retry = -1;
}

/* Copy the trimmed value `v` (`n` bytes) into `dst`, truncating. */
static void
copy_value(char *dst, size_t dst_len, const char *v, size_t n)
{
    while (n > 0 && isspace((unsigned char) *v)) {
        v++;
        n--;
    }
    while (n > 0 && isspace((unsigned char) v[n - 1]))
        n--;
    if (n >= dst_len)
        n = dst_len - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* True when the header line starts with `name` followed by a colon. */
static bool
header_is(const char *line, size_t n, const char *name, size_t *val_off)
{
    size_t len = strlen(name);

    if (n <= len || line[len] != ':' || strncasecmp(line, name, len) != 0)
        return false;
    *val_off = len + 1;
    return true;
}

/*
 * libcurl calls this once per header line, status lines included.  Only
 * the headers the policy needs are copied; the rest, Set-Cookie and
 * friends, are dropped unseen.
 */
static size_t
on_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct transfer *t = arg;
    struct tr_httpc_resp *r = t->resp;
    size_t n = size * nitems;
    size_t off;
    char flag[8];

    /* Each status line starts a new header block. */
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        reset_headers(r);
        return n;
    }

    if (header_is(line, n, "content-type", &off))
        copy_value(r->content_type, sizeof(r->content_type), line + off,
                   n - off);
    else if (header_is(line, n, "retry-after", &off))
        copy_value(r->retry_after, sizeof(r->retry_after), line + off,
                   n - off);
    else if (header_is(line, n, "retry-after-ms", &off))
        copy_value(r->retry_after_ms, sizeof(r->retry_after_ms),
                   line + off, n - off);
    else if (header_is(line, n, "x-rate-limit-remaining", &off))
        copy_value(r->rate_limit_remaining,
                   sizeof(r->rate_limit_remaining), line + off, n - off);
    else if (header_is(line, n, "x-should-retry", &off)) {
        copy_value(flag, sizeof(flag), line + off, n - off);
        if (strcasecmp(flag, "true") == 0)
            r->should_retry = 1;
        else if (strcasecmp(flag, "false") == 0)
            r->should_retry = 0;
    }
    return n;
}

/* Body bytes go to the capped buffer of the response. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * nmemb;

    /* Returning less than n makes libcurl stop with CURLE_WRITE_ERROR. */
    if (tr_buf_append(&t->resp->body, data, n) != TR_OK) {
        t->too_big = true;
        return 0;
    }
    return n;
}

/* Print the URL without its query, which may be long, into `out`. */
static const char *
url_for_msg(const char *url, char *out, size_t out_len)
{
    size_t n = strcspn(url, "?#");

    snprintf(out, out_len, "%.*s", (int) (n > 200 ? 200 : n), url);
    return out;
}

/* Set the method and body options of one transfer. */
static void
set_method(CURL *h, const struct tr_httpc_req *req)
{
    bool has_body = req->body != NULL;

    if (strcmp(req->method, "GET") == 0 && !has_body) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }

    /* A body (possibly empty) plus the method name covers PUT and DELETE
     * with or without content; libcurl then sends Content-Length. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, has_body ? req->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) (has_body ? req->body_len : 0));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
}

/* Build the header list; NULL with *ok false when out of memory. */
static struct curl_slist *
build_headers(const struct tr_httpc_req *req, bool *ok)
{
    struct curl_slist *list = NULL, *next;

    *ok = true;
    for (size_t i = 0; i < req->n_headers; i++) {
        next = curl_slist_append(list, req->headers[i]);
        if (next == NULL)
            goto fail;
        list = next;
    }

    /* Never wait for a 100 Continue round trip on large bodies. */
    next = curl_slist_append(list, "Expect:");
    if (next == NULL)
        goto fail;
    return next;

fail:
    curl_slist_free_all(list);
    *ok = false;
    return NULL;
}

/*
 * Options of one transfer.  Redirects are not followed (an API answer
 * that redirects is an error to see, and following could carry the
 * Authorization header elsewhere); only http and https are allowed;
 * compressed answers are accepted and the cap applies after decoding.
 */
static void
set_options(struct tr_httpc *c, const struct tr_httpc_req *req,
            struct transfer *t, struct curl_slist *headers)
{
    CURL *h = c->h;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : c->opts.timeout_ms;

    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->opts.ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->opts.ca_file);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->opts.user_agent);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    set_method(h, req);
}

/* Turn a failed transfer into our code with a message for the user. */
static enum tr_err
map_curl_error(struct tr_httpc *c, const struct tr_httpc_req *req,
               const struct transfer *t, CURLcode cc, struct tr_error *err)
{
    char url[256], foreign[32];
    const char *why = c->errbuf[0] != '\0' ? c->errbuf
                                           : curl_easy_strerror(cc);
    enum tr_err rc;

    url_for_msg(req->url, url, sizeof(url));
    if (cc == CURLE_WRITE_ERROR && t->too_big)
        rc = TR_ERROR(err, TR_E_TOOBIG,
                      "response from \"%s\" is larger than %zu bytes", url,
                      t->resp->body.max);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        rc = TR_ERROR(err, TR_E_TIMEOUT, "request to \"%s\" timed out: %s",
                      url, why);
    else if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
        rc = TR_ERROR(err, TR_E_INVAL, "invalid URL \"%s\": %s", url, why);
    else if (cc == CURLE_COULDNT_CONNECT)
        rc = TR_ERROR(err, TR_E_HTTP_UPSTREAM,
                      "could not connect to \"%s\": %s", url, why);
    else
        rc = TR_ERROR(err, TR_E_HTTP_UPSTREAM,
                      "request to \"%s\" failed: %s", url, why);

    snprintf(foreign, sizeof(foreign), "CURLE %d", (int) cc);
    tr_error_foreign(err, foreign);
    return rc;
}

/*
 * One attempt.  The header list is built per request and released on
 * every path; the handle is reset first so no option of an earlier
 * request leaks into this one, while its connection cache survives.
 */
enum tr_err
tr_httpc_send(struct tr_httpc *c, const struct tr_httpc_req *req,
              struct tr_httpc_resp *resp, struct tr_error *err)
{
    struct transfer t = {resp, false};
    struct curl_slist *headers;
    enum tr_err rc = TR_OK;
    CURLcode cc;
    long status = 0;
    bool ok;

    if (req->method == NULL || req->url == NULL || req->url[0] == '\0')
        return TR_ERROR(err, TR_E_INVAL, "request needs a method and a URL");

    /* Start from an empty answer with this request's cap. */
    tr_buf_cleanup(&resp->body);
    tr_buf_init(&resp->body, req->max_response > 0
                                 ? req->max_response
                                 : TR_HTTPC_DEFAULT_MAX_RESPONSE);
    resp->status = 0;
    reset_headers(resp);

    headers = build_headers(req, &ok);
    if (!ok)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    curl_easy_reset(c->h);
    c->errbuf[0] = '\0';
    set_options(c, req, &t, headers);

    cc = curl_easy_perform(c->h);
    if (cc != CURLE_OK) {
        rc = map_curl_error(c, req, &t, cc, err);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int) status;

out:
    /* The handle still points at the list until the next reset. */
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return rc;
}
