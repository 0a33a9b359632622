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
