tr_unit_test(text parse LIBS tr_text CASES
    text_html_article_gives_blocks
    text_html_entities_are_decoded
    text_html_drops_script_style_and_comments
    text_html_heading_levels_and_cells
    text_html_broken_input_gives_best_effort
    text_html_deep_nesting_does_not_recurse_forever
    text_markdown_article_gives_blocks
    text_markdown_setext_and_invalid_utf8
    text_plain_splits_on_blank_lines
    text_lower_maps_latin_greek_cyrillic
    text_words_split_on_punctuation
    text_too_large_input_is_refused)
tr_unit_test(text chunk LIBS tr_text CASES
    text_chunk_sections_carry_heading_paths
    text_chunk_packs_blocks_within_budget
    text_chunk_overlap_repeats_the_tail
    text_chunk_long_paragraph_is_split
    text_chunk_long_word_is_cut_at_characters
    text_chunk_rejects_overlap_not_below_budget
    text_chunk_offsets_match_html_plain_text)

# libFuzzer target for the HTML parser and chunking, clang only:
#   cmake -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTR_FUZZ=ON
#   ./tests/fuzz_html -max_total_time=60 <corpus copy> \
#       ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/html
# The text sources are compiled into the target so that they carry the
# fuzzer's coverage instrumentation.
option(TR_FUZZ "Build libFuzzer targets (clang only)" OFF)
if(TR_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    set(tr_text_dir ${CMAKE_SOURCE_DIR}/index/text)
    add_executable(fuzz_html fuzz/fuzz_html.c
        ${tr_text_dir}/text_blocks.c ${tr_text_dir}/text_html.c
        ${tr_text_dir}/text_md.c ${tr_text_dir}/text_chunk.c
        ${tr_text_dir}/text_words.c)
    target_include_directories(fuzz_html PRIVATE ${tr_text_dir})
    target_compile_options(fuzz_html PRIVATE
        -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_html PRIVATE
        -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_html PRIVATE tr_base
                          PkgConfig::XML2 PkgConfig::CMARK)
endif()
