/*
 * test_text_parse.c
 *      Tests of HTML, Markdown and plain text to blocks, lowercasing and
 *      the word tokenizer.
 *
 * Fixtures: tests/data/index/article.html and article.md.  Blocks are
 * compared through a one-line-per-block dump ("H2|Refunds",
 * "L1|- item", "P|text", "C|code") so that a failure shows the whole
 * picture.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"
#include "text.h"

static char *
fixture(const char *name, size_t *len)
{
    const char *src = getenv("TR_SOURCE_DIR");
    char path[1024];
    char *data;
    long size;
    FILE *f;

    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/tests/data/index/%s", src, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t) size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t) size, f), (size_t) size);
    data[size] = '\0';
    fclose(f);
    *len = (size_t) size;
    return data;
}

/*
 * Render the blocks one per line; the caller frees the result.
 */
static char *
dump(const struct tr_text_blocks *b)
{
    size_t cap = 64;
    char *s;

    for (size_t i = 0; i < b->n; i++)
        cap += b->v[i].text_len + 8;
    s = calloc(1, cap);
    assert_non_null(s);

    for (size_t i = 0; i < b->n; i++) {
        const struct tr_text_block *bl = &b->v[i];
        size_t at = strlen(s);

        switch (bl->kind) {
        case TR_TEXT_HEADING:
            snprintf(s + at, cap - at, "H%d|%s\n", bl->level, bl->text);
            break;
        case TR_TEXT_LIST_ITEM:
            snprintf(s + at, cap - at, "L%d|%s\n", bl->level, bl->text);
            break;
        case TR_TEXT_CODE:
            snprintf(s + at, cap - at, "C|%s\n", bl->text);
            break;
        default:
            snprintf(s + at, cap - at, "P|%s\n", bl->text);
            break;
        }
        assert_int_equal(strlen(bl->text), bl->text_len);
    }
    return s;
}

static char *
html_dump(const char *html)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};
    char *s;

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_html(html, strlen(html), &b, &err),
                     TR_OK);
    s = dump(&b);
    tr_text_blocks_cleanup(&b);
    return s;
}

static void
text_html_article_gives_blocks(void **state)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};
    size_t len;
    char *html = fixture("article.html", &len);
    char *got;

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_html(html, len, &b, &err), TR_OK);
    got = dump(&b);

    /* Head, style, script and noscript are gone; entities decoded. */
    assert_string_equal(got,
        "P|Home \xc2\xbb Help\n"
        "H1|Billing\n"
        "P|Invoices are issued on the first day of each month & sent by "
        "e-mail.\n"
        "H2|Refunds\n"
        "P|Refunds are available within fourteen days. Contact the "
        "billing team to ask for one.\n"
        "L1|1. Open Billing.\n"
        "L1|2. Select the invoice.\n"
        "L2|- Only paid invoices can be refunded.\n"
        "L2|- Partial refunds need an administrator.\n"
        "L1|3. Press \"Request refund\".\n"
        "H3|Card payments\n"
        "P|Card refunds take five to ten business days.\n"
        "C|curl -X POST https://api.example.com/refunds \\\n"
        "     -d invoice=42\n"
        "H2|Taxes\n"
        "P|VAT is computed from the billing country code.\n");

    free(got);
    tr_text_blocks_cleanup(&b);
    free(html);
}

static void
text_html_entities_are_decoded(void **state)
{
    char *got = html_dump("<p>caf&eacute; &lt;b&gt; &#8364;5 &#x41; "
                          "&copy;&nbsp;2024 &amp;amp;</p>");

    assert_string_equal(got, "P|caf\xc3\xa9 <b> \xe2\x82\xac" "5 A "
                        "\xc2\xa9 2024 &amp;\n");
    free(got);
}

static void
text_html_drops_script_style_and_comments(void **state)
{
    char *got = html_dump("<div>keep<script>if (a < b) { x(); }</script>"
                          "<style>.a{}</style><!-- hidden -->"
                          "<template><p>tpl</p></template> this</div>");

    assert_string_equal(got, "P|keep this\n");
    free(got);
}

static void
text_html_heading_levels_and_cells(void **state)
{
    char *got = html_dump("<h4>Four</h4><h6>Six <em>deep</em></h6>"
                          "<table><tr><td>a</td><td>b</td></tr>"
                          "<tr><td>c</td></tr></table>line<br>break");

    assert_string_equal(got, "H4|Four\nH6|Six deep\nP|a b\nP|c\n"
                        "P|line break\n");
    free(got);
}

static void
text_html_broken_input_gives_best_effort(void **state)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};
    static const char garbage[] = "\x00\xff\xfe<<<>>>&&&;;\x80\x81<p";
    char *got;

    /* Unclosed tags are closed where the next block starts. */
    got = html_dump("<p>one<p>two<ul><li>a<li>b</ul><h2>T<p>after");
    assert_string_equal(got, "P|one\nP|two\nL1|- a\nL1|- b\nH2|T\n"
                        "P|after\n");
    free(got);

    /* Empty input and garbage bytes: no crash, no error. */
    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_html("", 0, &b, &err), TR_OK);
    assert_int_equal(b.n, 0);
    assert_int_equal(tr_text_from_html(garbage, sizeof(garbage) - 1, &b,
                                       &err), TR_OK);
    for (size_t i = 0; i < b.n; i++)
        assert_int_equal(strlen(b.v[i].text), b.v[i].text_len);
    tr_text_blocks_cleanup(&b);

    got = html_dump("</div></p>text without <b>opening");
    assert_string_equal(got, "P|text without opening\n");
    free(got);
}

/*
 * Parse `n` nested divs around "deep" and return the number of blocks,
 * checking that the last one is "deep" when `want_text`.
 */
static size_t
nested_divs(size_t n, int want_text)
{
    char *html = malloc(n * 5 + 16);
    struct tr_text_blocks b;
    struct tr_error err = {0};
    size_t o = 0, n_blocks;

    assert_non_null(html);
    for (size_t i = 0; i < n; i++, o += 5)
        memcpy(html + o, "<div>", 5);
    memcpy(html + o, "deep", 5);

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_html(html, o + 4, &b, &err), TR_OK);
    n_blocks = b.n;
    if (want_text) {
        assert_true(b.n >= 1);
        assert_string_equal(b.v[b.n - 1].text, "deep");
    }
    tr_text_blocks_cleanup(&b);
    free(html);
    return n_blocks;
}

static void
text_html_deep_nesting_does_not_recurse_forever(void **state)
{
    /* Past our own depth cap (200) the subtree is flattened to text. */
    assert_int_equal(nested_divs(240, 1), 1);

    /*
     * libxml2 itself gives up past 256 levels; what it kept is returned
     * and nothing crashes.
     */
    nested_divs(20000, 0);
}

static void
text_markdown_article_gives_blocks(void **state)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};
    size_t len;
    char *md = fixture("article.md", &len);
    char *got;

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_markdown(md, len, &b, &err), TR_OK);
    got = dump(&b);

    /* Inline HTML tags go, a raw HTML block goes through the HTML side. */
    assert_string_equal(got,
        "H1|Two-factor authentication\n"
        "P|Two-factor authentication adds a second step at sign-in. It "
        "works with an authenticator app or a security key.\n"
        "H2|Setting it up\n"
        "L1|1. Open Settings, then Security.\n"
        "L1|2. Press Enable and scan the code.\n"
        "L2|- Use an app you trust.\n"
        "L2|- Save the recovery codes.\n"
        "L1|3. Enter the six-digit code.\n"
        "C|triage user 2fa --enable\n"
        "H2|Lost phone\n"
        "P|Use a recovery code. Each code works once .\n"
        "P|Administrators can reset the second factor.\n"
        "P|See the security page for more.\n");

    free(got);
    tr_text_blocks_cleanup(&b);
    free(md);
}

static void
text_markdown_setext_and_invalid_utf8(void **state)
{
    static const char md[] = "Title\n=====\n\nbad \xff byte\n\n    code\n";
    struct tr_text_blocks b;
    struct tr_error err = {0};
    char *got;

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_markdown(md, sizeof(md) - 1, &b, &err),
                     TR_OK);
    got = dump(&b);
    assert_string_equal(got, "H1|Title\nP|bad \xef\xbf\xbd byte\nC|code\n");
    free(got);
    tr_text_blocks_cleanup(&b);
}

static void
text_plain_splits_on_blank_lines(void **state)
{
    static const char txt[] = "First line\nsame paragraph.\n  \t\n"
                              "Second\r\n\r\n\n\nThird  with   spaces\n";
    struct tr_text_blocks b;
    struct tr_error err = {0};
    char *plain = NULL;
    size_t plain_len = 0;
    char *got;

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_plain(txt, sizeof(txt) - 1, &b, &err),
                     TR_OK);
    got = dump(&b);
    assert_string_equal(got, "P|First line same paragraph.\nP|Second\n"
                        "P|Third with spaces\n");

    /* The plain text joins blocks with one blank line. */
    assert_int_equal(tr_text_blocks_plain(&b, &plain, &plain_len, &err),
                     TR_OK);
    assert_string_equal(plain, "First line same paragraph.\n\nSecond\n\n"
                        "Third with spaces");
    assert_int_equal(plain_len, strlen(plain));
    free(plain);
    free(got);
    tr_text_blocks_cleanup(&b);
}

static void
text_lower_maps_latin_greek_cyrillic(void **state)
{
    static const char in[] = "ÀÉÎÕÜ ÇÑ ABC ŁŚŻ Ÿ ΑΒΓ Ά ДЖЯ Ё İ × 中文 \xff";
    static const char want[] = "àéîõü çñ abc łśż ÿ αβγ ά джя ё İ × 中文 "
                               "\xff";
    char out[sizeof(in)];

    tr_text_lower(in, sizeof(in) - 1, out);
    assert_memory_equal(out, want, sizeof(in) - 1);

    /* In place works too. */
    memcpy(out, in, sizeof(in));
    tr_text_lower(out, sizeof(in) - 1, out);
    assert_memory_equal(out, want, sizeof(in) - 1);
}

struct words {
    char got[256];
    size_t offsets[16];
    size_t n;
    size_t stop_after;
};

static int
collect(void *ud, const char *word, size_t word_len, size_t offset)
{
    struct words *w = ud;
    size_t at = strlen(w->got);

    snprintf(w->got + at, sizeof(w->got) - at, "%.*s|", (int) word_len,
             word);
    if (w->n < 16)
        w->offsets[w->n] = offset;
    w->n++;
    return w->stop_after > 0 && w->n >= w->stop_after;
}

static void
text_words_split_on_punctuation(void **state)
{
    static const char s[] = "Don't re-use Café's 2FA code—ever! "
                            "ÜBER 中文 x²";
    struct words w = {.got = "", .n = 0};
    size_t n;

    n = tr_text_words(s, sizeof(s) - 1, TR_TEXT_WORDS_LOWER, collect, &w);
    assert_string_equal(w.got, "don|t|re|use|café|s|2fa|code|ever|über|"
                        "中文|x²|");
    assert_int_equal(n, 12);
    assert_int_equal(w.offsets[4], 13);      /* byte offset of "Café" */
    assert_int_equal(tr_text_count_words(NULL, s, sizeof(s) - 1), 12);

    /* Without the flag words keep their case; the callback can stop. */
    memset(&w, 0, sizeof(w));
    w.stop_after = 2;
    n = tr_text_words(s, sizeof(s) - 1, 0, collect, &w);
    assert_int_equal(n, 2);
    assert_string_equal(w.got, "Don|t|");
    assert_int_equal(tr_text_words("", 0, 0, NULL, NULL), 0);
    assert_int_equal(tr_text_words("...", 3, 0, NULL, NULL), 0);
}

static void
text_too_large_input_is_refused(void **state)
{
    struct tr_text_blocks b;
    struct tr_error err = {0};

    tr_text_blocks_init(&b);
    assert_int_equal(tr_text_from_html("x", TR_TEXT_INPUT_MAX + 1, &b, &err),
                     TR_E_TOOBIG);
    assert_int_equal(tr_text_from_markdown("x", TR_TEXT_INPUT_MAX + 1, &b,
                                           &err), TR_E_TOOBIG);
    assert_int_equal(tr_text_from_plain("x", TR_TEXT_INPUT_MAX + 1, &b,
                                        &err), TR_E_TOOBIG);
    assert_int_equal(b.n, 0);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(text_html_article_gives_blocks),
    cmocka_unit_test(text_html_entities_are_decoded),
    cmocka_unit_test(text_html_drops_script_style_and_comments),
    cmocka_unit_test(text_html_heading_levels_and_cells),
    cmocka_unit_test(text_html_broken_input_gives_best_effort),
    cmocka_unit_test(text_html_deep_nesting_does_not_recurse_forever),
    cmocka_unit_test(text_markdown_article_gives_blocks),
    cmocka_unit_test(text_markdown_setext_and_invalid_utf8),
    cmocka_unit_test(text_plain_splits_on_blank_lines),
    cmocka_unit_test(text_lower_maps_latin_greek_cyrillic),
    cmocka_unit_test(text_words_split_on_punctuation),
    cmocka_unit_test(text_too_large_input_is_refused),
};

TR_TEST_MAIN(cases)
