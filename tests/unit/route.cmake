tr_unit_test(route model LIBS tr_route m TIMEOUT 300 CASES
    route_learns_small_fixture_well_above_chance
    route_abstains_under_the_threshold
    route_calibration_fits_threshold_on_val
    route_oos_class_mode_learns_out_of_scope
    route_model_buffer_round_trips
    route_training_is_deterministic
    route_bad_input_is_refused
    route_margin_confidence_abstains_on_close_calls
    route_default_confidence_is_the_top_probability
    route_older_buffers_still_load
    route_unseen_features_lower_the_probability
    route_oos_weight_raises_out_of_scope_probability
    route_averaged_weights_learn_and_differ
    route_dropout_is_deterministic_and_learns
    route_runs_keep_the_mean_of_the_seeds
    route_word_trigrams_add_features
    route_clinc150_in_scope_accuracy_floor)
