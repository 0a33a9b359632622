/*
 * test_llm_fx.c
 *      The fake model provider fixture (see test_llm_fx.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_llm_fx.h"

static void
record_sleep(void *arg, double s)
{
    struct fm_fx *fx = arg;

    if (fx->n_waits < 64)
        fx->waits[fx->n_waits] = s;
    fx->n_waits++;
}

void
fm_start(struct fm_fx *fx, int dim)
{
    int in[2], out[2], fd;
    char line[32], dims[16];
    size_t got = 0;

    memset(fx, 0, sizeof(*fx));
    snprintf(fx->record, sizeof(fx->record), "/tmp/fake_model_rec_XXXXXX");
    fd = mkstemp(fx->record);
    assert_true(fd >= 0);
    close(fd);
    snprintf(dims, sizeof(dims), "%d", dim);

    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fx->pid = fork();
    if (fx->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(FAKE_MODEL, "fake_model", "--api-key", FM_KEY, "--dim", dims,
              "--record", fx->record, "--max-seconds", "300",
              (char *) NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fx->in_fd = in[1];

    /* The first line is the port. */
    while (got < sizeof(line) - 1 && read(out[0], line + got, 1) == 1 &&
           line[got] != '\n')
        got++;
    line[got] = '\0';
    close(out[0]);
    fx->port = atoi(line);
    assert_true(fx->port > 0);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);

    fx->hc = tr_httpc_new(NULL, NULL);
    assert_non_null(fx->hc);
    tr_httpc_policy_preset(&fx->policy, TR_HTTPC_PRESET_OPENAI);
    fx->policy.sleep = record_sleep;
    fx->policy.sleep_arg = fx;
}

void
fm_stop(struct fm_fx *fx)
{
    int status;

    close(fx->in_fd);
    kill(fx->pid, SIGTERM);
    waitpid(fx->pid, &status, 0);
    unlink(fx->record);
    tr_httpc_free(fx->hc);
}

static char *
call(struct fm_fx *fx, const char *method, const char *what,
     const char *json)
{
    static const char *const hdrs[] = {"Content-Type: application/json"};
    struct tr_httpc_req req = {0};
    struct tr_httpc_resp resp;
    char url[256], *out;

    snprintf(url, sizeof(url), "%s/__fake/%s", fx->base, what);
    req.method = method;
    req.url = url;
    req.headers = hdrs;
    req.n_headers = 1;
    req.body = json;
    req.body_len = json != NULL ? strlen(json) : 0;
    tr_httpc_resp_init(&resp);
    assert_int_equal(tr_httpc_send(fx->hc, &req, &resp, NULL), TR_OK);
    assert_int_equal(resp.status, 200);
    out = strdup(resp.body.data);
    tr_httpc_resp_cleanup(&resp);
    return out;
}

void
fm_control(struct fm_fx *fx, const char *what, const char *json)
{
    free(call(fx, "POST", what, json != NULL ? json : "{}"));
}

int
fm_n_requests(struct fm_fx *fx)
{
    char *s = call(fx, "GET", "requests", NULL);
    int n = fm_count(s, "\"path\"");

    free(s);
    return n;
}

char *
fm_record(const struct fm_fx *fx)
{
    FILE *fp = fopen(fx->record, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = calloc(1, (size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, fp), (size_t) n);
    fclose(fp);
    return buf;
}

int
fm_count(const char *s, const char *needle)
{
    int n = 0;

    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}
