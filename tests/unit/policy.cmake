tr_unit_test(policy config LIBS tr_policy TIMEOUT 60 CASES
    policy_config_example_loads
    policy_config_default_is_safe
    policy_config_errors_name_the_field
    policy_config_section_errors_name_the_field
    policy_config_bad_regex_quotes_pattern
    policy_config_file_errors_name_the_file
    policy_config_redaction_patterns_are_kept
    policy_config_model_routing_defaults_and_values)
tr_unit_test(policy route LIBS tr_policy PkgConfig::CJSON TIMEOUT 120 CASES
    policy_rule_routes_to_team
    policy_escalation_fires_across_languages
    policy_tenant_escalation_and_builtin_switch
    policy_injection_detector
    policy_section_evidence_picks_team
    policy_passage_injection_is_flagged
    policy_classifier_intent_maps_to_team
    policy_decide_matrix
    policy_decision_json_has_fields
    policy_runaway_pattern_fails_the_ticket
    policy_route_shared_across_threads
    policy_model_answer_below_rules_never_lowers_priority
    policy_model_answer_with_unknown_names_is_refused)
# The command's tr_cli_* calls come from tr_cli, which links every
# module (some in C++).
tr_unit_test(policy store PG LIBS tr_policy tr_cli TIMEOUT 300 CASES
    policy_train_stores_model_that_loads_back
    policy_config_set_validates_then_stores
    policy_command_usage_errors
    policy_route_tables_rls
    policy_train_banking77_accuracy_floor)
set_target_properties(test_policy_store PROPERTIES LINKER_LANGUAGE CXX)
