/*
 * text_md.c
 *      CommonMark to blocks with cmark.
 *
 * cmark parses the whole document into a tree; block nodes map onto our
 * block kinds and the inline nodes under each are flattened to text with
 * cmark's own iterator.  Raw HTML blocks are handed to the HTML parser,
 * so that an article mixing both still gives clean text; inline HTML
 * tags are dropped and count as a space.  Block nesting deeper than
 * TR_TEXT_DEPTH_MAX is flattened to a paragraph of its text.
 *
 * cmark keeps no global state; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include <cmark.h>

#include "mem.h"
#include "text.h"
#include "text_int.h"

struct md_walk {
    struct tr_text_blocks *out;
    struct tr_buf text;         /* scratch for one block's text */
    int list_depth;
    enum tr_err rc;
    struct tr_error *err;
};

static void md_block(struct md_walk *w, cmark_node *node, int depth);

/*
 * Append the text of every inline node below `node` to w->text.
 */
static void
md_inline(struct md_walk *w, cmark_node *node)
{
    cmark_iter *it = cmark_iter_new(node);
    cmark_event_type ev;

    if (it == NULL) {
        w->rc = TR_E_NOMEM;
        return;
    }

    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE
           && w->rc == TR_OK) {
        cmark_node *n = cmark_iter_get_node(it);
        const char *lit;

        if (ev != CMARK_EVENT_ENTER)
            continue;
        switch (cmark_node_get_type(n)) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE:
            lit = cmark_node_get_literal(n);
            if (lit != NULL)
                w->rc = tr_buf_puts(&w->text, lit);
            break;
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK:
        case CMARK_NODE_HTML_INLINE:
            w->rc = tr_buf_puts(&w->text, " ");
            break;
        default:
            /* Block nodes met when flattening deep nesting. */
            if (cmark_node_first_child(n) == NULL
                && (lit = cmark_node_get_literal(n)) != NULL)
                w->rc = tr_buf_puts(&w->text, lit);
            if (cmark_node_get_type(n) < CMARK_NODE_FIRST_INLINE)
                w->rc = tr_buf_puts(&w->text, " ");
            break;
        }
    }
    cmark_iter_free(it);
}

/*
 * Turn w->text into a block and empty it.
 */
static void
md_flush(struct md_walk *w, enum tr_text_kind kind, int level)
{
    if (w->rc == TR_OK && w->text.len > 0)
        w->rc = tr_text_blocks_add(w->out, kind, level, w->text.data,
                                   w->text.len);
    tr_buf_reset(&w->text);
}

/*
 * A list item: its paragraphs form one block that starts with the
 * marker; nested lists and code blocks follow as blocks of their own.
 */
static void
md_item(struct md_walk *w, cmark_node *item, int number, int depth)
{
    char marker[24];

    if (number > 0)
        snprintf(marker, sizeof(marker), "%d. ", number);
    else
        snprintf(marker, sizeof(marker), "- ");
    w->rc = tr_buf_puts(&w->text, marker);

    for (cmark_node *c = cmark_node_first_child(item);
         c != NULL && w->rc == TR_OK; c = cmark_node_next(c)) {
        if (cmark_node_get_type(c) == CMARK_NODE_PARAGRAPH) {
            md_inline(w, c);
            if (w->rc == TR_OK)
                w->rc = tr_buf_puts(&w->text, " ");
            continue;
        }
        md_flush(w, TR_TEXT_LIST_ITEM, w->list_depth);
        md_block(w, c, depth + 1);
    }
    md_flush(w, TR_TEXT_LIST_ITEM, w->list_depth);
}

static void
md_list(struct md_walk *w, cmark_node *list, int depth)
{
    int ordered = cmark_node_get_list_type(list) == CMARK_ORDERED_LIST;
    int number = ordered ? cmark_node_get_list_start(list) : 0;

    w->list_depth++;
    for (cmark_node *c = cmark_node_first_child(list);
         c != NULL && w->rc == TR_OK; c = cmark_node_next(c)) {
        md_item(w, c, number, depth + 1);
        if (ordered)
            number++;
    }
    w->list_depth--;
}

/*
 * Map one block node (and its children) to blocks.
 */
static void
md_block(struct md_walk *w, cmark_node *node, int depth)
{
    const char *lit;
    struct tr_error sub;

    if (depth > TR_TEXT_DEPTH_MAX) {
        md_inline(w, node);
        md_flush(w, TR_TEXT_PARAGRAPH, 0);
        return;
    }

    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_HEADING:
        md_inline(w, node);
        md_flush(w, TR_TEXT_HEADING, cmark_node_get_heading_level(node));
        break;
    case CMARK_NODE_PARAGRAPH:
        md_inline(w, node);
        md_flush(w, TR_TEXT_PARAGRAPH, 0);
        break;
    case CMARK_NODE_CODE_BLOCK:
        lit = cmark_node_get_literal(node);
        if (lit != NULL)
            w->rc = tr_text_blocks_add(w->out, TR_TEXT_CODE, 0, lit,
                                       strlen(lit));
        break;
    case CMARK_NODE_HTML_BLOCK:
        lit = cmark_node_get_literal(node);
        if (lit != NULL)
            w->rc = tr_text_from_html(lit, strlen(lit), w->out, &sub);
        break;
    case CMARK_NODE_LIST:
        md_list(w, node, depth);
        break;
    case CMARK_NODE_THEMATIC_BREAK:
        break;
    default:
        /* Document, block quote, custom block: their children count. */
        for (cmark_node *c = cmark_node_first_child(node);
             c != NULL && w->rc == TR_OK; c = cmark_node_next(c))
            md_block(w, c, depth + 1);
        break;
    }
}

enum tr_err
tr_text_from_markdown(const char *md, size_t len, struct tr_text_blocks *out,
                      struct tr_error *err)
{
    struct md_walk w;
    cmark_node *doc;

    if (len > TR_TEXT_INPUT_MAX)
        return TR_ERROR(err, TR_E_TOOBIG,
                        "markdown of %zu bytes is too large", len);
    if (md == NULL || len == 0)
        return TR_OK;

    /* VALIDATE_UTF8 replaces invalid sequences instead of passing them. */
    doc = cmark_parse_document(md, len, CMARK_OPT_VALIDATE_UTF8);
    if (doc == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "could not parse markdown");

    memset(&w, 0, sizeof(w));
    w.out = out;
    tr_buf_init(&w.text, TR_TEXT_INPUT_MAX);
    md_block(&w, doc, 0);

    tr_buf_cleanup(&w.text);
    cmark_node_free(doc);
    if (w.rc != TR_OK)
        return TR_ERROR(err, w.rc, "could not extract text from markdown");
    return TR_OK;
}
