/*
 * webhook.c
 *      Verification and parsing of Zendesk webhook deliveries.
 *
 * Zendesk signs base64(HMAC-SHA256(secret, timestamp || raw body)) and
 * sends it with the timestamp it signed.  Verification works on the raw
 * bytes before any JSON parsing, compares in constant time, and rejects
 * timestamps outside a window so a captured delivery cannot be replayed
 * later.  Parsing accepts the two payload styles (event subscriptions
 * with a fixed schema, and the small trigger template we document) and
 * normalises them.  Pure functions; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "zendesk_int.h"

#define EVENT_TYPE_PREFIX "zen:event-type:"
#define SUBJECT_TICKET_PREFIX "zen:ticket:"

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Read exactly `n` digits at *p into *out and advance. */
static bool
read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char) (*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Parse the zone suffix: "Z", "+hh:mm" or "-hh:mm", into seconds. */
static bool
read_zone(const char *p, int *offset)
{
    int hh, mm, sign;

    if (p[0] == 'Z' && p[1] == '\0') {
        *offset = 0;
        return true;
    }
    if (p[0] != '+' && p[0] != '-')
        return false;
    sign = p[0] == '-' ? -1 : 1;
    p++;
    if (!read_digits(&p, 2, &hh) || *p++ != ':' || !read_digits(&p, 2, &mm))
        return false;
    if (*p != '\0' || hh > 23 || mm > 59)
        return false;
    *offset = sign * (hh * 3600 + mm * 60);
    return true;
}

/*
 * Strict on the shape (the signed header is machine-made), lenient on
 * the fraction and the zone form.  Leap seconds (60) are accepted.
 */
bool
tr_zendesk_time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se, off;
    const char *p = s;

    if (s == NULL)
        return false;
    if (!read_digits(&p, 4, &y) || *p++ != '-' ||
        !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d) || *p++ != 'T' ||
        !read_digits(&p, 2, &h) || *p++ != ':' ||
        !read_digits(&p, 2, &mi) || *p++ != ':' ||
        !read_digits(&p, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60)
        return false;

    /* A fraction of a second is accepted and dropped. */
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char) *p))
            return false;
        while (isdigit((unsigned char) *p))
            p++;
    }
    if (!read_zone(p, &off))
        return false;

    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return true;
}

/*
 * HMAC over the timestamp then the body, fed in two updates so the
 * body is never copied; the EVP_MAC interface is OpenSSL 3's.
 */
enum tr_err
tr_zendesk_webhook_sign(const char *secret, const char *timestamp,
                        const char *body, size_t body_len, char *out,
                        size_t out_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    EVP_MAC *m = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    enum tr_err rc = TR_E_INTERNAL;

    if (out_len < 45)
        return TR_E_INVAL;

    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (m == NULL)
        goto out;
    ctx = EVP_MAC_CTX_new(m);
    if (ctx == NULL)
        goto out;

    /* The secret is used as its bytes, never base64-decoded. */
    params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, (const unsigned char *) secret, strlen(secret),
                      params) ||
        !EVP_MAC_update(ctx, (const unsigned char *) timestamp,
                        strlen(timestamp)) ||
        !EVP_MAC_update(ctx, (const unsigned char *) body, body_len) ||
        !EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) || mac_len != 32)
        goto out;

    EVP_EncodeBlock((unsigned char *) out, mac, (int) mac_len);
    rc = TR_OK;

out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return rc;
}

/*
 * The order of the checks matters: the signature is compared before
 * the window, so that a replay of a genuine delivery is reported as
 * stale (useful for operators) while a forgery never learns anything
 * about the clock.
 */
enum tr_err
tr_zendesk_webhook_verify(const char *secret, const char *signature,
                          const char *timestamp, const char *body,
                          size_t body_len, time_t now, int window_s,
                          struct tr_error *err)
{
    char want[64];
    int64_t ts;

    if (secret == NULL || secret[0] == '\0')
        return TR_ERROR(err, TR_E_CONF, "no webhook signing secret is set");
    if (signature == NULL || signature[0] == '\0')
        return TR_ERROR(err, TR_E_AUTH, "missing header \"%s\"",
                        TR_ZENDESK_SIG_HEADER);
    if (timestamp == NULL || timestamp[0] == '\0')
        return TR_ERROR(err, TR_E_AUTH, "missing header \"%s\"",
                        TR_ZENDESK_SIG_TS_HEADER);
    if (!tr_zendesk_time_parse(timestamp, &ts))
        return TR_ERROR(err, TR_E_AUTH,
                        "webhook timestamp is not an ISO 8601 UTC time");

    memset(want, 0, sizeof(want));
    if (tr_zendesk_webhook_sign(secret, timestamp, body != NULL ? body : "",
                                body_len, want, sizeof(want)) != TR_OK)
        return TR_ERROR(err, TR_E_INTERNAL,
                        "could not compute the webhook signature");

    /* Equal length first (the length of a SHA-256 base64 is public), then
     * the bytes in constant time. */
    if (strlen(signature) != strlen(want) ||
        CRYPTO_memcmp(signature, want, strlen(want)) != 0)
        return TR_ERROR(err, TR_E_AUTH, "webhook signature does not match");

    if (window_s <= 0)
        window_s = TR_ZENDESK_WEBHOOK_WINDOW_S;
    if (ts < (int64_t) now - window_s)
        return TR_ERROR(err, TR_E_AUTH,
                        "webhook timestamp is %lld s old, more than %d s",
                        (long long) ((int64_t) now - ts), window_s);
    if (ts > (int64_t) now + window_s)
        return TR_ERROR(err, TR_E_AUTH,
                        "webhook timestamp is %lld s in the future",
                        (long long) (ts - (int64_t) now));
    return TR_OK;
}

bool
tr_zendesk__json_id(const cJSON *item, int64_t *out)
{
    const char *s;
    char *end;
    long long v;

    if (cJSON_IsNumber(item)) {
        /* Integral and within the exact range of a double. */
        if (item->valuedouble < 1 || item->valuedouble > 9007199254740992.0
            || item->valuedouble != (double) (int64_t) item->valuedouble)
            return false;
        *out = (int64_t) item->valuedouble;
        return true;
    }
    if (!cJSON_IsString(item))
        return false;

    s = item->valuestring;
    if (!isdigit((unsigned char) s[0]))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1)
        return false;
    *out = v;
    return true;
}

/* The first 32 hex digits of SHA-256 over the body. */
static void
body_digest(const char *body, size_t len, char hex[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    EVP_Digest(body, len, md, &md_len, EVP_sha256(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * Event-subscription payloads have a fixed schema.  Only ticket events
 * are ours; detail.id may be a string, and without detail the subject
 * "zen:ticket:<id>" still names the ticket.
 */
static enum tr_err
parse_subscription(struct tr_arena *a, const cJSON *root, const char *type,
                   struct tr_zendesk_event *ev, struct tr_error *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    const cJSON *subject = cJSON_GetObjectItemCaseSensitive(root, "subject");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(root, "time");
    const char *kind = type + strlen(EVENT_TYPE_PREFIX);
    cJSON subj_id;

    if (strncmp(kind, "ticket.", 7) != 0)
        return TR_ERROR(err, TR_E_UNSUPPORTED,
                        "webhook event type \"%.64s\" is not about a ticket",
                        kind);
    if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
        return TR_ERROR(err, TR_E_INVAL, "webhook event has no \"id\"");

    /* The ticket id: detail.id, else the number in "zen:ticket:<id>". */
    if (!tr_zendesk__json_id(
            cJSON_GetObjectItemCaseSensitive(detail, "id"), &ev->ticket_id)) {
        memset(&subj_id, 0, sizeof(subj_id));
        subj_id.type = cJSON_String;
        if (cJSON_IsString(subject) &&
            strncmp(subject->valuestring, SUBJECT_TICKET_PREFIX,
                    strlen(SUBJECT_TICKET_PREFIX)) == 0)
            subj_id.valuestring = subject->valuestring +
                                  strlen(SUBJECT_TICKET_PREFIX);
        if (subj_id.valuestring == NULL ||
            !tr_zendesk__json_id(&subj_id, &ev->ticket_id))
            return TR_ERROR(err, TR_E_INVAL,
                            "webhook event carries no ticket id");
    }

    ev->subscription = true;
    ev->type = tr_arena_strdup(a, kind);
    ev->dedup_key = tr_arena_sprintf(a, "zen:evt:%s", id->valuestring);
    if (cJSON_IsString(tm))
        tr_zendesk_time_parse(tm->valuestring, &ev->occurred_at);
    if (ev->type == NULL || ev->dedup_key == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}

/*
 * Trigger payloads are what our documented template produces; the body
 * digest in the key makes an identical redelivery collapse while any
 * later update, whose body differs, stays a separate event.
 */
static enum tr_err
parse_trigger(struct tr_arena *a, const cJSON *root, const char *body,
              size_t len, struct tr_zendesk_event *ev, struct tr_error *err)
{
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(root, "ticket_id");
    const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(root, "ticket");
    const cJSON *upd = cJSON_GetObjectItemCaseSensitive(root, "updated_at");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event");
    char hex[33];

    if (tid == NULL && cJSON_IsObject(ticket)) {
        tid = cJSON_GetObjectItemCaseSensitive(ticket, "id");
        if (upd == NULL)
            upd = cJSON_GetObjectItemCaseSensitive(ticket, "updated_at");
    }
    if (tid == NULL)
        return TR_ERROR(err, TR_E_INVAL,
                        "webhook payload has neither \"ticket_id\" nor "
                        "\"ticket\".\"id\"");
    if (!tr_zendesk__json_id(tid, &ev->ticket_id))
        return TR_ERROR(err, TR_E_INVAL,
                        "webhook ticket id is not a positive integer");

    body_digest(body, len, hex);
    ev->subscription = false;
    ev->dedup_key = tr_arena_sprintf(a, "zen:trg:%lld:%s",
                                     (long long) ev->ticket_id, hex);
    ev->type = tr_arena_strdup(
        a, cJSON_IsString(event) && event->valuestring[0] != '\0'
               ? event->valuestring
               : "ticket.trigger");
    if (cJSON_IsString(upd))
        tr_zendesk_time_parse(upd->valuestring, &ev->occurred_at);
    if (ev->type == NULL || ev->dedup_key == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}

enum tr_err
tr_zendesk_webhook_parse(struct tr_arena *a, const char *body,
                         size_t body_len, const char *timestamp,
                         struct tr_zendesk_event *ev, struct tr_error *err)
{
    cJSON *root;
    const cJSON *type;
    enum tr_err rc;

    memset(ev, 0, sizeof(*ev));
    if (body == NULL || body_len == 0)
        return TR_ERROR(err, TR_E_PARSE, "webhook body is empty");

    root = cJSON_ParseWithLength(body, body_len);
    if (root == NULL)
        return TR_ERROR(err, TR_E_PARSE, "webhook body is not valid JSON");
    if (!cJSON_IsObject(root)) {
        rc = TR_ERROR(err, TR_E_PARSE, "webhook body is not a JSON object");
        goto out;
    }

    type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (cJSON_IsString(type) &&
        strncmp(type->valuestring, EVENT_TYPE_PREFIX,
                strlen(EVENT_TYPE_PREFIX)) == 0)
        rc = parse_subscription(a, root, type->valuestring, ev, err);
    else
        rc = parse_trigger(a, root, body, body_len, ev, err);

    /* Without a time in the body, the signed timestamp tells when. */
    if (rc == TR_OK && ev->occurred_at == 0 && timestamp != NULL)
        tr_zendesk_time_parse(timestamp, &ev->occurred_at);

out:
    cJSON_Delete(root);
    return rc;
}
