/*
 * dataset.c
 *      Labelled texts from JSON Lines files for training and evaluation.
 *
 * Each non-blank line is one object with string members "text" and
 * "label"; other members are ignored.  The whole file is read at once
 * (bounded by TR_ROUTE_FILE_MAX) and every string is copied into the
 * set's arena, so the set does not depend on the file afterwards.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mem.h"
#include "route.h"

static enum tr_err
read_file(const char *path, char **out, size_t *out_len,
          struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    enum tr_err rc = TR_OK;

    if (f == NULL)
        return TR_ERROR(err, TR_E_IO, "could not open file \"%s\": %s",
                        path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        rc = TR_ERROR(err, TR_E_IO, "could not read file \"%s\"", path);
        goto out;
    }
    if ((unsigned long)size > TR_ROUTE_FILE_MAX) {
        rc = TR_ERROR(err, TR_E_TOOBIG,
                      "file \"%s\" is larger than %u bytes", path,
                      TR_ROUTE_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        rc = TR_ERROR(err, TR_E_IO, "could not read file \"%s\"", path);
        goto out;
    }
    buf[size] = '\0';
    *out = buf;
    *out_len = (size_t)size;
    buf = NULL;

out:
    free(buf);
    fclose(f);
    return rc;
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Parse one line into `row`, strings copied into `arena`. */
static enum tr_err
parse_line(const char *path, size_t line_no, const char *s, size_t n,
           struct tr_arena *arena, struct tr_route_example *row,
           struct tr_error *err)
{
    cJSON *root = cJSON_ParseWithLength(s, n);
    const cJSON *text, *label;
    enum tr_err rc = TR_OK;

    if (root == NULL || !cJSON_IsObject(root)) {
        rc = TR_ERROR(err, TR_E_PARSE,
                      "\"%s\" line %zu: not a JSON object", path, line_no);
        goto out;
    }
    text = cJSON_GetObjectItemCaseSensitive(root, "text");
    label = cJSON_GetObjectItemCaseSensitive(root, "label");
    if (!cJSON_IsString(text) || !cJSON_IsString(label)) {
        rc = TR_ERROR(err, TR_E_PARSE,
                      "\"%s\" line %zu: \"text\" and \"label\" must be "
                      "strings", path, line_no);
        goto out;
    }
    if (label->valuestring[0] == '\0'
        || strlen(label->valuestring) > TR_ROUTE_LABEL_MAX) {
        rc = TR_ERROR(err, TR_E_PARSE,
                      "\"%s\" line %zu: label is empty or longer than %d "
                      "bytes", path, line_no, TR_ROUTE_LABEL_MAX);
        goto out;
    }
    row->text = tr_arena_strdup(arena, text->valuestring);
    row->label = tr_arena_strdup(arena, label->valuestring);
    if (row->text == NULL || row->label == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"",
                      path);

out:
    cJSON_Delete(root);
    return rc;
}

static size_t
count_lines(const char *buf, size_t len)
{
    size_t n = 1;

    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

enum tr_err
tr_route_set_load(const char *path, struct tr_route_set **out,
                  struct tr_error *err)
{
    struct tr_route_set *set = NULL;
    char *buf = NULL;
    size_t len = 0, line_no = 0;
    enum tr_err rc;

    *out = NULL;
    rc = read_file(path, &buf, &len, err);
    if (rc != TR_OK)
        return rc;
    set = calloc(1, sizeof(*set));
    if (set == NULL || (set->arena = tr_arena_new(1 << 20)) == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"", path);
        goto fail;
    }
    set->rows = tr_arena_alloc(set->arena,
                               count_lines(buf, len) * sizeof(*set->rows));
    if (set->rows == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"", path);
        goto fail;
    }

    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;

        line_no++;
        if (!is_blank(buf + at, n)) {
            rc = parse_line(path, line_no, buf + at, n, set->arena,
                            &set->rows[set->n_rows], err);
            if (rc != TR_OK)
                goto fail;
            set->n_rows++;
        }
        at += n + 1;
    }
    free(buf);
    *out = set;
    return TR_OK;

fail:
    free(buf);
    tr_route_set_free(set);
    return rc;
}

void
tr_route_set_free(struct tr_route_set *set)
{
    if (set == NULL)
        return;
    tr_arena_free(set->arena);
    free(set);
}
