/* cli_capture.c — see cli_capture.h. */
#include "cli_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "locus/fileutil.h"

int cli_system_capture(const char *cmd, const char *log, char *out, size_t out_size) {
    int rc = system(cmd);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, out_size - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

cJSON *cli_read_json(const char *path) {
    ErrorMsg err;
    size_t n;
    char *text = file_read_all(path, &n, &err);
    if (!text) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}
