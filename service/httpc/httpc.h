/*
 * httpc.h
 *      Outbound HTTP client and the one retry policy every caller of an
 *      outside API uses.
 *
 * A client (struct tr_httpc) wraps one libcurl handle and its connection
 * cache, so requests to the same host reuse connections.  A client belongs
 * to one thread at a time; make one per worker thread.  TLS peers are
 * always verified.  A request carries its own response cap: an upstream
 * that sends more gets TR_E_TOOBIG and nothing is retried.
 *
 * The retry policy (struct tr_httpc_policy) decides, after each attempt,
 * whether to try again and how long to wait: connection errors, timeouts,
 * 408, 409, 429 and 5xx are retried; x-should-retry is obeyed;
 * retry-after-ms, then Retry-After (seconds or HTTP-date) are honoured up
 * to a per-provider cap; otherwise exponential backoff with jitter.  The
 * sleep, clock and random functions are injectable so that tests never
 * wait.  An optional budget hook (a token bucket per tenant, say) is asked
 * before every attempt.
 *
 * Nothing here logs an Authorization header or a body.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_HTTPC_H
#define TR_HTTPC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "mem.h"

struct tr_httpc;

/* Client-wide settings; zero fields take the defaults shown. */
struct tr_httpc_opts {
    long connect_timeout_ms;   /* 5000 */
    long timeout_ms;           /* 600000, whole request */
    const char *ca_file;       /* NULL: the system store */
    const char *user_agent;    /* "triage/<version>" */
};

/*
 * One request.  `headers` are complete "Name: value" lines; callers put
 * Authorization there and nowhere else.  `max_response` caps the body
 * (0 means 8 MiB).  `timeout_ms` overrides the client's total timeout when
 * not zero.  Everything is borrowed for the duration of the call.
 */
struct tr_httpc_req {
    const char *method;            /* "GET", "PUT", ... */
    const char *url;
    const char *const *headers;
    size_t n_headers;
    const char *body;              /* NULL: no body */
    size_t body_len;
    size_t max_response;
    long timeout_ms;
};

/*
 * One response.  Only the headers the policy and callers need are kept,
 * as trimmed text ("" when absent).  `should_retry` is -1 when the header
 * was absent, else 0 or 1.  `body` is zero-terminated.  Initialise with
 * tr_httpc_resp_init() and release with tr_httpc_resp_cleanup().
 */
struct tr_httpc_resp {
    int status;
    struct tr_buf body;
    char content_type[96];
    char retry_after[64];
    char retry_after_ms[32];
    char rate_limit_remaining[32];
    int should_retry;
    int n_attempts;            /* filled by tr_httpc_request() */
    double slept_s;            /* total wait between attempts */
};

/* Sleep for `seconds`; tests substitute one that records and returns. */
typedef void tr_httpc_sleep_fn(void *arg, double seconds);

/* Current wall-clock time in seconds since the epoch. */
typedef double tr_httpc_clock_fn(void *arg);

/* A uniform random number in [0, 1). */
typedef double tr_httpc_rand_fn(void *arg);

/*
 * Budget hook, asked before every attempt: return 0 to go now, or the
 * number of seconds to wait before asking again.  Must be thread-safe if
 * shared.
 */
typedef double tr_httpc_budget_fn(void *arg);

/* What to do when the server asks for a wait longer than the cap. */
enum tr_httpc_over_cap {
    TR_HTTPC_OVER_CAP_BACKOFF = 0, /* ignore it, use exponential backoff */
    TR_HTTPC_OVER_CAP_GIVE_UP,     /* stop retrying, return the answer */
    TR_HTTPC_OVER_CAP_CLAMP        /* wait the cap, then retry */
};

/*
 * The retry policy.  Make one with tr_httpc_policy_preset() and adjust
 * fields; a policy is read-only while requests use it and may be shared
 * between threads (the injected functions must then be thread-safe).
 */
struct tr_httpc_policy {
    const char *name;              /* for logs: "zendesk", "openai" */
    int max_retries;               /* retries after the first attempt */
    int max_retries_429;           /* retries allowed for 429 answers */
    double retry_after_cap_s;      /* honour server waits up to this */
    enum tr_httpc_over_cap over_cap;
    double backoff_initial_s;      /* 0.5 */
    double backoff_max_s;          /* 8 */
    tr_httpc_sleep_fn *sleep;      /* NULL: nanosleep */
    void *sleep_arg;
    tr_httpc_clock_fn *clock;      /* NULL: clock_gettime(REALTIME) */
    void *clock_arg;
    tr_httpc_rand_fn *rand;        /* NULL: a per-thread generator */
    void *rand_arg;
};

/* Ready-made policies matching each provider's own client library. */
enum tr_httpc_preset {
    TR_HTTPC_PRESET_DEFAULT = 0,   /* 2 retries, cap 60 s, backoff */
    TR_HTTPC_PRESET_OPENAI,        /* 2 retries, cap 120 s, give up above */
    TR_HTTPC_PRESET_ANTHROPIC,     /* 2 retries, cap 60 s, backoff above */
    TR_HTTPC_PRESET_ZENDESK        /* 3 retries, 10 on 429, cap 300 s */
};

/*
 * A token bucket usable as a budget hook: `rate_per_min` tokens a minute,
 * holding at most `burst`.  Thread-safe.  Embed it, call
 * tr_httpc_bucket_init(), pass tr_httpc_bucket_take as the hook with the
 * bucket as its argument, and tr_httpc_bucket_cleanup() at the end.
 */
struct tr_httpc_bucket {
    pthread_mutex_t lock;
    double rate_per_s;
    double burst;
    double tokens;
    double last;
    tr_httpc_clock_fn *clock;
    void *clock_arg;
};

/*
 * Initialise the process-wide state of libcurl.  Call once from the main
 * thread before starting other threads; tr_httpc_new() calls it too, so
 * single-threaded programs need not.  Thread: main only.
 */
enum tr_err tr_httpc_global_init(struct tr_error *err);

/*
 * Create a client.  `opts` may be NULL for the defaults.  Returns NULL
 * with `err` filled (TR_E_NOMEM or TR_E_INTERNAL) on failure.  The caller
 * owns the client and frees it with tr_httpc_free().  One thread at a time.
 */
struct tr_httpc *tr_httpc_new(const struct tr_httpc_opts *opts,
                              struct tr_error *err);

/*
 * Release a client and its connections.  NULL is a no-op.
 */
void tr_httpc_free(struct tr_httpc *c);

/*
 * Prepare `resp` for use; its body is capped later per request.
 */
void tr_httpc_resp_init(struct tr_httpc_resp *resp);

/*
 * Release what `resp` holds and make it empty again.
 */
void tr_httpc_resp_cleanup(struct tr_httpc_resp *resp);

/*
 * Make exactly one attempt of `req`.  Returns TR_OK whenever an HTTP
 * answer arrived, whatever its status (see resp->status).  Otherwise:
 * TR_E_TIMEOUT (connect or total timeout), TR_E_HTTP_UPSTREAM (could not
 * resolve or connect, TLS failure, connection reset; resp->status 0),
 * TR_E_TOOBIG (body over req->max_response), TR_E_INVAL (bad request
 * fields).  `resp` is reset first.  The thread owning `c` only.
 */
enum tr_err tr_httpc_send(struct tr_httpc *c, const struct tr_httpc_req *req,
                          struct tr_httpc_resp *resp, struct tr_error *err);

/*
 * Send `req` under `policy` (NULL: the default preset), waiting as the
 * policy says between attempts and asking `budget` (may be NULL, with its
 * argument `budget_arg`) before each one.  Returns like tr_httpc_send()
 * for the last attempt: TR_OK when an answer arrived, which may still be
 * an error status once the retries are spent or when the status is not
 * retryable.  resp->n_attempts and resp->slept_s tell what happened.
 */
enum tr_err tr_httpc_request(struct tr_httpc *c,
                             const struct tr_httpc_policy *policy,
                             tr_httpc_budget_fn *budget, void *budget_arg,
                             const struct tr_httpc_req *req,
                             struct tr_httpc_resp *resp,
                             struct tr_error *err);

/*
 * Fill `p` with the preset `which`, including the real sleep, clock and
 * random functions.  Pure.
 */
void tr_httpc_policy_preset(struct tr_httpc_policy *p,
                            enum tr_httpc_preset which);

/*
 * True when an attempt that ended with `rc` and, if rc is TR_OK, the
 * answer `resp`, may be retried under the policy's rules (ignoring the
 * retry count).  Pure.
 */
bool tr_httpc_policy_retryable(enum tr_err rc,
                               const struct tr_httpc_resp *resp);

/*
 * Compute the wait before retry number `retry` (0 for the first retry)
 * after the answer `resp` (NULL after a transport error).  Returns the
 * seconds to wait, or a negative value when the policy says to give up
 * (server wait over the cap with TR_HTTPC_OVER_CAP_GIVE_UP).  Uses the
 * policy's clock (HTTP-dates) and random function (jitter).
 */
double tr_httpc_policy_delay(const struct tr_httpc_policy *p, int retry,
                             const struct tr_httpc_resp *resp);

/*
 * Parse the server's wait from `retry_after_ms` (milliseconds) or, when
 * that is empty or invalid, `retry_after` (seconds, possibly fractional,
 * or an IMF-fixdate HTTP-date taken relative to `now`).  Returns the
 * seconds, or -1 when neither holds a usable value.  Pure.
 */
double tr_httpc_parse_retry_after(const char *retry_after_ms,
                                  const char *retry_after, double now);

/*
 * Map an HTTP status to a status code of ours for callers that treat
 * every non-2xx answer as a failure: 401 TR_E_AUTH, 403 TR_E_PERM, 404
 * TR_E_NOTFOUND, 409 TR_E_CONFLICT, 400/422 TR_E_INVAL, 413 TR_E_TOOBIG,
 * 408/429 TR_E_AGAIN, 5xx and the rest TR_E_HTTP_UPSTREAM, 2xx TR_OK.
 * Pure.
 */
enum tr_err tr_httpc_status_err(int status);

/*
 * Initialise a token bucket (see struct tr_httpc_bucket); `clock` may be
 * NULL for the real clock.  The bucket starts full.
 */
void tr_httpc_bucket_init(struct tr_httpc_bucket *b, double rate_per_min,
                          double burst, tr_httpc_clock_fn *clock,
                          void *clock_arg);

/*
 * Budget hook over a struct tr_httpc_bucket passed as `arg`: takes one
 * token and returns 0, or returns the seconds until one is available.
 * Thread-safe.
 */
double tr_httpc_bucket_take(void *arg);

/*
 * Release the bucket's lock.
 */
void tr_httpc_bucket_cleanup(struct tr_httpc_bucket *b);

/*
 * Append `s` percent-encoded for a URL query value (everything but
 * unreserved characters is encoded).  Returns tr_buf_append()'s codes.
 */
enum tr_err tr_httpc_query_escape(struct tr_buf *b, const char *s);

#endif /* TR_HTTPC_H */
