/*
 * pii.c
 *      The evaluation's own scan for personal data in ticket text, and
 *      the check of stored text for what it found.
 *
 * The detectors are written by hand, without the redactor's patterns,
 * so that a gap in the redactor shows up as a leak instead of being
 * missed by the same mistake twice.  They cover the kinds a labelled
 * set is expected to carry: e-mail addresses, payment card numbers,
 * IBANs and international phone numbers.  They are deliberately plain:
 * a false find only costs a search of stored text for a string that is
 * not there.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <string.h>

#include "evaltriage.h"

#define MAX_NUMBER 40           /* longest number run looked at */

static bool
is_alnum(char c)
{
    return isalnum((unsigned char) c) != 0;
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
email_local(char c)
{
    return is_alnum(c) || strchr("._%+-", c) != NULL;
}

static bool
email_domain(char c)
{
    return is_alnum(c) || c == '.' || c == '-';
}

/* Add `len` bytes at `s` as a finding of `kind` unless already there. */
static void
add(struct tr_evaltriage_pii *out, size_t *n, size_t max,
    enum tr_evaltriage_pii_kind kind, const char *s, size_t len)
{
    struct tr_evaltriage_pii p = {kind, "", ""};
    size_t j = 0;

    if (*n >= max || len == 0 || len >= sizeof(p.text))
        return;
    memcpy(p.text, s, len);
    p.text[len] = '\0';
    if (kind != TR_EVALTRIAGE_PII_EMAIL)
        for (size_t i = 0; i < len; i++)
            if (is_alnum(s[i]) || s[i] == '+')
                p.compact[j++] = s[i];
    p.compact[j] = '\0';
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i].text, p.text) == 0)
            return;
    out[(*n)++] = p;
}

/*
 * An e-mail address around the '@' at `at`: a local part before it, a
 * domain with a dot after it, ending in two letters or more.  Returns
 * the end of the address or NULL.
 */
static const char *
email_at(const char *text, const char *at, const char **start)
{
    const char *b = at, *e = at + 1, *dot;

    while (b > text && email_local(b[-1]))
        b--;
    while (email_domain(*e))
        e++;
    while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
        e--;
    if (b == at || e == at + 1)
        return NULL;
    dot = NULL;
    for (const char *q = at + 1; q < e; q++)
        if (*q == '.')
            dot = q;
    if (dot == NULL || e - dot < 3)
        return NULL;
    *start = b;
    return e;
}

static bool
luhn_ok(const char *digits, size_t n)
{
    int sum = 0;

    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';

        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/*
 * A run of digits from `s` with single spaces or dashes between them.
 * Copies the digits into `digits` (at most MAX_NUMBER) and returns the
 * end of the run (after its last digit).
 */
static const char *
digit_run(const char *s, const char *seps, char *digits, size_t *n)
{
    const char *end = s;

    *n = 0;
    while (*n < MAX_NUMBER) {
        if (is_digit(*s)) {
            digits[(*n)++] = *s++;
            end = s;
        } else if (*s != '\0' && strchr(seps, *s) != NULL && *n > 0 &&
                   (is_digit(s[1]) ||
                    (s[1] != '\0' && strchr(seps, s[1]) && is_digit(s[2])))) {
            s++;
        } else {
            break;
        }
    }
    return end;
}

/* A card number starting at the digit `s`; returns its end or NULL. */
static const char *
card_at(const char *s)
{
    char digits[MAX_NUMBER];
    size_t n;
    const char *end = digit_run(s, " -", digits, &n);

    if (n < 13 || n > 19 || is_alnum(*end) || !luhn_ok(digits, n))
        return NULL;
    return end;
}

/* An international phone number at the '+' `s`; its end or NULL. */
static const char *
phone_at(const char *s)
{
    char digits[MAX_NUMBER];
    size_t n;
    const char *end;

    if (!is_digit(s[1]))
        return NULL;
    end = digit_run(s + 1, " -.()", digits, &n);
    if (n < 8 || n > 15 || is_alnum(*end))
        return NULL;
    return end;
}

/* Whether the compact IBAN `c` (`n` characters) passes mod 97. */
static bool
iban_ok(const char *c, size_t n)
{
    unsigned rem = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = c[(i + 4) % n];

        if (is_digit(ch))
            rem = (rem * 10 + (unsigned) (ch - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned) (ch - 'A' + 10)) % 97;
    }
    return rem == 1;
}

/*
 * An IBAN at `s`: two capital letters, two check digits, then capital
 * letters and digits in groups separated by single spaces, 15 to 34 in
 * all.  The longest prefix that ends on a group boundary and passes the
 * check wins.  Returns its end or NULL.
 */
static const char *
iban_at(const char *s)
{
    char c[35];
    const char *ends[35] = {0}, *p = s, *best = NULL;
    size_t n = 0;

    if (!is_upper(s[0]) || !is_upper(s[1]) || !is_digit(s[2]) ||
        !is_digit(s[3]))
        return NULL;
    while (n < 34) {
        if (is_upper(*p) || is_digit(*p)) {
            c[n++] = *p++;
            ends[n] = p;
        } else if (*p == ' ' && n >= 4 && (is_upper(p[1]) ||
                                           is_digit(p[1]))) {
            p++;
        } else {
            break;
        }
    }
    for (size_t k = n; k >= 15 && best == NULL; k--)
        if (!is_alnum(*ends[k]) && iban_ok(c, k))
            best = ends[k];
    return best;
}

void
tr_evaltriage_pii_scan(const char *text, struct tr_evaltriage_pii *out,
                       size_t *n, size_t max)
{
    const char *p = text, *start, *end;

    while (*p != '\0') {
        bool boundary = p == text || !is_alnum(p[-1]);

        end = NULL;
        start = p;
        if (*p == '@')
            end = email_at(text, p, &start);
        else if (boundary && is_digit(*p))
            end = card_at(p);
        else if (boundary && *p == '+')
            end = phone_at(p);
        else if (boundary && is_upper(*p))
            end = iban_at(p);

        if (end == NULL) {
            p++;
            continue;
        }
        add(out, n, max,
            *p == '@' ? TR_EVALTRIAGE_PII_EMAIL
            : is_digit(*p) ? TR_EVALTRIAGE_PII_CARD
            : *p == '+' ? TR_EVALTRIAGE_PII_PHONE : TR_EVALTRIAGE_PII_IBAN,
            start, (size_t) (end - start));
        p = end;
    }
}

bool
tr_evaltriage_pii_in(const struct tr_evaltriage_pii *p, const char *text)
{
    if (text == NULL || p->text[0] == '\0')
        return false;
    if (strstr(text, p->text) != NULL)
        return true;
    return p->compact[0] != '\0' && strstr(text, p->compact) != NULL;
}

const char *
tr_evaltriage_pii_name(enum tr_evaltriage_pii_kind kind)
{
    switch (kind) {
    case TR_EVALTRIAGE_PII_EMAIL: return "e-mail";
    case TR_EVALTRIAGE_PII_CARD: return "card";
    case TR_EVALTRIAGE_PII_IBAN: return "IBAN";
    case TR_EVALTRIAGE_PII_PHONE: return "phone";
    }
    return "unknown";
}
