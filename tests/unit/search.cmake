tr_unit_test(search hybrid LIBS tr_search CASES
    search_rrf_fuses_hand_made_lists
    search_score_fusion_normalises_each_list
    search_groups_chunks_by_article
    search_hybrid_answers_from_two_threads)
set_target_properties(test_search_hybrid PROPERTIES LINKER_LANGUAGE CXX)
