/* status.c — Status codes, error messages and the always-on CHECK (see status.h). */
#include "locus/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Status status_fail(ErrorMsg *err, Status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

Status status_wrap(ErrorMsg *err, Status code, const char *fmt, ...) {
    if (!err) return code;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->text];
    memcpy(old, err->text, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof err->text) n = sizeof err->text - 1;
    memcpy(err->text, prefix, n);
    size_t rest = sizeof err->text - 1 - n;
    size_t m = strnlen(old, rest);
    memcpy(err->text + n, old, m);
    err->text[n + m] = 0;
    return code;
}

const char *status_name(Status code) {
    switch (code) {
    case LOCUS_OK: return "ok";
    case LOCUS_ERR_IO: return "io";
    case LOCUS_ERR_FORMAT: return "format";
    case LOCUS_ERR_ARG: return "argument";
    case LOCUS_ERR_OOM: return "memory";
    case LOCUS_ERR_NUMERIC: return "numeric";
    case LOCUS_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

int status_exit_code(Status code) {
    switch (code) {
    case LOCUS_OK: return 0;
    case LOCUS_ERR_ARG: return 2;
    case LOCUS_ERR_IO: return 3;
    case LOCUS_ERR_FORMAT: return 4;
    case LOCUS_ERR_OOM: return 5;
    case LOCUS_ERR_NUMERIC: return 6;
    default: return 1;
    }
}

void check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "locus: internal check failed at %s:%d: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}
