/*
 * store.c
 *      Routing configurations and trained router models in PostgreSQL
 *      (tables routing_configs and route_models of migration 006).
 *
 * Every statement runs in a transaction scoped to the tenant, so
 * row-level security keeps one tenant's configuration and models out of
 * another's reach even if an id were wrong.  Models travel as hex text
 * parameters and results (the bytea text form), which keeps this file on
 * the text-only query interface of the database layer at the price of
 * twice the model's size in memory while it is sent.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "policy_int.h"
#include "route.h"

/* First key of the advisory lock that serialises model versions of a
 * tenant (the second is the tenant id). */
#define MODEL_LOCK_KEY "1919906660"

/*
 * The name is resolved by a security-definer function (migration 003):
 * the app role cannot read other tenants' rows, and needs the id before
 * any tenant is set.
 */
enum tr_err
tr_policy_tenant_find(struct tr_db *db, const char *name,
                      int64_t *tenant_id, struct tr_error *err)
{
    const char *params[1] = {name};
    struct tr_db_conn *c;
    char buf[32];
    bool is_null = true;
    enum tr_err rc;

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "SELECT triage_tenant_id($1)", 1, params,
                           buf, sizeof(buf), &is_null, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;
    if (is_null)
        return TR_ERROR(err, TR_E_TENANT, "tenant \"%s\" does not exist",
                        name);
    *tenant_id = strtoll(buf, NULL, 10);
    return TR_OK;
}

/* One row per tenant: a new text replaces the old one in place. */
enum tr_err
tr_policy_config_store(struct tr_db *db, int64_t tenant_id,
                       const struct tr_policy_config *cfg,
                       struct tr_error *err)
{
    char tid[24];
    const char *params[2] = {tid, cfg->text};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "INSERT INTO routing_configs (tenant_id, config) "
                       "VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE "
                       "SET config = EXCLUDED.config, updated_at = now()",
                    2, params, NULL, err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }

    return tr_db_tx_commit(c, err);
}

/*
 * The stored text is parsed again rather than trusted: it was valid when
 * stored, but a newer service may validate more strictly, and then the
 * operator should learn which field to fix.
 */
enum tr_err
tr_policy_config_fetch(struct tr_db *db, int64_t tenant_id,
                       struct tr_policy_config **out, struct tr_error *err)
{
    char tid[24];
    const char *params[1] = {tid};
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    const char *text;
    enum tr_err rc;

    *out = NULL;
    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT config FROM routing_configs "
                       "WHERE tenant_id = $1", 1, params, &res, err);
    tr_db_tx_rollback(c);
    if (rc != TR_OK)
        return rc;

    text = tr_db_res_value(res, 0, 0);
    if (text == NULL)
        rc = TR_ERROR(err, TR_E_NOTFOUND, "tenant %" PRId64 " has no "
                      "routing configuration", tenant_id);
    else
        rc = tr_policy_config_parse(text, strlen(text), out, err);
    tr_db_res_free(res);
    return rc;
}

/* The model's labels as a JSON array. */
static char *
labels_json(const struct tr_route_model *model)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    size_t n = tr_route_model_n_classes(model);

    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *v = cJSON_CreateString(tr_route_model_label(model, i));

        if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            goto out;
        }
    }

    if (arr != NULL)
        text = cJSON_PrintUnformatted(arr);

out:
    cJSON_Delete(arr);
    return text;
}

/* "\x" and two hex digits per byte: the text form of a bytea. */
static char *
to_hex(const unsigned char *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 3);

    if (s == NULL)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        s[2 + 2 * i] = digits[buf[i] >> 4];
        s[3 + 2 * i] = digits[buf[i] & 0xf];
    }

    s[2 + 2 * len] = '\0';
    return s;
}

/* The value of one lower-case hex digit, -1 for anything else. */
static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode the lower-case hex of encode(.., 'hex'); NULL if malformed. */
static unsigned char *
from_hex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *buf;

    if (n % 2 != 0 || (buf = malloc(n / 2 + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(buf);
            return NULL;
        }

        buf[i] = (unsigned char)(hi << 4 | lo);
    }

    *len = n / 2;
    return buf;
}

/* The statements of tr_policy_model_store(), inside its transaction. */
static enum tr_err
insert_model(struct tr_db_conn *c, const char *const *params,
             int *version, struct tr_error *err)
{
    char buf[24];
    enum tr_err rc;

    /* One writer per tenant, so two trainings never pick one version. */
    rc = tr_db_exec(c, "SELECT pg_advisory_xact_lock(" MODEL_LOCK_KEY ", "
                       "($1::bigint % 2147483647)::int)", 1, params, NULL,
                    err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE route_models SET active = false "
                           "WHERE tenant_id = $1 AND active", 1, params,
                        NULL, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "INSERT INTO route_models (tenant_id, "
                              "version, model, labels, metrics, active) "
                              "SELECT $1, coalesce(max(version), 0) + 1, "
                              "$2::bytea, $3::jsonb, $4::jsonb, true "
                              "FROM route_models WHERE tenant_id = $1 "
                              "RETURNING version",
                           4, params, buf, sizeof(buf), NULL, err);
    if (rc == TR_OK && version != NULL)
        *version = atoi(buf);
    return rc;
}

/*
 * The model is serialised and hex-encoded before the transaction opens,
 * so the tenant's lock is held only for the statements themselves.
 */
enum tr_err
tr_policy_model_store(struct tr_db *db, int64_t tenant_id,
                      const struct tr_route_model *model,
                      const char *metrics_json, int *version,
                      struct tr_error *err)
{
    unsigned char *bytes = NULL;
    size_t n_bytes = 0;
    char tid[24], *hex = NULL, *labels = NULL;
    const char *params[4];
    struct tr_db_conn *c;
    enum tr_err rc;

    rc = tr_route_model_save(model, &bytes, &n_bytes, err);
    if (rc != TR_OK)
        return rc;
    hex = to_hex(bytes, n_bytes);
    labels = labels_json(model);
    if (hex == NULL || labels == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory storing a model of "
                      "%zu bytes", n_bytes);
        goto out;
    }

    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    params[0] = tid;
    params[1] = hex;
    params[2] = labels;
    params[3] = metrics_json != NULL ? metrics_json : "{}";
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        goto out;
    rc = insert_model(c, params, version, err);
    if (rc != TR_OK)
        tr_db_tx_rollback(c);
    else
        rc = tr_db_tx_commit(c, err);

out:
    free(bytes);
    free(hex);
    free(labels);
    return rc;
}

/* Only the active version is read; older ones stay for comparison. */
enum tr_err
tr_policy_model_fetch(struct tr_db *db, int64_t tenant_id,
                      struct tr_route_model **out, int *version,
                      struct tr_error *err)
{
    char tid[24];
    const char *params[1] = {tid};
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    unsigned char *bytes = NULL;
    size_t n_bytes = 0;
    const char *hex;
    enum tr_err rc;

    *out = NULL;
    snprintf(tid, sizeof(tid), "%" PRId64, tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT version, encode(model, 'hex') "
                       "FROM route_models WHERE tenant_id = $1 AND active",
                    1, params, &res, err);
    tr_db_tx_rollback(c);
    if (rc != TR_OK)
        return rc;

    hex = tr_db_res_value(res, 0, 1);
    if (hex == NULL) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "tenant %" PRId64 " has no "
                      "trained routing model; run `triage route train`",
                      tenant_id);
        goto out;
    }

    bytes = from_hex(hex, &n_bytes);
    if (bytes == NULL) {
        rc = TR_ERROR(err, TR_E_PARSE, "stored routing model of tenant %"
                      PRId64 " is not hex text", tenant_id);
        goto out;
    }

    rc = tr_route_model_load(bytes, n_bytes, out, err);
    if (rc == TR_OK && version != NULL)
        *version = atoi(tr_db_res_value(res, 0, 0));

out:
    free(bytes);
    tr_db_res_free(res);
    return rc;
}
