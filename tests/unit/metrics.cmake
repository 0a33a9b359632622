tr_unit_test(metrics registry LIBS tr_metrics CASES
    label_values_are_escaped
    help_escapes_backslash_and_newline_only
    histogram_buckets_are_cumulative
    bad_definitions_are_rejected
    updates_are_exact_across_threads
    collectors_append_and_failures_are_dropped
    series_cap_bounds_cardinality
    render_reports_a_full_buffer)
