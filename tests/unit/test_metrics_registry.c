/*
 * test_metrics_registry.c
 *      Families, series, label escaping, histogram buckets and collectors
 *      of the metrics registry, checked on the rendered text.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <pthread.h>
#include <stdlib.h>

#include "metrics.h"

/* Render the whole registry into a fresh string the caller frees. */
static char *
render(struct tr_metrics *m)
{
    struct tr_buf b;

    tr_buf_init(&b, 1 << 20);
    assert_int_equal(tr_metrics_render(m, &b), TR_OK);
    return tr_buf_steal(&b);
}

static struct tr_metric *
family(struct tr_metrics *m, enum tr_metric_type type, const char *name,
       const char *labels, const double *bounds, size_t n_bounds)
{
    struct tr_metric *f = NULL;
    struct tr_error err = {0};

    assert_int_equal(tr_metrics_family_new(m, type, name, "help text",
                                           labels, bounds, n_bounds, &f,
                                           &err),
                     TR_OK);
    assert_non_null(f);
    return f;
}

static void
label_values_are_escaped(void **state)
{
    struct tr_metrics *m = tr_metrics_new();
    struct tr_metric *f = family(m, TR_METRIC_COUNTER, "t_total", "a,b",
                                 NULL, 0);
    const char *v[] = {"q\"uote", "back\\slash\nnl"};
    char *text;

    tr_metric_counter_add(tr_metric_series_get(f, v), 3);
    text = render(m);
    assert_non_null(strstr(text, "# HELP t_total help text\n"
                                 "# TYPE t_total counter\n"));
    assert_non_null(strstr(text,
        "t_total{a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\"} 3\n"));
    free(text);
    tr_metrics_free(m);
}

static void
help_escapes_backslash_and_newline_only(void **state)
{
    struct tr_buf b;

    tr_buf_init(&b, 1024);
    assert_int_equal(tr_metrics_write_header(&b, "x", "a \"q\" \\ b\nc",
                                             TR_METRIC_GAUGE),
                     TR_OK);
    assert_string_equal(b.data, "# HELP x a \"q\" \\\\ b\\nc\n"
                                "# TYPE x gauge\n");
    tr_buf_cleanup(&b);
}

static void
histogram_buckets_are_cumulative(void **state)
{
    static const double bounds[] = {0.005, 0.1, 1, 2.5};
    struct tr_metrics *m = tr_metrics_new();
    struct tr_metric *f = family(m, TR_METRIC_HISTOGRAM, "lat_seconds",
                                 "route", bounds, 4);
    const char *v[] = {"/x"};
    struct tr_metric_series *s = tr_metric_series_get(f, v);
    char *text;

    /* One on a bound (le is inclusive), one between, one past the end. */
    tr_metric_histogram_observe(s, 0.005);
    tr_metric_histogram_observe(s, 0.05);
    tr_metric_histogram_observe(s, 0.1);
    tr_metric_histogram_observe(s, 7);
    text = render(m);
    assert_non_null(strstr(text, "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"
        "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
        "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
        "lat_seconds_bucket{route=\"/x\",le=\"2.5\"} 3\n"
        "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
        "lat_seconds_sum{route=\"/x\"} 7.155\n"
        "lat_seconds_count{route=\"/x\"} 4\n"));
    assert_true(tr_metric_series_value(s) == 4);
    free(text);
    tr_metrics_free(m);
}

static void
bad_definitions_are_rejected(void **state)
{
    static const double down[] = {1, 0.5};
    static const double one[] = {1};
    struct tr_metrics *m = tr_metrics_new();
    struct tr_metric *f = NULL;
    struct tr_error err = {0};

    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_COUNTER, "1abc", "",
                                           NULL, NULL, 0, &f, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "invalid metric name \"1abc\""));
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_COUNTER, "a-b", "",
                                           NULL, NULL, 0, &f, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_COUNTER, "ok", "",
                                           "x,b:c", NULL, 0, &f, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "invalid label name \"b:c\""));
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_COUNTER, "ok", "",
                                           "__x", NULL, 0, &f, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_HISTOGRAM, "h", "",
                                           "le", one, 1, &f, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "reserved"));
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_HISTOGRAM, "h", "",
                                           NULL, down, 2, &f, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "strictly increasing"));
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_HISTOGRAM, "h", "",
                                           NULL, NULL, 0, &f, &err),
                     TR_E_INVAL);

    /* A name can be registered once; the failed attempts left nothing. */
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_GAUGE, "ok", "",
                                           NULL, NULL, 0, &f, &err),
                     TR_OK);
    assert_int_equal(tr_metrics_family_new(m, TR_METRIC_COUNTER, "ok", "",
                                           NULL, NULL, 0, &f, &err),
                     TR_E_EXISTS);
    tr_metrics_free(m);
}

struct hammer {
    struct tr_metric *counter;
    struct tr_metric *gauge;
};

static void *
hammer_run(void *arg)
{
    struct hammer *h = arg;
    const char *v[] = {"same"};

    /* Look the series up every time, so creation races are exercised. */
    for (int i = 0; i < 20000; i++) {
        tr_metric_counter_add(tr_metric_series_get(h->counter, v), 1);
        tr_metric_gauge_add(tr_metric_series_get(h->gauge, NULL), 0.5);
    }
    return NULL;
}

static void
updates_are_exact_across_threads(void **state)
{
    struct tr_metrics *m = tr_metrics_new();
    struct hammer h;
    pthread_t t[4];
    const char *v[] = {"same"};

    h.counter = family(m, TR_METRIC_COUNTER, "c_total", "k", NULL, 0);
    h.gauge = family(m, TR_METRIC_GAUGE, "g", NULL, NULL, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    assert_true(tr_metric_series_value(tr_metric_series_get(h.counter, v)) ==
                80000);
    assert_true(tr_metric_series_value(tr_metric_series_get(h.gauge, NULL)) ==
                40000);
    tr_metric_gauge_set(tr_metric_series_get(h.gauge, NULL), -1.25);
    assert_true(tr_metric_series_value(tr_metric_series_get(h.gauge, NULL)) ==
                -1.25);
    tr_metrics_free(m);
}

static enum tr_err
collect_ok(struct tr_buf *out, void *user)
{
    const char *names[] = {"kind", "state"};
    const char *values[] = {"triage", "queued"};
    enum tr_err rc;

    rc = tr_metrics_write_header(out, "q_jobs", "jobs", TR_METRIC_GAUGE);
    if (rc == TR_OK)
        rc = tr_metrics_write_sample(out, "q_jobs", 2, names, values,
                                     *(int *) user);
    return rc;
}

static enum tr_err
collect_fail(struct tr_buf *out, void *user)
{
    tr_buf_puts(out, "half_written_line{");
    return TR_E_DB_QUERY;
}

static void
collectors_append_and_failures_are_dropped(void **state)
{
    struct tr_metrics *m = tr_metrics_new();
    int depth = 12;
    char *text;

    family(m, TR_METRIC_GAUGE, "first", NULL, NULL, 0);
    assert_int_equal(tr_metrics_collector_add(m, collect_fail, NULL), TR_OK);
    assert_int_equal(tr_metrics_collector_add(m, collect_ok, &depth), TR_OK);
    text = render(m);

    /* Families first (even without series), then collectors in order. */
    assert_non_null(strstr(text, "# TYPE first gauge\n"));
    assert_true(strstr(text, "first") < strstr(text, "q_jobs"));
    assert_non_null(strstr(text,
        "q_jobs{kind=\"triage\",state=\"queued\"} 12\n"));
    assert_null(strstr(text, "half_written_line"));
    free(text);
    tr_metrics_free(m);
}

static void
series_cap_bounds_cardinality(void **state)
{
    struct tr_metrics *m = tr_metrics_new();
    struct tr_metric *f = family(m, TR_METRIC_COUNTER, "c", "id", NULL, 0);
    char id[16];
    const char *v[] = {id};

    for (int i = 0; i < TR_METRICS_MAX_SERIES; i++) {
        snprintf(id, sizeof(id), "%d", i);
        assert_non_null(tr_metric_series_get(f, v));
    }
    snprintf(id, sizeof(id), "one-more");
    assert_null(tr_metric_series_get(f, v));

    /* An update through the failed lookup is a harmless no-op. */
    tr_metric_counter_add(tr_metric_series_get(f, v), 1);
    snprintf(id, sizeof(id), "7");
    assert_non_null(tr_metric_series_get(f, v));
    tr_metrics_free(m);
}

static void
render_reports_a_full_buffer(void **state)
{
    struct tr_metrics *m = tr_metrics_new();
    struct tr_buf b;

    family(m, TR_METRIC_COUNTER, "a_rather_long_metric_name_total", NULL,
           NULL, 0);
    tr_buf_init(&b, 16);
    assert_int_equal(tr_metrics_render(m, &b), TR_E_TOOBIG);
    tr_buf_cleanup(&b);
    tr_metrics_free(m);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(label_values_are_escaped),
    cmocka_unit_test(help_escapes_backslash_and_newline_only),
    cmocka_unit_test(histogram_buckets_are_cumulative),
    cmocka_unit_test(bad_definitions_are_rejected),
    cmocka_unit_test(updates_are_exact_across_threads),
    cmocka_unit_test(collectors_append_and_failures_are_dropped),
    cmocka_unit_test(series_cap_bounds_cardinality),
    cmocka_unit_test(render_reports_a_full_buffer),
};

TR_TEST_MAIN(cases)
