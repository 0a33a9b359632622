/*
 * err.c
 *      Names, descriptions and HTTP statuses of enum tr_err, and the
 *      helpers that fill struct tr_error.
 *
 * The tables are generated from TR_ERR_MAP in err.h so that adding a code
 * in one place is enough.  Pure functions, safe from any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

struct err_info {
    const char *name;
    int status;
    const char *text;
};

static const struct err_info err_table[] = {
#define TR_ERR_ROW(name, status, text) {#name, status, text},
    TR_ERR_MAP(TR_ERR_ROW)
#undef TR_ERR_ROW
};

/*
 * Slugs are derived once from the names: "TR_E_DB_CONNECT" becomes
 * "db_connect".  They are computed at first use under a once-guard so the
 * table stays a plain constant.
 */
static char err_slugs[TR_E__COUNT][32];

static void
make_slugs(void)
{
    for (size_t i = 0; i < TR_E__COUNT; i++) {
        const char *n = err_table[i].name;
        size_t j = 0;

        if (strncmp(n, "TR_E_", 5) == 0)
            n += 5;
        else if (strncmp(n, "TR_", 3) == 0)
            n += 3;
        for (; n[j] != '\0' && j < sizeof(err_slugs[i]) - 1; j++)
            err_slugs[i][j] = (char) tolower((unsigned char) n[j]);
        err_slugs[i][j] = '\0';
    }
}

static pthread_once_t slugs_once = PTHREAD_ONCE_INIT;

const char *
tr_err_name(enum tr_err code)
{
    if ((unsigned) code >= TR_E__COUNT)
        return "TR_E_UNKNOWN";
    return err_table[code].name;
}

const char *
tr_err_str(enum tr_err code)
{
    if ((unsigned) code >= TR_E__COUNT)
        return "unknown error";
    return err_table[code].text;
}

int
tr_err_http_status(enum tr_err code)
{
    if ((unsigned) code >= TR_E__COUNT)
        return 500;
    return err_table[code].status;
}

const char *
tr_err_slug(enum tr_err code)
{
    if ((unsigned) code >= TR_E__COUNT)
        return "unknown";
    pthread_once(&slugs_once, make_slugs);
    return err_slugs[code];
}

enum tr_err
tr_error_set_at(struct tr_error *err, enum tr_err code, const char *file,
                int line, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;

    err->code = code;
    err->file = file;
    err->line = line;
    err->foreign[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
tr_error_foreign(struct tr_error *err, const char *foreign)
{
    if (err == NULL || foreign == NULL)
        return;
    snprintf(err->foreign, sizeof(err->foreign), "%s", foreign);
}

void
tr_error_clear(struct tr_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->code = TR_OK;
}

const char *
tr_error_msg(const struct tr_error *err)
{
    if (err == NULL)
        return "";
    if (err->msg[0] != '\0')
        return err->msg;
    return tr_err_str(err->code);
}
