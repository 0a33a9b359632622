/*
 * verify.c
 *      Walking a tenant's ledger and recomputing its chain.
 *
 * The database already refuses to change ledger rows, but whoever holds
 * the owner's rights can disable that trigger, or edit the files.  The
 * walk recomputes every hash here, in the client, from the stored
 * fields, so that a row changed, removed or moved is found whatever the
 * server's functions now say.  It reads through one cursor, hence one
 * snapshot, in batches, so a long ledger does not have to fit in memory
 * and appends made meanwhile do not disturb it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "ledger.h"
#include "ledger_int.h"

#define FETCH_ROWS "1000"

/*
 * The whole ledger of one tenant in chain order, through a cursor so it
 * is read in one snapshot.  Ties on seq (possible only once the unique
 * constraint is gone) come out by id, and both rows are then seen.  The
 * last column says whether the jsonb payload still equals the hashed
 * text; a function answers it, so text that is no longer JSON reads as
 * false instead of aborting the walk.
 */
#define WALK_SQL                                                         \
    "DECLARE ledger_walk NO SCROLL CURSOR FOR "                          \
    "SELECT " LEDGER_COLUMNS ", "                                        \
    "triage_ledger_payload_same(l.payload, l.payload_text) "             \
    "FROM ledger l WHERE l.tenant_id = $1 ORDER BY l.seq, l.id"

/* Where the walk stands between rows. */
struct walk {
    struct tr_ledger_report *rep;
    int64_t anchor_seq;
    const char *anchor_hash;
    bool anchor_seen;
    bool seen_format1;
    int64_t last_seq;
    char last_hash[TR_LEDGER_HASH_LEN + 1];
};

static bool
fault(struct walk *w, enum tr_ledger_fault f, int64_t seq, int64_t id,
      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Record the first fault; returns false so callers can stop at once. */
static bool
fault(struct walk *w, enum tr_ledger_fault f, int64_t seq, int64_t id,
      const char *fmt, ...)
{
    va_list ap;

    w->rep->fault = f;
    w->rep->fault_seq = seq;
    w->rep->fault_id = id;
    va_start(ap, fmt);
    vsnprintf(w->rep->reason, sizeof(w->rep->reason), fmt, ap);
    va_end(ap);
    return false;
}

/* The order and format of a row: numbering and where old rows may be. */
static bool
check_place(struct walk *w, const struct tr_ledger_entry *e)
{
    if (e->seq <= w->last_seq)
        return fault(w, TR_LEDGER_DUPLICATE, e->seq, e->id,
                     "seq %" PRId64 " appears more than once (row id %"
                     PRId64 ")", e->seq, e->id);
    if (e->seq != w->last_seq + 1)
        return fault(w, TR_LEDGER_MISSING, w->last_seq + 1, 0,
                     "seq %" PRId64 " is missing: the row after seq %"
                     PRId64 " is seq %" PRId64 " (row id %" PRId64 ")",
                     w->last_seq + 1, w->last_seq, e->seq, e->id);

    /* The old format hashes neither seq nor kind nor ids: it is only
     * believed where the migration left it, before every new row. */
    if (e->format == 0 && (w->seen_format1 || strcmp(e->kind, "legacy") != 0
                           || e->draft_id != 0 || e->ticket_id != 0))
        return fault(w, TR_LEDGER_ALTERED, e->seq, e->id,
                     "seq %" PRId64 " claims the old record format where "
                     "no such row can be", e->seq);
    if (e->format == 1)
        w->seen_format1 = true;
    return true;
}

/* Check one row; false when it is the first fault. */
static bool
check_row(struct walk *w, const struct tr_ledger_entry *e, bool fits,
          bool payload_same, const char *stored_hash)
{
    char mine[TR_LEDGER_HASH_LEN + 1];
    struct tr_error err = {0};

    if (!fits)
        return fault(w, TR_LEDGER_ALTERED, e->seq, e->id,
                     "seq %" PRId64 " has a field longer than any genuine "
                     "value", e->seq);
    if (!check_place(w, e))
        return false;
    if (!payload_same)
        return fault(w, TR_LEDGER_PAYLOAD, e->seq, e->id,
                     "seq %" PRId64 ": the payload column no longer says "
                     "what the hashed payload text says", e->seq);

    if (tr_ledger_entry_hash(e, mine, &err) != TR_OK
        || strcmp(mine, stored_hash) != 0)
        return fault(w, TR_LEDGER_ALTERED, e->seq, e->id,
                     "seq %" PRId64 " was altered: its fields hash to %.12s"
                     "..., the row says %.12s...", e->seq, mine,
                     stored_hash);
    if (strcmp(e->prev_hash, w->last_hash) != 0)
        return fault(w, TR_LEDGER_LINK, e->seq, e->id,
                     "seq %" PRId64 " does not chain to seq %" PRId64
                     ": that row was altered and re-hashed, or rows were "
                     "replaced or reordered", e->seq, w->last_seq);

    if (w->anchor_seq == e->seq) {
        w->anchor_seen = true;
        if (strcasecmp(w->anchor_hash, e->hash) != 0)
            return fault(w, TR_LEDGER_ANCHOR, e->seq, e->id,
                         "seq %" PRId64 " no longer has the recorded hash "
                         "%.12s...: the chain up to it was rewritten",
                         e->seq, w->anchor_hash);
    }
    w->last_seq = e->seq;
    snprintf(w->last_hash, sizeof(w->last_hash), "%s", e->hash);
    w->rep->n_rows++;
    w->rep->head_seq = e->seq;
    snprintf(w->rep->head_hash, sizeof(w->rep->head_hash), "%s", e->hash);
    return true;
}

/* Check every row of one fetched batch.  *more is false at a fault. */
static enum tr_err
check_batch(struct walk *w, const struct tr_db_res *res, bool *more,
            struct tr_error *err)
{
    struct tr_ledger_entry e;
    enum tr_err rc = TR_OK;
    bool fits;

    for (int i = 0; i < tr_db_res_n_rows(res) && *more; i++) {
        const char *same = tr_db_res_value(res, i, LEDGER_N_COLS);
        const char *hash = tr_db_res_value(res, i, LEDGER_COL_HASH);

        rc = tr_ledger__entry_read(res, i, &e, &fits, err);
        if (rc != TR_OK)
            return rc;
        *more = check_row(w, &e, fits, same != NULL && same[0] == 't',
                          hash != NULL ? hash : "");
        tr_ledger_entry_cleanup(&e);
    }
    return rc;
}

enum tr_err
tr_ledger_verify(struct tr_db *db, int64_t tenant_id, int64_t anchor_seq,
                 const char *anchor_hash, struct tr_ledger_report *rep,
                 struct tr_error *err)
{
    struct walk w = {rep, anchor_seq, anchor_hash, false, false, 0, ""};
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    char tid[24];
    const char *params[1] = {tid};
    bool more = true;
    enum tr_err rc;

    memset(rep, 0, sizeof(*rep));
    if (anchor_seq > 0 && anchor_hash == NULL)
        return TR_ERROR(err, TR_E_INVAL, "anchor seq given without hash");
    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;

    /* The trigger hashed UTF-8 bytes; text converted to another client
     * encoding on the way here would hash differently. */
    rc = tr_db_exec(c, "SET LOCAL client_encoding TO 'UTF8'", 0, NULL, NULL,
                    err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, WALK_SQL, 1, params, NULL, err);

    while (rc == TR_OK && more) {
        rc = tr_db_exec(c, "FETCH " FETCH_ROWS " FROM ledger_walk", 0, NULL,
                        &res, err);
        if (rc != TR_OK)
            break;
        if (tr_db_res_n_rows(res) == 0)
            more = false;
        else
            rc = check_batch(&w, res, &more, err);
        tr_db_res_free(res);
        res = NULL;
    }
    tr_db_tx_rollback(c);

    if (rc == TR_OK && rep->fault == TR_LEDGER_INTACT && anchor_seq > 0
        && !w.anchor_seen)
        fault(&w, TR_LEDGER_ANCHOR, anchor_seq, 0,
              "the ledger ends at seq %" PRId64 ", before the recorded "
              "head seq %" PRId64 ": rows were removed from its end",
              w.last_seq, anchor_seq);
    return rc;
}
