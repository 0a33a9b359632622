/*
 * kb_parse.c
 *      Reading knowledge-base sources: a Zendesk Help Center export, a
 *      JSON Lines file, or a folder of Markdown and HTML files.
 *
 * Every parser fills a struct tr_kb__list and stops at the first fault
 * with TR_E_PARSE and a message naming the file and the line or article,
 * so that an import is all or nothing.  Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "kb_int.h"
#include "text.h"

/* Read the whole file `path` into a new zero-terminated buffer. */
static enum tr_err
read_file(const char *path, char **out, size_t *out_len,
          struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;
    size_t n;

    if (f == NULL)
        return TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                        "could not open file \"%s\": %s", path,
                        strerror(errno));
    if (fstat(fileno(f), &st) != 0 || (size_t) st.st_size > TR_KB_FILE_MAX) {
        fclose(f);
        return TR_ERROR(err, TR_E_TOOBIG, "file \"%s\" is larger than "
                        "%zu bytes", path, TR_KB_FILE_MAX);
    }
    buf = malloc((size_t) st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    n = fread(buf, 1, (size_t) st.st_size, f);
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return TR_OK;
}

/*
 * The text of a JSON id: a string as is, a number as an integer.  NULL
 * for anything else.
 */
static const char *
json_id(const cJSON *v, char *buf, size_t buf_len)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, buf_len, "%.0f", v->valuedouble);
        return buf;
    }
    return NULL;
}

/* A string member of `o`, NULL when absent or not a string. */
static const char *
json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The name of section `id` in the export's optional "sections" list. */
static const char *
section_name(const cJSON *root, const char *id)
{
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(root, "sections");
    const cJSON *s;
    char buf[32];

    cJSON_ArrayForEach(s, secs) {
        const char *sid = json_id(cJSON_GetObjectItemCaseSensitive(s, "id"),
                                  buf, sizeof(buf));

        if (sid != NULL && strcmp(sid, id) == 0 && json_str(s, "name"))
            return json_str(s, "name");
    }
    return id;
}

/* One article of a Help Center export. */
static enum tr_err
zendesk_article(const char *path, const cJSON *root, const cJSON *it,
                size_t i, struct tr_kb__list *l, struct tr_error *err)
{
    char idbuf[32], secbuf[32];
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "body");
    const char *sec;
    struct tr_kb_article a = {0};

    if (!cJSON_IsObject(it))
        return TR_ERROR(err, TR_E_PARSE, "%s: article %zu is not an "
                        "object", path, i + 1);
    a.id = json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), idbuf,
                   sizeof(idbuf));
    if (a.id == NULL)
        return TR_ERROR(err, TR_E_PARSE, "%s: article %zu has no id",
                        path, i + 1);
    a.title = json_str(it, "title");
    if (a.title == NULL)
        a.title = json_str(it, "name");
    if (a.title == NULL || a.title[0] == '\0')
        return TR_ERROR(err, TR_E_PARSE, "%s: article %zu (id %s) has no "
                        "title", path, i + 1, a.id);
    if (body != NULL && !cJSON_IsString(body) && !cJSON_IsNull(body))
        return TR_ERROR(err, TR_E_PARSE, "%s: article %zu (id %s): body "
                        "is not a string", path, i + 1, a.id);

    /* Zendesk sends null for an empty body. */
    a.body = cJSON_IsString(body) ? body->valuestring : "";
    a.format = TR_KB_HTML;
    a.url = json_str(it, "html_url");
    a.locale = json_str(it, "locale");
    a.draft = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "draft"));
    sec = json_id(cJSON_GetObjectItemCaseSensitive(it, "section_id"),
                  secbuf, sizeof(secbuf));
    a.section = sec != NULL ? section_name(root, sec) : NULL;
    return tr_kb__list_add(l, &a, err);
}

static enum tr_err
parse_zendesk(const char *path, const char *data, struct tr_kb__list *l,
              struct tr_error *err)
{
    cJSON *root = cJSON_Parse(data);
    const cJSON *arts, *it;
    enum tr_err rc = TR_OK;
    size_t i = 0;

    if (root == NULL)
        return TR_ERROR(err, TR_E_PARSE, "%s: not valid JSON near byte "
                        "%td", path, cJSON_GetErrorPtr() - data);
    arts = cJSON_GetObjectItemCaseSensitive(root, "articles");
    if (!cJSON_IsArray(arts)) {
        cJSON_Delete(root);
        return TR_ERROR(err, TR_E_PARSE, "%s: no \"articles\" array", path);
    }
    cJSON_ArrayForEach(it, arts) {
        rc = zendesk_article(path, root, it, i++, l, err);
        if (rc != TR_OK)
            break;
    }
    cJSON_Delete(root);
    return rc;
}

/* One line of a JSON Lines file. */
static enum tr_err
jsonl_line(const char *path, size_t line_no, const char *line,
           struct tr_kb__list *l, struct tr_error *err)
{
    cJSON *o = cJSON_Parse(line);
    struct tr_kb_article a = {0};
    char idbuf[32];
    enum tr_err rc;

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return TR_ERROR(err, TR_E_PARSE, "%s:%zu: not a JSON object", path,
                        line_no);
    }
    a.id = json_id(cJSON_GetObjectItemCaseSensitive(o, "id"), idbuf,
                   sizeof(idbuf));
    a.title = json_str(o, "title");
    a.body = json_str(o, "text");
    if (a.id == NULL || a.id[0] == '\0' || a.title == NULL ||
        a.title[0] == '\0' || a.body == NULL) {
        rc = TR_ERROR(err, TR_E_PARSE, "%s:%zu: missing \"%s\"", path,
                      line_no, a.id == NULL || a.id[0] == '\0' ? "id"
                      : a.title == NULL || a.title[0] == '\0' ? "title"
                      : "text");
        cJSON_Delete(o);
        return rc;
    }
    a.format = TR_KB_TEXT;
    a.url = json_str(o, "url");
    a.locale = json_str(o, "locale");
    a.section = json_str(o, "section");
    a.draft = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "draft"));
    rc = tr_kb__list_add(l, &a, err);
    cJSON_Delete(o);
    return rc;
}

static enum tr_err
parse_jsonl(const char *path, char *data, struct tr_kb__list *l,
            struct tr_error *err)
{
    size_t line_no = 0;
    char *p = data;

    while (*p != '\0') {
        char *nl = strchr(p, '\n'), *q;

        if (nl != NULL)
            *nl = '\0';
        line_no++;
        for (q = p; *q == ' ' || *q == '\t' || *q == '\r'; q++)
            ;
        if (*q != '\0') {
            enum tr_err rc = jsonl_line(path, line_no, q, l, err);

            if (rc != TR_OK)
                return rc;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return TR_OK;
}

/* The first heading of a document, or NULL. */
static char *
first_heading(const char *data, size_t len, enum tr_kb_format f,
              struct tr_arena *a)
{
    struct tr_text_blocks b;
    char *title = NULL;

    tr_text_blocks_init(&b);
    if (f == TR_KB_MARKDOWN)
        tr_text_from_markdown(data, len, &b, NULL);
    else
        tr_text_from_html(data, len, &b, NULL);
    for (size_t i = 0; i < b.n; i++) {
        if (b.v[i].kind == TR_TEXT_HEADING) {
            title = tr_arena_strdup(a, b.v[i].text);
            break;
        }
    }
    tr_text_blocks_cleanup(&b);
    return title;
}

/* Format of a file by its extension; -1 when it is not an article. */
static int
file_format(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL)
        return -1;
    if (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0)
        return TR_KB_MARKDOWN;
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
        return TR_KB_HTML;
    return -1;
}

/* Import one file of a folder; `rel` is its path inside the folder. */
static enum tr_err
dir_file(const char *full, const char *rel, enum tr_kb_format f,
         struct tr_kb__list *l, struct tr_error *err)
{
    struct tr_kb_article a = {0};
    char *data, *name, *dot;
    size_t len;
    enum tr_err rc;

    rc = read_file(full, &data, &len, err);
    if (rc != TR_OK)
        return rc;
    a.id = rel;
    a.body = data;
    a.format = f;
    a.title = first_heading(data, len, f, l->arena);
    if (a.title == NULL || a.title[0] == '\0') {
        /* No heading: the file name without its extension. */
        name = tr_arena_strdup(l->arena, strrchr(rel, '/') != NULL
                               ? strrchr(rel, '/') + 1 : rel);
        dot = strrchr(name, '.');
        if (dot != NULL && dot != name)
            *dot = '\0';
        a.title = name;
    }
    rc = tr_kb__list_add(l, &a, err);
    free(data);
    return rc;
}

/* Walk `dir` (relative path `rel`) in name order. */
static enum tr_err
walk_dir(const char *dir, const char *rel, int depth, struct tr_kb__list *l,
         struct tr_error *err)
{
    struct dirent **ents = NULL;
    enum tr_err rc = TR_OK;
    int n;

    if (depth > 32)
        return TR_ERROR(err, TR_E_PARSE, "%s: folders nested too deep",
                        dir);
    n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                        "could not read folder \"%s\": %s", dir,
                        strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char *full, *r;
        struct stat st;

        if (rc != TR_OK || nm[0] == '.')
            continue;
        full = tr_arena_sprintf(l->arena, "%s/%s", dir, nm);
        r = rel[0] ? tr_arena_sprintf(l->arena, "%s/%s", rel, nm)
                   : tr_arena_strdup(l->arena, nm);
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(full, r, depth + 1, l, err);
        else if (S_ISREG(st.st_mode) && file_format(nm) >= 0)
            rc = dir_file(full, r, (enum tr_kb_format) file_format(nm), l,
                          err);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

/* Guess the format of a regular file from its name and content. */
static enum tr_kb_source
guess_source(const char *path, const char *data)
{
    const char *dot = strrchr(path, '.');
    cJSON *root;
    bool zd;

    if (dot != NULL && (strcmp(dot, ".jsonl") == 0 ||
                        strcmp(dot, ".ndjson") == 0))
        return TR_KB_SOURCE_JSONL;
    root = cJSON_Parse(data);
    zd = cJSON_IsObject(root) &&
         cJSON_GetObjectItemCaseSensitive(root, "articles") != NULL;
    cJSON_Delete(root);
    return zd ? TR_KB_SOURCE_ZENDESK : TR_KB_SOURCE_JSONL;
}

enum tr_err
tr_kb__parse_path(const char *path, enum tr_kb_source src,
                  struct tr_kb__list *l, struct tr_error *err)
{
    struct stat st;
    char *data;
    size_t len;
    enum tr_err rc;

    if (stat(path, &st) != 0)
        return TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                        "could not read \"%s\": %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode) || src == TR_KB_SOURCE_DIR) {
        if (!S_ISDIR(st.st_mode))
            return TR_ERROR(err, TR_E_PARSE, "\"%s\" is not a folder",
                            path);
        return walk_dir(path, "", 0, l, err);
    }

    rc = read_file(path, &data, &len, err);
    if (rc != TR_OK)
        return rc;
    if (src == TR_KB_SOURCE_GUESS)
        src = guess_source(path, data);
    if (src == TR_KB_SOURCE_ZENDESK)
        rc = parse_zendesk(path, data, l, err);
    else
        rc = parse_jsonl(path, data, l, err);
    free(data);
    return rc;
}
