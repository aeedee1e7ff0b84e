/* fetch_archive.c — extracting a downloaded .tar.gz with libarchive, and removing a folder tree.
 *
 * Extraction is defensive even though the archive's checksum was verified (a test or a mirror may pass
 * another checksum): only regular files and folders, only relative paths without "..", written below the
 * destination folder with libarchive's no-".." and no-symlink-traversal flags on top. Files get owner read/write whatever
 * the archive says, so a re-run can always remove a stale temporary folder. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fetch_internal.h"

/* 1 when name is relative and none of its components is "..". */
static int path_is_safe(const char *name) {
    if (!name || !*name || name[0] == '/') return 0;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 0;
        if (!slash) break;
        p = slash + 1;
    }
    return 1;
}

static Status copy_data(struct archive *in, struct archive *out, const char *archive, const char *name,
                        ErrorMsg *err) {
    const void *buf;
    size_t size;
    la_int64_t offset;
    for (;;) {
        int rc = archive_read_data_block(in, &buf, &size, &offset);
        if (rc == ARCHIVE_EOF) return LOCUS_OK;
        if (rc < ARCHIVE_OK)
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: cannot read %s: %s\nhint: the archive is damaged; delete "
                               "it and fetch again", archive, name, archive_error_string(in));
        if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
            return status_fail(err, LOCUS_ERR_IO, "cannot write %s from %s: %s\nhint: is the disk full?", name,
                               archive, archive_error_string(out));
    }
}

Status archive_extract_tgz(const char *archive, const char *dest, const FetchOptions *o, const char *phase,
                           ErrorMsg *err) {
    struct stat sb;
    uint64_t total = stat(archive, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    struct archive *in = archive_read_new();
    struct archive *out = archive_write_disk_new();
    if (!in || !out) {
        archive_read_free(in);
        archive_write_free(out);
        return status_fail(err, LOCUS_ERR_OOM, "libarchive cannot start\nhint: out of memory?");
    }
    archive_read_support_filter_gzip(in);
    archive_read_support_format_tar(in);
    /* not SECURE_NOABSOLUTEPATHS: the paths we write are dest + the (checked, relative) entry name */
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    Status st = LOCUS_OK;
    if (archive_read_open_filename(in, archive, 1 << 16) != ARCHIVE_OK)
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: not a readable .tar.gz: %s\nhint: delete it and fetch again",
                         archive, archive_error_string(in));
    struct archive_entry *e;
    int rc;
    while (!st && (rc = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
        if (rc < ARCHIVE_WARN) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: damaged tar.gz: %s\nhint: delete it and fetch again", archive,
                             archive_error_string(in));
            break;
        }
        const char *name = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        if (!path_is_safe(name) || (type != AE_IFREG && type != AE_IFDIR) || archive_entry_hardlink(e)) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: entry '%s' is not a plain file or folder with a relative "
                             "path\nhint: this is not the official archive; delete it and fetch again", archive,
                             name ? name : "(no name)");
            break;
        }
        char full[2048];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dest, name) >= sizeof full) {
            st = status_fail(err, LOCUS_ERR_ARG, "%s/%s: path too long\nhint: use a shorter --dir", dest, name);
            break;
        }
        archive_entry_set_pathname(e, full);
        archive_entry_set_perm(e, (archive_entry_perm(e) & 0755) | (type == AE_IFDIR ? 0700 : 0600));
        if (archive_write_header(out, e) < ARCHIVE_OK)
            st = status_fail(err, LOCUS_ERR_IO, "cannot create %s: %s\nhint: check space and permissions", full,
                             archive_error_string(out));
        else if (type == AE_IFREG)
            st = copy_data(in, out, archive, name, err);
        if (!st && archive_write_finish_entry(out) < ARCHIVE_OK)
            st = status_fail(err, LOCUS_ERR_IO, "cannot finish %s: %s\nhint: is the disk full?", full,
                             archive_error_string(out));
        if (o->progress) o->progress(o->ctx, phase, (uint64_t)archive_filter_bytes(in, -1), total);
    }
    archive_read_free(in);
    if (archive_write_close(out) < ARCHIVE_OK && !st)
        st = status_fail(err, LOCUS_ERR_IO, "cannot finish extracting %s: %s\nhint: is the disk full?", archive,
                         archive_error_string(out));
    archive_write_free(out);
    return st;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

Status tree_remove(const char *path, ErrorMsg *err) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return LOCUS_OK;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot remove %s: %s\nhint: check permissions, or remove it by hand",
                           path, strerror(errno));
    return LOCUS_OK;
}
