/*
 * registry.c
 *      The table of job handlers: kind name -> handler, its user data and
 *      the block size of the arena each run gets.
 *
 * Modules register at start, before the worker pool runs; the pool only
 * reads.  A mutex still guards the table so that a late registration
 * cannot tear a read.  Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <string.h>

#include "queue_int.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tr_queue__handler table[TR_QUEUE_MAX_HANDLERS];
static size_t n_table;

bool
tr_queue__kind_valid(const char *kind)
{
    size_t n = kind != NULL ? strlen(kind) : 0;

    return n >= 1 && n <= TR_QUEUE_KIND_MAX &&
           strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789_.:-") == n;
}

enum tr_err
tr_queue_handler_register(const char *kind, tr_queue_handler_fn *fn,
                          void *ud, size_t arena_block,
                          struct tr_error *err)
{
    enum tr_err rc = TR_OK;

    if (!tr_queue__kind_valid(kind) || fn == NULL)
        return TR_ERROR(err, TR_E_INVAL,
                        "invalid job kind \"%s\" (use 1 to 64 of "
                        "a-z 0-9 _ . : -)", kind != NULL ? kind : "");

    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < n_table; i++)
        if (strcmp(table[i].kind, kind) == 0)
            rc = TR_ERROR(err, TR_E_EXISTS,
                          "job kind \"%s\" already has a handler", kind);
    if (rc == TR_OK && n_table == TR_QUEUE_MAX_HANDLERS)
        rc = TR_ERROR(err, TR_E_RANGE, "more than %d job kinds",
                      TR_QUEUE_MAX_HANDLERS);
    if (rc == TR_OK) {
        struct tr_queue__handler *h = &table[n_table++];

        strcpy(h->kind, kind);
        h->fn = fn;
        h->ud = ud;
        h->arena_block = arena_block > 0 ? arena_block : 64 * 1024;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

void
tr_queue_handlers_clear(void)
{
    pthread_mutex_lock(&table_lock);
    n_table = 0;
    pthread_mutex_unlock(&table_lock);
}

size_t
tr_queue_handlers_count(void)
{
    size_t n;

    pthread_mutex_lock(&table_lock);
    n = n_table;
    pthread_mutex_unlock(&table_lock);
    return n;
}

size_t
tr_queue__kinds(const char **kinds, size_t max)
{
    size_t n;

    pthread_mutex_lock(&table_lock);
    for (n = 0; n < n_table && n < max; n++)
        kinds[n] = table[n].kind;
    pthread_mutex_unlock(&table_lock);
    return n;
}

bool
tr_queue__handler_find(const char *kind, struct tr_queue__handler *h)
{
    bool found = false;

    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < n_table && !found; i++) {
        if (strcmp(table[i].kind, kind) == 0) {
            *h = table[i];
            found = true;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}
