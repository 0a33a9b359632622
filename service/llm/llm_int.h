/*
 * llm_int.h
 *      Layouts and helpers shared by the files of the llm module only.
 *
 * prompt.c owns the words sent to a drafting model and the reading of
 * its JSON answer, classify.c the same for a routing model; openai.c and
 * anthropic.c own each API's envelope, shared by both; llm.c owns the
 * provider object, its HTTP client pool, the calls and their log lines.
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

/*
 * Append to `out` the exact body of a chat completion asking `conf`'s
 * model for an object of `schema` (taken over and freed; NULL is out of
 * memory) named `schema_name`, with system prompt `sys` and user message
 * `user`.  Shared by drafts and classifications.
 */
enum tr_err tr_llm__openai_build(const struct tr_llm_conf *conf,
                                 const char *sys, const char *user,
                                 const char *schema_name, cJSON *schema,
                                 struct tr_buf *out, struct tr_error *err);

/*
 * Read a chat completion answer: usage, model and finish reason into
 * `out`, and into *text (the caller frees it) the content the model
 * wrote.  TR_E_MODEL for an envelope that is not one, a refusal or a
 * cut-off.
 */
enum tr_err tr_llm__openai_text(const char *body, size_t len,
                                struct tr_llm_result *out, char **text,
                                struct tr_error *err);

/* The same two for Anthropic Messages; the JSON is asked for in `sys`. */
enum tr_err tr_llm__anthropic_build(const struct tr_llm_conf *conf,
                                    const char *sys, const char *user,
                                    struct tr_buf *out,
                                    struct tr_error *err);
enum tr_err tr_llm__anthropic_text(const char *body, size_t len,
                                   struct tr_llm_result *out, char **text,
                                   struct tr_error *err);

/*
 * Append `s` to `b`, defusing the `n_tags` tags of `tags` (such as
 * "<ticket" and "</ticket"): their "<" becomes "(", so the text cannot
 * end its block.
 */
void tr_llm__put_text(struct tr_buf *b, const char *s,
                      const char *const *tags, size_t n_tags);

/* Append `s` as an attribute value: quotes and angle brackets escaped. */
void tr_llm__put_attr(struct tr_buf *b, const char *s);

/*
 * The JSON object in a model's text: the whole text when it parses, else
 * from the first "{" to the last "}".  NULL when there is none.
 */
cJSON *tr_llm__find_object(const char *text);

/* ---- classification (classify.c) ------------------------------------ */

/* TR_E_INVAL naming the fault of an unusable classification input. */
enum tr_err tr_llm__classify_check(const struct tr_llm_classify_input *in,
                                   struct tr_error *err);

/* System prompt, user message and schema of a classification. */
char *tr_llm__classify_system(const struct tr_llm_classify_input *in);
char *tr_llm__classify_user(const struct tr_llm_classify_input *in);
cJSON *tr_llm__classify_schema(const struct tr_llm_classify_input *in);

/*
 * Read the model's answer text into out->label, checking every member
 * against `in`.  TR_E_MODEL with err->foreign set on any fault.
 */
enum tr_err tr_llm__classify_answer(const char *text,
                                    const struct tr_llm_classify_input *in,
                                    struct tr_llm_result *out,
                                    struct tr_error *err);

#endif /* TR_LLM_INT_H */
