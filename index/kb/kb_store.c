/*
 * kb_store.c
 *      Index versions in PostgreSQL: blobs in parts, chunks in batches,
 *      the live switch, rollback and the live version lookup.
 *
 * Blobs travel as text parameters in bytea's hex form ("\x0a1b..."),
 * since the database layer passes text only; chunks travel as a JSON
 * array that jsonb_to_recordset() spreads into rows, 500 per statement.
 * Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_int.h"

/* Chunks inserted per statement. */
#define CHUNK_BATCH 500

/* Encode `len` bytes as bytea hex input into a new string. */
static char *
hex_encode(const unsigned char *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 3), *q = s;

    if (s == NULL)
        return NULL;
    *q++ = '\\';
    *q++ = 'x';
    for (size_t i = 0; i < len; i++) {
        *q++ = digits[p[i] >> 4];
        *q++ = digits[p[i] & 15];
    }
    *q = '\0';
    return s;
}

enum tr_err
tr_kb__store_blobs(struct tr_db_conn *c, int64_t tenant_id, int64_t vid,
                   const struct tr_kb__blob *b, size_t n,
                   const struct tr_kb_reindex_opts *o, struct tr_error *err)
{
    char tenant[24], ver[24], part[16];
    size_t total = 0, done = 0;
    enum tr_err rc = TR_OK;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    snprintf(ver, sizeof(ver), "%lld", (long long) vid);
    for (size_t i = 0; i < n; i++)
        total += b[i].len;

    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        size_t off = 0;
        int k = 0;

        /* Even an empty blob gets its part 0, so that it is known. */
        do {
            size_t len = b[i].len - off < TR_KB_BLOB_PART
                         ? b[i].len - off : TR_KB_BLOB_PART;
            char *hex = hex_encode((const unsigned char *) b[i].data + off,
                                   len);
            const char *p[5] = {tenant, ver, b[i].name, part, hex};

            if (hex == NULL)
                return TR_ERROR(err, TR_E_NOMEM, "out of memory");
            snprintf(part, sizeof(part), "%d", k++);
            rc = tr_db_exec(c, "INSERT INTO index_blobs (tenant_id, "
                               "version_id, name, part, data) VALUES ($1, "
                               "$2, $3, $4, $5::bytea)", 5, p, NULL, err);
            free(hex);
            off += len;
            done += len;
            if (o != NULL && o->progress != NULL)
                o->progress(o->progress_ud, "store", done, total);
        } while (rc == TR_OK && off < b[i].len);
    }
    return rc;
}

/* Insert chunks [from, to) as one statement. */
static enum tr_err
store_batch(struct tr_db_conn *c, const char *tenant, const char *ver,
            const struct tr_kb__chunk *ch, size_t from, size_t to,
            struct tr_error *err)
{
    struct tr_buf js;
    const char *p[3] = {tenant, ver, NULL};
    enum tr_err rc = TR_OK;

    tr_buf_init(&js, (size_t) 1 << 30);
    rc = tr_buf_puts(&js, "[");
    for (size_t i = from; i < to && rc == TR_OK; i++) {
        tr_buf_printf(&js, "%s{\"c\":%zu,\"a\":%lld,\"h\":", i > from ? ","
                      : "", i, (long long) ch[i].article_id);
        tr_buf_json_str(&js, ch[i].heading_path);
        tr_buf_puts(&js, ",\"t\":");
        tr_buf_json_str(&js, ch[i].text);
        rc = tr_buf_printf(&js, ",\"s\":%zu,\"e\":%zu}", ch[i].start,
                           ch[i].end);
    }
    if (rc == TR_OK)
        rc = tr_buf_puts(&js, "]");
    if (rc != TR_OK) {
        tr_buf_cleanup(&js);
        return TR_ERROR(err, rc, "could not encode chunks");
    }

    p[2] = js.data;
    rc = tr_db_exec(c, "INSERT INTO chunks (tenant_id, version_id, "
                       "chunk_id, article_id, heading_path, text, start_off, "
                       "end_off) SELECT $1, $2, x.c, x.a, x.h, x.t, x.s, x.e "
                       "FROM jsonb_to_recordset($3::jsonb) AS x(c bigint, "
                       "a bigint, h text, t text, s integer, e integer)",
                    3, p, NULL, err);
    tr_buf_cleanup(&js);
    return rc;
}

enum tr_err
tr_kb__store_chunks(struct tr_db_conn *c, int64_t tenant_id, int64_t vid,
                    const struct tr_kb__chunk *ch, size_t n,
                    struct tr_error *err)
{
    char tenant[24], ver[24];
    enum tr_err rc = TR_OK;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    snprintf(ver, sizeof(ver), "%lld", (long long) vid);
    for (size_t i = 0; i < n && rc == TR_OK; i += CHUNK_BATCH)
        rc = store_batch(c, tenant, ver, ch, i,
                         n - i < CHUNK_BATCH ? n : i + CHUNK_BATCH, err);
    return rc;
}

enum tr_err
tr_kb__switch_tx(struct tr_db_conn *c, int64_t tenant_id, int64_t vid,
                 struct tr_error *err)
{
    char tenant[24], ver[24], st[16];
    const char *p[2] = {tenant, ver};
    enum tr_err rc;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    snprintf(ver, sizeof(ver), "%lld", (long long) vid);

    /* Lock the row so that two switches of one tenant queue up. */
    rc = tr_db_query_value(c, "SELECT status FROM index_versions WHERE "
                              "tenant_id = $1 AND id = $2 FOR UPDATE", 2, p,
                           st, sizeof(st), NULL, err);
    if (rc == TR_E_NOTFOUND)
        return TR_ERROR(err, rc, "no index version %s", ver);
    if (rc != TR_OK)
        return rc;
    if (strcmp(st, "live") == 0)
        return TR_OK;
    if (strcmp(st, "ready") != 0 && strcmp(st, "retired") != 0)
        return TR_ERROR(err, TR_E_CONFLICT, "index version %s is %s, not "
                        "ready", ver, st);

    rc = tr_db_exec(c, "UPDATE index_versions SET status = 'ready' WHERE "
                       "tenant_id = $1 AND status = 'live'", 1, p, NULL,
                    err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE index_versions SET status = 'live', "
                           "live_at = now() WHERE tenant_id = $1 AND "
                           "id = $2", 2, p, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT pg_notify('kb_live', $1)", 1, p, NULL,
                        err);
    return rc;
}

enum tr_err
tr_kb_version_switch(struct tr_db *db, int64_t tenant_id, int64_t version_id,
                     struct tr_error *err)
{
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_kb__switch_tx(c, tenant_id, version_id, err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, err);
}

enum tr_err
tr_kb_rollback(struct tr_db *db, int64_t tenant_id, int64_t *version_id,
               struct tr_error *err)
{
    char tenant[24], prev[24];
    const char *p[2] = {tenant, prev};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;

    /* The newest ready version older than the live one. */
    rc = tr_db_query_value(c, "SELECT r.id FROM index_versions r, "
                              "index_versions l WHERE r.tenant_id = $1 AND "
                              "l.tenant_id = $1 AND l.status = 'live' AND "
                              "r.status = 'ready' AND r.id < l.id ORDER BY "
                              "r.id DESC LIMIT 1 FOR UPDATE", 1, p, prev,
                           sizeof(prev), NULL, err);
    if (rc == TR_E_NOTFOUND)
        TR_ERROR(err, rc, "no earlier ready index version to roll back to");
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE index_versions SET status = 'retired' "
                           "WHERE tenant_id = $1 AND status = 'live'", 1, p,
                        NULL, err);
    if (rc == TR_OK)
        rc = tr_kb__switch_tx(c, tenant_id, strtoll(prev, NULL, 10), err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    rc = tr_db_tx_commit(c, err);
    if (rc == TR_OK && version_id != NULL)
        *version_id = strtoll(prev, NULL, 10);
    return rc;
}

enum tr_err
tr_kb_live_version(struct tr_db *db, int64_t tenant_id, int64_t *version_id,
                   struct tr_error *err)
{
    char buf[24];
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "SELECT id FROM index_versions WHERE "
                              "status = 'live'", 0, NULL, buf, sizeof(buf),
                           NULL, err);
    tr_db_tx_rollback(c);
    *version_id = 0;
    if (rc == TR_E_NOTFOUND)
        return TR_OK;
    if (rc == TR_OK)
        *version_id = strtoll(buf, NULL, 10);
    return rc;
}
