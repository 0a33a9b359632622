/*
 * update.c
 *      Ticket updates (reply, internal note, group, priority, status,
 *      tags) and the Help Center article list.
 *
 * An update is one PUT of {"ticket": {...}} carrying only the fields the
 * caller set; the comment body is JSON-escaped here and never logged.
 * With an updated_stamp the request asks for safe_update so that a
 * ticket changed meanwhile answers 409 instead of being overwritten.
 * Runs on the thread that owns the client.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "zendesk_int.h"

/* Append `"key":"value",` when value is set. */
static enum tr_err
put_str(struct tr_buf *b, const char *key, const char *value)
{
    enum tr_err rc;

    if (value == NULL)
        return TR_OK;
    rc = tr_buf_printf(b, "\"%s\":", key);
    if (rc == TR_OK)
        rc = tr_buf_json_str(b, value);
    if (rc == TR_OK)
        rc = tr_buf_puts(b, ",");
    return rc;
}

/*
 * The comment object.  public is always sent explicitly, since the
 * default of the API for a missing flag is not something to rely on.
 */
static enum tr_err
put_comment(struct tr_buf *b, const struct tr_zendesk_update *u)
{
    enum tr_err rc;

    if (u->comment == NULL)
        return TR_OK;
    rc = tr_buf_puts(b, "\"comment\":{");
    if (rc == TR_OK)
        rc = put_str(b, u->comment_html ? "html_body" : "body", u->comment);
    if (rc == TR_OK)
        rc = tr_buf_printf(b, "\"public\":%s},",
                           u->comment_public ? "true" : "false");
    return rc;
}

/* tags replaces the whole list on Zendesk's side; sent only if asked. */
static enum tr_err
put_tags(struct tr_buf *b, const struct tr_zendesk_update *u)
{
    enum tr_err rc;

    if (!u->set_tags)
        return TR_OK;
    rc = tr_buf_puts(b, "\"tags\":[");
    for (size_t i = 0; i < u->n_tags && rc == TR_OK; i++) {
        if (i > 0)
            rc = tr_buf_puts(b, ",");
        if (rc == TR_OK)
            rc = tr_buf_json_str(b, u->tags[i]);
    }
    if (rc == TR_OK)
        rc = tr_buf_puts(b, "],");
    return rc;
}

/* Build {"ticket":{...}} from the fields that are set. */
static enum tr_err
update_body(struct tr_buf *b, const struct tr_zendesk_update *u)
{
    enum tr_err rc;

    rc = tr_buf_puts(b, "{\"ticket\":{");
    if (rc == TR_OK)
        rc = put_comment(b, u);
    if (rc == TR_OK)
        rc = put_str(b, "status", u->status);
    if (rc == TR_OK)
        rc = put_str(b, "priority", u->priority);
    if (rc == TR_OK && u->group_id > 0)
        rc = tr_buf_printf(b, "\"group_id\":%lld,", (long long) u->group_id);
    if (rc == TR_OK && u->assignee_id > 0)
        rc = tr_buf_printf(b, "\"assignee_id\":%lld,",
                           (long long) u->assignee_id);
    if (rc == TR_OK)
        rc = put_tags(b, u);
    if (rc == TR_OK && u->updated_stamp != NULL) {
        rc = tr_buf_puts(b, "\"safe_update\":true,");
        if (rc == TR_OK)
            rc = put_str(b, "updated_stamp", u->updated_stamp);
    }

    /* Every member ended with a comma; replace the last one. */
    if (rc == TR_OK && b->data[b->len - 1] == ',')
        b->data[--b->len] = '\0';
    if (rc == TR_OK)
        rc = tr_buf_puts(b, "}}");
    return rc;
}

/*
 * One PUT.  Nothing here retries on its own beyond the policy: a PUT
 * that timed out may still have been applied, which is why the caller
 * records Zendesk's answer (the audit id) and checks before posting
 * again.
 */
enum tr_err
tr_zendesk_ticket_update(struct tr_zendesk *zd, struct tr_arena *a,
                         int64_t id, const struct tr_zendesk_update *upd,
                         struct tr_zendesk_ticket *out, int64_t *audit_id,
                         struct tr_error *err)
{
    struct tr_zendesk_ticket scratch;
    struct tr_buf body;
    char path[64];
    cJSON *root = NULL;
    enum tr_err rc;

    if (id < 1)
        return TR_ERROR(err, TR_E_INVAL, "ticket id must be positive");
    tr_buf_init(&body, (size_t) 1 << 20);
    rc = update_body(&body, upd);
    if (rc != TR_OK) {
        rc = TR_ERROR(err, rc, "ticket update is too large to send");
        goto out;
    }

    snprintf(path, sizeof(path), "/tickets/%lld.json", (long long) id);
    rc = tr_zendesk__call(zd, "PUT", path, &body, "ticket update", &root,
                          err);
    if (rc != TR_OK)
        goto out;

    rc = tr_zendesk__ticket_from_json(
        a, cJSON_GetObjectItemCaseSensitive(root, "ticket"),
        out != NULL ? out : &scratch, err);
    if (rc == TR_OK && audit_id != NULL &&
        !tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(
                                 cJSON_GetObjectItemCaseSensitive(root,
                                                                  "audit"),
                                 "id"),
                             audit_id))
        *audit_id = 0;

out:
    cJSON_Delete(root);
    tr_buf_cleanup(&body);
    return rc;
}

/* A locale goes into the path: letters, digits and '-' only. */
static bool
locale_ok(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 16)
        return false;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char) *s) && *s != '-')
            return false;
    return true;
}

/* Parse the "articles" array and the cursor meta of a list page. */
static enum tr_err
articles_from(struct tr_arena *a, const cJSON *root,
              struct tr_zendesk_article_page *out, struct tr_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "articles");
    const cJSON *it;
    enum tr_err rc;
    size_t n = 0;

    if (!cJSON_IsArray(arr))
        return TR_ERROR(err, TR_E_PARSE, "article list has no \"articles\"");
    out->articles = tr_arena_alloc(
        a, sizeof(*out->articles) * ((size_t) cJSON_GetArraySize(arr) + 1));
    if (out->articles == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    cJSON_ArrayForEach(it, arr) {
        rc = tr_zendesk__article_from_json(a, it, &out->articles[n], err);
        if (rc != TR_OK)
            return rc;
        n++;
    }
    out->n_articles = n;
    tr_zendesk__read_meta(a, root, &out->has_more, &out->after_cursor);
    return TR_OK;
}

/*
 * Cursor mode is always used (page[size] is sent), so paging is stable
 * while articles change, unlike offset paging.
 */
enum tr_err
tr_zendesk_articles_list(struct tr_zendesk *zd, struct tr_arena *a,
                         const char *locale, const char *after,
                         int page_size, struct tr_zendesk_article_page *out,
                         struct tr_error *err)
{
    struct tr_buf path;
    cJSON *root = NULL;
    enum tr_err rc;

    memset(out, 0, sizeof(*out));
    if (locale != NULL && !locale_ok(locale))
        return TR_ERROR(err, TR_E_INVAL, "invalid locale \"%.16s\"", locale);

    tr_buf_init(&path, 4096);
    if (locale != NULL)
        tr_buf_printf(&path, "/help_center/%s/articles.json", locale);
    else
        tr_buf_puts(&path, "/help_center/articles.json");
    rc = tr_zendesk__cursor_query(&path, page_size > 0 ? page_size : 30,
                                  after);
    if (rc != TR_OK) {
        rc = TR_ERROR(err, rc, "article cursor too long");
        goto out;
    }

    rc = tr_zendesk__call(zd, "GET", path.data, NULL, "article list", &root,
                          err);
    if (rc == TR_OK)
        rc = articles_from(a, root, out, err);

out:
    cJSON_Delete(root);
    tr_buf_cleanup(&path);
    return rc;
}
