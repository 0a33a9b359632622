# The decision ledger.  tr_ledger holds the `triage ledger` command, whose
# tr_cli_* calls resolve against tr_cli; only the cli cases need it.
tr_unit_test(ledger canon LIBS tr_ledger CASES
    canon_is_independent_of_key_order_and_whitespace
    canon_keeps_numbers_as_written
    canon_escapes_strings_one_way
    canon_rejects_bad_input_clearly
    canon_bounds_nesting_depth
    member_gives_string_bytes_or_canonical_text
    record_hash_follows_the_documented_encoding)
tr_unit_test(ledger chain PG LIBS tr_ledger TIMEOUT 300 CASES
    concurrent_appends_keep_one_chain
    append_returns_the_stored_row
    bad_appends_are_refused_and_write_nothing
    altered_payload_is_found_at_its_row
    rehashed_row_breaks_the_next_link
    removed_rows_are_found
    anchor_and_payload_column_checks
    app_role_cannot_rewrite_history
    tenants_do_not_see_each_others_ledger
    replay_gives_exact_bytes_and_checks_the_hash
    old_format_rows_verify_only_as_a_prefix)
tr_unit_test(ledger cli PG LIBS tr_ledger tr_cli TIMEOUT 300 CASES
    ledger_command_help_and_usage_errors
    ledger_verify_exits_0_then_1_with_the_row
    ledger_replay_prints_exact_bytes_and_checks_the_hash)
set_target_properties(test_ledger_cli PROPERTIES LINKER_LANGUAGE CXX)
