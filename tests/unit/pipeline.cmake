# The triage pipeline end to end: knowledge base, redaction, routing,
# drafting offline and through the fake model server, the record.
tr_unit_test(pipeline run PG TIMEOUT 300
    LIBS tr_pipeline tr_kb tr_ledger tr_policy PkgConfig::CJSON
    SOURCES unit/test_llm_fx.c
    CASES
    pipeline_drafts_a_cited_reply_without_personal_data
    pipeline_replay_gives_the_hashed_input
    pipeline_rerun_of_a_job_writes_nothing_twice
    pipeline_escalates_threats_and_tickets_without_articles
    pipeline_unknown_ticket_is_reported
    pipeline_auto_send_enqueues_the_post_back
    pipeline_model_receives_only_redacted_text
    pipeline_model_failure_falls_back_or_escalates
    pipeline_tenant_patterns_and_one_map_for_subject_and_body
    pipeline_keeps_originals_of_the_placeholders_a_draft_uses
    pipeline_sees_a_new_configuration_and_classifier_at_once
    pipeline_cache_keeps_only_the_tenants_used_last
    pipeline_model_routes_a_ticket_no_rule_decides
    pipeline_rule_and_escalation_stand_over_the_model
    pipeline_model_answer_off_the_list_is_refused
    pipeline_model_routing_failure_leaves_the_ticket_triaged)
set_target_properties(test_pipeline_run PROPERTIES LINKER_LANGUAGE CXX)
target_compile_definitions(test_pipeline_run PRIVATE
    FAKE_MODEL="$<TARGET_FILE:fake_model>")
add_dependencies(test_pipeline_run fake_model)
