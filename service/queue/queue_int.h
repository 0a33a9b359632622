/*
 * queue_int.h
 *      What the files of the queue module share: the handler table.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_QUEUE_INT_H
#define TR_QUEUE_INT_H

#include "queue.h"

struct tr_queue__handler {
    char kind[TR_QUEUE_KIND_MAX + 1];
    tr_queue_handler_fn *fn;
    void *ud;
    size_t arena_block;
};

/*
 * Copy the registered kinds' names into `kinds` (pointers into the
 * table, stable while no registration changes) and return how many.
 */
size_t tr_queue__kinds(const char **kinds, size_t max);

/*
 * Find the handler of `kind`; false when none is registered.
 */
bool tr_queue__handler_find(const char *kind, struct tr_queue__handler *h);

/*
 * True when `kind` is a valid job kind name.
 */
bool tr_queue__kind_valid(const char *kind);

#endif /* TR_QUEUE_INT_H */
