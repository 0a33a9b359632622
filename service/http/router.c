/*
 * router.c
 *      Route patterns with path parameters, and matching a request path
 *      against the route table.
 *
 * A pattern is split once, at registration, into segments that are
 * either literals or "{name}" parameters.  Matching splits the request
 * path into the request arena and compares segment by segment; it never
 * allocates beyond that and never takes a lock, since the table is only
 * written before the server starts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

void
tr_http__route_clear(struct tr_http_route *r)
{
    for (size_t i = 0; i < r->n_segs; i++)
        free(r->segs[i]);
    free(r->pattern);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

/*
 * Check one segment of a pattern.  A parameter is "{name}" with a name of
 * letters, digits and underscores; a literal may hold neither braces nor
 * the characters that cannot appear in a decoded path segment.
 */
static bool
segment_ok(const char *seg, size_t n, bool *is_param)
{
    *is_param = n >= 3 && seg[0] == '{' && seg[n - 1] == '}';
    if (*is_param) {
        for (size_t i = 1; i + 1 < n; i++) {
            char c = seg[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_'))
                return false;
        }
        return true;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (seg[i] == '{' || seg[i] == '}' || seg[i] == '?' ||
            seg[i] == '#' || (unsigned char) seg[i] <= ' ')
            return false;
    return true;
}

enum tr_err
tr_http__route_parse(struct tr_http_route *r, const char *pattern,
                     struct tr_error *err)
{
    const char *p;

    if (pattern == NULL || pattern[0] != '/')
        return TR_ERROR(err, TR_E_INVAL,
                        "route pattern \"%s\" does not start with '/'",
                        pattern != NULL ? pattern : "(null)");
    r->pattern = strdup(pattern);
    if (r->pattern == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    /* "/" alone is the one pattern without segments. */
    p = pattern + 1;
    while (*p != '\0' || (p > pattern + 1 && p[-1] == '/')) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t) (slash - p) : strlen(p);
        bool param;

        if (r->n_segs == TR_HTTP_MAX_SEGMENTS)
            return TR_ERROR(err, TR_E_INVAL,
                            "route pattern \"%s\" has more than %d segments",
                            pattern, TR_HTTP_MAX_SEGMENTS);
        if (!segment_ok(p, n, &param))
            return TR_ERROR(err, TR_E_INVAL,
                            "invalid segment \"%.*s\" in route pattern "
                            "\"%s\"", (int) n, p, pattern);
        r->segs[r->n_segs] = param ? strndup(p + 1, n - 2) : strndup(p, n);
        if (r->segs[r->n_segs] == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        r->is_param[r->n_segs] = param;
        r->n_literals += param ? 0 : 1;
        r->n_segs++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return TR_OK;
}

/*
 * Split `path` into at most TR_HTTP_MAX_SEGMENTS
 * segments, in place.  Returns the count, or -1 when the path has too
 * many segments or an empty one ("//", a trailing '/'), which no route
 * matches.
 */
static int
split_path(char *path, char **segs)
{
    int n = 0;
    char *p = path + 1;

    /* "*" (OPTIONS) and absolute URIs are not paths any route serves. */
    if (path[0] != '/')
        return -1;
    if (*p == '\0')
        return 0;
    for (;;) {
        char *slash = strchr(p, '/');

        if (n == TR_HTTP_MAX_SEGMENTS || p == slash || *p == '\0')
            return -1;
        segs[n++] = p;
        if (slash == NULL)
            return n;
        *slash = '\0';
        p = slash + 1;
    }
}

static bool
route_matches(const struct tr_http_route *r, char **segs, int n)
{
    if ((size_t) n != r->n_segs)
        return false;
    for (int i = 0; i < n; i++)
        if (!r->is_param[i] && strcmp(r->segs[i], segs[i]) != 0)
            return false;
    return true;
}

/* True when `method` is served by `r`, counting HEAD as GET. */
static bool
method_matches(const struct tr_http_route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* Add `method` to the comma-separated `allow` list unless it is there. */
static void
allow_add(char *allow, size_t allow_len, const char *method)
{
    size_t used = strlen(allow);
    size_t ml = strlen(method);

    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += ml)
        if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
            return;
    snprintf(allow + used, allow_len - used, "%s%s", used > 0 ? ", " : "",
             method);
}

/*
 * Pick the best route for the method, collecting the methods of every
 * route whose pattern matches the path for a 405 answer.
 */
enum tr_err
tr_http__route_find(struct tr_http_server *s, struct tr_http_req *req,
                    char *allow, size_t allow_len)
{
    char *segs[TR_HTTP_MAX_SEGMENTS];
    const struct tr_http_route *best = NULL, *any = NULL;
    char *copy = tr_arena_strdup(req->arena, req->path);
    int n;

    allow[0] = '\0';
    if (copy == NULL)
        return TR_E_NOMEM;
    n = split_path(copy, segs);
    if (n < 0)
        return TR_E_NOTFOUND;

    for (size_t i = 0; i < s->n_routes; i++) {
        const struct tr_http_route *r = &s->routes[i];

        if (!route_matches(r, segs, n))
            continue;
        if (any == NULL)
            any = r;
        allow_add(allow, allow_len, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(allow, allow_len, "HEAD");
        if (method_matches(r, req->method) &&
            (best == NULL || r->n_literals > best->n_literals))
            best = r;
    }
    /* A 405 is counted under the route that owns the path. */
    if (best == NULL) {
        req->route = any;
        return any != NULL ? TR_E_HTTP_METHOD : TR_E_NOTFOUND;
    }

    /* Parameters point into the arena copy of the path. */
    req->route = best;
    req->n_params = 0;
    for (int i = 0; i < n; i++) {
        if (!best->is_param[i])
            continue;
        req->param_names[req->n_params] = best->segs[i];
        req->param_values[req->n_params] = segs[i];
        req->n_params++;
    }
    return TR_OK;
}
