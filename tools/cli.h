/* cli.h — what the `locus` subcommands share (tools/cli_common.c) and the entry point of each subcommand
 * that lives in its own file. A new subcommand: add tools/cmd_NAME.c with `int cmd_NAME(int argc, char **argv)`
 * (argv[0] = "NAME"), declare it here, and add one line to main's table and usage() in tools/locus.c. */
#ifndef LOCUS_TOOLS_CLI_H
#define LOCUS_TOOLS_CLI_H

#include <stdio.h>

#include "locus/status.h"

/* Prints "locus CMD: error (KIND): MESSAGE" on stderr; returns the exit code for st. */
int cli_fail(const char *cmd, Status st, const ErrorMsg *err);
/* Removes "--NAME VALUE" / "--NAME=VALUE" / "--NAME" (flag) from argv; returns the value, "" for a flag,
 * or NULL when absent. */
const char *cli_take_option(int *argc, char **argv, const char *name, int has_value);
/* 1 when argv holds --help or -h. */
int cli_wants_help(int argc, char **argv);

/* tools/cmd_export.c: locus export RUN_DIR --format safetensors|onnx --out FILE */
int cmd_export(int argc, char **argv);
/* locus data info DIR [--data NAME] (tools/cmd_data.c) */
int cmd_data(int argc, char **argv);
/* locus data fetch NAME [--dir DIR] (tools/cmd_data_fetch.c); argv[0] = "fetch". */
int cmd_data_fetch(int argc, char **argv);
/* locus plot RUN_DIR... --out FILE.png (tools/cmd_plot.c). */
int cmd_plot(int argc, char **argv);

#endif
