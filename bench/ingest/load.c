/*
 * load.c
 *      A bounded load generator for the Zendesk webhook route: signed
 *      deliveries over keep-alive connections to a server on loopback.
 *
 * bench_ingest_load --port P --tenant T --secret-file F
 *                   [--concurrency C] [--seconds S] [--run R]
 *
 * C connections each keep one request in flight (a closed loop, like a
 * sender that waits for its answer before the next delivery), all on one
 * epoll loop so that the generator takes little of the CPU the server
 * and PostgreSQL need.  Every delivery is a distinct event: its id (or,
 * for trigger-shaped bodies, its body) carries the run name, the
 * connection and a sequence number, so the inbox never folds two of
 * them into one row.  Each request is signed as Zendesk signs:
 * base64(HMAC-SHA256(secret, timestamp || body)).
 *
 * New requests stop after S seconds; answers to those in flight are
 * still awaited (10 s at most).  The report is one line of key=value
 * pairs on stdout: requests sent, 200 accepted, 200 duplicate, other
 * answers, transport errors, elapsed seconds, accepts per second and
 * the latency percentiles of the accepted requests in milliseconds.
 *
 * The secret is read from a file so that it never shows in a process
 * list.  Single-threaded.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAX_CONNS 1024
#define REQ_MAX 4096
#define RESP_MAX 8192
#define DRAIN_S 10.0

/* One keep-alive connection with at most one request in flight. */
struct conn {
    int fd;                     /* -1 while closed */
    int idx;                    /* position, part of every event id */
    long seq;                   /* requests started on this connection */
    char req[REQ_MAX];          /* the request being sent */
    size_t req_len, req_off;    /* its length, and how much is written */
    char resp[RESP_MAX];        /* the answer read so far */
    size_t resp_len;
    double sent_at;             /* when the request was started */
    bool busy;                  /* a request waits for its answer */
};

/* The run: its settings, its connections and what they counted. */
struct load {
    const char *tenant;
    char secret[512];
    const char *run;            /* prefix of the event ids */
    int port;
    int n_conns;
    double seconds;
    int ep;                     /* the epoll descriptor */
    struct conn *conns;

    /* results */
    long n_sent, n_accepted, n_dup, n_other, n_errors;
    double *lat;                /* seconds, accepted requests only */
    long lat_len, lat_cap;
    int last_status;
};

/* Monotonic seconds: latencies must not jump with the wall clock. */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The signed timestamp: ISO 8601 UTC, as Zendesk sends it. */
static void
stamp_now(char *out, size_t out_len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* base64(HMAC-SHA256(secret, ts || body)) into out (45 bytes or more). */
static int
sign(const char *secret, const char *ts, const char *body, size_t body_len,
     char *out)
{
    unsigned char msg[REQ_MAX], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t ts_len = strlen(ts);

    if (ts_len + body_len > sizeof(msg))
        return -1;
    memcpy(msg, ts, ts_len);
    memcpy(msg + ts_len, body, body_len);
    if (HMAC(EVP_sha256(), secret, (int) strlen(secret), msg,
             ts_len + body_len, mac, &mac_len) == NULL || mac_len != 32)
        return -1;
    EVP_EncodeBlock((unsigned char *) out, mac, (int) mac_len);
    return 0;
}

/*
 * Build the next delivery of connection `c`.  Even sequence numbers are
 * event-subscription bodies (deduplicated by their id), odd ones the
 * documented trigger template (deduplicated by a digest of the body), so
 * both parsing paths of the route are exercised.
 */
static int
build_request(struct load *l, struct conn *c)
{
    char body[1024], ts[32], sig[64];
    long ticket = 1 + (c->idx * 1000003L + c->seq) % 900000;
    int body_len, n;

    stamp_now(ts, sizeof(ts));
    if (c->seq % 2 == 0)
        body_len = snprintf(body, sizeof(body),
            "{\"type\":\"zen:event-type:ticket.created\","
            "\"account_id\":1,\"id\":\"%s-%d-%ld\",\"time\":\"%s\","
            "\"zendesk_event_version\":\"2022-11-06\","
            "\"subject\":\"zen:ticket:%ld\",\"detail\":{\"id\":\"%ld\","
            "\"status\":\"NEW\",\"subject\":\"Printer offline\"}}",
            l->run, c->idx, c->seq, ts, ticket, ticket);
    else
        body_len = snprintf(body, sizeof(body),
            "{\"ticket_id\":\"%ld\",\"updated_at\":\"%s\","
            "\"event\":\"ticket_updated\",\"delivery\":\"%s-%d-%ld\"}",
            ticket, ts, l->run, c->idx, c->seq);
    if (body_len < 0 || (size_t) body_len >= sizeof(body) ||
        sign(l->secret, ts, body, (size_t) body_len, sig) != 0)
        return -1;

    n = snprintf(c->req, sizeof(c->req),
                 "POST /webhooks/zendesk/%s HTTP/1.1\r\n"
                 "Host: 127.0.0.1:%d\r\n"
                 "Content-Type: application/json\r\n"
                 "User-Agent: Zendesk Webhook\r\n"
                 "X-Zendesk-Webhook-Signature: %s\r\n"
                 "X-Zendesk-Webhook-Signature-Timestamp: %s\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 l->tenant, l->port, sig, ts, body_len, body);
    if (n < 0 || (size_t) n >= sizeof(c->req))
        return -1;
    c->req_len = (size_t) n;
    c->req_off = 0;
    c->resp_len = 0;
    return 0;
}

/*
 * Connect `c` to the server and watch it for answers.  Returns -1 (with
 * errno) when the server cannot be reached.
 */
static int
conn_open(struct load *l, struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event ev = {.events = EPOLLIN};
    int one = 1;

    sa.sin_port = htons((unsigned short) l->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }

    /* Requests are small and each waits for its answer: no Nagle.  The
     * connect above may block (loopback answers at once), the rest may
     * not. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    ev.data.ptr = c;
    return epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Close `c`; a request still in flight on it is given up. */
static void
conn_close(struct load *l, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->busy = false;
}

/*
 * Write what the kernel takes of the pending request.  Writability is
 * watched only while a request is left over, since a level-triggered
 * EPOLLOUT on an idle socket would spin the loop.
 */
static int
conn_send(struct load *l, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    bool was_waiting = c->req_off > 0;

    while (c->req_off < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->req_off,
                         c->req_len - c->req_off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            ev.events = EPOLLIN | EPOLLOUT;
            return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        if (n <= 0)
            return -1;
        c->req_off += (size_t) n;
    }
    if (was_waiting)
        return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

/* Start the next request on `c` (the connection is idle). */
static int
conn_next(struct load *l, struct conn *c)
{
    if (build_request(l, c) != 0) {
        fprintf(stderr, "bench_ingest_load: could not build a request\n");
        return -1;
    }
    c->seq++;
    c->busy = true;
    c->sent_at = now_s();
    l->n_sent++;
    return conn_send(l, c);
}

/*
 * Parse the answer in c->resp.  Returns 1 when complete (status in
 * *status, body in *body), 0 when more bytes are needed, -1 when it is
 * not HTTP/1.x with a Content-Length.
 */
static int
parse_response(struct conn *c, int *status, const char **body,
               bool *closing)
{
    char *end, *p;
    long clen = -1;

    c->resp[c->resp_len] = '\0';
    end = strstr(c->resp, "\r\n\r\n");
    if (end == NULL)
        return c->resp_len + 1 >= sizeof(c->resp) ? -1 : 0;
    if (sscanf(c->resp, "HTTP/1.%*d %d", status) != 1)
        return -1;

    *closing = false;
    /* The route answers with a length; keep-alive is HTTP/1.1's default
     * unless the server says it closes. */
    for (p = strstr(c->resp, "\r\n"); p != NULL && p < end;
         p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
            clen = strtol(p + 17, NULL, 10);
        else if (strncasecmp(p + 2, "Connection: close", 17) == 0)
            *closing = true;
    }
    if (clen < 0)
        return -1;
    if (c->resp_len < (size_t) (end + 4 - c->resp) + (size_t) clen)
        return 0;           /* the body is still on its way */
    *body = end + 4;
    return 1;
}

/*
 * Keep one latency sample.  Every sample is kept (8 bytes each), so the
 * percentiles are exact rather than read off a histogram.
 */
static void
lat_add(struct load *l, double s)
{
    if (l->lat_len == l->lat_cap) {
        long cap = l->lat_cap ? l->lat_cap * 2 : 65536;
        double *p = realloc(l->lat, (size_t) cap * sizeof(*p));

        if (p == NULL)
            return;             /* the figure loses a sample, no more */
        l->lat = p;
        l->lat_cap = cap;
    }
    l->lat[l->lat_len++] = s;
}

/* Count a complete answer. */
static void
tally(struct load *l, struct conn *c, int status, const char *body)
{
    if (status == 200 && strstr(body, "\"accepted\"") != NULL) {
        l->n_accepted++;
        lat_add(l, now_s() - c->sent_at);
    } else if (status == 200 && strstr(body, "\"duplicate\"") != NULL) {
        l->n_dup++;
    } else {
        l->n_other++;
        if (l->n_other <= 3)
            fprintf(stderr, "bench_ingest_load: HTTP %d: %.200s\n", status,
                    body);
    }
    l->last_status = status;
}

/*
 * Read what arrived on `c`.  Returns 1 when an answer completed, 0 when
 * more is awaited, -1 on a transport error (the request is lost and
 * counted as an error).
 */
static int
conn_read(struct load *l, struct conn *c)
{
    const char *body = NULL;
    int status = 0, r;
    bool closing = false;

    for (;;) {
        ssize_t n = recv(c->fd, c->resp + c->resp_len,
                         sizeof(c->resp) - 1 - c->resp_len, 0);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0)
            return -1;
        c->resp_len += (size_t) n;
        if (c->resp_len + 1 >= sizeof(c->resp))
            break;
    }

    r = parse_response(c, &status, &body, &closing);
    if (r <= 0)
        return r;

    tally(l, c, status, body);
    c->busy = false;
    if (closing)
        conn_close(l, c);
    return 1;
}

/* Handle one epoll event; a connection that fails is reopened. */
static int
on_event(struct load *l, struct conn *c, unsigned events, bool more)
{
    int r = 0;

    if (c->fd < 0)
        return 0;

    if (c->busy && (events & EPOLLOUT))
        r = conn_send(l, c);
    if (r == 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        r = conn_read(l, c);

    /* A broken connection loses its request; the sender reconnects, as
     * a webhook sender would, while the run lasts. */
    if (r < 0) {
        if (c->busy)
            l->n_errors++;
        conn_close(l, c);
        if (!more)
            return 0;
        if (conn_open(l, c) != 0)
            return -1;
        r = 1;
    }

    if (r == 1 && more) {
        if (c->fd < 0 && conn_open(l, c) != 0)
            return -1;
        return conn_next(l, c) == 0 ? 0 : -1;
    }
    return 0;
}

/* qsort() order of doubles, without the overflow of a subtraction. */
static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* The q-quantile of the sorted samples in milliseconds (nearest rank). */
static double
pct(const struct load *l, double q)
{
    long i;

    if (l->lat_len == 0)
        return 0;

    i = (long) (q * (double) (l->lat_len - 1) + 0.5);
    return l->lat[i] * 1000.0;
}

/*
 * Print the report line.  per_conn_min and per_conn_max are the fewest
 * and most requests one connection made: a server that leaves some
 * connections waiting behind others shows as a wide spread.
 */
static void
report(struct load *l, double elapsed)
{
    long seq_min = l->conns[0].seq, seq_max = l->conns[0].seq;

    for (int i = 1; i < l->n_conns; i++) {
        if (l->conns[i].seq < seq_min)
            seq_min = l->conns[i].seq;
        if (l->conns[i].seq > seq_max)
            seq_max = l->conns[i].seq;
    }
    qsort(l->lat, (size_t) l->lat_len, sizeof(double), cmp_double);

    printf("concurrency=%d sent=%ld accepted=%ld duplicate=%ld other=%ld "
           "errors=%ld seconds=%.2f accepts_per_s=%.0f p50_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f per_conn_min=%ld per_conn_max=%ld\n",
           l->n_conns, l->n_sent, l->n_accepted, l->n_dup, l->n_other,
           l->n_errors, elapsed, l->n_accepted / elapsed,
           pct(l, 0.50), pct(l, 0.99), pct(l, 1.0), seq_min, seq_max);
}

/* Open every connection and start its first request. */
static int
start_all(struct load *l)
{
    for (int i = 0; i < l->n_conns; i++) {
        struct conn *c = &l->conns[i];

        c->idx = i;
        if (conn_open(l, c) != 0 || conn_next(l, c) != 0) {
            fprintf(stderr, "bench_ingest_load: could not connect to "
                    "127.0.0.1:%d: %s\n", l->port, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Run the loop: send for l->seconds, then drain. */
static int
run(struct load *l)
{
    struct epoll_event evs[64];
    double t0 = now_s(), stop_at = t0 + l->seconds;
    double drain_until = stop_at + DRAIN_S;
    int in_flight;

    if (start_all(l) != 0)
        return -1;

    /*
     * Each answer starts the connection's next request until stop_at;
     * after it, the loop only waits for the answers still due.
     */
    for (;;) {
        double now = now_s();
        bool more = now < stop_at;
        int n;

        in_flight = 0;
        for (int i = 0; i < l->n_conns; i++)
            in_flight += l->conns[i].busy;
        if ((!more && in_flight == 0) || now > drain_until)
            break;

        n = epoll_wait(l->ep, evs, 64, 100);
        for (int i = 0; i < n; i++)
            if (on_event(l, evs[i].data.ptr, evs[i].events, more) != 0)
                return -1;
    }

    /* Requests still unanswered after the drain count as errors. */
    l->n_errors += in_flight;
    report(l, now_s() - t0);
    return 0;
}

/* Read the secret: the file's first line, without its newline. */
static int
read_secret(const char *path, char *out, size_t out_len)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "bench_ingest_load: could not open file \"%s\": "
                "%s\n", path, strerror(errno));
        return -1;
    }
    if (fgets(out, (int) out_len, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (out[0] == '\0') {
        fprintf(stderr, "bench_ingest_load: \"%s\" holds no secret\n", path);
        return -1;
    }
    return 0;
}

/* Print the usage line; 2 is the exit status of a usage error. */
static int
usage(void)
{
    fprintf(stderr, "usage: bench_ingest_load --port P --tenant T "
            "--secret-file F [--concurrency C] [--seconds S] [--run R]\n");
    return 2;
}

/*
 * Fill `l` from the command line and read the secret.  Returns 0, or
 * the exit status to leave with (2 for a usage error).
 */
static int
parse_args(int argc, char **argv, struct load *l)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"tenant", required_argument, NULL, 't'},
        {"secret-file", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0}
    };
    const char *secret_file = NULL;
    int opt;

    /* Options are checked as a whole below, so a bad one gives usage. */
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'p': l->port = atoi(optarg); break;
        case 't': l->tenant = optarg; break;
        case 's': secret_file = optarg; break;
        case 'c': l->n_conns = atoi(optarg); break;
        case 'd': l->seconds = atof(optarg); break;
        case 'r': l->run = optarg; break;
        default: return usage();
        }
    }
    if (l->port <= 0 || l->port > 65535 || l->tenant == NULL ||
        secret_file == NULL || l->n_conns < 1 || l->n_conns > MAX_CONNS ||
        l->seconds <= 0 || optind < argc)
        return usage();
    return read_secret(secret_file, l->secret, sizeof(l->secret)) == 0
           ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct load l = {.n_conns = 8, .seconds = 10, .run = "bench"};
    int rc;

    rc = parse_args(argc, argv, &l);
    if (rc != 0)
        return rc;

    l.ep = epoll_create1(0);
    l.conns = calloc((size_t) l.n_conns, sizeof(*l.conns));
    if (l.ep < 0 || l.conns == NULL) {
        fprintf(stderr, "bench_ingest_load: out of resources\n");
        return 1;
    }
    for (int i = 0; i < l.n_conns; i++)
        l.conns[i].fd = -1;

    rc = run(&l);

    /* Leave nothing behind: sockets, samples, the secret's bytes. */
    for (int i = 0; i < l.n_conns; i++)
        conn_close(&l, &l.conns[i]);
    memset(l.secret, 0, sizeof(l.secret));
    free(l.conns);
    free(l.lat);
    close(l.ep);
    return rc == 0 ? 0 : 1;
}
