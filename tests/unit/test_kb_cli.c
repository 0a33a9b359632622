/*
 * test_kb_cli.c
 *      The knowledge base's outer faces: the GET /api/v1/search handler
 *      on a loopback server, and `triage eval retrieval --json` run on a
 *      tiny collection against a real PostgreSQL.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tr_test.h"

#include "cli.h"
#include "db.h"
#include "http.h"
#include "kb.h"
#include "kb_http.h"
#include "pgtest.h"

/*
 * The routing evaluation is another module's; until it is linked in, a
 * weak stand-in lets this program link.  The real one replaces it.
 */
__attribute__((weak)) int
tr_cli_cmd_eval_routing(struct tr_cli *cli, int argc, char **argv)
{
    return TR_EXIT_FAIL;
}

int tr_cli_cmd_eval(struct tr_cli *cli, int argc, char **argv);

/* Send `path` as a GET to 127.0.0.1:port; the reply goes into `buf`. */
static int
http_get(int port, const char *path, char *buf, size_t len)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    size_t got = 0;
    ssize_t n;
    char req[1024];

    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n", path);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t) strlen(req));
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t) n;
    buf[got] = '\0';
    close(fd);
    sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

static void
kb_search_api_answers_hits_and_errors(void **state)
{
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_http_opts o = {0};
    struct tr_http_server *srv;
    struct tr_db_conn *c;
    char id[24], path[1024], *buf = malloc(65536);
    int port;

    assert_int_equal(tr_pgtest_open(&t, 8, true, &err), TR_OK);
    assert_int_equal(tr_db_conn_owner(t.db, &c, &err), TR_OK);
    assert_int_equal(tr_db_query_value(c, "INSERT INTO tenants (name, "
                                          "webhook_secret) VALUES ('acme', "
                                          "'s') RETURNING id", 0, NULL, id,
                                       sizeof(id), NULL, &err), TR_OK);
    tr_db_conn_release(c);
    snprintf(path, sizeof(path), "%s/tests/data/kb/tiny.jsonl",
             getenv("TR_SOURCE_DIR"));
    assert_int_equal(tr_kb_import_path(t.db, atoll(id), path,
                                       TR_KB_SOURCE_GUESS, NULL, &err),
                     TR_OK);
    assert_int_equal(tr_kb_reindex(t.db, atoll(id), NULL, NULL, &err),
                     TR_OK);

    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:0");
    o.threads = 2;
    o.timeout = 10;
    o.body_limit = 1 << 20;
    o.shutdown_grace = 2;
    assert_int_equal(tr_http_server_new(&o, &srv, &err), TR_OK);
    assert_int_equal(tr_kb_http_register(srv, t.db, &err), TR_OK);
    assert_int_equal(tr_http_server_start(srv, &err), TR_OK);
    port = tr_http_server_port(srv);

    assert_int_equal(http_get(port, "/api/v1/search?tenant=acme&k=2&"
                              "q=forgot%20my%20password", buf, 65536), 200);
    assert_non_null(strstr(buf, "\"article_id\":\"password\""));
    assert_non_null(strstr(buf, "\"rank\":1"));
    assert_null(strstr(buf, "\"rank\":3"));

    assert_int_equal(http_get(port, "/api/v1/search?tenant=nobody&q=x",
                              buf, 65536), 404);
    assert_non_null(strstr(buf, "\"code\":\"tenant\""));
    assert_int_equal(http_get(port, "/api/v1/search?tenant=acme", buf,
                              65536), 400);
    assert_int_equal(http_get(port, "/api/v1/search?tenant=acme&q=a&k=0",
                              buf, 65536), 400);

    tr_http_server_free(srv);
    tr_kb_cache_drop(t.db);
    tr_pgtest_close(&t);
    free(buf);
}

static void
kb_eval_retrieval_json_has_metric_keys(void **state)
{
    static const char *keys[] = {"recall@1", "recall@5", "recall@10",
                                 "mrr@10", "ndcg@10"};
    struct tr_pgtest t;
    struct tr_error err = {0};
    struct tr_cli cli;
    char dir[1024], out[] = "/tmp/kb_eval_XXXXXX", *text;
    char *argv[8];
    cJSON *root, *m, *comp;
    int fd, saved, ex;
    FILE *f;
    long len;

    assert_int_equal(tr_pgtest_open(&t, 4, true, &err), TR_OK);
    snprintf(dir, sizeof(dir), "%s/tests/data/kb/eval",
             getenv("TR_SOURCE_DIR"));

    /* Run the command with stdout sent to a file. */
    fd = mkstemp(out);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(1);
    dup2(fd, 1);
    tr_cli_init(&cli, "eval");
    argv[0] = "eval";
    argv[1] = "retrieval";
    argv[2] = "--dataset";
    argv[3] = dir;
    argv[4] = "--json";
    argv[5] = "--database-url";
    argv[6] = t.conf.database_url;
    argv[7] = NULL;
    optind = 0;
    ex = tr_cli_cmd_eval(&cli, 7, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(ex, TR_EXIT_OK);

    f = fdopen(fd, "r");
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = calloc(1, (size_t) len + 1);
    assert_int_equal(fread(text, 1, (size_t) len, f), (size_t) len);
    fclose(f);
    unlink(out);

    root = cJSON_Parse(text);
    assert_non_null(root);
    m = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    assert_int_equal(cJSON_GetArraySize(m), 5);
    for (int i = 0; i < 5; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keys[i]);

        assert_true(cJSON_IsNumber(v));
        assert_true(v->valuedouble >= 0.0 && v->valuedouble <= 1.0);
    }

    /* Six easy queries over six documents: most land on top. */
    assert_true(cJSON_GetObjectItemCaseSensitive(m, "recall@10")
                    ->valuedouble > 0.8);
    comp = cJSON_GetObjectItemCaseSensitive(root, "components");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(comp, "bm25"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(comp, "dense"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(comp, "hybrid"));

    /* The throwaway tenant is gone again. */
    {
        char n[24];

        assert_int_equal(tr_pgtest_owner_value(&t, "SELECT count(*) FROM "
                                               "tenants", n, sizeof(n)),
                         TR_OK);
        assert_string_equal(n, "0");
    }
    cJSON_Delete(root);
    free(text);
    tr_pgtest_close(&t);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(kb_search_api_answers_hits_and_errors),
    cmocka_unit_test(kb_eval_retrieval_json_has_metric_keys),
};

TR_TEST_MAIN(cases)
