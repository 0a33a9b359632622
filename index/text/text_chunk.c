/*
 * text_chunk.c
 *      Cutting an article's blocks into chunks within a token budget.
 *
 * The article's plain text is built once and every chunk is a range of
 * it, so offsets are exact by construction.  Work goes in three steps:
 * blocks are grouped into sections at headings; each section is cut into
 * units no larger than the budget (a block, else its sentences, else
 * runs of words, else pieces of a word); units are then packed greedily
 * into chunks, a new chunk starting with the last units of the previous
 * one when an overlap is asked for.
 *
 * Unit sizes come from the caller's counter and are summed when packing;
 * that is exact for word counts and close for sentencepiece, whose
 * pieces never cross a space.
 *
 * No global state; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "text_int.h"

#define HEADING_LEVELS 6

struct unit {
    size_t start;
    size_t end;
    size_t tokens;
};

struct chunker {
    const struct tr_text_blocks *b;
    char *plain;
    size_t plain_len;
    size_t *off;                        /* start of each block in plain */
    size_t max;
    size_t overlap;
    tr_text_count_fn count;
    void *count_ud;
    const char *sep;
    struct unit *u;                     /* units of the current section */
    size_t n_u;
    size_t cap_u;
    const struct tr_text_block *heads[HEADING_LEVELS];
    int n_heads;
    struct tr_text_chunks *out;
    enum tr_err rc;
};

void
tr_text_chunks_init(struct tr_text_chunks *c)
{
    memset(c, 0, sizeof(*c));
}

void
tr_text_chunks_cleanup(struct tr_text_chunks *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].heading_path);
        free(c->v[i].text);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static size_t
count_range(struct chunker *k, size_t start, size_t end)
{
    return k->count(k->count_ud, k->plain + start, end - start);
}

static void
add_unit(struct chunker *k, size_t start, size_t end, size_t tokens)
{
    if (k->rc != TR_OK || end <= start)
        return;
    if (k->n_u == k->cap_u) {
        size_t cap = k->cap_u == 0 ? 64 : k->cap_u * 2;
        struct unit *u = realloc(k->u, cap * sizeof(*u));

        if (u == NULL) {
            k->rc = TR_E_NOMEM;
            return;
        }
        k->u = u;
        k->cap_u = cap;
    }
    k->u[k->n_u].start = start;
    k->u[k->n_u].end = end;
    k->u[k->n_u].tokens = tokens;
    k->n_u++;
}

/*
 * Return the first character boundary after `p` (p < end).
 */
static size_t
next_char(const struct chunker *k, size_t p, size_t end)
{
    p++;
    while (p < end && ((unsigned char) k->plain[p] & 0xC0) == 0x80)
        p++;
    return p;
}

/*
 * Cut a word longer than the budget into pieces at character
 * boundaries, each the longest prefix that fits (found by bisection).
 */
static void
split_word(struct chunker *k, size_t s, size_t e)
{
    while (s < e && k->rc == TR_OK) {
        size_t lo = s, hi = e, t = count_range(k, s, e);

        if (t <= k->max) {
            add_unit(k, s, e, t);
            return;
        }

        /* Invariant: [s, lo) fits, [s, hi) does not. */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;

            while (mid > lo && ((unsigned char) k->plain[mid] & 0xC0) == 0x80)
                mid--;
            if (mid == lo)
                mid = next_char(k, lo, e);
            if (mid >= hi)
                break;
            if (count_range(k, s, mid) <= k->max)
                lo = mid;
            else
                hi = mid;
        }

        /* Even one character may be over a tiny budget: take it anyway. */
        if (lo == s)
            lo = next_char(k, s, e);
        add_unit(k, s, lo, count_range(k, s, lo));
        s = lo;
    }
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\n' || c == '\t';
}

/*
 * Cut a sentence longer than the budget into runs of whole words.
 */
static void
split_sentence(struct chunker *k, size_t s, size_t e)
{
    size_t run = 0, run_end = 0, tokens = 0;
    int open = 0;
    size_t p = s;

    while (p < e && k->rc == TR_OK) {
        size_t ws, we, t;

        while (p < e && is_blank(k->plain[p]))
            p++;
        if (p == e)
            break;
        ws = p;
        while (p < e && !is_blank(k->plain[p]))
            p++;
        we = p;
        t = count_range(k, ws, we);

        if (open && (tokens + t > k->max || t > k->max)) {
            add_unit(k, run, run_end, tokens);
            open = 0;
        }
        if (t > k->max) {
            split_word(k, ws, we);
            continue;
        }
        if (!open) {
            run = ws;
            tokens = 0;
            open = 1;
        }
        tokens += t;
        run_end = we;
    }
    if (open)
        add_unit(k, run, run_end, tokens);
}

/*
 * Return the end of the sentence starting at `s` in a block ending at
 * `e`: after ". ", "! " or "? " in prose, after a line in code.
 */
static size_t
sentence_end(const struct chunker *k, size_t s, size_t e, int code)
{
    for (size_t p = s; p < e; p++) {
        char c = k->plain[p];

        if (code && c == '\n')
            return p;
        if (!code && (c == '.' || c == '!' || c == '?') && p + 1 < e
            && k->plain[p + 1] == ' ')
            return p + 1;
    }
    return e;
}

/*
 * Turn block `i` into units: whole, or by sentences, or smaller.
 */
static void
block_units(struct chunker *k, size_t i)
{
    const struct tr_text_block *bl = &k->b->v[i];
    size_t s = k->off[i], e = s + bl->text_len;
    size_t t = count_range(k, s, e);
    int code = bl->kind == TR_TEXT_CODE;

    if (t <= k->max) {
        add_unit(k, s, e, t);
        return;
    }

    while (s < e && k->rc == TR_OK) {
        size_t se = sentence_end(k, s, e, code);
        size_t ts = count_range(k, s, se);

        if (ts <= k->max)
            add_unit(k, s, se, ts);
        else
            split_sentence(k, s, se);

        /* Skip the blanks between sentences. */
        s = se;
        while (s < e && is_blank(k->plain[s]))
            s++;
    }
}

/*
 * Join the names of the current headings with the separator.
 */
static char *
heading_path(const struct chunker *k)
{
    size_t sep_len = strlen(k->sep), len = 0, o = 0;
    char *p;

    for (int i = 0; i < k->n_heads; i++)
        len += k->heads[i]->text_len + (i > 0 ? sep_len : 0);
    p = malloc(len + 1);
    if (p == NULL)
        return NULL;

    for (int i = 0; i < k->n_heads; i++) {
        if (i > 0) {
            memcpy(p + o, k->sep, sep_len);
            o += sep_len;
        }
        memcpy(p + o, k->heads[i]->text, k->heads[i]->text_len);
        o += k->heads[i]->text_len;
    }
    p[o] = '\0';
    return p;
}

static void
emit_chunk(struct chunker *k, size_t start, size_t end)
{
    struct tr_text_chunks *c = k->out;
    struct tr_text_chunk *ch;

    if (k->rc != TR_OK)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 16 : c->cap * 2;
        struct tr_text_chunk *v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL) {
            k->rc = TR_E_NOMEM;
            return;
        }
        c->v = v;
        c->cap = cap;
    }

    ch = &c->v[c->n];
    memset(ch, 0, sizeof(*ch));
    ch->heading_path = heading_path(k);
    ch->text = malloc(end - start + 1);
    if (ch->heading_path == NULL || ch->text == NULL) {
        free(ch->heading_path);
        free(ch->text);
        k->rc = TR_E_NOMEM;
        return;
    }
    memcpy(ch->text, k->plain + start, end - start);
    ch->text[end - start] = '\0';
    ch->text_len = end - start;
    ch->start = start;
    ch->end = end;
    ch->n_tokens = count_range(k, start, end);
    c->n++;
}

/*
 * Pack the section's units into chunks, carrying up to `overlap` tokens
 * of trailing units into the next chunk.
 */
static void
pack_units(struct chunker *k)
{
    size_t i = 0;

    while (i < k->n_u && k->rc == TR_OK) {
        size_t j = i, tokens = 0, back, carried = 0;

        while (j < k->n_u && tokens + k->u[j].tokens <= k->max)
            tokens += k->u[j++].tokens;
        if (j == i)
            j = i + 1;
        emit_chunk(k, k->u[i].start, k->u[j - 1].end);
        if (j == k->n_u)
            break;

        /* Step back over whole units, always leaving progress. */
        back = j;
        while (back - 1 > i && carried + k->u[back - 1].tokens
                                   <= k->overlap)
            carried += k->u[--back].tokens;
        i = back;
    }
}

/*
 * Record heading `h` in the stack of current headings.
 */
static void
push_heading(struct chunker *k, const struct tr_text_block *h)
{
    while (k->n_heads > 0 && k->heads[k->n_heads - 1]->level >= h->level)
        k->n_heads--;
    if (k->n_heads < HEADING_LEVELS)
        k->heads[k->n_heads++] = h;
}

/*
 * Walk the sections of the article and chunk each one that has content.
 */
static void
chunk_sections(struct chunker *k)
{
    const struct tr_text_blocks *b = k->b;
    size_t i = 0;

    while (i < b->n && k->rc == TR_OK) {
        size_t s = i;

        /* A heading, with any deeper headings right under it. */
        if (b->v[i].kind == TR_TEXT_HEADING) {
            push_heading(k, &b->v[i++]);
            while (i < b->n && b->v[i].kind == TR_TEXT_HEADING
                   && b->v[i].level > b->v[i - 1].level)
                push_heading(k, &b->v[i++]);
        }
        if (i == b->n || b->v[i].kind == TR_TEXT_HEADING)
            continue;   /* no content under it: nothing to retrieve */

        while (i < b->n && b->v[i].kind != TR_TEXT_HEADING)
            i++;
        k->n_u = 0;
        for (size_t j = s; j < i; j++)
            block_units(k, j);
        pack_units(k);
    }
}

enum tr_err
tr_text_chunk(const struct tr_text_blocks *b,
              const struct tr_text_chunk_opts *o, struct tr_text_chunks *out,
              struct tr_error *err)
{
    struct chunker k;

    memset(&k, 0, sizeof(k));
    k.b = b;
    k.out = out;
    k.max = o != NULL && o->max_tokens > 0 ? o->max_tokens : 256;
    k.overlap = o != NULL ? o->overlap_tokens : 0;
    k.count = o != NULL && o->count != NULL ? o->count
                                             : tr_text_count_words;
    k.count_ud = o != NULL ? o->count_ud : NULL;
    k.sep = o != NULL && o->path_sep != NULL ? o->path_sep : " > ";
    if (k.overlap >= k.max)
        return TR_ERROR(err, TR_E_INVAL, "overlap of %zu tokens is not "
                        "below the budget of %zu", k.overlap, k.max);
    if (b->n == 0)
        return TR_OK;

    k.rc = tr_text_blocks_plain(b, &k.plain, &k.plain_len, err);
    if (k.rc != TR_OK)
        return k.rc;
    k.off = malloc(b->n * sizeof(*k.off));
    if (k.off == NULL) {
        k.rc = TR_E_NOMEM;
        goto out;
    }
    for (size_t i = 0, at = 0; i < b->n; i++) {
        k.off[i] = at;
        at += b->v[i].text_len + TR_TEXT_SEP_LEN;
    }

    chunk_sections(&k);

out:
    free(k.off);
    free(k.u);
    free(k.plain);
    if (k.rc != TR_OK)
        return TR_ERROR(err, k.rc, "could not chunk article");
    return TR_OK;
}
