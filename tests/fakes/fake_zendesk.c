/*
 * fake_zendesk.c
 *      A fake Zendesk (Support and Help Center API) for tests: binds
 *      127.0.0.1 only, prints its port on the first stdout line, and
 *      stops on SIGTERM, SIGINT or when stdin closes.
 *
 * This file owns the process: options, the seed, the HTTP plumbing
 * (libmicrohttpd, one thread per connection), and what every request
 * goes through before its route: the request log, injected failures,
 * per-minute rate limits with 429 + Retry-After, and the credential
 * check.  The control API under /__fake/ lets a test inject failures,
 * read what was posted and reset the state; tests/fakes/README.md
 * documents it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "fake_state.h"

#define BODY_MAX ((size_t) 1 << 20)

static struct fake fake;
static const char *seed_path;

struct upload {
    char *data;
    size_t len;
    bool too_big;
};

int64_t
fake_now(const struct fake *f)
{
    return (int64_t) time(NULL) + f->now_offset;
}

void
fake_iso(int64_t t, char out[32])
{
    time_t tt = (time_t) t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *
fake_query(const struct fake_req *rq, const char *key)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

void
fake_reply_json(struct fake_reply *r, int status, cJSON *obj)
{
    free(r->body);
    r->status = status;
    r->body = cJSON_PrintUnformatted(obj);
    r->content_type = "application/json; charset=utf-8";
    cJSON_Delete(obj);
}

void
fake_reply_text(struct fake_reply *r, int status, const char *text)
{
    free(r->body);
    r->status = status;
    r->body = strdup(text);
    r->content_type = "text/plain; charset=utf-8";
}

void
fake_reply_error(struct fake_reply *r, int status, const char *error,
                 const char *description)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "error", error);
    if (description != NULL)
        cJSON_AddStringToObject(o, "description", description);
    fake_reply_json(r, status, o);
}

/* Cursors are opaque to clients: base64 of a small plain text. */
char *
fake_cursor_make(const char *plain)
{
    size_t n = strlen(plain);
    char *out = malloc(4 * ((n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) plain,
                    (int) n);
    return out;
}

bool
fake_cursor_read(const char *cursor, char *out, size_t out_len)
{
    size_t n = strlen(cursor);
    int m;

    if (n == 0 || n % 4 != 0 || 3 * (n / 4) >= out_len)
        return false;
    m = EVP_DecodeBlock((unsigned char *) out, (const unsigned char *) cursor,
                        (int) n);
    if (m < 0)
        return false;
    while (n > 0 && cursor[n - 1] == '=') {
        m--;
        n--;
    }
    out[m] = '\0';
    return true;
}

/* Rebuild the state from the seed: tickets, comments, articles. */
void
fake_load_seed(struct fake *f)
{
    const cJSON *t, *sec;
    cJSON *tk, *cs;
    char key[32];

    cJSON_Delete(f->tickets);
    cJSON_Delete(f->comments);
    cJSON_Delete(f->articles);
    cJSON_Delete(f->posted);
    cJSON_Delete(f->requests);
    f->tickets = cJSON_CreateArray();
    f->comments = cJSON_CreateObject();
    f->posted = cJSON_CreateArray();
    f->requests = cJSON_CreateArray();
    f->articles = cJSON_Duplicate(
        cJSON_GetObjectItemCaseSensitive(f->seed, "articles"), 1);
    if (f->articles == NULL)
        f->articles = cJSON_CreateArray();
    f->next_comment_id = 100000;
    f->next_audit_id = 500000;
    memset(&f->fail, 0, sizeof(f->fail));

    /* Comments move out of each ticket into their own list. */
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(f->seed,
                                                           "tickets")) {
        tk = cJSON_Duplicate(t, 1);
        cs = cJSON_DetachItemFromObjectCaseSensitive(tk, "comments");
        if (cs == NULL)
            cs = cJSON_CreateArray();
        snprintf(key, sizeof(key), "%lld",
                 (long long) cJSON_GetNumberValue(
                     cJSON_GetObjectItemCaseSensitive(tk, "id")));
        cJSON_AddItemToObject(f->comments, key, cs);
        cJSON_AddItemToArray(f->tickets, tk);
    }

    sec = cJSON_GetObjectItemCaseSensitive(f->seed, "webhook_secret");
    if (cJSON_IsString(sec))
        snprintf(f->secret, sizeof(f->secret), "%s", sec->valuestring);
}

static void
load_seed_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *text;
    long n;

    if (fp == NULL) {
        fprintf(stderr, "fake_zendesk: could not open \"%s\"\n", path);
        exit(2);
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    text = calloc(1, (size_t) n + 1);
    if (fread(text, 1, (size_t) n, fp) != (size_t) n)
        n = -1;
    fclose(fp);
    fake.seed = n >= 0 ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsObject(fake.seed)) {
        fprintf(stderr, "fake_zendesk: \"%s\" is not a JSON object\n", path);
        exit(2);
    }
}

/* Does the Authorization header carry the configured credentials? */
static bool
auth_ok(const char *h)
{
    char plain[300], want[450];

    if (h == NULL)
        return false;
    if (strncmp(h, "Bearer ", 7) == 0)
        return fake.oauth[0] != '\0' && strcmp(h + 7, fake.oauth) == 0;
    if (strncmp(h, "Basic ", 6) != 0)
        return false;
    snprintf(plain, sizeof(plain), "%s/token:%s", fake.email, fake.token);
    EVP_EncodeBlock((unsigned char *) want, (unsigned char *) plain,
                    (int) strlen(plain));
    return strcmp(h + 6, want) == 0;
}

/* Count a request against its limit; true when it is over. */
static bool
over_limit(struct fake_limit *l, int64_t now, struct fake_reply *r)
{
    int64_t window = now / 60;

    if (l->window != window) {
        l->window = window;
        l->used = 0;
    }
    l->used++;
    if (l->used <= l->per_min)
        return false;
    fake_reply_text(r, 429, "Number of allowed API requests per minute "
                            "exceeded");
    snprintf(r->retry_after, sizeof(r->retry_after), "%lld",
             (long long) (60 - now % 60));
    return true;
}

static struct fake_limit *
limit_for(const char *path)
{
    if (strncmp(path, "/api/v2/incremental/", 20) == 0)
        return &fake.lim_incremental;
    if (strncmp(path, "/api/v2/help_center/", 20) == 0)
        return &fake.lim_help_center;
    return &fake.lim_support;
}

/* Apply an injected failure if one matches; true when it answered. */
static bool
inject_failure(const struct fake_req *rq, struct fake_reply *r)
{
    struct fake_fail *fl = &fake.fail;

    if (fl->count <= 0 || strncmp(rq->path, fl->path, strlen(fl->path)) != 0)
        return false;
    if (fl->skip > 0) {
        fl->skip--;
        return false;
    }
    fl->count--;
    r->delay_ms = fl->delay_ms;
    r->truncate = fl->truncate;
    if (fl->status == 0)
        return false;

    fake_reply_text(r, fl->status, fl->body);
    if (fl->content_type[0] != '\0')
        r->content_type = fl->content_type;
    snprintf(r->retry_after, sizeof(r->retry_after), "%s", fl->retry_after);
    return true;
}

static void
dispatch(struct fake_req *rq, struct fake_reply *r)
{
    cJSON *entry;

    if (strncmp(rq->path, "/__fake/", 8) == 0) {
        fake_route_control(&fake, rq, r);
        return;
    }

    if (!inject_failure(rq, r) &&
        !over_limit(limit_for(rq->path), fake_now(&fake), r)) {
        if (rq->has_auth && !rq->authed)
            fake_reply_error(r, 401, "Couldn't authenticate you", NULL);
        else
            fake_route_api(&fake, rq, r);
    }

    entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "method", rq->method);
    cJSON_AddStringToObject(entry, "path", rq->path);
    cJSON_AddNumberToObject(entry, "status", r->status);
    cJSON_AddItemToArray(fake.requests, entry);
}

/* Strip the query (MHD already did) and a ".json" suffix. */
static void
clean_path(const char *url, char *out, size_t out_len)
{
    size_t n;

    snprintf(out, out_len, "%s", url);
    n = strlen(out);
    if (n > 5 && strcmp(out + n - 5, ".json") == 0)
        out[n - 5] = '\0';
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct fake_reply *r)
{
    struct MHD_Response *resp;
    struct fake_limit *l = &fake.lim_support;
    enum MHD_Result ret;
    size_t n = r->body != NULL ? strlen(r->body) : 0;
    char num[32];

    if (r->delay_ms > 0)
        usleep((useconds_t) r->delay_ms * 1000);
    if (r->truncate)
        n /= 2;
    resp = MHD_create_response_from_buffer(n, r->body != NULL ? r->body : "",
                                           MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", r->content_type != NULL
                                                      ? r->content_type
                                                      : "text/plain");
    if (r->retry_after[0] != '\0')
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    snprintf(num, sizeof(num), "%d", l->per_min);
    MHD_add_response_header(resp, "X-Rate-Limit", num);
    snprintf(num, sizeof(num), "%d",
             l->per_min > l->used ? l->per_min - l->used : 0);
    MHD_add_response_header(resp, "X-Rate-Limit-Remaining", num);
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
    struct fake_reply r = {404, NULL, NULL, "", 0, false};
    struct fake_req rq;
    char path[512];
    const char *auth;

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

    clean_path(url, path, sizeof(path));
    auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       "Authorization");
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = path;
    rq.body = up->data != NULL ? up->data : "";
    rq.body_len = up->len;
    rq.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    rq.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  "Content-Type");
    rq.conn = conn;
    rq.has_auth = auth != NULL;
    rq.authed = auth_ok(auth);

    pthread_mutex_lock(&fake.lock);
    if (up->too_big)
        fake_reply_error(&r, 413, "TooLarge", "request body too large");
    else
        dispatch(&rq, &r);
    pthread_mutex_unlock(&fake.lock);
    return send_reply(conn, &r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;

    if (up != NULL)
        free(up->data);
    free(up);
    *con_cls = NULL;
}

/* Close of stdin stops the server like SIGTERM does. */
static void *
watch_stdin(void *arg)
{
    char buf[256];

    while (read(0, buf, sizeof(buf)) > 0)
        ;
    kill(getpid(), SIGTERM);
    return NULL;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: fake_zendesk --seed FILE [--port N] [--email E] "
            "[--token T] [--oauth TOKEN] [--ignore-stdin]\n");
    exit(2);
}

static void
parse_args(int argc, char **argv, int *port, bool *ignore_stdin)
{
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--ignore-stdin") == 0) {
            *ignore_stdin = true;
            continue;
        }
        if (v == NULL)
            usage();
        if (strcmp(argv[i], "--seed") == 0)
            seed_path = v;
        else if (strcmp(argv[i], "--port") == 0)
            *port = atoi(v);
        else if (strcmp(argv[i], "--email") == 0)
            snprintf(fake.email, sizeof(fake.email), "%s", v);
        else if (strcmp(argv[i], "--token") == 0)
            snprintf(fake.token, sizeof(fake.token), "%s", v);
        else if (strcmp(argv[i], "--oauth") == 0)
            snprintf(fake.oauth, sizeof(fake.oauth), "%s", v);
        else
            usage();
        i++;
    }
    if (seed_path == NULL)
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
    int port = 0, sig;

    snprintf(fake.email, sizeof(fake.email), "agent@example.com");
    snprintf(fake.token, sizeof(fake.token), "EXAMPLETOKEN123");
    parse_args(argc, argv, &port, &ignore_stdin);
    pthread_mutex_init(&fake.lock, NULL);
    load_seed_file(seed_path);
    fake.hide_recent = 60;
    fake.export_page_size = 1000;
    fake.lim_support.per_min = 700;
    fake.lim_incremental.per_min = 10;
    fake.lim_help_center.per_min = 700;
    fake_load_seed(&fake);

    /* Signals are taken by sigwait() below; threads inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

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
        fprintf(stderr, "fake_zendesk: could not start the server\n");
        return 1;
    }
    printf("%u\n", MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    fflush(stdout);

    if (!ignore_stdin)
        pthread_create(&watcher, NULL, watch_stdin, NULL);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
