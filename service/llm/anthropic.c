/*
 * anthropic.c
 *      The envelope of an Anthropic Messages call: the request body and
 *      the reading of the answer's text.
 *
 * The JSON answer is asked for in the system prompt and read from the
 * joined text blocks.  Structured output (output_config.format) is not
 * sent: the fact sheet lists it as a newer feature whose availability
 * per model is unconfirmed, and plain JSON works with every model and
 * with the Messages-compatible local servers.  A fence or a lead-in
 * around the object is tolerated; stop_reason "max_tokens" and
 * "refusal" are model errors.
 *
 * Pure functions; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

enum tr_err
tr_llm__anthropic_build(const struct tr_llm_conf *conf, const char *sys,
                        const char *user, struct tr_buf *out,
                        struct tr_error *err)
{
    cJSON *o = cJSON_CreateObject(), *msgs, *m;

    if (o == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    /* The system prompt is a top-level field: there is no system role. */
    cJSON_AddStringToObject(o, "model", conf->model);
    cJSON_AddNumberToObject(o, "max_tokens", conf->max_tokens);
    cJSON_AddStringToObject(o, "system", sys);
    msgs = cJSON_AddArrayToObject(o, "messages");
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    if (conf->temperature >= 0)
        cJSON_AddNumberToObject(o, "temperature", conf->temperature);
    return tr_llm__print(o, out, err);
}

/* Join the text blocks of `content`; the caller frees the result. */
static char *
join_text(const cJSON *content)
{
    const cJSON *b;
    struct tr_buf buf;

    tr_buf_init(&buf, TR_LLM_RESPONSE_MAX);
    cJSON_ArrayForEach(b, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(b, "text");

        if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0
            && cJSON_IsString(text))
            tr_buf_puts(&buf, text->valuestring);
    }
    return tr_buf_steal(&buf);
}

static void
read_meta(const cJSON *o, struct tr_llm_result *out)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "usage");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
    const cJSON *ot = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(o, "stop_reason");

    out->input_tokens = cJSON_IsNumber(it) ? (long) it->valuedouble : -1;
    out->output_tokens = cJSON_IsNumber(ot) ? (long) ot->valuedouble : -1;
    out->answer_model = tr_llm__keep(out, cJSON_IsString(model)
                                              ? model->valuestring
                                              : "");
    out->stop_reason = tr_llm__keep(out, cJSON_IsString(stop)
                                             ? stop->valuestring
                                             : "");
}

enum tr_err
tr_llm__anthropic_text(const char *body, size_t len,
                       struct tr_llm_result *out, char **text,
                       struct tr_error *err)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(o, "content");
    enum tr_err rc = TR_OK;

    *text = NULL;
    if (!cJSON_IsArray(content)) {
        rc = tr_llm__model_error(err, "malformed_json", "the Messages "
                                 "answer is not JSON with a content "
                                 "list");
        goto out;
    }
    read_meta(o, out);
    if (strcmp(out->stop_reason, "refusal") == 0) {
        rc = tr_llm__model_error(err, "refusal", "the model refused to "
                                 "answer");
        goto out;
    }
    if (strcmp(out->stop_reason, "max_tokens") == 0) {
        rc = tr_llm__model_error(err, "truncated", "the answer was cut "
                                 "off at max_tokens");
        goto out;
    }

    *text = join_text(content);
    if (*text == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");

out:
    cJSON_Delete(o);
    return rc;
}
