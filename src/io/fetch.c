/* fetch.c — `locus data fetch`'s library half: the interrupt-safe sequence that turns an official download
 * into a complete dataset folder (see include/locus/fetch.h for the guarantees).
 *
 * Order of operations for an archive dataset (cifar10, cifar100, stl10), each step safe to cut:
 *   1. DIR/<archive>.part  downloaded (resumed when present), size + checksum verified;
 *   2. renamed to DIR/<archive>            (a file under its final name has always been verified, or was put
 *                                           there by hand and is verified before use);
 *   3. extracted into DIR/.<name>.extract/, the expected files checked;
 *   4. DIR/<folder> renamed into place (an older one without marker moved aside first);
 *   5. DIR/<folder>/.locus-fetch-complete written (atomically) — only now is the dataset complete;
 *   6. the archive and the temporary folders removed.
 * Plain-file datasets (svhn) run steps 1–2 per file straight into DIR/<folder>/, then step 5.
 * A lock file (flock) keeps two fetches of one dataset in one DIR from interleaving. */
#include "locus/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io/fetch_internal.h"
#include "locus/fileutil.h"

#define PATH_BYTES 1024

void fetch_options_defaults(FetchOptions *o, const char *dir) {
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->timeout_s = 20;
}

static Status join(char *out, const char *a, const char *b, ErrorMsg *err) {
    if ((size_t)snprintf(out, PATH_BYTES, "%s/%s", a, b) >= PATH_BYTES)
        return status_fail(err, LOCUS_ERR_ARG, "%s/%s: path too long\nhint: use a shorter --dir", a, b);
    return LOCUS_OK;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void note(const FetchOptions *o, const char *fmt, const char *a, const char *b) {
    if (!o->note) return;
    char msg[PATH_BYTES * 2 + 200];
    snprintf(msg, sizeof msg, fmt, a, b);
    o->note(o->ctx, msg);
}

int fetch_is_complete(const FetchSpec *spec, const char *dir) {
    char folder[PATH_BYTES], path[PATH_BYTES];
    if (join(folder, dir, spec->folder, NULL) || join(path, folder, FETCH_MARKER, NULL) || !exists(path)) return 0;
    for (int i = 0; spec->contents[i]; i++)
        if (join(path, folder, spec->contents[i], NULL) || !exists(path)) return 0;
    return 1;
}

static const char *checksum_of(const FetchSpec *spec, const FetchOptions *o, int i) {
    return o->checksums[i] ? o->checksums[i] : spec->files[i].checksum;
}

/* The official size, unless a test/mirror checksum replaces the official file. */
static uint64_t bytes_of(const FetchSpec *spec, const FetchOptions *o, int i) {
    return o->checksums[i] ? 0 : spec->files[i].bytes;
}

/* Where files[i] goes: DIR/<file> for an archive, DIR/<folder>/<file> for a plain-file dataset. */
static Status final_path_of(const FetchSpec *spec, const FetchOptions *o, int i, char *out, ErrorMsg *err) {
    char folder[PATH_BYTES];
    if (spec->is_archive) return join(out, o->dir, spec->files[i].name, err);
    Status st = join(folder, o->dir, spec->folder, err);
    return st ? st : join(out, folder, spec->files[i].name, err);
}

/* Turns a download failure into one that also says how to do it by hand: every file's URL, size, checksum
 * and the exact path to save it at. */
static Status with_manual_hint(Status st, const FetchSpec *spec, const FetchOptions *o, ErrorMsg *err) {
    char first[sizeof err->text], files[sizeof err->text] = "";
    snprintf(first, sizeof first, "%s", err->text);
    char *old_hint = strstr(first, "\nhint:");
    if (old_hint) *old_hint = 0;
    const char *base = o->base_url ? o->base_url : spec->base_url;
    size_t bl = strlen(base), used = 0;
    for (int i = 0; i < spec->n_files && used < sizeof files; i++) {
        char path[PATH_BYTES], size[64] = "";
        if (final_path_of(spec, o, i, path, NULL)) continue;
        if (bytes_of(spec, o, i)) snprintf(size, sizeof size, "%llu bytes, ", (unsigned long long)bytes_of(spec, o, i));
        const char *sum = checksum_of(spec, o, i);
        used += (size_t)snprintf(files + used, sizeof files - used, "%s%s%s%s (%s%s %s) and save it as %s",
                                 i ? "; " : "", base, bl && base[bl - 1] == '/' ? "" : "/", spec->files[i].name, size,
                                 strlen(sum) == 32 ? "md5" : "sha256", sum, path);
    }
    char extract[PATH_BYTES * 3] = "";
    if (spec->is_archive)
        snprintf(extract, sizeof extract, " (or extract it yourself: tar xzf %s/%s -C %s, which creates %s/%s/)",
                 o->dir, spec->files[0].name, o->dir, o->dir, spec->folder);
    return status_fail(err, st, "%s: %s\nhint: no network, or the address moved? Download %s; then run `locus data "
                       "fetch %s --dir %s` again: it verifies %s and uses %s without the network%s",
                       spec->name, first, files, spec->name, o->dir, spec->n_files > 1 ? "the files" : "the file",
                       spec->n_files > 1 ? "them" : "it", extract);
}

/* Fails early when the file system cannot hold `need` more bytes. */
static Status check_space(const char *dir, uint64_t need, ErrorMsg *err) {
    struct statvfs vfs;
    if (!need || statvfs(dir, &vfs) != 0) return LOCUS_OK;
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < need)
        return status_fail(err, LOCUS_ERR_IO, "%s: %.1f MiB free, the download needs about %.1f MiB\nhint: free some "
                           "space or pass another --dir", dir, avail / 1048576.0, need / 1048576.0);
    return LOCUS_OK;
}

/* Makes final_path a verified copy of files[i]: a file already there is checked; otherwise it is downloaded
 * to final_path.part (resumed), checked, and renamed. */
static Status fetch_file(const FetchSpec *spec, const FetchOptions *o, int i, const char *final_path,
                         FetchResult *res, ErrorMsg *err) {
    const char *name = spec->files[i].name, *sum = checksum_of(spec, o, i);
    uint64_t bytes = bytes_of(spec, o, i);
    char phase[256], url[PATH_BYTES * 2], part[PATH_BYTES + 8];
    const char *base = o->base_url ? o->base_url : spec->base_url;
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", name);
    snprintf(part, sizeof part, "%s.part", final_path);
    Status st;
    if (exists(final_path)) {
        snprintf(phase, sizeof phase, "verify %s", name);
        if ((st = digest_check(final_path, sum, bytes, o, phase, err))) {
            char why[sizeof err->text];
            snprintf(why, sizeof why, "%s", err->text);
            char *hint = strstr(why, "\nhint:");
            if (hint) *hint = 0;
            return status_fail(err, st, "%s: %s already exists but is not the expected file (%s)\nhint: move it away "
                               "or delete it, then run the command again to download it", spec->name, final_path, why);
        }
        note(o, "%s found and verified; not downloading it%s", final_path, "");
        return LOCUS_OK;
    }
    for (int attempt = 0;; attempt++) {
        struct stat sb;
        uint64_t have = stat(part, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        if ((st = check_space(o->dir, bytes > have ? bytes - have + (spec->is_archive ? bytes + bytes / 4 : 0) : 0,
                              err)))
            return st;
        if (have) {
            char mib[64];
            snprintf(mib, sizeof mib, "%.1f MiB", have / 1048576.0);
            note(o, "resuming %s at %s", part, mib);
        }
        snprintf(phase, sizeof phase, "download %s", name);
        HttpResult hr;
        st = http_download(url, part, bytes, o, phase, &hr, err);
        res->bytes_downloaded += hr.received;
        snprintf(phase, sizeof phase, "verify %s", name);
        if (st && hr.network_failure && !bytes && stat(part, &sb) == 0 && sb.st_size > 0) {
            /* size unknown (test/mirror checksum): the .part may already be whole; if it verifies, use it */
            ErrorMsg ignored;
            if (!digest_check(part, sum, 0, o, phase, &ignored)) break;
        }
        if (st) return hr.network_failure ? with_manual_hint(st, spec, o, err) : st;
        if (!(st = digest_check(part, sum, bytes, o, phase, err))) break;
        unlink(part);
        if (attempt == 0 && hr.resumed_from) {
            note(o, "the resumed %s failed its checksum; downloading it again from the start%s", part, "");
            continue;
        }
        return status_wrap(err, st, "%s: downloaded %s rejected and removed, nothing installed: ", spec->name, url);
    }
    if (rename(part, final_path) != 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot rename %s to %s: %s\nhint: check permissions", part, final_path,
                           strerror(errno));
    return LOCUS_OK;
}

static Status check_contents(const FetchSpec *spec, const char *folder, const char *origin, ErrorMsg *err) {
    char path[PATH_BYTES];
    for (int i = 0; spec->contents[i]; i++) {
        Status st = join(path, folder, spec->contents[i], err);
        if (st) return st;
        if (!exists(path))
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: %s has no %s/%s\nhint: this is not the official %s; "
                               "delete it and fetch again", spec->name, origin, spec->folder, spec->contents[i], origin);
    }
    return LOCUS_OK;
}

static Status write_marker(const FetchSpec *spec, const FetchOptions *o, const char *folder, ErrorMsg *err) {
    char path[PATH_BYTES], text[2048];
    Status st = join(path, folder, FETCH_MARKER, err);
    if (st) return st;
    int n = snprintf(text, sizeof text, "locus data fetch: %s complete\nsource: %s\n", spec->name,
                     o->base_url ? o->base_url : spec->base_url);
    for (int i = 0; i < spec->n_files && n < (int)sizeof text; i++)
        n += snprintf(text + n, sizeof text - n, "%s %s\n", checksum_of(spec, o, i), spec->files[i].name);
    return file_write_atomic(path, text, strlen(text), err);
}

/* Steps 3–6 of the file comment for an archive dataset whose archive is verified at `archive`. */
static Status install_archive(const FetchSpec *spec, const FetchOptions *o, const char *archive, const char *folder,
                              ErrorMsg *err) {
    char tmp[PATH_BYTES], old[PATH_BYTES], name[300], extracted[PATH_BYTES];
    snprintf(name, sizeof name, ".%s.extract", spec->name);
    Status st = join(tmp, o->dir, name, err);
    snprintf(name, sizeof name, ".%s.old", spec->name);
    if (!st) st = join(old, o->dir, name, err);
    if (!st) st = join(extracted, tmp, spec->folder, err);
    if (!st) st = tree_remove(tmp, err);
    if (!st) st = dir_ensure(tmp, err);
    if (st) return st;
    char phase[300];
    snprintf(phase, sizeof phase, "extract %s", spec->files[0].name);
    if (!(st = archive_extract_tgz(archive, tmp, o, phase, err)))
        st = check_contents(spec, extracted, archive, err);
    if (st) {
        ErrorMsg ignored;
        tree_remove(tmp, &ignored);
        return st;
    }
    if (exists(folder)) {
        note(o, "%s has no completion marker (an interrupted fetch, or extracted by hand): replacing it%s", folder, "");
        if ((st = tree_remove(old, err))) return st;
        if (rename(folder, old) != 0)
            return status_fail(err, LOCUS_ERR_IO, "cannot move %s aside: %s\nhint: check permissions", folder,
                               strerror(errno));
    }
    if (rename(extracted, folder) != 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot rename %s to %s: %s\nhint: check permissions", extracted, folder,
                           strerror(errno));
    if ((st = write_marker(spec, o, folder, err))) return st;
    if ((st = tree_remove(old, err)) || (st = tree_remove(tmp, err))) return st;
    if (!o->keep_archive && unlink(archive) != 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot remove %s: %s\nhint: the dataset is complete; remove it by hand",
                           archive, strerror(errno));
    return LOCUS_OK;
}

static Status fetch_locked(const FetchSpec *spec, const FetchOptions *o, FetchResult *res, ErrorMsg *err) {
    const char *folder = res->folder;
    char path[PATH_BYTES];
    Status st;
    if (spec->is_archive) {
        if ((st = join(path, o->dir, spec->files[0].name, err))) return st;
        if ((st = fetch_file(spec, o, 0, path, res, err))) return st;
        return install_archive(spec, o, path, folder, err);
    }
    if ((st = dir_ensure(folder, err))) return st;
    for (int i = 0; i < spec->n_files; i++) {
        if ((st = join(path, folder, spec->files[i].name, err))) return st;
        if ((st = fetch_file(spec, o, i, path, res, err))) return st;
    }
    if ((st = check_contents(spec, folder, "download", err))) return st;
    return write_marker(spec, o, folder, err);
}

Status fetch_dataset(const FetchSpec *spec, const FetchOptions *o, FetchResult *res, ErrorMsg *err) {
    memset(res, 0, sizeof *res);
    Status st;
    for (int i = 0; i < spec->n_files; i++)
        if (o->checksums[i] && (st = digest_parse(o->checksums[i], err))) return st;
    if (!o->dir || !*o->dir) return status_fail(err, LOCUS_ERR_ARG, "no folder given\nhint: pass --dir DIR");
    if ((st = join(res->folder, o->dir, spec->folder, err))) return st;
    if (fetch_is_complete(spec, o->dir)) {
        res->already_complete = 1;
        note(o, "%s is complete (%s " FETCH_MARKER " found); nothing to download", res->folder, "its");
        return LOCUS_OK;
    }
    if ((st = dir_ensure(o->dir, err))) return st;
    char lock_path[PATH_BYTES], lock_name[128];
    snprintf(lock_name, sizeof lock_name, ".locus-fetch-%s.lock", spec->name);
    if ((st = join(lock_path, o->dir, lock_name, err))) return st;
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot create %s: %s\nhint: check that %s is writable", lock_path,
                           strerror(errno), o->dir);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return status_fail(err, LOCUS_ERR_IO, "another `locus data fetch %s` is running in %s (%s is locked)\nhint: "
                           "wait for it to finish", spec->name, o->dir, lock_path);
    }
    st = fetch_locked(spec, o, res, err);
    close(fd); /* releases the lock */
    return st;
}
