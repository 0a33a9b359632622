# The triage evaluation: metrics, the personal-data scan and the tickets
# file without a database; then whole runs against PostgreSQL with the
# extractive drafter and the fake model server, and the triage binary's
# report and exit codes.  tr_evaltriage holds the command, whose tr_cli_*
# calls resolve against tr_cli.
tr_unit_test(evaltriage metrics LIBS tr_evaltriage tr_cli m
    CASES
    evaltriage_metrics_match_hand_computation
    evaltriage_metrics_without_cases_are_undefined
    evaltriage_pii_scan_finds_only_checked_numbers
    evaltriage_pii_is_found_as_written_or_compact
    evaltriage_tickets_file_errors_name_the_line
    evaltriage_demo_tickets_load_with_every_kind_of_case)
set_target_properties(test_evaltriage_metrics PROPERTIES
                      LINKER_LANGUAGE CXX)

tr_unit_test(evaltriage run PG TIMEOUT 300
    LIBS tr_evaltriage tr_cli tr_kb PkgConfig::CJSON
    SOURCES unit/test_llm_fx.c
    CASES
    evaltriage_demo_set_has_no_leaks_or_injection_misses
    evaltriage_model_requests_carry_no_personal_data
    evaltriage_counts_a_leak_when_stored_text_repeats_it
    evaltriage_refused_input_leaves_no_tenant
    evaltriage_help_center_export_is_read_and_drafts_refused
    evaltriage_json_report_has_exactly_the_metric_keys
    evaltriage_command_reports_usage_and_bad_lines)
set_target_properties(test_evaltriage_run PROPERTIES LINKER_LANGUAGE CXX)
target_compile_definitions(test_evaltriage_run PRIVATE
    FAKE_MODEL="$<TARGET_FILE:fake_model>")
add_dependencies(test_evaltriage_run fake_model triage)
