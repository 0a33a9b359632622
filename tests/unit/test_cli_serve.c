/*
 * test_cli_serve.c
 *      The triage binary as a user runs it: exit codes and help of every
 *      command, and `serve` on its own embedded PostgreSQL.
 *
 * Each case runs build/triage as a child process with a data directory of
 * its own under the build tree (never ./var), talks to it over loopback
 * with libcurl, and stops it by pid.  The embedded cluster a case starts
 * is stopped before the case ends.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char triage_bin[1024];

struct child {
    pid_t pid;
    int err_fd;                 /* read end of the child's stderr */
    char log[65536];
    size_t log_len;
};

static void
find_binary(void)
{
    const char *dir = getenv("TR_BINARY_DIR");

    assert_non_null(dir);
    snprintf(triage_bin, sizeof(triage_bin), "%s/triage", dir);
    assert_int_equal(access(triage_bin, X_OK), 0);
}

/* A fresh data directory for one case, under the build tree. */
static void
make_data_dir(char *buf, size_t len, const char *tag)
{
    char cmd[1200];

    snprintf(buf, len, "%s/cli-%s-%ld", getenv("TR_BINARY_DIR"), tag,
             (long) getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", buf);
    assert_int_equal(system(cmd), 0);
}

static void
remove_dir(const char *dir)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Run triage with `argv` (NULL-terminated, without the program) and
 * return its exit status; its output goes to `out` when given. */
static int
run_triage(char *const args[], char *out, size_t out_len)
{
    char *argv[32];
    int fds[2];
    pid_t pid;
    int status, n = 0;
    size_t got = 0;
    ssize_t r;

    argv[n++] = triage_bin;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(triage_bin, argv);
        _exit(127);
    }
    close(fds[1]);
    while (out != NULL && got + 1 < out_len &&
           (r = read(fds[0], out + got, out_len - got - 1)) > 0)
        got += (size_t) r;
    if (out != NULL)
        out[got] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Start `triage serve` in the background, stderr kept for reading. */
static void
start_serve(struct child *c, const char *data_dir, const char *extra_env)
{
    int fds[2];

    memset(c, 0, sizeof(*c));
    assert_int_equal(pipe(fds), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        setenv("TRIAGE_LOG_FORMAT", "json", 1);
        if (extra_env != NULL)
            putenv((char *) extra_env);
        execl(triage_bin, triage_bin, "serve", "--listen", "127.0.0.1:0",
              "--data-dir", data_dir, (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    c->err_fd = fds[0];
    fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
}

static void
read_log(struct child *c)
{
    ssize_t r;

    while (c->log_len + 1 < sizeof(c->log) &&
           (r = read(c->err_fd, c->log + c->log_len,
                     sizeof(c->log) - c->log_len - 1)) > 0)
        c->log_len += (size_t) r;
    c->log[c->log_len] = '\0';
}

/* Wait for the serve_started line and return the port it reports. */
static int
wait_port(struct child *c)
{
    for (int i = 0; i < 600; i++) {
        const char *p;

        read_log(c);
        p = strstr(c->log, "\"event\":\"serve_started\"");
        if (p != NULL && (p = strstr(p, "\"port\":")) != NULL)
            return atoi(p + 7);
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
            fail_msg("serve exited early:\n%s", c->log);
        usleep(50 * 1000);
    }
    fail_msg("serve did not start within 30 s:\n%s", c->log);
    return 0;
}

static int
stop_serve(struct child *c)
{
    int status;

    kill(c->pid, SIGTERM);
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    read_log(c);
    close(c->err_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct reply {
    long status;
    char body[16384];
    size_t len;
    char req_id[80];
};

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = size * n;

    if (r->len + len >= sizeof(r->body))
        len = sizeof(r->body) - r->len - 1;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;

    if (strncasecmp(p, "X-Request-Id: ", 14) == 0)
        sscanf(p + 14, "%79[^\r\n]", r->req_id);
    return size * n;
}

static void
get(int port, const char *path, struct reply *r)
{
    char url[256];
    CURL *h = curl_easy_init();

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
}

static void
post_json(int port, const char *path, const char *body, struct reply *r)
{
    char url[256];
    struct curl_slist *h_list = NULL;
    CURL *h = curl_easy_init();

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    h_list = curl_slist_append(h_list, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, h_list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(h_list);
}

static bool
cluster_running(const char *data_dir)
{
    char pidfile[1200];
    struct stat st;

    snprintf(pidfile, sizeof(pidfile), "%s/pg/data/postmaster.pid", data_dir);
    return stat(pidfile, &st) == 0;
}

static void
every_command_has_help_and_rejects_unknown_options(void **state)
{
    static const char *const cmds[][2] = {
        {"serve", NULL}, {"worker", NULL}, {"db", "status"},
        {"tenant", "list"}, {"config", "show"},
    };
    char out[8192];

    find_binary();
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *help[] = {(char *) cmds[i][0], (char *) cmds[i][1],
                        "--help", NULL};
        char *bad[] = {(char *) cmds[i][0], (char *) cmds[i][1],
                       "--no-such-option", NULL};

        if (cmds[i][1] == NULL) {
            help[1] = "--help";
            help[2] = NULL;
            bad[1] = "--no-such-option";
            bad[2] = NULL;
        }
        assert_int_equal(run_triage(help, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "Usage: triage"));
        assert_int_equal(run_triage(bad, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "--no-such-option"));
    }
}

static void
unknown_command_exits_2_and_version_prints(void **state)
{
    char out[4096];
    char *unknown[] = {"frobnicate", NULL};
    char *version[] = {"version", NULL};
    char *none[] = {NULL};

    find_binary();
    assert_int_equal(run_triage(unknown, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "unknown command \"frobnicate\""));
    assert_int_equal(run_triage(none, out, sizeof(out)), 2);
    assert_int_equal(run_triage(version, out, sizeof(out)), 0);
    assert_true(strncmp(out, "triage ", 7) == 0);
}

static void
config_show_masks_the_database_password(void **state)
{
    char out[8192];
    char *args[] = {"config", "show", "--database-url",
                    "postgresql://app:hunter2@db.example/triage", NULL};

    find_binary();
    assert_int_equal(run_triage(args, out, sizeof(out)), 0);
    assert_null(strstr(out, "hunter2"));
    assert_non_null(strstr(out, "postgresql://app:***@db.example/triage"));
    assert_non_null(strstr(out, "# option"));
}

static void
serve_answers_probes_then_stops_the_cluster_it_started(void **state)
{
    char dir[1024];
    struct child c;
    struct reply r;
    int port;

    find_binary();
    make_data_dir(dir, sizeof(dir), "serve");
    start_serve(&c, dir, NULL);
    port = wait_port(&c);
    assert_true(port > 0);
    assert_true(cluster_running(dir));

    get(port, "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_true(strlen(r.req_id) >= 16);
    get(port, "/readyz", &r);
    assert_int_equal(r.status, 200);
    get(port, "/no/such/path", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "{\"error\":{\"code\":\"notfound\""));
    /* The connectors' routes are wired in. */
    post_json(port, "/webhooks/zendesk/no-such-tenant", "{}", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"code\":\"tenant\""));
    get(port, "/api/v1/search?tenant=no-such-tenant", &r);
    assert_int_equal(r.status, 400);

    get(port, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "http_requests_total{route=\"readyz\","
                                   "method=\"GET\",status=\"200\"} 1"));
    assert_non_null(strstr(r.body, "triage_queue_parked 0"));

    assert_int_equal(stop_serve(&c), 0);
    assert_non_null(strstr(c.log, "\"event\":\"serve_stopped\""));
    assert_false(cluster_running(dir));
    remove_dir(dir);
}

static void
serve_reuses_a_running_cluster_and_leaves_it_running(void **state)
{
    char dir[1024], out[4096];
    char *start[] = {"db", "start", "--data-dir", dir, NULL};
    char *stop[] = {"db", "stop", "--data-dir", dir, NULL};
    struct child c;
    struct reply r;
    int port;

    find_binary();
    make_data_dir(dir, sizeof(dir), "reuse");
    assert_int_equal(run_triage(start, out, sizeof(out)), 0);
    assert_true(cluster_running(dir));

    start_serve(&c, dir, NULL);
    port = wait_port(&c);
    get(port, "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(stop_serve(&c), 0);

    /* serve did not start the cluster, so it must not stop it. */
    assert_true(cluster_running(dir));
    assert_int_equal(run_triage(stop, out, sizeof(out)), 0);
    assert_false(cluster_running(dir));
    remove_dir(dir);
}

static void
readyz_turns_503_while_the_database_is_away(void **state)
{
    char dir[1024], out[4096];
    char *start[] = {"db", "start", "--data-dir", dir, NULL};
    char *stop[] = {"db", "stop", "--data-dir", dir, NULL};
    struct child c;
    struct reply r;
    int port;

    find_binary();
    make_data_dir(dir, sizeof(dir), "away");
    assert_int_equal(run_triage(start, out, sizeof(out)), 0);
    start_serve(&c, dir, NULL);
    port = wait_port(&c);
    get(port, "/readyz", &r);
    assert_int_equal(r.status, 200);

    assert_int_equal(run_triage(stop, out, sizeof(out)), 0);
    get(port, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"code\":\"db_connect\""));
    get(port, "/healthz", &r);
    assert_int_equal(r.status, 200);

    /* Once the database is back, the same process is ready again. */
    assert_int_equal(run_triage(start, out, sizeof(out)), 0);
    get(port, "/readyz", &r);
    assert_int_equal(r.status, 200);

    assert_int_equal(stop_serve(&c), 0);
    assert_int_equal(run_triage(stop, out, sizeof(out)), 0);
    remove_dir(dir);
}

static void
serve_with_unreachable_database_fails_clearly(void **state)
{
    char dir[1024];
    struct child c;
    int status;

    find_binary();
    make_data_dir(dir, sizeof(dir), "unreach");
    start_serve(&c, dir,
                "TRIAGE_DATABASE_URL=host=/nonexistent-socket-dir "
                "dbname=x connect_timeout=2");
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    read_log(&c);
    close(c.err_fd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(c.log, "start_failed"));
    assert_false(cluster_running(dir));
    remove_dir(dir);
}

/* Tenant add with the Zendesk connection: stored at once, all or none. */
static void
tenant_add_takes_the_zendesk_connection_in_one_go(void **state)
{
    char dir[1024], tok[1100], out[8192];
    char *add[] = {"tenant", "add", "acme", "--webhook-secret",
                   "acme-signing-secret-01", "--base-url",
                   "http://127.0.0.1:9", "--email", "agent@example.com",
                   "--api-token-file", tok, "--data-dir", dir, NULL};
    char *show[] = {"zendesk", "show", "--tenant", "acme", "--data-dir",
                    dir, NULL};
    char *both[] = {"tenant", "add", "beta", "--base-url", "http://x",
                    "--subdomain", "x", "--oauth-token-file", tok,
                    "--data-dir", dir, NULL};
    char *no_file[] = {"tenant", "add", "gamma", "--subdomain", "gamma",
                       "--oauth-token-file", "/nonexistent/token",
                       "--data-dir", dir, NULL};
    char *list_opt[] = {"tenant", "list", "--subdomain", "x", "--data-dir",
                        dir, NULL};
    char *list[] = {"tenant", "list", "--data-dir", dir, NULL};
    char *stop[] = {"db", "stop", "--data-dir", dir, NULL};
    FILE *f;

    (void) state;
    find_binary();
    make_data_dir(dir, sizeof(dir), "tenant");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(tok, sizeof(tok), "%s/token", dir);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("Sup3rSecretT0ken\n", f);
    fclose(f);

    assert_int_equal(run_triage(add, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "with its Zendesk settings"));
    assert_null(strstr(out, "Sup3rSecretT0ken"));
    assert_int_equal(run_triage(show, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "http://127.0.0.1:9"));
    assert_non_null(strstr(out, "agent@example.com"));
    assert_null(strstr(out, "Sup3rSecretT0ken"));

    /* Two hosts is a usage error; an unreadable token makes no tenant. */
    assert_int_equal(run_triage(both, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--subdomain"));
    assert_int_equal(run_triage(no_file, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "/nonexistent/token"));
    assert_int_equal(run_triage(list_opt, out, sizeof(out)), 2);
    assert_int_equal(run_triage(list, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "acme"));
    assert_null(strstr(out, "beta"));
    assert_null(strstr(out, "gamma"));

    assert_int_equal(run_triage(stop, out, sizeof(out)), 0);
    assert_false(cluster_running(dir));
    remove_dir(dir);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(every_command_has_help_and_rejects_unknown_options),
    cmocka_unit_test(unknown_command_exits_2_and_version_prints),
    cmocka_unit_test(config_show_masks_the_database_password),
    cmocka_unit_test(serve_answers_probes_then_stops_the_cluster_it_started),
    cmocka_unit_test(serve_reuses_a_running_cluster_and_leaves_it_running),
    cmocka_unit_test(readyz_turns_503_while_the_database_is_away),
    cmocka_unit_test(serve_with_unreachable_database_fails_clearly),
    cmocka_unit_test(tenant_add_takes_the_zendesk_connection_in_one_go),
};

TR_TEST_MAIN(cases)
