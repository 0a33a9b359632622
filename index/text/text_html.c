/*
 * text_html.c
 *      (first version: interface only)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"

enum tr_err
tr_text_from_html(const char *html, size_t len, struct tr_text_blocks *out,
                  struct tr_error *err)
{
    return TR_ERROR(err, TR_E_UNSUPPORTED, "not built yet");
}
