/*
 * metrics.c
 *      Families, series and the Prometheus text rendering of the metrics
 *      registry.
 *
 * A family keeps its series in a small chained hash table for lookup and
 * in a list for rendering in creation order.  The table is guarded by a
 * read-write lock; the values inside a series are atomics, so updates take
 * no lock at all.  Doubles (gauges, histogram sums) are kept as their bit
 * patterns in 64-bit atomics and changed with a compare-and-swap loop.
 * Histogram buckets are stored per bucket, not cumulated, so that one
 * observation touches one counter; rendering cumulates them and derives
 * _count from the same reads so that the +Inf bucket and _count agree.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define SERIES_HASH 64

struct tr_metric_series {
    struct tr_metric_series *hash_next;
    struct tr_metric_series *next;
    struct tr_metric *family;
    uint64_t hash;
    char **values;
    /* counter count, or the bits of a gauge's double */
    _Atomic uint64_t value;
    /* bits of a histogram's sum of observations */
    _Atomic uint64_t sum_bits;
    /* histogram only: n_bounds + 1 per-bucket counts, the last is +Inf */
    _Atomic uint64_t counts[];
};

struct tr_metric {
    struct tr_metric *next;
    enum tr_metric_type type;
    char *name;
    char *help;
    size_t n_labels;
    char *labels[TR_METRICS_MAX_LABELS];
    size_t n_bounds;
    double bounds[TR_METRICS_MAX_BUCKETS];
    pthread_rwlock_t lock;
    struct tr_metric_series *table[SERIES_HASH];
    struct tr_metric_series *first;
    struct tr_metric_series *last;
    size_t n_series;
};

struct collector {
    tr_metrics_collect_fn fn;
    void *user;
};

struct tr_metrics {
    pthread_mutex_t lock;
    struct tr_metric *first;
    struct tr_metric *last;
    struct collector *collectors;
    size_t n_collectors;
};

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/*
 * A double travels through a 64-bit atomic as its bit pattern; memcpy is
 * the conversion that neither breaks aliasing rules nor rounds.
 */
static uint64_t
dbl_bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    return u;
}

static double
bits_dbl(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

struct tr_metrics *
tr_metrics_new(void)
{
    struct tr_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

/* Free a family with all its series; it must be out of every list. */
static void
family_free(struct tr_metric *f)
{
    struct tr_metric_series *s, *next;

    for (s = f->first; s != NULL; s = next) {
        next = s->next;
        free(s);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    pthread_rwlock_destroy(&f->lock);
    free(f->name);
    free(f->help);
    free(f);
}

void
tr_metrics_free(struct tr_metrics *m)
{
    struct tr_metric *f, *next;

    if (m == NULL)
        return;
    for (f = m->first; f != NULL; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->collectors);
    free(m);
}

/*
 * Metric names allow colons, label names do not; neither may start with
 * a digit.
 */
static bool
valid_name(const char *s, size_t n, bool label)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || (!label && c == ':');

        if (!ok)
            return false;
    }
    return true;
}

/*
 * Split the comma-separated label list into the family, checking each
 * name.  On failure the names already copied are left for family_free().
 */
static enum tr_err
parse_labels(struct tr_metric *f, const char *labels, struct tr_error *err)
{
    const char *p = labels;

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t) (comma - p) : strlen(p);

        if (!valid_name(p, n, true) || (n >= 2 && p[0] == '_' && p[1] == '_'))
            return TR_ERROR(err, TR_E_INVAL,
                            "invalid label name \"%.*s\" in metric \"%s\"",
                            (int) n, p, f->name);
        if (f->type == TR_METRIC_HISTOGRAM && n == 2 && memcmp(p, "le", 2) == 0)
            return TR_ERROR(err, TR_E_INVAL,
                            "label \"le\" is reserved in histogram \"%s\"",
                            f->name);
        if (f->n_labels == TR_METRICS_MAX_LABELS)
            return TR_ERROR(err, TR_E_INVAL,
                            "metric \"%s\" has more than %d labels", f->name,
                            TR_METRICS_MAX_LABELS);

        f->labels[f->n_labels] = strndup(p, n);
        if (f->labels[f->n_labels] == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        f->n_labels++;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return TR_OK;
}

/*
 * Only histograms have bounds.  They must be finite because +Inf is the
 * implicit last bucket, and strictly increasing so that the search in
 * tr_metric_histogram_observe() is well defined.
 */
static enum tr_err
check_bounds(const char *name, enum tr_metric_type type, const double *bounds,
             size_t n_bounds, struct tr_error *err)
{
    if (type != TR_METRIC_HISTOGRAM) {
        if (n_bounds != 0)
            return TR_ERROR(err, TR_E_INVAL,
                            "metric \"%s\" is not a histogram but has buckets",
                            name);
        return TR_OK;
    }
    if (n_bounds == 0 || n_bounds > TR_METRICS_MAX_BUCKETS || bounds == NULL)
        return TR_ERROR(err, TR_E_INVAL,
                        "histogram \"%s\" needs 1 to %d bucket bounds", name,
                        TR_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < n_bounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return TR_ERROR(err, TR_E_INVAL,
                            "bucket bounds of histogram \"%s\" must be finite "
                            "and strictly increasing", name);
    }
    return TR_OK;
}

/* Linear search: families are few and only looked up at setup. */
static struct tr_metric *
family_find(struct tr_metrics *m, const char *name)
{
    for (struct tr_metric *f = m->first; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

enum tr_err
tr_metrics_family_new(struct tr_metrics *m, enum tr_metric_type type,
                      const char *name, const char *help, const char *labels,
                      const double *bounds, size_t n_bounds,
                      struct tr_metric **out, struct tr_error *err)
{
    struct tr_metric *f;
    enum tr_err rc;

    if (name == NULL || !valid_name(name, strlen(name), false))
        return TR_ERROR(err, TR_E_INVAL, "invalid metric name \"%s\"",
                        name != NULL ? name : "(null)");
    if ((unsigned) type > TR_METRIC_HISTOGRAM)
        return TR_ERROR(err, TR_E_INVAL, "invalid type of metric \"%s\"",
                        name);
    rc = check_bounds(name, type, bounds, n_bounds, err);
    if (rc != TR_OK)
        return rc;

    /* Build the family completely before anyone can see it. */
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    pthread_rwlock_init(&f->lock, NULL);
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    if (f->name == NULL || f->help == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    rc = parse_labels(f, labels, err);
    if (rc != TR_OK)
        goto fail;
    f->n_bounds = n_bounds;
    if (n_bounds > 0)
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));

    /* The name check and the insertion happen under one lock. */
    pthread_mutex_lock(&m->lock);
    if (family_find(m, name) != NULL) {
        pthread_mutex_unlock(&m->lock);
        rc = TR_ERROR(err, TR_E_EXISTS, "metric \"%s\" is already registered",
                      name);
        goto fail;
    }
    if (m->last != NULL)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);

    *out = f;
    return TR_OK;

fail:
    family_free(f);
    return rc;
}

/* Collectors live in a small array grown one slot at a time. */
enum tr_err
tr_metrics_collector_add(struct tr_metrics *m, tr_metrics_collect_fn fn,
                         void *user)
{
    struct collector *c;

    pthread_mutex_lock(&m->lock);
    c = realloc(m->collectors, (m->n_collectors + 1) * sizeof(*c));
    if (c == NULL) {
        pthread_mutex_unlock(&m->lock);
        return TR_E_NOMEM;
    }
    c[m->n_collectors].fn = fn;
    c[m->n_collectors].user = user;
    m->collectors = c;
    m->n_collectors++;
    pthread_mutex_unlock(&m->lock);
    return TR_OK;
}

/* FNV-1a over the values, each followed by a byte no value contains. */
static uint64_t
hash_values(size_t n, const char *const *values)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        for (const char *p = values[i]; *p != '\0'; p++)
            h = (h ^ (unsigned char) *p) * 1099511628211ULL;
        h = (h ^ 0xffu) * 1099511628211ULL;
    }
    return h;
}

/* Find a series by hash, then by its values; caller holds the lock. */
static struct tr_metric_series *
series_find(struct tr_metric *f, uint64_t h, const char *const *values)
{
    struct tr_metric_series *s = f->table[h % SERIES_HASH];

    for (; s != NULL; s = s->hash_next) {
        size_t i;

        if (s->hash != h)
            continue;
        for (i = 0; i < f->n_labels; i++)
            if (strcmp(s->values[i], values[i]) != 0)
                break;
        if (i == f->n_labels)
            return s;
    }
    return NULL;
}

/*
 * Make a series in one allocation: the struct, its bucket counts, the
 * array of value pointers and the value strings.
 */
static struct tr_metric_series *
series_make(struct tr_metric *f, uint64_t h, const char *const *values)
{
    size_t n_counts = f->type == TR_METRIC_HISTOGRAM ? f->n_bounds + 1 : 0;
    size_t size = sizeof(struct tr_metric_series) +
                  n_counts * sizeof(uint64_t) + f->n_labels * sizeof(char *);
    struct tr_metric_series *s;
    char *p;

    for (size_t i = 0; i < f->n_labels; i++)
        size += strlen(values[i]) + 1;
    s = calloc(1, size);
    if (s == NULL)
        return NULL;

    /* Counts and sums start at zero bits, which is 0.0 as well. */
    s->family = f;
    s->hash = h;
    s->values = (char **) (void *) &s->counts[n_counts];
    p = (char *) &s->values[f->n_labels];
    for (size_t i = 0; i < f->n_labels; i++) {
        size_t len = strlen(values[i]) + 1;

        memcpy(p, values[i], len);
        s->values[i] = p;
        p += len;
    }
    return s;
}

struct tr_metric_series *
tr_metric_series_get(struct tr_metric *f, const char *const *values)
{
    uint64_t h = hash_values(f->n_labels, values);
    struct tr_metric_series *s;

    /* The common case, an existing series, only takes the read lock. */
    pthread_rwlock_rdlock(&f->lock);
    s = series_find(f, h, values);
    pthread_rwlock_unlock(&f->lock);
    if (s != NULL)
        return s;

    /* Look again under the write lock: another thread may have won. */
    pthread_rwlock_wrlock(&f->lock);
    s = series_find(f, h, values);
    if (s == NULL && f->n_series < TR_METRICS_MAX_SERIES) {
        s = series_make(f, h, values);
        if (s != NULL) {
            s->hash_next = f->table[h % SERIES_HASH];
            f->table[h % SERIES_HASH] = s;
            if (f->last != NULL)
                f->last->next = s;
            else
                f->first = s;
            f->last = s;
            f->n_series++;
        }
    }
    pthread_rwlock_unlock(&f->lock);
    return s;
}

/*
 * Relaxed ordering is enough for every update: a scrape needs each value
 * to be whole, not ordered against other values.
 */
void
tr_metric_counter_add(struct tr_metric_series *s, uint64_t n)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void
tr_metric_gauge_set(struct tr_metric_series *s, double v)
{
    if (s != NULL)
        atomic_store_explicit(&s->value, dbl_bits(v), memory_order_relaxed);
}

/* Add to a double kept as bits, retrying while another thread races. */
static void
add_bits(_Atomic uint64_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        a, &old, dbl_bits(bits_dbl(old) + d), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

void
tr_metric_gauge_add(struct tr_metric_series *s, double d)
{
    if (s != NULL)
        add_bits(&s->value, d);
}

void
tr_metric_histogram_observe(struct tr_metric_series *s, double v)
{
    const struct tr_metric *f;
    size_t lo = 0, hi;

    /* NaN fits no bucket and would poison the sum; it is dropped. */
    if (s == NULL || isnan(v))
        return;
    f = s->family;

    /* Binary search for the first bound >= v; past the end is +Inf. */
    hi = f->n_bounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (v <= f->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
    add_bits(&s->sum_bits, v);
}

/* A histogram's count is the sum of its buckets, read one by one. */
double
tr_metric_series_value(const struct tr_metric_series *s)
{
    uint64_t total = 0;

    if (s == NULL)
        return 0;
    switch (s->family->type) {
    case TR_METRIC_COUNTER:
        return (double) atomic_load(&s->value);
    case TR_METRIC_GAUGE:
        return bits_dbl(atomic_load(&s->value));
    case TR_METRIC_HISTOGRAM:
        for (size_t i = 0; i <= s->family->n_bounds; i++)
            total += atomic_load(&s->counts[i]);
        return (double) total;
    }
    return 0;
}

enum tr_err
tr_metrics_escape(struct tr_buf *out, const char *s, int help)
{
    const char *run = s;
    enum tr_err rc;

    /* Copy unescaped runs whole; only three characters ever change. */
    for (const char *p = s;; p++) {
        const char *rep = NULL;

        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '\n')
            rep = "\\n";
        else if (*p == '"' && !help)
            rep = "\\\"";
        else if (*p != '\0')
            continue;

        rc = tr_buf_append(out, run, (size_t) (p - run));
        if (rc != TR_OK || rep == NULL)
            return rc;
        rc = tr_buf_puts(out, rep);
        if (rc != TR_OK)
            return rc;
        run = p + 1;
    }
}

/*
 * Print a double the way Prometheus reads it: +Inf, -Inf, NaN, or the
 * shortest of %.15g and %.17g that reads back to the same value.
 */
static enum tr_err
put_double(struct tr_buf *out, double v)
{
    char text[40];

    if (isnan(v))
        return tr_buf_puts(out, "NaN");
    if (isinf(v))
        return tr_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    snprintf(text, sizeof(text), "%.15g", v);
    if (strtod(text, NULL) != v)
        snprintf(text, sizeof(text), "%.17g", v);
    return tr_buf_puts(out, text);
}

enum tr_err
tr_metrics_write_header(struct tr_buf *out, const char *name,
                        const char *help, enum tr_metric_type type)
{
    enum tr_err rc;

    rc = tr_buf_printf(out, "# HELP %s ", name);
    if (rc == TR_OK)
        rc = tr_metrics_escape(out, help != NULL ? help : "", 1);
    if (rc == TR_OK)
        rc = tr_buf_printf(out, "\n# TYPE %s %s\n", name,
                           type_names[type <= TR_METRIC_HISTOGRAM ? type : 0]);
    return rc;
}

/*
 * Append `{n1="v1",...,extra="extra_value"}`; nothing when there are no
 * labels at all.  `extra` (the histogram's "le") may be NULL.
 */
static enum tr_err
put_labels(struct tr_buf *out, size_t n, const char *const *names,
           const char *const *values, const char *extra,
           const char *extra_value)
{
    enum tr_err rc = TR_OK;

    if (n == 0 && extra == NULL)
        return TR_OK;
    rc = tr_buf_puts(out, "{");
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        rc = tr_buf_printf(out, "%s%s=\"", i > 0 ? "," : "", names[i]);
        if (rc == TR_OK)
            rc = tr_metrics_escape(out, values[i], 0);
        if (rc == TR_OK)
            rc = tr_buf_puts(out, "\"");
    }
    if (rc == TR_OK && extra != NULL)
        rc = tr_buf_printf(out, "%s%s=\"%s\"", n > 0 ? "," : "", extra,
                           extra_value);
    if (rc == TR_OK)
        rc = tr_buf_puts(out, "}");
    return rc;
}

enum tr_err
tr_metrics_write_sample(struct tr_buf *out, const char *name,
                        size_t n_labels, const char *const *label_names,
                        const char *const *label_values, double value)
{
    enum tr_err rc;

    rc = tr_buf_puts(out, name);
    if (rc == TR_OK)
        rc = put_labels(out, n_labels, label_names, label_values, NULL, NULL);
    if (rc == TR_OK)
        rc = tr_buf_puts(out, " ");
    if (rc == TR_OK)
        rc = put_double(out, value);
    if (rc == TR_OK)
        rc = tr_buf_puts(out, "\n");
    return rc;
}

/*
 * The bucket lines, then _sum and _count, of one histogram series.  The
 * counts are read once each and cumulated here, so the +Inf bucket always
 * equals _count even while other threads observe.
 */
static enum tr_err
render_histogram(struct tr_buf *out, const struct tr_metric *f,
                 struct tr_metric_series *s)
{
    const char *const *names = (const char *const *) f->labels;
    const char *const *values = (const char *const *) s->values;
    uint64_t cum = 0;
    enum tr_err rc = TR_OK;

    for (size_t i = 0; i <= f->n_bounds && rc == TR_OK; i++) {
        struct tr_buf le;

        /* The bound is printed as Prometheus parses it, e.g. "0.005". */
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        tr_buf_init(&le, 64);
        rc = i < f->n_bounds ? put_double(&le, f->bounds[i])
                             : tr_buf_puts(&le, "+Inf");
        if (rc == TR_OK)
            rc = tr_buf_printf(out, "%s_bucket", f->name);
        if (rc == TR_OK)
            rc = put_labels(out, f->n_labels, names, values, "le", le.data);
        if (rc == TR_OK)
            rc = tr_buf_printf(out, " %llu\n", (unsigned long long) cum);
        tr_buf_cleanup(&le);
    }
    if (rc == TR_OK)
        rc = tr_buf_printf(out, "%s_sum", f->name);
    if (rc == TR_OK)
        rc = put_labels(out, f->n_labels, names, values, NULL, NULL);
    if (rc == TR_OK)
        rc = tr_buf_puts(out, " ");
    if (rc == TR_OK)
        rc = put_double(out, bits_dbl(atomic_load(&s->sum_bits)));
    if (rc == TR_OK)
        rc = tr_buf_printf(out, "\n%s_count", f->name);
    if (rc == TR_OK)
        rc = put_labels(out, f->n_labels, names, values, NULL, NULL);
    if (rc == TR_OK)
        rc = tr_buf_printf(out, " %llu\n", (unsigned long long) cum);
    return rc;
}

/*
 * HELP and TYPE, then every series in creation order.  The read lock
 * keeps the list stable while new series may still be added elsewhere.
 */
static enum tr_err
render_family(struct tr_buf *out, struct tr_metric *f)
{
    const char *const *names = (const char *const *) f->labels;
    enum tr_err rc;

    rc = tr_metrics_write_header(out, f->name, f->help, f->type);
    pthread_rwlock_rdlock(&f->lock);
    for (struct tr_metric_series *s = f->first; s != NULL && rc == TR_OK;
         s = s->next) {
        const char *const *values = (const char *const *) s->values;

        /* Counters print as integers through the double path: exact
         * up to 2^53, far beyond what a process counts. */
        if (f->type == TR_METRIC_HISTOGRAM)
            rc = render_histogram(out, f, s);
        else
            rc = tr_metrics_write_sample(out, f->name, f->n_labels, names,
                                         values, tr_metric_series_value(s));
    }
    pthread_rwlock_unlock(&f->lock);
    return rc;
}

/*
 * Run one collector; what a failed collector appended is cut off again so
 * that a scrape never carries half a family.
 */
static enum tr_err
run_collector(struct tr_buf *out, const struct collector *c)
{
    size_t mark = out->len;
    enum tr_err rc = c->fn(out, c->user);

    if (rc == TR_OK)
        return TR_OK;
    out->len = mark;
    if (out->data != NULL)
        out->data[mark] = '\0';
    TR_LOG_WARN("metrics", "collector_failed",
                TR_KVS(TR_KV_STR("err", tr_err_name(rc))),
                "metrics collector failed, its samples are left out");
    return rc == TR_E_TOOBIG ? rc : TR_OK;
}

/*
 * The registry lock is held for the whole scrape so that the family list
 * and the collector array cannot change under it; collectors must
 * therefore not register anything themselves.
 */
enum tr_err
tr_metrics_render(struct tr_metrics *m, struct tr_buf *out)
{
    enum tr_err rc = TR_OK;

    pthread_mutex_lock(&m->lock);
    for (struct tr_metric *f = m->first; f != NULL && rc == TR_OK;
         f = f->next)
        rc = render_family(out, f);
    for (size_t i = 0; i < m->n_collectors && rc == TR_OK; i++)
        rc = run_collector(out, &m->collectors[i]);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
