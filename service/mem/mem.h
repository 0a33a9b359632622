/*
 * mem.h
 *      Arenas for request- and job-scoped memory, and capped growable
 *      buffers.
 *
 * An arena hands out memory that is released all at once when the request
 * or job that owns it ends.  A buffer grows up to a cap fixed when it is
 * made, so that no outside input can make it grow without bound.  Neither
 * is thread-safe: each belongs to the one thread that uses it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_MEM_H
#define TR_MEM_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tr_arena;

/*
 * Create an arena whose blocks are at least `block_size` bytes (0 picks
 * 8 KiB).  Returns NULL when out of memory.  The caller owns the arena and
 * frees it with tr_arena_free().
 */
struct tr_arena *tr_arena_new(size_t block_size);

/*
 * Release every block of `a`, then `a` itself.  NULL is a no-op.
 */
void tr_arena_free(struct tr_arena *a);

/*
 * Forget every allocation but keep the first block for reuse.
 */
void tr_arena_reset(struct tr_arena *a);

/*
 * Return `n` bytes aligned for any type, zeroed, valid until the arena is
 * reset or freed; NULL when out of memory.
 */
void *tr_arena_alloc(struct tr_arena *a, size_t n);

/*
 * Copy `n` bytes of `s` and add a terminating zero.  NULL when out of
 * memory.
 */
char *tr_arena_strndup(struct tr_arena *a, const char *s, size_t n);

/*
 * Copy the zero-terminated `s`.  NULL `s` gives NULL.
 */
char *tr_arena_strdup(struct tr_arena *a, const char *s);

/*
 * printf into arena memory.  NULL when out of memory.
 */
char *tr_arena_sprintf(struct tr_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Return the bytes the arena holds from the system, for metrics and tests.
 */
size_t tr_arena_footprint(const struct tr_arena *a);

/*
 * A growable byte buffer with a hard cap.  `data` is always
 * zero-terminated once anything was appended (the terminator is not counted
 * in `len`).  Embed it and use tr_buf_init()/tr_buf_cleanup().
 */
struct tr_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/*
 * Prepare an empty buffer that refuses to grow past `max` bytes of content
 * (0 means 64 MiB).  Allocates nothing yet.
 */
void tr_buf_init(struct tr_buf *b, size_t max);

/*
 * Release the buffer's memory and make it empty again.
 */
void tr_buf_cleanup(struct tr_buf *b);

/*
 * Empty the buffer but keep its memory.
 */
void tr_buf_reset(struct tr_buf *b);

/*
 * Append `n` bytes.  Returns TR_E_TOOBIG when the cap would be passed
 * (nothing is appended then) and TR_E_NOMEM when memory runs out.
 */
enum tr_err tr_buf_append(struct tr_buf *b, const void *p, size_t n);

/*
 * Append a zero-terminated string.  Same returns as tr_buf_append().
 */
enum tr_err tr_buf_puts(struct tr_buf *b, const char *s);

/*
 * Append formatted text.  Same returns as tr_buf_append().
 */
enum tr_err tr_buf_printf(struct tr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

enum tr_err tr_buf_vprintf(struct tr_buf *b, const char *fmt, va_list ap);

/*
 * Append `s` (`n` bytes) as the inside of a JSON string: quotes,
 * backslashes and control characters escaped, invalid UTF-8 bytes replaced
 * by U+FFFD.  The surrounding quotes are not added.
 */
enum tr_err tr_buf_json_escape(struct tr_buf *b, const char *s, size_t n);

/*
 * Append `s` as a complete JSON string, with quotes.  NULL appends null.
 */
enum tr_err tr_buf_json_str(struct tr_buf *b, const char *s);

/*
 * Give the content to the caller: returns the zero-terminated data (an
 * empty string when nothing was appended, NULL when out of memory), which
 * the caller frees with free(); the buffer is left empty.
 */
char *tr_buf_steal(struct tr_buf *b);

#ifdef __cplusplus
}
#endif

#endif /* TR_MEM_H */
