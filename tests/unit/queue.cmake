tr_unit_test(queue ops PG LIBS tr_queue CASES
    enqueue_in_rolled_back_transaction_leaves_no_job
    enqueue_for_another_tenant_inside_transaction_is_refused
    bad_kind_is_rejected
    expired_lease_is_reclaimed_and_old_holder_loses_it
    complete_claim_finishes_one_and_leases_the_next
    release_gives_back_the_attempt
    backoff_doubles_with_bounded_jitter_and_caps
    stats_report_open_jobs_by_kind_and_state)
tr_unit_test(queue pool PG LIBS tr_queue TIMEOUT 180 CASES
    workers_complete_many_jobs_exactly_once
    killed_worker_process_job_is_reclaimed_and_done_once
    failing_job_is_retried_with_growing_delays_then_parked
    notify_wakes_an_idle_worker_fast
    wake_up_follows_the_commit_not_the_enqueue
    stop_lets_running_jobs_finish_within_grace)
