/*
 * eval_routing_main.c
 *      tr-eval-routing: the `triage eval routing` command as its own
 *      program, with the same options.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "evalroute.h"

int
main(int argc, char **argv)
{
    struct tr_cli cli;

    tr_cli_init(&cli, "eval routing");
    return tr_cli_cmd_eval_routing(&cli, argc, argv);
}
