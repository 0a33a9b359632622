/*
 * policy_cache.c
 *      Each tenant's routing configuration, classifier and redactor,
 *      loaded once and shared by the runs of every worker until they
 *      change.
 *
 * Parsing a configuration compiles its patterns, and a classifier is
 * megabytes of weights: doing either for every ticket cost more than the
 * rest of routing.  A run reads, in the transaction that loads its
 * ticket, a digest of the stored configuration and the active model's
 * version; an entry made from the same pair is reused as it is, any
 * other pair loads a new entry that replaces it.  So a change of either
 * is seen by the very next ticket, and a busy tenant costs no query
 * beyond that one.
 *
 * The list is kept in order of last use, and at most
 * TR_PIPELINE_POLICY_CACHE_MAX tenants stay in it: a classifier can
 * weigh tens of megabytes, and a process serving many tenants must not
 * keep every one of them.  A tenant pushed out is loaded again by its
 * next ticket.
 *
 * Entries are counted references: a run holds its entry until it ends,
 * so a replacement never frees what another thread still routes with.
 * Configurations, models and redactors are read-only once made, and
 * safe to use from many threads at once.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"
#include "route.h"

struct tr_pipeline__policy {
    int64_t tenant_id;
    char config_digest[40];     /* "" when the tenant has none */
    int model_version;          /* 0 when it has no active model */
    struct tr_policy_config *cfg;
    struct tr_route_model *model;   /* NULL: none */
    struct tr_redact *redact;   /* NULL: the built-in kinds only */
    int refs;                   /* under the pipeline's cache_mu */
    struct tr_pipeline__policy *next;
};

static void
policy_free(struct tr_pipeline__policy *pol)
{
    tr_policy_config_free(pol->cfg);
    tr_route_model_free(pol->model);
    tr_redact_free(pol->redact);
    free(pol);
}

/* Drop one reference; the caller holds cache_mu. */
static void
unref_locked(struct tr_pipeline__policy *pol)
{
    if (--pol->refs == 0)
        policy_free(pol);
}

/*
 * Load a new entry for the digest and version read with the ticket.  The
 * stored rows may have changed since that read; the entry then carries
 * newer contents under the older stamps, and the next run, reading the
 * new stamps, loads again.
 */
static enum tr_err
policy_load(struct tr_db *db, int64_t tenant_id, const char *digest,
            struct tr_pipeline__policy **out, struct tr_error *err)
{
    struct tr_pipeline__policy *pol = calloc(1, sizeof(*pol));
    const struct tr_redact_pattern *pats;
    size_t n;
    enum tr_err rc;

    if (pol == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    pol->tenant_id = tenant_id;
    snprintf(pol->config_digest, sizeof(pol->config_digest), "%s", digest);

    rc = tr_policy_config_fetch(db, tenant_id, &pol->cfg, err);
    if (rc == TR_E_NOTFOUND)
        rc = tr_policy_config_default(&pol->cfg, err);
    if (rc == TR_OK) {
        rc = tr_policy_model_fetch(db, tenant_id, &pol->model,
                                   &pol->model_version, err);
        if (rc == TR_E_NOTFOUND) {
            pol->model_version = 0;
            rc = TR_OK;
        }
    }
    if (rc == TR_OK) {
        n = tr_policy_config_redact_patterns(pol->cfg, &pats);
        if (n > 0)
            rc = tr_redact_new(pats, n, &pol->redact, err);
    }
    if (rc != TR_OK) {
        policy_free(pol);
        return rc;
    }
    *out = pol;
    return TR_OK;
}

/* Drop the entries used least recently beyond the cap; holds cache_mu. */
static void
trim_locked(struct tr_pipeline *p)
{
    struct tr_pipeline__policy **at = &p->cache, *pol;
    size_t n = 0;

    while (*at != NULL && ++n <= TR_PIPELINE_POLICY_CACHE_MAX)
        at = &(*at)->next;
    while ((pol = *at) != NULL) {
        *at = pol->next;
        unref_locked(pol);
    }
}

enum tr_err
tr_pipeline__policy_get(struct tr_pipeline *p, struct tr_db *db,
                        int64_t tenant_id, const char *digest,
                        int model_version,
                        struct tr_pipeline__policy **out,
                        struct tr_error *err)
{
    struct tr_pipeline__policy *pol, **at, *fresh = NULL;
    enum tr_err rc;

    pthread_mutex_lock(&p->cache_mu);
    for (at = &p->cache; *at != NULL; at = &(*at)->next) {
        pol = *at;
        if (pol->tenant_id == tenant_id &&
            strcmp(pol->config_digest, digest) == 0 &&
            pol->model_version == model_version) {
            *at = pol->next;            /* to the front: used last */
            pol->next = p->cache;
            p->cache = pol;
            pol->refs++;
            pthread_mutex_unlock(&p->cache_mu);
            *out = pol;
            return TR_OK;
        }
    }
    pthread_mutex_unlock(&p->cache_mu);

    /* Two workers may load the same tenant at once; the later entry
     * wins and the earlier one lives on only while its run uses it. */
    rc = policy_load(db, tenant_id, digest, &fresh, err);
    if (rc != TR_OK)
        return rc;
    fresh->model_version = model_version;

    pthread_mutex_lock(&p->cache_mu);
    for (at = &p->cache; *at != NULL; at = &(*at)->next)
        if ((*at)->tenant_id == tenant_id) {
            pol = *at;
            *at = pol->next;
            unref_locked(pol);
            break;
        }
    fresh->refs = 2;            /* the cache's and the caller's */
    fresh->next = p->cache;
    p->cache = fresh;
    trim_locked(p);
    pthread_mutex_unlock(&p->cache_mu);
    *out = fresh;
    return TR_OK;
}

void
tr_pipeline__policy_release(struct tr_pipeline *p,
                            struct tr_pipeline__policy *pol)
{
    if (pol == NULL)
        return;
    pthread_mutex_lock(&p->cache_mu);
    unref_locked(pol);
    pthread_mutex_unlock(&p->cache_mu);
}

size_t
tr_pipeline_cached_tenants(struct tr_pipeline *p)
{
    size_t n = 0;

    pthread_mutex_lock(&p->cache_mu);
    for (struct tr_pipeline__policy *pol = p->cache; pol != NULL;
         pol = pol->next)
        n++;
    pthread_mutex_unlock(&p->cache_mu);
    return n;
}

void
tr_pipeline__policy_cache_free(struct tr_pipeline *p)
{
    struct tr_pipeline__policy *pol, *next;

    for (pol = p->cache; pol != NULL; pol = next) {
        next = pol->next;
        unref_locked(pol);
    }
    p->cache = NULL;
}

const struct tr_policy_config *
tr_pipeline__policy_config(const struct tr_pipeline__policy *pol)
{
    return pol->cfg;
}

const struct tr_route_model *
tr_pipeline__policy_model(const struct tr_pipeline__policy *pol)
{
    return pol->model;
}

const struct tr_redact *
tr_pipeline__policy_redactor(const struct tr_pipeline__policy *pol)
{
    return pol->redact;
}
