/*
 * policy.c
 *      The retry policy shared by every outbound caller, the token bucket
 *      budget, and small URL helpers.
 *
 * The rules follow section 0 of the external API fact sheet: retry on
 * transport failures, 408, 409, 429 and 5xx; obey x-should-retry; take
 * the server's wait from retry-after-ms or Retry-After when it lies in
 * (0, cap]; else wait 0.5 s * 2^n (at most 8 s) times a jitter factor in
 * (0.75, 1].  Everything but tr_httpc_request() is pure apart from the
 * injected clock and random functions, so it is tested without a server.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpc.h"
#include "log.h"

/* The default sleep: nanosleep, resumed after signals. */
static void
real_sleep(void *arg, double seconds)
{
    struct timespec ts;

    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t) seconds;
    ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The default clock: wall time, since HTTP-dates are wall time. */
static double
real_clock(void *arg)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* xorshift64*, one state per thread, seeded from the clock and stack. */
static double
real_rand(void *arg)
{
    static _Thread_local uint64_t state;
    uint64_t x;

    if (state == 0) {
        state = (uint64_t) (real_clock(NULL) * 1e6) ^
                (uint64_t) (uintptr_t) &x;
        if (state == 0)
            state = 0x9e3779b97f4a7c15ULL;
    }
    x = state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return (double) ((x * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/*
 * The common part is openai-python's and anthropic-python's: 2
 * retries, 0.5 s doubling to 8 s.  The presets differ in the cap on
 * server waits and what happens above it.
 */
void
tr_httpc_policy_preset(struct tr_httpc_policy *p, enum tr_httpc_preset which)
{
    memset(p, 0, sizeof(*p));
    p->name = "default";
    p->max_retries = 2;
    p->max_retries_429 = 2;
    p->retry_after_cap_s = 60;
    p->over_cap = TR_HTTPC_OVER_CAP_BACKOFF;
    p->backoff_initial_s = 0.5;
    p->backoff_max_s = 8;
    p->sleep = real_sleep;
    p->clock = real_clock;
    p->rand = real_rand;

    switch (which) {
    case TR_HTTPC_PRESET_OPENAI:
        /* openai-python does not retry when the wait is over its cap. */
        p->name = "openai";
        p->retry_after_cap_s = 120;
        p->over_cap = TR_HTTPC_OVER_CAP_GIVE_UP;
        break;
    case TR_HTTPC_PRESET_ANTHROPIC:
        p->name = "anthropic";
        break;
    case TR_HTTPC_PRESET_ZENDESK:
        /* Zendesk says: wait Retry-After, then retry; waits of 90 s and
         * more are normal, so a storm of 429s is waited out. */
        p->name = "zendesk";
        p->max_retries = 3;
        p->max_retries_429 = 10;
        p->retry_after_cap_s = 300;
        p->over_cap = TR_HTTPC_OVER_CAP_CLAMP;
        break;
    case TR_HTTPC_PRESET_DEFAULT:
        break;
    }
}

bool
tr_httpc_policy_retryable(enum tr_err rc, const struct tr_httpc_resp *resp)
{
    int s;

    if (rc == TR_E_TIMEOUT || rc == TR_E_HTTP_UPSTREAM)
        return true;
    if (rc != TR_OK)
        return false;

    /* The server's explicit word wins over the status rules. */
    if (resp->should_retry == 1)
        return true;
    if (resp->should_retry == 0)
        return false;

    s = resp->status;
    return s == 408 || s == 409 || s == 429 || s >= 500;
}

/* Parse "Sun, 06 Nov 1994 08:49:37 GMT"; -1 when it is not that form. */
static double
parse_http_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    return (double) timegm(&tm);
}

/* A finite non-negative number filling the whole string, else -1. */
static double
parse_number(const char *s)
{
    char *end;
    double v;

    if (s[0] == '\0')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !isfinite(v) || v < 0)
        return -1;
    return v;
}

/*
 * retry-after-ms wins because it is the more precise of the two; a
 * date in the past means "now", which callers treat as no usable wait.
 */
double
tr_httpc_parse_retry_after(const char *retry_after_ms,
                           const char *retry_after, double now)
{
    double v, when;

    if (retry_after_ms != NULL) {
        v = parse_number(retry_after_ms);
        if (v >= 0)
            return v / 1000.0;
    }
    if (retry_after == NULL || retry_after[0] == '\0')
        return -1;

    v = parse_number(retry_after);
    if (v >= 0)
        return v;

    when = parse_http_date(retry_after);
    if (when < 0)
        return -1;
    v = when - now;
    return v > 0 ? v : 0;
}

/*
 * The server's wait first, when it is positive and within the cap;
 * what happens above the cap is the preset's choice.  Then backoff:
 * 0.5 s * 2^retry up to 8 s, times 1 - 0.25 * r for r in [0, 1), which
 * is the jitter factor in (0.75, 1] of the SDKs.
 */
double
tr_httpc_policy_delay(const struct tr_httpc_policy *p, int retry,
                      const struct tr_httpc_resp *resp)
{
    double server = -1, now, base, r;

    if (resp != NULL) {
        now = p->clock != NULL ? p->clock(p->clock_arg) : real_clock(NULL);
        server = tr_httpc_parse_retry_after(resp->retry_after_ms,
                                            resp->retry_after, now);
    }

    if (server > 0 && server <= p->retry_after_cap_s)
        return server;
    if (server > p->retry_after_cap_s) {
        if (p->over_cap == TR_HTTPC_OVER_CAP_GIVE_UP)
            return -1;
        if (p->over_cap == TR_HTTPC_OVER_CAP_CLAMP)
            return p->retry_after_cap_s;
    }

    /* Exponential backoff; the exponent is bounded so pow() stays sane. */
    base = p->backoff_initial_s * pow(2.0, retry < 30 ? retry : 30);
    if (base > p->backoff_max_s)
        base = p->backoff_max_s;
    r = p->rand != NULL ? p->rand(p->rand_arg) : real_rand(NULL);
    if (r < 0 || r >= 1)
        r = 0;
    return base * (1.0 - 0.25 * r);
}

/* Sleep through the policy's function and account for the wait. */
static void
policy_sleep(const struct tr_httpc_policy *p, double s,
             struct tr_httpc_resp *resp)
{
    if (s <= 0)
        return;
    if (p->sleep != NULL)
        p->sleep(p->sleep_arg, s);
    else
        real_sleep(NULL, s);
    resp->slept_s += s;
}

/* Ask the budget hook until it lets the attempt go. */
static void
wait_budget(const struct tr_httpc_policy *p, tr_httpc_budget_fn *budget,
            void *budget_arg, struct tr_httpc_resp *resp)
{
    double w;

    if (budget == NULL)
        return;
    while ((w = budget(budget_arg)) > 0)
        policy_sleep(p, w, resp);
}

/* One warning per retry: ids and numbers only, never URLs or bodies. */
static void
log_retry(const struct tr_httpc_policy *p, enum tr_err rc,
          const struct tr_httpc_resp *resp, int attempt, double delay)
{
    TR_LOG_WARN("httpc", "request_retry",
                TR_KVS(TR_KV_STR("policy", p->name),
                       TR_KV_INT("status", resp->status),
                       TR_KV_STR("err", tr_err_name(rc)),
                       TR_KV_INT("attempt", attempt),
                       TR_KV_INT("delay_ms", (long long) (delay * 1000))),
                "retrying request after a failed attempt");
}

/*
 * The retry loop.  The budget is asked before every attempt, retries
 * included, so a tenant's limit also paces its retries.  The last
 * attempt's result is returned as is, so callers see the real status.
 */
enum tr_err
tr_httpc_request(struct tr_httpc *c, const struct tr_httpc_policy *policy,
                 tr_httpc_budget_fn *budget, void *budget_arg,
                 const struct tr_httpc_req *req, struct tr_httpc_resp *resp,
                 struct tr_error *err)
{
    struct tr_httpc_policy def;
    const struct tr_httpc_policy *p = policy;
    int n_other = 0, n_429 = 0;
    enum tr_err rc;
    double delay;
    bool is_429;

    if (p == NULL) {
        tr_httpc_policy_preset(&def, TR_HTTPC_PRESET_DEFAULT);
        p = &def;
    }
    resp->n_attempts = 0;
    resp->slept_s = 0;

    for (;;) {
        wait_budget(p, budget, budget_arg, resp);
        tr_error_clear(err);
        rc = tr_httpc_send(c, req, resp, err);
        resp->n_attempts++;
        if (!tr_httpc_policy_retryable(rc, resp))
            break;

        /* 429s have their own allowance so a rate-limit storm can be
         * waited out without allowing as many retries for real faults. */
        is_429 = rc == TR_OK && resp->status == 429;
        if (is_429 ? n_429 >= p->max_retries_429
                   : n_other >= p->max_retries)
            break;
        delay = tr_httpc_policy_delay(p, is_429 ? n_429 : n_other,
                                      rc == TR_OK ? resp : NULL);
        if (delay < 0)
            break;
        if (is_429)
            n_429++;
        else
            n_other++;

        log_retry(p, rc, resp, resp->n_attempts, delay);
        policy_sleep(p, delay, resp);
    }
    return rc;
}

enum tr_err
tr_httpc_status_err(int status)
{
    if (status >= 200 && status < 300)
        return TR_OK;
    switch (status) {
    case 400:
    case 422:
        return TR_E_INVAL;
    case 401:
        return TR_E_AUTH;
    case 403:
        return TR_E_PERM;
    case 404:
        return TR_E_NOTFOUND;
    case 409:
        return TR_E_CONFLICT;
    case 413:
        return TR_E_TOOBIG;
    case 408:
    case 429:
        return TR_E_AGAIN;
    default:
        return TR_E_HTTP_UPSTREAM;
    }
}

void
tr_httpc_bucket_init(struct tr_httpc_bucket *b, double rate_per_min,
                     double burst, tr_httpc_clock_fn *clock, void *clock_arg)
{
    pthread_mutex_init(&b->lock, NULL);
    b->rate_per_s = rate_per_min > 0 ? rate_per_min / 60.0 : 1.0;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->clock = clock != NULL ? clock : real_clock;
    b->clock_arg = clock_arg;
    b->last = b->clock(b->clock_arg);
}

/*
 * Refill by the time passed since the last call, capped at the burst,
 * then take a token or say how long until one is there.
 */
double
tr_httpc_bucket_take(void *arg)
{
    struct tr_httpc_bucket *b = arg;
    double now, wait = 0;

    pthread_mutex_lock(&b->lock);
    now = b->clock(b->clock_arg);
    if (now > b->last) {
        b->tokens += (now - b->last) * b->rate_per_s;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last = now;
    }
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (1 - b->tokens) / b->rate_per_s;
    pthread_mutex_unlock(&b->lock);
    return wait;
}

void
tr_httpc_bucket_cleanup(struct tr_httpc_bucket *b)
{
    pthread_mutex_destroy(&b->lock);
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
enum tr_err
tr_httpc_query_escape(struct tr_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    enum tr_err rc = TR_OK;
    char enc[3];

    for (; *s != '\0' && rc == TR_OK; s++) {
        unsigned char ch = (unsigned char) *s;

        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
            ch == '_' || ch == '~') {
            rc = tr_buf_append(b, s, 1);
            continue;
        }
        enc[0] = '%';
        enc[1] = hex[ch >> 4];
        enc[2] = hex[ch & 15];
        rc = tr_buf_append(b, enc, 3);
    }
    return rc;
}
