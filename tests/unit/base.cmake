tr_unit_test(base conf LIBS tr_base CASES
    conf_defaults_are_valid
    conf_file_overrides_defaults
    conf_env_overrides_file
    conf_file_with_unknown_key_is_rejected_whole
    conf_bad_number_names_file_and_line
    conf_size_suffixes_are_understood
    conf_mask_hides_passwords
    conf_show_never_prints_the_password
    conf_listen_split_handles_ipv6)
tr_unit_test(base mem LIBS tr_base CASES
    arena_allocations_are_aligned_and_zeroed
    arena_large_allocation_gets_own_block
    arena_reset_keeps_one_block
    buf_refuses_to_grow_past_cap
    buf_json_escape_quotes_controls_and_bad_utf8)
tr_unit_test(base log LIBS tr_base CASES
    log_json_line_has_leading_keys_in_order
    log_text_line_quotes_values_with_spaces
    log_level_filters_lines
    log_req_id_is_per_thread)
tr_unit_test(base err LIBS tr_base CASES
    err_names_slugs_and_statuses
    err_set_fills_detail)
