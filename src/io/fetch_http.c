/* fetch_http.c — one HTTP(S) download into FILE.part with libcurl, resuming a partial file.
 *
 * Resume: an existing FILE.part of n bytes is continued with "Range: bytes=n-". A server that ignores the
 * range (answers 200, libcurl's CURLE_RANGE_ERROR) makes us start over from byte 0; a 416 ("range not
 * satisfiable") means the part may already be whole, which the caller's checksum decides. A .part that
 * already has the expected size is not sent to the network at all.
 * Timeouts: connecting may take at most timeout_s, and the transfer is abandoned when less than one byte
 * per second arrives for timeout_s (a stalled server), so an offline machine fails fast instead of hanging.
 * Only http and https are allowed, also after redirects. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fetch_internal.h"

typedef struct Transfer {
    FILE *out;
    int write_failed;
    uint64_t offset; /* bytes already in the file before this request */
    uint64_t expected;
    const FetchOptions *o;
    const char *phase;
} Transfer;

static size_t on_data(char *data, size_t size, size_t nmemb, void *user) {
    Transfer *t = user;
    size_t n = size * nmemb;
    if (fwrite(data, 1, n, t->out) != n) {
        t->write_failed = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal, (void)ulnow;
    Transfer *t = user;
    uint64_t total = dltotal > 0 ? t->offset + (uint64_t)dltotal : t->expected;
    if (t->o->progress) t->o->progress(t->o->ctx, t->phase, t->offset + (uint64_t)dlnow, total);
    return 0;
}

static uint64_t file_size_or_zero(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
}

static int is_network_error(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_HTTP_RETURNED_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* One request starting at byte `offset` of part_path (0 = truncate). Sets *code and *http. */
static Status request(CURL *c, const char *part_path, uint64_t offset, Transfer *t, CURLcode *code,
                      long *http, char *curl_msg, ErrorMsg *err) {
    t->out = fopen(part_path, offset ? "ab" : "wb");
    if (!t->out)
        return status_fail(err, LOCUS_ERR_IO, "cannot write %s: %s\nhint: check that the folder is writable",
                           part_path, strerror(errno));
    t->offset = offset;
    t->write_failed = 0;
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)offset);
    curl_msg[0] = 0;
    *code = curl_easy_perform(c);
    *http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    int close_failed = fclose(t->out) != 0;
    t->out = NULL;
    if (t->write_failed || close_failed)
        return status_fail(err, LOCUS_ERR_IO, "cannot write %s: %s\nhint: is the disk full?", part_path,
                           strerror(errno));
    return LOCUS_OK;
}

Status http_download(const char *url, const char *part_path, uint64_t expected_bytes, const FetchOptions *o,
                     const char *phase, HttpResult *r, ErrorMsg *err) {
    memset(r, 0, sizeof *r);
    uint64_t have = file_size_or_zero(part_path);
    if (expected_bytes && have > expected_bytes) have = 0; /* longer than the real file: not ours to keep */
    if (expected_bytes && have == expected_bytes) {
        r->resumed_from = have;
        return LOCUS_OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return status_fail(err, LOCUS_ERR_INTERNAL, "libcurl cannot initialise\nhint: check the libcurl installation");
    CURL *c = curl_easy_init();
    if (!c) {
        curl_global_cleanup();
        return status_fail(err, LOCUS_ERR_INTERNAL, "libcurl cannot create a handle\nhint: out of memory?");
    }
    char curl_msg[CURL_ERROR_SIZE];
    Transfer t = {.expected = expected_bytes, .o = o, .phase = phase};
    long timeout = o->timeout_s > 0 ? o->timeout_s : 20;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "locus-data-fetch/1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);

    CURLcode code;
    long http;
    Status st = request(c, part_path, have, &t, &code, &http, curl_msg, err);
    if (!st && have && code == CURLE_RANGE_ERROR) { /* the server cannot resume: start over */
        if (o->note) o->note(o->ctx, "the server does not resume downloads; starting over from byte 0");
        have = 0;
        st = request(c, part_path, 0, &t, &code, &http, curl_msg, err);
    }
    curl_off_t got = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got);
    r->received = got > 0 ? (uint64_t)got : 0;
    r->resumed_from = have;
    curl_easy_cleanup(c);
    curl_global_cleanup();
    if (st) return st;
    if (code == CURLE_HTTP_RETURNED_ERROR && http == 416 && have) return LOCUS_OK; /* whole already? verify */
    if (code != CURLE_OK) {
        r->network_failure = is_network_error(code);
        uint64_t kept = file_size_or_zero(part_path);
        char what[CURL_ERROR_SIZE + 64];
        if (code == CURLE_HTTP_RETURNED_ERROR)
            snprintf(what, sizeof what, "the server answered HTTP %ld", http);
        else
            snprintf(what, sizeof what, "%s", curl_msg[0] ? curl_msg : curl_easy_strerror(code));
        if (kept)
            return status_fail(err, LOCUS_ERR_IO, "cannot download %s: %s (%llu bytes kept in %s; running the same "
                               "command again resumes there)", url, what, (unsigned long long)kept, part_path);
        unlink(part_path);
        return status_fail(err, LOCUS_ERR_IO, "cannot download %s: %s", url, what);
    }
    return LOCUS_OK;
}
