tr_unit_test(lang detect LIBS tr_lang Threads::Threads CASES
    lang_each_language_is_identified
    lang_short_and_empty_text_get_the_default
    lang_mixed_text_answers_one_of_its_languages
    lang_ambiguous_text_falls_back_to_the_default
    lang_language_list_is_checked
    lang_shared_detector_is_safe_across_threads)
