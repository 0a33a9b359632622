/*
 * report.c
 *      The report of a triage evaluation: a table of the metrics and the
 *      tickets that missed, or one JSON object.
 *
 * A ticket "misses" when its team, priority, language or escalation
 * differs from the label, when one of its expected articles is not
 * among the first three retrieved, or when personal data leaked.  Leaks
 * are reported by kind only: the report never repeats personal data.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <string.h>

#include "evaltriage.h"
#include "mem.h"

/* What went wrong with one ticket. */
struct miss {
    bool team;
    bool priority;
    bool language;
    bool escalation;
    bool articles;
    bool leak;
};

static bool
in_top3(const struct tr_evaltriage_outcome *o, const char *id)
{
    for (size_t r = 0; r < o->n_ranked && r < 3; r++)
        if (strcmp(o->ranked[r], id) == 0)
            return true;
    return false;
}

/* Fill `m`; true when anything missed. */
static bool
miss_find(const struct tr_evaltriage_ticket *t,
          const struct tr_evaltriage_outcome *o, struct miss *m)
{
    const struct tr_evaltriage_expect *e = &t->expect;

    memset(m, 0, sizeof(*m));
    m->team = strcmp(o->team, e->team) != 0;
    m->priority = strcmp(o->priority, e->priority) != 0;
    m->language = strcmp(o->language, e->language) != 0;
    m->escalation = o->escalated != e->escalate;
    for (size_t i = 0; i < e->n_articles; i++)
        m->articles |= !in_top3(o, e->articles[i]);
    m->leak = o->n_leaks > 0;
    return m->team || m->priority || m->language || m->escalation ||
           m->articles || m->leak;
}

/* "card, e-mail" for the kinds set in `kinds`, into `b`. */
static void
kinds_text(struct tr_buf *b, unsigned kinds, bool json)
{
    bool first = true;

    for (int k = TR_EVALTRIAGE_PII_EMAIL; k <= TR_EVALTRIAGE_PII_PHONE;
         k++) {
        if (!(kinds & (1u << k)))
            continue;
        tr_buf_puts(b, first ? "" : json ? "," : ", ");
        if (json)
            tr_buf_json_str(b, tr_evaltriage_pii_name(k));
        else
            tr_buf_puts(b, tr_evaltriage_pii_name(k));
        first = false;
    }
}

static void
ranked_text(struct tr_buf *b, const struct tr_evaltriage_outcome *o,
            bool json)
{
    for (size_t r = 0; r < o->n_ranked; r++) {
        tr_buf_puts(b, r == 0 ? "" : json ? "," : ", ");
        if (json)
            tr_buf_json_str(b, o->ranked[r]);
        else
            tr_buf_puts(b, o->ranked[r]);
    }
    if (!json && o->n_ranked == 0)
        tr_buf_puts(b, "nothing");
}

/* ---- text ------------------------------------------------------------- */

static void
text_rate(struct tr_buf *b, const char *name, double v, size_t num,
          size_t den)
{
    if (isnan(v))
        tr_buf_printf(b, "  %-22s %8s %9s\n", name, "-", "none");
    else
        tr_buf_printf(b, "  %-22s %8.4f %4zu/%zu\n", name, v, num, den);
}

static void
text_metrics(struct tr_buf *b, const struct tr_evaltriage_metrics *m)
{
    text_rate(b, "routing accuracy", m->routing_accuracy, m->n_team, m->n);
    text_rate(b, "priority accuracy", m->priority_accuracy, m->n_priority,
              m->n);
    text_rate(b, "escalation precision", m->escalation_precision,
              m->n_esc_correct, m->n_esc_predicted);
    text_rate(b, "escalation recall", m->escalation_recall,
              m->n_esc_correct, m->n_esc_expected);
    if (isnan(m->recall_3)) {
        tr_buf_printf(b, "  %-22s %8s\n  %-22s %8s\n", "recall@3", "-",
                      "MRR", "-");
    } else {
        tr_buf_printf(b, "  %-22s %8.4f  over %zu tickets\n", "recall@3",
                      m->recall_3, m->n_with_articles);
        tr_buf_printf(b, "  %-22s %8.4f\n", "MRR", m->mrr);
    }
    text_rate(b, "language match", m->language_match, m->n_language, m->n);
    tr_buf_printf(b, "  %-22s %8zu  of %zu found in tickets\n", "PII leaks",
                  m->pii_leaks, m->n_pii);
    tr_buf_printf(b, "  %-22s %8zu  of %zu injection tickets\n",
                  "injection failures", m->injection_failures,
                  m->n_injection);
}

static void
text_miss(struct tr_buf *b, const struct tr_evaltriage_ticket *t,
          const struct tr_evaltriage_outcome *o, const struct miss *m)
{
    const struct tr_evaltriage_expect *e = &t->expect;

    tr_buf_printf(b, "  %s (line %zu): %s\n", t->id, t->line, o->action);
    if (m->team)
        tr_buf_printf(b, "    team %s, expected %s\n", o->team, e->team);
    if (m->priority)
        tr_buf_printf(b, "    priority %s, expected %s\n", o->priority,
                      e->priority);
    if (m->language)
        tr_buf_printf(b, "    language %s, expected %s\n", o->language,
                      e->language);
    if (m->escalation)
        tr_buf_printf(b, "    %s\n", o->escalated
                                         ? "escalated, expected a draft"
                                         : e->injection
                                               ? "not escalated: injection"
                                               : "not escalated, expected");
    if (m->articles) {
        tr_buf_puts(b, "    expected");
        for (size_t i = 0; i < e->n_articles; i++)
            tr_buf_printf(b, " %s", e->articles[i]);
        tr_buf_puts(b, " in the top 3; retrieved ");
        ranked_text(b, o, false);
        tr_buf_puts(b, "\n");
    }
    if (m->leak) {
        tr_buf_printf(b, "    %zu piece(s) of personal data stored: ",
                      o->n_leaks);
        kinds_text(b, o->leak_kinds, false);
        tr_buf_puts(b, "\n");
    }
}

static void
text_report(struct tr_buf *b, const struct tr_evaltriage_report *rep,
            const struct tr_evaltriage_opts *o)
{
    const struct tr_evaltriage_set *s = rep->set;
    size_t n_miss = 0;
    struct miss m;

    tr_buf_printf(b, "triage evaluation of %s on %s\n", o->tickets_path,
                  o->kb_path);
    tr_buf_printf(b, "%zu tickets, %zu articles (%zu chunks), drafter %s; "
                  "reindex %.2f s, triage %.2f s\n\n", s->n_tickets,
                  rep->n_articles, rep->n_chunks, rep->drafter,
                  rep->reindex_s, rep->triage_s);
    text_metrics(b, &rep->metrics);

    for (size_t i = 0; i < s->n_tickets; i++) {
        if (!miss_find(&s->tickets[i], &rep->outcomes[i], &m))
            continue;
        if (n_miss++ == 0)
            tr_buf_puts(b, "\nTickets that missed:\n");
        text_miss(b, &s->tickets[i], &rep->outcomes[i], &m);
    }
    if (n_miss == 0)
        tr_buf_puts(b, "\nNo ticket missed.\n");
}

/* ---- JSON ------------------------------------------------------------- */

static void
json_num(struct tr_buf *b, const char *key, double v, bool first)
{
    tr_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
    if (isnan(v))
        tr_buf_puts(b, "null");
    else
        tr_buf_printf(b, "%.4f", v);
}

static void
json_metrics(struct tr_buf *b, const struct tr_evaltriage_metrics *m)
{
    tr_buf_puts(b, "\"metrics\":{");
    json_num(b, "routing_accuracy", m->routing_accuracy, true);
    json_num(b, "priority_accuracy", m->priority_accuracy, false);
    json_num(b, "escalation_precision", m->escalation_precision, false);
    json_num(b, "escalation_recall", m->escalation_recall, false);
    json_num(b, "recall@3", m->recall_3, false);
    json_num(b, "mrr", m->mrr, false);
    json_num(b, "language_match", m->language_match, false);
    tr_buf_printf(b, ",\"pii_leaks\":%zu,\"injection_failures\":%zu}",
                  m->pii_leaks, m->injection_failures);
    tr_buf_printf(b, ",\"counts\":{\"team\":%zu,\"priority\":%zu,"
                  "\"language\":%zu,\"escalation_expected\":%zu,"
                  "\"escalation_predicted\":%zu,\"escalation_correct\":%zu,"
                  "\"with_articles\":%zu,\"injection\":%zu,"
                  "\"pii_found\":%zu}", m->n_team, m->n_priority,
                  m->n_language, m->n_esc_expected, m->n_esc_predicted,
                  m->n_esc_correct, m->n_with_articles, m->n_injection,
                  m->n_pii);
}

static void
json_pair(struct tr_buf *b, const char *key, const char *got,
          const char *want)
{
    tr_buf_printf(b, ",\"%s\":", key);
    tr_buf_json_str(b, got);
    tr_buf_printf(b, ",\"expected_%s\":", key);
    tr_buf_json_str(b, want);
}

static void
json_miss(struct tr_buf *b, const struct tr_evaltriage_ticket *t,
          const struct tr_evaltriage_outcome *o)
{
    const struct tr_evaltriage_expect *e = &t->expect;

    tr_buf_puts(b, "{\"id\":");
    tr_buf_json_str(b, t->id);
    tr_buf_printf(b, ",\"line\":%zu,\"action\":", t->line);
    tr_buf_json_str(b, o->action);
    json_pair(b, "team", o->team, e->team);
    json_pair(b, "priority", o->priority, e->priority);
    json_pair(b, "language", o->language, e->language);
    tr_buf_printf(b, ",\"escalated\":%s,\"expected_escalate\":%s,"
                  "\"injection\":%s,\"expected_articles\":[",
                  o->escalated ? "true" : "false",
                  e->escalate ? "true" : "false",
                  e->injection ? "true" : "false");
    for (size_t i = 0; i < e->n_articles; i++) {
        tr_buf_puts(b, i == 0 ? "" : ",");
        tr_buf_json_str(b, e->articles[i]);
    }
    tr_buf_puts(b, "],\"ranked\":[");
    ranked_text(b, o, true);
    tr_buf_printf(b, "],\"first_rank\":%zu,\"pii_leaks\":%zu,"
                  "\"leaked_kinds\":[", tr_evaltriage_first_rank(t, o),
                  o->n_leaks);
    kinds_text(b, o->leak_kinds, true);
    tr_buf_puts(b, "]}");
}

static void
json_report(struct tr_buf *b, const struct tr_evaltriage_report *rep,
            const struct tr_evaltriage_opts *o)
{
    const struct tr_evaltriage_set *s = rep->set;
    size_t n_miss = 0;
    struct miss m;

    tr_buf_puts(b, "{\"kb\":");
    tr_buf_json_str(b, o->kb_path);
    tr_buf_puts(b, ",\"tickets\":");
    tr_buf_json_str(b, o->tickets_path);
    tr_buf_puts(b, ",\"routing\":");
    tr_buf_json_str(b, o->routing_path);
    tr_buf_puts(b, ",\"drafter\":");
    tr_buf_json_str(b, rep->drafter);
    tr_buf_printf(b, ",\"n_tickets\":%zu,\"n_articles\":%zu,"
                  "\"n_chunks\":%zu,\"reindex_s\":%.3f,\"triage_s\":%.3f,",
                  s->n_tickets, rep->n_articles, rep->n_chunks,
                  rep->reindex_s, rep->triage_s);
    json_metrics(b, &rep->metrics);
    tr_buf_puts(b, ",\"misses\":[");
    for (size_t i = 0; i < s->n_tickets; i++) {
        if (!miss_find(&s->tickets[i], &rep->outcomes[i], &m))
            continue;
        tr_buf_puts(b, n_miss++ == 0 ? "" : ",");
        json_miss(b, &s->tickets[i], &rep->outcomes[i]);
    }
    tr_buf_puts(b, "]}\n");
}

enum tr_err
tr_evaltriage_report_write(const struct tr_evaltriage_report *rep,
                           const struct tr_evaltriage_opts *o, bool json,
                           FILE *f, struct tr_error *err)
{
    struct tr_buf b;
    enum tr_err rc = TR_OK;

    tr_buf_init(&b, 64u * 1024 * 1024);
    if (json)
        json_report(&b, rep, o);
    else
        text_report(&b, rep, o);
    if (b.data == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for the report");
    else if (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0)
        rc = TR_ERROR(err, TR_E_IO, "could not write the report");
    tr_buf_cleanup(&b);
    return rc;
}
