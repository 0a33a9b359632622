/*
 * metrics.h
 *      A registry of counters, gauges and histograms with label sets, and
 *      its rendering in the Prometheus text exposition format 0.0.4.
 *
 * A family (one metric name, one help text, fixed label names) holds
 * series, one per combination of label values.  Series are created on
 * first use and live as long as the registry, so a caller may keep the
 * pointer and update it without any lookup.  Updates are lock-free
 * atomics; looking a series up takes a read lock on its family, creating
 * one a write lock.  Collectors are callbacks that append their own text
 * at scrape time, for figures that are cheaper to read than to track
 * (queue depths, pool sizes).  Families and collectors are registered at
 * start, before other threads use the registry; everything else may be
 * called from any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_METRICS_H
#define TR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mem.h"

/* Most series one family accepts, against label values from the outside. */
#define TR_METRICS_MAX_SERIES 4096

/* Most label names of one family. */
#define TR_METRICS_MAX_LABELS 8

/* Most bucket bounds of one histogram. */
#define TR_METRICS_MAX_BUCKETS 32

enum tr_metric_type {
    TR_METRIC_COUNTER = 0,
    TR_METRIC_GAUGE,
    TR_METRIC_HISTOGRAM
};

struct tr_metrics;
struct tr_metric;
struct tr_metric_series;

/*
 * A collector appends complete exposition text (HELP and TYPE lines, then
 * samples) to `out` at scrape time.  It returns TR_OK, or an error; on an
 * error whatever it appended is dropped and the scrape goes on without
 * it.  It runs on the thread that renders and must not block for long.
 */
typedef enum tr_err (*tr_metrics_collect_fn)(struct tr_buf *out, void *user);

/*
 * Create an empty registry.  Returns NULL when out of memory.  The caller
 * owns it and frees it with tr_metrics_free().
 */
struct tr_metrics *tr_metrics_new(void);

/*
 * Free the registry with every family and series in it; pointers to them
 * become invalid.  No other thread may use it any more.  NULL is a no-op.
 */
void tr_metrics_free(struct tr_metrics *m);

/*
 * Register a family.  `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; `help`
 * is free text; `labels` is a comma-separated list of label names
 * ("route,method,status"), each [a-zA-Z_][a-zA-Z0-9_]* and not starting
 * with "__", or NULL or "" for none.  For a histogram, `bounds` holds
 * `n_bounds` finite upper bounds in strictly increasing order (the +Inf
 * bucket is implicit) and "le" is not a valid label name; for the other
 * types pass NULL and 0.  On success *out is the family, borrowed, valid
 * until the registry is freed.  Returns TR_E_INVAL for a bad name, label
 * or bound list, TR_E_EXISTS when the name is taken, TR_E_NOMEM.  Call at
 * start, before other threads use the registry.
 */
enum tr_err tr_metrics_family_new(struct tr_metrics *m,
                                  enum tr_metric_type type, const char *name,
                                  const char *help, const char *labels,
                                  const double *bounds, size_t n_bounds,
                                  struct tr_metric **out,
                                  struct tr_error *err);

/*
 * Register a collector, called at every scrape after the families, in
 * registration order.  `user` is borrowed and must stay valid while the
 * registry lives.  Returns TR_E_NOMEM or TR_OK.  Call at start.
 */
enum tr_err tr_metrics_collector_add(struct tr_metrics *m,
                                     tr_metrics_collect_fn fn, void *user);

/*
 * Return the series of `f` for the label values `values` (one per label
 * name of the family, in the same order; NULL when the family has no
 * labels), creating it on first use.  Values may hold any bytes but NUL;
 * they are escaped when rendered.  Returns NULL when out of memory or
 * when the family already holds TR_METRICS_MAX_SERIES series; every
 * update function accepts NULL and then does nothing, so a failed lookup
 * loses a sample but never crashes.  The series is borrowed, valid until
 * the registry is freed.  Any thread.
 */
struct tr_metric_series *tr_metric_series_get(struct tr_metric *f,
                                              const char *const *values);

/*
 * Add `n` to a counter series.  Any thread, lock-free.
 */
void tr_metric_counter_add(struct tr_metric_series *s, uint64_t n);

/*
 * Set a gauge series to `v`, or add `d` (which may be negative) to it.
 * Any thread, lock-free.
 */
void tr_metric_gauge_set(struct tr_metric_series *s, double v);
void tr_metric_gauge_add(struct tr_metric_series *s, double d);

/*
 * Record one observation `v` in a histogram series.  Any thread,
 * lock-free.
 */
void tr_metric_histogram_observe(struct tr_metric_series *s, double v);

/*
 * Read a series' current value: the count of a counter, the value of a
 * gauge, the number of observations of a histogram.  0 for NULL.  Any
 * thread; meant for tests and for collectors.
 */
double tr_metric_series_value(const struct tr_metric_series *s);

/*
 * Append the whole registry in the text exposition format to `out`:
 * every family with its HELP and TYPE lines (families without series
 * too), then what the collectors add.  Returns TR_E_TOOBIG when `out`'s
 * cap is reached, TR_E_NOMEM; `out` then holds a partial text.  Any
 * thread.
 */
enum tr_err tr_metrics_render(struct tr_metrics *m, struct tr_buf *out);

/*
 * Helpers for collectors.  tr_metrics_write_header() appends the HELP and
 * TYPE lines of a family (`help` escaped).  tr_metrics_write_sample()
 * appends one sample line `name{l1="v1",...} value`, with `n_labels`
 * names and values (values escaped: backslash, double quote and newline).
 * Both return what tr_buf_append() returns.
 */
enum tr_err tr_metrics_write_header(struct tr_buf *out, const char *name,
                                    const char *help,
                                    enum tr_metric_type type);
enum tr_err tr_metrics_write_sample(struct tr_buf *out, const char *name,
                                    size_t n_labels,
                                    const char *const *label_names,
                                    const char *const *label_values,
                                    double value);

/*
 * Append `s` escaped as a label value (without the quotes) or, with
 * `help`, as a HELP text (only backslash and newline escaped).
 */
enum tr_err tr_metrics_escape(struct tr_buf *out, const char *s, int help);

#endif /* TR_METRICS_H */
