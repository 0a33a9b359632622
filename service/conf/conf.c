/*
 * conf.c
 *      Configuration keys, their defaults, and the parsers of the file,
 *      the environment and command-line overrides.
 *
 * One table describes every key: name, type, place in struct tr_conf,
 * default, bounds, whether it is secret, and a one-line description.  All
 * sources go through the same setter, so a value is checked the same way
 * wherever it comes from.  Runs on the main thread at start only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "mem.h"

enum key_type {
    KEY_STR,
    KEY_INT,
    KEY_SIZE,
    KEY_ENUM
};

struct conf_key {
    const char *name;
    enum key_type type;
    size_t offset;
    size_t size;
    const char *def;
    long long min;
    long long max;
    bool secret;
    const char *choices;   /* for KEY_ENUM: "a|b|c" */
    const char *help;
};

#define STR(n, d, s, h) \
    {#n, KEY_STR, offsetof(struct tr_conf, n), \
     sizeof(((struct tr_conf *) 0)->n), d, 0, 0, s, NULL, h}
#define INT(n, d, lo, hi, h) \
    {#n, KEY_INT, offsetof(struct tr_conf, n), sizeof(int), d, lo, hi, \
     false, NULL, h}
#define SIZE(n, d, lo, hi, h) \
    {#n, KEY_SIZE, offsetof(struct tr_conf, n), sizeof(long long), d, lo, \
     hi, false, NULL, h}
#define ENUM(n, d, c, h) \
    {#n, KEY_ENUM, offsetof(struct tr_conf, n), \
     sizeof(((struct tr_conf *) 0)->n), d, 0, 0, false, c, h}

static const struct conf_key conf_keys[] = {
    STR(data_dir, "./var", false,
        "directory for the embedded database and index files"),
    STR(database_url, "", true,
        "libpq connection string; empty starts the embedded PostgreSQL"),
    STR(pg_bin_dir, "/usr/lib/postgresql/15/bin", false,
        "where initdb and pg_ctl of the embedded PostgreSQL are"),
    STR(pg_user, "postgres", false,
        "system user that runs the embedded PostgreSQL when started as root"),
    STR(listen, "127.0.0.1:8080", false, "HTTP listen address HOST:PORT"),
    INT(http_threads, "8", 1, 256, "HTTP worker threads"),
    SIZE(http_body_limit, "1048576", 1024, 1073741824LL,
         "largest accepted request body in bytes"),
    INT(http_timeout, "30", 1, 3600,
        "seconds before an idle or slow client connection is closed"),
    INT(workers, "2", 0, 256,
        "job workers inside serve (0 runs none; use triage worker)"),
    INT(queue_lease, "60", 1, 86400,
        "seconds a claimed job stays leased before another worker may "
        "reclaim it"),
    INT(queue_max_attempts, "8", 1, 1000,
        "attempts before a failing job is parked"),
    INT(queue_backoff_base, "2", 1, 86400,
        "first retry delay in seconds; doubles with each attempt"),
    INT(queue_backoff_max, "3600", 1, 604800,
        "longest retry delay in seconds"),
    INT(shutdown_grace, "10", 0, 3600,
        "seconds to let requests and jobs in flight finish on shutdown"),
    INT(zendesk_pull_interval, "300", 0, 86400,
        "seconds between incremental pulls of every Zendesk tenant inside "
        "serve (0 turns the schedule off)"),
    ENUM(draft_provider, "extractive", "extractive|openai|anthropic",
         "who writes drafts: the offline extractive drafter or a model"),
    STR(draft_base_url, "", false,
        "model server URL (OpenAI-compatible: ending in /v1); empty: the "
        "vendor's"),
    STR(draft_model, "", false, "model name for openai or anthropic"),
    STR(draft_api_key, "", true, "API key of the model server"),
    ENUM(draft_fallback, "extractive", "extractive|escalate",
         "what happens when the model fails: draft offline or escalate"),
    INT(draft_timeout, "60", 1, 3600, "seconds one model call may take"),
    INT(retrieval_k, "5", 1, 50, "articles retrieved for each ticket"),
    ENUM(log_level, "info", "fatal|error|warn|info|debug",
         "lowest level written"),
    ENUM(log_format, "auto", "auto|json|text",
         "auto is text on a terminal and JSON lines otherwise"),
};

#define N_KEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const struct conf_key *
find_key(const char *name, size_t *idx)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(conf_keys[i].name, name) == 0) {
            if (idx != NULL)
                *idx = i;
            return &conf_keys[i];
        }
    }
    return NULL;
}

/*
 * Parse an integer with an optional size suffix (k, m, g, binary) for
 * KEY_SIZE keys.
 */
static bool
parse_number(const char *s, bool sizes, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    if (sizes && *end != '\0') {
        long long mul;

        switch (tolower((unsigned char) *end)) {
        case 'k': mul = 1024LL; break;
        case 'm': mul = 1024LL * 1024; break;
        case 'g': mul = 1024LL * 1024 * 1024; break;
        default: return false;
        }
        end++;
        if (tolower((unsigned char) *end) == 'b' ||
            tolower((unsigned char) *end) == 'i')
            end++;
        if (tolower((unsigned char) *end) == 'b')
            end++;
        if (v > LLONG_MAX / mul)
            return false;
        v *= mul;
    }
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static bool
enum_allows(const char *choices, const char *value)
{
    size_t n = strlen(value);
    const char *p = choices;

    while (*p != '\0') {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t) (bar - p) : strlen(p);

        if (len == n && strncmp(p, value, n) == 0)
            return true;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return false;
}

static enum tr_err
apply(struct tr_conf *c, const struct conf_key *k, const char *value,
      const char *where, struct tr_error *err)
{
    char *field = (char *) c + k->offset;
    long long v;

    switch (k->type) {
    case KEY_STR:
    case KEY_ENUM:
        if (strlen(value) >= k->size)
            return TR_ERROR(err, TR_E_CONF, "%s: value of \"%s\" is too long",
                            where, k->name);
        if (k->type == KEY_ENUM && !enum_allows(k->choices, value))
            return TR_ERROR(err, TR_E_CONF,
                            "%s: \"%s\" must be one of %s, not \"%s\"", where,
                            k->name, k->choices, value);
        memcpy(field, value, strlen(value) + 1);
        return TR_OK;
    case KEY_INT:
    case KEY_SIZE:
        if (!parse_number(value, k->type == KEY_SIZE, &v))
            return TR_ERROR(err, TR_E_CONF,
                            "%s: \"%s\" needs a number, not \"%s\"", where,
                            k->name, value);
        if (v < k->min || v > k->max)
            return TR_ERROR(err, TR_E_CONF,
                            "%s: \"%s\" must be between %lld and %lld", where,
                            k->name, k->min, k->max);
        if (k->type == KEY_INT)
            *(int *) field = (int) v;
        else
            *(long long *) field = v;
        return TR_OK;
    }
    return TR_E_INTERNAL;
}

void
tr_conf_defaults(struct tr_conf *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_KEYS; i++) {
        enum tr_err rc = apply(c, &conf_keys[i], conf_keys[i].def, "default",
                               NULL);

        /* Defaults are constants checked by the unit tests. */
        (void) rc;
        c->source[i] = TR_CONF_DEFAULT;
    }
}

enum tr_err
tr_conf_set(struct tr_conf *c, const char *key, const char *value,
            enum tr_conf_source source, struct tr_error *err)
{
    const struct conf_key *k;
    size_t idx;
    enum tr_err rc;

    k = find_key(key, &idx);
    if (k == NULL)
        return TR_ERROR(err, TR_E_CONF, "unknown configuration key \"%s\"",
                        key);
    rc = apply(c, k, value, source == TR_CONF_CLI ? "option" : "setting",
               err);
    if (rc == TR_OK)
        c->source[idx] = source;
    return rc;
}

static char *
trim(char *s)
{
    char *end;

    while (isspace((unsigned char) *s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char) end[-1]))
        *--end = '\0';
    return s;
}

/*
 * Parse one `key = value` line in place.  Returns false with a reason when
 * the line is malformed; a blank or comment line gives *key == NULL.
 */
static bool
parse_line(char *line, char **key, char **value, const char **why)
{
    char *eq, *v;

    *key = NULL;
    line = trim(line);
    if (*line == '\0' || *line == '#')
        return true;

    eq = strchr(line, '=');
    if (eq == NULL) {
        *why = "expected key = value";
        return false;
    }
    *eq = '\0';
    *key = trim(line);
    v = trim(eq + 1);

    if (*v == '"') {
        char *close = strrchr(v + 1, '"');

        if (close == NULL) {
            *why = "unterminated quoted value";
            return false;
        }
        if (trim(close + 1)[0] != '\0' && trim(close + 1)[0] != '#') {
            *why = "text after the closing quote";
            return false;
        }
        *close = '\0';
        v++;
    } else {
        char *hash = strstr(v, " #");

        if (hash != NULL)
            *hash = '\0';
        v = trim(v);
    }
    *value = v;
    return true;
}

enum tr_err
tr_conf_load_file(struct tr_conf *c, const char *path, struct tr_error *err)
{
    struct tr_conf next = *c;
    char line[4096];
    char where[TR_CONF_STR_MAX + 32];
    int lineno = 0;
    enum tr_err rc = TR_OK;
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL)
        return TR_ERROR(err, TR_E_CONF,
                        "could not open configuration file \"%s\": %s", path,
                        strerror(errno));

    while (fgets(line, sizeof(line), f) != NULL) {
        const char *why = NULL;
        char *key, *value;
        size_t idx;

        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = TR_ERROR(err, TR_E_CONF, "%s: line too long", where);
            goto out;
        }
        if (!parse_line(line, &key, &value, &why)) {
            rc = TR_ERROR(err, TR_E_CONF, "%s: %s", where, why);
            goto out;
        }
        if (key == NULL)
            continue;
        if (find_key(key, &idx) == NULL) {
            rc = TR_ERROR(err, TR_E_CONF,
                          "%s: unknown configuration key \"%s\"", where, key);
            goto out;
        }
        rc = apply(&next, &conf_keys[idx], value, where, err);
        if (rc != TR_OK)
            goto out;
        next.source[idx] = TR_CONF_FILE;
    }
    if (ferror(f)) {
        rc = TR_ERROR(err, TR_E_CONF, "could not read \"%s\"", path);
        goto out;
    }

    snprintf(next.file_path, sizeof(next.file_path), "%s", path);
    *c = next;

out:
    fclose(f);
    return rc;
}

enum tr_err
tr_conf_load_env(struct tr_conf *c, struct tr_error *err)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char var[96] = "TRIAGE_";
        const char *value;
        size_t j;
        enum tr_err rc;

        for (j = 0; conf_keys[i].name[j] != '\0'; j++)
            var[7 + j] = (char) toupper((unsigned char) conf_keys[i].name[j]);
        var[7 + j] = '\0';

        value = getenv(var);
        if (value == NULL)
            continue;
        rc = apply(c, &conf_keys[i], value, var, err);
        if (rc != TR_OK)
            return rc;
        c->source[i] = TR_CONF_ENV;
    }
    return TR_OK;
}

enum tr_err
tr_conf_listen_split(const char *listen, char *host, size_t host_len,
                     int *port)
{
    const char *colon;
    const char *h = listen;
    size_t hl;
    long long p;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (close == NULL || close[1] != ':')
            return TR_E_CONF;
        h = listen + 1;
        hl = (size_t) (close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return TR_E_CONF;
        hl = (size_t) (colon - listen);
    }
    if (hl == 0 || hl >= host_len)
        return TR_E_CONF;
    if (!parse_number(colon + 1, false, &p) || p < 0 || p > 65535)
        return TR_E_CONF;

    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int) p;
    return TR_OK;
}

enum tr_err
tr_conf_validate(const struct tr_conf *c, struct tr_error *err)
{
    char host[256];
    int port;

    if (tr_conf_listen_split(c->listen, host, sizeof(host), &port) != TR_OK)
        return TR_ERROR(err, TR_E_CONF,
                        "listen address \"%s\" is not of the form HOST:PORT",
                        c->listen);
    if (c->data_dir[0] == '\0')
        return TR_ERROR(err, TR_E_CONF, "data_dir must not be empty");
    if (c->queue_backoff_base > c->queue_backoff_max)
        return TR_ERROR(err, TR_E_CONF,
                        "queue_backoff_base (%d) exceeds queue_backoff_max "
                        "(%d)", c->queue_backoff_base, c->queue_backoff_max);
    return TR_OK;
}

/*
 * Mask the value after "password=" in a key=value conninfo, and the part
 * after ':' in the userinfo of a URI.
 */
void
tr_conf_mask_url(const char *url, char *out, size_t out_len)
{
    struct tr_buf b;
    const char *scheme_end, *at, *p;

    tr_buf_init(&b, out_len > 0 ? out_len - 1 : 0);
    scheme_end = strstr(url, "://");
    if (scheme_end != NULL) {
        const char *auth = scheme_end + 3;
        const char *slash = strchr(auth, '/');
        const char *colon;

        at = strchr(auth, '@');
        if (at != NULL && (slash == NULL || at < slash)) {
            colon = memchr(auth, ':', (size_t) (at - auth));
            if (colon != NULL) {
                tr_buf_append(&b, url, (size_t) (colon - url) + 1);
                tr_buf_puts(&b, "***");
                url = at;
            }
        }
        tr_buf_puts(&b, url);
    } else {
        p = url;
        while (*p != '\0') {
            const char *hit = strstr(p, "password");
            const char *v;

            if (hit == NULL) {
                tr_buf_puts(&b, p);
                break;
            }
            v = hit + 8;
            while (*v == ' ')
                v++;
            if (*v != '=') {
                tr_buf_append(&b, p, (size_t) (v - p));
                p = v;
                continue;
            }
            v++;
            while (*v == ' ')
                v++;
            tr_buf_append(&b, p, (size_t) (v - p));
            tr_buf_puts(&b, "***");
            if (*v == '\'') {
                for (v++; *v != '\0' && *v != '\''; v++)
                    if (*v == '\\' && v[1] != '\0')
                        v++;
                if (*v == '\'')
                    v++;
            } else {
                while (*v != '\0' && !isspace((unsigned char) *v))
                    v++;
            }
            p = v;
        }
    }

    snprintf(out, out_len, "%s", b.data != NULL ? b.data : "");
    tr_buf_cleanup(&b);
}

static const char *const source_names[] = {"default", "file", "env", "option"};

void
tr_conf_show(const struct tr_conf *c, FILE *out, bool json)
{
    struct tr_buf b;

    tr_buf_init(&b, 0);
    if (json)
        tr_buf_puts(&b, "{");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct conf_key *k = &conf_keys[i];
        const char *field = (const char *) c + k->offset;
        char val[TR_CONF_STR_MAX];

        switch (k->type) {
        case KEY_STR:
        case KEY_ENUM:
            if (k->secret && strcmp(k->name, "database_url") == 0)
                tr_conf_mask_url(field, val, sizeof(val));
            else if (k->secret && field[0] != '\0')
                snprintf(val, sizeof(val), "***");
            else
                snprintf(val, sizeof(val), "%s", field);
            break;
        case KEY_INT:
            snprintf(val, sizeof(val), "%d", *(const int *) field);
            break;
        case KEY_SIZE:
            snprintf(val, sizeof(val), "%lld", *(const long long *) field);
            break;
        }

        if (json) {
            tr_buf_printf(&b, "%s\"%s\":{\"value\":", i ? "," : "", k->name);
            if (k->type == KEY_INT || k->type == KEY_SIZE)
                tr_buf_puts(&b, val);
            else
                tr_buf_json_str(&b, val);
            tr_buf_printf(&b, ",\"source\":\"%s\"}",
                          source_names[c->source[i]]);
        } else {
            tr_buf_printf(&b, "%-20s = %-32s # %s\n", k->name,
                          val[0] != '\0' ? val : "\"\"",
                          source_names[c->source[i]]);
        }
    }
    if (json)
        tr_buf_puts(&b, "}\n");
    if (b.data != NULL)
        fputs(b.data, out);
    tr_buf_cleanup(&b);
}

_Static_assert(N_KEYS <= sizeof(((struct tr_conf *) 0)->source) /
                             sizeof(enum tr_conf_source),
               "struct tr_conf.source must have room for every key");
