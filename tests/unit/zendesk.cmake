tr_unit_test(zendesk webhook LIBS tr_zendesk CASES
    signature_vectors_from_the_sheet_verify
    signature_mismatches_are_rejected
    tampered_body_is_rejected
    missing_headers_and_secret_are_reported
    replayed_and_future_timestamps_are_rejected
    time_parse_accepts_iso_utc_forms
    trigger_payloads_are_normalised
    subscription_payloads_are_normalised
    bad_payloads_get_clear_errors)

# The fake Zendesk server used by the client tests (test code only).
add_executable(fake_zendesk fakes/fake_zendesk.c fakes/fake_api.c
               fakes/fake_control.c)
target_link_libraries(fake_zendesk PRIVATE PkgConfig::MHD PkgConfig::CJSON
                      PkgConfig::CRYPTO Threads::Threads)

tr_unit_test(zendesk client LIBS tr_zendesk CASES
    ticket_and_comments_are_fetched
    export_pages_through_and_resumes_from_cursor
    update_posts_exactly_one_comment
    rate_limit_storm_is_waited_out
    bad_credentials_are_auth_errors
    error_answers_are_mapped
    articles_are_listed_by_cursor
    configuration_errors_are_reported)
target_compile_definitions(test_zendesk_client PRIVATE
    FAKE_ZENDESK="$<TARGET_FILE:fake_zendesk>")
add_dependencies(test_zendesk_client fake_zendesk)

# The webhook sender of the fake, and its test against the verifier.
add_executable(fake_zendesk_send fakes/fake_zendesk_send.c)
target_link_libraries(fake_zendesk_send PRIVATE tr_zendesk
                      PkgConfig::CRYPTO)
tr_unit_test(zendesk sender LIBS tr_zendesk PkgConfig::MHD CASES
    sender_signs_deliveries_that_verify
    sender_wrong_signatures_are_refused
    sender_retries_failed_deliveries)
target_compile_definitions(test_zendesk_sender PRIVATE
    FAKE_ZENDESK_SEND="$<TARGET_FILE:fake_zendesk_send>")
add_dependencies(test_zendesk_sender fake_zendesk_send)

# The webhook route, group commit and ingest job against a real database,
# a loopback server and the fake Zendesk.
tr_unit_test(zendesk ingest PG TIMEOUT 180
    LIBS tr_zendesk PkgConfig::CURL
    SOURCES unit/test_zendesk_ingest_fx.c
    CASES
    webhook_both_payload_styles_are_stored_and_ingested
    webhook_bad_missing_and_replayed_signatures_are_401
    webhook_duplicates_make_one_inbox_row
    webhook_bad_requests_get_their_status
    webhook_concurrent_deliveries_share_commits
    webhook_database_down_is_503_and_nothing_is_lost
    ingest_job_fetches_from_the_fake_and_upserts_once
    rate_limit_storm_slows_ingest_without_loss)
target_compile_definitions(test_zendesk_ingest PRIVATE
    FAKE_ZENDESK="$<TARGET_FILE:fake_zendesk>"
    FAKE_ZENDESK_SEND="$<TARGET_FILE:fake_zendesk_send>")
add_dependencies(test_zendesk_ingest fake_zendesk fake_zendesk_send)

# The cursor pull: crash and resume, recovered counts, metrics.
tr_unit_test(zendesk pull PG TIMEOUT 180
    LIBS tr_zendesk PkgConfig::CURL
    SOURCES unit/test_zendesk_ingest_fx.c
    CASES
    pull_resumes_after_a_crash_on_page_three_without_gap_or_duplicate
    pull_counts_only_tickets_no_webhook_announced
    pull_without_settings_is_a_configuration_error)
target_compile_definitions(test_zendesk_pull PRIVATE
    FAKE_ZENDESK="$<TARGET_FILE:fake_zendesk>")
add_dependencies(test_zendesk_pull fake_zendesk)

# The post-back job: exactly once across a crash, 409 and 429 handling.
tr_unit_test(zendesk postback PG TIMEOUT 180
    LIBS tr_zendesk PkgConfig::CURL
    SOURCES unit/test_zendesk_ingest_fx.c
    CASES
    postback_posts_once_across_a_crash_between_put_and_record
    postback_conflict_refetches_and_records_the_answer
    postback_refuses_drafts_not_approved_and_unknown
    postback_waits_out_a_429_storm_and_posts_once
    postback_restores_placeholders_and_still_posts_once)
target_compile_definitions(test_zendesk_postback PRIVATE
    FAKE_ZENDESK="$<TARGET_FILE:fake_zendesk>")
add_dependencies(test_zendesk_postback fake_zendesk)

# The Help Center sync into the knowledge base.
tr_unit_test(zendesk synckb PG TIMEOUT 180
    LIBS tr_zendesk tr_kb PkgConfig::CURL
    SOURCES unit/test_zendesk_ingest_fx.c
    CASES
    sync_imports_every_page_and_indexes_published_articles
    sync_failing_on_a_later_page_stores_nothing
    sync_by_locale_and_its_errors
    sync_without_settings_is_a_configuration_error)
target_compile_definitions(test_zendesk_synckb PRIVATE
    FAKE_ZENDESK="$<TARGET_FILE:fake_zendesk>")
add_dependencies(test_zendesk_synckb fake_zendesk)
