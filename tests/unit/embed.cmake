tr_unit_test(embed local LIBS tr_embed CASES
    embed_local_is_deterministic_and_round_trips
    embed_local_neighbours_make_sense
    embed_bad_input_is_refused)
