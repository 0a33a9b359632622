/*
 * openai.c
 *      The envelope of an OpenAI-compatible chat completion: the request
 *      body with a strict JSON-schema response format, and the reading of
 *      the answer's text.
 *
 * The answer's JSON arrives as a string in choices[0].message.content,
 * which is handed back for the caller (a draft or a classification) to
 * parse a second time; a refusal or a length cut-off are model errors.
 * Local servers (Ollama, vLLM, llama.cpp) speak the same protocol; they
 * read "max_tokens", which is therefore sent unless the configuration
 * asks for "max_completion_tokens".
 *
 * Pure functions; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

enum tr_err
tr_llm__openai_build(const struct tr_llm_conf *conf, const char *sys,
                     const char *user, const char *schema_name,
                     cJSON *schema, struct tr_buf *out, struct tr_error *err)
{
    cJSON *o = cJSON_CreateObject(), *msgs, *m, *rf, *js;

    if (o == NULL || schema == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(schema);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }

    /* Key order is fixed, so the same input gives the same bytes. */
    cJSON_AddStringToObject(o, "model", conf->model);
    msgs = cJSON_AddArrayToObject(o, "messages");
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", sys);
    cJSON_AddItemToArray(msgs, m);
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    if (conf->temperature >= 0)
        cJSON_AddNumberToObject(o, "temperature", conf->temperature);
    cJSON_AddNumberToObject(o, conf->max_completion_tokens
                                   ? "max_completion_tokens"
                                   : "max_tokens",
                            conf->max_tokens);

    rf = cJSON_AddObjectToObject(o, "response_format");
    cJSON_AddStringToObject(rf, "type", "json_schema");
    js = cJSON_AddObjectToObject(rf, "json_schema");
    cJSON_AddStringToObject(js, "name", schema_name);
    cJSON_AddTrueToObject(js, "strict");
    cJSON_AddItemToObject(js, "schema", schema);
    return tr_llm__print(o, out, err);
}

/* Usage and model name, when the answer has them. */
static void
read_meta(const cJSON *o, struct tr_llm_result *out)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "usage");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u,
                                                       "completion_tokens");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");

    out->input_tokens = cJSON_IsNumber(pt) ? (long) pt->valuedouble : -1;
    out->output_tokens = cJSON_IsNumber(ct) ? (long) ct->valuedouble : -1;
    out->answer_model = tr_llm__keep(out, cJSON_IsString(model)
                                              ? model->valuestring
                                              : "");
}

enum tr_err
tr_llm__openai_text(const char *body, size_t len, struct tr_llm_result *out,
                    char **text, struct tr_error *err)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(choice,
                                                        "finish_reason");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    enum tr_err rc = TR_OK;

    *text = NULL;
    if (o == NULL || msg == NULL) {
        rc = tr_llm__model_error(err, "malformed_json", "the chat "
                                 "completion answer is not JSON with "
                                 "choices[0].message");
        goto out;
    }
    read_meta(o, out);
    out->stop_reason = tr_llm__keep(out, cJSON_IsString(fin)
                                             ? fin->valuestring
                                             : "");

    /* Refusal first: content is null then. */
    if (cJSON_IsString(refusal) && refusal->valuestring[0] != '\0') {
        rc = tr_llm__model_error(err, "refusal", "the model refused to "
                                 "answer");
        goto out;
    }
    if (cJSON_IsString(fin) && strcmp(fin->valuestring, "length") == 0) {
        rc = tr_llm__model_error(err, "truncated", "the answer was cut "
                                 "off at max_tokens");
        goto out;
    }
    if (!cJSON_IsString(content)) {
        rc = tr_llm__model_error(err, "malformed_json", "the chat "
                                 "completion has no text content");
        goto out;
    }
    *text = strdup(content->valuestring);
    if (*text == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");

out:
    cJSON_Delete(o);
    return rc;
}
