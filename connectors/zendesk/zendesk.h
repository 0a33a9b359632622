/*
 * zendesk.h
 *      The Zendesk connector: webhook verification and parsing, and a
 *      REST client for tickets, comments, the incremental export and
 *      Help Center articles.
 *
 * The webhook half is pure: it checks the HMAC signature over the raw
 * bytes and the timestamp window, then turns either payload style into a
 * normalised event.  It needs no database; the route that calls it
 * stores the event in the inbox.
 *
 * The REST half sends every call through tr_httpc with the Zendesk retry
 * policy (Retry-After honoured up to 300 s; 429 storms are waited out).
 * A struct tr_zendesk holds one HTTP client, so it belongs to one thread
 * at a time.  Results are parsed into structs whose strings live in an
 * arena the caller passes; ids are int64.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_ZENDESK_H
#define TR_ZENDESK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "httpc.h"
#include "mem.h"

/* Header names of a signed webhook delivery. */
#define TR_ZENDESK_SIG_HEADER "X-Zendesk-Webhook-Signature"
#define TR_ZENDESK_SIG_TS_HEADER "X-Zendesk-Webhook-Signature-Timestamp"
#define TR_ZENDESK_WEBHOOK_ID_HEADER "X-Zendesk-Webhook-Id"

/* Default accepted distance between the signed timestamp and now. */
#define TR_ZENDESK_WEBHOOK_WINDOW_S 300

/* ------------------------------------------------------------------ */
/* Webhooks                                                            */
/* ------------------------------------------------------------------ */

/*
 * A webhook event after verification, in one shape whatever the payload
 * style.  Strings live in the arena given to the parser.
 *
 * dedup_key: "zen:evt:<event id>" for event-subscription payloads (the
 *   event id is unique per event); "zen:trg:<ticket id>:<sha256 of the
 *   raw body, 32 hex>" for trigger payloads, so a redelivery of the same
 *   body dedupes while a later update (whose body differs) does not.
 * type: the event type without its "zen:event-type:" prefix
 *   ("ticket.created"), or for trigger payloads the "event" field when
 *   present, else "ticket.trigger".
 * occurred_at: epoch seconds from "time" (subscriptions) or "updated_at"
 *   (triggers), else the signed timestamp.
 */
struct tr_zendesk_event {
    const char *dedup_key;
    int64_t ticket_id;
    const char *type;
    int64_t occurred_at;
    bool subscription;
};

/*
 * Check a delivery's signature: base64(HMAC-SHA256(secret, timestamp ||
 * body)) compared in constant time with `signature`, and `timestamp`
 * (ISO 8601 UTC, as signed) no further than `window_s` seconds from `now`
 * in either direction (window_s <= 0 picks 300).  `secret` is used as its
 * bytes, never base64-decoded.  `body` is the raw bytes as received.
 * Returns TR_OK, or TR_E_AUTH with a message naming the reason (missing
 * header, malformed or stale or future timestamp, signature mismatch),
 * TR_E_CONF for an empty secret.  Pure; any thread.
 */
enum tr_err tr_zendesk_webhook_verify(const char *secret,
                                      const char *signature,
                                      const char *timestamp,
                                      const char *body, size_t body_len,
                                      time_t now, int window_s,
                                      struct tr_error *err);

/*
 * Parse a verified body into `ev`.  Accepted shapes (JSON objects):
 *   event subscription: {"type":"zen:event-type:ticket.<x>", "id":...,
 *     "time":..., "subject":"zen:ticket:<id>", "detail":{"id":...}}
 *     (ticket id from detail.id, else the subject; number or string);
 *   trigger: {"ticket_id": <id>} or {"ticket": {"id": <id>}}, the id a
 *     number or a string of digits, optional "updated_at" and "event".
 * `timestamp` is the signed timestamp header (may be NULL), used for
 * occurred_at when the body has no time.  Returns TR_OK, TR_E_PARSE
 * (not JSON, not an object), TR_E_INVAL (no usable ticket id),
 * TR_E_UNSUPPORTED (an event-subscription event that is not about a
 * ticket; acknowledge it and drop it), TR_E_NOMEM.  Strings are copied
 * into `a`.  Pure; any thread.
 */
enum tr_err tr_zendesk_webhook_parse(struct tr_arena *a, const char *body,
                                     size_t body_len, const char *timestamp,
                                     struct tr_zendesk_event *ev,
                                     struct tr_error *err);

/*
 * Compute the signature Zendesk would send for `timestamp` and `body`
 * into `out` (at least 45 bytes: base64 of 32 bytes and a zero).  For
 * the fake sender and tests.  Returns TR_OK or TR_E_INTERNAL.
 */
enum tr_err tr_zendesk_webhook_sign(const char *secret, const char *timestamp,
                                    const char *body, size_t body_len,
                                    char *out, size_t out_len);

/*
 * Parse an ISO 8601 UTC time ("2024-04-17T17:18:10Z", optional
 * fraction, "Z" or "+hh:mm"/"-hh:mm") into epoch seconds.  Returns false
 * when `s` is not such a time.  Pure.
 */
bool tr_zendesk_time_parse(const char *s, int64_t *out);

/* ------------------------------------------------------------------ */
/* REST client                                                         */
/* ------------------------------------------------------------------ */

struct tr_zendesk;

/*
 * Connection settings.  Either `base_url` ("http://127.0.0.1:5000" for
 * the fake; no trailing /api/v2) or `subdomain` ("acme" gives
 * https://acme.zendesk.com).  Either `email` plus `api_token` (Basic
 * "email/token:token") or `oauth_token` (Bearer).  `policy` may be NULL
 * for the Zendesk preset; `budget`/`budget_arg` (may be NULL) limit the
 * calls of this tenant (see tr_httpc_bucket).  Copied by tr_zendesk_new()
 * except `policy` and `budget_arg`, which are borrowed for the client's
 * life.
 */
struct tr_zendesk_cfg {
    const char *subdomain;
    const char *base_url;
    const char *email;
    const char *api_token;
    const char *oauth_token;
    const struct tr_httpc_opts *http;
    const struct tr_httpc_policy *policy;
    tr_httpc_budget_fn *budget;
    void *budget_arg;
    size_t max_response;           /* 0: 16 MiB */
};

struct tr_zendesk_ticket {
    int64_t id;
    const char *subject;
    const char *description;
    const char *status;
    const char *priority;          /* NULL when unset */
    const char *type;
    int64_t requester_id;          /* 0 when null */
    int64_t assignee_id;
    int64_t group_id;
    int64_t organization_id;
    const char **tags;
    size_t n_tags;
    const char *via_channel;
    const char *created_at;
    const char *updated_at;
    int64_t generated_timestamp;
};

struct tr_zendesk_comment {
    int64_t id;
    int64_t author_id;
    const char *type;
    const char *body;
    const char *html_body;
    const char *plain_body;
    bool is_public;
    const char *created_at;
};

struct tr_zendesk_comment_page {
    struct tr_zendesk_comment *comments;
    size_t n_comments;
    bool has_more;
    const char *after_cursor;      /* NULL when none */
};

struct tr_zendesk_export_page {
    struct tr_zendesk_ticket *tickets;
    size_t n_tickets;
    const char *after_cursor;      /* keep it even when end_of_stream */
    bool end_of_stream;
};

/*
 * A ticket update.  `comment` NULL adds no comment; `comment_public`
 * false makes it an internal note.  NULL/0 fields are left unchanged;
 * `tags` replaces the whole list when `set_tags`.  `updated_stamp`, when
 * set, turns on safe_update (409 TR_E_CONFLICT if the ticket changed).
 */
struct tr_zendesk_update {
    const char *comment;
    bool comment_html;
    bool comment_public;
    const char *status;
    const char *priority;
    int64_t group_id;
    int64_t assignee_id;
    const char *const *tags;
    size_t n_tags;
    bool set_tags;
    const char *updated_stamp;
};

struct tr_zendesk_article {
    int64_t id;
    int64_t section_id;
    int64_t author_id;
    const char *title;
    const char *body;
    const char *locale;
    const char *html_url;
    bool draft;
    const char **labels;
    size_t n_labels;
    const char *updated_at;
    const char *edited_at;
};

struct tr_zendesk_article_page {
    struct tr_zendesk_article *articles;
    size_t n_articles;
    bool has_more;
    const char *after_cursor;
};

/*
 * Create a client.  Returns NULL with `err` filled: TR_E_CONF (no base
 * URL or subdomain, no credentials, a subdomain with characters other
 * than letters, digits and '-'), TR_E_NOMEM, TR_E_INTERNAL.  The caller
 * owns it and frees it with tr_zendesk_free().  One thread at a time.
 */
struct tr_zendesk *tr_zendesk_new(const struct tr_zendesk_cfg *cfg,
                                  struct tr_error *err);

/*
 * Release a client.  NULL is a no-op.
 */
void tr_zendesk_free(struct tr_zendesk *zd);

/*
 * The API base of the client ("https://acme.zendesk.com/api/v2").
 * Borrowed, valid until tr_zendesk_free().
 */
const char *tr_zendesk_base(const struct tr_zendesk *zd);

/*
 * Every call below returns TR_OK or: TR_E_AUTH (401), TR_E_PERM (403),
 * TR_E_NOTFOUND (404), TR_E_CONFLICT (409), TR_E_INVAL (400, 422),
 * TR_E_AGAIN (429 once the retries are spent), TR_E_HTTP_UPSTREAM (5xx,
 * transport failure), TR_E_TIMEOUT, TR_E_TOOBIG, TR_E_PARSE (a 2xx body
 * that is not the expected JSON), TR_E_NOMEM.  The message carries
 * Zendesk's "error"/"description" when the error body is JSON, and only
 * the status and content type otherwise; never ticket text.  Results
 * live in `a`.  The thread owning `zd` only.
 */

/* GET /api/v2/tickets/{id}.json */
enum tr_err tr_zendesk_ticket_fetch(struct tr_zendesk *zd,
                                    struct tr_arena *a, int64_t id,
                                    struct tr_zendesk_ticket *out,
                                    struct tr_error *err);

/*
 * GET /api/v2/tickets/{id}/comments.json with cursor pagination:
 * `after` NULL for the first page, else the previous page's
 * after_cursor; `page_size` 0 picks 100.
 */
enum tr_err tr_zendesk_comments_list(struct tr_zendesk *zd,
                                     struct tr_arena *a, int64_t ticket_id,
                                     const char *after, int page_size,
                                     struct tr_zendesk_comment_page *out,
                                     struct tr_error *err);

/*
 * One page of the cursor-based incremental ticket export: with `cursor`
 * NULL, start at `start_time` (epoch seconds); else continue from
 * `cursor`.  Call again with out->after_cursor until end_of_stream, and
 * store the last after_cursor for the next poll.  Tickets may repeat
 * across pages and polls; dedupe by id.
 */
enum tr_err tr_zendesk_export_next(struct tr_zendesk *zd,
                                   struct tr_arena *a, int64_t start_time,
                                   const char *cursor,
                                   struct tr_zendesk_export_page *out,
                                   struct tr_error *err);

/*
 * PUT /api/v2/tickets/{id}.json with `upd`.  `out` (may be NULL) gets
 * the ticket as Zendesk returns it, `audit_id` (may be NULL) the id of
 * the audit that recorded the change.
 */
enum tr_err tr_zendesk_ticket_update(struct tr_zendesk *zd,
                                     struct tr_arena *a, int64_t id,
                                     const struct tr_zendesk_update *upd,
                                     struct tr_zendesk_ticket *out,
                                     int64_t *audit_id,
                                     struct tr_error *err);

/*
 * GET /api/v2/help_center[/{locale}]/articles.json with cursor
 * pagination; `locale` NULL lists every locale; `after` and `page_size`
 * as for comments (0 picks 30).
 */
enum tr_err tr_zendesk_articles_list(struct tr_zendesk *zd,
                                     struct tr_arena *a, const char *locale,
                                     const char *after, int page_size,
                                     struct tr_zendesk_article_page *out,
                                     struct tr_error *err);

/* ------------------------------------------------------------------ */
/* Service wiring: webhook route and group commit (routes.c,        */
/* routes_inbox.c), ingest and post-back jobs (ingest.c,             */
/* postback.c), cursor pull and metrics (pull.c)                      */
/* ------------------------------------------------------------------ */

struct tr_db;
struct tr_db_conn;
struct tr_http_server;
struct tr_buf;

/* Job kinds this connector handles or enqueues. */
#define TR_ZENDESK_JOB_INGEST "zendesk.ingest"
#define TR_ZENDESK_JOB_POSTBACK "zendesk.postback"
#define TR_ZENDESK_JOB_TRIAGE "triage"

/* How the webhook route and its group commit behave; 0 takes defaults. */
struct tr_zendesk_route_opts {
    long long body_limit;       /* per-route body cap, bytes (256 KiB) */
    int window_s;               /* signature timestamp window (300) */
    int batch_max;              /* most events in one commit (256) */
    int batch_wait_us;          /* how long a commit waits to fill (1000) */
    int n_committers;           /* committer threads (2) */
    int tenant_cache_ms;        /* tenant lookup cache lifetime (5000) */
};

/* The group committer of inbox inserts. */
struct tr_zendesk_inbox;

/* One event handed to the group committer. */
struct tr_zendesk_inbox_item {
    int64_t tenant_id;
    const char *dedup_key;
    const char *source;         /* "webhook" or "pull" */
    const char *payload;        /* JSON object text */
};

/*
 * Start the group committer: `o->n_committers` threads that take the
 * pending events of all callers, insert them in one transaction (one
 * subtransaction per event, so a bad one fails alone) together with a
 * "zendesk.ingest" job per new event, and wake every caller with its own
 * result once the commit is durable.  `db` is borrowed and must outlive
 * the committer; `o` may be NULL.  The caller owns *out and frees it with
 * tr_zendesk_inbox_free().  Returns TR_E_NOMEM or TR_E_INTERNAL.
 */
enum tr_err tr_zendesk_inbox_new(struct tr_db *db,
                                 const struct tr_zendesk_route_opts *o,
                                 struct tr_zendesk_inbox **out,
                                 struct tr_error *err);

/*
 * Stop the committer threads (events already submitted are committed
 * first) and free.  No caller may be inside tr_zendesk_inbox_submit().
 * NULL is a no-op.
 */
void tr_zendesk_inbox_free(struct tr_zendesk_inbox *ib);

/*
 * Store one event durably and wait for the commit that holds it.
 * `is_new` (may be NULL) is false when the (tenant, dedup key) was
 * already in the inbox.  Returns TR_OK only after the commit;
 * TR_E_DB_CONNECT when the database could not be reached or the commit
 * failed (nothing was stored), TR_E_DB_QUERY when the event itself was
 * refused (its SQLSTATE in err->foreign), TR_E_AGAIN when stopping.
 * Any thread; blocks.
 */
enum tr_err tr_zendesk_inbox_submit(struct tr_zendesk_inbox *ib,
                                    const struct tr_zendesk_inbox_item *it,
                                    bool *is_new, struct tr_error *err);

/*
 * Commits and events the committer has run since it started.
 */
void tr_zendesk_inbox_counts(const struct tr_zendesk_inbox *ib,
                             long long *n_commits, long long *n_events);

/*
 * Register POST /webhooks/zendesk/{tenant} on `s`, storing events
 * through `ib` (borrowed; must outlive the server).  The handler answers
 * 404 for an unknown tenant, 415 unless the body is application/json,
 * 413 over o->body_limit, 401 for a bad signature, 400 for a malformed
 * body or one without a ticket id, 200 {"status":"ignored"} for events
 * that are not about tickets, 503 when the database is unreachable, and
 * 200 {"status":"accepted"|"duplicate"} only after the commit.  `o` may
 * be NULL.  Returns what tr_http_route_add() returns.  Main thread, at
 * setup.
 */
enum tr_err tr_zendesk_http_route_add(struct tr_http_server *s,
                                      struct tr_zendesk_inbox *ib,
                                      const struct tr_zendesk_route_opts *o,
                                      struct tr_error *err);

/*
 * The composition root's one call: create the process-wide group
 * committer on `db` with default options and register the webhook route
 * on `s`.  Call tr_zendesk_http_release() after the server has stopped.
 * Returns TR_E_EXISTS when called twice, or what the two steps return.
 */
enum tr_err tr_zendesk_http_register(struct tr_http_server *s,
                                     struct tr_db *db,
                                     struct tr_error *err);

/*
 * Free the committer made by tr_zendesk_http_register().  Main thread,
 * after tr_http_server_stop().
 */
void tr_zendesk_http_release(void);

/*
 * Observer called by the post-back after Zendesk accepted the update and
 * before the answer is recorded.  Returning anything but TR_OK abandons
 * the run there, as a crash at that point would (used to prove that a
 * retry does not post twice).
 */
typedef enum tr_err tr_zendesk_posted_fn(void *arg, int64_t draft_id);

/* Options of the jobs and the pull; zero fields take the defaults. */
struct tr_zendesk_job_opts {
    const struct tr_httpc_policy *policy;  /* NULL: the Zendesk preset */
    const struct tr_httpc_opts *http;      /* NULL: client defaults */
    int max_pages;                         /* pull: 0 = until the end */
    int max_conflicts;                     /* post-back 409 retries (3) */
    tr_zendesk_posted_fn *on_posted;       /* may be NULL */
    void *on_posted_arg;
    /* Called after each committed pull page; non-TR_OK stops the pull. */
    enum tr_err (*on_page)(void *arg, int page);
    void *on_page_arg;
};

/*
 * Register the job handlers "zendesk.ingest" and "zendesk.postback"
 * with the queue.  `o` (may be NULL) is borrowed for the life of the
 * process.  Returns what tr_queue_handler_register() returns.  Main
 * thread, before the worker pool starts.
 */
enum tr_err tr_zendesk_jobs_register(const struct tr_zendesk_job_opts *o,
                                     struct tr_error *err);

/*
 * The ingest step for one ticket of tenant `tenant_id`: fetch the ticket
 * and all its comments with the tenant's Zendesk settings, then in one
 * transaction upsert the ticket and its comments, mark inbox row
 * `inbox_id` processed (0: none) and enqueue a "triage" job for the
 * ticket.  `o` may be NULL.  Returns TR_E_CONF when the tenant has no
 * usable Zendesk settings, the REST client's codes, the database's.
 * Any thread.
 */
enum tr_err tr_zendesk_ingest_run(struct tr_db *db, int64_t tenant_id,
                                  int64_t inbox_id, int64_t ticket_id,
                                  const struct tr_zendesk_job_opts *o,
                                  struct tr_error *err);

/* What one pull did. */
struct tr_zendesk_pull_result {
    int n_pages;                /* pages committed */
    int n_tickets;              /* tickets seen */
    int n_recovered;            /* new to us: no webhook announced them */
    bool end_of_stream;
};

/*
 * Incremental export for tenant `tenant_id`: continue from the stored
 * cursor, or with none (or with `since` >= 0, which discards it) start at
 * `since` (epoch seconds; -1 with no cursor starts at 0).  Each page is
 * one transaction: tickets upserted, ticket versions no webhook brought
 * put into the inbox (source "pull") with their ingest job and counted
 * as recovered, and the page's after_cursor saved.  A crash or an error
 * loses at most the page in flight; the next call resumes after the
 * last committed page.  `res` may be NULL.  This is the entry point of
 * the schedule in serve.  Any thread.
 */
enum tr_err tr_zendesk_pull_run(struct tr_db *db, int64_t tenant_id,
                                int64_t since,
                                const struct tr_zendesk_job_opts *o,
                                struct tr_zendesk_pull_result *res,
                                struct tr_error *err);

/*
 * Pull every tenant that has Zendesk settings, one after the other; the
 * schedule's tick.  Errors of one tenant are logged and do not stop the
 * others; returns the first error seen, or TR_OK.
 */
enum tr_err tr_zendesk_pull_all(struct tr_db *db,
                                const struct tr_zendesk_job_opts *o,
                                struct tr_error *err);

/*
 * Post draft `draft_id` of tenant `tenant_id` (an approved draft) to its
 * Zendesk ticket exactly once: as a public reply or an internal note per
 * the tenant's "reply_mode", with the optional `priority`, `group_id`
 * and `tags` (n_tags entries; NULL/0 leave them alone).  The answer
 * (audit id, comment id) is recorded and the draft marked sent.  A run
 * after an interrupted one looks for the comment among the ticket's
 * comments before posting.  A 409 from the safe update refetches the
 * ticket and tries again up to o->max_conflicts times.  Returns TR_OK
 * (also when it was already done), TR_E_NOTFOUND (no such draft),
 * TR_E_CONFLICT (draft not approved, or conflicts persisted), the REST
 * client's and the database's codes.  Any thread.
 */
enum tr_err tr_zendesk_postback_run(struct tr_db *db, int64_t tenant_id,
                                    int64_t draft_id, const char *priority,
                                    int64_t group_id,
                                    const char *const *tags, size_t n_tags,
                                    const struct tr_zendesk_job_opts *o,
                                    struct tr_error *err);

/*
 * Metrics collector (tr_metrics_collect_fn) appending the counter
 * triage_zendesk_recovered_by_pull_total{tenant}.  `user` is the struct
 * tr_db.  Runs a query per scrape.
 */
enum tr_err tr_zendesk_metrics_collect(struct tr_buf *out, void *user);

/* ------------------------------------------------------------------ */
/* Help Center to knowledge base (sync_kb.c)                          */
/* ------------------------------------------------------------------ */

struct tr_kb_reindex_result;

/* What `triage zendesk sync-kb` asks for; zero fields take defaults. */
struct tr_zendesk_kb_sync_opts {
    const char *locale;         /* NULL: every locale the API lists */
    int page_size;              /* articles a page (0: 30, at most 100) */
    const struct tr_zendesk_job_opts *jobs;  /* policy, HTTP; may be NULL */
    /* Non-NULL: reindex after a successful import and fill it. */
    struct tr_kb_reindex_result *reindex;
};

/* What one sync did. */
struct tr_zendesk_kb_sync_result {
    int n_pages;                /* article list pages fetched */
    size_t n_articles;          /* distinct articles imported */
    size_t n_added;
    size_t n_updated;
    size_t n_unchanged;
    size_t n_drafts;            /* drafts among them: stored, not indexed */
    bool reindexed;
};

/*
 * Copy the Help Center articles of tenant `tenant_id` into its knowledge
 * base: list every page of /help_center[/{locale}]/articles.json with
 * the tenant's Zendesk settings, then hand all of them to
 * tr_kb_import_articles() in one transaction, as the file import does
 * (HTML bodies; section is the section id as text; an article id seen
 * twice keeps its last copy).  Nothing is stored unless every page was
 * fetched and parsed.  With o->reindex, tr_kb_reindex() runs afterwards
 * with default options.  `res` may be NULL.  Returns TR_E_TENANT
 * (unknown tenant), TR_E_CONF (no usable Zendesk settings), the REST
 * client's codes (TR_E_AUTH for 401, TR_E_AGAIN when 429s outlast the
 * retry policy, TR_E_HTTP_UPSTREAM, TR_E_PARSE for a malformed page or
 * a cursor that does not advance), tr_kb_import_articles()'s and
 * tr_kb_reindex()'s codes.  A failed reindex leaves the import
 * committed (res->reindexed false).  Any thread.
 */
enum tr_err tr_zendesk_kb_sync(struct tr_db *db, int64_t tenant_id,
                               const struct tr_zendesk_kb_sync_opts *o,
                               struct tr_zendesk_kb_sync_result *res,
                               struct tr_error *err);

/* Module-private helpers shared by ingest.c, pull.c and postback.c. */

/* The tenant's "zendesk" settings turned into a client. */
struct tr_zendesk__tenant {
    struct tr_zendesk *zd;
    bool reply_public;
};

/*
 * Read tenants.settings->'zendesk' of `tenant_id` and make a client
 * (TR_E_CONF when absent or incomplete) with `policy` (NULL: o->policy,
 * else the preset).  Free t->zd with tr_zendesk_free().
 */
enum tr_err tr_zendesk__tenant_open(struct tr_db *db, int64_t tenant_id,
                                    const struct tr_zendesk_job_opts *o,
                                    const struct tr_httpc_policy *policy,
                                    struct tr_zendesk__tenant *t,
                                    struct tr_error *err);

/* Fill the defaults of `o` from `in` (NULL: all defaults). */
void tr_zendesk__route_opts_fill(struct tr_zendesk_route_opts *o,
                                 const struct tr_zendesk_route_opts *in);

/* The database of an inbox; borrowed. */
struct tr_db *tr_zendesk__inbox_db(struct tr_zendesk_inbox *ib);

/* Make `ib` free `obj` with `free_fn` when it is freed (at most 8). */
void tr_zendesk__inbox_attach(struct tr_zendesk_inbox *ib, void *obj,
                              void (*free_fn)(void *));

/*
 * Upsert `tk` into tickets inside the open tenant transaction `c`
 * (newer or equal updated_at wins); *id gets the internal id.
 */
enum tr_err tr_zendesk__ticket_upsert(struct tr_db_conn *c,
                                      int64_t tenant_id,
                                      const struct tr_zendesk_ticket *tk,
                                      int64_t *id, struct tr_error *err);

#endif /* TR_ZENDESK_H */
