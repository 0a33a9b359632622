/*
 * conf.h
 *      The effective configuration of a triage process and where it comes
 *      from.
 *
 * Sources, from weakest to strongest: built-in defaults, the file named by
 * --config (or TRIAGE_CONFIG), environment variables TRIAGE_<KEY>, and
 * command-line options.  The file holds `key = value` lines; `#` starts a
 * comment; values may be double-quoted.  docs/configuration.md lists every
 * key.  A struct tr_conf is filled once at start and then only read, so
 * any thread may read it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_CONF_H
#define TR_CONF_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TR_CONF_STR_MAX 1024

/* Where a value came from, shown by `triage config show`. */
enum tr_conf_source {
    TR_CONF_DEFAULT = 0,
    TR_CONF_FILE,
    TR_CONF_ENV,
    TR_CONF_CLI
};

struct tr_conf {
    /* storage */
    char data_dir[TR_CONF_STR_MAX];
    char database_url[TR_CONF_STR_MAX];
    char pg_bin_dir[TR_CONF_STR_MAX];
    char pg_user[64];
    /* http */
    char listen[256];
    int http_threads;
    long long http_body_limit;
    int http_timeout;
    /* workers and queue */
    int workers;
    int queue_lease;
    int queue_max_attempts;
    int queue_backoff_base;
    int queue_backoff_max;
    int shutdown_grace;
    /* connectors */
    int zendesk_pull_interval;
    /* drafting */
    char draft_provider[16];
    char draft_base_url[TR_CONF_STR_MAX];
    char draft_model[256];
    char draft_api_key[512];
    char draft_fallback[16];
    int draft_timeout;
    int retrieval_k;
    /* logging */
    char log_level[16];
    char log_format[16];

    /* where each key's value came from, by key index */
    enum tr_conf_source source[32];
    char file_path[TR_CONF_STR_MAX];
};

/*
 * Fill `c` with the built-in defaults.
 */
void tr_conf_defaults(struct tr_conf *c);

/*
 * Read `path` and apply its keys.  A missing file, an unknown key, a bad
 * value or a malformed line is an error naming the file and line; nothing
 * of a file that fails is kept.
 */
enum tr_err tr_conf_load_file(struct tr_conf *c, const char *path,
                              struct tr_error *err);

/*
 * Apply TRIAGE_<KEY> environment variables (TRIAGE_DATABASE_URL,
 * TRIAGE_LISTEN, ...).  A bad value is an error naming the variable.
 */
enum tr_err tr_conf_load_env(struct tr_conf *c, struct tr_error *err);

/*
 * Set one key from a command-line option.  Unknown keys and bad values are
 * errors.
 */
enum tr_err tr_conf_set(struct tr_conf *c, const char *key, const char *value,
                        enum tr_conf_source source, struct tr_error *err);

/*
 * Check cross-key rules (positive counts, a listen address of the form
 * HOST:PORT).  Run after all sources are applied.
 */
enum tr_err tr_conf_validate(const struct tr_conf *c, struct tr_error *err);

/*
 * Print every key with its effective value and source to `out`; secrets
 * (passwords inside database_url) are masked.  With `json`, print one JSON
 * object instead.
 */
void tr_conf_show(const struct tr_conf *c, FILE *out, bool json);

/*
 * Write `url` with any password replaced by "***" into `out` (size
 * `out_len`).  Works on both URI ("postgresql://u:p@h/db") and key=value
 * ("password=p") forms.
 */
void tr_conf_mask_url(const char *url, char *out, size_t out_len);

/*
 * Split a listen address "HOST:PORT" (IPv6 as "[::1]:8080").  Returns
 * TR_E_CONF when malformed.
 */
enum tr_err tr_conf_listen_split(const char *listen, char *host,
                                 size_t host_len, int *port);

#ifdef __cplusplus
}
#endif

#endif /* TR_CONF_H */
