/* fileutil.h — small file helpers shared by checkpoints, run directories and metric logs.
 *
 * Atomic replacement: a file that must never be seen half-written (checkpoint, config.json,
 * summary.json) is written to "<path>.tmp", flushed to disk (fsync), then renamed over <path>; the
 * directory is fsynced too. A crash leaves either the old file or the new one under the real name,
 * possibly plus a stale "<path>.tmp" that the next write replaces.
 * All functions return a Status and fill ErrorMsg (the message names the file and ends with a hint);
 * none prints. */
#ifndef LOCUS_FILEUTIL_H
#define LOCUS_FILEUTIL_H

#include <stdio.h>

#include "locus/status.h"

/* Writes n bytes to path atomically (tmp + fsync + rename). */
Status file_write_atomic(const char *path, const void *data, size_t n, ErrorMsg *err);

/* Streaming form of file_write_atomic, for data that is not in one buffer (safetensors):
 *   FileAtomic fa; file_atomic_begin(&fa, path, err); file_atomic_write(&fa, p, n, err) ...;
 *   file_atomic_commit(&fa, err);
 * On any error after begin, call file_atomic_abort (removes the tmp file); commit and abort both end
 * the FileAtomic (commit aborts by itself when it fails). */
typedef struct FileAtomic {
    FILE *fp;
    char path[1024];
    char tmp[1040];
} FileAtomic;
Status file_atomic_begin(FileAtomic *fa, const char *path, ErrorMsg *err);
Status file_atomic_write(FileAtomic *fa, const void *data, size_t n, ErrorMsg *err);
Status file_atomic_commit(FileAtomic *fa, ErrorMsg *err);
void file_atomic_abort(FileAtomic *fa);

/* mkdir -p: creates path and its missing parents (mode 0777 & ~umask). OK if it already exists as a
 * directory; an error if it (or a parent) exists as something else. */
Status dir_ensure(const char *path, ErrorMsg *err);

/* Appends one JSON line plus '\n' (added if json_line does not end with one) in a single write(2)
 * on an O_APPEND descriptor, so concurrent appenders never interleave within a line. No fsync (this is
 * called per logged step). A newline inside the line is LOCUS_ERR_ARG: it would break the JSONL
 * framing. */
Status jsonl_append(const char *path, const char *json_line, ErrorMsg *err);

/* Reads a whole file into a malloc'd buffer with one extra NUL byte after the data (so text can be
 * used as a C string); *n (may be NULL) gets the size without the NUL. Returns NULL on failure. */
char *file_read_all(const char *path, size_t *n, ErrorMsg *err);

#endif
