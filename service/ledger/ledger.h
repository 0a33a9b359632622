/*
 * ledger.h
 *      The decision ledger: an append-only, per-tenant, hash-chained
 *      record of what every triage decision rested on, and of the
 *      approvals, edits and sends that followed.
 *
 * Each entry of a tenant has the next sequence number (1, 2, ...) and a
 * SHA-256 hash over its fields and the hash of the entry before it (the
 * record format is spelled out in service/db/migrations/005_ledger.sql).
 * The database computes seq, timestamp and hash in the insert trigger,
 * under a per-tenant lock, so concurrent writers never fork the chain;
 * the database refuses UPDATE, DELETE and TRUNCATE to every role.  This
 * module writes entries, reads them back, and recomputes every hash on
 * its own to find rows altered, removed or reordered behind the
 * database's back (by someone holding the owner's rights).
 *
 * Payloads are JSON objects, stored as canonical JSON text (defined at
 * tr_ledger_json_canon()) which is what the hash covers; the same content
 * in any key order gives the same stored bytes.
 *
 * The payload of a "decision" entry carries, by convention:
 *     "model_input"    the exact bytes sent to the model (request body or
 *                      prompt) as a JSON string
 *     "prompt_hash"    tr_ledger_sha256_hex() of those bytes
 *     "provider", "model", "index_version", "passages" (ids and scores),
 *     "routing" (features and probabilities), "outcome"
 * `triage ledger replay` prints model_input byte for byte and checks it
 * against prompt_hash.
 *
 * Threads: functions are reentrant; a connection is used by one thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LEDGER_H
#define TR_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cJSON;
struct tr_db;
struct tr_db_conn;

/* Lower-case hex SHA-256: 64 digits. */
#define TR_LEDGER_HASH_LEN 64
/* Longest kind name; kinds match [a-z][a-z0-9_]*. */
#define TR_LEDGER_KIND_MAX 32
/* Largest payload accepted, in bytes of canonical JSON. */
#define TR_LEDGER_PAYLOAD_MAX (16u * 1024 * 1024)
/* Deepest nesting of arrays and objects accepted in a payload. */
#define TR_LEDGER_JSON_DEPTH 64

/* Entry kinds written by triage itself; others may add their own. */
#define TR_LEDGER_DECISION "decision"
#define TR_LEDGER_APPROVAL "approval"
#define TR_LEDGER_EDIT "edit"
#define TR_LEDGER_SEND "send"

/* One ledger row as stored. */
struct tr_ledger_entry {
    int64_t id;                 /* ledger.id */
    int64_t tenant_id;
    int64_t seq;                /* 1 for the tenant's first entry */
    int64_t draft_id;           /* 0 when none */
    int64_t ticket_id;          /* 0 when none */
    int format;                 /* 1; 0 for rows older than the format */
    char kind[TR_LEDGER_KIND_MAX + 1];
    char created_at[40];        /* UTC, as hashed */
    char prev_hash[TR_LEDGER_HASH_LEN + 1];  /* "" for seq 1 */
    char hash[TR_LEDGER_HASH_LEN + 1];
    char *payload_text;         /* canonical JSON, owned */
    size_t payload_len;
};

/* What tr_ledger_verify() found wrong first. */
enum tr_ledger_fault {
    TR_LEDGER_INTACT = 0,
    TR_LEDGER_ALTERED,          /* a row's fields do not give its hash */
    TR_LEDGER_MISSING,          /* a sequence number is absent */
    TR_LEDGER_DUPLICATE,        /* two rows carry the same seq */
    TR_LEDGER_LINK,             /* prev_hash is not the previous hash */
    TR_LEDGER_PAYLOAD,          /* payload differs from payload_text */
    TR_LEDGER_ANCHOR            /* the expected head is not there */
};

struct tr_ledger_report {
    int64_t n_rows;             /* rows checked */
    int64_t head_seq;           /* last good row (0 when none) */
    char head_hash[TR_LEDGER_HASH_LEN + 1];
    enum tr_ledger_fault fault;
    int64_t fault_seq;          /* the row, or the first missing seq */
    int64_t fault_id;           /* its ledger.id, 0 for a missing row */
    char reason[320];           /* one sentence for the operator */
};

/*
 * Canonicalise the JSON text `json` (`len` bytes): the result has no
 * whitespace outside strings; object members sorted by key, comparing the
 * keys' UTF-8 bytes after unescaping (a key that is a prefix of another
 * sorts first); strings as raw UTF-8 with only '"', '\\' and control
 * characters escaped (\b \f \n \r \t, others \u00xx in lower-case hex),
 * so "/" and non-ASCII stay unescaped and \u escapes are decoded;
 * numbers, true, false and null exactly as written.  Rejected with
 * TR_E_PARSE and the byte offset: invalid JSON or UTF-8, duplicate keys,
 * lone surrogates, \u0000 (PostgreSQL cannot store it), nesting deeper
 * than TR_LEDGER_JSON_DEPTH; TR_E_TOOBIG past TR_LEDGER_PAYLOAD_MAX.
 * Canonical input comes back unchanged.  The caller frees *out.
 */
enum tr_err tr_ledger_json_canon(const char *json, size_t len, char **out,
                                 size_t *out_len, struct tr_error *err);

/*
 * The lower-case hex SHA-256 of `len` bytes at `data`, into `out`.
 */
void tr_ledger_sha256_hex(const void *data, size_t len,
                          char out[TR_LEDGER_HASH_LEN + 1]);

/*
 * Append an entry to the ledger of `tenant_id` on `c`, which must be in a
 * transaction of that tenant (tr_db_tx_begin) at READ COMMITTED; the
 * entry becomes visible when the caller commits, with whatever else the
 * transaction wrote.  The tenant's chain stays locked until then, so
 * append last and commit soon.  `kind` matches [a-z][a-z0-9_]{0,31};
 * `draft_id` and `ticket_id` are 0 for none; `payload_json` must be a
 * JSON object and is stored canonicalised.  With `out` non-NULL it
 * receives the stored row (release with tr_ledger_entry_cleanup()).  The
 * hash the server computed is checked against this module's own.
 * Returns TR_E_INVAL (bad kind), TR_E_PARSE, TR_E_TOOBIG, TR_E_PERM, a
 * database error, or TR_E_INTERNAL when the two hashes disagree (then
 * roll back).
 */
enum tr_err tr_ledger_append(struct tr_db_conn *c, int64_t tenant_id,
                             const char *kind, int64_t draft_id,
                             int64_t ticket_id, const char *payload_json,
                             struct tr_ledger_entry *out,
                             struct tr_error *err);

/*
 * tr_ledger_append() with the payload as a cJSON object (printed, then
 * canonicalised; cJSON prints numbers with up to 17 significant digits).
 */
enum tr_err tr_ledger_append_json(struct tr_db_conn *c, int64_t tenant_id,
                                  const char *kind, int64_t draft_id,
                                  int64_t ticket_id,
                                  const struct cJSON *payload,
                                  struct tr_ledger_entry *out,
                                  struct tr_error *err);

/*
 * Recompute the hash of `e` from its fields, by its format, into `out`.
 */
enum tr_err tr_ledger_entry_hash(const struct tr_ledger_entry *e,
                                 char out[TR_LEDGER_HASH_LEN + 1],
                                 struct tr_error *err);

/*
 * Fetch the latest entry of kind `kind` (NULL for "decision") about draft
 * `draft_id`, on `c` in a transaction of the draft's tenant.  Returns
 * TR_E_NOTFOUND when there is none.  Release *out with
 * tr_ledger_entry_cleanup().
 */
enum tr_err tr_ledger_get_by_draft(struct tr_db_conn *c, int64_t draft_id,
                                   const char *kind,
                                   struct tr_ledger_entry *out,
                                   struct tr_error *err);

/*
 * Free the payload of `e` and zero it.  Safe on a zeroed entry.
 */
void tr_ledger_entry_cleanup(struct tr_ledger_entry *e);

/*
 * The value of the top-level member `key` of the canonical JSON object
 * `json`: for a string its decoded bytes (*is_string true), otherwise the
 * member's canonical JSON text.  The caller frees *out (zero-terminated;
 * *out_len excludes the terminator).  TR_E_NOTFOUND when absent,
 * TR_E_PARSE when `json` is not an object.
 */
enum tr_err tr_ledger_json_member(const char *json, size_t len,
                                  const char *key, char **out,
                                  size_t *out_len, bool *is_string,
                                  struct tr_error *err);

/*
 * Rebuild the model input of a decision entry: *out gets the bytes of its
 * payload's "model_input" (a string's bytes, or another value's canonical
 * JSON) and `actual` their SHA-256; `recorded` gets the payload's
 * "prompt_hash" as written (a "sha256:" prefix is allowed), "" when
 * absent, and *matches whether the two agree (case-insensitive hex).
 * TR_E_NOTFOUND when the payload has no model_input.  The caller frees
 * *out.
 */
enum tr_err tr_ledger_model_input(const struct tr_ledger_entry *e,
                                  char **out, size_t *out_len,
                                  char recorded[TR_LEDGER_HASH_LEN + 8],
                                  char actual[TR_LEDGER_HASH_LEN + 1],
                                  bool *matches, struct tr_error *err);

/*
 * Walk the whole ledger of `tenant_id` in seq order, in one snapshot,
 * recomputing every hash, and fill `rep` with the row count, the head
 * and the first fault found (rep->fault TR_LEDGER_INTACT when none).
 * Rows removed from the end cannot be told from a shorter ledger by the
 * chain alone: pass a head recorded earlier as `anchor_seq` (0 for none)
 * and `anchor_hash`, and a ledger that no longer holds that row with that
 * hash is reported as TR_LEDGER_ANCHOR.  Returns TR_OK whether or not a
 * fault was found; database errors otherwise.
 */
enum tr_err tr_ledger_verify(struct tr_db *db, int64_t tenant_id,
                             int64_t anchor_seq, const char *anchor_hash,
                             struct tr_ledger_report *rep,
                             struct tr_error *err);

/*
 * The lower-case name of a fault ("intact", "altered", ...).  Static.
 */
const char *tr_ledger_fault_name(enum tr_ledger_fault f);

/*
 * `triage ledger verify|replay`; registered in service/main.c.
 */
struct tr_cli;
int tr_cli_cmd_ledger(struct tr_cli *cli, int argc, char **argv);

#endif /* TR_LEDGER_H */
