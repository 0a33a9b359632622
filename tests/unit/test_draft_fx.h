/*
 * test_draft_fx.h
 *      Passage fixtures of the draft tests, loaded from
 *      tests/data/draft/passages.json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TEST_DRAFT_FX_H
#define TEST_DRAFT_FX_H

#include <stddef.h>

#include "draft.h"

#define FX_MAX 16

struct fx {
    void *root;                 /* the parsed JSON, owns the strings */
    struct tr_draft_passage p[FX_MAX];
    size_t n;
};

/* Load the fixture passages; fails the test when it cannot. */
void fx_load(struct fx *f);

/* Copy of the fixture passage `id`; fails the test when missing. */
struct tr_draft_passage fx_get(const struct fx *f, const char *id);

void fx_free(struct fx *f);

/* Index of the first sentence whose text contains `needle`, or -1. */
int fx_sentence_with(const struct tr_draft *d, const char *needle);

#endif /* TEST_DRAFT_FX_H */
