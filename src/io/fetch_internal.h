/* fetch_internal.h — the pieces fetch.c (the interrupt-safe orchestration) is built from, each in its own
 * file: HTTP download with resume (fetch_http.c, libcurl), checksums (fetch_digest.c, OpenSSL EVP),
 * tar.gz extraction and folder removal (fetch_archive.c, libarchive). Internal to src/io. */
#ifndef LOCUS_IO_FETCH_INTERNAL_H
#define LOCUS_IO_FETCH_INTERNAL_H

#include <stdint.h>

#include "locus/fetch.h"

typedef struct HttpResult {
    uint64_t resumed_from; /* bytes of FILE.part kept from an earlier try (0 = started afresh) */
    uint64_t received;     /* bytes received over the network in this call */
    int network_failure;   /* 1 when the failure was the network's (no route, refused, timeout, cut off) */
} HttpResult;

/* Downloads url into part_path, continuing an existing part_path with a Range request (starting over when
 * the server cannot resume). expected_bytes (0 = unknown) lets a complete .part skip the network.
 * Progress goes to o->progress with the phase label. OK means the server sent the file to its end; the
 * caller verifies it. */
Status http_download(const char *url, const char *part_path, uint64_t expected_bytes, const FetchOptions *o,
                     const char *phase, HttpResult *r, ErrorMsg *err);

/* Checks path against a hex MD5 (32 digits) or SHA-256 (64 digits); expected_bytes 0 = any size.
 * LOCUS_ERR_FORMAT with both digests in the message on a mismatch. */
Status digest_check(const char *path, const char *checksum, uint64_t expected_bytes, const FetchOptions *o,
                    const char *phase, ErrorMsg *err);
/* LOCUS_ERR_ARG unless text is 32 or 64 hex digits. */
Status digest_parse(const char *checksum, ErrorMsg *err);

/* Extracts the .tar.gz at archive into the existing folder dest. Only regular files and folders, with
 * relative paths without "..", are accepted; anything else (links, devices, absolute paths) is an error. */
Status archive_extract_tgz(const char *archive, const char *dest, const FetchOptions *o, const char *phase,
                           ErrorMsg *err);

/* rm -rf path (no error when it does not exist). Never follows symbolic links. */
Status tree_remove(const char *path, ErrorMsg *err);

#endif
