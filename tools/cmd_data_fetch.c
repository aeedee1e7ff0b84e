/* cmd_data_fetch.c — `locus data fetch NAME [--dir DIR]`: download a dataset from its official address,
 * verify it, and lay it out where `locus train --data NAME --data-dir DIR` looks (src/io/fetch.c does the
 * work). Progress goes to stderr: one redrawn line on a terminal (at most 10 redraws a second), plain lines
 * every 10% otherwise (CI, pipes). The result line goes to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "locus/fetch.h"

typedef struct FetchDisplay {
    int tty;
    char phase[256];
    double t_phase, t_last;
    int last_decile;
    int open_line; /* a redrawn line is on screen */
} FetchDisplay;

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

static void display_break(FetchDisplay *d) {
    if (d->open_line) fputc('\n', stderr), d->open_line = 0;
}

static void on_progress(void *ctx, const char *phase, uint64_t done, uint64_t total) {
    FetchDisplay *d = ctx;
    double t = now_s();
    int new_phase = strcmp(phase, d->phase) != 0;
    if (new_phase) {
        display_break(d);
        snprintf(d->phase, sizeof d->phase, "%s", phase);
        d->t_phase = t, d->t_last = 0, d->last_decile = -1;
    }
    int decile = total ? (int)(10 * done / total) : (int)(done >> 27); /* unknown size: every 128 MiB */
    int finished = total && done >= total;
    if (d->tty ? (!finished && t - d->t_last < 0.1) : (decile == d->last_decile && !finished)) return;
    if (!d->tty && finished && d->last_decile == 10) return;
    d->t_last = t, d->last_decile = finished ? 10 : decile;
    double rate = t > d->t_phase ? done / (t - d->t_phase) / 1048576.0 : 0;
    char line[512];
    if (total)
        snprintf(line, sizeof line, "%s  %.1f / %.1f MiB  %3.0f%%  %.1f MiB/s", phase, done / 1048576.0,
                 total / 1048576.0, 100.0 * done / total, rate);
    else
        snprintf(line, sizeof line, "%s  %.1f MiB  %.1f MiB/s", phase, done / 1048576.0, rate);
    if (d->tty) {
        fprintf(stderr, "\r\033[2K%s", line);
        d->open_line = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void on_note(void *ctx, const char *msg) {
    FetchDisplay *d = ctx;
    display_break(d);
    fprintf(stderr, "locus data fetch: %s\n", msg);
}

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: locus data fetch NAME [--dir DIR] [--timeout S] [--keep-archive]\n\n"
            "Downloads dataset NAME from its official address (progress on stderr), verifies its size and\n"
            "checksum, and lays it out where `locus train --data NAME --data-dir DIR` reads it. Safe to\n"
            "interrupt and re-run: a partial download (FILE.part) is resumed, nothing half-extracted is used,\n"
            "and a complete dataset (DIR/<folder>/" FETCH_MARKER ") is not downloaded again.\n"
            "A file already saved by hand under the path shown below is verified and used without the network.\n\n"
            "  --dir DIR          parent folder of the dataset (default: data)\n"
            "  --timeout S        give up connecting after S seconds, or when no data arrives for S seconds\n"
            "                     (default 20)\n"
            "  --keep-archive     keep the .tar.gz after extracting it (default: removed)\n"
            "  --base-url URL     download from URL/<file> instead of the official address (a mirror; tests)\n"
            "  --checksum FILE=HEX  expect this MD5/SHA-256 for FILE instead of the official one (tests only;\n"
            "                     also skips the official size check)\n\n"
            "datasets:\n");
    for (int i = 0; fetch_spec_at(i); i++) {
        const FetchSpec *s = fetch_spec_at(i);
        fprintf(f, "  %-9s -> DIR/%s/\n", s->name, s->folder);
        for (int j = 0; j < s->n_files; j++)
            fprintf(f, "            %s%s  (%.0f MiB, md5 %s)\n", s->base_url, s->files[j].name,
                    s->files[j].bytes / 1048576.0, s->files[j].checksum);
    }
}

/* Applies one --checksum FILE=HEX to the dataset's file list. */
static Status take_checksum(const FetchSpec *spec, FetchOptions *o, const char *arg, ErrorMsg *err) {
    const char *eq = strchr(arg, '=');
    for (int i = 0; eq && i < spec->n_files; i++)
        if (strlen(spec->files[i].name) == (size_t)(eq - arg) && !strncmp(arg, spec->files[i].name, eq - arg)) {
            o->checksums[i] = eq + 1;
            return LOCUS_OK;
        }
    return status_fail(err, LOCUS_ERR_ARG, "--checksum '%s': expected FILE=HEX with FILE one of %s's files (%s%s%s)\n"
                       "hint: see locus data fetch --help", arg, spec->name, spec->files[0].name,
                       spec->n_files > 1 ? ", " : "", spec->n_files > 1 ? spec->files[1].name : "");
}

int cmd_data_fetch(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        print_usage(stdout);
        return 0;
    }
    ErrorMsg err = {{0}};
    const char *dir = cli_take_option(&argc, argv, "--dir", 1);
    const char *timeout = cli_take_option(&argc, argv, "--timeout", 1);
    const char *base_url = cli_take_option(&argc, argv, "--base-url", 1);
    int keep = cli_take_option(&argc, argv, "--keep-archive", 0) != NULL;
    const char *sums[8];
    int n_sums = 0;
    while (n_sums < 8 && (sums[n_sums] = cli_take_option(&argc, argv, "--checksum", 1))) n_sums++;
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, argc < 2 ? "locus data fetch: which dataset?\n"
                                 : "locus data fetch: unexpected argument '%s'\n", argc < 2 ? "" : argv[argc - 1]);
        print_usage(stderr);
        return 2;
    }
    const FetchSpec *spec = fetch_spec_find(argv[1]);
    if (!spec) {
        status_fail(&err, LOCUS_ERR_ARG, "unknown dataset '%s'\nhint: known: cifar10, cifar100, svhn, stl10 "
                    "(fashion-mnist comes from Debian: apt-get install dataset-fashion-mnist)", argv[1]);
        return cli_fail("data fetch", LOCUS_ERR_ARG, &err);
    }
    FetchDisplay display = {.tty = isatty(STDERR_FILENO)};
    FetchOptions o;
    fetch_options_defaults(&o, dir ? dir : "data");
    o.base_url = base_url;
    o.keep_archive = keep;
    o.progress = on_progress, o.note = on_note, o.ctx = &display;
    if (timeout) {
        char *end;
        o.timeout_s = strtol(timeout, &end, 10);
        if (*end || o.timeout_s < 1 || o.timeout_s > 3600) {
            status_fail(&err, LOCUS_ERR_ARG, "--timeout '%s': expected whole seconds in 1..3600\nhint: e.g. --timeout 30",
                        timeout);
            return cli_fail("data fetch", LOCUS_ERR_ARG, &err);
        }
    }
    Status st = LOCUS_OK;
    for (int i = 0; i < n_sums && !st; i++) st = take_checksum(spec, &o, sums[i], &err);
    FetchResult res;
    if (!st) st = fetch_dataset(spec, &o, &res, &err);
    display_break(&display);
    if (st) return cli_fail("data fetch", st, &err);
    if (res.already_complete)
        printf("%s: already complete in %s\n", spec->name, res.folder);
    else
        printf("%s: ready in %s (%.1f MiB downloaded); train with --data %s --data-dir %s\n", spec->name, res.folder,
               res.bytes_downloaded / 1048576.0, spec->name, o.dir);
    return 0;
}
