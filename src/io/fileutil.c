/* fileutil.c — atomic file replacement, mkdir -p, JSONL append, read-whole-file (see fileutil.h).
 *
 * Invariant of the atomic writer: the real path is only ever touched by rename(2), after the tmp file's
 * data is on disk (fflush + fsync), so readers and crashes see the old or the new file, never a prefix.
 * POSIX only (open/fsync/rename/mkdir). */
#include "locus/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Best-effort fsync of the directory holding path, so the rename itself survives a crash. Errors are
 * ignored: some file systems refuse fsync on directories, and the data is already safe. */
static void dir_sync_parent(const char *path) {
    char dir[1024];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" -> "/" */
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

Status file_atomic_begin(FileAtomic *fa, const char *path, ErrorMsg *err) {
    fa->fp = NULL;
    if (strlen(path) >= sizeof fa->path)
        return status_fail(err, LOCUS_ERR_ARG, "%.200s...: path longer than %zu bytes\nhint: use a shorter path",
                           path, sizeof fa->path - 1);
    strcpy(fa->path, path);
    snprintf(fa->tmp, sizeof fa->tmp, "%s.tmp", path);
    fa->fp = fopen(fa->tmp, "wb");
    if (!fa->fp)
        return status_fail(err, LOCUS_ERR_IO, "cannot create %s: %s\nhint: check that the directory exists and is writable",
                           fa->tmp, strerror(errno));
    return LOCUS_OK;
}

Status file_atomic_write(FileAtomic *fa, const void *data, size_t n, ErrorMsg *err) {
    CHECK(fa->fp, "file_atomic_write on a FileAtomic that is not open");
    if (n && fwrite(data, 1, n, fa->fp) != n)
        return status_fail(err, LOCUS_ERR_IO, "cannot write %s: %s\nhint: is the disk full?", fa->tmp, strerror(errno));
    return LOCUS_OK;
}

void file_atomic_abort(FileAtomic *fa) {
    if (!fa->fp) return;
    fclose(fa->fp);
    fa->fp = NULL;
    unlink(fa->tmp);
}

Status file_atomic_commit(FileAtomic *fa, ErrorMsg *err) {
    CHECK(fa->fp, "file_atomic_commit on a FileAtomic that is not open");
    if (fflush(fa->fp) != 0 || fsync(fileno(fa->fp)) != 0) {
        Status s = status_fail(err, LOCUS_ERR_IO, "cannot flush %s to disk: %s\nhint: is the disk full?", fa->tmp,
                               strerror(errno));
        file_atomic_abort(fa);
        return s;
    }
    int rc = fclose(fa->fp);
    fa->fp = NULL;
    if (rc != 0) {
        unlink(fa->tmp);
        return status_fail(err, LOCUS_ERR_IO, "cannot close %s: %s\nhint: is the disk full?", fa->tmp, strerror(errno));
    }
    if (rename(fa->tmp, fa->path) != 0) {
        Status s = status_fail(err, LOCUS_ERR_IO, "cannot rename %s to %s: %s\nhint: is %s a directory or read-only?",
                               fa->tmp, fa->path, strerror(errno), fa->path);
        unlink(fa->tmp);
        return s;
    }
    dir_sync_parent(fa->path);
    return LOCUS_OK;
}

Status file_write_atomic(const char *path, const void *data, size_t n, ErrorMsg *err) {
    FileAtomic fa;
    Status s = file_atomic_begin(&fa, path, err);
    if (s) return s;
    s = file_atomic_write(&fa, data, n, err);
    if (s) {
        file_atomic_abort(&fa);
        return s;
    }
    return file_atomic_commit(&fa, err);
}

Status dir_ensure(const char *path, ErrorMsg *err) {
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0) return status_fail(err, LOCUS_ERR_ARG, "empty directory name\nhint: give a directory path");
    if (len >= sizeof buf)
        return status_fail(err, LOCUS_ERR_ARG, "%.200s...: path longer than %zu bytes\nhint: use a shorter path", path,
                           sizeof buf - 1);
    memcpy(buf, path, len + 1);
    /* Create each prefix that ends before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && buf[i] != '/') continue;
        if (i < len && buf[i - 1] == '/') continue; /* "a//b" */
        char saved = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            buf[i] = saved;
            return status_fail(err, LOCUS_ERR_IO, "cannot create directory %s: %s\nhint: check permissions of its parent",
                               path, strerror(e));
        }
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
            Status s = status_fail(err, LOCUS_ERR_IO, "cannot create directory %s: %s exists and is not a directory\n"
                                   "hint: remove or rename it", path, buf);
            return s;
        }
        buf[i] = saved;
    }
    return LOCUS_OK;
}

Status jsonl_append(const char *path, const char *json_line, ErrorMsg *err) {
    size_t n = strlen(json_line);
    size_t body = (n && json_line[n - 1] == '\n') ? n - 1 : n;
    if (memchr(json_line, '\n', body))
        return status_fail(err, LOCUS_ERR_ARG, "%s: a JSONL record contains a newline\n"
                           "hint: print the JSON without formatting (one line per record)", path);
    char *line = malloc(body + 1);
    if (!line) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory for a %zu-byte log line\nhint: none", path, body);
    memcpy(line, json_line, body);
    line[body] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        free(line);
        return status_fail(err, LOCUS_ERR_IO, "cannot open %s for appending: %s\nhint: check that the run directory exists",
                           path, strerror(errno));
    }
    size_t done = 0;
    while (done < body + 1) {
        ssize_t w = write(fd, line + done, body + 1 - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            free(line);
            return status_fail(err, LOCUS_ERR_IO, "cannot append to %s: %s\nhint: is the disk full?", path, strerror(e));
        }
        done += (size_t)w;
    }
    free(line);
    if (close(fd) != 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot append to %s: %s\nhint: is the disk full?", path, strerror(errno));
    return LOCUS_OK;
}

char *file_read_all(const char *path, size_t *n, ErrorMsg *err) {
    if (n) *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        status_fail(err, LOCUS_ERR_IO, "cannot open %s: %s\nhint: check the path", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        status_fail(err, LOCUS_ERR_IO, "cannot read %s: it is a directory\nhint: give a file path", path);
        return NULL;
    }
    /* The size from stat is only a first guess (pipes and /proc files report 0); read until EOF. */
    size_t cap = (st.st_size > 0 ? (size_t)st.st_size : 4096) + 1, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(fp);
            status_fail(err, LOCUS_ERR_OOM, "out of memory reading %s\nhint: the file is too large", path);
            return NULL;
        }
        len += fread(buf + len, 1, cap - 1 - len, fp);
        if (len < cap - 1) break;
        int c = fgetc(fp); /* full: grow only if there really is more */
        if (c == EOF) break;
        char *bigger = cap < ((size_t)-1) / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
        if (buf) buf[len++] = (char)c;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        status_fail(err, LOCUS_ERR_IO, "cannot read %s: read error\nhint: check the disk", path);
        return NULL;
    }
    buf[len] = 0;
    if (n) *n = len;
    return buf;
}
