/* fetch_digest.c — size + checksum verification of a downloaded file with OpenSSL's EVP interface
 * (libcrypto). The algorithm follows from the length of the expected hex digest: 32 digits = MD5 (what the
 * dataset publishers and torchvision print), 64 = SHA-256. The size is checked first, so a truncated file is
 * rejected without reading it. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fetch_internal.h"

Status digest_parse(const char *checksum, ErrorMsg *err) {
    size_t n = checksum ? strlen(checksum) : 0;
    int hex = n > 0;
    for (size_t i = 0; i < n; i++) hex &= isxdigit((unsigned char)checksum[i]) != 0;
    if (!hex || (n != 32 && n != 64))
        return status_fail(err, LOCUS_ERR_ARG,
                           "checksum '%s' is neither an MD5 (32 hex digits) nor a SHA-256 (64 hex digits)\n"
                           "hint: e.g. c32a1d4ab5d03f1284b67883e8d87530",
                           checksum ? checksum : "");
    return LOCUS_OK;
}

Status digest_check(const char *path, const char *checksum, uint64_t expected_bytes, const FetchOptions *o,
                    const char *phase, ErrorMsg *err) {
    Status st = digest_parse(checksum, err);
    if (st) return st;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    uint64_t size = (uint64_t)sb.st_size;
    if (expected_bytes && size != expected_bytes)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %llu bytes, expected %llu\nhint: the download is incomplete or "
                           "not the official file", path, (unsigned long long)size, (unsigned long long)expected_bytes);
    FILE *f = fopen(path, "rb");
    if (!f) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check permissions", path, strerror(errno));
    const int is_md5 = strlen(checksum) == 32;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, is_md5 ? EVP_md5() : EVP_sha256(), NULL)) {
        fclose(f);
        EVP_MD_CTX_free(ctx);
        return status_fail(err, LOCUS_ERR_INTERNAL, "OpenSSL cannot start a %s digest\nhint: check the libcrypto "
                           "installation (and that no FIPS-only policy disables MD5)", is_md5 ? "MD5" : "SHA-256");
    }
    static const size_t chunk = 1 << 20;
    unsigned char buf[1 << 16];
    uint64_t done = 0, last = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, got);
        done += got;
        if (o && o->progress && done - last >= chunk) o->progress(o->ctx, phase, done, size), last = done;
    }
    int read_error = ferror(f);
    fclose(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    if (read_error) return status_fail(err, LOCUS_ERR_IO, "%s: read error\nhint: check the disk", path);
    if (o && o->progress) o->progress(o->ctx, phase, done, size);
    char got_hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < md_len; i++) snprintf(got_hex + 2 * i, 3, "%02x", md[i]);
    if (strcasecmp(got_hex, checksum))
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %s is %s, expected %s\nhint: the file is corrupt or not the "
                           "official one", path, is_md5 ? "MD5" : "SHA-256", got_hex, checksum);
    return LOCUS_OK;
}
