/*
 * zendesk_int.h
 *      Layouts and helpers shared by the files of the Zendesk connector.
 *
 * The JSON helpers read cJSON trees and copy what they keep into the
 * caller's arena, so results outlive the tree.  Nothing here is
 * thread-bound beyond the arena it is given.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_ZENDESK_INT_H
#define TR_ZENDESK_INT_H

#include <cjson/cJSON.h>

#include "zendesk.h"

/*
 * Read a Zendesk id: a positive integral number or a string of digits.
 * Returns false for anything else, including null and absence.
 */
bool tr_zendesk__json_id(const cJSON *item, int64_t *out);

/*
 * Copy the string member `key` of `obj` into `a`; NULL when absent, not
 * a string, or out of memory (callers that must tell the difference
 * check the member themselves).
 */
const char *tr_zendesk__json_str(struct tr_arena *a, const cJSON *obj,
                                 const char *key);

/*
 * Fill `t` from a ticket object.  Returns TR_E_PARSE when `obj` is not
 * an object with an id, TR_E_NOMEM when the arena runs out.
 */
enum tr_err tr_zendesk__ticket_from_json(struct tr_arena *a,
                                         const cJSON *obj,
                                         struct tr_zendesk_ticket *t,
                                         struct tr_error *err);

/*
 * Fill `c` from a comment object.  Same returns as for tickets.
 */
enum tr_err tr_zendesk__comment_from_json(struct tr_arena *a,
                                          const cJSON *obj,
                                          struct tr_zendesk_comment *c,
                                          struct tr_error *err);

/*
 * Fill `art` from a Help Center article object.  Same returns.
 */
enum tr_err tr_zendesk__article_from_json(struct tr_arena *a,
                                          const cJSON *obj,
                                          struct tr_zendesk_article *art,
                                          struct tr_error *err);

/*
 * Run one API call: `path` is appended to the API base
 * ("/tickets/1.json"), `body` (may be NULL) is sent as JSON, `what`
 * names the call in messages.  On TR_OK, *root is the parsed object,
 * owned by the caller (cJSON_Delete); otherwise *root is NULL and `err`
 * says why (see the return codes in zendesk.h).
 */
enum tr_err tr_zendesk__call(struct tr_zendesk *zd, const char *method,
                             const char *path, const struct tr_buf *body,
                             const char *what, cJSON **root,
                             struct tr_error *err);

/*
 * Append "?page%5Bsize%5D=N" and, when `after` is set,
 * "&page%5Bafter%5D=<escaped after>" to `path`.
 */
enum tr_err tr_zendesk__cursor_query(struct tr_buf *path, int page_size,
                                     const char *after);

/*
 * Read "meta".has_more and "meta".after_cursor of a cursor-paginated
 * answer; the cursor is copied into `a` (NULL when absent).
 */
void tr_zendesk__read_meta(struct tr_arena *a, const cJSON *root,
                           bool *has_more, const char **after);

#endif /* TR_ZENDESK_INT_H */
