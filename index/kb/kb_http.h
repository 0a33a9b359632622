/*
 * kb_http.h
 *      The search endpoint of the JSON API: GET /api/v1/search.
 *
 * Kept apart from kb.h so that the knowledge base itself does not depend
 * on the HTTP server; only the composition root includes this.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_KB_HTTP_H
#define TR_KB_HTTP_H

#include "db.h"
#include "err.h"
#include "http.h"

/*
 * Register GET /api/v1/search?q=TEXT&k=N&tenant=NAME on `s` (before it
 * starts).  The handler answers 200 with {"tenant","version","query",
 * "hits":[{"rank","score","article_id","title","url","locale",
 * "heading_path","snippet","start","end"}]}, 404 (code "tenant") for an
 * unknown tenant, 400 when q is missing or k is not in 1..50, 404
 * ("notfound") when the tenant has no live index.  `db` is borrowed and
 * must outlive the server.  Returns what tr_http_route_add() returns.
 */
enum tr_err tr_kb_http_register(struct tr_http_server *s, struct tr_db *db,
                                struct tr_error *err);

#endif /* TR_KB_HTTP_H */
