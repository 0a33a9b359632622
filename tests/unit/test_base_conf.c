/*
 * test_base_conf.c
 *      Configuration: defaults, file, environment, precedence, masking.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "conf.h"

static char *
write_temp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/tr-conf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static void
conf_defaults_are_valid(void **state)
{
    struct tr_conf c;
    struct tr_error err;

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_validate(&c, &err), TR_OK);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "./var");
    assert_string_equal(c.database_url, "");
    assert_int_equal(c.http_body_limit, 1048576);
}

static void
conf_file_overrides_defaults(void **state)
{
    struct tr_conf c;
    struct tr_error err;
    char *path = write_temp("# comment\n\nlisten = 127.0.0.1:9000\n"
                            "data_dir = \"/tmp/x y\"  # trailing\n"
                            "workers=4\n");

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_load_file(&c, path, &err), TR_OK);
    assert_string_equal(c.listen, "127.0.0.1:9000");
    assert_string_equal(c.data_dir, "/tmp/x y");
    assert_int_equal(c.workers, 4);
    unlink(path);
}

static void
conf_env_overrides_file(void **state)
{
    struct tr_conf c;
    struct tr_error err;
    char *path = write_temp("listen = 127.0.0.1:9000\n");

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_load_file(&c, path, &err), TR_OK);
    setenv("TRIAGE_LISTEN", "127.0.0.1:9100", 1);
    assert_int_equal(tr_conf_load_env(&c, &err), TR_OK);
    unsetenv("TRIAGE_LISTEN");
    assert_string_equal(c.listen, "127.0.0.1:9100");

    /* A command-line option beats both. */
    assert_int_equal(tr_conf_set(&c, "listen", "127.0.0.1:9200",
                                 TR_CONF_CLI, &err), TR_OK);
    assert_string_equal(c.listen, "127.0.0.1:9200");
    unlink(path);
}

static void
conf_file_with_unknown_key_is_rejected_whole(void **state)
{
    struct tr_conf c;
    struct tr_error err;
    char *path = write_temp("workers = 7\nno_such_key = 1\n");

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_load_file(&c, path, &err), TR_E_CONF);
    assert_non_null(strstr(err.msg, "no_such_key"));
    assert_non_null(strstr(err.msg, ":2:"));
    /* Nothing of the failed file was applied. */
    assert_int_equal(c.workers, 2);
    unlink(path);
}

static void
conf_bad_number_names_file_and_line(void **state)
{
    struct tr_conf c;
    struct tr_error err;
    char *path = write_temp("\nhttp_threads = many\n");

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_load_file(&c, path, &err), TR_E_CONF);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_non_null(strstr(err.msg, "http_threads"));
    unlink(path);

    assert_int_equal(tr_conf_set(&c, "workers", "-1", TR_CONF_CLI, &err),
                     TR_E_CONF);
    assert_int_equal(tr_conf_set(&c, "log_level", "loud", TR_CONF_CLI, &err),
                     TR_E_CONF);
    assert_int_equal(tr_conf_load_file(&c, "/nonexistent/x.conf", &err),
                     TR_E_CONF);
}

static void
conf_size_suffixes_are_understood(void **state)
{
    struct tr_conf c;
    struct tr_error err;

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_set(&c, "http_body_limit", "2m", TR_CONF_CLI,
                                 &err), TR_OK);
    assert_int_equal(c.http_body_limit, 2 * 1024 * 1024);
    assert_int_equal(tr_conf_set(&c, "http_body_limit", "64KiB", TR_CONF_CLI,
                                 &err), TR_OK);
    assert_int_equal(c.http_body_limit, 64 * 1024);
    assert_int_equal(tr_conf_set(&c, "http_body_limit", "5x", TR_CONF_CLI,
                                 &err), TR_E_CONF);
}

static void
conf_mask_hides_passwords(void **state)
{
    char out[256];

    tr_conf_mask_url("postgresql://app:s3cret@db.example:5432/triage", out,
                     sizeof(out));
    assert_null(strstr(out, "s3cret"));
    assert_string_equal(out, "postgresql://app:***@db.example:5432/triage");

    tr_conf_mask_url("host=/tmp user=app password='a b\\'c' dbname=t", out,
                     sizeof(out));
    assert_string_equal(out, "host=/tmp user=app password=*** dbname=t");

    tr_conf_mask_url("host=/tmp user=app", out, sizeof(out));
    assert_string_equal(out, "host=/tmp user=app");
}

static void
conf_show_never_prints_the_password(void **state)
{
    struct tr_conf c;
    struct tr_error err;
    char text[8192] = {0};
    FILE *f;

    tr_conf_defaults(&c);
    assert_int_equal(tr_conf_set(&c, "database_url",
                                 "postgres://u:topsecret@h/d", TR_CONF_ENV,
                                 &err), TR_OK);
    f = fmemopen(text, sizeof(text) - 1, "w");
    tr_conf_show(&c, f, false);
    tr_conf_show(&c, f, true);
    fclose(f);
    assert_null(strstr(text, "topsecret"));
    assert_non_null(strstr(text, "postgres://u:***@h/d"));
    assert_non_null(strstr(text, "\"source\":\"env\""));
}

static void
conf_listen_split_handles_ipv6(void **state)
{
    char host[64];
    int port;

    assert_int_equal(tr_conf_listen_split("127.0.0.1:8080", host,
                                          sizeof(host), &port), TR_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(tr_conf_listen_split("[::1]:0", host, sizeof(host),
                                          &port), TR_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(tr_conf_listen_split("localhost", host, sizeof(host),
                                          &port), TR_E_CONF);
    assert_int_equal(tr_conf_listen_split("h:70000", host, sizeof(host),
                                          &port), TR_E_CONF);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(conf_defaults_are_valid),
    cmocka_unit_test(conf_file_overrides_defaults),
    cmocka_unit_test(conf_env_overrides_file),
    cmocka_unit_test(conf_file_with_unknown_key_is_rejected_whole),
    cmocka_unit_test(conf_bad_number_names_file_and_line),
    cmocka_unit_test(conf_size_suffixes_are_understood),
    cmocka_unit_test(conf_mask_hides_passwords),
    cmocka_unit_test(conf_show_never_prints_the_password),
    cmocka_unit_test(conf_listen_split_handles_ipv6),
};

TR_TEST_MAIN(cases)
