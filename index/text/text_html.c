/*
 * text_html.c
 *      HTML to blocks with libxml2's forgiving HTML parser.
 *
 * The parser repairs what it can (unclosed tags, stray bytes, missing
 * html/body) and we walk the tree it builds.  Text of inline elements
 * gathers in a pending buffer; a block element, a heading, a list item
 * or a pre flushes it as a block of the pending kind.  Subtrees that
 * carry no article text (script, style, head, ...) are skipped whole.
 * Nesting deeper than TR_TEXT_DEPTH_MAX is flattened to its text so that
 * hostile input cannot exhaust the stack.
 *
 * libxml2 is initialised once (pthread_once); after that parsing is
 * thread-safe, each call working on its own document.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "mem.h"
#include "text.h"
#include "text_int.h"

/* Deepest list nesting whose item numbers are tracked. */
#define LIST_MAX 32

struct walk {
    struct tr_text_blocks *out;
    struct tr_buf pending;          /* inline text not yet a block */
    enum tr_text_kind kind;         /* kind the pending text will get */
    int level;
    int list_depth;
    int ordered[LIST_MAX];          /* per depth: next number, 0: bullets */
    enum tr_err rc;
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void
xml_init(void)
{
    xmlInitParser();
}

/*
 * Swallow libxml2's messages: broken input is normal here and the parse
 * options do not silence everything (encoding errors still print).
 */
static void
xml_quiet(void *ctx, const char *fmt, ...)
{
    (void) ctx;
    (void) fmt;
}

/*
 * Return whether `name` is one of the zero-terminated list `names`.
 */
static int
name_in(const char *name, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcasecmp(name, *names) == 0)
            return 1;
    return 0;
}

static const char *const skipped[] = {
    "script", "style", "noscript", "head", "template", "svg", "math",
    "iframe", "object", "embed", "canvas", "select", "button", NULL};

static const char *const blocks[] = {
    "p", "div", "section", "article", "main", "header", "footer", "nav",
    "aside", "blockquote", "figure", "figcaption", "table", "thead",
    "tbody", "tfoot", "tr", "dl", "dt", "dd", "form", "fieldset",
    "details", "summary", "address", "hr", "body", "html", "center",
    "caption", NULL};

/* Inline elements whose neighbours must not run into each other. */
static const char *const spaced[] = {"br", "td", "th", "img", "input",
                                     "label", "option", "wbr", NULL};

static void walk_children(struct walk *w, xmlNode *node, int depth);

/*
 * Turn the pending text into a block of the pending kind, then reset the
 * kind to paragraph.
 */
static void
flush(struct walk *w)
{
    if (w->pending.len > 0 && w->rc == TR_OK)
        w->rc = tr_text_blocks_add(w->out, w->kind, w->level,
                                   w->pending.data, w->pending.len);
    tr_buf_reset(&w->pending);
    w->kind = TR_TEXT_PARAGRAPH;
    w->level = 0;
}

static void
add_text(struct walk *w, const char *s)
{
    if (s != NULL && w->rc == TR_OK)
        w->rc = tr_buf_puts(&w->pending, s);
}

/*
 * Add the whole text content of `node` as inline text or as a code block.
 */
static void
add_content(struct walk *w, xmlNode *node, int as_code)
{
    xmlChar *content = xmlNodeGetContent(node);

    if (content == NULL)
        return;
    if (as_code) {
        flush(w);
        if (w->rc == TR_OK)
            w->rc = tr_text_blocks_add(w->out, TR_TEXT_CODE, 0,
                                       (const char *) content,
                                       strlen((const char *) content));
    } else {
        add_text(w, " ");
        add_text(w, (const char *) content);
        add_text(w, " ");
    }
    xmlFree(content);
}

/*
 * Start a list item: whatever was pending (the text of a parent item,
 * say) becomes its own block first, then the marker is written.
 */
static void
start_item(struct walk *w)
{
    int d = w->list_depth > 0 ? w->list_depth : 1;
    char marker[24];

    flush(w);
    w->kind = TR_TEXT_LIST_ITEM;
    w->level = d;
    if (d <= LIST_MAX && w->ordered[d - 1] > 0)
        snprintf(marker, sizeof(marker), "%d. ", w->ordered[d - 1]++);
    else
        snprintf(marker, sizeof(marker), "- ");
    add_text(w, marker);
}

/*
 * Walk a ul or ol one level deeper than the current list.
 */
static void
walk_list(struct walk *w, xmlNode *node, int ordered, int depth)
{
    int d;

    flush(w);
    w->list_depth++;
    d = w->list_depth;
    if (d <= LIST_MAX) {
        xmlChar *start = xmlGetProp(node, (const xmlChar *) "start");

        w->ordered[d - 1] = ordered ? 1 : 0;
        if (ordered && start != NULL && atoi((const char *) start) > 0)
            w->ordered[d - 1] = atoi((const char *) start);
        xmlFree(start);
    }
    walk_children(w, node, depth + 1);
    flush(w);
    w->list_depth--;
}

/*
 * Handle one element by its name.
 */
static void
walk_element(struct walk *w, xmlNode *node, int depth)
{
    const char *name = (const char *) node->name;

    if (name_in(name, skipped))
        return;
    if (depth > TR_TEXT_DEPTH_MAX) {
        add_content(w, node, 0);
        return;
    }

    if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2]) {
        flush(w);
        w->kind = TR_TEXT_HEADING;
        w->level = name[1] - '0';
        walk_children(w, node, depth + 1);
        flush(w);
    } else if (strcasecmp(name, "pre") == 0) {
        add_content(w, node, 1);
    } else if (strcasecmp(name, "ul") == 0 || strcasecmp(name, "ol") == 0) {
        walk_list(w, node, strcasecmp(name, "ol") == 0, depth);
    } else if (strcasecmp(name, "li") == 0) {
        start_item(w);
        walk_children(w, node, depth + 1);
        flush(w);
    } else if (name_in(name, blocks) && w->kind != TR_TEXT_LIST_ITEM) {
        /* Inside an item, a paragraph stays part of the item's text. */
        flush(w);
        walk_children(w, node, depth + 1);
        flush(w);
    } else {
        int gap = name_in(name, spaced) || name_in(name, blocks);

        if (gap)
            add_text(w, " ");
        walk_children(w, node, depth + 1);
        if (gap)
            add_text(w, " ");
    }
}

static void
walk_children(struct walk *w, xmlNode *node, int depth)
{
    for (xmlNode *c = node->children; c != NULL && w->rc == TR_OK;
         c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            walk_element(w, c, depth);
        else if (c->type == XML_TEXT_NODE
                 || c->type == XML_CDATA_SECTION_NODE)
            add_text(w, (const char *) c->content);
    }
}

enum tr_err
tr_text_from_html(const char *html, size_t len, struct tr_text_blocks *out,
                  struct tr_error *err)
{
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR
               | HTML_PARSE_NOWARNING | HTML_PARSE_NONET
               | HTML_PARSE_NOIMPLIED;
    struct walk w;
    htmlDocPtr doc;

    if (len > TR_TEXT_INPUT_MAX)
        return TR_ERROR(err, TR_E_TOOBIG, "html of %zu bytes is too large",
                        len);
    if (html == NULL || len == 0)
        return TR_OK;

    /* Error handlers are per thread in libxml2, so set them each time. */
    pthread_once(&xml_once, xml_init);
    xmlSetGenericErrorFunc(NULL, xml_quiet);
    xmlSetStructuredErrorFunc(NULL, NULL);
    doc = htmlReadMemory(html, (int) len, NULL, NULL, opts);
    if (doc == NULL)
        return TR_OK;

    memset(&w, 0, sizeof(w));
    w.out = out;
    w.kind = TR_TEXT_PARAGRAPH;
    tr_buf_init(&w.pending, TR_TEXT_INPUT_MAX);

    /* Walk every top node: with NOIMPLIED there may be several. */
    for (xmlNode *n = doc->children; n != NULL && w.rc == TR_OK;
         n = n->next) {
        if (n->type == XML_ELEMENT_NODE)
            walk_element(&w, n, 1);
        else if (n->type == XML_TEXT_NODE)
            add_text(&w, (const char *) n->content);
    }
    flush(&w);

    tr_buf_cleanup(&w.pending);
    xmlFreeDoc(doc);
    if (w.rc != TR_OK)
        return TR_ERROR(err, w.rc, "could not extract text from html");
    return TR_OK;
}
