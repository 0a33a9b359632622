tr_unit_test(tok spm LIBS tr_tok CASES
    tok_train_encode_decode_round_trip
    tok_unseen_characters_need_byte_fallback
    tok_pieces_spell_the_text
    tok_training_is_deterministic
    tok_tiny_corpus_gets_smaller_vocab
    tok_tiny_corpus_below_minimum_relaxes_limit
    tok_train_without_text_is_rejected
    tok_model_survives_buffer_and_file
    tok_load_errors_are_reported
    tok_decode_rejects_bad_ids)
set_target_properties(test_tok_spm PROPERTIES LINKER_LANGUAGE CXX)
