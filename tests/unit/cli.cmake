# The triage binary end to end; these cases run build/triage itself.
tr_unit_test(cli serve LIBS PkgConfig::CURL TIMEOUT 180 CASES
    every_command_has_help_and_rejects_unknown_options
    unknown_command_exits_2_and_version_prints
    config_show_masks_the_database_password
    serve_answers_probes_then_stops_the_cluster_it_started
    serve_reuses_a_running_cluster_and_leaves_it_running
    readyz_turns_503_while_the_database_is_away
    serve_with_unreachable_database_fails_clearly
    tenant_add_takes_the_zendesk_connection_in_one_go)
