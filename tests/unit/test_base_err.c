/*
 * test_base_err.c
 *      Error codes: names, slugs, HTTP statuses and detail records.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include "err.h"

static void
err_names_slugs_and_statuses(void **state)
{
    assert_int_equal(TR_OK, 0);
    assert_string_equal(tr_err_name(TR_E_DB_CONNECT), "TR_E_DB_CONNECT");
    assert_string_equal(tr_err_slug(TR_E_DB_CONNECT), "db_connect");
    assert_string_equal(tr_err_slug(TR_OK), "ok");
    assert_int_equal(tr_err_http_status(TR_E_DB_CONNECT), 503);
    assert_int_equal(tr_err_http_status(TR_E_TOOBIG), 413);
    assert_int_equal(tr_err_http_status(TR_E_AUTH), 401);
    assert_int_equal(tr_err_http_status((enum tr_err) 9999), 500);
    assert_string_equal(tr_err_name((enum tr_err) -1), "TR_E_UNKNOWN");
}

static void
err_set_fills_detail(void **state)
{
    struct tr_error err;
    enum tr_err rc;

    tr_error_clear(&err);
    assert_string_equal(tr_error_msg(&err), "success");
    rc = TR_ERROR(&err, TR_E_IO, "could not open file \"%s\"", "x");
    tr_error_foreign(&err, "ENOENT");
    assert_int_equal(rc, TR_E_IO);
    assert_int_equal(err.code, TR_E_IO);
    assert_string_equal(err.msg, "could not open file \"x\"");
    assert_string_equal(err.foreign, "ENOENT");
    assert_non_null(strstr(err.file, "test_base_err.c"));
    assert_int_equal(TR_ERROR(NULL, TR_E_INVAL, "ignored"), TR_E_INVAL);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(err_names_slugs_and_statuses),
    cmocka_unit_test(err_set_fills_detail),
};

TR_TEST_MAIN(cases)
