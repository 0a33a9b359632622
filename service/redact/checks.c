/*
 * checks.c
 *      Validators of the built-in detectors: checksums and ranges that a
 *      regular expression cannot express.
 *
 * Each takes the bytes of a regex match and returns whether they are
 * what the detector claims.  Pure functions, safe from any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <string.h>

#include "redact_int.h"

/* Longest IBAN (Saint Lucia and others), without spaces. */
#define IBAN_MAX 34

/* National IBAN lengths of the countries tickets most often name. */
static const struct {
    char cc[3];
    int len;
} iban_lengths[] = {
    {"AT", 20}, {"BE", 16}, {"CH", 21}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22},
    {"GR", 27}, {"HU", 28}, {"IE", 22}, {"IT", 27}, {"LU", 20},
    {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"RO", 24},
    {"SE", 24}, {"SI", 19}, {"SK", 24},
};

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool
tr_redact__card_ok(const char *s, size_t *len)
{
    int digits[19], n = 0, sum = 0;

    for (size_t i = 0; i < *len; i++) {
        if (!is_digit(s[i]))
            continue;
        if (n == 19)
            return false;
        digits[n++] = s[i] - '0';
    }
    if (n < 13)
        return false;

    /* Luhn: double every second digit from the right. */
    for (int i = n - 1, alt = 0; i >= 0; i--, alt ^= 1) {
        int d = digits[i];

        if (alt) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* mod-97 of an IBAN given without spaces, letters as 10..35. */
static bool
iban_mod97(const char *c, size_t n)
{
    unsigned rem = 0;

    /* The first four characters move to the end. */
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];

        if (is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else if (ch >= 'A' && ch <= 'Z')
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            return false;
    }
    return rem == 1;
}

static bool
iban_length_ok(const char *c, size_t n)
{
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(*iban_lengths);
         i++)
        if (memcmp(iban_lengths[i].cc, c, 2) == 0)
            return (int)n == iban_lengths[i].len;
    return n >= 15 && n <= IBAN_MAX;
}

/*
 * The regex may run past the IBAN into a following group of capitals or
 * digits; try the whole match, then each shorter prefix that ends before
 * a space, and keep the longest that checks.
 */
bool
tr_redact__iban_ok(const char *s, size_t *len)
{
    char c[IBAN_MAX + 8];
    size_t n = 0, end = *len;

    while (end > 0) {
        n = 0;
        for (size_t i = 0; i < end && n <= IBAN_MAX; i++)
            if (s[i] != ' ')
                c[n++] = s[i];
        if (n <= IBAN_MAX && iban_length_ok(c, n) && iban_mod97(c, n)) {
            *len = end;
            return true;
        }
        while (end > 0 && s[end - 1] != ' ')
            end--;
        while (end > 0 && s[end - 1] == ' ')
            end--;
    }
    return false;
}

/* d.d.dddd or d/d/dddd at the start (1-2, 1-2, 4 digits): a date. */
static bool
starts_like_date(const char *s, size_t len)
{
    size_t i = 0, groups[3] = {0, 0, 0};
    char sep = 0;

    for (int g = 0; g < 3; g++) {
        while (i < len && is_digit(s[i])) {
            groups[g]++;
            i++;
        }
        if (g < 2) {
            if (i >= len || (s[i] != '.' && s[i] != '/' && s[i] != '-'))
                return false;
            if (sep != 0 && s[i] != sep)
                return false;
            sep = s[i++];
        }
    }
    return groups[0] >= 1 && groups[0] <= 2 && groups[1] >= 1
           && groups[1] <= 2 && groups[2] == 4;
}

bool
tr_redact__phone_ok(const char *s, size_t *len)
{
    size_t digits = 0;

    for (size_t i = 0; i < *len; i++)
        digits += is_digit(s[i]);
    if (starts_like_date(s, *len))
        return false;
    if (s[0] == '+')
        return digits >= 8 && digits <= 15;
    if (s[0] == '0' && s[1] == '0')
        return digits >= 10 && digits <= 17;
    if (s[0] == '0')
        return digits >= 9 && digits <= 12;
    return digits == 10;        /* North American forms */
}

static int
num(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool
tr_redact__ssn_ok(const char *s, size_t *len)
{
    int area, group, serial;

    if (*len != 11)
        return false;
    area = num(s, 3);
    group = num(s + 4, 2);
    serial = num(s + 7, 4);
    return area != 0 && area != 666 && area < 900 && group != 0
           && serial != 0;
}

bool
tr_redact__ipv4_ok(const char *s, size_t *len)
{
    int octets = 0, v = -1, digits = 0;

    for (size_t i = 0; i <= *len; i++) {
        if (i == *len || s[i] == '.') {
            if (v < 0 || v > 255)
                return false;
            octets++;
            v = -1;
            digits = 0;
        } else {
            /* A leading zero ("010") is not how addresses are written. */
            if (digits == 1 && v == 0)
                return false;
            v = (v < 0 ? 0 : v) * 10 + (s[i] - '0');
            digits++;
        }
    }
    return octets == 4;
}

bool
tr_redact__ipv6_ok(const char *s, size_t *len)
{
    char buf[INET6_ADDRSTRLEN + 8];
    unsigned char addr[16];
    size_t n = *len, hex = 0;

    while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ':'))
        n--;
    /* "::1" and "a::" end in what was trimmed; keep those colons. */
    if (n + 2 <= *len && s[n] == ':' && s[n + 1] == ':')
        n += 2;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        hex += s[i] != ':' && s[i] != '.';
    if (hex == 0 || inet_pton(AF_INET6, buf, addr) != 1)
        return false;
    *len = n;
    return true;
}
