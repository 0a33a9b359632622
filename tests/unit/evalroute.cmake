# tr_evalroute holds the `triage eval routing` command, whose tr_cli_*
# calls resolve against tr_cli; the tests call the library directly.
tr_unit_test(evalroute metrics LIBS tr_evalroute tr_cli PkgConfig::CJSON m
    CASES
    evalroute_metrics_match_hand_computation
    evalroute_metrics_without_oos_are_undefined
    evalroute_run_on_fixture_writes_json_report
    evalroute_missing_dataset_is_an_error)
set_target_properties(test_evalroute_metrics PROPERTIES
                      LINKER_LANGUAGE CXX)
