/* cli_common.c — small pieces every `locus` subcommand shares: mapping a Status to a message and an exit
 * code, taking an option out of argv, and spotting --help. Each subcommand lives in its own file
 * (tools/locus.c: train, eval, memplan, bench; tools/cmd_*.c: the others) and is listed in tools/cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *cmd, Status st, const ErrorMsg *err) {
    fprintf(stderr, "locus %s: error (%s): %s\n", cmd, status_name(st), err->text);
    return status_exit_code(st);
}

/* Removes "--NAME VALUE" / "--NAME=VALUE" / "--NAME" (flag) from argv; returns the value, "" for a flag,
 * or NULL when absent. */
const char *cli_take_option(int *argc, char **argv, const char *name, int has_value) {
    size_t len = strlen(name);
    for (int i = 1; i < *argc; i++) {
        if (strncmp(argv[i], name, len)) continue;
        const char *val = NULL;
        int drop = 0;
        if (argv[i][len] == 0) {
            if (has_value && i + 1 < *argc) val = argv[i + 1], drop = 2;
            else if (!has_value) val = "", drop = 1;
            else return NULL;
        } else if (argv[i][len] == '=' && has_value) {
            val = argv[i] + len + 1, drop = 1;
        } else {
            continue;
        }
        for (int j = i; j + drop < *argc; j++) argv[j] = argv[j + drop];
        *argc -= drop;
        return val;
    }
    return NULL;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

