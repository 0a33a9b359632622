tr_unit_test(vec faiss LIBS tr_vec Threads::Threads m CASES
    vec_flat_finds_each_vector_by_its_id
    vec_file_and_buffer_round_trips_keep_results
    vec_bad_factory_is_a_clean_error
    vec_wrong_dimension_and_empty_index_are_errors
    vec_ivf_needs_training_and_takes_nprobe
    vec_load_rejects_garbage_and_missing_files
    vec_hnsw_recall_is_close_to_flat
    vec_factory_follows_corpus_size
    vec_byte_storage_ranks_like_floats
    vec_pca_keeps_a_low_rank_signal
    vec_concurrent_searches_agree)
set_target_properties(test_vec_faiss PROPERTIES LINKER_LANGUAGE CXX)
