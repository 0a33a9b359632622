/*
 * redact.h
 *      Replacing personal data in ticket text with typed placeholders,
 *      and putting it back into a stored draft.
 *
 * Built-in detectors find payment card numbers (13 to 19 digits, spaces
 * or dashes allowed, Luhn-checked), IBANs (country, check digits, spaces
 * allowed, mod-97-checked, national length checked for common
 * countries), e-mail addresses, phone numbers (+CC or 00CC international
 * forms, North American (NNN) NNN-NNNN forms, national numbers starting
 * with 0 with 9 to 12 digits; dates are not phones), US social security
 * numbers (NNN-NN-NNNN without the never-issued areas 000, 666 and
 * 900-999, group 00 or serial 0000), IPv4 and IPv6 addresses.  A tenant
 * adds its own patterns (PCRE2, compiled with JIT) by name.
 *
 * Each finding becomes [KIND_n]: CARD, IBAN, EMAIL, PHONE, SSN, IP or the
 * upper-cased tenant name, numbered per kind in order of appearance; the
 * same original text gets the same placeholder within one text, and no
 * placeholder is used that already occurs in the input.  When findings
 * overlap, the longest wins; on equal length the more specific kind
 * (tenant, CARD, IBAN, EMAIL, SSN, IP, PHONE in that order), then the
 * earlier one.  Matching runs in UTF-8 mode that tolerates invalid
 * sequences, and every span starts and ends on a character boundary.
 *
 * The map from placeholders to originals holds personal data: it must
 * never be logged, and tr_redact_map_free() wipes it before freeing.
 *
 * A compiled redactor is read-only: any thread may call
 * tr_redact_text() on a shared one.  Maps belong to one thread at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_REDACT_H
#define TR_REDACT_H

#include <stddef.h>

#include "err.h"

/* Longest text that is redacted, in bytes. */
#define TR_REDACT_TEXT_MAX (4u * 1024 * 1024)

/* Most fields redacted together by tr_redact_fields(). */
#define TR_REDACT_FIELDS_MAX 8

/* Longest tenant pattern name, in bytes. */
#define TR_REDACT_NAME_MAX 32

/* Most tenant patterns per redactor. */
#define TR_REDACT_PATTERNS_MAX 64

struct tr_redact;
struct tr_redact_map;

/* A tenant pattern: a name (letters, digits, '_', starting with a
 * letter) and a PCRE2 regular expression.  Both borrowed. */
struct tr_redact_pattern {
    const char *name;
    const char *regex;
};

/*
 * Compile the built-in detectors and `n_patterns` tenant patterns.  On
 * success *out is owned by the caller and freed with tr_redact_free().
 * Returns TR_E_INVAL naming the pattern for a bad name, a name used
 * twice or equal to a built-in kind, a regex that does not compile (with
 * PCRE2's reason and offset) or one that matches the empty string,
 * TR_E_RANGE past TR_REDACT_PATTERNS_MAX, TR_E_NOMEM.
 */
enum tr_err tr_redact_new(const struct tr_redact_pattern *patterns,
                          size_t n_patterns, struct tr_redact **out,
                          struct tr_error *err);

/*
 * Free a redactor.  NULL is a no-op.
 */
void tr_redact_free(struct tr_redact *r);

/*
 * Redact `len` bytes of `text`.  On success *out is a new NUL-terminated
 * string of *out_len bytes and *map the placeholders used (possibly
 * none); the caller owns both and frees them with free() and
 * tr_redact_map_free().  Returns TR_E_TOOBIG past TR_REDACT_TEXT_MAX,
 * TR_E_INTERNAL when a pattern exceeds PCRE2's match limits (the text is
 * then not redacted at all, so it must not be passed on), TR_E_NOMEM.
 * Thread-safe on a shared redactor.
 */
enum tr_err tr_redact_text(const struct tr_redact *r, const char *text,
                           size_t len, char **out, size_t *out_len,
                           struct tr_redact_map **map,
                           struct tr_error *err);

/*
 * Redact the `n` fields of one message (a ticket's subject and body)
 * with one map: a value found in two fields gets the same placeholder in
 * both, two values never share one, and no new placeholder equals text
 * that occurs literally in any field.  Field i is texts[i] of lens[i]
 * bytes (NULL counts as empty); outs[i] and out_lens[i] receive it
 * redacted.  On success the caller owns every outs[i] (free()) and *map
 * (tr_redact_map_free()); on failure nothing is returned.  Errors as
 * tr_redact_text(), and TR_E_INVAL past TR_REDACT_FIELDS_MAX fields.  A
 * pattern over its limits in any field fails the whole call, so no field
 * is passed on unredacted.  Thread-safe on a shared redactor.
 */
enum tr_err tr_redact_fields(const struct tr_redact *r, size_t n,
                             const char *const *texts, const size_t *lens,
                             char **outs, size_t *out_lens,
                             struct tr_redact_map **map,
                             struct tr_error *err);

/*
 * Replace every placeholder of `map` found in `len` bytes of `text` with
 * its original.  Bracketed words that are not in the map stay as they
 * are.  On success *out is a new NUL-terminated string of *out_len bytes
 * owned by the caller (free()).  Returns TR_E_TOOBIG past
 * TR_REDACT_TEXT_MAX, TR_E_NOMEM.
 */
enum tr_err tr_redact_restore(const struct tr_redact_map *map,
                              const char *text, size_t len, char **out,
                              size_t *out_len, struct tr_error *err);

/*
 * An empty map, to be filled with tr_redact_map_put() from placeholders
 * stored earlier (a draft's), for tr_redact_restore().  NULL when out of
 * memory.
 */
struct tr_redact_map *tr_redact_map_new(void);

/*
 * Add `placeholder` ("[KIND_N]") standing for `original` of `kind` to
 * `map` (all copied).  TR_E_INVAL for a placeholder that is not of that
 * form or is already in the map, TR_E_NOMEM.
 */
enum tr_err tr_redact_map_put(struct tr_redact_map *map,
                              const char *placeholder, const char *kind,
                              const char *original, struct tr_error *err);

/*
 * Number of placeholders in `map`, and the placeholder, kind and original
 * of entry `i` (borrowed from the map; NULL when out of range).  The
 * original is personal data: never log it.
 */
size_t tr_redact_map_count(const struct tr_redact_map *map);
const char *tr_redact_map_placeholder(const struct tr_redact_map *map,
                                      size_t i);
const char *tr_redact_map_kind(const struct tr_redact_map *map, size_t i);
const char *tr_redact_map_original(const struct tr_redact_map *map,
                                   size_t i);

/*
 * Wipe and free a map.  NULL is a no-op.
 */
void tr_redact_map_free(struct tr_redact_map *map);

#endif /* TR_REDACT_H */
