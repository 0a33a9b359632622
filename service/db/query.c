/*
 * query.c
 *      Parameterised statements, their results, and the mapping of
 *      PostgreSQL errors to tr_err codes.
 *
 * Every statement goes through PQexecParams with text parameters, so a
 * value never becomes SQL.  A struct tr_db_res is a PGresult seen through
 * an opaque pointer.  The SQLSTATE of a failure is kept in
 * tr_error.foreign.  Called by the thread that holds the connection.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* Which tr_err a SQLSTATE becomes; see tr_db_exec() in db.h. */
static enum tr_err
map_sqlstate(const char *state)
{
    if (state == NULL || state[0] == '\0')
        return TR_E_DB_QUERY;
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
        return TR_E_DB_CONNECT;
    if (strcmp(state, "23505") == 0)
        return TR_E_EXISTS;
    if (strcmp(state, "42501") == 0)
        return TR_E_PERM;
    if (strcmp(state, "57014") == 0)
        return TR_E_TIMEOUT;
    return TR_E_DB_QUERY;
}

enum tr_err
tr_db__fail(struct tr_db_conn *c, PGconn *pg, const PGresult *res,
            const char *what, struct tr_error *err)
{
    const char *state = NULL, *msg = NULL;
    char text[400];
    enum tr_err code;

    if (res != NULL) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    }
    if (msg == NULL)
        msg = PQerrorMessage(pg);
    snprintf(text, sizeof(text), "%s", msg);
    text[strcspn(text, "\n")] = '\0';

    /* A lost server shows as CONNECTION_BAD, often without a SQLSTATE. */
    code = map_sqlstate(state);
    if (PQstatus(pg) != CONNECTION_OK) {
        code = TR_E_DB_CONNECT;
        if (c != NULL)
            c->broken = true;
    }
    TR_ERROR(err, code, "%s: %s", what, text);
    tr_error_foreign(err, state);
    return code;
}

enum tr_err
tr_db__simple(PGconn *pg, const char *sql, struct tr_error *err)
{
    PGresult *res = PQexec(pg, sql);
    enum tr_err rc = TR_OK;
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = tr_db__fail(NULL, pg, res, "statement failed", err);
    PQclear(res);
    return rc;
}

void
tr_db__conninfo_quote(char *buf, size_t buf_len, const char *value)
{
    size_t n = strlen(buf);

    if (n + 3 > buf_len)
        return;
    buf[n++] = '\'';
    for (; *value != '\0' && n + 3 < buf_len; value++) {
        if (*value == '\'' || *value == '\\')
            buf[n++] = '\\';
        buf[n++] = *value;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
}

enum tr_err
tr_db_exec(struct tr_db_conn *c, const char *sql, int n_params,
           const char *const *params, struct tr_db_res **res,
           struct tr_error *err)
{
    PGresult *r;
    ExecStatusType st;
    enum tr_err rc;

    if (res != NULL)
        *res = NULL;
    if (c->broken)
        return TR_ERROR(err, TR_E_DB_CONNECT,
                        "the database connection was lost");

    r = PQexecParams(c->pg, sql, n_params, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = tr_db__fail(c, c->pg, r, "query failed", err);
        PQclear(r);
        return rc;
    }
    if (res != NULL)
        *res = (struct tr_db_res *) r;
    else
        PQclear(r);
    return TR_OK;
}

enum tr_err
tr_db_query_value(struct tr_db_conn *c, const char *sql, int n_params,
                  const char *const *params, char *buf, size_t buf_len,
                  bool *is_null, struct tr_error *err)
{
    struct tr_db_res *res;
    const char *v;
    enum tr_err rc;

    rc = tr_db_exec(c, sql, n_params, params, &res, err);
    if (rc != TR_OK)
        return rc;

    if (tr_db_res_n_rows(res) < 1 || tr_db_res_n_cols(res) < 1) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "query returned no row");
        goto out;
    }
    v = tr_db_res_value(res, 0, 0);
    if (is_null != NULL)
        *is_null = v == NULL;
    if (v == NULL)
        v = "";
    if (strlen(v) >= buf_len) {
        rc = TR_ERROR(err, TR_E_TOOBIG, "value of %zu bytes does not fit",
                      strlen(v));
        goto out;
    }
    memcpy(buf, v, strlen(v) + 1);

out:
    tr_db_res_free(res);
    return rc;
}

int
tr_db_res_n_rows(const struct tr_db_res *r)
{
    return r != NULL ? PQntuples((const PGresult *) r) : 0;
}

int
tr_db_res_n_cols(const struct tr_db_res *r)
{
    return r != NULL ? PQnfields((const PGresult *) r) : 0;
}

const char *
tr_db_res_value(const struct tr_db_res *r, int row, int col)
{
    const PGresult *p = (const PGresult *) r;

    if (p == NULL || row < 0 || col < 0 || row >= PQntuples(p) ||
        col >= PQnfields(p) || PQgetisnull(p, row, col))
        return NULL;
    return PQgetvalue(p, row, col);
}

long long
tr_db_res_n_affected(const struct tr_db_res *r)
{
    const char *n;

    if (r == NULL)
        return 0;
    n = PQcmdTuples((PGresult *) r);
    return n[0] != '\0' ? atoll(n) : 0;
}

void
tr_db_res_free(struct tr_db_res *r)
{
    PQclear((PGresult *) r);
}
