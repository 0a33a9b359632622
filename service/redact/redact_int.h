/*
 * redact_int.h
 *      Checks and spans shared by the files of the redactor.
 *
 * A validator looks at one regex match and says whether it is the kind
 * of data it claims to be; it may shorten the match (an IBAN followed by
 * more letters, an IPv6 address followed by a full stop) by lowering
 * *len.  Validators are pure functions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_REDACT_INT_H
#define TR_REDACT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "redact.h"

typedef bool tr_redact__check_fn(const char *s, size_t *len);

/* Luhn-valid card number of 13 to 19 digits (spaces and dashes skipped). */
bool tr_redact__card_ok(const char *s, size_t *len);

/* IBAN with a valid mod-97 remainder; trims trailing space groups. */
bool tr_redact__iban_ok(const char *s, size_t *len);

/* Phone number with a plausible digit count that is not a date. */
bool tr_redact__phone_ok(const char *s, size_t *len);

/* US SSN outside the never-issued ranges. */
bool tr_redact__ssn_ok(const char *s, size_t *len);

/* Dotted IPv4 address with octets up to 255. */
bool tr_redact__ipv4_ok(const char *s, size_t *len);

/* IPv6 address as inet_pton() reads it; trims trailing '.' and ':'. */
bool tr_redact__ipv6_ok(const char *s, size_t *len);

/* One finding: a byte span and the detector that made it. */
struct tr_redact__span {
    size_t start;
    size_t len;
    int det;                    /* index of the detector */
    int rank;                   /* lower is more specific */
};

/*
 * Write `text` with the `n` spans of `v` (sorted, not overlapping)
 * replaced by placeholders named after kinds[v[i].det], and the map of
 * them.  The caller owns *out (free()) and *map
 * (tr_redact_map_free()).  Returns TR_E_NOMEM.
 */
enum tr_err tr_redact__apply(const char *text, size_t len,
                             const struct tr_redact__span *v, size_t n,
                             const char *const *kinds, char **out,
                             size_t *out_len, struct tr_redact_map **map);

#endif /* TR_REDACT_INT_H */
