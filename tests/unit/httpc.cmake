tr_unit_test(httpc policy LIBS tr_httpc m CASES
    policy_retries_transport_errors_and_listed_statuses
    policy_obeys_x_should_retry
    retry_after_forms_are_parsed
    delay_honours_server_wait_within_cap
    delay_over_cap_follows_the_preset
    backoff_doubles_to_eight_seconds_with_jitter
    bucket_limits_rate_and_refills
    status_map_and_query_escape)
tr_unit_test(httpc client LIBS tr_httpc PkgConfig::MHD m CASES
    retries_500_and_429_then_succeeds
    retry_after_ms_and_date_are_honoured
    x_should_retry_false_stops_retries
    retry_after_over_cap_gives_up_or_clamps
    body_over_cap_is_toobig_and_not_retried
    slow_answer_times_out_and_is_retried
    connection_refused_is_upstream_error
    put_sends_body_headers_and_method
    budget_hook_delays_attempts)
