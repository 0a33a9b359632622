/*
 * test_text_chunk.c
 *      Tests of chunking: budgets, overlap, heading paths, offsets into
 *      the plain text, and splitting of long paragraphs and words.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"
#include "text.h"

/*
 * Parse `md` and chunk it with `o`; checks every chunk's offsets against
 * the plain text and returns the plain text (caller frees).
 */
static char *
chunk_md(const char *md, const struct tr_text_chunk_opts *o,
         struct tr_text_chunks *c)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};
    char *plain = NULL;
    size_t plain_len = 0;

    tr_text_blocks_init(&b);
    tr_text_chunks_init(c);
    assert_int_equal(tr_text_from_markdown(md, strlen(md), &b, &err),
                     TR_OK);
    assert_int_equal(tr_text_chunk(&b, o, c, &err), TR_OK);
    assert_int_equal(tr_text_blocks_plain(&b, &plain, &plain_len, &err),
                     TR_OK);

    for (size_t i = 0; i < c->n; i++) {
        const struct tr_text_chunk *ch = &c->v[i];

        assert_true(ch->end <= plain_len);
        assert_int_equal(ch->end - ch->start, ch->text_len);
        assert_memory_equal(plain + ch->start, ch->text, ch->text_len);
        assert_int_equal(strlen(ch->text), ch->text_len);
        if (o != NULL && o->max_tokens > 0 && o->count == NULL)
            assert_true(ch->n_tokens <= o->max_tokens);
    }
    tr_text_blocks_cleanup(&b);
    return plain;
}

static void
text_chunk_sections_carry_heading_paths(void **state)
{
    static const char md[] =
        "Intro before any heading.\n\n"
        "# Billing\n\nInvoices monthly.\n\n"
        "## Refunds\n\nWithin fourteen days.\n\n"
        "### Card payments\n\nFive to ten days.\n\n"
        "## Taxes\n\nFrom the country.\n\n"
        "# Empty\n\n"
        "# Account\n## Security\nUse two factors.\n";
    struct tr_text_chunks c;
    char *plain = chunk_md(md, NULL, &c);

    assert_int_equal(c.n, 6);
    assert_string_equal(c.v[0].heading_path, "");
    assert_string_equal(c.v[0].text, "Intro before any heading.");
    assert_string_equal(c.v[1].heading_path, "Billing");
    assert_string_equal(c.v[1].text, "Billing\n\nInvoices monthly.");
    assert_string_equal(c.v[2].heading_path, "Billing > Refunds");
    assert_string_equal(c.v[3].heading_path,
                        "Billing > Refunds > Card payments");
    assert_string_equal(c.v[4].heading_path, "Billing > Taxes");

    /*
     * "Empty" has nothing under it and makes no chunk; "Account" is
     * directly followed by a deeper heading and stays with it.
     */
    assert_string_equal(c.v[5].heading_path, "Account > Security");
    assert_string_equal(c.v[5].text, "Account\n\nSecurity\n\n"
                        "Use two factors.");
    assert_int_equal(c.v[5].end, strlen(plain));
    assert_int_equal(c.v[5].n_tokens, 5);

    tr_text_chunks_cleanup(&c);
    free(plain);
}

static void
text_chunk_packs_blocks_within_budget(void **state)
{
    static const char md[] =
        "# Guide\n\n"
        "one two three four.\n\nfive six seven.\n\neight nine ten eleven.\n\n"
        "twelve thirteen.\n\n- fourteen fifteen\n- sixteen\n";
    struct tr_text_chunk_opts o = {.max_tokens = 8};
    struct tr_text_chunks c;
    char *plain = chunk_md(md, &o, &c);

    /*
     * Whole blocks are packed while they fit: 1+4+3, 4+2+2, 1 words (a
     * list marker is not a word).
     */
    assert_int_equal(c.n, 3);
    assert_string_equal(c.v[0].text,
                        "Guide\n\none two three four.\n\nfive six seven.");
    assert_int_equal(c.v[0].n_tokens, 8);
    assert_string_equal(c.v[1].text,
                        "eight nine ten eleven.\n\ntwelve thirteen.\n\n"
                        "- fourteen fifteen");
    assert_int_equal(c.v[1].n_tokens, 8);
    assert_string_equal(c.v[2].text, "- sixteen");
    for (size_t i = 0; i < c.n; i++)
        assert_string_equal(c.v[i].heading_path, "Guide");

    tr_text_chunks_cleanup(&c);
    free(plain);
}

static void
text_chunk_overlap_repeats_the_tail(void **state)
{
    static const char md[] =
        "Alpha one two three. Beta one two three. Gamma one two three. "
        "Delta one two three. Epsilon one two three. Zeta one two three.";
    struct tr_text_chunk_opts o = {.max_tokens = 10, .overlap_tokens = 4};
    struct tr_text_chunks c;
    char *plain = chunk_md(md, &o, &c);

    /*
     * Sentences of four words, two per chunk; each chunk after the first
     * starts with the last sentence of the one before.
     */
    assert_int_equal(c.n, 5);
    assert_string_equal(c.v[0].text,
                        "Alpha one two three. Beta one two three.");
    assert_string_equal(c.v[1].text,
                        "Beta one two three. Gamma one two three.");
    for (size_t i = 1; i < c.n; i++) {
        assert_true(c.v[i].start < c.v[i - 1].end);
        assert_true(c.v[i].start > c.v[i - 1].start);
    }
    assert_int_equal(c.v[c.n - 1].end, strlen(plain));

    tr_text_chunks_cleanup(&c);
    free(plain);
}

static void
text_chunk_long_paragraph_is_split(void **state)
{
    size_t n_words = 1000, o = 0, total = 0;
    char *md = malloc(n_words * 6 + 1);
    struct tr_text_chunk_opts opts = {.max_tokens = 64};
    struct tr_text_chunks c;
    char *plain;

    /* One sentence of 1000 words: no block or sentence boundary helps. */
    assert_non_null(md);
    for (size_t i = 0; i < n_words; i++)
        o += (size_t) sprintf(md + o, "w%03zu ", i);
    md[o] = '\0';

    plain = chunk_md(md, &opts, &c);
    assert_true(c.n >= n_words / 64);
    for (size_t i = 0; i < c.n; i++) {
        total += c.v[i].n_tokens;
        if (i > 0)
            assert_int_equal(c.v[i].start, c.v[i - 1].end + 1);
    }
    assert_int_equal(total, n_words);
    assert_memory_equal(c.v[1].text, "w064 ", 5);

    tr_text_chunks_cleanup(&c);
    free(plain);
    free(md);
}

static size_t
count_bytes(void *ud, const char *text, size_t len)
{
    (void) ud;
    (void) text;
    return len;
}

static void
text_chunk_long_word_is_cut_at_characters(void **state)
{
    struct tr_text_chunk_opts o = {.max_tokens = 100, .count = count_bytes};
    struct tr_text_chunks c;
    char md[1200];
    char *plain;
    size_t total = 0;

    /* 400 two-byte characters and no space: cut at 100 bytes or less. */
    for (size_t i = 0; i < 400; i++)
        memcpy(md + 2 * i, "\xc3\xa9", 2);
    md[800] = '\0';

    plain = chunk_md(md, &o, &c);
    assert_int_equal(c.n, 8);
    for (size_t i = 0; i < c.n; i++) {
        assert_true(c.v[i].text_len <= 100);
        assert_int_equal(c.v[i].text_len % 2, 0);
        total += c.v[i].text_len;
    }
    assert_int_equal(total, 800);

    tr_text_chunks_cleanup(&c);
    free(plain);
}

static void
text_chunk_rejects_overlap_not_below_budget(void **state)
{
    struct tr_text_blocks b;
    struct tr_text_chunks c;
    struct tr_text_chunk_opts o = {.max_tokens = 10, .overlap_tokens = 10};
    struct tr_error err = {0};

    tr_text_blocks_init(&b);
    tr_text_chunks_init(&c);
    assert_int_equal(tr_text_blocks_add(&b, TR_TEXT_PARAGRAPH, 0, "a b", 3),
                     TR_OK);
    assert_int_equal(tr_text_chunk(&b, &o, &c, &err), TR_E_INVAL);
    assert_int_equal(c.n, 0);

    /* An empty article gives no chunk and no error. */
    tr_text_blocks_cleanup(&b);
    o.overlap_tokens = 0;
    assert_int_equal(tr_text_chunk(&b, &o, &c, &err), TR_OK);
    assert_int_equal(c.n, 0);
}

static void
text_chunk_offsets_match_html_plain_text(void **state)
{
    static const char html[] =
        "<h1>Caf&eacute; rules</h1><p>Pay   at the <b>counter</b>.</p>"
        "<ul><li>No dogs.</li><li>No smoking.</li></ul>"
        "<h2>Hours</h2><p>Open daily. Closed on holidays.</p>";
    struct tr_text_blocks b;
    struct tr_text_chunks c;
    struct tr_text_chunk_opts o = {.max_tokens = 6, .overlap_tokens = 2};
    struct tr_error err = {0};
    char *plain = NULL;
    size_t plain_len;

    tr_text_blocks_init(&b);
    tr_text_chunks_init(&c);
    assert_int_equal(tr_text_from_html(html, strlen(html), &b, &err),
                     TR_OK);
    assert_int_equal(tr_text_chunk(&b, &o, &c, &err), TR_OK);
    assert_int_equal(tr_text_blocks_plain(&b, &plain, &plain_len, &err),
                     TR_OK);

    assert_true(c.n >= 3);
    for (size_t i = 0; i < c.n; i++) {
        assert_memory_equal(plain + c.v[i].start, c.v[i].text,
                            c.v[i].text_len);
        assert_true(c.v[i].n_tokens <= 6);
    }
    assert_string_equal(c.v[0].heading_path, "Caf\xc3\xa9 rules");
    assert_string_equal(c.v[c.n - 1].heading_path,
                        "Caf\xc3\xa9 rules > Hours");
    assert_non_null(strstr(plain, "Pay at the counter."));

    free(plain);
    tr_text_chunks_cleanup(&c);
    tr_text_blocks_cleanup(&b);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(text_chunk_sections_carry_heading_paths),
    cmocka_unit_test(text_chunk_packs_blocks_within_budget),
    cmocka_unit_test(text_chunk_overlap_repeats_the_tail),
    cmocka_unit_test(text_chunk_long_paragraph_is_split),
    cmocka_unit_test(text_chunk_long_word_is_cut_at_characters),
    cmocka_unit_test(text_chunk_rejects_overlap_not_below_budget),
    cmocka_unit_test(text_chunk_offsets_match_html_plain_text),
};

TR_TEST_MAIN(cases)
