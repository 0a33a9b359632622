tr_unit_test(db core PG LIBS tr_db TIMEOUT 120 CASES
    migrations_apply_once_and_schema_becomes_current
    concurrent_migrations_apply_each_once
    pool_works_as_app_role_without_bypass
    errors_keep_sqlstate_and_map_codes
    lost_connection_maps_to_db_connect
    unreachable_server_is_db_connect
    tenant_setting_ends_with_the_transaction
    commit_after_failed_statement_is_an_error)
tr_unit_test(db rls PG LIBS tr_db CASES
    tenant_cannot_see_or_write_other_tenants_rows
    no_tenant_set_sees_no_rows
    app_role_cannot_disable_row_security
    ledger_is_append_only_and_chained
    draft_cannot_reference_other_tenants_ticket
    every_tenant_table_has_forced_row_security)
tr_unit_test(db cluster LIBS tr_db TIMEOUT 120 CASES
    cluster_is_created_reused_and_keeps_data
    open_and_close_stop_only_a_cluster_they_started
    long_data_dir_gets_a_short_socket_dir
    missing_programs_say_what_to_install
    data_dir_of_another_user_is_refused)
