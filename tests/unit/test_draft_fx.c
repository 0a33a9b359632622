/*
 * test_draft_fx.c
 *      Loading the draft fixtures (see test_draft_fx.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "tr_test.h"

#include "test_draft_fx.h"

static char *
slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long len;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    assert_true(len > 0);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    buf[len] = '\0';
    fclose(fp);
    return buf;
}

static const char *
str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

void
fx_load(struct fx *f)
{
    const char *src = getenv("TR_SOURCE_DIR");
    char path[4096];
    char *text;
    const cJSON *it;

    memset(f, 0, sizeof(*f));
    snprintf(path, sizeof(path), "%s/tests/data/draft/passages.json",
             src != NULL ? src : ".");
    text = slurp(path);
    f->root = cJSON_Parse(text);
    free(text);
    assert_non_null(f->root);

    cJSON_ArrayForEach(it, (cJSON *)f->root) {
        struct tr_draft_passage *p = &f->p[f->n++];

        assert_true(f->n <= FX_MAX);
        p->id = str(it, "id");
        p->article_id = (int64_t)cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(it, "article_id"));
        p->title = str(it, "title");
        p->url = str(it, "url");
        p->locale = str(it, "locale");
        p->heading = str(it, "heading");
        p->text = str(it, "text");
    }
}

struct tr_draft_passage
fx_get(const struct fx *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->p[i].id, id) == 0)
            return f->p[i];
    fail_msg("no fixture passage \"%s\"", id);
    return f->p[0];
}

void
fx_free(struct fx *f)
{
    cJSON_Delete(f->root);
    memset(f, 0, sizeof(*f));
}

int
fx_sentence_with(const struct tr_draft *d, const char *needle)
{
    for (size_t i = 0; i < d->n_sentences; i++)
        if (strstr(d->sentences[i].text, needle) != NULL)
            return (int)i;
    return -1;
}
