/*
 * canon.c
 *      Canonical JSON for ledger payloads, and reading one member back.
 *
 * The ledger hashes the payload as text, so the text must not depend on
 * who wrote it: the same members in another order, other whitespace or
 * other string escapes must give the same bytes.  A small parser of its
 * own is used rather than cJSON because cJSON keeps numbers as doubles
 * and would rewrite them (1.50 becomes 1.5); here numbers are kept as
 * written and only validated.  The rules are stated at
 * tr_ledger_json_canon() in ledger.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "mem.h"

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    struct tr_error *err;
};

/* One object member while its object is being sorted. */
struct member {
    char *key;
    size_t key_len;
    char *val;
    size_t val_len;
};

static enum tr_err parse_value(struct parser *p, struct tr_buf *out);

/* A parse error naming the byte offset, so a writer can find the spot in
 * a large payload. */
static enum tr_err
bad(struct parser *p, const char *what)
{
    return TR_ERROR(p->err, TR_E_PARSE, "invalid JSON at byte %zu: %s",
                    p->pos, what);
}

/* Map a tr_buf failure to an error that names the limit. */
static enum tr_err
grown(struct parser *p, enum tr_err rc)
{
    if (rc == TR_E_TOOBIG)
        return TR_ERROR(p->err, rc, "ledger payload exceeds %u bytes",
                        TR_LEDGER_PAYLOAD_MAX);
    return TR_ERROR(p->err, rc, "out of memory canonicalising JSON");
}

/* RFC 8259 whitespace only: a form feed or NBSP is an error, not space. */
static void
skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
                               || p->s[p->pos] == '\n'
                               || p->s[p->pos] == '\r'))
        p->pos++;
}

/* The value of a hex digit of either case, or -1. */
static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p->pos into *cp; advances past them. */
static enum tr_err
read_hex4(struct parser *p, unsigned *cp)
{
    *cp = 0;
    if (p->len - p->pos < 4)
        return bad(p, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p->s[p->pos + i]);

        if (d < 0)
            return bad(p, "bad hex digit in \\u escape");
        *cp = *cp * 16 + (unsigned)d;
    }
    p->pos += 4;
    return TR_OK;
}

/* Append code point `cp` (a valid scalar value) as UTF-8.  Escapes are
 * decoded so that "\u00e9" and "\xc3\xa9" written raw give the same
 * canonical bytes. */
static enum tr_err
put_utf8(struct tr_buf *b, unsigned cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return tr_buf_append(b, u, n);
}

/* A \u escape (p->pos after the 'u'), with its low surrogate if any. */
static enum tr_err
decode_u_escape(struct parser *p, struct tr_buf *raw)
{
    unsigned cp, lo;
    enum tr_err rc;

    rc = read_hex4(p, &cp);
    if (rc != TR_OK)
        return rc;

    /* PostgreSQL text and jsonb have no NUL; refuse it here rather than
     * let the insert fail further down with a vaguer message. */
    if (cp == 0)
        return bad(p, "\\u0000 cannot be stored");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return bad(p, "lone low surrogate");

    /* A high surrogate must be followed by \u and a low one: a lone half
     * has no UTF-8 form, so it could not be stored as text. */
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\'
            || p->s[p->pos + 1] != 'u')
            return bad(p, "lone high surrogate");
        p->pos += 2;
        rc = read_hex4(p, &lo);
        if (rc != TR_OK)
            return rc;
        if (lo < 0xdc00 || lo > 0xdfff)
            return bad(p, "high surrogate without low surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }

    rc = put_utf8(raw, cp);
    return rc == TR_OK ? TR_OK : grown(p, rc);
}

/* The length of the well-formed UTF-8 sequence at s (n bytes left), or 0
 * when it is not one: overlong forms, surrogates and values past
 * U+10FFFF are refused. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    size_t need;
    unsigned cp;

    /* The lead byte gives the length; 0x80-0xc1 and 0xf5-0xff never
     * start a sequence. */
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }

    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }

    /* The shortest form only, so one character has one encoding. */
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return need;
}

/* One escape after a backslash (p->pos at the character after it). */
static enum tr_err
decode_escape(struct parser *p, struct tr_buf *raw)
{
    /* The short escapes of RFC 8259 and the bytes they stand for. */
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    char c;

    if (p->pos >= p->len)
        return bad(p, "unterminated string");
    c = p->s[p->pos++];

    if (c == 'u')
        return decode_u_escape(p, raw);
    hit = c != '\0' ? strchr(from, c) : NULL;
    if (hit == NULL)
        return bad(p, "unknown escape");
    if (tr_buf_append(raw, &to[hit - from], 1) != TR_OK)
        return grown(p, TR_E_TOOBIG);
    return TR_OK;
}

/*
 * Decode the string at p->pos (its opening quote) into `raw`, checking
 * escapes and UTF-8; p->pos ends after the closing quote.
 */
static enum tr_err
decode_string(struct parser *p, struct tr_buf *raw)
{
    enum tr_err rc;

    p->pos++;
    for (;;) {
        unsigned char c;
        size_t n = 1;

        if (p->pos >= p->len)
            return bad(p, "unterminated string");
        c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return TR_OK;
        }
        if (c == '\\') {
            p->pos++;
            rc = decode_escape(p, raw);
            if (rc != TR_OK)
                return rc;
            continue;
        }

        /* JSON requires control characters escaped; raw bytes above 0x7f
         * must form valid UTF-8, or the hash would depend on how a later
         * reader repairs them. */
        if (c < 0x20)
            return bad(p, "control character in string");
        if (c >= 0x80) {
            n = utf8_len((const unsigned char *)p->s + p->pos,
                         p->len - p->pos);
            if (n == 0)
                return bad(p, "invalid UTF-8");
        }
        rc = tr_buf_append(raw, p->s + p->pos, n);
        if (rc != TR_OK)
            return grown(p, rc);
        p->pos += n;
    }
}

/* Append `n` decoded bytes as a canonical JSON string.  Only what JSON
 * forces is escaped, each in exactly one way, so that decoding and
 * re-encoding canonical text is the identity. */
static enum tr_err
put_string(struct tr_buf *out, const char *s, size_t n)
{
    enum tr_err rc = tr_buf_append(out, "\"", 1);
    size_t run = 0;

    /* Copy runs of plain bytes whole; escape the few that need it. */
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];

        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        rc = tr_buf_append(out, s + i - run, run);
        run = 0;

        /* The short form where JSON has one, else \u00xx lower case. */
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esc[2] = '\0';
        } else if (c == '\b' || c == '\f' || c == '\n' || c == '\r'
                   || c == '\t') {
            esc[0] = '\\';
            esc[1] = "btn?fr"[c - '\b'];
            esc[2] = '\0';
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        if (rc == TR_OK)
            rc = tr_buf_puts(out, esc);
    }
    if (rc == TR_OK)
        rc = tr_buf_append(out, s + n - run, run);
    if (rc == TR_OK)
        rc = tr_buf_append(out, "\"", 1);
    return rc;
}

/* A string value: decode fully, then encode canonically. */
static enum tr_err
parse_string(struct parser *p, struct tr_buf *out)
{
    struct tr_buf raw;
    enum tr_err rc;

    tr_buf_init(&raw, TR_LEDGER_PAYLOAD_MAX);
    rc = decode_string(p, &raw);
    if (rc == TR_OK) {
        rc = put_string(out, raw.len > 0 ? raw.data : "", raw.len);
        if (rc != TR_OK)
            rc = grown(p, rc);
    }
    tr_buf_cleanup(&raw);
    return rc;
}

/* Advance over decimal digits; returns how many there were. */
static size_t
skip_digits(struct parser *p)
{
    size_t start = p->pos;

    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

/*
 * A number per RFC 8259, copied as written.  Rewriting numbers would need
 * one agreed decimal form for every double, which no two JSON libraries
 * share; keeping the writer's digits is exact and cheap.  The price is
 * that 1.0 and 1 are different payloads, which is what the writer wrote.
 */
static enum tr_err
parse_number(struct parser *p, struct tr_buf *out)
{
    size_t start = p->pos;
    enum tr_err rc;

    /* Integer part: a lone 0 or digits without a leading zero. */
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (skip_digits(p) == 0)
        return bad(p, "number without digits");

    /* Fraction and exponent, each with at least one digit. */
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (skip_digits(p) == 0)
            return bad(p, "number without digits after '.'");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (skip_digits(p) == 0)
            return bad(p, "number without exponent digits");
    }

    rc = tr_buf_append(out, p->s + start, p->pos - start);
    return rc == TR_OK ? TR_OK : grown(p, rc);
}

/* true, false or null; anything else here is not JSON. */
static enum tr_err
parse_literal(struct parser *p, struct tr_buf *out)
{
    static const char *const words[] = {"true", "false", "null"};
    enum tr_err rc;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);

        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i], n) == 0) {
            p->pos += n;
            rc = tr_buf_append(out, words[i], n);
            return rc == TR_OK ? TR_OK : grown(p, rc);
        }
    }
    return bad(p, "unexpected character");
}

/* An array keeps its order; its elements are canonicalised in place. */
static enum tr_err
parse_array(struct parser *p, struct tr_buf *out)
{
    enum tr_err rc;
    bool first = true;

    p->pos++;
    if (tr_buf_append(out, "[", 1) != TR_OK)
        return grown(p, TR_E_TOOBIG);

    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return tr_buf_append(out, "]", 1) == TR_OK ? TR_OK
                                                     : grown(p, TR_E_TOOBIG);
    }
    for (;;) {
        if (!first && tr_buf_append(out, ",", 1) != TR_OK)
            return grown(p, TR_E_TOOBIG);
        first = false;
        rc = parse_value(p, out);
        if (rc != TR_OK)
            return rc;

        /* After an element: ']' ends the array, ',' wants another. */
        skip_ws(p);
        if (p->pos >= p->len)
            return bad(p, "unterminated array");
        if (p->s[p->pos] == ']')
            break;
        if (p->s[p->pos] != ',')
            return bad(p, "expected ',' or ']'");
        p->pos++;
    }
    p->pos++;
    return tr_buf_append(out, "]", 1) == TR_OK ? TR_OK
                                                 : grown(p, TR_E_TOOBIG);
}

/* Order of member names: by unescaped UTF-8 bytes, which is also code
 * point order, and independent of locale. */
static int
member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    if (c != 0)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Parse one "key": value pair into *m, each part in its own memory. */
static enum tr_err
parse_member(struct parser *p, struct member *m)
{
    struct tr_buf key, val;
    enum tr_err rc;

    tr_buf_init(&key, TR_LEDGER_PAYLOAD_MAX);
    tr_buf_init(&val, TR_LEDGER_PAYLOAD_MAX);
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"') {
        rc = bad(p, "expected a member name");
        goto out;
    }
    rc = decode_string(p, &key);
    if (rc != TR_OK)
        goto out;

    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') {
        rc = bad(p, "expected ':'");
        goto out;
    }
    p->pos++;

    rc = parse_value(p, &val);
    if (rc != TR_OK)
        goto out;

    /* Keep the name decoded, for sorting by its bytes, and the value
     * already canonical, to be copied out once sorted. */
    m->key_len = key.len;
    m->val_len = val.len;
    m->key = tr_buf_steal(&key);
    m->val = tr_buf_steal(&val);
    if (m->key == NULL || m->val == NULL)
        rc = grown(p, TR_E_NOMEM);

out:
    tr_buf_cleanup(&key);
    tr_buf_cleanup(&val);
    return rc;
}

/* Write sorted members, refusing a key that appears twice. */
static enum tr_err
emit_members(struct parser *p, struct member *ms, size_t n,
             struct tr_buf *out)
{
    enum tr_err rc;

    /* An empty object has no member array at all. */
    if (n > 1)
        qsort(ms, n, sizeof(*ms), member_cmp);
    rc = tr_buf_append(out, "{", 1);
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        if (i > 0 && member_cmp(&ms[i - 1], &ms[i]) == 0)
            return TR_ERROR(p->err, TR_E_PARSE, "invalid JSON: member "
                            "name \"%.*s\" appears twice",
                            (int)(ms[i].key_len > 64 ? 64 : ms[i].key_len),
                            ms[i].key);
        if (i > 0)
            rc = tr_buf_append(out, ",", 1);
        if (rc == TR_OK)
            rc = put_string(out, ms[i].key, ms[i].key_len);
        if (rc == TR_OK)
            rc = tr_buf_append(out, ":", 1);
        if (rc == TR_OK)
            rc = tr_buf_append(out, ms[i].val, ms[i].val_len);
    }
    if (rc == TR_OK)
        rc = tr_buf_append(out, "}", 1);
    return rc == TR_OK ? TR_OK : grown(p, rc);
}

/*
 * An object: members are collected, each value already canonical, then
 * sorted and written.  Memory is freed here whatever happens, since a
 * parse error may come after many members.
 */
static enum tr_err
parse_object(struct parser *p, struct tr_buf *out)
{
    struct member *ms = NULL, *grown_ms;
    size_t n = 0, cap = 0;
    enum tr_err rc = TR_OK;

    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        goto emit;
    }
    for (;;) {
        /* Room for one more member; the count is not known ahead. */
        if (n == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            grown_ms = realloc(ms, cap * sizeof(*ms));
            if (grown_ms == NULL) {
                rc = grown(p, TR_E_NOMEM);
                goto out;
            }
            ms = grown_ms;
        }
        memset(&ms[n], 0, sizeof(ms[n]));
        rc = parse_member(p, &ms[n++]);
        if (rc != TR_OK)
            goto out;

        skip_ws(p);
        if (p->pos >= p->len) {
            rc = bad(p, "unterminated object");
            goto out;
        }
        if (p->s[p->pos] == '}')
            break;
        if (p->s[p->pos] != ',') {
            rc = bad(p, "expected ',' or '}'");
            goto out;
        }
        p->pos++;
    }
    p->pos++;

emit:
    rc = emit_members(p, ms, n, out);

out:
    for (size_t i = 0; i < n; i++) {
        free(ms[i].key);
        free(ms[i].val);
    }
    free(ms);
    return rc;
}

/* Any JSON value at p->pos, written canonically to `out`. */
static enum tr_err
parse_value(struct parser *p, struct tr_buf *out)
{
    enum tr_err rc;
    char c;

    skip_ws(p);
    if (p->pos >= p->len)
        return bad(p, "unexpected end of input");
    c = p->s[p->pos];
    if (c == '"')
        return parse_string(p, out);
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, out);
    if (c != '{' && c != '[')
        return parse_literal(p, out);

    /* Recursion is bounded so that hostile input cannot exhaust the
     * stack. */
    if (++p->depth > TR_LEDGER_JSON_DEPTH)
        return bad(p, "nested too deeply");
    rc = c == '{' ? parse_object(p, out) : parse_array(p, out);
    p->depth--;
    return rc;
}

enum tr_err
tr_ledger_json_canon(const char *json, size_t len, char **out,
                     size_t *out_len, struct tr_error *err)
{
    struct parser p = {json, len, 0, 0, err};
    struct tr_buf b;
    enum tr_err rc;

    *out = NULL;
    *out_len = 0;
    tr_buf_init(&b, TR_LEDGER_PAYLOAD_MAX);
    rc = parse_value(&p, &b);

    /* One value and nothing after it: "{} {}" is not a payload. */
    if (rc == TR_OK) {
        skip_ws(&p);
        if (p.pos != p.len)
            rc = bad(&p, "text after the JSON value");
    }
    if (rc == TR_OK) {
        *out_len = b.len;
        *out = tr_buf_steal(&b);
        if (*out == NULL)
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    tr_buf_cleanup(&b);
    return rc;
}

/*
 * Find member `key` of the object at p->pos; on success p->pos is at its
 * value.  The other members are parsed and dropped: the payload is
 * canonical text, so a linear scan is as fast as building a tree, and
 * this keeps one parser for writing and reading.
 */
static enum tr_err
seek_member(struct parser *p, const char *key)
{
    struct tr_buf name, skip;
    enum tr_err rc = TR_OK;
    bool found = false;

    tr_buf_init(&name, TR_LEDGER_PAYLOAD_MAX);
    tr_buf_init(&skip, TR_LEDGER_PAYLOAD_MAX);
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{')
        return bad(p, "not a JSON object");
    p->pos++;
    skip_ws(p);
    while (rc == TR_OK && p->pos < p->len && p->s[p->pos] == '"') {
        tr_buf_reset(&name);
        tr_buf_reset(&skip);

        rc = decode_string(p, &name);
        skip_ws(p);
        if (rc == TR_OK && (p->pos >= p->len || p->s[p->pos++] != ':'))
            rc = bad(p, "expected ':'");
        skip_ws(p);
        if (rc != TR_OK)
            break;
        if (name.len == strlen(key)
            && (name.len == 0 || memcmp(name.data, key, name.len) == 0)) {
            found = true;
            break;
        }

        rc = parse_value(p, &skip);
        skip_ws(p);
        if (rc == TR_OK && p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
        }
    }
    tr_buf_cleanup(&name);
    tr_buf_cleanup(&skip);
    if (rc == TR_OK && !found)
        rc = TR_ERROR(p->err, TR_E_NOTFOUND, "no member \"%s\"", key);
    return rc;
}

enum tr_err
tr_ledger_json_member(const char *json, size_t len, const char *key,
                      char **out, size_t *out_len, bool *is_string,
                      struct tr_error *err)
{
    struct parser p = {json, len, 0, 0, err};
    struct tr_buf b;
    enum tr_err rc;

    *out = NULL;
    *out_len = 0;
    *is_string = false;
    rc = seek_member(&p, key);
    if (rc != TR_OK)
        return rc;

    /* A string's decoded bytes are what replay needs (the exact request
     * body); any other value is handed back as canonical JSON. */
    tr_buf_init(&b, TR_LEDGER_PAYLOAD_MAX);
    *is_string = p.pos < p.len && p.s[p.pos] == '"';
    rc = *is_string ? decode_string(&p, &b) : parse_value(&p, &b);
    if (rc == TR_OK) {
        *out_len = b.len;
        *out = tr_buf_steal(&b);
        if (*out == NULL)
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    tr_buf_cleanup(&b);
    return rc;
}
