/*
 * evaltriage.h
 *      Offline evaluation of the whole triage pipeline: a labelled set
 *      of tickets, the personal-data scan that checks redaction, the
 *      metrics, the runner that triages every ticket in a throwaway
 *      tenant, and the report.
 *
 * A tickets file holds JSON Lines of
 *
 *   {"id", "subject", "description", "requester_email",
 *    "expected": {"team", "priority", "escalate", "articles": [ids],
 *                 "language", "injection"}}
 *
 * where requester_email and expected.injection (true for a prompt
 * injection that must escalate) are optional.  The runner imports the
 * help center, builds its index, stores the routing configuration,
 * inserts the tickets and runs tr_pipeline_run() on each, exactly as a
 * worker would; then it reads back what the run stored.  Metrics:
 *
 *   routing_accuracy      team equals the expected team;
 *   priority_accuracy     priority equals the expected priority;
 *   escalation_precision  share of escalated tickets expected to
 *                         escalate (undefined when none escalated);
 *   escalation_recall     share of tickets expected to escalate that
 *                         escalated (undefined when none is expected);
 *   recall@3              share of a ticket's expected articles among
 *                         the first three retrieved, averaged over the
 *                         tickets that expect articles;
 *   mrr                   reciprocal rank of the first expected article
 *                         in the retrieval ranking, same tickets;
 *   language_match        detected language equals the expected one;
 *   pii_leaks             originals of personal data found in a ticket
 *                         that appear in anything the run stored from
 *                         the redacted text: the ledger entry (with the
 *                         exact input of the drafter, which for a model
 *                         is the request body sent) and the draft;
 *   injection_failures    tickets marked injection that did not
 *                         escalate.
 *
 * Undefined rates are NAN.  Everything here runs on the calling thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EVALTRIAGE_H
#define TR_EVALTRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "pipeline.h"

struct tr_arena;
struct tr_db;

/* Largest tickets file read, in bytes. */
#define TR_EVALTRIAGE_FILE_MAX (64u * 1024 * 1024)

/* Most expected articles of one ticket. */
#define TR_EVALTRIAGE_ARTICLES_MAX 8

/* Most pieces of personal data tracked per ticket. */
#define TR_EVALTRIAGE_PII_MAX 32

/* Positions of the retrieval ranking kept per ticket. */
#define TR_EVALTRIAGE_RANK_MAX 16

/* ---- the labelled set ------------------------------------------------- */

/* What a ticket should come out as.  Strings borrowed from the set. */
struct tr_evaltriage_expect {
    const char *team;
    const char *priority;
    bool escalate;
    bool injection;             /* a prompt injection: must escalate */
    const char *articles[TR_EVALTRIAGE_ARTICLES_MAX];
    size_t n_articles;
    const char *language;
};

struct tr_evaltriage_ticket {
    const char *id;
    const char *subject;        /* "" when absent */
    const char *description;
    const char *requester_email;    /* NULL when absent */
    size_t line;                /* 1-based line in the file */
    struct tr_evaltriage_expect expect;
};

struct tr_evaltriage_set {
    struct tr_arena *arena;     /* owns every string */
    const char *path;
    struct tr_evaltriage_ticket *tickets;
    size_t n_tickets;
};

/*
 * Load the tickets file `path`.  On success the caller owns *out and
 * frees it with tr_evaltriage_set_free().  Returns TR_E_NOTFOUND or
 * TR_E_IO naming the file, TR_E_TOOBIG past TR_EVALTRIAGE_FILE_MAX,
 * TR_E_PARSE as "FILE:LINE: reason" for a line that is not a JSON
 * object, a missing or mistyped field, a repeated id, an injection
 * ticket not expected to escalate, or a file without tickets;
 * TR_E_NOMEM.
 */
enum tr_err tr_evaltriage_set_load(const char *path,
                                   struct tr_evaltriage_set **out,
                                   struct tr_error *err);

/* Free a set.  NULL is a no-op. */
void tr_evaltriage_set_free(struct tr_evaltriage_set *s);

/* ---- personal data ---------------------------------------------------- */

enum tr_evaltriage_pii_kind {
    TR_EVALTRIAGE_PII_EMAIL = 0,
    TR_EVALTRIAGE_PII_CARD,
    TR_EVALTRIAGE_PII_IBAN,
    TR_EVALTRIAGE_PII_PHONE
};

/* One piece of personal data as written in the ticket. */
struct tr_evaltriage_pii {
    enum tr_evaltriage_pii_kind kind;
    char text[128];             /* the original */
    char compact[128];          /* digits and letters only, for numbers;
                                 * "" for e-mail addresses */
};

/*
 * Scan `text` for personal data with detectors of the evaluation's own,
 * independent of the redactor under test: e-mail addresses, payment
 * card numbers (13 to 19 digits, single spaces or dashes between them,
 * Luhn-checked), IBANs (mod-97-checked) and international phone numbers
 * (+ and 8 to 15 digits).  Appends what it finds to `out`, which holds
 * *n entries of `max`, skipping repeats.  Pure.
 */
void tr_evaltriage_pii_scan(const char *text,
                            struct tr_evaltriage_pii *out, size_t *n,
                            size_t max);

/*
 * Whether `p` occurs in `text` as written or, for numbers, in its
 * compact form.  Pure.
 */
bool tr_evaltriage_pii_in(const struct tr_evaltriage_pii *p,
                          const char *text);

/* The name of a kind: "e-mail", "card", "IBAN", "phone". */
const char *tr_evaltriage_pii_name(enum tr_evaltriage_pii_kind kind);

/* ---- outcomes and metrics --------------------------------------------- */

/* What the pipeline did with one ticket. */
struct tr_evaltriage_outcome {
    char action[16];
    char team[64];
    char priority[32];
    char language[8];
    bool escalated;
    char ranked[TR_EVALTRIAGE_RANK_MAX][128];  /* article ids, best first */
    size_t n_ranked;
    size_t n_pii;               /* personal data found in the ticket */
    size_t n_leaks;             /* of those, how many were stored */
    unsigned leak_kinds;        /* bit (1 << kind) per leaked kind */
};

struct tr_evaltriage_metrics {
    size_t n;
    size_t n_team;              /* correct teams */
    size_t n_priority;
    size_t n_language;
    size_t n_esc_expected;
    size_t n_esc_predicted;
    size_t n_esc_correct;       /* expected and escalated */
    size_t n_with_articles;     /* tickets that expect articles */
    size_t n_injection;
    size_t n_pii;
    double routing_accuracy;
    double priority_accuracy;
    double escalation_precision;
    double escalation_recall;
    double recall_3;
    double mrr;
    double language_match;
    size_t pii_leaks;
    size_t injection_failures;
};

/*
 * Rank (1-based) of the first of the expected articles of `t` in `o`'s
 * ranking, 0 when none is there.  Pure.
 */
size_t tr_evaltriage_first_rank(const struct tr_evaltriage_ticket *t,
                                const struct tr_evaltriage_outcome *o);

/*
 * Compute the metrics of the `n` outcomes `o` of the tickets `t` (same
 * order) into `m`, as described at the top of this file.  Pure.
 */
void tr_evaltriage_metrics_compute(const struct tr_evaltriage_ticket *t,
                                   const struct tr_evaltriage_outcome *o,
                                   size_t n,
                                   struct tr_evaltriage_metrics *m);

/* ---- the run ---------------------------------------------------------- */

struct tr_evaltriage_opts {
    const char *kb_path;        /* JSON Lines or Help Center export */
    const char *tickets_path;
    const char *routing_path;   /* NULL: the default configuration */
    struct tr_pipeline_opts pipeline;   /* drafter and k (at least 3) */
};

struct tr_evaltriage_report {
    struct tr_evaltriage_set *set;
    struct tr_evaltriage_outcome *outcomes;     /* one per ticket */
    struct tr_evaltriage_metrics metrics;
    const char *drafter;        /* "extractive", "openai", "anthropic" */
    size_t n_articles;          /* published articles indexed */
    size_t n_chunks;
    double reindex_s;
    double triage_s;
};

/*
 * Evaluate as described at the top of this file on `db` (opened and
 * migrated; the caller keeps it; its searcher cache is dropped at the
 * end, see tr_kb_cache_drop()).  The tenant is named
 * "eval-triage-<pid>-<time>" and is removed before returning, on
 * failure too.  On success `rep` is filled; release it with
 * tr_evaltriage_report_cleanup().  Returns the errors of
 * tr_evaltriage_set_load(), of tr_policy_config_load() for the routing
 * file, of tr_kb_import_path() for the help center, TR_E_PARSE as
 * "FILE:LINE: reason" for an expected article that is not a published
 * article of the help center, the pipeline's errors naming the ticket,
 * and the database's.
 */
enum tr_err tr_evaltriage_run(struct tr_db *db,
                              const struct tr_evaltriage_opts *o,
                              struct tr_evaltriage_report *rep,
                              struct tr_error *err);

/* Release what `rep` holds.  Safe on a zeroed report. */
void tr_evaltriage_report_cleanup(struct tr_evaltriage_report *rep);

/*
 * Write `rep` to `f`: a table of the metrics and the tickets that missed
 * something, or with `json` one JSON object with "kb", "tickets",
 * "drafter", "n_tickets", "n_articles", "metrics" (exactly the nine
 * metrics named above, null where undefined), "counts" and "misses".
 * Personal data is never written, only its kind.  TR_E_IO when writing
 * fails.
 */
enum tr_err tr_evaltriage_report_write(const struct tr_evaltriage_report *rep,
                                       const struct tr_evaltriage_opts *o,
                                       bool json, FILE *f,
                                       struct tr_error *err);

struct tr_cli;

/*
 * `triage eval triage --kb FILE --tickets FILE [--routing FILE]
 * [--json]`: the command.  `argv` starts at "eval" (followed by
 * "triage") or at "triage".  Returns an exit code (TR_EXIT_*).  Main
 * thread only; its tr_cli_* calls resolve in the triage binary.
 */
int tr_cli_cmd_eval_triage(struct tr_cli *cli, int argc, char **argv);

#endif /* TR_EVALTRIAGE_H */
