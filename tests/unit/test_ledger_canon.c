/*
 * test_ledger_canon.c
 *      Canonical JSON of ledger payloads, reading members back, and the
 *      record hash, without a database.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"

#include "ledger.h"

/* Canonicalise `in` and compare with `want`. */
static void
expect_canon(const char *in, const char *want)
{
    struct tr_error err = {0};
    char *out = NULL;
    size_t out_len = 0;

    if (tr_ledger_json_canon(in, strlen(in), &out, &out_len, &err) != TR_OK)
        fail_msg("canonicalising %s failed: %s", in, tr_error_msg(&err));
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    free(out);
}

/* Canonicalising `in` fails with `code` and a message holding `words`. */
static void
expect_reject(const char *in, size_t len, enum tr_err code,
              const char *words)
{
    struct tr_error err = {0};
    char *out = (char *)"untouched";
    size_t out_len = 99;

    assert_int_equal(tr_ledger_json_canon(in, len, &out, &out_len, &err),
                     code);
    assert_null(out);
    assert_int_equal(out_len, 0);
    if (strstr(err.msg, words) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, words);
}

static void
canon_is_independent_of_key_order_and_whitespace(void **state)
{
    const char *a = "{\"b\": 1, \"a\": {\"z\": [3, 2, {\"y\": 1, \"x\": 2}],"
                    " \"c\": null}, \"aa\": true}";
    const char *b = "\n{ \"aa\":true,\"a\":{ \"c\" : null , \"z\":[3,2,"
                    "{\"x\":2,\"y\":1}]},\r\n\t\"b\":1 } ";
    const char *want = "{\"a\":{\"c\":null,\"z\":[3,2,{\"x\":2,\"y\":1}]},"
                       "\"aa\":true,\"b\":1}";

    expect_canon(a, want);
    expect_canon(b, want);
    /* Canonical text comes back unchanged. */
    expect_canon(want, want);
    /* Keys compare by bytes: upper case before lower, prefix first,
     * and multi-byte UTF-8 after ASCII. */
    expect_canon("{\"\xc3\xa9\":1,\"b\":2,\"B\":3,\"\":4,\"ba\":5}",
                 "{\"\":4,\"B\":3,\"b\":2,\"ba\":5,\"\xc3\xa9\":1}");
    expect_canon("{}", "{}");
    expect_canon(" [ ] ", "[]");
}

static void
canon_keeps_numbers_as_written(void **state)
{
    expect_canon("{\"p\": 1.50, \"q\": -0, \"r\": 1E+2, \"s\": 0.1e-7,"
                 " \"t\": 12345678901234567890123}",
                 "{\"p\":1.50,\"q\":-0,\"r\":1E+2,\"s\":0.1e-7,"
                 "\"t\":12345678901234567890123}");
    expect_reject("[01]", 4, TR_E_PARSE, "expected");
    expect_reject("[1.]", 4, TR_E_PARSE, "after '.'");
    expect_reject("[1e]", 4, TR_E_PARSE, "exponent");
    expect_reject("[-]", 3, TR_E_PARSE, "without digits");
    expect_reject("[+1]", 4, TR_E_PARSE, "unexpected character");
}

static void
canon_escapes_strings_one_way(void **state)
{
    /* \/ and \u escapes of printable characters are decoded; a surrogate
     * pair becomes one 4-byte UTF-8 sequence; control characters use the
     * short escapes or lower-case \u00xx. */
    expect_canon("[\"a\\/b\\u00e9\\u20AC\\ud83d\\ude00\"]",
                 "[\"a/b\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]");
    expect_canon("[\"q\\\"b\\\\n\\n\\t\\r\\b\\f\\u001F\\u007f\"]",
                 "[\"q\\\"b\\\\n\\n\\t\\r\\b\\f\\u001f\x7f\"]");
    expect_canon("{\"k\\u0065y\":\"v\"}", "{\"key\":\"v\"}");
}

static void
canon_rejects_bad_input_clearly(void **state)
{
    expect_reject("{\"a\":1,\"a\":2}", 13, TR_E_PARSE, "\"a\" appears twice");
    /* Duplicates are found after unescaping. */
    expect_reject("{\"a\":1,\"\\u0061\":2}", 18, TR_E_PARSE, "appears twice");
    expect_reject("[\"\xc3\x28\"]", 6, TR_E_PARSE, "invalid UTF-8");
    expect_reject("[\"\xc0\xaf\"]", 6, TR_E_PARSE, "invalid UTF-8");
    expect_reject("[\"\xed\xa0\x80\"]", 7, TR_E_PARSE, "invalid UTF-8");
    expect_reject("[\"\\ud800\"]", 10, TR_E_PARSE, "lone high surrogate");
    expect_reject("[\"\\udc00\"]", 10, TR_E_PARSE, "lone low surrogate");
    expect_reject("[\"\\u0000\"]", 10, TR_E_PARSE, "cannot be stored");
    expect_reject("[\"a\nb\"]", 7, TR_E_PARSE, "control character");
    expect_reject("[\"\\x\"]", 6, TR_E_PARSE, "unknown escape");
    expect_reject("{\"a\":1} x", 9, TR_E_PARSE, "text after");
    expect_reject("{\"a\":1", 6, TR_E_PARSE, "unterminated object");
    expect_reject("[1,]", 4, TR_E_PARSE, "unexpected character");
    expect_reject("", 0, TR_E_PARSE, "unexpected end");
    expect_reject("nul", 3, TR_E_PARSE, "unexpected character");
    /* A NUL byte inside the given length is not JSON. */
    expect_reject("[1\0]", 4, TR_E_PARSE, "expected");
}

static void
canon_bounds_nesting_depth(void **state)
{
    char deep[2 * (TR_LEDGER_JSON_DEPTH + 1) + 1];
    int n = TR_LEDGER_JSON_DEPTH;

    /* Exactly the limit is fine, one more is refused. */
    memset(deep, '[', (size_t)n);
    memset(deep + n, ']', (size_t)n);
    deep[2 * n] = '\0';
    expect_canon(deep, deep);

    memset(deep, '[', (size_t)n + 1);
    memset(deep + n + 1, ']', (size_t)n + 1);
    deep[2 * n + 2] = '\0';
    expect_reject(deep, strlen(deep), TR_E_PARSE, "nested too deeply");
}

static void
member_gives_string_bytes_or_canonical_text(void **state)
{
    const char *j = "{\"a\":[1,{\"b\":2}],\"model_input\":\"line1\\nline2"
                    "\\u00e9\\\"\",\"z\":\"\"}";
    struct tr_error err = {0};
    char *out;
    size_t len;
    bool is_string;

    assert_int_equal(tr_ledger_json_member(j, strlen(j), "model_input", &out,
                                           &len, &is_string, &err), TR_OK);
    assert_true(is_string);
    assert_int_equal(len, 14);
    assert_memory_equal(out, "line1\nline2\xc3\xa9\"", 14);
    free(out);

    assert_int_equal(tr_ledger_json_member(j, strlen(j), "a", &out, &len,
                                           &is_string, &err), TR_OK);
    assert_false(is_string);
    assert_string_equal(out, "[1,{\"b\":2}]");
    free(out);

    assert_int_equal(tr_ledger_json_member(j, strlen(j), "z", &out, &len,
                                           &is_string, &err), TR_OK);
    assert_true(is_string);
    assert_int_equal(len, 0);
    free(out);

    /* Only top-level members count. */
    assert_int_equal(tr_ledger_json_member(j, strlen(j), "b", &out, &len,
                                           &is_string, &err), TR_E_NOTFOUND);
    assert_int_equal(tr_ledger_json_member("[1]", 3, "a", &out, &len,
                                           &is_string, &err), TR_E_PARSE);
}

static void
record_hash_follows_the_documented_encoding(void **state)
{
    struct tr_ledger_entry e = {0};
    struct tr_error err = {0};
    char out[TR_LEDGER_HASH_LEN + 1];

    tr_ledger_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a"
                             "9cb410ff61f20015ad");

    /* The expected value is sha256sum of the fields joined by newlines,
     * as 005_ledger.sql spells the record out; no ticket id here. */
    e.tenant_id = 7;
    e.seq = 3;
    e.draft_id = 11;
    e.format = 1;
    strcpy(e.kind, "decision");
    strcpy(e.created_at, "2026-01-02T03:04:05.123456Z");
    strcpy(e.prev_hash, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db"
                        "02258717921a4881");
    e.payload_text = (char *)"{\"a\":1}";
    e.payload_len = 7;
    assert_int_equal(tr_ledger_entry_hash(&e, out, &err), TR_OK);
    assert_string_equal(out, "038bd61b63d597fff23b9501a1910546d2491c55d78f14"
                             "30a87fd76236147ea9");

    /* Every field is covered. */
    e.ticket_id = 1;
    assert_int_equal(tr_ledger_entry_hash(&e, out, &err), TR_OK);
    assert_string_not_equal(out, "038bd61b63d597fff23b9501a1910546d2491c55d7"
                                 "8f1430a87fd76236147ea9");
    e.format = 7;
    assert_int_equal(tr_ledger_entry_hash(&e, out, &err), TR_E_UNSUPPORTED);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(canon_is_independent_of_key_order_and_whitespace),
    cmocka_unit_test(canon_keeps_numbers_as_written),
    cmocka_unit_test(canon_escapes_strings_one_way),
    cmocka_unit_test(canon_rejects_bad_input_clearly),
    cmocka_unit_test(canon_bounds_nesting_depth),
    cmocka_unit_test(member_gives_string_bytes_or_canonical_text),
    cmocka_unit_test(record_hash_follows_the_documented_encoding),
};

TR_TEST_MAIN(cases)
