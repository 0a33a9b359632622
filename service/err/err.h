/*
 * err.h
 *      The one status type of triage and the detail record that travels
 *      with it.
 *
 * Every function that can fail returns an enum tr_err, TR_OK (zero) on
 * success.  Codes are grouped by the module that raises them; a foreign
 * code (SQLSTATE, CURLcode, errno, HTTP status, a C++ exception message)
 * never becomes the return type but is kept in struct tr_error as detail.
 * The table that maps a code to an HTTP status lives here too, so that
 * handlers never pick numbers themselves.
 *
 * Everything here is pure and thread-safe.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_ERR_H
#define TR_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * X-macro list of codes: name, HTTP status, short description.  The
 * description is what tr_err_str() returns and what a user reads.
 */
#define TR_ERR_MAP(X)                                                    \
    X(TR_OK, 200, "success")                                             \
    /* generic */                                                        \
    X(TR_E_NOMEM, 500, "out of memory")                                  \
    X(TR_E_INVAL, 400, "invalid argument")                               \
    X(TR_E_USAGE, 400, "invalid usage")                                  \
    X(TR_E_RANGE, 400, "value out of range")                             \
    X(TR_E_TOOBIG, 413, "input too large")                               \
    X(TR_E_NOTFOUND, 404, "not found")                                   \
    X(TR_E_EXISTS, 409, "already exists")                                \
    X(TR_E_CONFLICT, 409, "conflicting state")                           \
    X(TR_E_IO, 500, "input/output error")                                \
    X(TR_E_PERM, 403, "permission denied")                               \
    X(TR_E_INTERNAL, 500, "internal error")                              \
    X(TR_E_TIMEOUT, 504, "timed out")                                    \
    X(TR_E_UNSUPPORTED, 501, "not supported")                            \
    X(TR_E_AGAIN, 503, "temporarily unavailable, try again")             \
    /* configuration */                                                  \
    X(TR_E_CONF, 500, "invalid configuration")                           \
    /* parsing of outside input */                                       \
    X(TR_E_PARSE, 400, "malformed input")                                \
    X(TR_E_MEDIATYPE, 415, "unsupported media type")                     \
    /* database */                                                       \
    X(TR_E_DB_CONNECT, 503, "database unavailable")                      \
    X(TR_E_DB_QUERY, 500, "database query failed")                       \
    X(TR_E_DB_CLUSTER, 500, "embedded database cluster failed")          \
    X(TR_E_DB_MIGRATE, 500, "database migration failed")                 \
    X(TR_E_DB_NOTREADY, 503, "database schema not current")              \
    /* queue */                                                          \
    X(TR_E_QUEUE_EMPTY, 404, "no job available")                         \
    X(TR_E_QUEUE_LEASE, 409, "job lease lost")                           \
    /* http */                                                           \
    X(TR_E_HTTP_START, 500, "could not start http server")               \
    X(TR_E_HTTP_METHOD, 405, "method not allowed")                       \
    X(TR_E_HTTP_UPSTREAM, 502, "upstream request failed")                \
    /* authentication */                                                 \
    X(TR_E_AUTH, 401, "authentication failed")                           \
    X(TR_E_CSRF, 403, "missing or wrong csrf token")                     \
    /* tenant */                                                         \
    X(TR_E_TENANT, 404, "unknown tenant")                                \
    /* index and models */                                               \
    X(TR_E_INDEX, 500, "index error")                                    \
    X(TR_E_MODEL, 502, "model provider error")

enum tr_err {
#define TR_ERR_ENUM(name, status, text) name,
    TR_ERR_MAP(TR_ERR_ENUM)
#undef TR_ERR_ENUM
    TR_E__COUNT
};

/*
 * Detail of one failure, filled where it was detected.  `msg` is written
 * for the user in PostgreSQL's manner ("could not open file \"x\"") and
 * never holds a secret.  `foreign` keeps the library's own code as text
 * (an SQLSTATE, a CURLcode name, an errno name), empty when there is none.
 */
struct tr_error {
    enum tr_err code;
    const char *file;
    int line;
    char foreign[32];
    char msg[512];
};

/*
 * Return the constant name of `code` ("TR_E_NOMEM"), or "TR_E_UNKNOWN" for
 * a value outside the enum.  The string is static.
 */
const char *tr_err_name(enum tr_err code);

/*
 * Return the short human description of `code`.  The string is static.
 */
const char *tr_err_str(enum tr_err code);

/*
 * Return the HTTP status that an API answer uses for `code`.  This is the
 * one table that maps statuses; handlers call it instead of choosing.
 */
int tr_err_http_status(enum tr_err code);

/*
 * Return the stable lower-case code used in JSON error bodies ("nomem",
 * "db_connect", ...).  The string is static.
 */
const char *tr_err_slug(enum tr_err code);

/*
 * Fill `err` (which may be NULL, then nothing happens) with `code`, the
 * origin and a printf-style message, and return `code` so that callers can
 * write `return tr_error_set(err, TR_E_IO, ...)`.  Use the TR_ERROR()
 * macro, which supplies the origin.
 */
enum tr_err tr_error_set_at(struct tr_error *err, enum tr_err code,
                            const char *file, int line, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));

#define TR_ERROR(err, code, ...)                                         \
    tr_error_set_at((err), (code), __FILE__, __LINE__, __VA_ARGS__)

/*
 * Record a foreign code (copied, truncated to fit) in `err`.  NULL `err`
 * or `foreign` is a no-op.
 */
void tr_error_foreign(struct tr_error *err, const char *foreign);

/*
 * Reset `err` to TR_OK with empty texts.
 */
void tr_error_clear(struct tr_error *err);

/*
 * Return the message of `err` if set, else the description of its code.
 */
const char *tr_error_msg(const struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_ERR_H */
