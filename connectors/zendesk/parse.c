/*
 * parse.c
 *      Zendesk JSON objects (tickets, comments, articles) into structs.
 *
 * Zendesk sends ids as numbers (event payloads sometimes as strings),
 * nullable fields as null, and more fields than we read; unknown fields
 * are ignored and absent ones left zero or NULL.  Every string kept is
 * copied into the caller's arena so the cJSON tree can be freed at once.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "zendesk_int.h"

const char *
tr_zendesk__json_str(struct tr_arena *a, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(v))
        return NULL;
    return tr_arena_strdup(a, v->valuestring);
}

/* An id member, 0 when absent or null. */
static int64_t
json_id_or_zero(const cJSON *obj, const char *key)
{
    int64_t v = 0;

    if (!tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(obj, key), &v))
        return 0;
    return v;
}

/* Copy the strings of an array member; other element types are skipped. */
static bool
json_str_array(struct tr_arena *a, const cJSON *obj, const char *key,
               const char ***out, size_t *n_out)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    const cJSON *it;
    size_t n = 0;

    *out = NULL;
    *n_out = 0;
    if (!cJSON_IsArray(arr))
        return true;

    *out = tr_arena_alloc(a, sizeof(char *) *
                                 ((size_t) cJSON_GetArraySize(arr) + 1));
    if (*out == NULL)
        return false;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it))
            continue;
        (*out)[n] = tr_arena_strdup(a, it->valuestring);
        if ((*out)[n] == NULL)
            return false;
        n++;
    }
    *n_out = n;
    return true;
}

enum tr_err
tr_zendesk__ticket_from_json(struct tr_arena *a, const cJSON *obj,
                             struct tr_zendesk_ticket *t,
                             struct tr_error *err)
{
    const cJSON *via, *gts;

    memset(t, 0, sizeof(*t));
    if (!cJSON_IsObject(obj) ||
        !tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(obj, "id"),
                             &t->id))
        return TR_ERROR(err, TR_E_PARSE, "ticket object without an id");

    t->subject = tr_zendesk__json_str(a, obj, "subject");
    t->description = tr_zendesk__json_str(a, obj, "description");
    t->status = tr_zendesk__json_str(a, obj, "status");
    t->priority = tr_zendesk__json_str(a, obj, "priority");
    t->type = tr_zendesk__json_str(a, obj, "type");
    t->created_at = tr_zendesk__json_str(a, obj, "created_at");
    t->updated_at = tr_zendesk__json_str(a, obj, "updated_at");
    t->requester_id = json_id_or_zero(obj, "requester_id");
    t->assignee_id = json_id_or_zero(obj, "assignee_id");
    t->group_id = json_id_or_zero(obj, "group_id");
    t->organization_id = json_id_or_zero(obj, "organization_id");

    via = cJSON_GetObjectItemCaseSensitive(obj, "via");
    t->via_channel = tr_zendesk__json_str(a, via, "channel");
    gts = cJSON_GetObjectItemCaseSensitive(obj, "generated_timestamp");
    if (cJSON_IsNumber(gts))
        t->generated_timestamp = (int64_t) gts->valuedouble;

    if (!json_str_array(a, obj, "tags", &t->tags, &t->n_tags))
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}

enum tr_err
tr_zendesk__comment_from_json(struct tr_arena *a, const cJSON *obj,
                              struct tr_zendesk_comment *c,
                              struct tr_error *err)
{
    memset(c, 0, sizeof(*c));
    if (!cJSON_IsObject(obj) ||
        !tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(obj, "id"),
                             &c->id))
        return TR_ERROR(err, TR_E_PARSE, "comment object without an id");

    c->author_id = json_id_or_zero(obj, "author_id");
    c->type = tr_zendesk__json_str(a, obj, "type");
    c->body = tr_zendesk__json_str(a, obj, "body");
    c->html_body = tr_zendesk__json_str(a, obj, "html_body");
    c->plain_body = tr_zendesk__json_str(a, obj, "plain_body");
    c->created_at = tr_zendesk__json_str(a, obj, "created_at");

    /* Comments are public unless Zendesk says false. */
    c->is_public = !cJSON_IsFalse(
        cJSON_GetObjectItemCaseSensitive(obj, "public"));
    return TR_OK;
}

enum tr_err
tr_zendesk__article_from_json(struct tr_arena *a, const cJSON *obj,
                              struct tr_zendesk_article *art,
                              struct tr_error *err)
{
    memset(art, 0, sizeof(*art));
    if (!cJSON_IsObject(obj) ||
        !tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(obj, "id"),
                             &art->id))
        return TR_ERROR(err, TR_E_PARSE, "article object without an id");

    art->section_id = json_id_or_zero(obj, "section_id");
    art->author_id = json_id_or_zero(obj, "author_id");
    art->title = tr_zendesk__json_str(a, obj, "title");
    art->body = tr_zendesk__json_str(a, obj, "body");
    art->locale = tr_zendesk__json_str(a, obj, "locale");
    art->html_url = tr_zendesk__json_str(a, obj, "html_url");
    art->updated_at = tr_zendesk__json_str(a, obj, "updated_at");
    art->edited_at = tr_zendesk__json_str(a, obj, "edited_at");
    art->draft = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "draft"));

    if (!json_str_array(a, obj, "label_names", &art->labels,
                        &art->n_labels))
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}
