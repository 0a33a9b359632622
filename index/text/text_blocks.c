/*
 * text_blocks.c
 *      (first version: interface only)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"

void
tr_text_blocks_init(struct tr_text_blocks *b)
{
    memset(b, 0, sizeof(*b));
}

void
tr_text_blocks_cleanup(struct tr_text_blocks *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].text);
    free(b->v);
    memset(b, 0, sizeof(*b));
}

enum tr_err
tr_text_blocks_add(struct tr_text_blocks *b, enum tr_text_kind kind,
                   int level, const char *text, size_t len)
{
    return TR_E_UNSUPPORTED;
}

enum tr_err
tr_text_blocks_plain(const struct tr_text_blocks *b, char **out,
                     size_t *out_len, struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}

enum tr_err
tr_text_from_plain(const char *txt, size_t len, struct tr_text_blocks *out,
                   struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}
