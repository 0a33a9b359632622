tr_unit_test(kb store PG LIBS tr_kb TIMEOUT 180 CASES
    kb_import_bad_json_line_is_rejected_whole
    kb_reimport_counts_added_updated_unchanged
    kb_tiny_reindex_finds_article_and_skips_drafts
    kb_versions_switch_and_rollback
    kb_unreadable_version_asks_for_reindex
    kb_killed_reindex_leaves_live_version_serving
    kb_live_swap_under_concurrent_searches)
set_target_properties(test_kb_store PROPERTIES LINKER_LANGUAGE CXX)
tr_unit_test(kb cli PG LIBS tr_cli PkgConfig::CJSON TIMEOUT 180 CASES
    kb_search_api_answers_hits_and_errors
    kb_eval_retrieval_json_has_metric_keys)
set_target_properties(test_kb_cli PROPERTIES LINKER_LANGUAGE CXX)
