/*
 * log.c
 *      Formatting and writing of log lines.
 *
 * The configuration is written once at start and read without locks
 * afterwards; the request id lives in thread-local storage.  A line is
 * built in a stack buffer (long lines are truncated with a marker) and
 * written with one write() call, which POSIX keeps whole for pipes up to
 * PIPE_BUF and which is whole in practice for regular files and ttys.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define LOG_LINE_MAX 8192

static enum tr_log_level log_level = TR_LOG_INFO;
static enum tr_log_format log_format = TR_LOG_FORMAT_AUTO;
static bool log_text = false;
static int log_fd = 2;
static bool log_ready = false;

static _Thread_local char log_req_id[65];

static const char *const level_names[] = {
    "fatal", "error", "warn", "info", "debug"
};

void
tr_log_init(enum tr_log_level level, enum tr_log_format format, int fd)
{
    log_level = level;
    log_format = format;
    log_fd = fd;
    if (format == TR_LOG_FORMAT_AUTO)
        log_text = isatty(fd) == 1;
    else
        log_text = format == TR_LOG_FORMAT_TEXT;
    log_ready = true;
}

bool
tr_log_level_parse(const char *s, enum tr_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
         i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum tr_log_level) i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = TR_LOG_WARN;
        return true;
    }
    return false;
}

bool
tr_log_format_parse(const char *s, enum tr_log_format *out)
{
    if (strcasecmp(s, "auto") == 0)
        *out = TR_LOG_FORMAT_AUTO;
    else if (strcasecmp(s, "json") == 0)
        *out = TR_LOG_FORMAT_JSON;
    else if (strcasecmp(s, "text") == 0)
        *out = TR_LOG_FORMAT_TEXT;
    else
        return false;
    return true;
}

bool
tr_log_enabled(enum tr_log_level level)
{
    return level <= log_level;
}

void
tr_log_set_req_id(const char *req_id)
{
    if (req_id == NULL)
        log_req_id[0] = '\0';
    else
        snprintf(log_req_id, sizeof(log_req_id), "%s", req_id);
}

const char *
tr_log_req_id(void)
{
    return log_req_id[0] != '\0' ? log_req_id : NULL;
}

/*
 * Append one key and string value.  Text values are quoted only when they
 * hold a space, a quote, '=' or nothing, so that simple values stay easy to
 * read and grep.
 */
static void
put_str(struct tr_buf *b, const char *key, const char *val, bool first)
{
    if (val == NULL)
        val = "";

    if (!log_text) {
        tr_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
        tr_buf_json_str(b, val);
        return;
    }

    tr_buf_printf(b, "%s%s=", first ? "" : " ", key);
    if (val[0] == '\0' || strpbrk(val, " \"=\t\n\\") != NULL) {
        tr_buf_puts(b, "\"");
        tr_buf_json_escape(b, val, strlen(val));
        tr_buf_puts(b, "\"");
    } else {
        tr_buf_json_escape(b, val, strlen(val));
    }
}

static void
put_kv(struct tr_buf *b, const struct tr_kv *kv)
{
    const char *sep = log_text ? " " : ",";
    const char *fmt = log_text ? "%s%s=" : "%s\"%s\":";

    switch (kv->type) {
    case TR_KV_STRING:
        put_str(b, kv->key, kv->s, false);
        break;
    case TR_KV_INT:
        tr_buf_printf(b, fmt, sep, kv->key);
        tr_buf_printf(b, "%lld", kv->i);
        break;
    case TR_KV_DOUBLE:
        tr_buf_printf(b, fmt, sep, kv->key);
        tr_buf_printf(b, "%.3f", kv->d);
        break;
    case TR_KV_BOOL:
        tr_buf_printf(b, fmt, sep, kv->key);
        tr_buf_puts(b, kv->i ? "true" : "false");
        break;
    case TR_KV_NONE:
        break;
    }
}

static void
put_timestamp(struct tr_buf *b)
{
    struct timespec ts;
    struct tm tm;
    char when[40];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    if (log_text)
        tr_buf_printf(b, "ts=%s.%03ldZ", when, ts.tv_nsec / 1000000);
    else
        tr_buf_printf(b, "{\"ts\":\"%s.%03ldZ\"", when, ts.tv_nsec / 1000000);
}

void
tr_log_write(enum tr_log_level level, const char *mod, const char *event,
             const struct tr_kv *kv, const char *fmt, ...)
{
    char stack[LOG_LINE_MAX];
    char msg[2048];
    struct tr_buf b;
    va_list ap;
    int saved_errno = errno;

    if (!log_ready)
        tr_log_init(log_level, log_format, log_fd);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /*
     * The buffer is capped so that a runaway field cannot grow a line
     * without bound; on overflow the line is cut and marked below.
     */
    tr_buf_init(&b, LOG_LINE_MAX - 32);
    put_timestamp(&b);
    put_str(&b, "level", level_names[level], false);
    put_str(&b, "mod", mod, false);
    put_str(&b, "event", event, false);
    put_str(&b, "msg", msg, false);
    if (log_req_id[0] != '\0')
        put_str(&b, "req_id", log_req_id, false);
    for (; kv != NULL && kv->key != NULL; kv++)
        put_kv(&b, kv);

    if (b.data == NULL) {
        tr_buf_cleanup(&b);
        errno = saved_errno;
        return;
    }
    snprintf(stack, sizeof(stack), "%s%s\n", b.data, log_text ? "" : "}");
    tr_buf_cleanup(&b);

    /* A failed log write has nowhere to be reported; it is dropped. */
    if (write(log_fd, stack, strlen(stack)) < 0)
        errno = saved_errno;
    errno = saved_errno;
}
