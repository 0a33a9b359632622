/*
 * cli.h
 *      What every subcommand of the triage binary shares: the effective
 *      configuration, the common options, usage errors and exit codes.
 *
 * A command parses its own options with getopt_long, passing the common
 * ones (TR_CLI_COMMON_OPTS) to tr_cli_common_opt(), then calls
 * tr_cli_setup() once, which applies defaults, the configuration file, the
 * environment and the command-line overrides in that order and starts
 * logging.  Runs on the main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "conf.h"

struct tr_buf;

/* Exit codes of every command. */
#define TR_EXIT_OK 0
#define TR_EXIT_FAIL 1
#define TR_EXIT_USAGE 2

/* Option values of the common options; command options use other ones. */
enum {
    TR_OPT_CONFIG = 0x1000,
    TR_OPT_DATA_DIR,
    TR_OPT_DATABASE_URL,
    TR_OPT_LOG_LEVEL,
    TR_OPT_LOG_FORMAT,
    TR_OPT_HELP
};

#define TR_CLI_COMMON_OPTS                                               \
    {"config", required_argument, NULL, TR_OPT_CONFIG},                  \
    {"data-dir", required_argument, NULL, TR_OPT_DATA_DIR},              \
    {"database-url", required_argument, NULL, TR_OPT_DATABASE_URL},      \
    {"log-level", required_argument, NULL, TR_OPT_LOG_LEVEL},            \
    {"log-format", required_argument, NULL, TR_OPT_LOG_FORMAT},          \
    {"help", no_argument, NULL, TR_OPT_HELP}

/* The text that each command's --help adds about the common options. */
#define TR_CLI_COMMON_HELP                                               \
    "Common options:\n"                                                  \
    "  --config FILE        read settings from FILE (key = value)\n"    \
    "  --data-dir DIR       data directory (default ./var)\n"            \
    "  --database-url URL   use this PostgreSQL instead of the embedded one\n" \
    "  --log-level LEVEL    fatal, error, warn, info or debug\n"         \
    "  --log-format FORMAT  auto, json or text\n"                        \
    "  --help               show this help\n"

#define TR_CLI_MAX_OVERRIDES 16

struct tr_cli {
    struct tr_conf conf;
    const char *cmd;            /* "db start", for messages */
    const char *config_path;
    bool want_help;
    int n_overrides;
    struct {
        const char *key;
        const char *value;
    } overrides[TR_CLI_MAX_OVERRIDES];
};

/* A subcommand: gets argv starting at its own name. */
typedef int tr_cli_cmd_fn(struct tr_cli *cli, int argc, char **argv);

/*
 * Prepare `cli` for the command named `cmd` (kept, not copied).
 */
void tr_cli_init(struct tr_cli *cli, const char *cmd);

/*
 * Handle one common option returned by getopt_long.  Returns 1 when `opt`
 * was a common option and was taken, 0 when it is not a common option,
 * and -1 after printing a usage error.
 */
int tr_cli_common_opt(struct tr_cli *cli, int opt, const char *arg);

/*
 * Record that the configuration key `key` is set to `value` by a command
 * option.  Both strings are borrowed and must outlive tr_cli_setup().
 */
void tr_cli_override(struct tr_cli *cli, const char *key, const char *value);

/*
 * Build the effective configuration (defaults, file, environment,
 * overrides), validate it and start logging.  Prints the reason and
 * returns TR_EXIT_USAGE or TR_EXIT_FAIL on error, TR_EXIT_OK otherwise.
 */
int tr_cli_setup(struct tr_cli *cli);

/*
 * Print "triage CMD: <message>" and a hint to use --help on stderr and
 * return TR_EXIT_USAGE.
 */
int tr_cli_usage_error(const struct tr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Report an unknown option or missing argument as getopt_long saw it
 * (`opt` is '?' or ':') and return TR_EXIT_USAGE.  Pass `argv` and the
 * index getopt stopped at.
 */
int tr_cli_bad_option(const struct tr_cli *cli, char **argv);

/*
 * Print "triage CMD: <message>" on stderr and return TR_EXIT_FAIL.
 */
int tr_cli_fail(const struct tr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A tenant's Zendesk connection as given on the command line, the same
 * options for `tenant add` and `zendesk configure`.  Tokens are read
 * from files ("-" for stdin), never taken from the command line.
 */
struct tr_cli_zendesk {
    const char *base_url;
    const char *subdomain;
    const char *email;
    const char *token_file;     /* API token, with email */
    const char *oauth_file;     /* or an OAuth bearer token */
    const char *reply_mode;     /* "public" (NULL) or "internal" */
};

/* Whether any of the connection options was given. */
bool tr_cli_zendesk_given(const struct tr_cli_zendesk *z);

/*
 * Check that the options make one connection (one host, one kind of
 * credential, a known reply mode); TR_EXIT_OK, or TR_EXIT_USAGE after
 * saying what is wrong.
 */
int tr_cli_zendesk_check(const struct tr_cli *cli,
                         const struct tr_cli_zendesk *z);

/*
 * Write the "zendesk" settings object of `z` into `b`, reading the token
 * from its file.  The token passes through a stack buffer that is
 * cleared; the caller clears `b` after use.  TR_EXIT_OK or TR_EXIT_FAIL
 * after the message.
 */
int tr_cli_zendesk_settings(const struct tr_cli *cli,
                            const struct tr_cli_zendesk *z,
                            struct tr_buf *b);

/*
 * The commands of the triage binary, registered in service/main.c.  Each
 * gets argv starting at its own name and returns an exit code.
 */
int tr_cli_cmd_config(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_db(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_tenant(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_worker(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_serve(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_zendesk(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_kb(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_reindex(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_search(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_eval(struct tr_cli *cli, int argc, char **argv);

struct tr_db;
struct tr_http_server;

/*
 * Register the job handlers of every module with the queue, building
 * what they share (the triage pipeline) from `conf`.  Called by `serve`
 * and `worker` before their worker pool starts, so both run the same
 * job kinds.  Returns what the modules' registrations return.
 */
enum tr_err tr_cli_jobs_register(const struct tr_conf *conf,
                                 struct tr_error *err);

/* Free what tr_cli_jobs_register() built, once the pool has stopped. */
void tr_cli_jobs_release(void);

/*
 * Register the HTTP routes and metrics collectors of every module on
 * `http`, before it starts.  `db` is borrowed and must outlive the
 * server.  Release with tr_cli_routes_release() after the server
 * stopped.
 */
enum tr_err tr_cli_routes_register(struct tr_http_server *http,
                                   struct tr_db *db, struct tr_error *err);

/*
 * Free what tr_cli_routes_register() set up.  After the server stopped.
 */
void tr_cli_routes_release(void);

#endif /* TR_CLI_H */
