/* test_fetch.c — `locus data fetch` against a tiny HTTP server on 127.0.0.1 (a forked child of this test, killed
 * at the end whatever happens: atexit + PR_SET_PDEATHSIG + an alarm in the child). The server serves small
 * archives built here in the real layout (a .tar.gz holding cifar-10-batches-bin/ with one-record batch
 * files), supports Range requests, and by URL prefix can cut a download in half (/trunc/) or ignore Range
 * (/norange/); it logs every request so the test can count downloads.
 * Checked: a fetch gives the readers' layout + the completion marker and removes the archive; a re-run does
 * not download again; a wrong checksum is rejected with nothing installed; a cut download leaves FILE.part
 * and the re-run resumes it with a Range request (or starts over when the server cannot resume); a file put
 * in place by hand, or a whole .part, is used without the network; a stale dataset folder without marker is replaced; an
 * archive with a "../" entry is refused; SVHN's plain files; offline (nothing listening) and a stalled
 * server fail fast, the offline message naming the URL, the official MD5 and the exact path to use; CLI
 * help, bad options, and a CLI fetch with progress on stderr. */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "locus/fetch.h"
#include "cli_capture.h"
#include "expect.h"

static char root[256];   /* temporary folder of this test */
static pid_t server_pid; /* 0 when not running */
static int port;
static char out_text[1 << 16];

/* ---- the HTTP server (child process) ---- */

static void send_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        p = (const char *)p + k, n -= (size_t)k;
    }
}

static void serve_one(int c) {
    char req[8192];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = 0;
    char url[512], head[512];
    if (sscanf(req, "GET %511s", url) != 1 || strstr(url, "..")) return;
    long long from = -1;
    const char *r = strcasestr(req, "\nRange: bytes=");
    if (r) from = atoll(r + 14);
    const char *mode = url + 1, *rest = strchr(mode, '/');
    if (!rest) return;
    int trunc = !strncmp(mode, "trunc/", 6), norange = !strncmp(mode, "norange/", 8);
    char path[1024];
    snprintf(path, sizeof path, "%s/log", root);
    FILE *log = fopen(path, "a");
    if (log) fprintf(log, "%s range=%lld\n", url, from), fclose(log);
    snprintf(path, sizeof path, "%s/files%s", root, rest);
    FILE *f = fopen(path, "rb");
    if (!f) {
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(c, nf, strlen(nf));
        return;
    }
    static char body[1 << 20];
    long long size = (long long)fread(body, 1, sizeof body, f);
    fclose(f);
    if (norange) from = -1;
    long long start = from >= 0 ? from : 0, len = size - start;
    if (from >= size) {
        snprintf(head, sizeof head, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%lld\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n", size);
        len = 0;
    } else if (from >= 0) {
        snprintf(head, sizeof head, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %lld-%lld/%lld\r\n"
                 "Content-Length: %lld\r\nConnection: close\r\n\r\n", start, size - 1, size, len);
    } else {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n", size);
    }
    send_all(c, head, strlen(head));
    send_all(c, body + start, (size_t)(trunc ? len / 2 : len));
}

static void server_stop(void) {
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static int server_start(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &al))
        return 0;
    port = ntohs(a.sin_port);
    fflush(NULL);
    server_pid = fork();
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, however the test ends */
        alarm(120);                       /* and never outlives a hung test by long */
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0) continue;
            serve_one(c);
            close(c);
        }
    }
    close(fd);
    atexit(server_stop);
    return server_pid > 0;
}

/* A port with nothing listening (bound, read, closed). */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- fixtures ---- */

typedef struct Entry {
    const char *name;
    const void *data;
    size_t n;
} Entry;

static int write_tgz(const char *path, const Entry *e, int n) {
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return 0;
    for (int i = 0; i < n; i++) {
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, e[i].name);
        archive_entry_set_size(en, (la_int64_t)e[i].n);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_write_header(a, en);
        archive_write_data(a, e[i].data, e[i].n);
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    return 1;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, n, f), fclose(f);
}

static long long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void md5_hex(const char *path, char out[33]) {
    static unsigned char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(buf, n, md, &len, EVP_md5(), NULL);
    for (unsigned i = 0; i < len; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Lines of the server log that contain s. */
static int log_count(const char *s) {
    char path[300], line[1024];
    snprintf(path, sizeof path, "%s/log", root);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, s) != NULL;
    if (f) fclose(f);
    return n;
}

static char notes[8192];
static void collect_note(void *ctx, const char *msg) {
    (void)ctx;
    strncat(notes, msg, sizeof notes - strlen(notes) - 2);
    strcat(notes, "\n");
}

static unsigned char record[3073]; /* one CIFAR-10 record */
static char good_md5[33], bad_md5[33], evil_md5[33];
static long long good_size;

static void make_fixtures(void) {
    char path[400];
    for (size_t i = 0; i < sizeof record; i++) record[i] = (unsigned char)(i * 7 + 3);
    record[0] = 4; /* label */
    const char *meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    Entry e[] = {{"cifar-10-batches-bin/batches.meta.txt", meta, strlen(meta)},
                 {"cifar-10-batches-bin/data_batch_1.bin", record, sizeof record},
                 {"cifar-10-batches-bin/data_batch_2.bin", record, sizeof record},
                 {"cifar-10-batches-bin/data_batch_3.bin", record, sizeof record},
                 {"cifar-10-batches-bin/data_batch_4.bin", record, sizeof record},
                 {"cifar-10-batches-bin/data_batch_5.bin", record, sizeof record},
                 {"cifar-10-batches-bin/test_batch.bin", record, sizeof record}};
    snprintf(path, sizeof path, "%s/files", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/files/good", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/files/good/cifar-10-binary.tar.gz", root);
    EXPECT(write_tgz(path, e, 7), "cannot write %s", path);
    md5_hex(path, good_md5);
    good_size = file_size(path);
    /* the same name with other bytes (one record changed): the checksum must catch it */
    snprintf(path, sizeof path, "%s/files/bad", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/files/bad/cifar-10-binary.tar.gz", root);
    record[100] ^= 0xff;
    write_tgz(path, e, 7);
    record[100] ^= 0xff;
    md5_hex(path, bad_md5);
    /* a path escaping the destination */
    Entry evil[] = {{"cifar-10-batches-bin/data_batch_1.bin", record, sizeof record}, {"../escaped.txt", "x", 1}};
    snprintf(path, sizeof path, "%s/files/evil", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/files/evil/cifar-10-binary.tar.gz", root);
    write_tgz(path, evil, 2);
    md5_hex(path, evil_md5);
    /* SVHN: two plain files */
    snprintf(path, sizeof path, "%s/files/svhn", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/files/svhn/train_32x32.mat", root);
    write_file(path, "MATLAB 5.0 train", 16);
    snprintf(path, sizeof path, "%s/files/svhn/test_32x32.mat", root);
    write_file(path, "MATLAB 5.0 test!", 16);
}

/* fetch_dataset on cifar10 into root/<dir> from url prefix (mode/sub), expecting checksum sum. */
static Status fetch(const char *dir, const char *mode_sub, const char *sum, int dead, FetchResult *res,
                    ErrorMsg *err) {
    static char d[400], url[200];
    snprintf(d, sizeof d, "%s/%s", root, dir);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s/", dead ? dead : port, mode_sub);
    FetchOptions o;
    fetch_options_defaults(&o, d);
    o.base_url = url;
    o.checksums[0] = sum;
    o.timeout_s = 3;
    o.note = collect_note;
    notes[0] = 0;
    err->text[0] = 0;
    return fetch_dataset(fetch_spec_find("cifar10"), &o, res, err);
}

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

/* ---- the cases ---- */

static void test_success_and_rerun(void) {
    FetchResult res;
    ErrorMsg err;
    char p[600];
    Status st = fetch("a", "ok/good", good_md5, 0, &res, &err);
    EXPECT(st == LOCUS_OK, "fetch failed: %s", err.text);
    EXPECT(!res.already_complete && res.bytes_downloaded == (uint64_t)good_size, "downloaded %llu of %lld bytes",
           (unsigned long long)res.bytes_downloaded, good_size);
    snprintf(p, sizeof p, "%s/a", root);
    EXPECT(fetch_is_complete(fetch_spec_find("cifar10"), p), "not complete after fetch");
    snprintf(p, sizeof p, "%s/a/cifar-10-batches-bin/" FETCH_MARKER, root);
    EXPECT(exists(p), "no marker %s", p);
    snprintf(p, sizeof p, "%s/a/cifar-10-batches-bin/data_batch_3.bin", root);
    EXPECT(file_size(p) == 3073, "%s: size %lld", p, file_size(p));
    FILE *f = fopen(p, "rb");
    unsigned char back[3073] = {0};
    if (f) {
        EXPECT(fread(back, 1, sizeof back, f) == sizeof back, "short read");
        fclose(f);
    }
    EXPECT(!memcmp(back, record, sizeof back), "extracted bytes differ from the archive's");
    snprintf(p, sizeof p, "%s/a/cifar-10-binary.tar.gz", root);
    EXPECT(!exists(p), "archive not removed after extraction");
    snprintf(p, sizeof p, "%s/a/cifar-10-binary.tar.gz.part", root);
    EXPECT(!exists(p), ".part left behind");
    snprintf(p, sizeof p, "%s/a/.cifar10.extract", root);
    EXPECT(!exists(p), "temporary extraction folder left behind");
    EXPECT(log_count("/ok/good/cifar-10-binary.tar.gz") == 1, "expected 1 download, log has %d",
           log_count("/ok/good/cifar-10-binary.tar.gz"));

    st = fetch("a", "ok/good", good_md5, 0, &res, &err);
    EXPECT(st == LOCUS_OK && res.already_complete && res.bytes_downloaded == 0, "re-run: st %d complete %d: %s", st,
           res.already_complete, err.text);
    EXPECT(log_count("/ok/good/cifar-10-binary.tar.gz") == 1, "re-run downloaded again");
}

static void test_corrupt_rejected(void) {
    FetchResult res;
    ErrorMsg err;
    char p[600];
    Status st = fetch("b", "ok/bad", good_md5, 0, &res, &err);
    EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "MD5") && strstr(err.text, bad_md5) &&
               strstr(err.text, good_md5), "corrupt archive: st %d: %s", st, err.text);
    snprintf(p, sizeof p, "%s/b/cifar-10-batches-bin", root);
    EXPECT(!exists(p), "a rejected archive was extracted");
    EXPECT(!fetch_is_complete(fetch_spec_find("cifar10"), strcat(strcpy(p, root), "/b")), "complete after rejection");
    snprintf(p, sizeof p, "%s/b/cifar-10-binary.tar.gz", root);
    EXPECT(!exists(p) && !exists(strcat(p, ".part")), "rejected download kept");
}

static void test_interrupted_then_resumed(void) {
    FetchResult res;
    ErrorMsg err;
    char part[600];
    snprintf(part, sizeof part, "%s/c/cifar-10-binary.tar.gz.part", root);
    Status st = fetch("c", "trunc/good", good_md5, 0, &res, &err);
    EXPECT(st != LOCUS_OK && strstr(err.text, "again"), "cut download should fail with a resume note: %s", err.text);
    long long kept = file_size(part);
    EXPECT(kept > 0 && kept < good_size, ".part should hold the first part: %lld of %lld", kept, good_size);
    EXPECT(!fetch_is_complete(fetch_spec_find("cifar10"), strcat(strcpy(part, root), "/c")), "complete after a cut");
    int before = log_count("range=-1");
    st = fetch("c", "ok/good", good_md5, 0, &res, &err);
    EXPECT(st == LOCUS_OK, "resume failed: %s", err.text);
    char range[64];
    snprintf(range, sizeof range, "range=%lld", kept);
    EXPECT(log_count(range) == 1 && log_count("range=-1") == before, "no Range request from byte %lld", kept);
    EXPECT(res.bytes_downloaded == (uint64_t)(good_size - kept), "resumed %llu bytes, expected %lld",
           (unsigned long long)res.bytes_downloaded, good_size - kept);
    EXPECT(strstr(notes, "resuming"), "no resume note: %s", notes);

    /* a server that cannot resume: start over and still succeed */
    st = fetch("d", "trunc/good", good_md5, 0, &res, &err);
    EXPECT(st != LOCUS_OK, "cut download succeeded");
    st = fetch("d", "norange/good", good_md5, 0, &res, &err);
    EXPECT(st == LOCUS_OK && res.bytes_downloaded == (uint64_t)good_size, "no-range restart: st %d, %llu bytes: %s",
           st, (unsigned long long)res.bytes_downloaded, err.text);
}

static void test_by_hand_and_stale(void) {
    FetchResult res;
    ErrorMsg err;
    char src[600], dst[600], p[600];
    int dead = dead_port();
    /* an archive put in place by hand is verified and used with no network */
    snprintf(p, sizeof p, "%s/e", root);
    mkdir(p, 0755);
    snprintf(src, sizeof src, "cp %s/files/good/cifar-10-binary.tar.gz %s/e/", root, root);
    EXPECT(system(src) == 0, "cp failed");
    /* and a stale dataset folder without marker (an earlier cut) is replaced */
    snprintf(p, sizeof p, "%s/e/cifar-10-batches-bin", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/e/cifar-10-batches-bin/half_written.bin", root);
    write_file(p, "x", 1);
    Status st = fetch("e", "ok/good", good_md5, dead, &res, &err);
    EXPECT(st == LOCUS_OK && res.bytes_downloaded == 0, "hand-placed archive not used: %s", err.text);
    EXPECT(!exists(p), "stale folder content survived");
    snprintf(p, sizeof p, "%s/e/cifar-10-batches-bin/" FETCH_MARKER, root);
    EXPECT(exists(p), "no marker after using the hand-placed archive");

    /* a whole .part (cut while being verified) is used offline even when its size is not known in advance */
    snprintf(p, sizeof p, "%s/e2", root);
    mkdir(p, 0755);
    snprintf(src, sizeof src, "cp %s/files/good/cifar-10-binary.tar.gz %s/e2/cifar-10-binary.tar.gz.part", root, root);
    EXPECT(system(src) == 0, "cp failed");
    st = fetch("e2", "ok/good", good_md5, dead, &res, &err);
    EXPECT(st == LOCUS_OK && res.bytes_downloaded == 0, "whole .part not used offline: %s", err.text);

    /* a wrong file put by hand: error, and the file is left alone */
    snprintf(p, sizeof p, "%s/f", root);
    mkdir(p, 0755);
    snprintf(dst, sizeof dst, "%s/f/cifar-10-binary.tar.gz", root);
    write_file(dst, "not an archive", 14);
    st = fetch("f", "ok/good", good_md5, dead, &res, &err);
    EXPECT(st != LOCUS_OK && strstr(err.text, "already exists") && exists(dst), "wrong hand-placed file: %s", err.text);
}

static void test_evil_archive(void) {
    FetchResult res;
    ErrorMsg err;
    char p[600];
    Status st = fetch("g", "ok/evil", evil_md5, 0, &res, &err);
    EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "../escaped.txt"), "'..' entry: st %d: %s", st, err.text);
    snprintf(p, sizeof p, "%s/escaped.txt", root);
    EXPECT(!exists(p), "an archive entry escaped the folder");
    snprintf(p, sizeof p, "%s/g/.cifar10.extract", root);
    EXPECT(!exists(p), "temporary folder left after a refused archive");
}

static void test_svhn_plain_files(void) {
    char d[400], url[200], p[600], s1[33], s2[33];
    snprintf(d, sizeof d, "%s/h", root);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok/svhn", port); /* no trailing '/': added */
    snprintf(p, sizeof p, "%s/files/svhn/train_32x32.mat", root);
    md5_hex(p, s1);
    snprintf(p, sizeof p, "%s/files/svhn/test_32x32.mat", root);
    md5_hex(p, s2);
    FetchOptions o;
    fetch_options_defaults(&o, d);
    o.base_url = url, o.checksums[0] = s1, o.checksums[1] = s2, o.timeout_s = 3;
    FetchResult res;
    ErrorMsg err = {{0}};
    Status st = fetch_dataset(fetch_spec_find("svhn"), &o, &res, &err);
    EXPECT(st == LOCUS_OK, "svhn: %s", err.text);
    snprintf(p, sizeof p, "%s/svhn/test_32x32.mat", d);
    EXPECT(file_size(p) == 16, "%s missing", p);
    snprintf(p, sizeof p, "%s/svhn/" FETCH_MARKER, d);
    EXPECT(exists(p), "svhn marker missing");
    o.checksums[1] = "0123456789abcdef0123456789abcdeg";
    EXPECT(fetch_dataset(fetch_spec_find("svhn"), &o, &res, &err) == LOCUS_ERR_ARG, "bad hex accepted");
}

static void test_stalled_server(void) {
    /* listening, so the connection opens, but never answering: the --timeout abandons it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&a, &al);
    char d[400], url[200];
    snprintf(d, sizeof d, "%s/i", root);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    FetchOptions o;
    fetch_options_defaults(&o, d);
    o.base_url = url, o.checksums[0] = good_md5, o.timeout_s = 1;
    FetchResult res;
    ErrorMsg err = {{0}};
    double t = now_s();
    Status st = fetch_dataset(fetch_spec_find("cifar10"), &o, &res, &err);
    t = now_s() - t;
    close(fd);
    EXPECT(st != LOCUS_OK && t < 6, "stalled server: st %d after %.1f s: %s", st, t, err.text);
}

/* Runs "locus ARGS" capturing stdout+stderr; returns the exit code. */
static int run(const char *bin, const char *args) {
    char cmd[2048], log[400];
    snprintf(log, sizeof log, "%s/cli.txt", root);
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", bin, args, log);
    return cli_system_capture(cmd, log, out_text, sizeof out_text);
}

static void test_cli(void) {
    const char *bin = getenv("LOCUS_BIN");
    if (!bin) {
        printf("LOCUS_BIN not set: CLI cases skipped\n");
        return;
    }
    char args[1024];
    EXPECT(run(bin, "data fetch --help") == 0 && strstr(out_text, "stl10_binary.tar.gz") &&
               strstr(out_text, "c32a1d4ab5d03f1284b67883e8d87530"), "help: %s", out_text);
    EXPECT(run(bin, "data fetch mnist7") == 2 && strstr(out_text, "cifar100"), "unknown dataset: %s", out_text);
    EXPECT(run(bin, "data fetch cifar10 --timeout 0") == 2, "timeout 0 accepted: %s", out_text);
    EXPECT(run(bin, "data fetch cifar10 --checksum nofile=00") == 2, "bad --checksum accepted: %s", out_text);
    EXPECT(run(bin, "data fetch") == 2, "no dataset accepted");

    /* offline: nothing listening. Fails fast, says what to download and where to put it. */
    int dead = dead_port();
    snprintf(args, sizeof args, "data fetch cifar10 --dir %s/off --base-url http://127.0.0.1:%d/ --timeout 2", root,
             dead);
    double t = now_s();
    int rc = run(bin, args);
    t = now_s() - t;
    char want_url[200], want_path[400];
    snprintf(want_url, sizeof want_url, "http://127.0.0.1:%d/cifar-10-binary.tar.gz", dead);
    snprintf(want_path, sizeof want_path, "save it as %s/off/cifar-10-binary.tar.gz", root);
    EXPECT(rc != 0 && t < 5, "offline: exit %d after %.1f s", rc, t);
    EXPECT(strstr(out_text, "hint:") && strstr(out_text, want_url) && strstr(out_text, want_path) &&
               strstr(out_text, "c32a1d4ab5d03f1284b67883e8d87530") && strstr(out_text, "170052171 bytes"),
           "offline message lacks URL/path/md5/size: %s", out_text);

    /* a whole fetch through the CLI: progress on stderr, result on stdout */
    snprintf(args, sizeof args, "data fetch cifar10 --dir %s/cli --base-url http://127.0.0.1:%d/ok/good/ "
             "--checksum cifar-10-binary.tar.gz=%s --timeout 3", root, port, good_md5);
    EXPECT(run(bin, args) == 0 && strstr(out_text, "download cifar-10-binary.tar.gz") &&
               strstr(out_text, "ready in") && strstr(out_text, "--data cifar10"), "CLI fetch: %s", out_text);
    EXPECT(run(bin, args) == 0 && strstr(out_text, "already complete"), "CLI re-run: %s", out_text);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/locus_fetch_XXXXXX");
    if (!mkdtemp(root)) return printf("cannot create a temporary folder\n"), 1;
    make_fixtures();
    if (!server_start()) return printf("cannot start the test HTTP server\n"), 1;
    test_success_and_rerun();
    test_corrupt_rejected();
    test_interrupted_then_resumed();
    test_by_hand_and_stale();
    test_evil_archive();
    test_svhn_plain_files();
    test_stalled_server();
    test_cli();
    server_stop();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (!expect_failures && system(cmd) != 0) printf("could not remove %s\n", root);
    return expect_report();
}
