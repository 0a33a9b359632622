/*
 * fake_model.c
 *      A fake model provider for tests: OpenAI-compatible chat completions
 *      and embeddings, and Anthropic Messages, on 127.0.0.1 only.
 *
 *      fake_model [--port N] [--api-key K] [--any-key] [--dim N]
 *                 [--record FILE] [--max-seconds N] [--ignore-stdin]
 *
 * The first stdout line is the port (--port 0, the default, picks a free
 * one).  The process stops on SIGTERM or SIGINT, when stdin closes (the
 * parent died; unless --ignore-stdin) and after --max-seconds (600).
 *
 * Routes: POST /v1/chat/completions and /v1/embeddings want
 * "Authorization: Bearer K"; POST /v1/messages wants "x-api-key: K" (or
 * Bearer) and "anthropic-version".  A wrong key gets 401 in the
 * provider's error shape, with the key it was given echoed in the
 * message, so that tests prove a client never repeats it.  --any-key
 * accepts any credentials, as Ollama does.
 *
 * Answers are deterministic.  Chat: when the last user message holds
 * <passage id="..."> blocks, the answer is {"sentences":[...]}: a
 * greeting citing nothing, then the first sentence of each of the first
 * three passages citing its passage id, so grounding can be checked;
 * response_format json_schema for another schema gets a minimal
 * instance of that schema.  Embeddings:
 * a hashed bag of words, L2-normalised, of the dimension asked for by
 * "dimensions", else the number ending the model name ("m-32"), else
 * --dim (64).
 *
 * Every request is appended to the --record file as one JSON line
 * {"path","auth","status","body"} with the raw body, so a test can check
 * what a model really received.
 *
 * Control routes:
 *   POST /__fake/fail {"path":"/v1/chat","count":N,"status":S,
 *       "retry_after":"1","retry_after_ms":"","should_retry":"false",
 *       "code":"insufficient_quota","delay_ms":D,"mode":M}
 *     queues a rule for the next N requests whose path starts with path.
 *     status != 0 answers that error.  status 0 answers normally but with
 *     mode: "hang" (sleep delay_ms, default until stopped, then answer),
 *     "slow" (dribble the body, delay_ms between pieces), "drop" (close
 *     half way), "malformed" (truncated envelope), "prose" (content that
 *     is not JSON), "fenced" (JSON inside a ``` fence), "unknown_citation",
 *     "uncited", "refusal", "length", "wrong_dim", "reverse" (embeddings
 *     out of order), "stream_error", "greet_placeholder" (the greeting
 *     names the first "[KIND_N]" placeholder of the prompt), "off_enum"
 *     (a schema instance whose enums hold a value they do not list).
 *   POST /__fake/reset     drops rules and the request log.
 *   GET  /__fake/requests  {"requests":[{"path","status"}...]}.
 *
 * Connection threads (one per connection) share the state under one
 * mutex; sleeps happen outside it.  Test code only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#define BODY_MAX ((size_t) 4 << 20)
#define N_RULES 32
#define N_SENTENCES 3

/* A behaviour queued by POST /__fake/fail. */
struct rule {
    char path[64];
    int count;
    int status;
    int delay_ms;
    char mode[24];
    char code[48];
    char retry_after[32];
    char retry_after_ms[32];
    char should_retry[8];
};

/* What one request gets back. */
struct reply {
    int status;
    char *body;
    const char *ctype;
    const struct rule *rule;   /* copy owned by the request, or NULL */
    bool anthropic;
};

struct upload {
    char *data;
    size_t len;
    bool too_big;
    struct rule rule;
};

/* A body dribbled out by the content reader ("slow" and "drop"). */
struct dribble {
    char *body;
    size_t len;
    size_t pos;
    int delay_ms;
    bool drop;
};

static struct {
    pthread_mutex_t lock;
    char api_key[256];
    bool any_key;
    int dim;
    FILE *record;
    struct rule rules[N_RULES];
    int n_rules;
    cJSON *requests;
    long serial;
    volatile sig_atomic_t stopping;
} fm;

/* Sleep in slices so that a stop is never held up by a "hang". */
static void
nap_ms(int ms)
{
    while (ms > 0 && !fm.stopping) {
        int step = ms < 50 ? ms : 50;

        usleep((useconds_t) step * 1000);
        ms -= step;
    }
}

static void
reply_json(struct reply *r, int status, cJSON *obj)
{
    free(r->body);
    r->status = status;
    r->body = cJSON_PrintUnformatted(obj);
    r->ctype = "application/json";
    cJSON_Delete(obj);
}

static const char *
anthropic_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return "api_error";
    }
}

/* An error in the shape of the provider the route belongs to. */
static void
reply_error(struct reply *r, int status, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();

    if (r->anthropic) {
        cJSON_AddStringToObject(o, "type", "error");
        cJSON_AddStringToObject(e, "type", anthropic_type(status));
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddItemToObject(o, "error", e);
        cJSON_AddStringToObject(o, "request_id", "req_fake");
    } else {
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", status == 429 ? "requests"
                                : status >= 500      ? "server_error"
                                                     : "invalid_request_error");
        cJSON_AddNullToObject(e, "param");
        if (code != NULL && code[0] != '\0')
            cJSON_AddStringToObject(e, "code", code);
        else
            cJSON_AddNullToObject(e, "code");
        cJSON_AddItemToObject(o, "error", e);
    }
    reply_json(r, status, o);
}

/* ---- text helpers ---------------------------------------------------- */

/* The text of a message content: a string or an array of text parts. */
static void
content_text(const cJSON *c, char **out)
{
    const cJSON *part;
    size_t len = 0;
    char *s = NULL;

    if (cJSON_IsString(c)) {
        *out = strdup(c->valuestring);
        return;
    }
    cJSON_ArrayForEach(part, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        size_t n;

        if (!cJSON_IsString(t))
            continue;
        n = strlen(t->valuestring);
        s = realloc(s, len + n + 2);
        memcpy(s + len, t->valuestring, n);
        len += n;
        s[len++] = '\n';
        s[len] = '\0';
    }
    *out = s != NULL ? s : strdup("");
}

static int
count_words(const char *s)
{
    int n = 0;
    bool in = false;

    for (; s != NULL && *s != '\0'; s++) {
        bool w = !isspace((unsigned char) *s);

        if (w && !in)
            n++;
        in = w;
    }
    return n;
}

/* Undo the attribute escaping of the prompt (&quot; &lt; &gt; &amp;). */
static void
unescape_attr(char *s)
{
    static const char *const from[] = {"&quot;", "&lt;", "&gt;", "&amp;"};
    static const char to[] = {'"', '<', '>', '&'};
    char *w = s;

    while (*s != '\0') {
        size_t k;

        for (k = 0; k < 4; k++)
            if (strncmp(s, from[k], strlen(from[k])) == 0)
                break;
        if (k < 4) {
            *w++ = to[k];
            s += strlen(from[k]);
        } else
            *w++ = *s++;
    }
    *w = '\0';
}

/* The first sentence of `text`, trimmed: up to . ! ? or a newline. */
static char *
first_sentence(const char *text)
{
    const char *p = text, *end;

    while (isspace((unsigned char) *p))
        p++;
    for (end = p; *end != '\0' && *end != '\n'; end++)
        if ((*end == '.' || *end == '!' || *end == '?') &&
            (end[1] == '\0' || isspace((unsigned char) end[1]))) {
            end++;
            break;
        }
    return strndup(p, (size_t) (end - p));
}

/*
 * The deterministic draft: for each of the first passages in `prompt`,
 * its first sentence citing its id.  `mode` bends it for failure tests.
 */
/* "Hello [KIND_N]," with the prompt's first placeholder, else "Hello,". */
static void
greeting_with_placeholder(const char *prompt, cJSON *hello)
{
    const char *p = prompt, *q;
    char text[96];

    snprintf(text, sizeof(text), "Hello,");
    while ((p = strchr(p, '[')) != NULL) {
        q = p + 1;
        while ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
               *q == '_')
            q++;
        if (*q == ']' && q - p > 3 && q[-1] >= '0' && q[-1] <= '9' &&
            q - p < 64) {
            snprintf(text, sizeof(text), "Hello %.*s,", (int) (q - p + 1),
                     p);
            break;
        }
        p++;
    }
    cJSON_AddStringToObject(hello, "text", text);
}

static cJSON *
draft_answer(const char *prompt, const char *mode)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON *hello = cJSON_CreateObject();
    const char *p = prompt;
    int n = 0;

    /* A greeting that cites nothing, as the drafting prompt allows. */
    if (strcmp(mode, "greet_placeholder") == 0)
        greeting_with_placeholder(prompt, hello);
    else
        cJSON_AddStringToObject(hello, "text", "Hello,");
    cJSON_AddStringToObject(hello, "kind", "greeting");
    cJSON_AddArrayToObject(hello, "citations");
    cJSON_AddItemToArray(arr, hello);
    while (n < N_SENTENCES && (p = strstr(p, "<passage id=\"")) != NULL) {
        const char *id0 = p + 13, *id1 = strchr(id0, '"');
        const char *body, *stop;
        char *id, *text, *first;
        cJSON *s, *cit;

        if (id1 == NULL || (body = strchr(id1, '>')) == NULL)
            break;
        stop = strstr(body + 1, "</passage>");
        if (stop == NULL)
            break;
        id = strndup(id0, (size_t) (id1 - id0));
        unescape_attr(id);
        text = strndup(body + 1, (size_t) (stop - body - 1));
        first = first_sentence(text);

        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "text", first);
        cJSON_AddStringToObject(s, "kind", "body");
        cit = cJSON_AddArrayToObject(s, "citations");
        if (strcmp(mode, "unknown_citation") == 0 && n == 0)
            cJSON_AddItemToArray(cit, cJSON_CreateString("no-such-id"));
        else if (strcmp(mode, "uncited") != 0)
            cJSON_AddItemToArray(cit, cJSON_CreateString(id));
        cJSON_AddItemToArray(arr, s);
        free(id);
        free(text);
        free(first);
        p = stop;
        n++;
    }
    cJSON_AddItemToObject(o, "sentences", arr);
    return o;
}

/*
 * A minimal instance of a JSON schema: required members, enum[0].  With
 * `off_enum` every enum gets a string it does not list instead, as a
 * model ignoring the schema would write.
 */
static cJSON *
schema_instance(const cJSON *sch, int depth, bool off_enum)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(sch, "type");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(sch, "enum");
    const char *t = cJSON_IsString(type) ? type->valuestring : "object";

    if (cJSON_IsArray(en) && cJSON_GetArraySize(en) > 0)
        return off_enum ? cJSON_CreateString("not-in-the-enum")
                        : cJSON_Duplicate(cJSON_GetArrayItem(en, 0), 1);
    if (strcmp(t, "string") == 0)
        return cJSON_CreateString("fake");
    if (strcmp(t, "number") == 0 || strcmp(t, "integer") == 0)
        return cJSON_CreateNumber(0);
    if (strcmp(t, "boolean") == 0)
        return cJSON_CreateFalse();
    if (strcmp(t, "array") == 0)
        return cJSON_CreateArray();
    if (strcmp(t, "object") == 0 && depth < 8) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(sch,
                                                              "properties");
        const cJSON *req;

        cJSON_ArrayForEach(req, cJSON_GetObjectItemCaseSensitive(
                                    sch, "required")) {
            const cJSON *ps;

            if (!cJSON_IsString(req))
                continue;
            ps = cJSON_GetObjectItemCaseSensitive(props, req->valuestring);
            cJSON_AddItemToObject(o, req->valuestring,
                                  schema_instance(ps, depth + 1, off_enum));
        }
        return o;
    }
    return cJSON_CreateNull();
}

/*
 * The content text a chat model would produce for `prompt` (the last
 * user message).  `schema` is the JSON schema asked for, or NULL.
 */
static char *
chat_content(const char *prompt, const cJSON *schema, bool want_json,
             const char *mode)
{
    cJSON *ans;
    char *js, *out;

    if (strcmp(mode, "prose") == 0)
        return strdup("Sure, here is what I found in the articles.");
    if (schema != NULL && !cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(schema,
                                                               "properties"),
                              "sentences"))
        ans = schema_instance(schema, 0, strcmp(mode, "off_enum") == 0);
    else if (schema != NULL || want_json || strstr(prompt, "<passage id="))
        ans = draft_answer(prompt, mode);
    else {
        char *first = first_sentence(prompt);

        if (asprintf(&out, "Fake answer to: %s", first) < 0)
            out = NULL;
        free(first);
        return out;
    }
    js = cJSON_PrintUnformatted(ans);
    cJSON_Delete(ans);
    if (strcmp(mode, "fenced") != 0)
        return js;
    if (asprintf(&out, "Here is the JSON:\n```json\n%s\n```\n", js) < 0)
        out = NULL;
    free(js);
    return out;
}

/* ---- OpenAI chat completions --------------------------------------- */

static void
chat_stream(struct reply *r, const char *model, const char *content,
            bool usage, const char *mode)
{
    size_t n = strlen(content), third = n / 3 + 1;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cJSON *c;

    for (int k = 0; k < 5; k++) {
        cJSON *ch = cJSON_CreateArray(), *one = cJSON_CreateObject();
        cJSON *d = cJSON_CreateObject();
        char *piece = NULL;

        if (k == 4 && !usage)
            break;
        c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "id", "chatcmpl-fake");
        cJSON_AddStringToObject(c, "object", "chat.completion.chunk");
        cJSON_AddNumberToObject(c, "created", 1714644100);
        cJSON_AddStringToObject(c, "model", model);
        if (k == 0)
            cJSON_AddStringToObject(d, "role", "assistant");
        if (k >= 1 && k <= 2 && (size_t) (k - 1) * third < n) {
            piece = strndup(content + (size_t) (k - 1) * third,
                            k == 2 ? n : third);
            cJSON_AddStringToObject(d, "content", piece);
        }
        cJSON_AddNumberToObject(one, "index", 0);
        cJSON_AddItemToObject(one, "delta", d);
        if (k == 3)
            cJSON_AddStringToObject(one, "finish_reason", "stop");
        else
            cJSON_AddNullToObject(one, "finish_reason");
        if (k < 4)
            cJSON_AddItemToArray(ch, one);
        else {
            cJSON *u = cJSON_AddObjectToObject(c, "usage");

            cJSON_Delete(one);
            cJSON_AddNumberToObject(u, "total_tokens", count_words(content));
        }
        cJSON_AddItemToObject(c, "choices", ch);
        free(piece);
        piece = cJSON_PrintUnformatted(c);
        fprintf(fp, "data: %s\n\n", piece);
        free(piece);
        cJSON_Delete(c);
        if (k == 1 && strcmp(mode, "stream_error") == 0) {
            fprintf(fp, "data: {\"error\":{\"message\":\"stream broke\","
                        "\"type\":\"server_error\"}}\n\n");
            break;
        }
    }
    fprintf(fp, "data: [DONE]\n\n");
    fclose(fp);
    free(r->body);
    r->status = 200;
    r->body = buf;
    r->ctype = "text/event-stream";
}

/* The last message with role `role`, as text (caller frees). */
static char *
last_message(const cJSON *msgs, const char *role)
{
    const cJSON *m;
    char *out = NULL;

    cJSON_ArrayForEach(m, msgs) {
        const cJSON *rl = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (cJSON_IsString(rl) && strcmp(rl->valuestring, role) == 0) {
            free(out);
            content_text(cJSON_GetObjectItemCaseSensitive(m, "content"),
                         &out);
        }
    }
    return out != NULL ? out : strdup("");
}

static void
route_chat(struct reply *r, const cJSON *req, const char *mode)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req,
                                                       "response_format");
    const cJSON *rft = cJSON_GetObjectItemCaseSensitive(rf, "type");
    const cJSON *schema = NULL;
    cJSON *o, *ch, *one, *msg, *u;
    char *prompt, *content;
    bool want_json = false;

    if (!cJSON_IsString(model) || !cJSON_IsArray(msgs) ||
        cJSON_GetArraySize(msgs) == 0) {
        reply_error(r, 400, NULL, "model and messages are required");
        return;
    }
    if (cJSON_IsString(rft) && strcmp(rft->valuestring, "json_schema") == 0) {
        schema = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(rf, "json_schema"), "schema");
        if (!cJSON_IsObject(schema)) {
            reply_error(r, 400, NULL, "response_format.json_schema.schema "
                                      "is required");
            return;
        }
    }
    want_json = cJSON_IsString(rft) &&
                strcmp(rft->valuestring, "json_object") == 0;

    prompt = last_message(msgs, "user");
    content = chat_content(prompt, schema, want_json, mode);
    if (strcmp(mode, "length") == 0)
        content[strlen(content) / 2] = '\0';
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "stream"))) {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(req,
                                                           "stream_options");

        chat_stream(r, model->valuestring, content,
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                        so, "include_usage")),
                    mode);
        goto out;
    }

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "chatcmpl-fake");
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", 1714644100);
    cJSON_AddStringToObject(o, "model", model->valuestring);
    ch = cJSON_AddArrayToObject(o, "choices");
    one = cJSON_CreateObject();
    cJSON_AddNumberToObject(one, "index", 0);
    cJSON_AddStringToObject(one, "finish_reason",
                            strcmp(mode, "length") == 0 ? "length" : "stop");
    msg = cJSON_AddObjectToObject(one, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    if (strcmp(mode, "refusal") == 0) {
        cJSON_AddNullToObject(msg, "content");
        cJSON_AddStringToObject(msg, "refusal", "I cannot help with that.");
    } else {
        cJSON_AddStringToObject(msg, "content", content);
        cJSON_AddNullToObject(msg, "refusal");
    }
    cJSON_AddItemToArray(ch, one);
    u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", count_words(prompt));
    cJSON_AddNumberToObject(u, "completion_tokens", count_words(content));
    cJSON_AddNumberToObject(u, "total_tokens",
                            count_words(prompt) + count_words(content));
    reply_json(r, 200, o);

out:
    free(prompt);
    free(content);
}

/* ---- Anthropic Messages -------------------------------------------- */

/* Messages must start with "user" and alternate (400 otherwise). */
static bool
messages_alternate(const cJSON *msgs)
{
    const cJSON *m;
    int i = 0;

    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return false;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *rl = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (!cJSON_IsString(rl) ||
            strcmp(rl->valuestring, i % 2 == 0 ? "user" : "assistant") != 0)
            return false;
        i++;
    }
    return true;
}

static void
messages_stream(struct reply *r, const char *model, const char *text,
                const char *mode)
{
    char *buf = NULL, *js;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cJSON *d = cJSON_CreateObject(), *delta;

    fprintf(fp, "event: message_start\ndata: {\"type\":\"message_start\","
                "\"message\":{\"id\":\"msg_fake\",\"type\":\"message\","
                "\"role\":\"assistant\",\"model\":\"%s\",\"content\":[]}}"
                "\n\n", model);
    fprintf(fp, "event: content_block_start\ndata: {\"type\":"
                "\"content_block_start\",\"index\":0,\"content_block\":"
                "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    fprintf(fp, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    if (strcmp(mode, "stream_error") == 0)
        fprintf(fp, "event: error\ndata: {\"type\":\"error\",\"error\":"
                    "{\"type\":\"overloaded_error\",\"message\":"
                    "\"Overloaded\"}}\n\n");
    cJSON_AddStringToObject(d, "type", "content_block_delta");
    cJSON_AddNumberToObject(d, "index", 0);
    delta = cJSON_AddObjectToObject(d, "delta");
    cJSON_AddStringToObject(delta, "type", "text_delta");
    cJSON_AddStringToObject(delta, "text", text);
    js = cJSON_PrintUnformatted(d);
    fprintf(fp, "event: content_block_delta\ndata: %s\n\n", js);
    free(js);
    cJSON_Delete(d);
    fprintf(fp, "event: content_block_stop\ndata: {\"type\":"
                "\"content_block_stop\",\"index\":0}\n\n"
                "event: message_delta\ndata: {\"type\":\"message_delta\","
                "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
                "{\"output_tokens\":%d}}\n\n"
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            count_words(text));
    fclose(fp);
    free(r->body);
    r->status = 200;
    r->body = buf;
    r->ctype = "text/event-stream";
}

static void
route_messages(struct reply *r, const cJSON *req, const char *mode)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(req, "output_config"),
            "format"),
        "schema");
    cJSON *o, *blocks, *b, *u;
    char *prompt, *text;

    if (!cJSON_IsString(model) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(req,
                                                         "max_tokens"))) {
        reply_error(r, 400, NULL, "model and max_tokens are required");
        return;
    }
    if (!messages_alternate(msgs)) {
        reply_error(r, 400, NULL, "messages must start with user and "
                                  "alternate between user and assistant");
        return;
    }

    prompt = last_message(msgs, "user");
    text = chat_content(prompt, cJSON_IsObject(schema) ? schema : NULL,
                        false, mode);
    if (strcmp(mode, "length") == 0)
        text[strlen(text) / 2] = '\0';
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "stream"))) {
        messages_stream(r, model->valuestring, text, mode);
        goto out;
    }

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "msg_fake");
    cJSON_AddStringToObject(o, "type", "message");
    cJSON_AddStringToObject(o, "role", "assistant");
    cJSON_AddStringToObject(o, "model", model->valuestring);
    blocks = cJSON_AddArrayToObject(o, "content");
    if (strcmp(mode, "refusal") != 0) {
        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", text);
        cJSON_AddItemToArray(blocks, b);
    }
    cJSON_AddStringToObject(o, "stop_reason",
                            strcmp(mode, "length") == 0    ? "max_tokens"
                            : strcmp(mode, "refusal") == 0 ? "refusal"
                                                           : "end_turn");
    cJSON_AddNullToObject(o, "stop_sequence");
    u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "input_tokens", count_words(prompt));
    cJSON_AddNumberToObject(u, "output_tokens", count_words(text));
    reply_json(r, 200, o);

out:
    free(prompt);
    free(text);
}

/* ---- embeddings ----------------------------------------------------- */

/* Hashed bag of lower-cased words, L2-normalised (zero for no word). */
static void
embed_text(const char *s, float *v, int dim)
{
    double norm = 0;

    memset(v, 0, sizeof(*v) * (size_t) dim);
    while (*s != '\0') {
        uint64_t h = 1469598103934665603ULL;
        bool any = false;

        /* A word is a run of letters, digits or non-ASCII bytes. */
        for (; *s != '\0' && (isalnum((unsigned char) *s) ||
                              (unsigned char) *s >= 0x80);
             s++) {
            h ^= (uint64_t) tolower((unsigned char) *s);
            h *= 1099511628211ULL;
            any = true;
        }
        if (any)
            v[h % (uint64_t) dim] += (h >> 63) ? -1.0f : 1.0f;
        else
            s++;
    }
    for (int i = 0; i < dim; i++)
        norm += (double) v[i] * v[i];
    for (int i = 0; norm > 0 && i < dim; i++)
        v[i] = (float) (v[i] / sqrt(norm));
}

/* The dimension: "dimensions", else "<name>-<N>", else --dim. */
static int
embed_dim(const cJSON *req, const char *model)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(req, "dimensions");
    const char *dash = strrchr(model, '-');

    if (cJSON_IsNumber(d) && d->valueint > 0 && d->valueint <= 8192)
        return d->valueint;
    if (dash != NULL && dash[1] != '\0' &&
        strspn(dash + 1, "0123456789") == strlen(dash + 1) &&
        atoi(dash + 1) > 0 && atoi(dash + 1) <= 8192)
        return atoi(dash + 1);
    return fm.dim;
}

static cJSON *
embedding_item(const char *text, int dim, bool b64, int index)
{
    cJSON *it = cJSON_CreateObject();
    float *v = calloc((size_t) dim, sizeof(*v));

    embed_text(text, v, dim);
    cJSON_AddStringToObject(it, "object", "embedding");
    cJSON_AddNumberToObject(it, "index", index);
    if (b64) {
        /* float32 little-endian, as the base64 encoding format is. */
        size_t n = sizeof(float) * (size_t) dim;
        char *enc = malloc(4 * ((n + 2) / 3) + 1);

        EVP_EncodeBlock((unsigned char *) enc, (unsigned char *) v, (int) n);
        cJSON_AddStringToObject(it, "embedding", enc);
        free(enc);
    } else {
        cJSON *arr = cJSON_AddArrayToObject(it, "embedding");

        for (int i = 0; i < dim; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
    }
    free(v);
    return it;
}

static void
route_embeddings(struct reply *r, const cJSON *req, const char *mode)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "input");
    const cJSON *ef = cJSON_GetObjectItemCaseSensitive(req,
                                                       "encoding_format");
    cJSON *list = cJSON_IsString(in) ? cJSON_CreateArray() : NULL;
    const cJSON *items = in, *t;
    cJSON *o, *data;
    int dim, n = 0, words = 0;
    bool b64 = cJSON_IsString(ef) && strcmp(ef->valuestring, "base64") == 0;

    if (list != NULL) {
        cJSON_AddItemToArray(list, cJSON_CreateString(in->valuestring));
        items = list;
    }
    if (!cJSON_IsString(model) || !cJSON_IsArray(items) ||
        cJSON_GetArraySize(items) == 0 || cJSON_GetArraySize(items) > 2048) {
        reply_error(r, 400, NULL, "input must be a string or 1 to 2048 "
                                  "strings, and model is required");
        goto out;
    }
    cJSON_ArrayForEach(t, items) {
        if (!cJSON_IsString(t) || t->valuestring[0] == '\0') {
            reply_error(r, 400, NULL, "input items must be non-empty "
                                      "strings");
            goto out;
        }
    }

    dim = embed_dim(req, model->valuestring);
    if (strcmp(mode, "wrong_dim") == 0)
        dim++;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    cJSON_ArrayForEach(t, items) {
        cJSON *it = embedding_item(t->valuestring, dim, b64, n++);

        words += count_words(t->valuestring);
        /* "reverse" checks that clients map rows by index. */
        if (strcmp(mode, "reverse") == 0)
            cJSON_InsertItemInArray(data, 0, it);
        else
            cJSON_AddItemToArray(data, it);
    }
    cJSON_AddStringToObject(o, "model", model->valuestring);
    cJSON_AddItemToObject(o, "usage", cJSON_CreateObject());
    cJSON_AddNumberToObject(cJSON_GetObjectItem(o, "usage"), "prompt_tokens",
                            words);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(o, "usage"), "total_tokens",
                            words);
    reply_json(r, 200, o);

out:
    cJSON_Delete(list);
}

/* ---- control, auth, dispatch ---------------------------------------- */

static void
copy_str(char *dst, size_t n, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (cJSON_IsString(v))
        snprintf(dst, n, "%s", v->valuestring);
}

static void
route_control(struct reply *r, const char *method, const char *path,
              const char *body)
{
    cJSON *req = cJSON_Parse(body), *o = cJSON_CreateObject();

    if (strcmp(path, "/__fake/fail") == 0 && strcmp(method, "POST") == 0 &&
        fm.n_rules < N_RULES && cJSON_IsObject(req)) {
        struct rule *rl = &fm.rules[fm.n_rules++];
        const cJSON *v;

        memset(rl, 0, sizeof(*rl));
        snprintf(rl->path, sizeof(rl->path), "/v1/");
        copy_str(rl->path, sizeof(rl->path), req, "path");
        copy_str(rl->mode, sizeof(rl->mode), req, "mode");
        copy_str(rl->code, sizeof(rl->code), req, "code");
        copy_str(rl->retry_after, sizeof(rl->retry_after), req,
                 "retry_after");
        copy_str(rl->retry_after_ms, sizeof(rl->retry_after_ms), req,
                 "retry_after_ms");
        copy_str(rl->should_retry, sizeof(rl->should_retry), req,
                 "should_retry");
        v = cJSON_GetObjectItemCaseSensitive(req, "count");
        rl->count = cJSON_IsNumber(v) ? v->valueint : 1;
        v = cJSON_GetObjectItemCaseSensitive(req, "status");
        rl->status = cJSON_IsNumber(v) ? v->valueint : 0;
        v = cJSON_GetObjectItemCaseSensitive(req, "delay_ms");
        rl->delay_ms = cJSON_IsNumber(v) ? v->valueint : 0;
    } else if (strcmp(path, "/__fake/reset") == 0) {
        fm.n_rules = 0;
        cJSON_Delete(fm.requests);
        fm.requests = cJSON_CreateArray();
    } else if (strcmp(path, "/__fake/requests") == 0) {
        cJSON_AddItemToObject(o, "requests",
                              cJSON_Duplicate(fm.requests, 1));
    } else {
        cJSON_Delete(req);
        cJSON_Delete(o);
        reply_error(r, 404, NULL, "unknown control route");
        return;
    }
    cJSON_Delete(req);
    cJSON_AddBoolToObject(o, "ok", true);
    reply_json(r, 200, o);
}

/* Take the first live rule for `path`; returns a copy in `out`. */
static bool
take_rule(const char *path, struct rule *out)
{
    for (int i = 0; i < fm.n_rules; i++) {
        struct rule *rl = &fm.rules[i];

        if (rl->count <= 0 || strncmp(path, rl->path, strlen(rl->path)) != 0)
            continue;
        rl->count--;
        *out = *rl;
        return true;
    }
    return false;
}

static bool
key_matches(const char *given)
{
    return fm.any_key ||
           (given != NULL && strcmp(given, fm.api_key) == 0);
}

/* Check credentials; answers 400/401 itself when they are wrong. */
static bool
check_auth(struct MHD_Connection *c, struct reply *r, const char **how)
{
    const char *bearer = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     "Authorization");
    const char *xkey = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   "x-api-key");
    const char *given = NULL;
    char msg[400];

    if (bearer != NULL && strncmp(bearer, "Bearer ", 7) == 0) {
        given = bearer + 7;
        *how = "bearer";
    } else if (r->anthropic && xkey != NULL) {
        given = xkey;
        *how = "x-api-key";
    }
    if (r->anthropic && MHD_lookup_connection_value(
                            c, MHD_HEADER_KIND, "anthropic-version") == NULL) {
        reply_error(r, 400, NULL, "anthropic-version: header is required");
        return false;
    }
    if (key_matches(given))
        return true;

    /* Echo the key, as real providers partly do, to catch leaks. */
    if (given == NULL)
        snprintf(msg, sizeof(msg), "You didn't provide an API key.");
    else
        snprintf(msg, sizeof(msg), "Incorrect API key provided: %s.", given);
    reply_error(r, 401, "invalid_api_key", msg);
    return false;
}

static void
apply_rule_error(struct reply *r, const struct rule *rl)
{
    if (rl->status == 413) {
        free(r->body);
        r->status = 413;
        r->body = strdup("Request Entity Too Large");
        r->ctype = "text/plain";
        return;
    }
    reply_error(r, rl->status, rl->code, "injected failure");
}

static void
record(const char *path, const char *how, int status, const char *body)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    char *line;

    cJSON_AddStringToObject(e, "path", path);
    cJSON_AddNumberToObject(e, "status", status);
    cJSON_AddItemToArray(fm.requests, e);
    if (fm.record == NULL) {
        cJSON_Delete(o);
        return;
    }
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "auth", how);
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "body", body);
    line = cJSON_PrintUnformatted(o);
    fprintf(fm.record, "%s\n", line);
    fflush(fm.record);
    free(line);
    cJSON_Delete(o);
}

static void
dispatch(struct MHD_Connection *c, const char *method, const char *path,
         struct upload *up, struct reply *r)
{
    const char *how = "none", *mode = "";
    cJSON *req;

    if (strncmp(path, "/__fake/", 8) == 0) {
        route_control(r, method, path, up->data != NULL ? up->data : "");
        return;
    }
    r->anthropic = strcmp(path, "/v1/messages") == 0;
    if (strcmp(method, "POST") != 0) {
        reply_error(r, 404, NULL, "unknown route");
        goto out;
    }
    if (up->too_big) {
        reply_error(r, 413, NULL, "request too large");
        goto out;
    }
    if (!check_auth(c, r, &how))
        goto out;
    if (take_rule(path, &up->rule)) {
        r->rule = &up->rule;
        mode = up->rule.mode;
        if (up->rule.status != 0) {
            apply_rule_error(r, &up->rule);
            goto out;
        }
    }

    req = cJSON_Parse(up->data != NULL ? up->data : "");
    if (!cJSON_IsObject(req))
        reply_error(r, 400, NULL, "the body is not a JSON object");
    else if (strcmp(path, "/v1/chat/completions") == 0)
        route_chat(r, req, mode);
    else if (strcmp(path, "/v1/embeddings") == 0)
        route_embeddings(r, req, mode);
    else if (r->anthropic)
        route_messages(r, req, mode);
    else
        reply_error(r, 404, NULL, "unknown route");
    cJSON_Delete(req);

out:
    record(path, how, r->status, up->data != NULL ? up->data : "");
}

/* ---- HTTP plumbing -------------------------------------------------- */

static ssize_t
dribble_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct dribble *d = cls;
    size_t n = d->len - d->pos < 16 ? d->len - d->pos : 16;

    (void) pos;
    if (d->drop && d->pos >= d->len / 2)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (d->pos > 0)
        nap_ms(d->delay_ms);
    if (n > max)
        n = max;
    memcpy(buf, d->body + d->pos, n);
    d->pos += n;
    return (ssize_t) n;
}

static void
dribble_free(void *cls)
{
    struct dribble *d = cls;

    free(d->body);
    free(d);
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct reply *r)
{
    const struct rule *rl = r->rule;
    const char *mode = rl != NULL ? rl->mode : "";
    size_t n = r->body != NULL ? strlen(r->body) : 0;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char id[32];

    if (strcmp(mode, "hang") == 0)
        nap_ms(rl->delay_ms > 0 ? rl->delay_ms : 3600 * 1000);
    if (strcmp(mode, "malformed") == 0 && r->status == 200)
        n /= 2;
    if (strcmp(mode, "slow") == 0 || strcmp(mode, "drop") == 0) {
        struct dribble *d = calloc(1, sizeof(*d));

        d->body = r->body;
        d->len = n;
        d->delay_ms = rl->delay_ms;
        d->drop = strcmp(mode, "drop") == 0;
        r->body = NULL;
        resp = MHD_create_response_from_callback(d->drop ? MHD_SIZE_UNKNOWN
                                                         : (uint64_t) n,
                                                 64, dribble_read, d,
                                                 dribble_free);
    } else
        resp = MHD_create_response_from_buffer(
            n, r->body != NULL ? r->body : "", MHD_RESPMEM_MUST_COPY);

    MHD_add_response_header(resp, "Content-Type",
                            r->ctype != NULL ? r->ctype : "text/plain");
    snprintf(id, sizeof(id), "req_fake_%ld",
             __atomic_add_fetch(&fm.serial, 1, __ATOMIC_RELAXED));
    MHD_add_response_header(resp, r->anthropic ? "request-id"
                                               : "x-request-id", id);
    if (rl != NULL && rl->retry_after[0] != '\0')
        MHD_add_response_header(resp, "Retry-After", rl->retry_after);
    if (rl != NULL && rl->retry_after_ms[0] != '\0')
        MHD_add_response_header(resp, "retry-after-ms", rl->retry_after_ms);
    if (rl != NULL && rl->should_retry[0] != '\0')
        MHD_add_response_header(resp, "x-should-retry", rl->should_retry);
    ret = MHD_queue_response(conn, (unsigned) r->status, resp);
    MHD_destroy_response(resp);
    free(r->body);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *data,
           size_t *data_size, void **con_cls)
{
    struct upload *up = *con_cls;
    struct reply r = {404, NULL, NULL, NULL, false};

    (void) cls;
    (void) version;
    if (up == NULL) {
        *con_cls = calloc(1, sizeof(*up));
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (*data_size > 0) {
        if (up->len + *data_size > BODY_MAX)
            up->too_big = true;
        else {
            up->data = realloc(up->data, up->len + *data_size + 1);
            memcpy(up->data + up->len, data, *data_size);
            up->len += *data_size;
            up->data[up->len] = '\0';
        }
        *data_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&fm.lock);
    dispatch(conn, method, url, up, &r);
    pthread_mutex_unlock(&fm.lock);
    return send_reply(conn, &r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;

    (void) cls;
    (void) conn;
    (void) toe;
    if (up != NULL)
        free(up->data);
    free(up);
    *con_cls = NULL;
}

/* Close of stdin (the parent is gone) stops the server like SIGTERM. */
static void *
watch_stdin(void *arg)
{
    char buf[256];

    (void) arg;
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    kill(getpid(), SIGTERM);
    return NULL;
}

static void
usage(void)
{
    fprintf(stderr, "usage: fake_model [--port N] [--api-key K] [--any-key]"
                    " [--dim N] [--record FILE] [--max-seconds N]"
                    " [--ignore-stdin]\n");
    exit(2);
}

static void
parse_args(int argc, char **argv, int *port, int *max_s, bool *ign)
{
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--ignore-stdin") == 0) {
            *ign = true;
            continue;
        }
        if (strcmp(argv[i], "--any-key") == 0) {
            fm.any_key = true;
            continue;
        }
        if (v == NULL)
            usage();
        if (strcmp(argv[i], "--port") == 0)
            *port = atoi(v);
        else if (strcmp(argv[i], "--api-key") == 0)
            snprintf(fm.api_key, sizeof(fm.api_key), "%s", v);
        else if (strcmp(argv[i], "--dim") == 0)
            fm.dim = atoi(v);
        else if (strcmp(argv[i], "--max-seconds") == 0)
            *max_s = atoi(v);
        else if (strcmp(argv[i], "--record") == 0 &&
                 (fm.record = fopen(v, "a")) == NULL) {
            fprintf(stderr, "fake_model: could not open \"%s\"\n", v);
            exit(2);
        } else if (strcmp(argv[i], "--record") != 0)
            usage();
        i++;
    }
    if (fm.dim <= 0 || fm.dim > 8192 || *max_s <= 0)
        usage();
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    pthread_t watcher;
    sigset_t set;
    bool ignore_stdin = false;
    int port = 0, max_s = 600, sig;

    snprintf(fm.api_key, sizeof(fm.api_key), "sk-fake-test-key");
    fm.dim = 64;
    parse_args(argc, argv, &port, &max_s, &ignore_stdin);
    pthread_mutex_init(&fm.lock, NULL);
    fm.requests = cJSON_CreateArray();

    /* Signals are taken by sigwait() below; threads inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    alarm((unsigned) max_s);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_THREAD_PER_CONNECTION,
                         0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fake_model: could not start the server\n");
        return 1;
    }
    printf("%u\n", MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    fflush(stdout);

    if (!ignore_stdin)
        pthread_create(&watcher, NULL, watch_stdin, NULL);
    sigwait(&set, &sig);
    fm.stopping = 1;
    MHD_stop_daemon(d);
    if (fm.record != NULL)
        fclose(fm.record);
    cJSON_Delete(fm.requests);
    return 0;
}
