/*
 * lang.c
 *      Language identification on libexttextcat's n-gram profiles.
 *
 * libexttextcat reads its list of profiles from a configuration file, so
 * the detector writes one for the chosen languages into a private
 * temporary file, loads it and removes it at once.  Each answer comes
 * from textcat_ClassifyFull(), which lists the languages scoring within
 * a few per cent of the best (lower scores are better); the gap between
 * the first two decides between "likely" and "ambiguous".  The handle is
 * used under the detector's mutex (see lang.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <constants.h>     /* libexttextcat: MAXCANDIDATES */
#include <textcat.h>

#include "lang.h"

/* Longest text prefix looked at; profiles need far less. */
#define TEXT_MAX 4096

struct tr_lang {
    pthread_mutex_t lock;
    void *tc;                   /* libexttextcat handle */
    candidate_t *cands;         /* its result array */
    char default_lang[8];
    size_t min_letters;
    double margin;
};

/*
 * Write "<code>.lm <code>" for every code of `langs` into `f`, checking
 * each code and that its profile exists under `dir`.
 */
static enum tr_err
write_conf(FILE *f, const char *dir, const char *langs,
           struct tr_error *err)
{
    const char *p = langs;
    int n = 0;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char code[8], path[4096];

        if (len == 0 || len >= sizeof(code) || strspn(p, "abcdefghijklm"
                "nopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") < len)
            return TR_ERROR(err, TR_E_INVAL,
                            "bad language code in \"%s\"", langs);
        if (++n > TR_LANG_MAX)
            return TR_ERROR(err, TR_E_INVAL,
                            "more than %d languages", TR_LANG_MAX);
        memcpy(code, p, len);
        code[len] = '\0';
        snprintf(path, sizeof(path), "%s/%s.lm", dir, code);
        if (access(path, R_OK) != 0)
            return TR_ERROR(err, TR_E_NOTFOUND,
                            "no language profile \"%s\"", path);
        if (fprintf(f, "%s.lm %s\n", code, code) < 0)
            return TR_ERROR(err, TR_E_IO, "could not write profile list");
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no language given");
    return TR_OK;
}

/* Load the profiles through a temporary configuration file. */
static enum tr_err
load_profiles(struct tr_lang *l, const char *dir, const char *langs,
              struct tr_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char conf[4096], prefix[4096];
    FILE *f;
    int fd;
    enum tr_err rc;

    snprintf(conf, sizeof(conf), "%s/tr-lang-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(conf);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(conf);
        }
        return TR_ERROR(err, TR_E_IO,
                        "could not create a temporary file: %s",
                        strerror(errno));
    }
    rc = write_conf(f, dir, langs, err);
    if (fclose(f) != 0 && rc == TR_OK)
        rc = TR_ERROR(err, TR_E_IO, "could not write profile list");

    if (rc == TR_OK) {
        snprintf(prefix, sizeof(prefix), "%s/", dir);
        l->tc = special_textcat_Init(conf, prefix);
        if (l->tc == NULL)
            rc = TR_ERROR(err, TR_E_IO,
                          "could not load language profiles from \"%s\"",
                          dir);
    }
    unlink(conf);
    return rc;
}

enum tr_err
tr_lang_new(const struct tr_lang_opts *o, struct tr_lang **out,
            struct tr_error *err)
{
    struct tr_lang_opts d = {0};
    struct tr_lang *l;
    enum tr_err rc;

    *out = NULL;
    if (o == NULL)
        o = &d;
    if (o->default_lang && (strlen(o->default_lang) == 0
                            || strlen(o->default_lang) > 7))
        return TR_ERROR(err, TR_E_INVAL, "bad default language \"%s\"",
                        o->default_lang);
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for a detector");
    pthread_mutex_init(&l->lock, NULL);
    strcpy(l->default_lang, o->default_lang ? o->default_lang : "en");
    l->min_letters = o->min_letters ? o->min_letters : 12;
    l->margin = o->margin > 0 ? o->margin : 0.015;

    rc = load_profiles(l, o->data_dir ? o->data_dir : TR_LANG_DATA_DIR,
                       o->langs ? o->langs : TR_LANG_DEFAULT_SET, err);
    if (rc != TR_OK)
        goto fail;

    /* Our own length check decides "short"; the library's stays out. */
    textcat_SetProperty(l->tc, TCPROP_UTF8AWARE, TC_TRUE);
    textcat_SetProperty(l->tc, TCPROP_MINIMUM_DOCUMENT_SIZE, 1);
    l->cands = textcat_GetClassifyFullOutput(l->tc);
    if (l->cands == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for a detector");
        goto fail;
    }
    *out = l;
    return TR_OK;

fail:
    tr_lang_free(l);
    return rc;
}

/* Letters: ASCII letters and the first byte of every non-ASCII char. */
static size_t
count_letters(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        n += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0xc0;
    }
    return n;
}

static void
set_answer(const struct tr_lang *l, struct tr_lang_result *res,
           enum tr_lang_status status, const char *guess)
{
    res->status = status;
    res->reliable = status == TR_LANG_SURE || status == TR_LANG_LIKELY;
    snprintf(res->guess, sizeof(res->guess), "%s", guess ? guess : "");
    snprintf(res->code, sizeof(res->code), "%s",
             res->reliable ? guess : l->default_lang);
}

enum tr_err
tr_lang_detect(struct tr_lang *l, const char *text, size_t len,
               struct tr_lang_result *res, struct tr_error *err)
{
    int n;

    (void)err;
    if (text == NULL)
        len = 0;
    if (len > TEXT_MAX) {
        /* Cut at a character boundary, not inside a UTF-8 sequence. */
        len = TEXT_MAX;
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
            len--;
    }
    if (count_letters(text, len) < l->min_letters) {
        set_answer(l, res, TR_LANG_SHORT, NULL);
        return TR_OK;
    }

    pthread_mutex_lock(&l->lock);
    n = textcat_ClassifyFull(l->tc, text, len, l->cands);
    if (n <= 0 || n > MAXCANDIDATES) {
        /* The library gives up past MAXCANDIDATES close languages. */
        set_answer(l, res, TR_LANG_UNKNOWN, NULL);
    } else if (n == 1) {
        set_answer(l, res, TR_LANG_SURE, l->cands[0].name);
    } else if (l->cands[1].score
               >= l->cands[0].score * (1.0 + l->margin)) {
        set_answer(l, res, TR_LANG_LIKELY, l->cands[0].name);
    } else {
        set_answer(l, res, TR_LANG_AMBIGUOUS, l->cands[0].name);
    }
    pthread_mutex_unlock(&l->lock);
    return TR_OK;
}

const char *
tr_lang_status_name(enum tr_lang_status status)
{
    switch (status) {
    case TR_LANG_SURE: return "sure";
    case TR_LANG_LIKELY: return "likely";
    case TR_LANG_AMBIGUOUS: return "ambiguous";
    case TR_LANG_SHORT: return "short";
    case TR_LANG_UNKNOWN: return "unknown";
    }
    return "unknown";
}

void
tr_lang_free(struct tr_lang *l)
{
    if (l == NULL)
        return;
    if (l->cands != NULL)
        textcat_ReleaseClassifyFullOutput(l->tc, l->cands);
    if (l->tc != NULL)
        textcat_Done(l->tc);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
