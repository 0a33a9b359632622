/*
 * kb_int.h
 *      Layouts and helpers shared by the files of the knowledge-base
 *      module only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_KB_INT_H
#define TR_KB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kb.h"
#include "mem.h"

/* Largest import file read, in bytes. */
#define TR_KB_FILE_MAX ((size_t)256 << 20)

/* Bytes of one stored blob part. */
#define TR_KB_BLOB_PART ((size_t)8 << 20)

/* A growable list of parsed articles whose strings live in `arena`. */
struct tr_kb__list {
    struct tr_kb_article *v;
    size_t n;
    size_t cap;
    struct tr_arena *arena;
};

/* Append a copy of `a` (strings copied into the list's arena). */
enum tr_err tr_kb__list_add(struct tr_kb__list *l,
                            const struct tr_kb_article *a,
                            struct tr_error *err);

/* Parse `path` in format `src` into `l`. */
enum tr_err tr_kb__parse_path(const char *path, enum tr_kb_source src,
                              struct tr_kb__list *l, struct tr_error *err);

/* Name of a format as stored in articles.body_format, and back. */
const char *tr_kb__format_name(enum tr_kb_format f);
enum tr_kb_format tr_kb__format_parse(const char *s);

/* Seconds of the monotonic clock. */
double tr_kb__now(void);

/* One serialised part of an index, before it is stored. */
struct tr_kb__blob {
    const char *name;
    void *data;             /* malloc'd */
    size_t len;
};

/* One chunk of a build, as stored in the chunks table. */
struct tr_kb__chunk {
    int64_t article_id;
    char *heading_path;
    char *text;
    size_t start;
    size_t end;
};

/* Store blobs and chunks under version `vid` (in an open transaction). */
enum tr_err tr_kb__store_blobs(struct tr_db_conn *c, int64_t tenant_id,
                               int64_t vid, const struct tr_kb__blob *b,
                               size_t n, const struct tr_kb_reindex_opts *o,
                               struct tr_error *err);
enum tr_err tr_kb__store_chunks(struct tr_db_conn *c, int64_t tenant_id,
                                int64_t vid, const struct tr_kb__chunk *ch,
                                size_t n, struct tr_error *err);

/* Switch the live version inside the open transaction `c`. */
enum tr_err tr_kb__switch_tx(struct tr_db_conn *c, int64_t tenant_id,
                             int64_t vid, struct tr_error *err);

#endif /* TR_KB_INT_H */
