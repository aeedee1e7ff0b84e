/* status.h — how locus reports failures.
 *
 * Two kinds of failure, two mechanisms (DESIGN.md §5):
 *  - Broken internal invariants: CHECK(cond, fmt, ...) prints file:line and the message, then aborts.
 *    It is always on (not compiled out by NDEBUG).
 *  - External failures (I/O, parse, bad option, bad dataset, out of memory, NaN loss): the function
 *    returns a Status code and fills an ErrorMsg with a human message that ends with a "hint:" line.
 *    Library code never prints and never exits; the CLI turns a Status into a message and exit code. */
#ifndef LOCUS_STATUS_H
#define LOCUS_STATUS_H

#include <stddef.h>

typedef enum Status {
    LOCUS_OK = 0,
    LOCUS_ERR_IO,        /* a file cannot be opened/read/written */
    LOCUS_ERR_FORMAT,    /* a file's bytes are not what its format requires */
    LOCUS_ERR_ARG,       /* a bad option, value out of range, unknown key */
    LOCUS_ERR_OOM,       /* a configuration needs more memory than allowed or available */
    LOCUS_ERR_NUMERIC,   /* NaN/Inf in loss or activations */
    LOCUS_ERR_INTERNAL   /* anything else that is not the user's fault */
} Status;

/* The human-readable half of a failure. Filled by status_fail(); empty when nothing failed. */
typedef struct ErrorMsg {
    char text[2048];
} ErrorMsg;

/* Sets err->text from the printf-style message (err may be NULL) and returns code, so that
 * `return status_fail(err, LOCUS_ERR_IO, "...")` reads naturally. Put the hint after "\nhint: ". */
Status status_fail(ErrorMsg *err, Status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("while loading X: ") to an existing message; returns code unchanged. */
Status status_wrap(ErrorMsg *err, Status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short name of a code ("io", "format", ...), for logs and exit messages. */
const char *status_name(Status code);

/* Process exit code the CLI uses for a Status (0 for OK; distinct non-zero codes otherwise). */
int status_exit_code(Status code);

void check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
    } while (0)

#endif
