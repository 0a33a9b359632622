/*
 * test_zendesk_ingest_fx.h
 *      Shared fixture of the Zendesk service tests: the fake Zendesk as a
 *      child process, its control API, tenants and counts in the test
 *      database, and a signed webhook poster.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TEST_ZENDESK_INGEST_FX_H
#define TEST_ZENDESK_INGEST_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "httpc.h"
#include "pgtest.h"

struct zfake {
    pid_t pid;
    int in_fd;                  /* its stdin; closing it stops it */
    int port;
    char base[64];
};

/* Start the fake seeded from tests/fakes/seed.json; stop it by pid. */
void zfx_fake_start(struct zfake *f);
void zfx_fake_stop(struct zfake *f);

/* Call a control route; returns the body (caller frees). */
char *zfx_control(struct zfake *f, const char *method, const char *path,
                  const char *json);

/* Add a tenant whose Zendesk is the fake (base NULL: no settings). */
int64_t zfx_tenant_add(struct tr_pgtest *t, const char *name,
                       const char *secret, const char *base,
                       const char *reply_mode);

/* First value of an owner query, as a number. */
long long zfx_count(struct tr_pgtest *t, const char *sql);

/*
 * POST `body` to `url` signed with `secret` (NULL: unsigned) and the
 * content type `ctype`; returns the status, response body in `out`.
 */
int zfx_post(const char *url, const char *secret, const char *ctype,
             const char *body, char *out, size_t out_len);

/* A Zendesk policy whose waits are only recorded (into *slept). */
void zfx_policy(struct tr_httpc_policy *p, double *slept);

/* Count occurrences of `needle` in `s`. */
int zfx_count_of(const char *s, const char *needle);

#endif /* TEST_ZENDESK_INGEST_FX_H */
