/*
 * draft.h
 *      Reply drafts that cite their sources sentence by sentence: the
 *      draft record, the offline extractive drafter and the grounding
 *      check.
 *
 * A draft is a list of sentences in the ticket's language.  Each body
 * sentence names the passages it rests on by passage id ("a123#2");
 * greeting and closing sentences are flagged and cite nothing.  The
 * extractive drafter composes a draft from the best retrieved passages;
 * model providers build one with tr_draft_new() and
 * tr_draft_sentence_add().  Whatever made it, a draft goes through
 * tr_draft_ground_check() against the passages it was given, which marks
 * every sentence supported or unsupported and resolves the cited ids to
 * sources (title, URL) for rendering.  Only a fully supported draft may
 * be sent without a person reading it first.
 *
 * Nothing here keeps global state; a draft belongs to one thread at a
 * time, and every function may be called from any thread on its own
 * draft.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_DRAFT_H
#define TR_DRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* err.h has no C++ guard of its own. */
#include "err.h"

/* Longest ticket text (subject and body) the drafter reads, in bytes. */
#define TR_DRAFT_TICKET_MAX ((size_t)1 << 20)

/* Longest passage text accepted, in bytes; retrieval chunks are far
 * shorter, so a longer one is a caller's mistake. */
#define TR_DRAFT_PASSAGE_MAX ((size_t)256 << 10)

/* Longest single draft sentence, in bytes. */
#define TR_DRAFT_SENTENCE_MAX ((size_t)16 << 10)

/* Most citations of one sentence. */
#define TR_DRAFT_CITES_MAX 16

/* Longest language code kept ("pt-BR" fits). */
#define TR_DRAFT_LANG_MAX 16

/*
 * One retrieved passage, as the caller hands it in.  Every pointer is
 * borrowed for the duration of the call that receives it.  `id` is
 * required and unique among the passages of one call; the other strings
 * may be NULL (taken as "").  `text` is the chunk's plain text: blocks
 * joined by blank lines, list items starting with "- " or "3. ".
 */
struct tr_draft_passage {
    const char *id;             /* citation id, e.g. "a123#2" */
    int64_t article_id;
    const char *title;
    const char *url;
    const char *locale;         /* article locale, "de" or "de-de" */
    const char *heading;        /* heading path, "Billing > Refunds" */
    const char *text;
};

/* Flags of a draft sentence. */
#define TR_DRAFT_SENT_GREETING  0x1 /* salutation or opening courtesy */
#define TR_DRAFT_SENT_CLOSING   0x2 /* closing courtesy or sign-off */
#define TR_DRAFT_SENT_STEP      0x4 /* one step of a list, own line */
#define TR_DRAFT_SENT_PARA      0x8 /* starts a new paragraph */

enum tr_draft_verdict {
    TR_DRAFT_UNCHECKED = 0,     /* no grounding check has run */
    TR_DRAFT_EXEMPT,            /* greeting or closing, not checked */
    TR_DRAFT_SUPPORTED,
    TR_DRAFT_UNSUPPORTED
};

/* Reasons for an unsupported verdict (several may be set). */
#define TR_DRAFT_WHY_NO_CITATION    0x01    /* cites nothing */
#define TR_DRAFT_WHY_UNKNOWN_ID     0x02    /* cites an id not given */
#define TR_DRAFT_WHY_LOW_COVERAGE   0x04    /* words not in the sources */
#define TR_DRAFT_WHY_NUMBER         0x08    /* a number not in them */
#define TR_DRAFT_WHY_NEGATION       0x10    /* negation differs */
#define TR_DRAFT_WHY_EMPTY          0x20    /* nothing to check */

struct tr_draft_sentence {
    char *text;                 /* owned by the draft */
    unsigned flags;             /* TR_DRAFT_SENT_* */
    char **cites;               /* passage ids, owned by the draft */
    size_t n_cites;
    enum tr_draft_verdict verdict;
    double score;               /* grounding score in [0, 1] */
    unsigned why;               /* TR_DRAFT_WHY_* when unsupported */
};

/* A cited passage resolved to what a reader can follow. */
struct tr_draft_source {
    char *id;
    int64_t article_id;
    char *title;
    char *url;
};

/*
 * The draft.  Fields are read freely; change them only through the
 * functions below.  Citation marker [n] of a sentence refers to
 * sources[n - 1].
 */
struct tr_draft {
    char lang[TR_DRAFT_LANG_MAX];   /* language it is written in */
    struct tr_draft_sentence *sentences;
    size_t n_sentences;
    size_t cap_sentences;
    struct tr_draft_source *sources;    /* in order of first citation */
    size_t n_sources;
    bool checked;               /* tr_draft_ground_check() has run */
    size_t *unsupported;        /* indexes into sentences */
    size_t n_unsupported;
    /* Set by the extractive drafter when no passage sentence shared a
     * word with the ticket and the opening of the best passage was used
     * instead: the draft is grounded but may not answer the question,
     * so it should not be sent without approval. */
    bool weak_match;
};

/*
 * Options of the extractive drafter.  tr_draft_extractive_opts_default()
 * gives the documented defaults.
 */
struct tr_draft_extractive_opts {
    size_t max_passages;        /* passages drawn from (3) */
    size_t max_sentences;       /* body sentences and steps (8) */
    size_t max_chars;           /* bytes of body text (1200) */
    size_t max_steps;           /* steps kept of one list (10) */
    double k1;                  /* BM25 term saturation (1.2) */
    double b;                   /* BM25 length normalisation (0.75) */
};

/*
 * Options of the grounding check.  tr_draft_ground_opts_default() gives
 * the documented defaults.
 */
struct tr_draft_ground_opts {
    /* Share of the sentence's content words (after lowercasing, accent
     * folding and stemming) that must occur in the cited passages (0.6). */
    double min_coverage;
    /* Every number of the sentence must occur in the cited passages,
     * written the same way (true). */
    bool numbers_exact;
    /* The passage sentence closest to the draft sentence must agree
     * with it on negation (true). */
    bool check_negation;
};

/* Fill `o` with the defaults given in the struct.  Pure. */
void tr_draft_extractive_opts_default(struct tr_draft_extractive_opts *o);

/* Fill `o` with the defaults given in the struct.  Pure. */
void tr_draft_ground_opts_default(struct tr_draft_ground_opts *o);

/*
 * Make an empty draft written in `lang` (an ISO 639-1 code, optionally
 * with a region; NULL or "" give "en").  TR_E_INVAL for a code longer
 * than TR_DRAFT_LANG_MAX - 1 bytes, TR_E_NOMEM.  The caller owns *out
 * and frees it with tr_draft_free().
 */
enum tr_err tr_draft_new(const char *lang, struct tr_draft **out,
                         struct tr_error *err);

/* Free `d` and everything it owns.  NULL is a no-op. */
void tr_draft_free(struct tr_draft *d);

/*
 * Append a sentence of `len` bytes of `text` (copied, surrounding
 * whitespace trimmed) with `flags` (TR_DRAFT_SENT_*) and the `n_cites`
 * passage ids of `cites` (copied; duplicates are kept once).  A greeting
 * or closing sentence may cite nothing; any other sentence that cites
 * nothing is accepted and later found unsupported by the check.
 * TR_E_INVAL for a NULL or blank text, a NULL or empty id or more than
 * TR_DRAFT_CITES_MAX ids; TR_E_TOOBIG beyond TR_DRAFT_SENTENCE_MAX; on
 * any error `d` is unchanged.  Adding clears an earlier check.
 */
enum tr_err tr_draft_sentence_add(struct tr_draft *d, const char *text,
                                  size_t len, unsigned flags,
                                  const char *const *cites, size_t n_cites,
                                  struct tr_error *err);

/*
 * Compose a reply to the ticket text `ticket` (`len` bytes, subject and
 * body, already redacted) written in `lang` (ISO 639-1) from the ranked
 * passages `p` (best first, `n` of them), with options `o` (NULL for the
 * defaults).  When some passage's locale matches `lang` only those are
 * used.  The reply opens with a greeting in `lang` (English when the
 * language has no templates), then the sentences of the best passages
 * that share most terms with the ticket, in passage order, each citing
 * its passage, a list of steps kept whole, then a closing.  When no
 * sentence shares a word with the ticket, the opening of the best
 * passage is used and d->weak_match is set.  The result is the same
 * for the same input.  The draft is not yet checked; its
 * sources are filled.
 *
 * Returns TR_E_NOTFOUND when no passage has usable text: the caller
 * escalates the ticket instead of drafting.  TR_E_INVAL for NULL or
 * blank ticket text, a NULL `p` with n > 0, a passage without id, or an
 * option out of range; TR_E_TOOBIG for a ticket beyond
 * TR_DRAFT_TICKET_MAX or a passage beyond TR_DRAFT_PASSAGE_MAX (the
 * message names it); TR_E_NOMEM.  The caller owns *out and frees it
 * with tr_draft_free(); on error *out is NULL.
 */
enum tr_err tr_draft_extractive(const char *ticket, size_t len,
                                const char *lang,
                                const struct tr_draft_passage *p, size_t n,
                                const struct tr_draft_extractive_opts *o,
                                struct tr_draft **out,
                                struct tr_error *err);

/*
 * Check every sentence of `d` against the passages it cites among
 * `p[0..n)` with options `o` (NULL for the defaults), and rebuild the
 * draft's sources from its citations.  Greeting and closing sentences
 * are exempt.  Any other sentence gets a score in [0, 1] (the share of
 * its content words found in its cited passages, 0 when a number or the
 * negation does not match) and is unsupported when it cites nothing,
 * cites an id not among `p`, scores under min_coverage, has a number the
 * passages lack or disagrees on negation; `why` says which.  Afterwards
 * d->unsupported lists the unsupported sentences in order.
 *
 * Returns TR_OK whatever the verdicts (see tr_draft_grounded()).
 * TR_E_INVAL for a NULL draft, a NULL `p` with n > 0, a passage without
 * id or an option out of range; TR_E_TOOBIG for a passage beyond
 * TR_DRAFT_PASSAGE_MAX; TR_E_NOMEM.  On error the draft's earlier
 * verdicts are cleared and d->checked is false.
 */
enum tr_err tr_draft_ground_check(struct tr_draft *d,
                                  const struct tr_draft_passage *p,
                                  size_t n,
                                  const struct tr_draft_ground_opts *o,
                                  struct tr_error *err);

/*
 * True when `d` has been checked, has at least one body sentence and
 * every body sentence is supported: only then may it be sent without
 * approval.  NULL gives false.  Pure.
 */
bool tr_draft_grounded(const struct tr_draft *d);

/*
 * Render `d` as the plain text a customer reads: greeting, body
 * paragraphs with citation markers ("... [1]"), steps on lines of their
 * own, closing, then the cited articles with their links under a label
 * in the draft's language.  A citation of an id that has no source
 * renders as "[?]".  *out is a new zero-terminated string the caller
 * frees with free(); *out_len (may be NULL) its length.  TR_E_INVAL for
 * a NULL draft, TR_E_NOMEM.
 */
enum tr_err tr_draft_render_text(const struct tr_draft *d, char **out,
                                 size_t *out_len, struct tr_error *err);

/*
 * Render `d` as a JSON object for storage: language, checked, grounded,
 * weak_match, sentences (text, kind, para, cites, verdict, score,
 * reasons), sources (id, article_id as a string, title, url) and the
 * indexes of unsupported sentences.  *out is a new zero-terminated
 * string the caller frees with free().  TR_E_INVAL for a NULL draft,
 * TR_E_NOMEM.
 */
enum tr_err tr_draft_render_json(const struct tr_draft *d, char **out,
                                 struct tr_error *err);

/* Lower-case name of a verdict ("supported", ...), static. */
const char *tr_draft_verdict_name(enum tr_draft_verdict v);

#ifdef __cplusplus
}
#endif

#endif /* TR_DRAFT_H */
