tr_unit_test(bm25 index LIBS tr_bm25 CASES
    bm25_scores_match_hand_computation
    bm25_title_tokens_count_with_weight
    bm25_tokenizer_lowercases_splits_and_stems
    bm25_stemming_matches_word_forms
    bm25_round_trips_through_a_buffer
    bm25_reads_version_2_and_refuses_newer
    bm25_bad_settings_and_misuse_are_errors
    bm25_concurrent_searches_agree)
tr_unit_test(bm25 stackfaq LIBS tr_bm25 tr_eval CASES
    bm25_stackfaq_reproduces_reference_figures)
