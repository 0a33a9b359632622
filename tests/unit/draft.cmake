# Reply drafts: the extractive drafter and the grounding check.
tr_unit_test(draft extract SOURCES unit/test_draft_fx.c
    LIBS tr_draft PkgConfig::CJSON CASES
    draft_extractive_cites_only_given_passages
    draft_extractive_is_deterministic
    draft_extractive_prefers_locale_matching_passage
    draft_extractive_greets_in_ticket_language
    draft_extractive_keeps_steps_whole
    draft_extractive_respects_caps
    draft_extractive_passes_its_own_grounding
    draft_extractive_flags_a_weak_match
    draft_extractive_keeps_abbreviations_inside_sentences
    draft_render_text_marks_citations
    draft_render_json_keeps_everything
    draft_extractive_without_passages_is_refused
    draft_extractive_refuses_bad_input
    draft_extractive_refuses_huge_passage_by_name)
tr_unit_test(draft ground SOURCES unit/test_draft_fx.c
    LIBS tr_draft PkgConfig::CJSON CASES
    draft_ground_copied_sentence_is_supported
    draft_ground_normalises_case_accents_and_stems
    draft_ground_invented_sentence_is_unsupported
    draft_ground_changed_number_is_unsupported
    draft_ground_flipped_negation_is_unsupported
    draft_ground_missing_citation_is_unsupported
    draft_ground_unknown_id_is_unsupported
    draft_ground_exempts_greeting_and_closing
    draft_ground_lists_unsupported_sentences
    draft_ground_threshold_comes_from_options
    draft_ground_refuses_bad_input
    draft_sentence_add_refuses_bad_input)
