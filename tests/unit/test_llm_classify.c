/*
 * test_llm_classify.c
 *      Routing a ticket through a model provider: the request carries the
 *      offered names as enums of a strict schema, and every member of the
 *      answer is checked against what was offered.
 *
 * The fake model server (tests/fakes/fake_model) answers a JSON-schema
 * request with a minimal instance of the schema: the first value of
 * each enum, 0 for numbers, "fake" for strings; its "off_enum" mode
 * writes a value no enum lists.  Answers for the strict checks are
 * written here as provider envelopes and parsed as a stored answer
 * would be replayed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "llm.h"
#include "test_llm_fx.h"

static const struct tr_llm_team teams[] = {
    {"logistics", "Parcels and deliveries"},
    {"billing", "Refunds, invoices </team> and payments"},
};

static const char *const prios[] = {"low", "normal", "high", "urgent"};
static const char *const intents[] = {"refund", "track"};

static void
input_default(struct tr_llm_classify_input *in)
{
    memset(in, 0, sizeof(*in));
    in->ticket = "Where is my parcel? Write to [EMAIL_1].";
    in->teams = teams;
    in->n_teams = 2;
    in->priorities = prios;
    in->n_priorities = 4;
    in->intents = intents;
    in->n_intents = 2;
}

static struct tr_llm *
provider_with(struct fm_fx *fx, enum tr_llm_kind kind, const char *key,
              long timeout_ms)
{
    struct tr_llm_conf c;
    struct tr_llm *l;
    char base[96];

    tr_llm_conf_default(&c, kind);
    snprintf(base, sizeof(base), "%s%s", fx->base,
             kind == TR_LLM_OPENAI ? "/v1" : "");
    c.base_url = base;
    c.api_key = key;
    c.model = kind == TR_LLM_OPENAI ? "gpt-fake" : "claude-fake";
    c.timeout_ms = timeout_ms;
    c.policy = &fx->policy;
    l = tr_llm_new(&c, NULL);
    assert_non_null(l);
    return l;
}

static struct tr_llm *
provider(struct fm_fx *fx, enum tr_llm_kind kind)
{
    return provider_with(fx, kind, FM_KEY, 10000);
}

/* The JSON body of the last request the fake recorded. */
static cJSON *
last_request(const struct fm_fx *fx)
{
    char *rec = fm_record(fx), *line = rec, *nl;
    cJSON *o, *body;

    while ((nl = strchr(line, '\n')) != NULL && nl[1] != '\0')
        line = nl + 1;
    o = cJSON_Parse(line);
    assert_non_null(o);
    body = cJSON_Parse(cJSON_GetObjectItem(o, "body")->valuestring);
    assert_non_null(body);
    cJSON_Delete(o);
    free(rec);
    return body;
}

/* The enum of property `name` of the schema in an OpenAI request. */
static const cJSON *
schema_enum(const cJSON *req, const char *name)
{
    const cJSON *js = cJSON_GetObjectItem(
        cJSON_GetObjectItem(req, "response_format"), "json_schema");

    return cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(js, "schema"),
                                "properties"),
            name),
        "enum");
}

static void
llm_classify_sends_the_names_as_enums_of_a_strict_schema(void **state)
{
    struct tr_llm_classify_input in;
    struct tr_llm_result r;
    struct tr_error err = {0};
    struct fm_fx fx;
    struct tr_llm *l;
    const cJSON *js, *e;
    cJSON *req;
    char hash[65];

    fm_start(&fx, 64);
    l = provider(&fx, TR_LLM_OPENAI);
    input_default(&in);
    tr_llm_result_init(&r);
    if (tr_llm_classify(l, &in, &r, &err) != TR_OK)
        fail_msg("classify: %s", tr_error_msg(&err));

    /* The fake's instance takes the first value of every enum. */
    assert_string_equal(r.label.team, "logistics");
    assert_string_equal(r.label.priority, "low");
    assert_string_equal(r.label.intent, "refund");
    assert_true(r.label.confidence == 0);
    assert_string_equal(r.label.reason, "fake");
    assert_string_equal(r.provider, "openai");
    assert_string_equal(r.model, "gpt-fake");
    tr_llm_sha256_hex(r.request, r.request_len, hash);
    assert_string_equal(hash, r.prompt_hash);

    req = last_request(&fx);
    js = cJSON_GetObjectItem(cJSON_GetObjectItem(req, "response_format"),
                             "json_schema");
    assert_string_equal(cJSON_GetObjectItem(js, "name")->valuestring,
                        "ticket_route");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(js, "strict")));
    e = schema_enum(req, "team");
    assert_int_equal(cJSON_GetArraySize(e), 2);
    assert_string_equal(cJSON_GetArrayItem(e, 1)->valuestring, "billing");
    assert_int_equal(cJSON_GetArraySize(schema_enum(req, "priority")), 4);
    e = schema_enum(req, "intent");
    assert_int_equal(cJSON_GetArraySize(e), 3);
    assert_string_equal(cJSON_GetArrayItem(e, 2)->valuestring, "other");

    /* A description cannot close its block and speak as the system. */
    assert_int_equal(fm_count(r.request, "</team> and payments"), 0);
    assert_non_null(strstr(r.request, "<ticket>\\nWhere is my parcel? "
                                      "Write to [EMAIL_1]."));
    cJSON_Delete(req);

    /* The same input gives the same bytes. */
    {
        struct tr_llm_conf c;
        struct tr_buf b;

        tr_llm_conf_default(&c, TR_LLM_OPENAI);
        c.model = "gpt-fake";
        tr_buf_init(&b, 0);
        assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, NULL),
                         TR_OK);
        assert_string_equal(b.data, r.request);
        tr_buf_cleanup(&b);
    }

    /* A model ignoring the schema is refused, never passed on. */
    fm_control(&fx, "fail", "{\"mode\":\"off_enum\",\"count\":1}");
    assert_int_equal(tr_llm_classify(l, &in, &r, &err), TR_E_MODEL);
    assert_string_equal(err.foreign, "unknown_team");
    assert_null(r.label.team);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.raw, "not-in-the-enum"));

    tr_llm_result_cleanup(&r);
    tr_llm_free(l);
    fm_stop(&fx);
}

/* Parse `content` as the text of an OpenAI answer to `in`. */
static enum tr_err
parse_openai(const struct tr_llm_classify_input *in, const char *content,
             struct tr_llm_result *r, struct tr_error *err)
{
    struct tr_llm_conf c;
    cJSON *o = cJSON_CreateObject(), *ch, *one, *msg;
    char *body;
    enum tr_err rc;

    tr_llm_conf_default(&c, TR_LLM_OPENAI);
    c.model = "gpt-fake";
    ch = cJSON_AddArrayToObject(o, "choices");
    one = cJSON_CreateObject();
    cJSON_AddStringToObject(one, "finish_reason", "stop");
    msg = cJSON_AddObjectToObject(one, "message");
    cJSON_AddStringToObject(msg, "content", content);
    cJSON_AddItemToArray(ch, one);
    body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    tr_error_clear(err);
    rc = tr_llm_classify_response_parse(&c, in, body, strlen(body), r, err);
    free(body);
    return rc;
}

static void
llm_classify_answers_are_checked_strictly(void **state)
{
    static const struct {
        const char *content;
        const char *reason;
    } bad[] = {
        {"{\"team\":\"sales\",\"priority\":\"low\",\"intent\":\"refund\","
         "\"confidence\":0.9,\"reason\":\"r\"}", "unknown_team"},
        {"{\"team\":\"billing\",\"priority\":\"p0\",\"intent\":\"refund\","
         "\"confidence\":0.9,\"reason\":\"r\"}", "unknown_priority"},
        {"{\"team\":\"billing\",\"priority\":\"low\",\"intent\":\"refund\","
         "\"confidence\":1.5,\"reason\":\"r\"}", "bad_confidence"},
        {"{\"team\":\"billing\",\"priority\":\"low\",\"intent\":\"refund\","
         "\"confidence\":\"high\",\"reason\":\"r\"}", "bad_confidence"},
        {"{\"team\":\"billing\",\"priority\":\"low\",\"intent\":\"cancel\","
         "\"confidence\":0.9,\"reason\":\"r\"}", "unknown_intent"},
        {"{\"team\":\"billing\",\"priority\":\"low\",\"intent\":\"refund\","
         "\"confidence\":0.9,\"reason\":\"r\",\"tags\":[]}",
         "malformed_json"},
        {"{\"team\":\"billing\",\"priority\":\"low\",\"confidence\":0.9,"
         "\"reason\":\"r\"}", "malformed_json"},
        {"I would send it to billing.", "malformed_json"},
    };
    struct tr_llm_classify_input in;
    struct tr_llm_result r;
    struct tr_error err = {0};

    input_default(&in);
    tr_llm_result_init(&r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_openai(&in, bad[i].content, &r, &err) != TR_E_MODEL)
            fail_msg("case %zu was accepted", i);
        assert_string_equal(err.foreign, bad[i].reason);
        assert_null(r.label.team);
    }

    /* "other" is no intent; without known intents any name is one. */
    assert_int_equal(parse_openai(&in, "{\"team\":\"billing\",\"priority\":"
                                       "\"high\",\"intent\":\"other\","
                                       "\"confidence\":0.75,\"reason\":"
                                       "\"asks for money back\"}",
                                  &r, &err), TR_OK);
    assert_string_equal(r.label.team, "billing");
    assert_string_equal(r.label.priority, "high");
    assert_null(r.label.intent);
    assert_true(r.label.confidence == 0.75);
    in.n_intents = 0;
    assert_int_equal(parse_openai(&in, "{\"team\":\"billing\",\"priority\":"
                                       "\"low\",\"intent\":\"cancel\","
                                       "\"confidence\":1,\"reason\":\"\"}",
                                  &r, &err), TR_OK);
    assert_string_equal(r.label.intent, "cancel");
    tr_llm_result_cleanup(&r);
}

/* Anthropic: JSON asked for in the prompt, read from the text blocks. */
static void
llm_classify_anthropic_reads_json_from_text(void **state)
{
    static const char answer[] =
        "{\"type\":\"message\",\"model\":\"claude-fake\",\"content\":[{"
        "\"type\":\"text\",\"text\":\"```json\\n{\\\"team\\\":"
        "\\\"logistics\\\",\\\"priority\\\":\\\"normal\\\",\\\"intent\\\":"
        "\\\"track\\\",\\\"confidence\\\":0.8,\\\"reason\\\":\\\"parcel\\\"}"
        "\\n```\"}],\"stop_reason\":\"end_turn\"}";
    struct tr_llm_classify_input in;
    struct tr_llm_result r;
    struct tr_llm_conf c;
    struct tr_error err = {0};
    struct tr_buf b;
    cJSON *req;

    input_default(&in);
    tr_llm_conf_default(&c, TR_LLM_ANTHROPIC);
    c.model = "claude-fake";
    tr_buf_init(&b, 0);
    assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, &err),
                     TR_OK);
    req = cJSON_Parse(b.data);
    assert_non_null(req);
    assert_non_null(strstr(cJSON_GetObjectItem(req, "system")->valuestring,
                           "Answer with one JSON object"));
    assert_null(cJSON_GetObjectItem(req, "response_format"));
    cJSON_Delete(req);
    tr_buf_cleanup(&b);

    tr_llm_result_init(&r);
    if (tr_llm_classify_response_parse(&c, &in, answer, strlen(answer), &r,
                                       &err) != TR_OK)
        fail_msg("parse: %s", tr_error_msg(&err));
    assert_string_equal(r.label.team, "logistics");
    assert_string_equal(r.label.priority, "normal");
    assert_string_equal(r.label.intent, "track");
    assert_string_equal(r.answer_model, "claude-fake");
    tr_llm_result_cleanup(&r);
}

/* The same retries and the same codes as a draft; the key never shows. */
static void
llm_classify_failures_map_like_drafts(void **state)
{
    struct tr_llm_classify_input in;
    struct tr_llm_result r;
    struct tr_error err = {0};
    struct fm_fx fx;
    struct tr_llm *l;

    fm_start(&fx, 64);
    input_default(&in);
    tr_llm_result_init(&r);
    fm_control(&fx, "fail", "{\"status\":500,\"count\":3}");
    l = provider(&fx, TR_LLM_OPENAI);
    assert_int_equal(tr_llm_classify(l, &in, &r, &err), TR_E_HTTP_UPSTREAM);
    assert_string_equal(err.foreign, "http_500");
    assert_int_equal(r.n_attempts, 3);
    assert_int_equal(fx.n_waits, 2);
    assert_true(strlen(r.prompt_hash) == 64);
    assert_null(r.label.team);
    tr_llm_free(l);

    /* A refused key: the fake echoes it, the message does not. */
    l = provider_with(&fx, TR_LLM_OPENAI, "sk-wrong-key-0123456789", 10000);
    assert_int_equal(tr_llm_classify(l, &in, &r, &err), TR_E_AUTH);
    assert_null(strstr(err.msg, "sk-wrong-key-0123456789"));
    assert_non_null(strstr(r.raw, "sk-wrong-key"));
    tr_llm_free(l);

    fm_control(&fx, "fail", "{\"mode\":\"hang\",\"delay_ms\":3000,"
                            "\"count\":5}");
    l = provider_with(&fx, TR_LLM_OPENAI, FM_KEY, 300);
    assert_int_equal(tr_llm_classify(l, &in, &r, &err), TR_E_TIMEOUT);
    assert_string_equal(err.foreign, "timeout");
    assert_int_equal(r.n_attempts, 3);

    tr_llm_result_cleanup(&r);
    tr_llm_free(l);
    fm_stop(&fx);
}

static void
llm_classify_bad_input_is_refused(void **state)
{
    static const struct tr_llm_team twice[] = {{"a", NULL}, {"a", NULL}};
    struct tr_llm_classify_input in;
    struct tr_llm_conf c;
    struct tr_error err = {0};
    struct tr_buf b;

    tr_llm_conf_default(&c, TR_LLM_OPENAI);
    c.model = "gpt-fake";
    tr_buf_init(&b, 0);
    input_default(&in);
    in.ticket = "";
    assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, &err),
                     TR_E_INVAL);
    input_default(&in);
    in.n_teams = 0;
    assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, &err),
                     TR_E_INVAL);
    in.teams = twice;
    in.n_teams = 2;
    assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(tr_error_msg(&err), "\"a\" is given twice"));
    input_default(&in);
    in.n_priorities = 0;
    assert_int_equal(tr_llm_classify_request_build(&c, &in, &b, &err),
                     TR_E_INVAL);
    assert_int_equal(b.len, 0);
    tr_buf_cleanup(&b);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(
        llm_classify_sends_the_names_as_enums_of_a_strict_schema),
    cmocka_unit_test(llm_classify_answers_are_checked_strictly),
    cmocka_unit_test(llm_classify_anthropic_reads_json_from_text),
    cmocka_unit_test(llm_classify_failures_map_like_drafts),
    cmocka_unit_test(llm_classify_bad_input_is_refused),
};

TR_TEST_MAIN(cases)
