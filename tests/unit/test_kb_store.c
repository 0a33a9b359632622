/*
 * test_kb_store.c
 *      The knowledge base against a real PostgreSQL: imports that are all
 *      or nothing, re-import counts, drafts kept out of the index, a tiny
 *      reindex that finds the right article, versions and rollback, a
 *      stored version this code cannot read, a reindex killed half-way,
 *      and a live swap under concurrent searches.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr_test.h"

#include "db.h"
#include "kb.h"
#include "pgtest.h"

struct fixture {
    struct tr_pgtest t;
    int64_t tenant;
    char path[1024];
};

/* A fresh database with one tenant "acme". */
static void
setup(struct fixture *f)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char id[24];

    memset(f, 0, sizeof(*f));
    if (tr_pgtest_open(&f->t, 8, true, &err) != TR_OK)
        fail_msg("could not open the test database: %s", tr_error_msg(&err));
    assert_int_equal(tr_db_conn_owner(f->t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                          "webhook_secret) VALUES ('acme', "
                                          "'s') RETURNING id", 0, NULL, id,
                                       sizeof(id), NULL, &err), TR_OK);
    tr_db_conn_release(c);
    f->tenant = atoll(id);
    tr_kb_cache_set_check_ms(0);
}

static void
teardown(struct fixture *f)
{
    tr_kb_cache_drop(f->t.db);
    tr_pgtest_close(&f->t);
}

static const char *
data(struct fixture *f, const char *name)
{
    snprintf(f->path, sizeof(f->path), "%s/tests/data/kb/%s",
             getenv("TR_SOURCE_DIR"), name);
    return f->path;
}

static long long
count(struct fixture *f, const char *sql)
{
    struct tr_error err = {0};
    struct tr_db_conn *c;
    char buf[24];

    assert_int_equal(tr_db_tx_begin(f->t.db, f->tenant, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, sql, 0, NULL, buf, sizeof(buf),
                                       NULL, &err), TR_OK);
    tr_db_tx_rollback(c);
    return atoll(buf);
}

/* Import tiny.jsonl and build the first version. */
static void
import_and_index(struct fixture *f, struct tr_kb_reindex_result *r)
{
    struct tr_error err = {0};
    enum tr_err rc;

    assert_int_equal(tr_kb_import_path(f->t.db, f->tenant,
                                       data(f, "tiny.jsonl"),
                                       TR_KB_SOURCE_GUESS, NULL, &err),
                     TR_OK);
    rc = tr_kb_reindex(f->t.db, f->tenant, NULL, r, &err);
    if (rc != TR_OK)
        fail_msg("reindex failed: %s", tr_error_msg(&err));
}

/* The external id of the best hit for `q`. */
static const char *
top_hit(struct fixture *f, const char *q, char *buf, size_t len)
{
    struct tr_error err = {0};
    struct tr_kb_searcher *s;
    struct tr_kb_hit hits[5];
    size_t n;

    assert_int_equal(tr_kb_searcher_get(f->t.db, f->tenant, &s, &err),
                     TR_OK);
    assert_int_equal(tr_kb_search(s, q, 5, TR_KB_HYBRID, hits, &n, &err),
                     TR_OK);
    assert_true(n > 0);
    snprintf(buf, len, "%s", hits[0].external_id);
    tr_kb_searcher_release(s);
    return buf;
}

static void
kb_import_bad_json_line_is_rejected_whole(void **state)
{
    struct fixture f;
    struct tr_error err = {0};
    enum tr_err rc;

    setup(&f);
    rc = tr_kb_import_path(f.t.db, f.tenant, data(&f, "bad_line.jsonl"),
                           TR_KB_SOURCE_GUESS, NULL, &err);
    assert_int_equal(rc, TR_E_PARSE);
    assert_non_null(strstr(err.msg, "bad_line.jsonl:3"));
    assert_int_equal(count(&f, "SELECT count(*) FROM articles"), 0);

    /* A Help Center article without a title: named, nothing stored. */
    rc = tr_kb_import_path(f.t.db, f.tenant,
                           data(&f, "zendesk_no_title.json"),
                           TR_KB_SOURCE_GUESS, NULL, &err);
    assert_int_equal(rc, TR_E_PARSE);
    assert_non_null(strstr(err.msg, "1002"));
    assert_non_null(strstr(err.msg, "title"));
    assert_int_equal(count(&f, "SELECT count(*) FROM articles"), 0);
    teardown(&f);
}

static void
kb_reimport_counts_added_updated_unchanged(void **state)
{
    struct fixture f;
    struct tr_error err = {0};
    struct tr_kb_import_stats st;
    struct tr_kb_article a[2] = {
        {"x1", "Title one", "<p>one</p>", TR_KB_HTML, NULL, "de", "S1",
         false},
        {"x2", "Title two", "<p>two</p>", TR_KB_HTML, NULL, NULL, NULL,
         false},
    };

    setup(&f);
    assert_int_equal(tr_kb_import_path(f.t.db, f.tenant,
                                       data(&f, "zendesk.json"),
                                       TR_KB_SOURCE_GUESS, &st, &err),
                     TR_OK);
    assert_int_equal(st.n_added, 3);
    assert_int_equal(st.n_drafts, 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM articles WHERE "
                               "section = 'Printers' AND locale = 'en-us'"),
                     2);
    assert_int_equal(count(&f, "SELECT count(*) FROM articles WHERE "
                               "locale = 'de' AND section = 'Supplies'"), 1);

    /* Same export again: nothing changes. */
    assert_int_equal(tr_kb_import_path(f.t.db, f.tenant,
                                       data(&f, "zendesk.json"),
                                       TR_KB_SOURCE_ZENDESK, &st, &err),
                     TR_OK);
    assert_int_equal(st.n_added, 0);
    assert_int_equal(st.n_unchanged, 3);

    /* The function the Help Center sync calls. */
    assert_int_equal(tr_kb_import_articles(f.t.db, f.tenant, a, 2, &st,
                                           &err), TR_OK);
    assert_int_equal(st.n_added, 2);
    a[1].body = "<p>two, edited</p>";
    assert_int_equal(tr_kb_import_articles(f.t.db, f.tenant, a, 2, &st,
                                           &err), TR_OK);
    assert_int_equal(st.n_added, 0);
    assert_int_equal(st.n_updated, 1);
    assert_int_equal(st.n_unchanged, 1);

    /* A folder: ids are relative paths, titles the first heading. */
    assert_int_equal(tr_kb_import_path(f.t.db, f.tenant, data(&f, "docs"),
                                       TR_KB_SOURCE_GUESS, &st, &err),
                     TR_OK);
    assert_int_equal(st.n_added, 3);
    assert_int_equal(count(&f, "SELECT count(*) FROM articles WHERE "
                               "external_id = 'billing/invoices.md' AND "
                               "title = 'Downloading invoices' AND "
                               "body_format = 'markdown'"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM articles WHERE "
                               "external_id = 'notes.md' AND "
                               "title = 'notes'"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM articles WHERE "
                               "title = 'Shipping times'"), 1);
    teardown(&f);
}

static void
kb_tiny_reindex_finds_article_and_skips_drafts(void **state)
{
    struct fixture f;
    struct tr_kb_reindex_result r;
    struct tr_error err = {0};
    struct tr_kb_searcher *s;
    struct tr_kb_hit hits[10];
    char buf[64];
    size_t n;

    setup(&f);
    import_and_index(&f, &r);
    assert_int_equal(r.n_articles, 3);
    assert_true(r.n_chunks >= 3);
    assert_string_equal(r.factory, "Flat");
    assert_int_equal(count(&f, "SELECT count(*) FROM index_versions WHERE "
                               "status = 'live'"), 1);

    assert_string_equal(top_hit(&f, "how do I get my money back refund",
                                buf, sizeof(buf)), "refund");
    assert_string_equal(top_hit(&f, "forgot my password", buf,
                                sizeof(buf)), "password");
    assert_string_equal(top_hit(&f, "paper jam in the printer", buf,
                                sizeof(buf)), "printer");

    /* The draft's own words find nothing of it, in any mode. */
    assert_int_equal(tr_kb_searcher_get(f.t.db, f.tenant, &s, &err), TR_OK);
    for (int m = 0; m < 3; m++) {
        assert_int_equal(tr_kb_search(s, "platinum quantum pricing plan",
                                      10, (enum tr_kb_mode) m, hits, &n,
                                      &err), TR_OK);
        for (size_t i = 0; i < n; i++)
            assert_string_not_equal(hits[i].external_id, "secret");
    }
    assert_int_equal(count(&f, "SELECT count(*) FROM chunks c JOIN articles "
                               "a ON a.id = c.article_id WHERE a.draft"), 0);

    /* Metadata travels with the hit. */
    assert_int_equal(tr_kb_search(s, "refund", 1, TR_KB_HYBRID, hits, &n,
                                  &err), TR_OK);
    assert_string_equal(hits[0].url, "https://help.example.com/refund");
    assert_string_equal(hits[0].locale, "en-us");
    assert_true(hits[0].end > hits[0].start);
    tr_kb_searcher_release(s);
    teardown(&f);
}

static void
kb_versions_switch_and_rollback(void **state)
{
    struct fixture f;
    struct tr_kb_reindex_result r1, r2;
    struct tr_error err = {0};
    int64_t live, back;

    setup(&f);
    import_and_index(&f, &r1);
    assert_int_equal(tr_kb_reindex(f.t.db, f.tenant, NULL, &r2, &err),
                     TR_OK);
    assert_true(r2.version_id > r1.version_id);
    assert_int_equal(tr_kb_live_version(f.t.db, f.tenant, &live, &err),
                     TR_OK);
    assert_int_equal(live, r2.version_id);
    assert_int_equal(count(&f, "SELECT count(*) FROM index_versions WHERE "
                               "status = 'ready'"), 1);

    assert_int_equal(tr_kb_rollback(f.t.db, f.tenant, &back, &err), TR_OK);
    assert_int_equal(back, r1.version_id);
    assert_int_equal(tr_kb_live_version(f.t.db, f.tenant, &live, &err),
                     TR_OK);
    assert_int_equal(live, r1.version_id);

    /* The cache follows the switch. */
    {
        struct tr_kb_searcher *s;

        assert_int_equal(tr_kb_searcher_get(f.t.db, f.tenant, &s, &err),
                         TR_OK);
        assert_int_equal(tr_kb_searcher_version(s), r1.version_id);
        tr_kb_searcher_release(s);
    }

    /* Nothing older to go back to. */
    assert_int_equal(tr_kb_rollback(f.t.db, f.tenant, &back, &err),
                     TR_E_NOTFOUND);
    assert_int_equal(tr_kb_live_version(f.t.db, f.tenant, &live, &err),
                     TR_OK);
    assert_int_equal(live, r1.version_id);
    teardown(&f);
}

static void
kb_unreadable_version_asks_for_reindex(void **state)
{
    struct fixture f;
    struct tr_kb_reindex_result r;
    struct tr_error err = {0};
    struct tr_kb_searcher *s = NULL;
    struct tr_db_conn *c;

    setup(&f);
    import_and_index(&f, &r);

    /* The embedder model as a later format version would write it. */
    assert_int_equal(tr_db_conn_owner(f.t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_exec(c, "UPDATE index_blobs SET data = "
                                   "overlay(data placing '\\x6300'::bytea "
                                   "from 7 for 2) WHERE name = 'embed.bin' "
                                   "AND part = 0", 0, NULL, NULL, &err),
                     TR_OK);
    tr_db_conn_release(c);

    assert_int_equal(tr_kb_searcher_load(f.t.db, f.tenant, r.version_id, &s,
                                         &err), TR_E_INDEX);
    assert_null(s);
    assert_non_null(strstr(err.msg, "embed.bin"));
    assert_non_null(strstr(err.msg, "triage reindex"));

    /* A new build replaces it and serves again. */
    assert_int_equal(tr_kb_reindex(f.t.db, f.tenant, NULL, &r, &err),
                     TR_OK);
    assert_int_equal(tr_kb_searcher_load(f.t.db, f.tenant, r.version_id, &s,
                                         &err), TR_OK);
    tr_kb_searcher_release(s);
    teardown(&f);
}

/* Progress callback of the child: die once part of the index is stored. */
static void
die_while_storing(void *ud, const char *stage, size_t done, size_t total)
{
    if (strcmp(stage, "store") == 0 && done > 0 && done < total)
        kill(getpid(), SIGKILL);
}

static void
kb_killed_reindex_leaves_live_version_serving(void **state)
{
    struct fixture f;
    struct tr_kb_reindex_result r;
    struct tr_error err = {0};
    int64_t live;
    char buf[64];
    int status;
    pid_t pid;

    int go[2];

    setup(&f);

    /*
     * The child is forked before anything runs OpenMP threads (a child
     * of a process that has used them would hang in its first parallel
     * region); it waits for the first version, then reindexes on its own
     * connections and is killed while storing.
     */
    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tr_kb_reindex_opts o = {0};
        struct tr_db *db;
        char b;

        close(go[1]);
        if (read(go[0], &b, 1) != 1)
            _exit(5);
        o.progress = die_while_storing;
        if (tr_db_open(&f.t.conf, 4, &db, &err) != TR_OK)
            _exit(3);
        tr_kb_reindex(db, f.tenant, &o, NULL, &err);
        _exit(4);
    }
    close(go[0]);
    import_and_index(&f, &r);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    /* The live version is the same and still answers. */
    assert_int_equal(tr_kb_live_version(f.t.db, f.tenant, &live, &err),
                     TR_OK);
    assert_int_equal(live, r.version_id);
    assert_int_equal(count(&f, "SELECT count(*) FROM index_versions WHERE "
                               "status = 'building'"), 1);
    assert_string_equal(top_hit(&f, "refund money back", buf, sizeof(buf)),
                        "refund");

    /* The next reindex clears the dead run and goes live. */
    assert_int_equal(tr_kb_reindex(f.t.db, f.tenant, NULL, &r, &err),
                     TR_OK);
    assert_int_equal(count(&f, "SELECT count(*) FROM index_versions WHERE "
                               "status = 'building'"), 0);
    assert_int_equal(tr_kb_live_version(f.t.db, f.tenant, &live, &err),
                     TR_OK);
    assert_int_equal(live, r.version_id);
    teardown(&f);
}

struct searcher_arg {
    struct fixture *f;
    atomic_int *stop;
    int n_ok;
    int n_fail;
    int64_t versions_seen[2];
};

static void *
search_loop(void *p)
{
    struct searcher_arg *a = p;

    while (!atomic_load(a->stop)) {
        struct tr_error err = {0};
        struct tr_kb_searcher *s;
        struct tr_kb_hit hits[3];
        size_t n = 0;

        if (tr_kb_searcher_get(a->f->t.db, a->f->tenant, &s, &err) != TR_OK)
        {
            a->n_fail++;
            continue;
        }
        if (tr_kb_search(s, "refund money", 3, TR_KB_HYBRID, hits, &n,
                         &err) == TR_OK && n > 0 &&
            strcmp(hits[0].external_id, "refund") == 0)
            a->n_ok++;
        else
            a->n_fail++;
        if (a->versions_seen[0] == 0)
            a->versions_seen[0] = tr_kb_searcher_version(s);
        else if (tr_kb_searcher_version(s) != a->versions_seen[0])
            a->versions_seen[1] = tr_kb_searcher_version(s);
        tr_kb_searcher_release(s);
    }
    return NULL;
}

static void
kb_live_swap_under_concurrent_searches(void **state)
{
    struct fixture f;
    struct tr_kb_reindex_result r1, r2;
    struct tr_error err = {0};
    struct searcher_arg args[2];
    atomic_int stop = 0;
    pthread_t th[2];

    setup(&f);
    import_and_index(&f, &r1);
    for (int i = 0; i < 2; i++) {
        memset(&args[i], 0, sizeof(args[i]));
        args[i].f = &f;
        args[i].stop = &stop;
        assert_int_equal(pthread_create(&th[i], NULL, search_loop,
                                        &args[i]), 0);
    }

    /* Reindex and switch twice while the threads search. */
    assert_int_equal(tr_kb_reindex(f.t.db, f.tenant, NULL, &r2, &err),
                     TR_OK);
    if (tr_kb_rollback(f.t.db, f.tenant, NULL, &err) != TR_OK)
        fail_msg("rollback: %s", tr_error_msg(&err));
    assert_int_equal(tr_kb_version_switch(f.t.db, f.tenant, r2.version_id,
                                          &err), TR_OK);
    usleep(300 * 1000);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].n_fail, 0);
        assert_true(args[i].n_ok > 0);
        assert_int_equal(args[i].versions_seen[0], r1.version_id);
        assert_int_equal(args[i].versions_seen[1], r2.version_id);
    }
    teardown(&f);
}


static const struct CMUnitTest cases[] = {
    cmocka_unit_test(kb_import_bad_json_line_is_rejected_whole),
    cmocka_unit_test(kb_reimport_counts_added_updated_unchanged),
    cmocka_unit_test(kb_tiny_reindex_finds_article_and_skips_drafts),
    cmocka_unit_test(kb_versions_switch_and_rollback),
    cmocka_unit_test(kb_unreadable_version_asks_for_reindex),
    cmocka_unit_test(kb_killed_reindex_leaves_live_version_serving),
    cmocka_unit_test(kb_live_swap_under_concurrent_searches),
};

TR_TEST_MAIN(cases)
