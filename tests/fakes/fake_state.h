/*
 * fake_state.h
 *      Shared layout of the fake Zendesk server (test code only).
 *
 * The fake keeps its whole state in cJSON trees guarded by one mutex:
 * tickets, comments per ticket, articles, what was posted, and a log of
 * requests.  Handlers run on libmicrohttpd's connection threads and take
 * the lock for the whole dispatch; only injected delays sleep outside it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_FAKE_STATE_H
#define TR_FAKE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* A failure to inject into the next `count` matching requests. */
struct fake_fail {
    int skip;                 /* matching requests let through first */
    int count;
    int status;               /* 0: answer normally (after the delay) */
    char path[128];           /* prefix the path must start with */
    char retry_after[32];
    char content_type[64];
    char body[256];
    int delay_ms;
    bool truncate;            /* answer normally but cut the body */
};

/* Per-minute fixed-window request counter. */
struct fake_limit {
    int per_min;
    int64_t window;
    int used;
};

struct fake {
    pthread_mutex_t lock;
    cJSON *seed;              /* as loaded, for resets */
    cJSON *tickets;           /* array of ticket objects */
    cJSON *comments;          /* object: ticket id -> array */
    cJSON *articles;          /* array */
    cJSON *posted;            /* array of {ticket_id, body, public, ...} */
    cJSON *requests;          /* array of {method, path, status} */
    char email[128];
    char token[128];
    char oauth[128];
    char secret[128];         /* webhook signing secret */
    int64_t next_comment_id;
    int64_t next_audit_id;
    int hide_recent;          /* seconds of changes hidden from export */
    int export_page_size;
    int64_t now_offset;
    struct fake_fail fail;
    struct fake_limit lim_support;
    struct fake_limit lim_incremental;
    struct fake_limit lim_help_center;
};

/* One answer being built by a route. */
struct fake_reply {
    int status;
    char *body;               /* malloc'd */
    const char *content_type;
    char retry_after[32];
    int delay_ms;
    bool truncate;
};

/* One request as the routes see it. */
struct fake_req {
    const char *method;
    const char *path;         /* without query and without ".json" */
    const char *body;
    size_t body_len;
    const char *host;         /* Host header, for absolute URLs */
    const char *content_type;
    void *conn;               /* struct MHD_Connection */
    bool authed;              /* valid agent credentials */
    bool has_auth;            /* any Authorization header */
};

/* Routes of the Zendesk API and of the control API. */
void fake_route_api(struct fake *f, const struct fake_req *rq,
                    struct fake_reply *r);
void fake_route_control(struct fake *f, const struct fake_req *rq,
                        struct fake_reply *r);

/* Helpers shared by the route files. */
int64_t fake_now(const struct fake *f);
void fake_iso(int64_t t, char out[32]);
const char *fake_query(const struct fake_req *rq, const char *key);
void fake_reply_json(struct fake_reply *r, int status, cJSON *obj);
void fake_reply_text(struct fake_reply *r, int status, const char *text);
void fake_reply_error(struct fake_reply *r, int status, const char *error,
                      const char *description);
char *fake_cursor_make(const char *plain);
bool fake_cursor_read(const char *cursor, char *out, size_t out_len);
void fake_load_seed(struct fake *f);

#endif /* TR_FAKE_STATE_H */
