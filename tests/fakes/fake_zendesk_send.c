/*
 * fake_zendesk_send.c
 *      The webhook sender of the fake Zendesk: delivers a JSON body to a
 *      URL signed the way Zendesk signs, or wrongly on purpose.
 *
 * It prints one line per attempt ("delivery=1 attempt=1 status=200") so
 * tests can assert what happened, retries non-2xx answers and transport
 * failures like Zendesk does (up to --retries times), and exits 0 when
 * every delivery ended with a 2xx answer, 1 otherwise, 2 on bad usage.
 * Test code only; single-threaded.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "httpc.h"
#include "zendesk.h"

struct opts {
    const char *url;
    const char *secret;
    const char *body;
    const char *mode;
    const char *webhook_id;
    int times;
    int retries;
    int delay_ms;
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: fake_zendesk_send --url URL --secret S --body JSON\n"
            "       [--mode good|badsig|nosig|nots|stale|future|tampered|"
            "b64secret|hex]\n"
            "       [--times N] [--retries N] [--retry-delay-ms N] "
            "[--webhook-id ID]\n");
    exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = "good";
    o->webhook_id = "01HZFAKEWEBHOOK";
    o->times = 1;
    o->retries = 3;
    o->delay_ms = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (strcmp(k, "--url") == 0)
            o->url = v;
        else if (strcmp(k, "--secret") == 0)
            o->secret = v;
        else if (strcmp(k, "--body") == 0)
            o->body = v;
        else if (strcmp(k, "--mode") == 0)
            o->mode = v;
        else if (strcmp(k, "--webhook-id") == 0)
            o->webhook_id = v;
        else if (strcmp(k, "--times") == 0)
            o->times = atoi(v);
        else if (strcmp(k, "--retries") == 0)
            o->retries = atoi(v);
        else if (strcmp(k, "--retry-delay-ms") == 0)
            o->delay_ms = atoi(v);
        else
            usage();
    }
    if (argc % 2 == 0 || o->url == NULL || o->secret == NULL ||
        o->body == NULL)
        usage();
}

/* Hex of the HMAC, a mistake some senders make. */
static void
sign_hex(const char *secret, const char *ts, const char *body, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t tl = strlen(ts), bl = strlen(body);
    char *msg = malloc(tl + bl + 1);

    memcpy(msg, ts, tl);
    memcpy(msg + tl, body, bl);
    HMAC(EVP_sha256(), secret, (int) strlen(secret), (unsigned char *) msg,
         tl + bl, mac, &n);
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", mac[i]);
    free(msg);
}

/* Compute the timestamp and signature for the chosen mode. */
static void
make_signature(const struct opts *o, char *ts, char *sig)
{
    time_t now = time(NULL);
    unsigned char dec[256];
    struct tm tm;
    int n;

    if (strcmp(o->mode, "stale") == 0)
        now -= 3600;
    else if (strcmp(o->mode, "future") == 0)
        now += 3600;
    gmtime_r(&now, &tm);
    strftime(ts, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (strcmp(o->mode, "hex") == 0) {
        sign_hex(o->secret, ts, o->body, sig);
        return;
    }
    if (strcmp(o->mode, "b64secret") == 0 && strlen(o->secret) < 300) {
        /* The mistake of decoding the secret before use. */
        n = EVP_DecodeBlock(dec, (const unsigned char *) o->secret,
                            (int) strlen(o->secret));
        dec[n > 0 ? n : 0] = '\0';
        tr_zendesk_webhook_sign((const char *) dec, ts, o->body,
                                strlen(o->body), sig, 128);
        return;
    }
    tr_zendesk_webhook_sign(o->secret, ts, o->body, strlen(o->body), sig,
                            128);
    if (strcmp(o->mode, "badsig") == 0)
        sig[0] = sig[0] == 'A' ? 'B' : 'A';
}

/* One attempt; returns the HTTP status or 0 after a transport error. */
static int
deliver(struct tr_httpc *hc, const struct opts *o)
{
    char ts[32], sig[160], h_sig[256], h_ts[128], h_id[160];
    const char *headers[5];
    const char *body = o->body;
    struct tr_httpc_req req = {0};
    struct tr_httpc_resp resp;
    size_t n = 0;
    int status;

    make_signature(o, ts, sig);
    snprintf(h_sig, sizeof(h_sig), "%s: %s", TR_ZENDESK_SIG_HEADER, sig);
    snprintf(h_ts, sizeof(h_ts), "%s: %s", TR_ZENDESK_SIG_TS_HEADER, ts);
    snprintf(h_id, sizeof(h_id), "%s: %s", TR_ZENDESK_WEBHOOK_ID_HEADER,
             o->webhook_id);
    headers[n++] = "Content-Type: application/json";
    headers[n++] = "User-Agent: Zendesk Webhook";
    headers[n++] = h_id;
    if (strcmp(o->mode, "nosig") != 0)
        headers[n++] = h_sig;
    if (strcmp(o->mode, "nots") != 0)
        headers[n++] = h_ts;

    /* Tampered: the body changes after it was signed. */
    if (strcmp(o->mode, "tampered") == 0)
        body = "{\"ticket_id\":\"1\",\"tampered\":true}";

    req.method = "POST";
    req.url = o->url;
    req.headers = headers;
    req.n_headers = n;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = 10000;
    tr_httpc_resp_init(&resp);
    status = tr_httpc_send(hc, &req, &resp, NULL) == TR_OK ? resp.status : 0;
    tr_httpc_resp_cleanup(&resp);
    return status;
}

int
main(int argc, char **argv)
{
    struct tr_httpc *hc;
    struct opts o;
    int failed = 0, status = 0;

    parse_args(argc, argv, &o);
    hc = tr_httpc_new(NULL, NULL);
    if (hc == NULL)
        return 1;

    for (int d = 1; d <= o.times; d++) {
        for (int a = 1; a <= o.retries + 1; a++) {
            status = deliver(hc, &o);
            printf("delivery=%d attempt=%d status=%d\n", d, a, status);
            fflush(stdout);
            if (status >= 200 && status < 300)
                break;
            if (a <= o.retries)
                usleep((useconds_t) o.delay_ms * 1000);
        }
        if (status < 200 || status > 299)
            failed = 1;
    }
    tr_httpc_free(hc);
    return failed;
}
