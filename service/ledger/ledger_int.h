/*
 * ledger_int.h
 *      What the files of the ledger module share: the column list every
 *      ledger query selects, in the order tr_ledger__entry_read() expects.
 *
 * created_at is rendered by the server exactly as the insert trigger
 * rendered it into the hashed record, so the client never formats a
 * timestamp itself.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LEDGER_INT_H
#define TR_LEDGER_INT_H

#include <stdbool.h>

#include "ledger.h"

struct tr_db_res;

/* The ledger table must be aliased "l" in the query. */
#define LEDGER_COLUMNS                                                   \
    "l.id, l.tenant_id, l.seq, coalesce(l.draft_id, 0), "                \
    "coalesce(l.ticket_id, 0), l.format, l.kind, "                       \
    "to_char(l.created_at AT TIME ZONE 'UTC', "                          \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(l.prev_hash, ''), "   \
    "l.hash, l.payload_text"

enum {
    LEDGER_COL_ID,
    LEDGER_COL_TENANT,
    LEDGER_COL_SEQ,
    LEDGER_COL_DRAFT,
    LEDGER_COL_TICKET,
    LEDGER_COL_FORMAT,
    LEDGER_COL_KIND,
    LEDGER_COL_CREATED,
    LEDGER_COL_PREV,
    LEDGER_COL_HASH,
    LEDGER_COL_PAYLOAD,
    LEDGER_N_COLS
};

/*
 * Fill `e` from row `row` of a result of LEDGER_COLUMNS (the payload is
 * copied; release with tr_ledger_entry_cleanup()).  `fits` (may be NULL)
 * is set false when a fixed-size field was too long to be genuine; the
 * field is then left empty.  TR_E_NOMEM only.
 */
enum tr_err tr_ledger__entry_read(const struct tr_db_res *res, int row,
                                  struct tr_ledger_entry *e, bool *fits,
                                  struct tr_error *err);

#endif /* TR_LEDGER_INT_H */
