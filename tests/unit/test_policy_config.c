/*
 * test_policy_config.c
 *      Loading and validating routing configurations: the documented
 *      example loads, the defaults are safe, and every kind of mistake
 *      is refused with a message that names the field (and quotes a
 *      pattern that does not compile).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tr_test.h"

#include "policy.h"
#include "redact.h"

static void
data_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/tests/data/policy/%s", getenv("TR_SOURCE_DIR"),
             name);
}

static void
policy_config_example_loads(void **state)
{
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};
    char path[1024];

    data_path(path, sizeof(path), "example.json");
    if (tr_policy_config_load(path, &cfg, &err) != TR_OK)
        fail_msg("example does not load: %s", tr_error_msg(&err));
    assert_int_equal(tr_policy_config_n_teams(cfg), 4);
    assert_int_equal(tr_policy_config_n_rules(cfg), 3);
    assert_int_equal(tr_policy_config_n_escalations(cfg), 1);
    assert_non_null(strstr(tr_policy_config_text(cfg), "\"billing\""));
    tr_policy_config_free(cfg);
}

/* Without a configuration: nothing routed, nothing sent automatically. */
static void
policy_config_default_is_safe(void **state)
{
    struct tr_policy_config *cfg = NULL;
    struct tr_policy_decision d;
    struct tr_policy_outcome out;
    struct tr_policy_signals sig = {.best_score = 1.0, .grounded = true,
                                    .confidence = 1.0};
    struct tr_error err = {0};

    assert_int_equal(tr_policy_config_default(&cfg, &err), TR_OK);
    assert_int_equal(tr_policy_route(cfg, NULL, "Question",
                                     "How do I change my address?", NULL,
                                     0, &d, &err), TR_OK);
    assert_string_equal(d.team, TR_POLICY_UNASSIGNED);
    assert_string_equal(d.team_source, "none");
    assert_string_equal(d.priority, "normal");
    assert_int_equal(d.group_id, 0);

    tr_policy_decide(cfg, &d, &sig, &out);
    assert_int_equal(out.action, TR_POLICY_DRAFT);
    assert_string_equal(out.reasons[0], "auto_send_off");
    tr_policy_decision_cleanup(&d);
    tr_policy_config_free(cfg);
}

struct bad_case {
    const char *json;
    enum tr_err code;
    const char *needle;         /* must appear in the message */
};

/* Parse each of `cases`, which must fail with its code and message. */
static void
expect_bad(const struct bad_case *cases, size_t n)
{
    struct tr_policy_config *cfg;
    struct tr_error err;

    for (size_t i = 0; i < n; i++) {
        tr_error_clear(&err);
        cfg = NULL;
        if (tr_policy_config_parse(cases[i].json, strlen(cases[i].json),
                                   &cfg, &err) != cases[i].code)
            fail_msg("case %zu: code %s, message \"%s\"", i,
                     tr_err_name(err.code), err.msg);
        assert_null(cfg);
        if (strstr(err.msg, cases[i].needle) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg,
                     cases[i].needle);
    }
}

static void
policy_config_errors_name_the_field(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"teams\": [{\"name\": \"a\"}], \"default_team\": \"b\"}",
         TR_E_CONF, "field \"default_team\": unknown team \"b\""},
        {"{\"teams\": [{\"description\": \"x\"}]}",
         TR_E_CONF, "field \"teams[0].name\": is required"},
        {"{\"teams\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
         TR_E_CONF, "field \"teams[1].name\": team \"a\" is defined twice"},
        {"{\"teams\": [{\"name\": \"a\", \"zendesk_group_id\": -4}]}",
         TR_E_CONF, "field \"teams[0].zendesk_group_id\""},
        {"{\"teams\": [{\"name\": \"a\", \"colour\": \"red\"}]}",
         TR_E_CONF, "field \"teams[0].colour\": unknown field"},
        {"{\"auto_sned\": {\"enabled\": true}}",
         TR_E_CONF, "field \"auto_sned\": unknown field"},
        {"{\"auto_send\": {\"enabled\": \"yes\"}}",
         TR_E_CONF, "field \"auto_send.enabled\": must be true or false"},
        {"{\"auto_send\": {\"min_confidence\": 1.5}}",
         TR_E_CONF, "field \"auto_send.min_confidence\": must be a number"},
        {"{\"auto_send\": {\"teams\": [\"nobody\"]}}",
         TR_E_CONF, "field \"auto_send.teams[0]\": unknown team"},
        {"{\"rules\": [{\"name\": \"r\", \"pattern\": \"x\", "
         "\"team\": \"ghost\"}]}",
         TR_E_CONF, "field \"rules[0].team\": unknown team \"ghost\""},
        {"{\"rules\": [{\"name\": \"r\", \"pattern\": \"x\"}]}",
         TR_E_CONF, "field \"rules[0]\": rule \"r\" sets none"},
        {"{\"rules\": [{\"name\": \"r\", \"pattern\": \"x\", "
         "\"priority\": \"p9\"}]}",
         TR_E_CONF, "field \"rules[0].priority\": unknown priority \"p9\""},
        {"{\"rules\": [{\"name\": \"r\", \"pattern\": \"x\", \"tags\": "
         "[\"t\"], \"fields\": [\"subjekt\"]}]}",
         TR_E_CONF, "field \"rules[0].fields\""},
        {"{\"sections\": {\"Billing\": \"finance\"}}",
         TR_E_CONF, "field \"sections.Billing\": unknown team \"finance\""},
        {"{\"intents\": {\"refund\": 3}}",
         TR_E_CONF, "field \"intents.refund\": must be a string"},
        {"{\"escalation\": {\"builtin\": [\"legal_threat\", \"weather\"]}}",
         TR_E_CONF, "field \"escalation.builtin\": unknown category "
                    "\"weather\""},
        {"{\"escalation\": {\"rules\": [{\"name\": \"e\", \"pattern\": "
         "\"x\", \"team\": \"a\"}]}}",
         TR_E_CONF, "field \"escalation.rules[0].team\": unknown field"},
        {"{\"priorities\": []}",
         TR_E_CONF, "field \"priorities\": must list at least one"},
        {"{\"priorities\": [\"p1\", \"p2\"], \"default_priority\": \"x\"}",
         TR_E_CONF, "field \"default_priority\": unknown priority \"x\""},
        {"{\"thresholds\": {\"retrieval_min_score\": \"high\"}}",
         TR_E_CONF, "field \"thresholds.retrieval_min_score\""},
        {"{\"version\": 2}", TR_E_CONF, "field \"version\": must be 1"},
        {"{\"auto_send\": {\"enabled\": false, \"enabled\": true}}",
         TR_E_CONF, "field \"auto_send.enabled\": appears twice"},
        {"[1, 2]", TR_E_CONF, "must be a JSON object"},
        {"{\"teams\": [", TR_E_PARSE, "not valid JSON"},

    };

    expect_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The redaction and model routing sections are checked the same way. */
static void
policy_config_section_errors_name_the_field(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"redaction\": {\"patterns\": [{\"name\": \"EMAIL\", "
         "\"pattern\": \"x+\"}]}}",
         TR_E_CONF, "field \"redaction.patterns\": "},
        {"{\"redaction\": {\"patterns\": [{\"name\": \"ORDER\", "
         "\"pattern\": \"PO-(\"}]}}",
         TR_E_CONF, "field \"redaction.patterns\": "},
        {"{\"redaction\": {\"patterns\": [{\"name\": \"ORDER\"}]}}",
         TR_E_CONF, "field \"redaction.patterns[0].pattern\": is required"},
        {"{\"redaction\": {\"patterns\": [{\"name\": \"ORDER\", "
         "\"pattern\": \"x\", \"flags\": \"i\"}]}}",
         TR_E_CONF, "field \"redaction.patterns[0].flags\": unknown field"},
        {"{\"redaction\": {\"patterns\": {}}}",
         TR_E_CONF, "field \"redaction.patterns\": must be an array"},
        {"{\"redaction\": []}",
         TR_E_CONF, "field \"redaction\": must be an object"},
        {"{\"model_routing\": {\"enabled\": true, \"treshold\": 0.5}}",
         TR_E_CONF, "field \"model_routing.treshold\": unknown field"},
        {"{\"model_routing\": {\"min_confidence\": 1.2}}",
         TR_E_CONF, "field \"model_routing.min_confidence\": must be a "
                    "number from 0 to 1"},
        {"{\"model_routing\": {\"min_confidence\": \"0.6\"}}",
         TR_E_CONF, "field \"model_routing.min_confidence\": must be a "
                    "number from 0 to 1"},
        {"{\"model_routing\": {\"when\": \"sometimes\"}}",
         TR_E_CONF, "field \"model_routing.when\": must be \"undecided\" "
                    "or \"always\", not \"sometimes\""},
        {"{\"model_routing\": {\"enabled\": \"yes\"}}",
         TR_E_CONF, "field \"model_routing.enabled\": must be true or "
                    "false"},
        {"{\"model_routing\": {\"enabled\": true}}",
         TR_E_CONF, "field \"model_routing.enabled\": needs at least one "
                    "team"},
        {"{\"model_routing\": true}",
         TR_E_CONF, "field \"model_routing\": must be an object"},
    };

    expect_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A pattern that does not compile is quoted, with PCRE2's reason. */
static void
policy_config_bad_regex_quotes_pattern(void **state)
{
    static const char json[] =
        "{\"teams\": [{\"name\": \"a\"}],"
        " \"rules\": [{\"name\": \"ok\", \"pattern\": \"fine\","
        " \"team\": \"a\"},"
        " {\"name\": \"broken\", \"pattern\": \"refund(s|\","
        " \"team\": \"a\"}]}";
    static const char esc[] =
        "{\"escalation\": {\"rules\": [{\"name\": \"e\","
        " \"pattern\": \"[z-a]\"}]}}";
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};

    assert_int_equal(tr_policy_config_parse(json, strlen(json), &cfg, &err),
                     TR_E_CONF);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "field \"rules[1].pattern\""));
    assert_non_null(strstr(err.msg, "pattern \"refund(s|\" does not "
                                    "compile"));
    assert_non_null(strstr(err.msg, "at offset"));

    tr_error_clear(&err);
    assert_int_equal(tr_policy_config_parse(esc, strlen(esc), &cfg, &err),
                     TR_E_CONF);
    assert_non_null(strstr(err.msg, "field \"escalation.rules[0].pattern\": "
                                    "pattern \"[z-a]\""));
}

/* A file that cannot be read or does not validate names the file. */
static void
policy_config_file_errors_name_the_file(void **state)
{
    char path[] = "/tmp/policy_cfg_XXXXXX";
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};
    FILE *f;
    int fd;

    assert_int_equal(tr_policy_config_load("/nonexistent/routing.json",
                                           &cfg, &err), TR_E_IO);
    assert_non_null(strstr(err.msg, "\"/nonexistent/routing.json\""));

    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("{\"default_team\": 7}", f);
    fclose(f);
    tr_error_clear(&err);
    assert_int_equal(tr_policy_config_load(path, &cfg, &err), TR_E_CONF);
    unlink(path);
    assert_null(cfg);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "field \"default_team\": must be a "
                                    "string"));
}

/* Tenant kinds of personal data come back for the redactor. */
static void
policy_config_redaction_patterns_are_kept(void **state)
{
    static const char json[] =
        "{\"redaction\": {\"patterns\": ["
        "{\"name\": \"ORDER\", \"pattern\": \"\\\\bPO-[0-9]{6}\\\\b\"},"
        "{\"name\": \"badge\", \"pattern\": \"B[0-9]{4}\"}]}}";
    const struct tr_redact_pattern *p = NULL;
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};

    (void)state;
    assert_int_equal(tr_policy_config_parse(json, strlen(json), &cfg, &err),
                     TR_OK);
    assert_int_equal(tr_policy_config_redact_patterns(cfg, &p), 2);
    assert_string_equal(p[0].name, "ORDER");
    assert_string_equal(p[0].regex, "\\bPO-[0-9]{6}\\b");
    assert_string_equal(p[1].name, "badge");
    tr_policy_config_free(cfg);

    assert_int_equal(tr_policy_config_default(&cfg, &err), TR_OK);
    assert_int_equal(tr_policy_config_redact_patterns(cfg, &p), 0);
    assert_null(p);
    tr_policy_config_free(cfg);
}

/* Model routing is off unless asked for; the settings are read. */
static void
policy_config_model_routing_defaults_and_values(void **state)
{
    static const char json[] =
        "{\"teams\": [{\"name\": \"a\", \"description\": \"Refunds\"}, "
        "{\"name\": \"b\"}], \"intents\": {\"refund\": \"a\"}, "
        "\"rules\": [{\"name\": \"r\", \"pattern\": \"x\", "
        "\"intent\": \"invoice\"}, {\"name\": \"s\", \"pattern\": "
        "\"y\", \"intent\": \"refund\"}], "
        "\"model_routing\": {\"enabled\": true, \"min_confidence\": 0.8, "
        "\"when\": \"always\"}}";
    const struct tr_policy_model_routing *mr;
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};
    const char *const *names;

    assert_int_equal(tr_policy_config_default(&cfg, &err), TR_OK);
    mr = tr_policy_config_model_routing(cfg);
    assert_false(mr->enabled);
    assert_true(mr->min_confidence == 0.6);
    assert_int_equal(mr->when, TR_POLICY_MODEL_UNDECIDED);
    assert_int_equal(tr_policy_config_known_intents(cfg, &names), 0);
    assert_int_equal(tr_policy_config_priorities(cfg, &names), 4);
    assert_string_equal(names[0], "low");
    tr_policy_config_free(cfg);

    if (tr_policy_config_parse(json, strlen(json), &cfg, &err) != TR_OK)
        fail_msg("config: %s", tr_error_msg(&err));
    mr = tr_policy_config_model_routing(cfg);
    assert_true(mr->enabled);
    assert_true(mr->min_confidence == 0.8);
    assert_int_equal(mr->when, TR_POLICY_MODEL_ALWAYS);
    assert_string_equal(tr_policy_config_team_name(cfg, 0), "a");
    assert_string_equal(tr_policy_config_team_description(cfg, 0),
                        "Refunds");
    assert_null(tr_policy_config_team_description(cfg, 1));

    /* Known intents: the map's keys, then the rules', each once. */
    assert_int_equal(tr_policy_config_known_intents(cfg, &names), 2);
    assert_string_equal(names[0], "refund");
    assert_string_equal(names[1], "invoice");
    tr_policy_config_free(cfg);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(policy_config_example_loads),
    cmocka_unit_test(policy_config_default_is_safe),
    cmocka_unit_test(policy_config_errors_name_the_field),
    cmocka_unit_test(policy_config_section_errors_name_the_field),
    cmocka_unit_test(policy_config_bad_regex_quotes_pattern),
    cmocka_unit_test(policy_config_file_errors_name_the_file),
    cmocka_unit_test(policy_config_redaction_patterns_are_kept),
    cmocka_unit_test(policy_config_model_routing_defaults_and_values),
};

TR_TEST_MAIN(cases)
