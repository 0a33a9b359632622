/*
 * text_chunk.c
 *      (first version: interface only)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"

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

enum tr_err
tr_text_chunk(const struct tr_text_blocks *b,
              const struct tr_text_chunk_opts *o, struct tr_text_chunks *out,
              struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}
