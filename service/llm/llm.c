/*
 * llm.c
 *      The provider object, its pool of HTTP clients, and one call, a
 *      draft or a classification, from request to checked answer.
 *
 * A call builds the body (pure, so the ledger can rebuild it), hashes
 * it, sends it under the provider's retry policy, and hands the answer
 * to the API's parser.  Whatever happens, the result keeps the body, the
 * hash and the raw answer.  Error messages may quote a provider's own
 * message, which can echo the API key: every message is scrubbed of the
 * key before it leaves, and the log line carries ids, counts and the
 * hash only.
 *
 * The provider is shared between threads: an HTTP client belongs to one
 * thread at a time, so each call borrows one from a small pool (or
 * makes one) and gives it back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "llm_int.h"
#include "log.h"

#define ANTHROPIC_VERSION "2023-06-01"

void
tr_llm_conf_default(struct tr_llm_conf *c, enum tr_llm_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->base_url = kind == TR_LLM_ANTHROPIC ? "https://api.anthropic.com"
                                           : "https://api.openai.com/v1";
    c->timeout_ms = 60000;
    c->connect_timeout_ms = 5000;
    c->max_retries = 2;
    c->max_tokens = 1024;
    c->temperature = 0.2;
}

const char *
tr_llm_kind_name(enum tr_llm_kind kind)
{
    switch (kind) {
    case TR_LLM_OPENAI: return "openai";
    case TR_LLM_ANTHROPIC: return "anthropic";
    }
    return "unknown";
}

enum tr_err
tr_llm_kind_parse(const char *s, enum tr_llm_kind *out, struct tr_error *err)
{
    if (s != NULL && strcmp(s, "openai") == 0)
        *out = TR_LLM_OPENAI;
    else if (s != NULL && strcmp(s, "anthropic") == 0)
        *out = TR_LLM_ANTHROPIC;
    else
        return TR_ERROR(err, TR_E_CONF, "unknown model provider \"%s\": "
                        "use \"openai\" or \"anthropic\"",
                        s != NULL ? s : "");
    return TR_OK;
}

void
tr_llm_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

static enum tr_err
conf_check(const struct tr_llm_conf *c, struct tr_error *err)
{
    if (c == NULL || (c->kind != TR_LLM_OPENAI &&
                      c->kind != TR_LLM_ANTHROPIC))
        return TR_ERROR(err, TR_E_CONF, "unknown model provider kind");
    if (c->model == NULL || c->model[0] == '\0')
        return TR_ERROR(err, TR_E_CONF, "model provider \"%s\" needs a "
                        "model name", tr_llm_kind_name(c->kind));
    if (c->base_url == NULL || (strncmp(c->base_url, "http://", 7) != 0 &&
                                strncmp(c->base_url, "https://", 8) != 0))
        return TR_ERROR(err, TR_E_CONF, "model provider \"%s\" needs an "
                        "http or https base URL", tr_llm_kind_name(c->kind));
    if (c->timeout_ms < 0 || c->connect_timeout_ms < 0 ||
        c->max_retries < 0 || c->max_tokens <= 0)
        return TR_ERROR(err, TR_E_CONF, "model provider timeouts and "
                        "retries must not be negative, max_tokens must be "
                        "positive");
    return TR_OK;
}

struct tr_llm *
tr_llm_new(const struct tr_llm_conf *conf, struct tr_error *err)
{
    struct tr_llm *l;
    size_t n;

    if (conf_check(conf, err) != TR_OK)
        return NULL;
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    l->conf = *conf;
    l->base_url = strdup(conf->base_url);
    l->api_key = strdup(conf->api_key != NULL ? conf->api_key : "");
    l->model = strdup(conf->model);
    if (l->base_url == NULL || l->api_key == NULL || l->model == NULL)
        goto nomem;

    /* Trailing slashes would double up with the API's path. */
    n = strlen(l->base_url);
    while (n > 0 && l->base_url[n - 1] == '/')
        l->base_url[--n] = '\0';
    if (asprintf(&l->url, "%s%s", l->base_url,
                 conf->kind == TR_LLM_OPENAI ? "/chat/completions"
                                             : "/v1/messages") < 0) {
        l->url = NULL;
        goto nomem;
    }
    l->conf.base_url = l->base_url;
    l->conf.api_key = l->api_key;
    l->conf.model = l->model;
    l->conf.policy = NULL;

    if (conf->policy != NULL)
        l->policy = *conf->policy;
    else {
        tr_httpc_policy_preset(&l->policy, conf->kind == TR_LLM_OPENAI
                                               ? TR_HTTPC_PRESET_OPENAI
                                               : TR_HTTPC_PRESET_ANTHROPIC);
        l->policy.max_retries = conf->max_retries;
        if (l->policy.max_retries_429 > conf->max_retries)
            l->policy.max_retries_429 = conf->max_retries;
    }
    pthread_mutex_init(&l->lock, NULL);
    return l;

nomem:
    tr_llm_free(l);
    TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return NULL;
}

void
tr_llm_free(struct tr_llm *l)
{
    if (l == NULL)
        return;
    for (int i = 0; i < l->n_idle; i++)
        tr_httpc_free(l->idle[i]);
    if (l->api_key != NULL)
        explicit_bzero(l->api_key, strlen(l->api_key));
    free(l->base_url);
    free(l->api_key);
    free(l->model);
    free(l->url);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void
tr_llm_result_init(struct tr_llm_result *r)
{
    memset(r, 0, sizeof(*r));
    r->provider = r->model = r->answer_model = "";
    r->request = r->raw = r->stop_reason = "";
    r->input_tokens = r->output_tokens = -1;
}

void
tr_llm_result_cleanup(struct tr_llm_result *r)
{
    tr_arena_free(r->arena);
    tr_llm_result_init(r);
}

/* The envelope of `conf`'s API around a system prompt, a user message
 * and (for OpenAI, where it is enforced) a schema, which it frees. */
static enum tr_err
envelope(const struct tr_llm_conf *conf, char *sys, char *user,
         const char *schema_name, cJSON *schema, struct tr_buf *out,
         struct tr_error *err)
{
    enum tr_err rc;

    if (sys == NULL || user == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    else if (conf->kind == TR_LLM_OPENAI) {
        rc = tr_llm__openai_build(conf, sys, user, schema_name, schema, out,
                                  err);
        schema = NULL;
    } else
        rc = tr_llm__anthropic_build(conf, sys, user, out, err);
    cJSON_Delete(schema);
    free(sys);
    free(user);
    return rc;
}

/* The text the model wrote, out of `conf`'s API envelope. */
static enum tr_err
answer_text(const struct tr_llm_conf *conf, const char *body, size_t len,
            struct tr_llm_result *out, char **text, struct tr_error *err)
{
    if (conf->kind == TR_LLM_OPENAI)
        return tr_llm__openai_text(body, len, out, text, err);
    return tr_llm__anthropic_text(body, len, out, text, err);
}

enum tr_err
tr_llm_request_build(const struct tr_llm_conf *conf,
                     const struct tr_llm_input *in, struct tr_buf *out,
                     struct tr_error *err)
{
    enum tr_err rc = conf_check(conf, err);

    if (rc == TR_OK)
        rc = tr_llm__input_check(in, err);
    if (rc != TR_OK)
        return rc;
    return envelope(conf, tr_llm__prompt_system(in), tr_llm__prompt_user(in),
                    "reply_draft", tr_llm__schema(in), out, err);
}

enum tr_err
tr_llm_response_parse(const struct tr_llm_conf *conf,
                      const struct tr_llm_input *in, const char *body,
                      size_t len, struct tr_llm_result *out,
                      struct tr_error *err)
{
    enum tr_err rc = tr_llm__input_check(in, err);
    char *text = NULL;

    if (rc == TR_OK)
        rc = answer_text(conf, body, len, out, &text, err);
    if (rc == TR_OK)
        rc = tr_llm__answer_parse(text, in, out, err);
    free(text);
    return rc;
}

enum tr_err
tr_llm_classify_request_build(const struct tr_llm_conf *conf,
                              const struct tr_llm_classify_input *in,
                              struct tr_buf *out, struct tr_error *err)
{
    enum tr_err rc = conf_check(conf, err);

    if (rc == TR_OK)
        rc = tr_llm__classify_check(in, err);
    if (rc != TR_OK)
        return rc;
    return envelope(conf, tr_llm__classify_system(in),
                    tr_llm__classify_user(in), "ticket_route",
                    tr_llm__classify_schema(in), out, err);
}

enum tr_err
tr_llm_classify_response_parse(const struct tr_llm_conf *conf,
                               const struct tr_llm_classify_input *in,
                               const char *body, size_t len,
                               struct tr_llm_result *out,
                               struct tr_error *err)
{
    enum tr_err rc = tr_llm__classify_check(in, err);
    char *text = NULL;

    if (rc == TR_OK)
        rc = answer_text(conf, body, len, out, &text, err);
    if (rc == TR_OK)
        rc = tr_llm__classify_answer(text, in, out, err);
    free(text);
    return rc;
}

/* Borrow an HTTP client: an idle one, else a new one. */
static struct tr_httpc *
client_get(struct tr_llm *l, struct tr_error *err)
{
    struct tr_httpc_opts o = {0};
    struct tr_httpc *c = NULL;

    pthread_mutex_lock(&l->lock);
    if (l->n_idle > 0)
        c = l->idle[--l->n_idle];
    pthread_mutex_unlock(&l->lock);
    if (c != NULL)
        return c;
    o.connect_timeout_ms = l->conf.connect_timeout_ms;
    o.timeout_ms = l->conf.timeout_ms;
    return tr_httpc_new(&o, err);
}

static void
client_put(struct tr_llm *l, struct tr_httpc *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    if (l->n_idle < TR_LLM_POOL) {
        l->idle[l->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&l->lock);
    tr_httpc_free(c);
}

/* Replace every occurrence of `key` in the message of `err`. */
static void
scrub_key(struct tr_error *err, const char *key)
{
    size_t n = strlen(key);
    char *p;

    /* Keys shorter than 4 bytes would blank out ordinary words. */
    if (err == NULL || n < 4)
        return;
    while ((p = strstr(err->msg, key)) != NULL) {
        static const char mark[] = "[redacted]";
        size_t rest = strlen(p + n);

        if (n >= sizeof(mark) - 1) {
            memcpy(p, mark, sizeof(mark) - 1);
            memmove(p + sizeof(mark) - 1, p + n, rest + 1);
        } else
            memset(p, '*', n);
    }
}

/* The provider's own error message from an error body, or "". */
static void
provider_message(const struct tr_httpc_resp *resp, char *out, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(resp->body.data, resp->body.len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "error"), "message");

    snprintf(out, len, "%s", cJSON_IsString(m) ? m->valuestring : "");
    cJSON_Delete(o);
}

/* Turn a non-2xx answer into our code and a message. */
static enum tr_err
status_error(const struct tr_llm *l, const struct tr_httpc_resp *resp,
             struct tr_error *err)
{
    enum tr_err rc;
    char pm[200], foreign[16];

    switch (resp->status) {
    case 401: rc = TR_E_AUTH; break;
    case 403: rc = TR_E_PERM; break;
    case 408: case 409: case 429: rc = TR_E_AGAIN; break;
    default: rc = resp->status >= 500 ? TR_E_HTTP_UPSTREAM : TR_E_MODEL;
    }
    provider_message(resp, pm, sizeof(pm));
    TR_ERROR(err, rc, "model provider \"%s\" answered HTTP %d after %d "
             "attempt%s%s%s", tr_llm_kind_name(l->conf.kind), resp->status,
             resp->n_attempts, resp->n_attempts == 1 ? "" : "s",
             pm[0] != '\0' ? ": " : "", pm);
    snprintf(foreign, sizeof(foreign), "http_%d", resp->status);
    tr_error_foreign(err, foreign);
    return rc;
}

/* Reword a transport failure for the reader; keep the code. */
static enum tr_err
transport_error(const struct tr_llm *l, enum tr_err rc,
                const struct tr_httpc_resp *resp, struct tr_error *err)
{
    const char *name = tr_llm_kind_name(l->conf.kind);

    if (rc == TR_E_TIMEOUT) {
        TR_ERROR(err, rc, "model provider \"%s\" did not answer within "
                 "%ld ms (%d attempts)", name, l->conf.timeout_ms,
                 resp->n_attempts);
        tr_error_foreign(err, "timeout");
    } else if (rc == TR_E_HTTP_UPSTREAM) {
        TR_ERROR(err, rc, "could not reach model provider \"%s\" at "
                 "\"%s\" (%d attempts)", name, l->base_url,
                 resp->n_attempts);
        tr_error_foreign(err, "unreachable");
    }
    return rc;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* Send `body` with the API's headers; the key is wiped afterwards. */
static enum tr_err
send_body(struct tr_llm *l, struct tr_httpc *hc, const struct tr_buf *body,
          struct tr_httpc_resp *resp, struct tr_error *err)
{
    char auth[600];
    const char *h[4];
    struct tr_httpc_req req = {0};
    size_t n = 0;
    enum tr_err rc;

    h[n++] = "Content-Type: application/json";
    h[n++] = "Accept: application/json";
    if (l->conf.kind == TR_LLM_ANTHROPIC) {
        h[n++] = "anthropic-version: " ANTHROPIC_VERSION;
        snprintf(auth, sizeof(auth), "x-api-key: %s", l->api_key);
    } else
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                 l->api_key);
    if (l->api_key[0] != '\0')
        h[n++] = auth;

    req.method = "POST";
    req.url = l->url;
    req.headers = h;
    req.n_headers = n;
    req.body = body->data;
    req.body_len = body->len;
    req.max_response = TR_LLM_RESPONSE_MAX;
    req.timeout_ms = l->conf.timeout_ms;
    rc = tr_httpc_request(hc, &l->policy, NULL, NULL, &req, resp, err);
    explicit_bzero(auth, sizeof(auth));
    return rc;
}

/* One line per call: ids, counts and the hash, never text or key. */
static void
log_call(const struct tr_llm *l, const char *what,
         const struct tr_llm_result *out, enum tr_err rc,
         const struct tr_error *err)
{
    bool draft = strcmp(what, "draft") == 0;

    if (rc == TR_OK && draft)
        TR_LOG_INFO("llm", "llm_draft",
                    TR_KVS(TR_KV_STR("provider", out->provider),
                           TR_KV_STR("model", l->model),
                           TR_KV_INT("status", out->status),
                           TR_KV_INT("attempts", out->n_attempts),
                           TR_KV_INT("dur_ms", out->dur_ms),
                           TR_KV_INT("sentences", out->n_sentences),
                           TR_KV_STR("prompt_hash", out->prompt_hash)),
                    "drafted %zu sentences", out->n_sentences);
    else if (rc == TR_OK)
        TR_LOG_INFO("llm", "llm_classify",
                    TR_KVS(TR_KV_STR("provider", out->provider),
                           TR_KV_STR("model", l->model),
                           TR_KV_INT("status", out->status),
                           TR_KV_INT("attempts", out->n_attempts),
                           TR_KV_INT("dur_ms", out->dur_ms),
                           TR_KV_STR("prompt_hash", out->prompt_hash)),
                    "classified for team \"%s\"", out->label.team);
    else
        TR_LOG_WARN("llm", draft ? "llm_draft_failed"
                                 : "llm_classify_failed",
                    TR_KVS(TR_KV_STR("provider", out->provider),
                           TR_KV_STR("model", l->model),
                           TR_KV_INT("status", out->status),
                           TR_KV_INT("attempts", out->n_attempts),
                           TR_KV_INT("dur_ms", out->dur_ms),
                           TR_KV_STR("err", tr_err_name(rc)),
                           TR_KV_STR("reason", err != NULL
                                                   ? err->foreign : ""),
                           TR_KV_STR("prompt_hash", out->prompt_hash)),
                    "%s", err != NULL ? err->msg : tr_err_str(rc));
}

/*
 * Send the built `body` and keep what the ledger needs in `out`: the
 * body, its hash, attempts, status and the raw answer.  TR_OK only for
 * a 2xx answer, whose body is then in `resp`.
 */
static enum tr_err
exchange(struct tr_llm *l, const struct tr_buf *body,
         struct tr_httpc_resp *resp, struct tr_llm_result *out,
         struct tr_error *err)
{
    struct tr_httpc *hc;
    enum tr_err rc;

    out->request = tr_arena_strndup(out->arena, body->data, body->len);
    out->request_len = body->len;
    tr_llm_sha256_hex(body->data, body->len, out->prompt_hash);

    hc = client_get(l, err);
    if (hc == NULL)
        return err->code;
    rc = send_body(l, hc, body, resp, err);
    client_put(l, hc);
    out->n_attempts = resp->n_attempts;
    out->status = resp->status;
    out->raw = tr_llm__keep(out, resp->body.data);
    if (rc != TR_OK)
        return transport_error(l, rc, resp, err);
    if (resp->status < 200 || resp->status > 299)
        return status_error(l, resp, err);
    return TR_OK;
}

/* What a draft and a classification differ in. */
struct call {
    const char *what;           /* "draft" or "classify" */
    const struct tr_llm_input *draft;
    const struct tr_llm_classify_input *classify;
};

/* One call from request to checked answer; see tr_llm_draft(). */
static enum tr_err
call_run(struct tr_llm *l, const struct call *k, struct tr_llm_result *out,
         struct tr_error *err)
{
    struct tr_error local;
    struct tr_httpc_resp resp;
    struct tr_buf body;
    double t0 = now_ms();
    enum tr_err rc;

    /* The message is scrubbed and logged, so keep one even for NULL. */
    if (err == NULL)
        err = &local;
    tr_error_clear(err);
    tr_llm_result_cleanup(out);
    tr_httpc_resp_init(&resp);
    tr_buf_init(&body, 0);
    out->provider = tr_llm_kind_name(l->conf.kind);
    out->model = tr_llm__keep(out, l->model);
    if (out->model == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    rc = k->draft != NULL
             ? tr_llm_request_build(&l->conf, k->draft, &body, err)
             : tr_llm_classify_request_build(&l->conf, k->classify, &body,
                                             err);
    if (rc == TR_OK)
        rc = exchange(l, &body, &resp, out, err);
    if (rc == TR_OK && k->draft != NULL)
        rc = tr_llm_response_parse(&l->conf, k->draft, resp.body.data,
                                   resp.body.len, out, err);
    else if (rc == TR_OK)
        rc = tr_llm_classify_response_parse(&l->conf, k->classify,
                                            resp.body.data, resp.body.len,
                                            out, err);

out:
    out->dur_ms = (long) (now_ms() - t0);
    if (rc != TR_OK)
        scrub_key(err, l->api_key);
    log_call(l, k->what, out, rc, err);
    tr_httpc_resp_cleanup(&resp);
    tr_buf_cleanup(&body);
    return rc;
}

enum tr_err
tr_llm_draft(struct tr_llm *l, const struct tr_llm_input *in,
             struct tr_llm_result *out, struct tr_error *err)
{
    struct call k = {"draft", in, NULL};

    return call_run(l, &k, out, err);
}

enum tr_err
tr_llm_classify(struct tr_llm *l, const struct tr_llm_classify_input *in,
                struct tr_llm_result *out, struct tr_error *err)
{
    struct call k = {"classify", NULL, in};

    return call_run(l, &k, out, err);
}
