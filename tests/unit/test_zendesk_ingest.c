/*
 * test_zendesk_ingest.c
 *      The Zendesk webhook route and the ingest job, end to end: a real
 *      tr_http server on 127.0.0.1, a real PostgreSQL database, the fake
 *      Zendesk as a child process and signed deliveries.
 *
 * Each case makes its own server and database.  The database-down case
 * runs its own small cluster so that it can stop and restart it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "queue.h"
#include "test_zendesk_ingest_fx.h"
#include "zendesk.h"

#define SECRET "example-signing-secret-0123"

struct env {
    struct tr_pgtest pg;
    struct tr_db *db;           /* pg.db, or the own cluster's */
    struct tr_http_server *srv;
    struct tr_zendesk_inbox *ib;
    struct zfake fake;
    char url[128];              /* .../webhooks/zendesk/acme */
    int64_t tenant;
};

static void
server_up(struct env *e, long long body_limit)
{
    struct tr_zendesk_route_opts ro = {0};
    struct tr_http_opts ho = {0};
    struct tr_error err = {0};

    snprintf(ho.listen, sizeof(ho.listen), "127.0.0.1:0");
    ho.threads = 16;
    ho.timeout = 30;
    ho.body_limit = 1024 * 1024;
    ho.shutdown_grace = 5;
    ro.body_limit = body_limit;
    assert_int_equal(tr_zendesk_inbox_new(e->db, &ro, &e->ib, &err), TR_OK);
    assert_int_equal(tr_http_server_new(&ho, &e->srv, &err), TR_OK);
    assert_int_equal(tr_zendesk_http_route_add(e->srv, e->ib, &ro, &err),
                     TR_OK);
    assert_int_equal(tr_http_server_start(e->srv, &err), TR_OK);
    snprintf(e->url, sizeof(e->url),
             "http://127.0.0.1:%d/webhooks/zendesk/acme",
             tr_http_server_port(e->srv));
}

static void
env_up(struct env *e, long long body_limit)
{
    struct tr_error err = {0};

    memset(e, 0, sizeof(*e));
    assert_int_equal(tr_pgtest_open(&e->pg, 24, true, &err), TR_OK);
    e->db = e->pg.db;
    zfx_fake_start(&e->fake);
    e->tenant = zfx_tenant_add(&e->pg, "acme", SECRET, e->fake.base,
                               "public");
    server_up(e, body_limit);
}

static void
env_down(struct env *e)
{
    tr_http_server_free(e->srv);
    tr_zendesk_inbox_free(e->ib);
    zfx_fake_stop(&e->fake);
    tr_pgtest_close(&e->pg);
}

/* Run the queue until no ingest job is open (at most 30 s). */
static void
run_ingest_jobs(struct tr_db *db, struct tr_pgtest *pg,
                const struct tr_zendesk_job_opts *jo)
{
    struct tr_queue_opts qo = {30000, 5, 50, 200, 100, 2, 5000};
    struct tr_queue_pool *pool;
    struct tr_error err = {0};

    tr_queue_handlers_clear();
    assert_int_equal(tr_zendesk_jobs_register(jo, &err), TR_OK);
    assert_int_equal(tr_queue_pool_start(db, &qo, &pool, &err), TR_OK);
    for (int i = 0; i < 300; i++) {
        if (zfx_count(pg, "SELECT count(*) FROM jobs WHERE kind = "
                          "'zendesk.ingest' AND state <> 'done'") == 0)
            break;
        usleep(100 * 1000);
    }
    tr_queue_pool_stop(pool, &err);
    tr_queue_pool_free(pool);
    tr_queue_handlers_clear();
}

static void
webhook_both_payload_styles_are_stored_and_ingested(void **state)
{
    struct tr_zendesk_job_opts jo = {0};
    struct tr_httpc_policy pol;
    struct env e;
    double slept = 0;
    char out[512];

    (void) state;
    env_up(&e, 0);
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":\"4711\",\"event\":"
                              "\"ticket_updated\"}", out, sizeof(out)),
                     200);
    assert_non_null(strstr(out, "accepted"));
    assert_int_equal(zfx_post(e.url, SECRET, "application/json; charset=utf-8",
                              "{\"type\":\"zen:event-type:ticket.created\","
                              "\"id\":\"evt-1\",\"time\":"
                              "\"2024-05-02T11:00:01Z\",\"subject\":"
                              "\"zen:ticket:4712\",\"detail\":{\"id\":"
                              "\"4712\"}}", out, sizeof(out)), 200);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs WHERE "
                                      "kind = 'zendesk.ingest'"), 2);

    zfx_policy(&pol, &slept);
    jo.policy = &pol;
    run_ingest_jobs(e.db, &e.pg, &jo);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM tickets WHERE "
                                      "external_id IN ('4711', '4712')"), 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM ticket_comments"
                                      " c JOIN tickets t ON t.id = "
                                      "c.ticket_id WHERE t.external_id = "
                                      "'4711'"), 3);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox WHERE "
                                      "processed_at IS NOT NULL"), 2);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs WHERE "
                                      "kind = 'triage'"), 2);
    env_down(&e);
}

/* Run the fake sender against the route; returns its exit status. */
static int
send_mode(const char *url, const char *mode, const char *body, int times)
{
    char n[16];
    pid_t pid;
    int st;

    snprintf(n, sizeof(n), "%d", times);
    pid = fork();
    if (pid == 0) {
        execl(FAKE_ZENDESK_SEND, "fake_zendesk_send", "--url", url,
              "--secret", SECRET, "--body", body, "--mode", mode, "--times",
              n, "--retries", "0", (char *) NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
webhook_bad_missing_and_replayed_signatures_are_401(void **state)
{
    static const char *const modes[] = {"badsig", "nosig", "nots", "stale",
                                        "future", "tampered", "b64secret",
                                        "hex"};
    const char *body = "{\"ticket_id\":4711}";
    struct env e;
    char out[512];

    (void) state;
    env_up(&e, 0);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        assert_int_equal(send_mode(e.url, modes[i], body, 1), 1);
    assert_int_equal(zfx_post(e.url, "another-secret-entirely",
                              "application/json", body, out, sizeof(out)),
                     401);
    assert_int_equal(zfx_post(e.url, NULL, "application/json", body, out,
                              sizeof(out)), 401);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 0);

    /* The same sender with a good signature gets through. */
    assert_int_equal(send_mode(e.url, "good", body, 1), 0);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 1);
    env_down(&e);
}

struct poster {
    const char *url;
    const char *body;           /* NULL: distinct bodies */
    int n;
    int id;
    int n_ok;
};

static void *
poster_main(void *arg)
{
    struct poster *p = arg;
    char body[128], out[256];

    for (int i = 0; i < p->n; i++) {
        snprintf(body, sizeof(body), "{\"ticket_id\":%d,\"updated_at\":"
                 "\"2024-05-02T10:%02d:%02dZ\"}", 1000 + p->id, i / 60,
                 i % 60);
        if (zfx_post(p->url, SECRET, "application/json",
                     p->body != NULL ? p->body : body, out,
                     sizeof(out)) == 200)
            p->n_ok++;
    }
    return NULL;
}

static void
webhook_duplicates_make_one_inbox_row(void **state)
{
    const char *body = "{\"ticket_id\":4711,\"updated_at\":"
                       "\"2024-05-02T10:01:12Z\"}";
    struct poster ps[8];
    pthread_t th[8];
    struct env e;
    char out[256];

    (void) state;
    env_up(&e, 0);
    assert_int_equal(send_mode(e.url, "good", body, 4), 0);
    for (int i = 0; i < 8; i++) {
        ps[i] = (struct poster){e.url, body, 5, i, 0};
        pthread_create(&th[i], NULL, poster_main, &ps[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ps[i].n_ok, 5);
    }
    assert_int_equal(zfx_post(e.url, SECRET, "application/json", body, out,
                              sizeof(out)), 200);
    assert_non_null(strstr(out, "duplicate"));
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs"), 1);

    /* A subscription event redelivered under the same id is one row too,
     * a new event id is another. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                                  "{\"type\":\"zen:event-type:ticket."
                                  "created\",\"id\":\"e-9\",\"subject\":"
                                  "\"zen:ticket:4712\"}", out,
                                  sizeof(out)), 200);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 2);
    env_down(&e);
}

static void
webhook_bad_requests_get_their_status(void **state)
{
    char big[3000], url[160], out[512];
    struct env e;

    (void) state;
    env_up(&e, 2048);
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"ticket_id\":4711", 17);
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(zfx_post(e.url, SECRET, "application/json", big, out,
                              sizeof(out)), 413);
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":", out, sizeof(out)), 400);
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"status\":\"open\"}", out, sizeof(out)),
                     400);
    assert_int_equal(zfx_post(e.url, SECRET, "text/plain",
                              "{\"ticket_id\":4711}", out, sizeof(out)),
                     415);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/zendesk/nobody",
             tr_http_server_port(e.srv));
    assert_int_equal(zfx_post(url, SECRET, "application/json",
                              "{\"ticket_id\":4711}", out, sizeof(out)),
                     404);
    assert_non_null(strstr(out, "tenant"));

    /* Not about a ticket: acknowledged, not stored. */
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"type\":\"zen:event-type:user.active_"
                              "changed\",\"id\":\"u1\",\"subject\":"
                              "\"zen:user:5\"}", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "ignored"));
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 0);
    env_down(&e);
}

static void
webhook_concurrent_deliveries_share_commits(void **state)
{
    struct poster ps[16];
    pthread_t th[16];
    long long n_commits, n_events;
    struct env e;

    (void) state;
    env_up(&e, 0);
    for (int i = 0; i < 16; i++) {
        ps[i] = (struct poster){e.url, NULL, 25, i, 0};
        pthread_create(&th[i], NULL, poster_main, &ps[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ps[i].n_ok, 25);
    }
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM inbox"), 400);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs WHERE "
                                      "kind = 'zendesk.ingest'"), 400);
    tr_zendesk_inbox_counts(e.ib, &n_commits, &n_events);
    assert_int_equal(n_events, 400);
    assert_true(n_commits < n_events);
    env_down(&e);
}

static void
webhook_database_down_is_503_and_nothing_is_lost(void **state)
{
    struct tr_db_cluster *cl;
    struct tr_db_conn *c;
    struct tr_error err = {0};
    struct env e;
    char out[512], cmd[1200];
    const char *bin = getenv("TR_BINARY_DIR");

    (void) state;
    memset(&e, 0, sizeof(e));
    tr_conf_defaults(&e.pg.conf);
    snprintf(e.pg.conf.data_dir, sizeof(e.pg.conf.data_dir), "%s/zd-down-%ld",
             bin != NULL ? bin : "/tmp", (long) getpid());
    assert_int_equal(tr_db_cluster_new(&e.pg.conf, TR_DB_CLUSTER_NO_FSYNC,
                                       &cl, &err), TR_OK);
    assert_int_equal(tr_db_cluster_start(cl, &err), TR_OK);
    assert_int_equal(tr_db_open(&e.pg.conf, 24, &e.db, &err), TR_OK);
    assert_int_equal(tr_db_migrate(e.db, NULL, &err), TR_OK);
    assert_int_equal(tr_db_conn_owner(e.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "INSERT INTO tenants (name, "
                                   "webhook_secret) VALUES ('acme', '"
                                   SECRET "')", 0, NULL, NULL, &err), TR_OK);
    tr_db_conn_release(c);
    server_up(&e, 0);

    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":1}", out, sizeof(out)), 200);
    assert_int_equal(tr_db_cluster_stop(cl, &err), TR_OK);
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":2}", out, sizeof(out)), 503);
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":3}", out, sizeof(out)), 503);

    /* Zendesk retries what was not acknowledged, after the restart. */
    assert_int_equal(tr_db_cluster_start(cl, &err), TR_OK);
    for (int id = 2; id <= 3; id++) {
        char body[64];
        int st = 0;

        snprintf(body, sizeof(body), "{\"ticket_id\":%d}", id);
        for (int i = 0; i < 20 && st != 200; i++) {
            st = zfx_post(e.url, SECRET, "application/json", body, out,
                          sizeof(out));
            if (st != 200)
                usleep(200 * 1000);
        }
        assert_int_equal(st, 200);
    }
    assert_int_equal(tr_db_conn_owner(e.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "SELECT string_agg(payload ->> "
                                          "'ticket_id', ',' ORDER BY id) "
                                          "FROM inbox", 0, NULL, out,
                                       sizeof(out), NULL, &err), TR_OK);
    assert_string_equal(out, "1,2,3");
    tr_db_conn_release(c);

    tr_http_server_free(e.srv);
    tr_zendesk_inbox_free(e.ib);
    tr_db_close(e.db, false);
    assert_int_equal(tr_db_cluster_stop(cl, &err), TR_OK);
    tr_db_cluster_free(cl);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.pg.conf.data_dir);
    assert_int_equal(system(cmd), 0);
}

static void
ingest_job_fetches_from_the_fake_and_upserts_once(void **state)
{
    struct tr_zendesk_job_opts jo = {0};
    struct tr_httpc_policy pol;
    struct tr_error err = {0};
    struct env e;
    double slept = 0;
    char out[256];

    (void) state;
    env_up(&e, 0);
    zfx_policy(&pol, &slept);
    jo.policy = &pol;
    assert_int_equal(zfx_post(e.url, SECRET, "application/json",
                              "{\"ticket_id\":4711}", out, sizeof(out)),
                     200);
    for (int run = 0; run < 2; run++)
        assert_int_equal(tr_zendesk_ingest_run(e.db, e.tenant,
                                               zfx_count(&e.pg, "SELECT "
                                                         "max(id) FROM "
                                                         "inbox"),
                                               4711, &jo, &err), TR_OK);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM tickets WHERE "
                                      "subject = 'Printer offline' AND "
                                      "status = 'open' AND priority = "
                                      "'high'"), 1);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "ticket_comments"), 3);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM ticket_comments"
                                      " WHERE NOT public"), 1);
    /* One event, one triage job, however often the ingest runs. */
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM jobs WHERE "
                                      "kind = 'triage'"), 1);

    /* A tenant without settings is a configuration error. */
    zfx_tenant_add(&e.pg, "bare", SECRET, NULL, NULL);
    assert_int_equal(tr_zendesk_ingest_run(e.db, zfx_count(&e.pg,
                                           "SELECT id FROM tenants WHERE "
                                           "name = 'bare'"), 0, 4711, &jo,
                                           &err), TR_E_CONF);
    env_down(&e);
}

static void
rate_limit_storm_slows_ingest_without_loss(void **state)
{
    struct tr_zendesk_job_opts jo = {0};
    struct tr_httpc_policy pol;
    struct tr_error err = {0};
    struct env e;
    double slept = 0;
    char *r;

    (void) state;
    env_up(&e, 0);
    zfx_policy(&pol, &slept);
    jo.policy = &pol;
    r = zfx_control(&e.fake, "POST", "/fail",
                    "{\"count\":6,\"status\":429,\"retry_after\":\"7\","
                    "\"path\":\"/api/v2/tickets\",\"content_type\":"
                    "\"text/plain\",\"body\":\"Number of allowed API "
                    "requests per minute exceeded\"}");
    free(r);
    assert_int_equal(tr_zendesk_ingest_run(e.db, e.tenant, 0, 4711, &jo,
                                           &err), TR_OK);
    assert_true(slept >= 6 * 7 - 0.01);
    assert_int_equal(zfx_count(&e.pg, "SELECT count(*) FROM "
                                      "ticket_comments"), 3);
    env_down(&e);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(webhook_both_payload_styles_are_stored_and_ingested),
    cmocka_unit_test(webhook_bad_missing_and_replayed_signatures_are_401),
    cmocka_unit_test(webhook_duplicates_make_one_inbox_row),
    cmocka_unit_test(webhook_bad_requests_get_their_status),
    cmocka_unit_test(webhook_concurrent_deliveries_share_commits),
    cmocka_unit_test(webhook_database_down_is_503_and_nothing_is_lost),
    cmocka_unit_test(ingest_job_fetches_from_the_fake_and_upserts_once),
    cmocka_unit_test(rate_limit_storm_slows_ingest_without_loss),
};

TR_TEST_MAIN(cases)
