# The fake model provider (OpenAI-compatible chat and embeddings,
# Anthropic Messages) used by the llm and embed tests; test code only.
add_executable(fake_model fakes/fake_model.c)
target_link_libraries(fake_model PRIVATE PkgConfig::MHD PkgConfig::CJSON
                      PkgConfig::CRYPTO Threads::Threads m)

# The drafting providers against the fake.
tr_unit_test(llm providers TIMEOUT 120
    LIBS tr_llm PkgConfig::CJSON
    SOURCES unit/test_llm_fx.c
    CASES
    llm_openai_drafts_cited_sentences
    llm_anthropic_drafts_cited_sentences
    llm_prompt_holds_only_the_given_passages
    llm_429_then_success_honours_retry_after
    llm_500_storm_fails_clearly_after_retries
    llm_timeout_is_reported
    llm_malformed_answers_are_model_errors
    llm_unknown_citation_is_refused
    llm_api_key_is_sent_but_never_logged
    llm_bad_input_and_config_are_refused
    llm_request_build_is_deterministic_and_replays)
target_compile_definitions(test_llm_providers PRIVATE
    FAKE_MODEL="$<TARGET_FILE:fake_model>")
add_dependencies(test_llm_providers fake_model)

# Routing through a model provider: the strict schema and the checks
# of its answer.
tr_unit_test(llm classify TIMEOUT 120
    LIBS tr_llm PkgConfig::CJSON
    SOURCES unit/test_llm_fx.c
    CASES
    llm_classify_sends_the_names_as_enums_of_a_strict_schema
    llm_classify_answers_are_checked_strictly
    llm_classify_anthropic_reads_json_from_text
    llm_classify_failures_map_like_drafts
    llm_classify_bad_input_is_refused)
target_compile_definitions(test_llm_classify PRIVATE
    FAKE_MODEL="$<TARGET_FILE:fake_model>")
add_dependencies(test_llm_classify fake_model)

# The OpenAI embedder test is registered in embed.cmake (included before
# this file); it needs the fake too.
target_compile_definitions(test_embed_openai PRIVATE
    FAKE_MODEL="$<TARGET_FILE:fake_model>")
add_dependencies(test_embed_openai fake_model)
