/*
 * openai.c
 *      The "openai" embedder: a client of any OpenAI-compatible
 *      POST /v1/embeddings.
 *
 * tr_embedder_embed() cuts the input into batches of max_batch; each
 * batch becomes one request carrying the non-blank texts (the API
 * refuses empty strings; blank texts keep a zero row, as the local
 * embedder gives a text without features).  "encoding_format":"float"
 * is always sent because some client libraries default to base64.  Rows
 * are placed by the "index" of each item, never by position, and every
 * vector must have exactly the configured dimension.
 *
 * HTTP goes through tr_httpc with the OpenAI retry preset.  The
 * embedder may be used from several threads at once while an HTTP
 * client belongs to one thread, so each batch borrows a client from a
 * small pool.  The API key is sent in its header only; error messages
 * are scrubbed of it because providers echo a refused key.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "embed.h"
#include "httpc.h"

#define POOL 4
#define MAX_BATCH_LIMIT 2048
#define RESPONSE_MAX ((size_t) 256 << 20)

struct openai {
    char *url;                  /* base_url + "/embeddings" */
    char *key;
    char *model;
    int dim;
    bool send_dim;
    long timeout_ms;
    long connect_timeout_ms;
    struct tr_httpc_policy policy;
    pthread_mutex_t lock;       /* guards idle and n_idle */
    struct tr_httpc *idle[POOL];
    int n_idle;
};

void
tr_embed_openai_opts_default(struct tr_embed_openai_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->base_url = "https://api.openai.com/v1";
    o->max_batch = 64;
    o->timeout_ms = 30000;
    o->connect_timeout_ms = 5000;
    o->max_retries = 2;
}

static void
openai_free(void *impl)
{
    struct openai *p = impl;

    if (p == NULL)
        return;
    for (int i = 0; i < p->n_idle; i++)
        tr_httpc_free(p->idle[i]);
    if (p->key != NULL)
        explicit_bzero(p->key, strlen(p->key));
    free(p->url);
    free(p->key);
    free(p->model);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static struct tr_httpc *
client_get(struct openai *p, struct tr_error *err)
{
    struct tr_httpc_opts o = {0};
    struct tr_httpc *c = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->n_idle > 0)
        c = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->lock);
    if (c != NULL)
        return c;
    o.connect_timeout_ms = p->connect_timeout_ms;
    o.timeout_ms = p->timeout_ms;
    return tr_httpc_new(&o, err);
}

static void
client_put(struct openai *p, struct tr_httpc *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->n_idle < POOL) {
        p->idle[p->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    tr_httpc_free(c);
}

/* Replace the key wherever a message quotes it. */
static void
scrub_key(struct tr_error *err, const char *key)
{
    static const char mark[] = "[redacted]";
    size_t n = strlen(key);
    char *p;

    /* Short keys are not scrubbed: they would blank out plain words. */
    if (err == NULL || n < sizeof(mark) - 1)
        return;
    while ((p = strstr(err->msg, key)) != NULL) {
        memcpy(p, mark, sizeof(mark) - 1);
        memmove(p + sizeof(mark) - 1, p + n, strlen(p + n) + 1);
    }
}

static bool
blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* The request body for the texts `idx` points at; NULL: no memory. */
static char *
build_body(const struct openai *p, const char *const *texts,
           const size_t *idx, size_t m)
{
    cJSON *o = cJSON_CreateObject(), *in;
    char *s;

    cJSON_AddStringToObject(o, "model", p->model);
    in = cJSON_AddArrayToObject(o, "input");
    for (size_t i = 0; i < m; i++)
        cJSON_AddItemToArray(in, cJSON_CreateString(texts[idx[i]]));
    cJSON_AddStringToObject(o, "encoding_format", "float");
    if (p->send_dim)
        cJSON_AddNumberToObject(o, "dimensions", p->dim);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Copy one item's vector into its row; TR_E_MODEL when it is wrong. */
static enum tr_err
read_item(const struct openai *p, const cJSON *it, size_t m,
          const size_t *idx, bool *seen, float *out, struct tr_error *err)
{
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "index");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "embedding");
    const cJSON *x;
    float *row;
    int k = 0, n;

    if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 ||
        ix->valuedouble >= (double) m || seen[(size_t) ix->valuedouble])
        return TR_ERROR(err, TR_E_MODEL, "embedding answer of \"%s\" has "
                        "a missing, repeated or out-of-range index",
                        p->model);
    n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n != p->dim)
        return TR_ERROR(err, TR_E_MODEL, "embedding model \"%s\" answered "
                        "vectors of %d dimensions, expected %d", p->model,
                        cJSON_IsArray(v) ? n : 0, p->dim);

    seen[(size_t) ix->valuedouble] = true;
    row = out + idx[(size_t) ix->valuedouble] * (size_t) p->dim;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsNumber(x))
            return TR_ERROR(err, TR_E_MODEL, "embedding of \"%s\" holds a "
                            "value that is not a number", p->model);
        row[k++] = (float) x->valuedouble;
    }
    return TR_OK;
}

static enum tr_err
read_answer(const struct openai *p, const struct tr_httpc_resp *resp,
            size_t m, const size_t *idx, float *out, struct tr_error *err)
{
    cJSON *o = cJSON_ParseWithLength(resp->body.data, resp->body.len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    const cJSON *it;
    bool *seen = calloc(m, sizeof(*seen));
    enum tr_err rc = TR_OK;

    if (seen == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    if (!cJSON_IsArray(data) || (size_t) cJSON_GetArraySize(data) != m) {
        rc = TR_ERROR(err, TR_E_MODEL, "embedding answer of \"%s\" is not "
                      "JSON with %zu items in \"data\"", p->model, m);
        goto out;
    }
    cJSON_ArrayForEach(it, data) {
        rc = read_item(p, it, m, idx, seen, out, err);
        if (rc != TR_OK)
            goto out;
    }

out:
    free(seen);
    cJSON_Delete(o);
    return rc;
}

/* Map a non-2xx answer to our code, quoting the provider's message. */
static enum tr_err
status_error(const struct openai *p, const struct tr_httpc_resp *resp,
             struct tr_error *err)
{
    cJSON *o = cJSON_ParseWithLength(resp->body.data, resp->body.len);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "error"), "message");
    enum tr_err rc;

    switch (resp->status) {
    case 401: rc = TR_E_AUTH; break;
    case 403: rc = TR_E_PERM; break;
    case 408: case 409: case 429: rc = TR_E_AGAIN; break;
    default: rc = resp->status >= 500 ? TR_E_HTTP_UPSTREAM : TR_E_MODEL;
    }
    TR_ERROR(err, rc, "embedding service answered HTTP %d after %d "
             "attempt%s%s%.200s", resp->status, resp->n_attempts,
             resp->n_attempts == 1 ? "" : "s",
             cJSON_IsString(msg) ? ": " : "",
             cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_Delete(o);
    return rc;
}

/* Send one request for the `m` texts at `idx` and fill their rows. */
static enum tr_err
embed_some(struct openai *p, const char *const *texts, const size_t *idx,
           size_t m, float *out, struct tr_error *err)
{
    const char *h[3] = {"Content-Type: application/json",
                        "Accept: application/json", NULL};
    struct tr_httpc_req req = {0};
    struct tr_httpc_resp resp;
    struct tr_httpc *hc = NULL;
    char auth[600], *body = build_body(p, texts, idx, m);
    enum tr_err rc;

    tr_httpc_resp_init(&resp);
    if (body == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->key);
    h[2] = auth;
    req.method = "POST";
    req.url = p->url;
    req.headers = h;
    req.n_headers = p->key[0] != '\0' ? 3 : 2;
    req.body = body;
    req.body_len = strlen(body);
    req.max_response = RESPONSE_MAX;
    req.timeout_ms = p->timeout_ms;

    hc = client_get(p, err);
    rc = hc != NULL ? tr_httpc_request(hc, &p->policy, NULL, NULL, &req,
                                       &resp, err)
                    : TR_E_NOMEM;
    explicit_bzero(auth, sizeof(auth));
    if (rc == TR_E_TIMEOUT)
        TR_ERROR(err, rc, "embedding service did not answer within %ld ms "
                 "(%d attempts)", p->timeout_ms, resp.n_attempts);
    else if (rc == TR_OK && (resp.status < 200 || resp.status > 299))
        rc = status_error(p, &resp, err);
    else if (rc == TR_OK)
        rc = read_answer(p, &resp, m, idx, out, err);

out:
    if (rc != TR_OK)
        scrub_key(err, p->key);
    client_put(p, hc);
    tr_httpc_resp_cleanup(&resp);
    free(body);
    return rc;
}

static enum tr_err
openai_embed(void *impl, const char *const *texts, size_t n, float *out,
             struct tr_error *err)
{
    struct openai *p = impl;
    size_t *idx = malloc(sizeof(*idx) * (n > 0 ? n : 1)), m = 0;
    enum tr_err rc = TR_OK;

    if (idx == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    /* Blank texts keep a zero row and are never sent. */
    memset(out, 0, sizeof(*out) * n * (size_t) p->dim);
    for (size_t i = 0; i < n; i++)
        if (!blank(texts[i]))
            idx[m++] = i;
    if (m > 0)
        rc = embed_some(p, texts, idx, m, out, err);
    free(idx);
    return rc;
}

static const struct tr_embedder_ops openai_ops = {
    openai_embed,
    NULL,
    openai_free,
};

static enum tr_err
opts_check(const struct tr_embed_openai_opts *o, struct tr_error *err)
{
    if (o == NULL || o->model == NULL || o->model[0] == '\0')
        return TR_ERROR(err, TR_E_CONF, "the openai embedder needs a "
                        "model name");
    if (o->base_url == NULL || (strncmp(o->base_url, "http://", 7) != 0 &&
                                strncmp(o->base_url, "https://", 8) != 0))
        return TR_ERROR(err, TR_E_CONF, "the openai embedder needs an "
                        "http or https base URL");
    if (o->dim <= 0 || o->max_batch > MAX_BATCH_LIMIT ||
        o->timeout_ms < 0 || o->connect_timeout_ms < 0 ||
        o->max_retries < 0)
        return TR_ERROR(err, TR_E_CONF, "the openai embedder needs dim > "
                        "0, max_batch <= %d and no negative timeout or "
                        "retry count", MAX_BATCH_LIMIT);
    return TR_OK;
}

struct tr_embedder *
tr_embed_openai_new(const struct tr_embed_openai_opts *o,
                    struct tr_error *err)
{
    struct openai *p;
    char name[TR_EMBED_NAME_MAX];
    size_t n;

    if (opts_check(o, err) != TR_OK)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto nomem;
    pthread_mutex_init(&p->lock, NULL);
    n = strlen(o->base_url);
    while (n > 0 && o->base_url[n - 1] == '/')
        n--;
    if (asprintf(&p->url, "%.*s/embeddings", (int) n, o->base_url) < 0) {
        p->url = NULL;
        goto nomem;
    }
    p->key = strdup(o->api_key != NULL ? o->api_key : "");
    p->model = strdup(o->model);
    if (p->key == NULL || p->model == NULL)
        goto nomem;
    p->dim = o->dim;
    p->send_dim = o->send_dimensions;
    p->timeout_ms = o->timeout_ms;
    p->connect_timeout_ms = o->connect_timeout_ms;
    if (o->policy != NULL)
        p->policy = *o->policy;
    else {
        tr_httpc_policy_preset(&p->policy, TR_HTTPC_PRESET_OPENAI);
        p->policy.max_retries = o->max_retries;
    }

    /* The embedder takes p, and frees it on failure too. */
    snprintf(name, sizeof(name), "openai:%s", o->model);
    return tr_embedder_new(name, o->dim,
                           o->max_batch > 0 ? o->max_batch : 64,
                           &openai_ops, p, err);

nomem:
    openai_free(p);
    TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return NULL;
}
