/* test_fileutil.c — the file helpers (src/io/fileutil.c): atomic replacement (content, no tmp left, a
 * failed write keeps the old file), mkdir -p (nested, existing, trailing slash, a file in the way),
 * JSONL appends (newline handling, embedded newline rejected), read-whole-file (NUL terminator, empty,
 * missing, directory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/fileutil.h"

#include "expect.h"

static char tmpdir[64];

static const char *in_tmp(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_atomic(void) {
    char path[256], tmp[300];
    in_tmp("a.json", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ErrorMsg err = {{0}};
    EXPECT(file_write_atomic(path, "first", 5, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(file_write_atomic(path, "second!", 7, &err) == LOCUS_OK, "%s", err.text);
    size_t n = 0;
    char *s = file_read_all(path, &n, &err);
    EXPECT(s && n == 7 && !strcmp(s, "second!"), "content after replace");
    free(s);
    EXPECT(access(tmp, F_OK) != 0, "tmp file left behind");

    /* The tmp name is blocked by a directory: IO error naming it, old content intact. */
    CHECK(mkdir(tmp, 0700) == 0, "mkdir");
    Status st = file_write_atomic(path, "third", 5, &err);
    EXPECT(st == LOCUS_ERR_IO && strstr(err.text, tmp) && strstr(err.text, "hint:"), "blocked: %s", err.text);
    rmdir(tmp);
    s = file_read_all(path, &n, &err);
    EXPECT(s && !strcmp(s, "second!"), "old content lost");
    free(s);

    /* The target is a directory: rename fails, the tmp file is cleaned up. */
    char d[256];
    in_tmp("adir", d, sizeof d);
    CHECK(mkdir(d, 0700) == 0, "mkdir");
    char dtmp[300];
    snprintf(dtmp, sizeof dtmp, "%s.tmp", d);
    st = file_write_atomic(d, "x", 1, &err);
    EXPECT(st == LOCUS_ERR_IO && strstr(err.text, d), "rename onto a directory: %s", err.text);
    EXPECT(access(dtmp, F_OK) != 0, "tmp left after a failed rename");

    /* Streaming form with abort: nothing appears. */
    FileAtomic fa;
    in_tmp("aborted.bin", path, sizeof path);
    EXPECT(file_atomic_begin(&fa, path, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(file_atomic_write(&fa, "abc", 3, &err) == LOCUS_OK, "%s", err.text);
    file_atomic_abort(&fa);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    EXPECT(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "abort left files");

    EXPECT(file_write_atomic("/nonexistent-dir/x", "x", 1, &err) == LOCUS_ERR_IO && strstr(err.text, "/nonexistent-dir/x"),
           "missing dir: %s", err.text);
}

static void test_dir_ensure(void) {
    char p[256], f[256];
    ErrorMsg err = {{0}};
    in_tmp("runs/exp1/ckpt", p, sizeof p);
    EXPECT(dir_ensure(p, &err) == LOCUS_OK && is_dir(p), "nested: %s", err.text);
    EXPECT(dir_ensure(p, &err) == LOCUS_OK, "existing: %s", err.text);
    in_tmp("runs//exp2/", p, sizeof p);
    EXPECT(dir_ensure(p, &err) == LOCUS_OK && is_dir(p), "double and trailing slash: %s", err.text);
    in_tmp("plainfile", f, sizeof f);
    EXPECT(file_write_atomic(f, "x", 1, &err) == LOCUS_OK, "%s", err.text);
    in_tmp("plainfile/sub", p, sizeof p);
    Status s = dir_ensure(p, &err);
    EXPECT(s == LOCUS_ERR_IO && strstr(err.text, "plainfile") && strstr(err.text, "hint:"), "file in the way: %s", err.text);
    s = dir_ensure(f, &err);
    EXPECT(s == LOCUS_ERR_IO && strstr(err.text, "not a directory"), "path is a file: %s", err.text);
    EXPECT(dir_ensure("", &err) == LOCUS_ERR_ARG, "empty path");
}

static void test_jsonl(void) {
    char p[256];
    in_tmp("metrics.jsonl", p, sizeof p);
    ErrorMsg err = {{0}};
    EXPECT(jsonl_append(p, "{\"step\":1}", &err) == LOCUS_OK, "%s", err.text);
    EXPECT(jsonl_append(p, "{\"step\":2}\n", &err) == LOCUS_OK, "%s", err.text);
    EXPECT(jsonl_append(p, "{}", &err) == LOCUS_OK, "%s", err.text);
    Status s = jsonl_append(p, "{\"a\":\n1}", &err);
    EXPECT(s == LOCUS_ERR_ARG && strstr(err.text, p), "embedded newline: %s", err.text);
    size_t n;
    char *t = file_read_all(p, &n, &err);
    EXPECT(t && !strcmp(t, "{\"step\":1}\n{\"step\":2}\n{}\n"), "jsonl content: %s", t ? t : "(null)");
    free(t);
    s = jsonl_append("/nonexistent-dir/m.jsonl", "{}", &err);
    EXPECT(s == LOCUS_ERR_IO && strstr(err.text, "/nonexistent-dir/m.jsonl"), "missing dir: %s", err.text);
}

static void test_read_all(void) {
    char p[256];
    ErrorMsg err = {{0}};
    in_tmp("empty", p, sizeof p);
    EXPECT(file_write_atomic(p, "", 0, &err) == LOCUS_OK, "%s", err.text);
    size_t n = 99;
    char *t = file_read_all(p, &n, &err);
    EXPECT(t && n == 0 && t[0] == 0, "empty file");
    free(t);

    /* Binary content with NULs, larger than any initial guess would be for a pipe. */
    size_t big = 100000;
    unsigned char *b = malloc(big);
    for (size_t i = 0; i < big; i++) b[i] = (unsigned char)(i * 31);
    in_tmp("big.bin", p, sizeof p);
    EXPECT(file_write_atomic(p, b, big, &err) == LOCUS_OK, "%s", err.text);
    t = file_read_all(p, &n, &err);
    EXPECT(t && n == big && !memcmp(t, b, big) && t[big] == 0, "binary content");
    free(t);
    free(b);

    /* A file whose stat size is 0 but which has content. */
    t = file_read_all("/proc/self/status", &n, &err);
    EXPECT(t && n > 0 && strstr(t, "Name:"), "/proc file: %s", t ? "short" : err.text);
    free(t);

    in_tmp("missing", p, sizeof p);
    t = file_read_all(p, &n, &err);
    EXPECT(!t && strstr(err.text, p) && strstr(err.text, "hint:"), "missing: %s", err.text);
    t = file_read_all(tmpdir, &n, &err);
    EXPECT(!t && strstr(err.text, "directory"), "directory: %s", err.text);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/locus-fu-XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp failed");
    test_atomic();
    test_dir_ensure();
    test_jsonl();
    test_read_all();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    printf("%s: %d expect_failures\n", expect_failures ? "FAILED" : "PASSED", expect_failures);
    return expect_failures ? 1 : 0;
}
