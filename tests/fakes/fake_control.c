/*
 * fake_control.c
 *      The control API of the fake Zendesk under /__fake/ (test code).
 *
 * Tests use it to inject failures, tune the export and the rate limits,
 * add or change tickets between polls, read what clients posted and
 * which requests arrived, and reset everything to the seed.  Runs with
 * the state lock held.  tests/fakes/README.md documents each route.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "fake_state.h"

static int
num(const cJSON *o, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valueint : def;
}

static void
str(const cJSON *o, const char *key, char *out, size_t out_len)
{
    const char *v = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(o, key));

    snprintf(out, out_len, "%s", v != NULL ? v : "");
}

/*
 * POST /__fake/fail: after `skip` requests under `path` went through,
 * the next `count` of them fail.
 */
static void
set_fail(struct fake *f, const cJSON *b)
{
    struct fake_fail *fl = &f->fail;

    memset(fl, 0, sizeof(*fl));
    fl->skip = num(b, "skip", 0);
    fl->count = num(b, "count", 1);
    fl->status = num(b, "status", 500);
    fl->delay_ms = num(b, "delay_ms", 0);
    fl->truncate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b,
                                                                 "truncate"));
    str(b, "path", fl->path, sizeof(fl->path));
    str(b, "retry_after", fl->retry_after, sizeof(fl->retry_after));
    str(b, "content_type", fl->content_type, sizeof(fl->content_type));
    str(b, "body", fl->body, sizeof(fl->body));
    if (fl->path[0] == '\0')
        snprintf(fl->path, sizeof(fl->path), "/api/");
}

/* POST /__fake/config */
static void
set_config(struct fake *f, const cJSON *b)
{
    f->hide_recent = num(b, "hide_recent", f->hide_recent);
    f->export_page_size = num(b, "export_page_size", f->export_page_size);
    f->now_offset = num(b, "now_offset", (int) f->now_offset);
    f->lim_support.per_min = num(b, "rate_support", f->lim_support.per_min);
    f->lim_incremental.per_min = num(b, "rate_incremental",
                                     f->lim_incremental.per_min);
    f->lim_help_center.per_min = num(b, "rate_help_center",
                                     f->lim_help_center.per_min);
}

/* POST /__fake/tickets: add or replace a ticket, as a change would. */
static bool
upsert_ticket(struct fake *f, cJSON *b)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
    cJSON *t, *copy;
    char key[32];
    int i = 0;

    if (!cJSON_IsNumber(id))
        return false;
    copy = cJSON_Duplicate(b, 1);
    if (cJSON_GetObjectItemCaseSensitive(copy, "generated_timestamp") == NULL)
        cJSON_AddNumberToObject(copy, "generated_timestamp",
                                (double) fake_now(f));
    cJSON_ArrayForEach(t, f->tickets) {
        if (cJSON_Compare(cJSON_GetObjectItemCaseSensitive(t, "id"), id, 1)) {
            cJSON_ReplaceItemInArray(f->tickets, i, copy);
            return true;
        }
        i++;
    }
    cJSON_AddItemToArray(f->tickets, copy);
    snprintf(key, sizeof(key), "%d", id->valueint);
    cJSON_AddItemToObject(f->comments, key, cJSON_CreateArray());
    return true;
}

static void
reply_copy(struct fake_reply *r, const char *name, const cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddItemToObject(o, name, cJSON_Duplicate(arr, 1));
    fake_reply_json(r, 200, o);
}

void
fake_route_control(struct fake *f, const struct fake_req *rq,
                   struct fake_reply *r)
{
    const char *p = rq->path + strlen("/__fake");
    bool post = strcmp(rq->method, "POST") == 0;
    cJSON *b = cJSON_ParseWithLength(rq->body, rq->body_len);

    if (post && strcmp(p, "/reset") == 0) {
        fake_load_seed(f);
        fake_reply_json(r, 200, cJSON_CreateObject());
    } else if (post && strcmp(p, "/fail") == 0 && cJSON_IsObject(b)) {
        set_fail(f, b);
        fake_reply_json(r, 200, cJSON_CreateObject());
    } else if (post && strcmp(p, "/config") == 0 && cJSON_IsObject(b)) {
        set_config(f, b);
        fake_reply_json(r, 200, cJSON_CreateObject());
    } else if (post && strcmp(p, "/tickets") == 0 && upsert_ticket(f, b)) {
        fake_reply_json(r, 200, cJSON_CreateObject());
    } else if (!post && strcmp(p, "/posted") == 0) {
        reply_copy(r, "posted", f->posted);
    } else if (!post && strcmp(p, "/requests") == 0) {
        reply_copy(r, "requests", f->requests);
    } else {
        fake_reply_error(r, 400, "BadControlRequest",
                         "unknown control route or bad body");
    }
    cJSON_Delete(b);
}
