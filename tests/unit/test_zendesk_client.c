/*
 * test_zendesk_client.c
 *      The Zendesk REST client against the fake Zendesk server.
 *
 * Each case starts its own fake (tests/fakes/fake_zendesk) on an
 * ephemeral loopback port, seeded from tests/fakes/seed.json, and stops
 * it by pid at the end.  Waits of the retry policy go through an
 * injected sleep that only records, so rate-limit storms cost no time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zendesk.h"

struct fixture {
    pid_t pid;
    int in_fd;                 /* the fake's stdin; closing it stops it */
    int port;
    char base[64];
    struct tr_httpc *hc;       /* for the control API */
    struct tr_arena *a;
    struct tr_httpc_policy policy;
    double waits[64];
    int n_waits;
};

static void
record_sleep(void *arg, double s)
{
    struct fixture *fx = arg;

    if (fx->n_waits < 64)
        fx->waits[fx->n_waits] = s;
    fx->n_waits++;
}

static int
fake_start(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    int in[2], out[2];
    char seed[512], line[32];
    ssize_t n;
    size_t got = 0;

    snprintf(seed, sizeof(seed), "%s/tests/fakes/seed.json",
             getenv("TR_SOURCE_DIR"));
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fx->pid = fork();
    if (fx->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(FAKE_ZENDESK, "fake_zendesk", "--seed", seed, "--oauth",
              "OAUTHTOKEN", (char *) NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fx->in_fd = in[1];

    /* The first line is the port. */
    while (got < sizeof(line) - 1 &&
           (n = read(out[0], line + got, 1)) == 1 && line[got] != '\n')
        got++;
    line[got] = '\0';
    close(out[0]);
    fx->port = atoi(line);
    assert_true(fx->port > 0);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);

    fx->hc = tr_httpc_new(NULL, NULL);
    fx->a = tr_arena_new(0);
    tr_httpc_policy_preset(&fx->policy, TR_HTTPC_PRESET_ZENDESK);
    fx->policy.sleep = record_sleep;
    fx->policy.sleep_arg = fx;
    *state = fx;
    return 0;
}

static int
fake_stop(void **state)
{
    struct fixture *fx = *state;
    int status;

    close(fx->in_fd);
    kill(fx->pid, SIGTERM);
    waitpid(fx->pid, &status, 0);
    tr_httpc_free(fx->hc);
    tr_arena_free(fx->a);
    free(fx);
    return 0;
}

/* Call the fake's control API; returns the body (in the arena). */
static const char *
control(struct fixture *fx, const char *method, const char *path,
        const char *json)
{
    static const char *const hdrs[] = {"Content-Type: application/json"};
    struct tr_httpc_req req = {0};
    struct tr_httpc_resp resp;
    char url[256];
    const char *out;

    snprintf(url, sizeof(url), "%s/__fake%s", fx->base, path);
    req.method = method;
    req.url = url;
    req.headers = hdrs;
    req.n_headers = 1;
    req.body = json;
    req.body_len = json != NULL ? strlen(json) : 0;
    tr_httpc_resp_init(&resp);
    assert_int_equal(tr_httpc_send(fx->hc, &req, &resp, NULL), TR_OK);
    assert_int_equal(resp.status, 200);
    out = tr_arena_strdup(fx->a, resp.body.data);
    tr_httpc_resp_cleanup(&resp);
    return out;
}

/* Count occurrences of `needle` in `s`. */
static int
count_of(const char *s, const char *needle)
{
    int n = 0;

    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}

static struct tr_zendesk *
client(struct fixture *fx, const char *token)
{
    struct tr_zendesk_cfg cfg = {0};
    struct tr_error err = {0};
    struct tr_zendesk *zd;

    cfg.base_url = fx->base;
    cfg.email = "agent@example.com";
    cfg.api_token = token;
    cfg.policy = &fx->policy;
    zd = tr_zendesk_new(&cfg, &err);
    assert_non_null(zd);
    return zd;
}

static void
ticket_and_comments_are_fetched(void **state)
{
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_ticket t;
    struct tr_zendesk_comment_page p1, p2;
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 4711, &t, &err),
                     TR_OK);
    assert_int_equal(t.id, 4711);
    assert_string_equal(t.subject, "Printer offline");
    assert_string_equal(t.priority, "high");
    assert_int_equal(t.group_id, 360001);
    assert_int_equal(t.assignee_id, 0);
    assert_int_equal(t.n_tags, 2);
    assert_string_equal(t.tags[1], "vip");
    assert_string_equal(t.via_channel, "email");
    assert_int_equal(t.generated_timestamp, 1714644072);

    /* Three comments in pages of two, by cursor. */
    assert_int_equal(tr_zendesk_comments_list(zd, fx->a, 4711, NULL, 2, &p1,
                                              &err),
                     TR_OK);
    assert_int_equal(p1.n_comments, 2);
    assert_true(p1.has_more);
    assert_non_null(p1.after_cursor);
    assert_int_equal(p1.comments[0].id, 81);
    assert_true(p1.comments[0].is_public);
    assert_false(p1.comments[1].is_public);
    assert_int_equal(tr_zendesk_comments_list(zd, fx->a, 4711,
                                              p1.after_cursor, 2, &p2, &err),
                     TR_OK);
    assert_int_equal(p2.n_comments, 1);
    assert_false(p2.has_more);
    assert_string_equal(p2.comments[0].body, "Still offline.");

    /* Unknown tickets are TR_E_NOTFOUND with Zendesk's words. */
    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 999, &t, &err),
                     TR_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "RecordNotFound"));
    tr_zendesk_free(zd);
}

static void
export_pages_through_and_resumes_from_cursor(void **state)
{
    static const int64_t want[] = {4711, 4712, 4713, 4714, 4715};
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_export_page pg;
    struct tr_error err = {0};
    const char *cursor = NULL;
    char change[256];
    size_t seen = 0;
    int pages = 0;

    control(fx, "POST", "/config", "{\"export_page_size\":2}");
    do {
        assert_int_equal(tr_zendesk_export_next(zd, fx->a, 0, cursor, &pg,
                                                &err),
                         TR_OK);
        for (size_t i = 0; i < pg.n_tickets; i++) {
            assert_true(seen < 5);
            assert_int_equal(pg.tickets[i].id, want[seen]);
            seen++;
        }
        /* Every page, the last included, hands out a cursor. */
        assert_non_null(pg.after_cursor);
        cursor = pg.after_cursor;
        pages++;
    } while (!pg.end_of_stream);
    assert_int_equal(pages, 3);
    assert_int_equal(seen, 5);

    /* A poll with the stored cursor sees only what changed since. */
    assert_int_equal(tr_zendesk_export_next(zd, fx->a, 0, cursor, &pg, &err),
                     TR_OK);
    assert_int_equal(pg.n_tickets, 0);
    assert_true(pg.end_of_stream);
    snprintf(change, sizeof(change),
             "{\"id\":4712,\"subject\":\"Refund request\",\"status\":"
             "\"open\",\"generated_timestamp\":%lld}",
             (long long) time(NULL) - 120);
    control(fx, "POST", "/tickets", change);
    assert_int_equal(tr_zendesk_export_next(zd, fx->a, 0, cursor, &pg, &err),
                     TR_OK);
    assert_int_equal(pg.n_tickets, 1);
    assert_int_equal(pg.tickets[0].id, 4712);
    assert_string_equal(pg.tickets[0].status, "open");

    /* A forged cursor is refused with a clear status. */
    assert_int_equal(tr_zendesk_export_next(zd, fx->a, 0, "bm9wZQ==", &pg,
                                            &err),
                     TR_E_INVAL);
    tr_zendesk_free(zd);
}

static void
update_posts_exactly_one_comment(void **state)
{
    static const char *const tags[] = {"printer", "triaged"};
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_update u = {0};
    struct tr_zendesk_ticket t;
    struct tr_zendesk_comment_page cp;
    struct tr_error err = {0};
    int64_t audit = 0;
    const char *posted;

    u.comment = "Suggested reply: \"restart\" the spooler.\nThanks";
    u.comment_public = false;
    u.priority = "urgent";
    u.group_id = 360002;
    u.tags = tags;
    u.n_tags = 2;
    u.set_tags = true;
    assert_int_equal(tr_zendesk_ticket_update(zd, fx->a, 4711, &u, &t,
                                              &audit, &err),
                     TR_OK);
    assert_true(audit > 0);
    assert_string_equal(t.priority, "urgent");
    assert_int_equal(t.group_id, 360002);
    assert_int_equal(t.n_tags, 2);
    assert_string_equal(t.tags[1], "triaged");

    posted = control(fx, "GET", "/posted", NULL);
    assert_int_equal(count_of(posted, "\"ticket_id\":4711"), 1);
    assert_non_null(strstr(posted, "\\\"restart\\\" the spooler.\\nThanks"));
    assert_non_null(strstr(posted, "\"public\":false"));

    assert_int_equal(tr_zendesk_comments_list(zd, fx->a, 4711, NULL, 100,
                                              &cp, &err),
                     TR_OK);
    assert_int_equal(cp.n_comments, 4);
    assert_string_equal(cp.comments[3].body, u.comment);
    assert_false(cp.comments[3].is_public);
    tr_zendesk_free(zd);
}

static void
rate_limit_storm_is_waited_out(void **state)
{
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_update u = {0};
    struct tr_error err = {0};
    const char *posted, *reqs;

    control(fx, "POST", "/fail",
            "{\"status\":429,\"count\":6,\"retry_after\":\"93\","
            "\"content_type\":\"text/plain\","
            "\"body\":\"Number of allowed API requests per minute "
            "exceeded\"}");
    u.comment = "Reply after the storm";
    u.comment_public = true;
    assert_int_equal(tr_zendesk_ticket_update(zd, fx->a, 4712, &u, NULL,
                                              NULL, &err),
                     TR_OK);

    /* Six waits of the server's 93 s, then one successful PUT. */
    assert_int_equal(fx->n_waits, 6);
    for (int i = 0; i < 6; i++)
        assert_true(fabs(fx->waits[i] - 93) < 1e-9);
    posted = control(fx, "GET", "/posted", NULL);
    assert_int_equal(count_of(posted, "Reply after the storm"), 1);
    reqs = control(fx, "GET", "/requests", NULL);
    assert_int_equal(count_of(reqs, "\"status\":429"), 6);
    assert_int_equal(count_of(reqs, "\"method\":\"PUT\""), 7);
    tr_zendesk_free(zd);
}

static void
bad_credentials_are_auth_errors(void **state)
{
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "WRONG");
    struct tr_zendesk_cfg cfg = {0};
    struct tr_zendesk_ticket t;
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 4711, &t, &err),
                     TR_E_AUTH);
    assert_non_null(strstr(err.msg, "Couldn't authenticate you"));
    assert_null(strstr(err.msg, "WRONG"));
    assert_int_equal(fx->n_waits, 0);
    tr_zendesk_free(zd);

    /* OAuth bearer tokens work too. */
    cfg.base_url = fx->base;
    cfg.oauth_token = "OAUTHTOKEN";
    cfg.policy = &fx->policy;
    zd = tr_zendesk_new(&cfg, &err);
    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 4711, &t, &err),
                     TR_OK);
    tr_zendesk_free(zd);
}

static void
error_answers_are_mapped(void **state)
{
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_update u = {0};
    struct tr_zendesk_ticket t;
    struct tr_error err = {0};

    /* 5xx beyond the retries, answered as text/plain. */
    control(fx, "POST", "/fail",
            "{\"status\":503,\"count\":10,\"body\":\"Service down\","
            "\"content_type\":\"text/plain\"}");
    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 4711, &t, &err),
                     TR_E_HTTP_UPSTREAM);
    assert_non_null(strstr(err.msg, "status 503"));
    assert_non_null(strstr(err.msg, "text/plain"));
    assert_int_equal(fx->n_waits, 3);
    control(fx, "POST", "/reset", "{}");

    /* A truncated JSON body is a parse error, not a crash. */
    control(fx, "POST", "/fail", "{\"status\":0,\"truncate\":true}");
    assert_int_equal(tr_zendesk_ticket_fetch(zd, fx->a, 4711, &t, &err),
                     TR_E_PARSE);

    /* safe_update with a stale stamp, and an invalid priority. */
    u.comment = "x";
    u.updated_stamp = "2000-01-01T00:00:00Z";
    assert_int_equal(tr_zendesk_ticket_update(zd, fx->a, 4711, &u, NULL,
                                              NULL, &err),
                     TR_E_CONFLICT);
    u.updated_stamp = "2024-05-02T10:01:12Z";
    u.priority = "whenever";
    assert_int_equal(tr_zendesk_ticket_update(zd, fx->a, 4711, &u, NULL,
                                              NULL, &err),
                     TR_E_INVAL);
    assert_non_null(strstr(err.msg, "RecordInvalid"));
    assert_int_equal(count_of(control(fx, "GET", "/posted", NULL),
                              "ticket_id"), 0);
    tr_zendesk_free(zd);
}

static void
articles_are_listed_by_cursor(void **state)
{
    struct fixture *fx = *state;
    struct tr_zendesk *zd = client(fx, "EXAMPLETOKEN123");
    struct tr_zendesk_article_page p1, p2;
    struct tr_error err = {0};

    assert_int_equal(tr_zendesk_articles_list(zd, fx->a, "en-us", NULL, 2,
                                              &p1, &err),
                     TR_OK);
    assert_int_equal(p1.n_articles, 2);
    assert_true(p1.has_more);
    assert_int_equal(p1.articles[0].id, 360010);
    assert_string_equal(p1.articles[0].labels[0], "printer");
    assert_int_equal(tr_zendesk_articles_list(zd, fx->a, "en-us",
                                              p1.after_cursor, 2, &p2, &err),
                     TR_OK);
    assert_int_equal(p2.n_articles, 1);
    assert_false(p2.has_more);
    assert_true(p2.articles[0].draft);

    assert_int_equal(tr_zendesk_articles_list(zd, fx->a, NULL, NULL, 0, &p1,
                                              &err),
                     TR_OK);
    assert_int_equal(p1.n_articles, 4);
    assert_int_equal(tr_zendesk_articles_list(zd, fx->a, "fr", NULL, 0, &p1,
                                              &err),
                     TR_E_NOTFOUND);
    assert_int_equal(tr_zendesk_articles_list(zd, fx->a, "../x", NULL, 0,
                                              &p1, &err),
                     TR_E_INVAL);
    tr_zendesk_free(zd);
}

static void
configuration_errors_are_reported(void **state)
{
    struct tr_zendesk_cfg cfg = {0};
    struct tr_error err = {0};
    struct tr_zendesk *zd;

    cfg.subdomain = "acme";
    assert_null(tr_zendesk_new(&cfg, &err));
    assert_int_equal(err.code, TR_E_CONF);

    cfg.email = "agent@example.com";
    cfg.api_token = "T";
    cfg.subdomain = "evil.com/x";
    assert_null(tr_zendesk_new(&cfg, &err));
    assert_int_equal(err.code, TR_E_CONF);

    cfg.subdomain = "acme";
    zd = tr_zendesk_new(&cfg, &err);
    assert_non_null(zd);
    assert_string_equal(tr_zendesk_base(zd),
                        "https://acme.zendesk.com/api/v2");
    tr_zendesk_free(zd);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test_setup_teardown(ticket_and_comments_are_fetched,
                                    fake_start, fake_stop),
    cmocka_unit_test_setup_teardown(
        export_pages_through_and_resumes_from_cursor, fake_start, fake_stop),
    cmocka_unit_test_setup_teardown(update_posts_exactly_one_comment,
                                    fake_start, fake_stop),
    cmocka_unit_test_setup_teardown(rate_limit_storm_is_waited_out,
                                    fake_start, fake_stop),
    cmocka_unit_test_setup_teardown(bad_credentials_are_auth_errors,
                                    fake_start, fake_stop),
    cmocka_unit_test_setup_teardown(error_answers_are_mapped, fake_start,
                                    fake_stop),
    cmocka_unit_test_setup_teardown(articles_are_listed_by_cursor,
                                    fake_start, fake_stop),
    cmocka_unit_test(configuration_errors_are_reported),
};

TR_TEST_MAIN(cases)
