/*
 * kb.h
 *      The knowledge base of a tenant: article import, versioned search
 *      indexes stored in PostgreSQL, the live version switch and rollback,
 *      and a process-wide cache of loaded searchers.
 *
 * Articles live in the articles table.  tr_kb_reindex() reads the
 * tenant's published (non-draft) articles, turns them into blocks and
 * chunks, learns a sentencepiece model and the local embedder from that
 * text, builds BM25 and a FAISS index, stores all of it as a new index
 * version (index_versions, index_blobs, chunks) and switches the live
 * version to it in one transaction.  The former live version stays
 * 'ready' for tr_kb_rollback().  A build that dies half-way leaves its
 * version 'building', which is never served; the live one is untouched.
 *
 * Serving goes through tr_kb_searcher_get(): it returns a reference to
 * the tenant's loaded live index, loading it from the database the first
 * time and again whenever the live version id has changed.  A swap never
 * disturbs searches in flight: the old searcher is freed when its last
 * reference is released.
 *
 * Threads: every function may be called from any thread; the searcher
 * cache is shared by the process and locked inside.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_KB_H
#define TR_KB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/* Body formats of an article. */
enum tr_kb_format {
    TR_KB_HTML = 0,
    TR_KB_MARKDOWN = 1,
    TR_KB_TEXT = 2
};

/* Longest article id and title accepted by an import, in bytes. */
#define TR_KB_ID_MAX 512
#define TR_KB_TITLE_MAX 1000

/*
 * One article to import.  Every string is borrowed for the call.  `id`
 * is the source's own id (Zendesk article id, relative file path, JSON
 * Lines id); `url`, `locale` (NULL gives "en") and `section` may be NULL.
 * A draft is stored but never indexed or cited.
 */
struct tr_kb_article {
    const char *id;
    const char *title;
    const char *body;
    enum tr_kb_format format;
    const char *url;
    const char *locale;
    const char *section;
    bool draft;
};

/* What an import did. */
struct tr_kb_import_stats {
    size_t n_added;
    size_t n_updated;
    size_t n_unchanged;
    size_t n_drafts;        /* among the articles given, how many drafts */
};

/* Formats of an import file or folder. */
enum tr_kb_source {
    TR_KB_SOURCE_GUESS = 0, /* from the path and the first bytes */
    TR_KB_SOURCE_ZENDESK,   /* Help Center export: {"articles": [...]} */
    TR_KB_SOURCE_JSONL,     /* {"id","title","text"[,"url",...]} lines */
    TR_KB_SOURCE_DIR        /* a folder of .md, .html and .htm files */
};

/*
 * Find the id of the tenant called `name`.  TR_E_TENANT when there is
 * none, TR_E_DB_* on database failure.
 */
enum tr_err tr_kb_tenant_find(struct tr_db *db, const char *name,
                              int64_t *tenant_id, struct tr_error *err);

/*
 * Store `n` already parsed articles for tenant `tenant_id` in one
 * transaction: new ids are added, changed ones updated, identical ones
 * left alone, and `stats` (may be NULL) counts each.  An article with an
 * empty id or title, or longer than TR_KB_ID_MAX / TR_KB_TITLE_MAX, makes
 * the whole import fail with TR_E_PARSE naming it; nothing is stored
 * then.  Articles absent from `arts` are kept.  This is the entry point
 * of every importer (files here, the Help Center sync elsewhere).
 */
enum tr_err tr_kb_import_articles(struct tr_db *db, int64_t tenant_id,
                                  const struct tr_kb_article *arts,
                                  size_t n, struct tr_kb_import_stats *stats,
                                  struct tr_error *err);

/*
 * Parse the file or folder `path` in format `src` (TR_KB_SOURCE_GUESS to
 * guess) and import it as tr_kb_import_articles() does, all or nothing.
 * TR_E_PARSE names the file and the line or article at fault, TR_E_IO
 * and TR_E_NOTFOUND the path, TR_E_TOOBIG a file over 256 MB.
 */
enum tr_err tr_kb_import_path(struct tr_db *db, int64_t tenant_id,
                              const char *path, enum tr_kb_source src,
                              struct tr_kb_import_stats *stats,
                              struct tr_error *err);

/* ---- reindex ---------------------------------------------------------- */

/*
 * Progress of a reindex: `stage` is "load", "chunk", "tokenise",
 * "embed", "index" or "store"; `done` of `total` units (articles,
 * chunks, texts or bytes).  Called on the reindexing thread.
 */
typedef void (*tr_kb_progress_fn)(void *ud, const char *stage, size_t done,
                                  size_t total);

/* Options of a reindex; zeroed fields take the defaults. */
struct tr_kb_reindex_opts {
    size_t chunk_tokens;        /* chunk budget in pieces (256) */
    int vocab_size;             /* sentencepiece vocabulary (8000) */
    int embed_dim;              /* embedding dimension (256) */
    int threads;                /* of embedder training and embedding
                                 * (0: one per online processor) */
    bool no_switch;             /* leave the new version 'ready' */
    tr_kb_progress_fn progress; /* may be NULL */
    void *progress_ud;
};

/* Figures of a finished reindex. */
struct tr_kb_reindex_result {
    int64_t version_id;
    size_t n_articles;
    size_t n_chunks;
    size_t n_bytes;             /* of all blobs */
    char factory[64];           /* FAISS factory string used */
    double build_s;
    double store_s;
};

/*
 * Build a new index version of the tenant's published articles, store it
 * and (unless opts->no_switch) make it live.  Concurrent reindexes of a
 * tenant are serialised by an advisory lock; versions left 'building' by
 * a dead process are removed.  TR_E_NOTFOUND when the tenant has no
 * published article, TR_E_INDEX/TR_E_NOMEM from the builders, TR_E_DB_*.
 * On failure the live version is unchanged.
 */
enum tr_err tr_kb_reindex(struct tr_db *db, int64_t tenant_id,
                          const struct tr_kb_reindex_opts *opts,
                          struct tr_kb_reindex_result *res,
                          struct tr_error *err);

/*
 * Make version `version_id` (which must be 'ready' or 'retired') the live
 * one in one transaction, the former live one becoming 'ready', and
 * notify channel "kb_live".  TR_E_NOTFOUND, TR_E_CONFLICT when the
 * version is still 'building'.
 */
enum tr_err tr_kb_version_switch(struct tr_db *db, int64_t tenant_id,
                                 int64_t version_id, struct tr_error *err);

/*
 * Switch back to the newest 'ready' version older than the live one; the
 * live one becomes 'retired'.  *version_id (may be NULL) receives the
 * version now live.  TR_E_NOTFOUND when there is no such version.
 */
enum tr_err tr_kb_rollback(struct tr_db *db, int64_t tenant_id,
                           int64_t *version_id, struct tr_error *err);

/*
 * The id of the tenant's live version into *version_id, 0 when none.
 */
enum tr_err tr_kb_live_version(struct tr_db *db, int64_t tenant_id,
                               int64_t *version_id, struct tr_error *err);

/* ---- search ----------------------------------------------------------- */

/* Which retrievers answer a search. */
enum tr_kb_mode {
    TR_KB_HYBRID = 0,
    TR_KB_BM25 = 1,
    TR_KB_DENSE = 2
};

/*
 * One result.  Strings are borrowed from the searcher and valid while
 * the caller holds its reference.  `text` is the chunk's text,
 * plain[start, end) of the article's plain text.
 */
struct tr_kb_hit {
    double score;
    int64_t chunk_id;
    int64_t article_id;         /* articles.id */
    const char *external_id;    /* the source's article id */
    const char *title;
    const char *url;            /* "" when none */
    const char *locale;
    const char *heading_path;
    const char *text;
    size_t start;
    size_t end;
    float dense_score;          /* cosine with the query; 0 when the
                                 * dense list missed the chunk */
    float bm25_score;           /* 0 when the BM25 list missed it */
    const char *section;        /* the article's section, "" if none */
};

struct tr_kb_searcher;

/*
 * Get a reference to the tenant's live searcher, loading it when it is
 * missing or the live version has changed (checked at most every
 * tr_kb_cache_set_check_ms() milliseconds).  While one thread loads a
 * new version, others keep the previous one.  Release with
 * tr_kb_searcher_release().  TR_E_NOTFOUND when the tenant has no live
 * version, TR_E_INDEX when stored blobs do not load, TR_E_DB_*.
 */
enum tr_err tr_kb_searcher_get(struct tr_db *db, int64_t tenant_id,
                               struct tr_kb_searcher **out,
                               struct tr_error *err);

/*
 * Load version `version_id` of the tenant into a new searcher outside
 * the cache (the caller holds the only reference).
 */
enum tr_err tr_kb_searcher_load(struct tr_db *db, int64_t tenant_id,
                                int64_t version_id,
                                struct tr_kb_searcher **out,
                                struct tr_error *err);

/* Drop a reference; the last one frees the searcher.  NULL is a no-op. */
void tr_kb_searcher_release(struct tr_kb_searcher *s);

/* The index version `s` serves. */
int64_t tr_kb_searcher_version(const struct tr_kb_searcher *s);

/*
 * Search `query` with the retrievers of `mode` and write the best `k`
 * articles (one hit each, its best chunk) into `hits`; *n_hits receives
 * how many.  Articles that are drafts or deleted by the time the version
 * was loaded are never returned.  TR_E_INVAL for k < 1 or an empty
 * query.  Any thread, concurrently.
 */
enum tr_err tr_kb_search(const struct tr_kb_searcher *s, const char *query,
                         size_t k, enum tr_kb_mode mode,
                         struct tr_kb_hit *hits, size_t *n_hits,
                         struct tr_error *err);

/*
 * Write into `out` (`out_len` bytes, at least 4) the start of `text`
 * with whitespace runs collapsed, at most `max` bytes, cut at a space or
 * at least at a UTF-8 character boundary, with "..." when cut.  Returns
 * `out`.  Pure.
 */
char *tr_kb_snippet(const char *text, size_t max, char *out,
                    size_t out_len);

/*
 * Set how often (milliseconds, 0 = every get) tr_kb_searcher_get()
 * checks the live version id.  Default 1000.
 */
void tr_kb_cache_set_check_ms(int ms);

/*
 * Drop every cached searcher of `db` (before tr_db_close()); references
 * still held stay valid.  NULL drops all.
 */
void tr_kb_cache_drop(struct tr_db *db);

#endif /* TR_KB_H */
