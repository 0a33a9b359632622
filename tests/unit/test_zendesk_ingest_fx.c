/*
 * test_zendesk_ingest_fx.c
 *      Shared fixture of the Zendesk service tests (see the header).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_zendesk_ingest_fx.h"
#include "zendesk.h"

void
zfx_fake_start(struct zfake *f)
{
    int in[2], out[2];
    char seed[512], line[32];
    size_t got = 0;

    snprintf(seed, sizeof(seed), "%s/tests/fakes/seed.json",
             getenv("TR_SOURCE_DIR"));
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    f->pid = fork();
    if (f->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(FAKE_ZENDESK, "fake_zendesk", "--seed", seed, (char *) NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->in_fd = in[1];
    while (got < sizeof(line) - 1 && read(out[0], line + got, 1) == 1 &&
           line[got] != '\n')
        got++;
    line[got] = '\0';
    close(out[0]);
    f->port = atoi(line);
    assert_true(f->port > 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
}

void
zfx_fake_stop(struct zfake *f)
{
    int status;

    close(f->in_fd);
    kill(f->pid, SIGTERM);
    waitpid(f->pid, &status, 0);
}

char *
zfx_control(struct zfake *f, const char *method, const char *path,
            const char *json)
{
    static const char *const hdrs[] = {"Content-Type: application/json"};
    struct tr_httpc *hc = tr_httpc_new(NULL, NULL);
    struct tr_httpc_req req = {0};
    struct tr_httpc_resp resp;
    char url[256], *out;

    snprintf(url, sizeof(url), "%s/__fake%s", f->base, path);
    req.method = method;
    req.url = url;
    req.headers = hdrs;
    req.n_headers = 1;
    req.body = json;
    req.body_len = json != NULL ? strlen(json) : 0;
    tr_httpc_resp_init(&resp);
    assert_int_equal(tr_httpc_send(hc, &req, &resp, NULL), TR_OK);
    assert_int_equal(resp.status, 200);
    out = strdup(resp.body.data != NULL ? resp.body.data : "");
    tr_httpc_resp_cleanup(&resp);
    tr_httpc_free(hc);
    return out;
}

int64_t
zfx_tenant_add(struct tr_pgtest *t, const char *name, const char *secret,
               const char *base, const char *reply_mode)
{
    char sql[1024], buf[32];

    if (base != NULL)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO tenants (name, webhook_secret, settings) "
                 "VALUES ('%s', '%s', jsonb_build_object('zendesk', "
                 "jsonb_build_object('base_url', '%s', 'email', "
                 "'agent@example.com', 'api_token', 'EXAMPLETOKEN123', "
                 "'reply_mode', '%s'))) RETURNING id",
                 name, secret, base, reply_mode);
    else
        snprintf(sql, sizeof(sql),
                 "INSERT INTO tenants (name, webhook_secret) "
                 "VALUES ('%s', '%s') RETURNING id", name, secret);
    assert_int_equal(tr_pgtest_owner_value(t, sql, buf, sizeof(buf)),
                     TR_OK);
    return strtoll(buf, NULL, 10);
}

long long
zfx_count(struct tr_pgtest *t, const char *sql)
{
    char buf[64];

    assert_int_equal(tr_pgtest_owner_value(t, sql, buf, sizeof(buf)),
                     TR_OK);
    return strtoll(buf, NULL, 10);
}

struct sink {
    char *out;
    size_t len, cap;
};

static size_t
sink_write(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t k = sz * n;

    for (size_t i = 0; i < k && s->len + 1 < s->cap; i++)
        s->out[s->len++] = p[i];
    s->out[s->len] = '\0';
    return k;
}

int
zfx_post(const char *url, const char *secret, const char *ctype,
         const char *body, char *out, size_t out_len)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct sink s = {out, 0, out_len};
    char line[256], ts[32], sig[64];
    time_t now = time(NULL);
    long status = 0;

    out[0] = '\0';
    snprintf(line, sizeof(line), "Content-Type: %s", ctype);
    h = curl_slist_append(h, line);
    if (secret != NULL) {
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        assert_int_equal(tr_zendesk_webhook_sign(secret, ts, body,
                                                 strlen(body), sig,
                                                 sizeof(sig)), TR_OK);
        snprintf(line, sizeof(line), "%s: %s", TR_ZENDESK_SIG_TS_HEADER, ts);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "%s: %s", TR_ZENDESK_SIG_HEADER, sig);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return (int) status;
}

static void
record_sleep(void *arg, double s)
{
    double *slept = arg;

    *slept += s;
}

void
zfx_policy(struct tr_httpc_policy *p, double *slept)
{
    tr_httpc_policy_preset(p, TR_HTTPC_PRESET_ZENDESK);
    p->sleep = record_sleep;
    p->sleep_arg = slept;
}

int
zfx_count_of(const char *s, const char *needle)
{
    int n = 0;

    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}
