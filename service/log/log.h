/*
 * log.h
 *      Structured logging: one event per line, JSON lines or key=value
 *      text, with the request id of the calling thread.
 *
 * Leading keys are always ts, level, mod, event and msg, in that order,
 * then the request id when the thread has one, then the caller's keys.
 * The level is checked before anything is formatted.  Each line goes out
 * in one write() so lines from many threads never interleave.  Callers
 * must never pass secrets or ticket text: log ids, lengths and hashes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LOG_H
#define TR_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tr_log_level {
    TR_LOG_FATAL = 0,
    TR_LOG_ERROR,
    TR_LOG_WARN,
    TR_LOG_INFO,
    TR_LOG_DEBUG
};

enum tr_log_format {
    TR_LOG_FORMAT_AUTO = 0,   /* text on a terminal, JSON otherwise */
    TR_LOG_FORMAT_JSON,
    TR_LOG_FORMAT_TEXT
};

enum tr_kv_type {
    TR_KV_NONE = 0,
    TR_KV_STRING,
    TR_KV_INT,
    TR_KV_DOUBLE,
    TR_KV_BOOL
};

/* One context field of a log line. */
struct tr_kv {
    const char *key;
    enum tr_kv_type type;
    const char *s;
    long long i;
    double d;
};

#define TR_KV_STR(k, v) {(k), TR_KV_STRING, (v), 0, 0.0}
#define TR_KV_INT(k, v) {(k), TR_KV_INT, NULL, (long long) (v), 0.0}
#define TR_KV_DBL(k, v) {(k), TR_KV_DOUBLE, NULL, 0, (double) (v)}
#define TR_KV_BOOL(k, v) {(k), TR_KV_BOOL, NULL, (v) ? 1 : 0, 0.0}

/* A list of fields for one call, ended by an empty entry. */
#define TR_KVS(...) ((const struct tr_kv[]){__VA_ARGS__, {NULL}})

/*
 * Configure the logger: lowest level written, format, and the file
 * descriptor lines go to (2 for stderr).  Call once at start, before other
 * threads log.  Without it the logger writes info and above to stderr.
 */
void tr_log_init(enum tr_log_level level, enum tr_log_format format, int fd);

/*
 * Parse "fatal", "error", "warn", "info" or "debug".  Returns false for
 * anything else and leaves `out` alone.
 */
bool tr_log_level_parse(const char *s, enum tr_log_level *out);

/*
 * Parse "auto", "json" or "text".  Returns false for anything else.
 */
bool tr_log_format_parse(const char *s, enum tr_log_format *out);

/*
 * True when a line at `level` would be written.  Any thread.
 */
bool tr_log_enabled(enum tr_log_level level);

/*
 * Set the request id that every line of the calling thread carries until
 * it is set again; NULL clears it.  The id is copied (at most 64 bytes).
 */
void tr_log_set_req_id(const char *req_id);

/*
 * The calling thread's request id, or NULL.  Borrowed, valid until the
 * next tr_log_set_req_id() on this thread.
 */
const char *tr_log_req_id(void);

/*
 * Write one line.  `mod` is the module ("db"), `event` a stable snake_case
 * name ("cluster_started"), `kv` may be NULL, `fmt` the message in
 * PostgreSQL's manner (lower case, no final period).  Prefer the macros,
 * which check the level before evaluating arguments.
 */
void tr_log_write(enum tr_log_level level, const char *mod, const char *event,
                  const struct tr_kv *kv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define TR_LOG(level, mod, event, kv, ...)                               \
    do {                                                                 \
        if (tr_log_enabled(level))                                       \
            tr_log_write((level), (mod), (event), (kv), __VA_ARGS__);    \
    } while (0)

#define TR_LOG_FATAL(mod, ev, kv, ...) TR_LOG(TR_LOG_FATAL, mod, ev, kv, __VA_ARGS__)
#define TR_LOG_ERROR(mod, ev, kv, ...) TR_LOG(TR_LOG_ERROR, mod, ev, kv, __VA_ARGS__)
#define TR_LOG_WARN(mod, ev, kv, ...) TR_LOG(TR_LOG_WARN, mod, ev, kv, __VA_ARGS__)
#define TR_LOG_INFO(mod, ev, kv, ...) TR_LOG(TR_LOG_INFO, mod, ev, kv, __VA_ARGS__)
#define TR_LOG_DEBUG(mod, ev, kv, ...) TR_LOG(TR_LOG_DEBUG, mod, ev, kv, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* TR_LOG_H */
