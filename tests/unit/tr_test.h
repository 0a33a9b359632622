/*
 * tr_test.h
 *      Shared entry point of the cmocka test programs.
 *
 * Every program lists its cases in one array and ends with
 * TR_TEST_MAIN(cases).  Run without arguments it runs them all; with one
 * argument it runs only the case of that name, which is how CTest
 * registers each case as its own test (<module>.<case>).  --list prints
 * the case names.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define TR_TEST_MAIN(cases)                                              \
    int main(int argc, char **argv)                                      \
    {                                                                    \
        size_t n_ = sizeof(cases) / sizeof(cases[0]);                    \
        if (argc > 1 && strcmp(argv[1], "--list") == 0) {                \
            for (size_t i_ = 0; i_ < n_; i_++)                           \
                printf("%s\n", cases[i_].name);                          \
            return 0;                                                    \
        }                                                                \
        if (argc > 1) {                                                  \
            size_t i_;                                                   \
            for (i_ = 0; i_ < n_; i_++)                                  \
                if (strcmp(cases[i_].name, argv[1]) == 0)                \
                    break;                                               \
            if (i_ == n_) {                                              \
                fprintf(stderr, "no test case \"%s\"\n", argv[1]);       \
                return 2;                                                \
            }                                                            \
            cmocka_set_test_filter(argv[1]);                             \
        }                                                                \
        return cmocka_run_group_tests(cases, NULL, NULL);                \
    }

#endif /* TR_TEST_H */
