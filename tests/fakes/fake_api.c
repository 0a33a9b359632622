/*
 * fake_api.c
 *      Routes of the fake Zendesk: tickets, comments, updates, tags, the
 *      cursor-based incremental export, Help Center articles, the webhook
 *      signing secret, and the /__fake/ control API.
 *
 * Every function runs with the state lock held (see fake_zendesk.c).
 * Behaviour follows the fact sheet: cursors are opaque, the export
 * orders by generated_timestamp and hides the last `hide_recent`
 * seconds, a last page still carries an after_cursor, updates bump
 * updated_at and generated_timestamp, safe_update answers 409, bad enum
 * values 422.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_state.h"

static const char *const statuses[] = {"new", "open", "pending", "hold",
                                       "solved", "closed", NULL};
static const char *const priorities[] = {"urgent", "high", "normal", "low",
                                         NULL};

static bool
in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static bool
same_str(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static cJSON *
find_ticket(struct fake *f, long long id)
{
    cJSON *t;

    cJSON_ArrayForEach(t, f->tickets) {
        if ((long long) cJSON_GetNumberValue(
                cJSON_GetObjectItemCaseSensitive(t, "id")) == id)
            return t;
    }
    return NULL;
}

static cJSON *
comments_of(struct fake *f, long long id)
{
    char key[32];

    snprintf(key, sizeof(key), "%lld", id);
    return cJSON_GetObjectItemCaseSensitive(f->comments, key);
}

static void
set_item(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

static int
query_int(const struct fake_req *rq, const char *key, int def)
{
    const char *v = fake_query(rq, key);

    return v != NULL ? atoi(v) : def;
}

/* GET /api/v2/tickets/{id} */
static void
ticket_get(struct fake *f, long long id, struct fake_reply *r)
{
    cJSON *t = find_ticket(f, id), *o;

    if (t == NULL) {
        fake_reply_error(r, 404, "RecordNotFound", "Not found");
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ticket", cJSON_Duplicate(t, 1));
    fake_reply_json(r, 200, o);
}

/* Slice `arr` from `start` and build cursor or offset paging around it. */
static void
page_list(const struct fake_req *rq, const char *name, const cJSON *arr,
          const char *kind, int def_size, struct fake_reply *r)
{
    const char *size_s = fake_query(rq, "page[size]");
    const char *after = fake_query(rq, "page[after]");
    int n = cJSON_GetArraySize(arr), start = 0, size;
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    char plain[64], url[600], *cur;

    if (size_s != NULL) {
        size = atoi(size_s);
        if (after != NULL) {
            if (!fake_cursor_read(after, plain, sizeof(plain)) ||
                plain[0] != kind[0]) {
                cJSON_Delete(o);
                cJSON_Delete(items);
                fake_reply_error(r, 400, "InvalidPaginationParameter",
                                 "invalid cursor");
                return;
            }
            start = atoi(plain + 2);
        }
    } else {
        size = query_int(rq, "per_page", def_size);
        start = (query_int(rq, "page", 1) - 1) * size;
    }
    if (size < 1 || size > 100)
        size = size < 1 ? def_size : 100;
    if (start < 0)
        start = 0;

    for (int i = start; i < n && i < start + size; i++)
        cJSON_AddItemToArray(items, cJSON_Duplicate(
                                        cJSON_GetArrayItem(arr, i), 1));
    cJSON_AddItemToObject(o, name, items);

    if (size_s != NULL) {
        cJSON *meta = cJSON_AddObjectToObject(o, "meta");
        cJSON *links = cJSON_AddObjectToObject(o, "links");
        bool more = start + size < n;

        snprintf(plain, sizeof(plain), "%c:%d", kind[0],
                 start + size < n ? start + size : n);
        cur = fake_cursor_make(plain);
        cJSON_AddBoolToObject(meta, "has_more", more);
        cJSON_AddStringToObject(meta, "after_cursor", cur);
        cJSON_AddStringToObject(meta, "before_cursor", cur);
        snprintf(url, sizeof(url), "http://%s%s.json?page[size]=%d"
                 "&page[after]=%s", rq->host, rq->path, size, cur);
        cJSON_AddItemToObject(links, "next", more ? cJSON_CreateString(url)
                                                  : cJSON_CreateNull());
        cJSON_AddNullToObject(links, "prev");
        free(cur);
    } else {
        int page = start / size + 1;

        snprintf(url, sizeof(url), "http://%s%s.json?page=%d&per_page=%d",
                 rq->host, rq->path, page + 1, size);
        cJSON_AddItemToObject(o, "next_page",
                              start + size < n ? cJSON_CreateString(url)
                                               : cJSON_CreateNull());
        cJSON_AddNullToObject(o, "previous_page");
        cJSON_AddNumberToObject(o, "count", n);
    }
    fake_reply_json(r, 200, o);
}

/* Validate and apply the fields of an update; false after a reply. */
static bool
apply_fields(cJSON *t, const cJSON *u, struct fake_reply *r)
{
    static const char *const copied[] = {"group_id", "assignee_id",
                                         "tags", "custom_fields", NULL};
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(u, "status");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(u, "priority");

    if ((st != NULL && (!cJSON_IsString(st) ||
                        !in_list(st->valuestring, statuses))) ||
        (pr != NULL && !cJSON_IsNull(pr) &&
         (!cJSON_IsString(pr) || !in_list(pr->valuestring, priorities)))) {
        fake_reply_error(r, 422, "RecordInvalid",
                         "Record validation errors");
        return false;
    }
    if (st != NULL)
        set_item(t, "status", cJSON_Duplicate(st, 1));
    if (pr != NULL)
        set_item(t, "priority", cJSON_Duplicate(pr, 1));
    for (int i = 0; copied[i] != NULL; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, copied[i]);

        if (v != NULL)
            set_item(t, copied[i], cJSON_Duplicate(v, 1));
    }
    return true;
}

/* Append the update's comment, if any; false after a reply. */
static bool
add_comment(struct fake *f, long long id, const cJSON *u, int64_t audit,
            struct fake_reply *r)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "comment");
    const cJSON *body, *html, *pub;
    cJSON *list = comments_of(f, id), *nc, *rec;
    char now[32];

    if (c == NULL)
        return true;
    body = cJSON_GetObjectItemCaseSensitive(c, "body");
    html = cJSON_GetObjectItemCaseSensitive(c, "html_body");
    pub = cJSON_GetObjectItemCaseSensitive(c, "public");
    if (!cJSON_IsString(body) && !cJSON_IsString(html)) {
        fake_reply_error(r, 422, "RecordInvalid", "comment has no body");
        return false;
    }
    if (cJSON_GetArraySize(list) >= 5000) {
        fake_reply_error(r, 422, "RecordInvalid", "too many comments");
        return false;
    }

    fake_iso(fake_now(f), now);
    nc = cJSON_CreateObject();
    cJSON_AddNumberToObject(nc, "id", (double) f->next_comment_id++);
    cJSON_AddStringToObject(nc, "type", "Comment");
    cJSON_AddNumberToObject(nc, "author_id", 7000);
    cJSON_AddStringToObject(nc, "body", cJSON_IsString(body)
                                            ? body->valuestring
                                            : html->valuestring);
    cJSON_AddBoolToObject(nc, "public", !cJSON_IsFalse(pub));
    cJSON_AddNumberToObject(nc, "audit_id", (double) audit);
    cJSON_AddStringToObject(nc, "created_at", now);
    cJSON_AddItemToArray(list, cJSON_Duplicate(nc, 1));

    rec = nc;
    cJSON_AddNumberToObject(rec, "ticket_id", (double) id);
    cJSON_AddItemToArray(f->posted, rec);
    return true;
}

/* PUT /api/v2/tickets/{id} */
static void
ticket_put(struct fake *f, const struct fake_req *rq, long long id,
           struct fake_reply *r)
{
    cJSON *t = find_ticket(f, id), *root, *o, *audit;
    const cJSON *u, *safe, *stamp;
    int64_t audit_id = f->next_audit_id++;
    char now[32];

    if (t == NULL) {
        fake_reply_error(r, 404, "RecordNotFound", "Not found");
        return;
    }
    root = cJSON_ParseWithLength(rq->body, rq->body_len);
    u = cJSON_GetObjectItemCaseSensitive(root, "ticket");
    if (!cJSON_IsObject(u)) {
        cJSON_Delete(root);
        fake_reply_error(r, 400, "InvalidValue", "body needs a ticket");
        return;
    }

    /* safe_update: the stamp must equal the current updated_at. */
    safe = cJSON_GetObjectItemCaseSensitive(u, "safe_update");
    stamp = cJSON_GetObjectItemCaseSensitive(u, "updated_stamp");
    if (cJSON_IsTrue(safe) &&
        (!cJSON_IsString(stamp) ||
         !same_str(stamp->valuestring,
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                       t, "updated_at"))))) {
        cJSON_Delete(root);
        fake_reply_error(r, 409, "UpdateConflict",
                         "ticket was updated since updated_stamp");
        return;
    }
    if (!apply_fields(t, u, r) || !add_comment(f, id, u, audit_id, r)) {
        cJSON_Delete(root);
        return;
    }
    cJSON_Delete(root);

    fake_iso(fake_now(f), now);
    set_item(t, "updated_at", cJSON_CreateString(now));
    set_item(t, "generated_timestamp",
             cJSON_CreateNumber((double) fake_now(f)));
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ticket", cJSON_Duplicate(t, 1));
    audit = cJSON_AddObjectToObject(o, "audit");
    cJSON_AddNumberToObject(audit, "id", (double) audit_id);
    cJSON_AddNumberToObject(audit, "ticket_id", (double) id);
    cJSON_AddStringToObject(audit, "created_at", now);
    fake_reply_json(r, 200, o);
}

/* PUT adds, POST replaces, DELETE removes: /api/v2/tickets/{id}/tags */
static void
ticket_tags(struct fake *f, const struct fake_req *rq, long long id,
            struct fake_reply *r)
{
    cJSON *t = find_ticket(f, id), *root, *tags, *o;
    const cJSON *want, *w, *have;

    if (t == NULL) {
        fake_reply_error(r, 404, "RecordNotFound", "Not found");
        return;
    }
    root = cJSON_ParseWithLength(rq->body, rq->body_len);
    want = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (!cJSON_IsArray(want)) {
        cJSON_Delete(root);
        fake_reply_error(r, 400, "InvalidValue", "body needs tags");
        return;
    }
    tags = cJSON_CreateArray();
    cJSON_ArrayForEach(have, cJSON_GetObjectItemCaseSensitive(t, "tags")) {
        bool drop = strcmp(rq->method, "POST") == 0;

        cJSON_ArrayForEach(w, want) {
            if (strcmp(rq->method, "DELETE") == 0 && cJSON_Compare(w, have, 1))
                drop = true;
        }
        if (!drop)
            cJSON_AddItemToArray(tags, cJSON_Duplicate(have, 1));
    }
    cJSON_ArrayForEach(w, want) {
        bool dup = false;

        cJSON_ArrayForEach(have, tags) dup = dup || cJSON_Compare(w, have, 1);
        if (strcmp(rq->method, "DELETE") != 0 && !dup)
            cJSON_AddItemToArray(tags, cJSON_Duplicate(w, 1));
    }
    cJSON_Delete(root);
    set_item(t, "tags", tags);
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(tags, 1));
    fake_reply_json(r, 200, o);
}

static int
cmp_gts(const void *pa, const void *pb)
{
    const cJSON *a = *(const cJSON *const *) pa;
    const cJSON *b = *(const cJSON *const *) pb;
    double ga = cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(a, "generated_timestamp"));
    double gb = cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(b, "generated_timestamp"));
    double ia = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a,
                                                                      "id"));
    double ib = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b,
                                                                      "id"));

    if (ga != gb)
        return ga < gb ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

/* Read the start position from start_time or cursor; false on reply. */
static bool
export_position(const struct fake_req *rq, long long *g, long long *id,
                struct fake_reply *r)
{
    const char *st = fake_query(rq, "start_time");
    const char *cur = fake_query(rq, "cursor");
    char plain[64];

    if (cur != NULL) {
        if (!fake_cursor_read(cur, plain, sizeof(plain)) ||
            sscanf(plain, "e:%lld:%lld", g, id) != 2) {
            fake_reply_error(r, 422, "InvalidCursor", "cursor is invalid");
            return false;
        }
        return true;
    }
    if (st == NULL) {
        fake_reply_error(r, 400, "InvalidValue",
                         "start_time or cursor is required");
        return false;
    }
    *g = atoll(st);
    *id = 0;
    return true;
}

/* GET /api/v2/incremental/tickets/cursor */
static void
export_page(struct fake *f, const struct fake_req *rq, struct fake_reply *r)
{
    int n = cJSON_GetArraySize(f->tickets), m = 0, k = 0;
    int size = query_int(rq, "per_page", f->export_page_size);
    cJSON **all = calloc((size_t) n + 1, sizeof(*all)), *o, *items;
    long long g, id, horizon = fake_now(f) - f->hide_recent;
    char plain[64], url[600], *cur;

    if (!export_position(rq, &g, &id, r)) {
        free(all);
        return;
    }
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_GetArrayItem(f->tickets, i);
        long long tg = (long long) cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(t, "generated_timestamp"));
        long long ti = (long long) cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(t, "id"));

        if (tg <= horizon && (tg > g || (tg == g && ti > id)))
            all[m++] = t;
    }
    qsort(all, (size_t) m, sizeof(*all), cmp_gts);

    o = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(o, "tickets");
    for (k = 0; k < m && k < size; k++) {
        cJSON_AddItemToArray(items, cJSON_Duplicate(all[k], 1));
        g = (long long) cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(all[k], "generated_timestamp"));
        id = (long long) cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(all[k], "id"));
    }

    /* The last page still hands out a cursor for the next poll. */
    snprintf(plain, sizeof(plain), "e:%lld:%lld", g, id);
    cur = fake_cursor_make(plain);
    snprintf(url, sizeof(url),
             "http://%s/api/v2/incremental/tickets/cursor.json?cursor=%s",
             rq->host, cur);
    cJSON_AddStringToObject(o, "after_cursor", cur);
    cJSON_AddStringToObject(o, "after_url", url);
    cJSON_AddNullToObject(o, "before_cursor");
    cJSON_AddNullToObject(o, "before_url");
    cJSON_AddBoolToObject(o, "end_of_stream", k >= m);
    free(cur);
    free(all);
    fake_reply_json(r, 200, o);
}

/* GET /api/v2/help_center[/{locale}]/articles */
static void
articles(struct fake *f, const struct fake_req *rq, const char *locale,
         struct fake_reply *r)
{
    cJSON *sel = cJSON_CreateArray(), *a;
    bool known = locale == NULL;

    cJSON_ArrayForEach(a, f->articles) {
        const char *l = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(a, "locale"));

        if (locale != NULL && (l == NULL || strcmp(l, locale) != 0))
            continue;
        known = true;
        cJSON_AddItemReferenceToArray(sel, a);
    }
    if (!known)
        fake_reply_error(r, 404, "RecordNotFound", "unknown locale");
    else
        page_list(rq, "articles", sel, "a", 30, r);
    cJSON_Delete(sel);
}

static void
signing_secret(struct fake *f, struct fake_reply *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(o, "signing_secret");

    cJSON_AddStringToObject(s, "algorithm", "sha256");
    cJSON_AddStringToObject(s, "secret", f->secret);
    fake_reply_json(r, 200, o);
}

/* Routes under /api/v2/tickets/{id}... */
static void
route_ticket(struct fake *f, const struct fake_req *rq, long long id,
             const char *rest, struct fake_reply *r)
{
    bool get = strcmp(rq->method, "GET") == 0;
    bool body_method = strcmp(rq->method, "PUT") == 0 ||
                       strcmp(rq->method, "POST") == 0;
    const char *ct = rq->content_type;

    /* Zendesk refuses bodies that are not declared as JSON. */
    if (body_method &&
        (ct == NULL || strstr(ct, "application/json") == NULL)) {
        fake_reply_error(r, 415, "UnsupportedMediaType",
                         "Content-Type must be application/json");
        return;
    }
    if (rest[0] == '\0' && get)
        ticket_get(f, id, r);
    else if (rest[0] == '\0' && strcmp(rq->method, "PUT") == 0)
        ticket_put(f, rq, id, r);
    else if (strcmp(rest, "/comments") == 0 && get) {
        if (find_ticket(f, id) == NULL)
            fake_reply_error(r, 404, "RecordNotFound", "Not found");
        else
            page_list(rq, "comments", comments_of(f, id), "c", 100, r);
    } else if (strcmp(rest, "/tags") == 0 && !get)
        ticket_tags(f, rq, id, r);
    else
        fake_reply_error(r, 404, "InvalidEndpoint", "Not found");
}

void
fake_route_api(struct fake *f, const struct fake_req *rq,
               struct fake_reply *r)
{
    const char *p = rq->path;
    char locale[32], rest[64];
    long long id;
    int used = 0;

    /* Help Center lists allow anonymous callers; the rest needs auth. */
    if (strcmp(p, "/api/v2/help_center/articles") == 0) {
        articles(f, rq, NULL, r);
        return;
    }
    if (sscanf(p, "/api/v2/help_center/%31[^/]/articles%n", locale,
               &used) == 1 && p[used] == '\0') {
        articles(f, rq, locale, r);
        return;
    }
    if (!rq->authed) {
        fake_reply_error(r, 401, "Couldn't authenticate you", NULL);
        return;
    }

    rest[0] = '\0';
    if (strcmp(p, "/api/v2/incremental/tickets/cursor") == 0)
        export_page(f, rq, r);
    else if (sscanf(p, "/api/v2/tickets/%lld%63s", &id, rest) >= 1)
        route_ticket(f, rq, id, rest, r);
    else if (sscanf(p, "/api/v2/webhooks/%*[^/]/signing_secret%n",
                    &used) == 0 && used > 0 && p[used] == '\0')
        signing_secret(f, r);
    else
        fake_reply_error(r, 404, "InvalidEndpoint", "Not found");
}
