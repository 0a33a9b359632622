# The fake model provider (OpenAI-compatible chat and embeddings,
# Anthropic Messages) used by the llm and embed tests; test code only.
add_executable(fake_model fakes/fake_model.c)
target_link_libraries(fake_model PRIVATE PkgConfig::MHD PkgConfig::CJSON
                      PkgConfig::CRYPTO Threads::Threads m)
