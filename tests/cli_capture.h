/* cli_capture.h — what the CLI tests (test_cli, test_*_cli, test_plot, test_fetch, test_dist) share: running one
 * shell command whose output goes to a log file and reading that log back, and reading a JSON file. */
#ifndef LOCUS_TEST_CLI_CAPTURE_H
#define LOCUS_TEST_CLI_CAPTURE_H

#include <stddef.h>

#include <cJSON.h>

/* Runs the shell command `cmd` (which sends its stdout and stderr to the file `log`), reads `log` into out
 * (NUL-terminated, at most out_size - 1 bytes) and returns the command's exit code (128 if it did not exit). */
int cli_system_capture(const char *cmd, const char *log, char *out, size_t out_size);
/* The parsed JSON of a file, or NULL when it cannot be read or parsed. */
cJSON *cli_read_json(const char *path);

#endif
