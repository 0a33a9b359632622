/*
 * mem.c
 *      Arena allocator and capped buffers.
 *
 * The arena is a list of blocks; allocations bump a pointer inside the
 * newest block and a request larger than a block gets a block of its own.
 * Buffers double their capacity up to the cap given at init.  Neither
 * structure is shared between threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define ARENA_DEFAULT_BLOCK (8 * 1024)
#define ARENA_ALIGN 16
#define BUF_DEFAULT_MAX ((size_t) 64 * 1024 * 1024)

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    /* payload follows, aligned by the allocation below */
    max_align_t payload[];
};

struct tr_arena {
    struct arena_block *head;
    size_t block_size;
    size_t footprint;
};

static struct arena_block *
block_new(size_t payload)
{
    struct arena_block *b;

    b = malloc(sizeof(*b) + payload);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = payload;
    b->used = 0;
    return b;
}

struct tr_arena *
tr_arena_new(size_t block_size)
{
    struct tr_arena *a;

    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    return a;
}

void
tr_arena_free(struct tr_arena *a)
{
    struct arena_block *b, *next;

    if (a == NULL)
        return;
    for (b = a->head; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void
tr_arena_reset(struct tr_arena *a)
{
    struct arena_block *b, *keep;

    if (a == NULL || a->head == NULL)
        return;

    /* Keep the oldest block, the one of the usual size, for reuse. */
    keep = a->head;
    while (keep->next != NULL)
        keep = keep->next;
    for (b = a->head; b != keep;) {
        struct arena_block *next = b->next;

        free(b);
        b = next;
    }
    keep->used = 0;
    a->head = keep;
    a->footprint = sizeof(*keep) + keep->size;
}

void *
tr_arena_alloc(struct tr_arena *a, size_t n)
{
    struct arena_block *b = a->head;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
    char *p;

    if (need < n)
        return NULL;

    if (b == NULL || b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;

        b = block_new(size);
        if (b == NULL)
            return NULL;

        /*
         * An oversized block goes behind the head so the head's free room
         * is not wasted by one large request.
         */
        if (need > a->block_size && a->head != NULL) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
        a->footprint += sizeof(*b) + size;
    }

    p = (char *) b->payload + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *
tr_arena_strndup(struct tr_arena *a, const char *s, size_t n)
{
    char *p = tr_arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
tr_arena_strdup(struct tr_arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    return tr_arena_strndup(a, s, strlen(s));
}

char *
tr_arena_sprintf(struct tr_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;

    p = tr_arena_alloc(a, (size_t) n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t
tr_arena_footprint(const struct tr_arena *a)
{
    return a == NULL ? 0 : a->footprint;
}

void
tr_buf_init(struct tr_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : BUF_DEFAULT_MAX;
}

void
tr_buf_cleanup(struct tr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
tr_buf_reset(struct tr_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static enum tr_err
buf_reserve(struct tr_buf *b, size_t extra)
{
    size_t want, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return TR_E_TOOBIG;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return TR_OK;

    cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (p == NULL)
        return TR_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return TR_OK;
}

enum tr_err
tr_buf_append(struct tr_buf *b, const void *p, size_t n)
{
    enum tr_err rc;

    rc = buf_reserve(b, n);
    if (rc != TR_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TR_OK;
}

enum tr_err
tr_buf_puts(struct tr_buf *b, const char *s)
{
    return tr_buf_append(b, s, strlen(s));
}

enum tr_err
tr_buf_vprintf(struct tr_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    enum tr_err rc;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return TR_E_INVAL;

    rc = buf_reserve(b, (size_t) n);
    if (rc != TR_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    b->len += (size_t) n;
    return TR_OK;
}

enum tr_err
tr_buf_printf(struct tr_buf *b, const char *fmt, ...)
{
    va_list ap;
    enum tr_err rc;

    va_start(ap, fmt);
    rc = tr_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/*
 * Length of the valid UTF-8 sequence starting at `s` (at most `n` bytes),
 * or 0 when the bytes there do not form one.  Overlong forms, surrogates
 * and code points past U+10FFFF are invalid.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;

    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

enum tr_err
tr_buf_json_escape(struct tr_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0, run = 0;
    enum tr_err rc = TR_OK;

    while (i < n && rc == TR_OK) {
        unsigned char c = p[i];
        size_t seq;
        char esc[8];

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            seq = utf8_seq_len(p + i, n - i);
            if (seq > 0) {
                i += seq;
                run += seq;
                continue;
            }
        }

        /* Flush the plain run before the byte that needs escaping. */
        rc = tr_buf_append(b, p + i - run, run);
        run = 0;
        if (rc != TR_OK)
            break;

        switch (c) {
        case '"':  rc = tr_buf_append(b, "\\\"", 2); break;
        case '\\': rc = tr_buf_append(b, "\\\\", 2); break;
        case '\n': rc = tr_buf_append(b, "\\n", 2); break;
        case '\r': rc = tr_buf_append(b, "\\r", 2); break;
        case '\t': rc = tr_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                rc = tr_buf_append(b, esc, 6);
            } else {
                rc = tr_buf_append(b, "\xef\xbf\xbd", 3);
            }
        }
        i++;
    }
    if (rc == TR_OK && run > 0)
        rc = tr_buf_append(b, p + i - run, run);
    return rc;
}

enum tr_err
tr_buf_json_str(struct tr_buf *b, const char *s)
{
    enum tr_err rc;

    if (s == NULL)
        return tr_buf_append(b, "null", 4);
    rc = tr_buf_append(b, "\"", 1);
    if (rc == TR_OK)
        rc = tr_buf_json_escape(b, s, strlen(s));
    if (rc == TR_OK)
        rc = tr_buf_append(b, "\"", 1);
    return rc;
}

char *
tr_buf_steal(struct tr_buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
