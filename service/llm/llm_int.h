/*
 * llm_int.h
 *      Layouts and helpers shared by the files of the llm module only.
 *
 * prompt.c owns the words sent to a model and the reading of its JSON
 * answer; openai.c and anthropic.c own each API's envelope; llm.c owns
 * the provider object, its HTTP client pool, the call and its log line.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_LLM_INT_H
#define TR_LLM_INT_H

#include <pthread.h>

#include <cjson/cJSON.h>

#include "llm.h"

/* Idle HTTP clients kept per provider. */
#define TR_LLM_POOL 4

struct tr_llm {
    struct tr_llm_conf conf;    /* strings point at the copies below */
    char *base_url;
    char *api_key;
    char *model;
    char *url;                  /* base_url and the API's path */
    struct tr_httpc_policy policy;
    pthread_mutex_t lock;       /* guards idle and n_idle */
    struct tr_httpc *idle[TR_LLM_POOL];
    int n_idle;
};

/*
 * Check `in`: ticket text, 1 .. TR_LLM_PASSAGES_MAX passages with
 * non-empty unique ids and text.  TR_E_INVAL naming the fault.
 */
enum tr_err tr_llm__input_check(const struct tr_llm_input *in,
                                struct tr_error *err);

/* The system prompt for `in`; the caller frees it.  NULL: no memory. */
char *tr_llm__prompt_system(const struct tr_llm_input *in);

/* The user message (ticket and passages); the caller frees it. */
char *tr_llm__prompt_user(const struct tr_llm_input *in);

/* The JSON schema of the answer, citations limited to the given ids. */
cJSON *tr_llm__schema(const struct tr_llm_input *in);

/*
 * Read the model's answer text `text` (a JSON object, possibly inside a
 * ``` fence or after a lead-in) into out->sentences, checking citations
 * against `in`.  TR_E_MODEL with err->foreign set on any fault.
 */
enum tr_err tr_llm__answer_parse(const char *text,
                                 const struct tr_llm_input *in,
                                 struct tr_llm_result *out,
                                 struct tr_error *err);

/* Set `err` to TR_E_MODEL with `reason` as its foreign code. */
enum tr_err tr_llm__model_error(struct tr_error *err, const char *reason,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print `o` into `out` (appended); cJSON_Delete()s `o`. */
enum tr_err tr_llm__print(cJSON *o, struct tr_buf *out,
                          struct tr_error *err);

/* Copy `s` (NULL gives "") into the result's arena; NULL: no memory. */
const char *tr_llm__keep(struct tr_llm_result *out, const char *s);

enum tr_err tr_llm__openai_build(const struct tr_llm_conf *conf,
                                 const struct tr_llm_input *in,
                                 struct tr_buf *out, struct tr_error *err);
enum tr_err tr_llm__openai_parse(const char *body, size_t len,
                                 const struct tr_llm_input *in,
                                 struct tr_llm_result *out,
                                 struct tr_error *err);
enum tr_err tr_llm__anthropic_build(const struct tr_llm_conf *conf,
                                    const struct tr_llm_input *in,
                                    struct tr_buf *out,
                                    struct tr_error *err);
enum tr_err tr_llm__anthropic_parse(const char *body, size_t len,
                                    const struct tr_llm_input *in,
                                    struct tr_llm_result *out,
                                    struct tr_error *err);

#endif /* TR_LLM_INT_H */
