tr_unit_test(eval metrics LIBS tr_eval CASES
    eval_metrics_match_hand_computation
    eval_dataset_loads_stackfaq
    eval_dataset_missing_file_is_an_error
    eval_dataset_bad_lines_name_file_and_line)
tr_unit_test(eval stackfaq LIBS tr_eval TIMEOUT 300 CASES
    eval_stackfaq_hybrid_beats_fts5)
set_target_properties(test_eval_stackfaq PROPERTIES LINKER_LANGUAGE CXX)
