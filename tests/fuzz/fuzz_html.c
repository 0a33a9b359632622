/*
 * fuzz_html.c
 *      libFuzzer target for HTML to blocks, followed by chunking of the
 *      blocks, so that both parsers of outside article text are covered.
 *
 * Built only with clang and -DTR_FUZZ=ON (see tests/unit/text.cmake).
 * Each input is parsed, every block is checked to be zero-terminated at
 * its recorded length, and the blocks are chunked with a small budget
 * and overlap so that the splitting paths run too.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_text_chunk_opts o = {.max_tokens = 8, .overlap_tokens = 3};
    struct tr_text_blocks b;
    struct tr_text_chunks c;
    struct tr_error err;

    tr_text_blocks_init(&b);
    tr_text_chunks_init(&c);
    if (tr_text_from_html((const char *) data, size, &b, &err) != TR_OK)
        abort();

    /* A block's length must match its terminator. */
    for (size_t i = 0; i < b.n; i++)
        if (strlen(b.v[i].text) != b.v[i].text_len || b.v[i].text_len == 0)
            abort();

    if (tr_text_chunk(&b, &o, &c, &err) != TR_OK)
        abort();
    for (size_t i = 0; i < c.n; i++)
        if (c.v[i].end - c.v[i].start != c.v[i].text_len)
            abort();

    tr_text_chunks_cleanup(&c);
    tr_text_blocks_cleanup(&b);
    return 0;
}
