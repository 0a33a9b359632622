/*
 * test_llm_fx.h
 *      Test fixture around the fake model provider (tests/fakes/
 *      fake_model): start it on an ephemeral loopback port, drive its
 *      control API, read what it recorded, stop it by pid.
 *
 * Used by the llm tests and the OpenAI embedder tests.  The retry
 * policy in the fixture records its waits instead of sleeping.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_TEST_LLM_FX_H
#define TR_TEST_LLM_FX_H

#include <sys/types.h>

#include "httpc.h"

/* The key the fake is started with. */
#define FM_KEY "sk-fake-0123456789-test-key"

struct fm_fx {
    pid_t pid;
    int in_fd;                  /* the fake's stdin; closing stops it */
    int port;
    char base[64];              /* http://127.0.0.1:PORT */
    char record[128];           /* the fake's request record file */
    struct tr_httpc *hc;        /* for the control API */
    struct tr_httpc_policy policy;  /* OpenAI preset, recorded sleeps */
    double waits[64];
    int n_waits;
};

/* Start the fake (asserting); `dim` is its default embedding size. */
void fm_start(struct fm_fx *fx, int dim);

/* Stop the fake by pid, remove the record, release the fixture. */
void fm_stop(struct fm_fx *fx);

/* POST `json` to /__fake/<what> (asserting a 200). */
void fm_control(struct fm_fx *fx, const char *what, const char *json);

/* The record file's content; the caller frees it. */
char *fm_record(const struct fm_fx *fx);

/* Number of requests the fake saw (from its request log). */
int fm_n_requests(struct fm_fx *fx);

/* Occurrences of `needle` in `s`. */
int fm_count(const char *s, const char *needle);

#endif /* TR_TEST_LLM_FX_H */
