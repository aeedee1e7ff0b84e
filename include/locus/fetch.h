/* fetch.h — download a public dataset from its official address, verify it, and lay it out the way the
 * readers expect (spec data-formats.md §3–§5): DIR/cifar-10-batches-bin/, DIR/cifar-100-binary/,
 * DIR/stl10_binary/, DIR/svhn/{train,test}_32x32.mat.
 *
 * Safe to interrupt and re-run at any point:
 *  - a file is downloaded to FILE.part (an existing .part is resumed with an HTTP Range request), its size
 *    and checksum are verified, and only then is it renamed to FILE;
 *  - an archive is extracted into a hidden temporary folder, its expected files are checked, and the folder
 *    is renamed into place;
 *  - the completion marker DIR/<folder>/.locus-fetch-complete is written last (atomically). A dataset
 *    folder without the marker is never taken as complete; one with it (and its files) is not downloaded
 *    again.
 * A file already at its final name (e.g. downloaded by hand) is verified and used without the network.
 * The library never prints: progress and notes go through the callbacks in FetchOptions. */
#ifndef LOCUS_FETCH_H
#define LOCUS_FETCH_H

#include <stdint.h>

#include "locus/status.h"

#define FETCH_MAX_FILES 4
#define FETCH_MAX_CONTENTS 8
#define FETCH_MARKER ".locus-fetch-complete"

typedef struct FetchFile {
    const char *name;     /* file name under the base URL, and on disk */
    const char *checksum; /* hex MD5 (32 digits) or SHA-256 (64 digits) of the official file */
    uint64_t bytes;       /* official size in bytes (0 = unknown) */
} FetchFile;

typedef struct FetchSpec {
    const char *name;     /* "cifar10", "cifar100", "svhn", "stl10" */
    const char *base_url; /* official address of the files, ending with '/' */
    const char *folder;   /* DIR/<folder> holds the dataset once complete */
    int is_archive;       /* 1: files[0] is a .tar.gz whose top-level folder is <folder>;
                             0: the files are saved as they are into DIR/<folder>/ */
    int n_files;
    FetchFile files[FETCH_MAX_FILES];
    const char *contents[FETCH_MAX_CONTENTS]; /* files that must exist in DIR/<folder> (NULL-terminated) */
} FetchSpec;

/* Progress of the current phase ("download NAME", "verify NAME", "extract NAME"): done of total bytes
 * (total 0 = unknown). Called often; the caller throttles its display. */
typedef void (*FetchProgressFn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
/* A one-line note for the user ("resuming X at 12.0 MiB", "already complete"). */
typedef void (*FetchNoteFn)(void *ctx, const char *msg);

typedef struct FetchOptions {
    const char *dir;      /* parent folder of the dataset folder (created if missing) */
    const char *base_url; /* NULL = the official address; a mirror, or a local server in tests */
    /* NULL = the official checksum of files[i]; otherwise hex MD5/SHA-256 (for tests and mirrors only:
     * the official size check is skipped too). */
    const char *checksums[FETCH_MAX_FILES];
    long timeout_s;   /* connect timeout, and the download is abandoned after this long with no data */
    int keep_archive; /* keep DIR/<archive>.tar.gz after extracting it */
    FetchProgressFn progress; /* may be NULL */
    FetchNoteFn note;         /* may be NULL */
    void *ctx;
} FetchOptions;

typedef struct FetchResult {
    int already_complete;      /* 1: the marker was there; nothing was downloaded */
    uint64_t bytes_downloaded; /* over the network in this call */
    char folder[1024];         /* DIR/<folder> */
} FetchResult;

/* The dataset called name, or NULL. */
const FetchSpec *fetch_spec_find(const char *name);
/* The i-th known dataset (0-based), or NULL past the end: for listing. */
const FetchSpec *fetch_spec_at(int i);

/* Sets the defaults (timeout 20 s, official addresses and checksums, no callbacks). */
void fetch_options_defaults(FetchOptions *o, const char *dir);

/* Makes DIR/<folder> a complete copy of the dataset (see the top of this file). On a network failure the
 * message says what to download by hand (URL, size, checksum) and the exact path to put it at. */
Status fetch_dataset(const FetchSpec *spec, const FetchOptions *o, FetchResult *res, ErrorMsg *err);

/* 1 when DIR/<folder> holds the marker and every file of spec->contents. */
int fetch_is_complete(const FetchSpec *spec, const char *dir);

#endif
