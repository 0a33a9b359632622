/*
 * ledger.c
 *      Appending to the decision ledger, reading entries back, the
 *      record hash, and the model input a decision was made from.
 *
 * The server numbers, stamps and hashes each entry in its insert trigger
 * (005_ledger.sql).  The same hash is computed here from the stored
 * fields: on every append, to catch at once a server whose text encoding
 * or formatting would make the two disagree, and in verify.c, to find
 * rows changed behind the trigger's back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "db.h"
#include "ledger.h"
#include "ledger_int.h"
#include "mem.h"

void
tr_ledger_sha256_hex(const void *data, size_t len,
                     char out[TR_LEDGER_HASH_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    /* SHA-256 cannot fail on valid arguments; a failure leaves an empty
     * string, which never equals a stored hash. */
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A decimal id, or the empty string for 0 (SQL NULL). */
static const char *
id_text(int64_t id, char *buf, size_t buf_len)
{
    if (id == 0)
        buf[0] = '\0';
    else
        snprintf(buf, buf_len, "%" PRId64, id);
    return buf;
}

/*
 * The record is built as one buffer and hashed at once.  The field order
 * and separators are those of the trigger in 005_ledger.sql; the payload
 * comes last because it alone may contain newlines, which keeps the
 * encoding unambiguous without escaping anything.
 */
enum tr_err
tr_ledger_entry_hash(const struct tr_ledger_entry *e,
                     char out[TR_LEDGER_HASH_LEN + 1], struct tr_error *err)
{
    char draft[24], ticket[24];
    struct tr_buf b;
    enum tr_err rc;

    out[0] = '\0';
    tr_buf_init(&b, TR_LEDGER_PAYLOAD_MAX + 4096);
    if (e->format == 0) {
        /* Rows older than 005_ledger.sql: prev_hash || tenant || payload. */
        rc = tr_buf_printf(&b, "%s%" PRId64, e->prev_hash, e->tenant_id);
    } else if (e->format == 1) {
        rc = tr_buf_printf(&b, "triage-ledger-1\n%" PRId64 "\n%" PRId64
                           "\n%s\n%s\n%s\n%s\n%s\n", e->tenant_id, e->seq,
                           e->created_at, e->kind,
                           id_text(e->draft_id, draft, sizeof(draft)),
                           id_text(e->ticket_id, ticket, sizeof(ticket)),
                           e->prev_hash);
    } else {
        return TR_ERROR(err, TR_E_UNSUPPORTED, "ledger entry %" PRId64
                        " has unknown format %d", e->seq, e->format);
    }
    if (rc == TR_OK && e->payload_len > 0)
        rc = tr_buf_append(&b, e->payload_text, e->payload_len);

    if (rc == TR_OK)
        tr_ledger_sha256_hex(b.len > 0 ? b.data : "", b.len, out);
    else
        TR_ERROR(err, rc, "could not encode ledger entry %" PRId64, e->seq);
    tr_buf_cleanup(&b);
    return rc;
}

void
tr_ledger_entry_cleanup(struct tr_ledger_entry *e)
{
    if (e == NULL)
        return;
    free(e->payload_text);
    memset(e, 0, sizeof(*e));
}

/* Copy `s` into a fixed field; false when it does not fit (the field is
 * left empty, never truncated). */
static bool
copy_field(char *dst, size_t dst_len, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n >= dst_len) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, s != NULL ? s : "", n + 1);
    return true;
}

enum tr_err
tr_ledger__entry_read(const struct tr_db_res *res, int row,
                      struct tr_ledger_entry *e, bool *fits,
                      struct tr_error *err)
{
    const char *payload = tr_db_res_value(res, row, LEDGER_COL_PAYLOAD);
    bool ok = true;

    /* Numbers come from the server's own formatting of bigint columns,
     * NULL ids already turned into 0 by the query. */
    memset(e, 0, sizeof(*e));
    e->id = strtoll(tr_db_res_value(res, row, LEDGER_COL_ID), NULL, 10);
    e->tenant_id = strtoll(tr_db_res_value(res, row, LEDGER_COL_TENANT),
                           NULL, 10);
    e->seq = strtoll(tr_db_res_value(res, row, LEDGER_COL_SEQ), NULL, 10);
    e->draft_id = strtoll(tr_db_res_value(res, row, LEDGER_COL_DRAFT),
                          NULL, 10);
    e->ticket_id = strtoll(tr_db_res_value(res, row, LEDGER_COL_TICKET),
                           NULL, 10);
    e->format = atoi(tr_db_res_value(res, row, LEDGER_COL_FORMAT));

    /* A field too long for its slot cannot be a genuine one: the caller
     * treats the row as altered rather than hash a truncated copy. */
    ok &= copy_field(e->kind, sizeof(e->kind),
                     tr_db_res_value(res, row, LEDGER_COL_KIND));
    ok &= copy_field(e->created_at, sizeof(e->created_at),
                     tr_db_res_value(res, row, LEDGER_COL_CREATED));
    ok &= copy_field(e->prev_hash, sizeof(e->prev_hash),
                     tr_db_res_value(res, row, LEDGER_COL_PREV));
    ok &= copy_field(e->hash, sizeof(e->hash),
                     tr_db_res_value(res, row, LEDGER_COL_HASH));
    if (fits != NULL)
        *fits = ok;

    e->payload_len = payload != NULL ? strlen(payload) : 0;
    e->payload_text = strdup(payload != NULL ? payload : "");
    if (e->payload_text == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}

/* The same rule as the ledger_kind_name constraint, checked first so the
 * caller gets TR_E_INVAL rather than a database error. */
static bool
kind_ok(const char *kind)
{
    size_t n = kind != NULL ? strlen(kind) : 0;

    if (n == 0 || n > TR_LEDGER_KIND_MAX || !islower((unsigned char)kind[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)kind[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_')
            return false;
    }
    return true;
}

/* Insert the canonical payload and read the stored row back into *e. */
static enum tr_err
insert_row(struct tr_db_conn *c, int64_t tenant_id, const char *kind,
           int64_t draft_id, int64_t ticket_id, const char *canon,
           struct tr_ledger_entry *e, struct tr_error *err)
{
    char tid[24], did[24], kid[24];
    const char *params[5];
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    /* seq, prev_hash, created_at, format and hash are the trigger's to
     * fill (the app role may not even name them); RETURNING reads them
     * back in the same round trip. */
    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    params[0] = tid;
    params[1] = kind;
    params[2] = draft_id != 0 ? id_text(draft_id, did, sizeof(did)) : NULL;
    params[3] = ticket_id != 0 ? id_text(ticket_id, kid, sizeof(kid)) : NULL;
    params[4] = canon;
    rc = tr_db_exec(c, "INSERT INTO ledger AS l (tenant_id, kind, draft_id, "
                       "ticket_id, payload_text, payload) "
                       "VALUES ($1, $2, $3, $4, $5::text, $5::text::jsonb) "
                       "RETURNING " LEDGER_COLUMNS,
                    5, params, &res, err);
    if (rc != TR_OK)
        goto out;
    if (tr_db_res_n_rows(res) != 1) {
        rc = TR_ERROR(err, TR_E_INTERNAL, "ledger insert returned no row");
        goto out;
    }
    rc = tr_ledger__entry_read(res, 0, e, NULL, err);

out:
    tr_db_res_free(res);
    return rc;
}

enum tr_err
tr_ledger_append(struct tr_db_conn *c, int64_t tenant_id, const char *kind,
                 int64_t draft_id, int64_t ticket_id,
                 const char *payload_json, struct tr_ledger_entry *out,
                 struct tr_error *err)
{
    struct tr_ledger_entry e = {0};
    char *canon = NULL, mine[TR_LEDGER_HASH_LEN + 1];
    size_t canon_len;
    enum tr_err rc;

    if (!kind_ok(kind))
        return TR_ERROR(err, TR_E_INVAL, "invalid ledger entry kind \"%s\"",
                        kind != NULL ? kind : "");
    if (tenant_id <= 0 || draft_id < 0 || ticket_id < 0)
        return TR_ERROR(err, TR_E_INVAL, "invalid tenant, draft or ticket "
                        "id for the ledger");
    if (payload_json == NULL)
        return TR_ERROR(err, TR_E_INVAL, "ledger payload missing");

    rc = tr_ledger_json_canon(payload_json, strlen(payload_json), &canon,
                              &canon_len, err);
    if (rc != TR_OK)
        goto out;
    if (canon[0] != '{') {
        rc = TR_ERROR(err, TR_E_PARSE, "ledger payload must be a JSON "
                      "object");
        goto out;
    }

    rc = insert_row(c, tenant_id, kind, draft_id, ticket_id, canon, &e, err);
    if (rc != TR_OK)
        goto out;

    /* A server that hashes other bytes than we read back (another
     * encoding, another timestamp format) would make every later verify
     * cry tampering; refuse the first entry instead. */
    rc = tr_ledger_entry_hash(&e, mine, err);
    if (rc == TR_OK && strcmp(mine, e.hash) != 0)
        rc = TR_ERROR(err, TR_E_INTERNAL, "ledger entry %" PRId64 " of "
                      "tenant %" PRId64 ": the server's hash %s differs "
                      "from ours %s (is the database encoding UTF8?)",
                      e.seq, tenant_id, e.hash, mine);
    if (rc == TR_OK && out != NULL) {
        *out = e;
        memset(&e, 0, sizeof(e));
    }

out:
    tr_ledger_entry_cleanup(&e);
    free(canon);
    return rc;
}

enum tr_err
tr_ledger_append_json(struct tr_db_conn *c, int64_t tenant_id,
                      const char *kind, int64_t draft_id, int64_t ticket_id,
                      const struct cJSON *payload,
                      struct tr_ledger_entry *out, struct tr_error *err)
{
    char *text;
    enum tr_err rc;

    /* Checked here too, so a cJSON array gets the same message. */
    if (payload == NULL || !cJSON_IsObject(payload))
        return TR_ERROR(err, TR_E_PARSE, "ledger payload must be a JSON "
                        "object");
    text = cJSON_PrintUnformatted(payload);
    if (text == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory printing the "
                        "ledger payload");
    rc = tr_ledger_append(c, tenant_id, kind, draft_id, ticket_id, text,
                          out, err);
    cJSON_free(text);
    return rc;
}

enum tr_err
tr_ledger_get_by_draft(struct tr_db_conn *c, int64_t draft_id,
                       const char *kind, struct tr_ledger_entry *out,
                       struct tr_error *err)
{
    char did[24];
    const char *params[2];
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    /* Row-level security keeps the query inside the caller's tenant; the
     * latest entry wins when a draft was decided more than once. */
    memset(out, 0, sizeof(*out));
    snprintf(did, sizeof(did), "%" PRId64, draft_id);
    params[0] = did;
    params[1] = kind != NULL ? kind : TR_LEDGER_DECISION;
    rc = tr_db_exec(c, "SELECT " LEDGER_COLUMNS " FROM ledger l "
                       "WHERE l.draft_id = $1 AND l.kind = $2 "
                       "ORDER BY l.seq DESC LIMIT 1",
                    2, params, &res, err);
    if (rc != TR_OK)
        goto out;
    if (tr_db_res_n_rows(res) == 0) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no %s entry in the ledger for "
                      "draft %" PRId64, params[1], draft_id);
        goto out;
    }
    rc = tr_ledger__entry_read(res, 0, out, NULL, err);

out:
    tr_db_res_free(res);
    return rc;
}

/* Does `recorded` (maybe "sha256:"-prefixed, any case) name `actual`?
 * Neither is secret, so a plain comparison is fine. */
static bool
same_hash(const char *recorded, const char *actual)
{
    if (strncmp(recorded, "sha256:", 7) == 0)
        recorded += 7;
    return strlen(recorded) == TR_LEDGER_HASH_LEN
           && strcasecmp(recorded, actual) == 0;
}

enum tr_err
tr_ledger_model_input(const struct tr_ledger_entry *e, char **out,
                      size_t *out_len, char recorded[TR_LEDGER_HASH_LEN + 8],
                      char actual[TR_LEDGER_HASH_LEN + 1], bool *matches,
                      struct tr_error *err)
{
    char *hash = NULL;
    size_t hash_len;
    bool is_string;
    enum tr_err rc;

    recorded[0] = '\0';
    actual[0] = '\0';
    *matches = false;
    rc = tr_ledger_json_member(e->payload_text, e->payload_len,
                               "model_input", out, out_len, &is_string, err);
    if (rc == TR_E_NOTFOUND)
        return TR_ERROR(err, rc, "ledger entry %" PRId64 " records no "
                        "model_input", e->seq);
    if (rc != TR_OK)
        return rc;
    tr_ledger_sha256_hex(*out, *out_len, actual);

    /* A missing prompt_hash is not an error here: the caller reports
     * that it cannot be checked. */
    rc = tr_ledger_json_member(e->payload_text, e->payload_len,
                               "prompt_hash", &hash, &hash_len, &is_string,
                               err);
    if (rc == TR_E_NOTFOUND) {
        tr_error_clear(err);
        return TR_OK;
    }
    if (rc == TR_OK && is_string) {
        snprintf(recorded, TR_LEDGER_HASH_LEN + 8, "%s", hash);
        *matches = hash_len < TR_LEDGER_HASH_LEN + 8
                   && same_hash(recorded, actual);
    }
    free(hash);
    if (rc != TR_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

const char *
tr_ledger_fault_name(enum tr_ledger_fault f)
{
    switch (f) {
    case TR_LEDGER_INTACT: return "intact";
    case TR_LEDGER_ALTERED: return "altered";
    case TR_LEDGER_MISSING: return "missing";
    case TR_LEDGER_DUPLICATE: return "duplicate";
    case TR_LEDGER_LINK: return "broken_link";
    case TR_LEDGER_PAYLOAD: return "payload_mismatch";
    case TR_LEDGER_ANCHOR: return "anchor_mismatch";
    }
    return "unknown";
}
