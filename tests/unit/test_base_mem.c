/*
 * test_base_mem.c
 *      Arenas and capped buffers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "mem.h"

static void
arena_allocations_are_aligned_and_zeroed(void **state)
{
    struct tr_arena *a = tr_arena_new(256);

    for (int i = 1; i < 100; i++) {
        unsigned char *p = tr_arena_alloc(a, (size_t) i);

        assert_non_null(p);
        assert_int_equal((uintptr_t) p % 16, 0);
        for (int j = 0; j < i; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0xab, (size_t) i);
    }
    assert_string_equal(tr_arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    assert_string_equal(tr_arena_strndup(a, "abcdef", 3), "abc");
    tr_arena_free(a);
    tr_arena_free(NULL);
}

static void
arena_large_allocation_gets_own_block(void **state)
{
    struct tr_arena *a = tr_arena_new(1024);
    char *small1, *big, *small2;

    small1 = tr_arena_alloc(a, 16);
    big = tr_arena_alloc(a, 100000);
    small2 = tr_arena_alloc(a, 16);
    assert_non_null(big);
    /* The small allocations still share the first block. */
    assert_int_equal(small2 - small1, 16);
    assert_true(tr_arena_footprint(a) >= 100000 + 1024);
    tr_arena_free(a);
}

static void
arena_reset_keeps_one_block(void **state)
{
    struct tr_arena *a = tr_arena_new(1024);

    for (int i = 0; i < 50; i++)
        tr_arena_alloc(a, 500);
    assert_true(tr_arena_footprint(a) > 10000);
    tr_arena_reset(a);
    assert_true(tr_arena_footprint(a) < 2048);
    assert_non_null(tr_arena_alloc(a, 100));
    tr_arena_free(a);
}

static void
buf_refuses_to_grow_past_cap(void **state)
{
    struct tr_buf b;
    char chunk[100];

    memset(chunk, 'x', sizeof(chunk));
    tr_buf_init(&b, 250);
    assert_int_equal(tr_buf_append(&b, chunk, 100), TR_OK);
    assert_int_equal(tr_buf_append(&b, chunk, 100), TR_OK);
    assert_int_equal(tr_buf_append(&b, chunk, 100), TR_E_TOOBIG);
    assert_int_equal(b.len, 200);
    assert_int_equal(tr_buf_append(&b, chunk, 50), TR_OK);
    assert_int_equal(tr_buf_printf(&b, "y"), TR_E_TOOBIG);
    assert_int_equal(b.len, 250);
    assert_int_equal(b.data[250], '\0');
    tr_buf_cleanup(&b);
}

static void
buf_json_escape_quotes_controls_and_bad_utf8(void **state)
{
    struct tr_buf b;
    const char in[] = "a\"b\\c\n\x01 caf\xc3\xa9 \xff \xc0\xaf";
    char *s;

    tr_buf_init(&b, 0);
    assert_int_equal(tr_buf_json_escape(&b, in, sizeof(in) - 1), TR_OK);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\u0001 caf\xc3\xa9 "
                                "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
    tr_buf_reset(&b);
    assert_int_equal(tr_buf_json_str(&b, NULL), TR_OK);
    assert_string_equal(b.data, "null");
    s = tr_buf_steal(&b);
    assert_string_equal(s, "null");
    assert_null(b.data);
    free(s);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(arena_allocations_are_aligned_and_zeroed),
    cmocka_unit_test(arena_large_allocation_gets_own_block),
    cmocka_unit_test(arena_reset_keeps_one_block),
    cmocka_unit_test(buf_refuses_to_grow_past_cap),
    cmocka_unit_test(buf_json_escape_quotes_controls_and_bad_utf8),
};

TR_TEST_MAIN(cases)
