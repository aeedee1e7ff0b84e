/* test_parsers_replay.c — every parser that reads untrusted bytes (IDX, CIFAR-10/100, MAT v5 / SVHN,
 * STL-10, images through TurboJPEG/stb and the transforms, safetensors, the JSON config) on its valid seeds
 * and on deterministic mutants of them: every truncation of short seeds (a stride for long ones), single
 * bit flips, byte sets and header-field edits; plus every committed input of the fuzzing: the minimized
 * libFuzzer corpus (tests/fixtures/fuzz/corpus/<parser>/) and the reproducers of fixed crashes
 * (tests/fixtures/fuzz/crashes/<parser>/). Each input must be accepted consistently or rejected with an
 * error naming the file and giving a hint, never crash (the long runs are `make fuzz`, tools/fuzz-parsers.sh). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/rng.h"

#include "data_writers.h"
#include "expect.h"
#include "parser_checks.h"

static char tmp[256], path[512];

/* Replays every file of tests/fixtures/fuzz/<set>/<parser>/ (set: corpus or crashes); counts the inputs
 * in *files and returns how many broke the contract. */
static int replay_dir(ParserKind k, const char *set, int *files) {
    char dir[600];
    snprintf(dir, sizeof dir, "tests/fixtures/fuzz/%s/%s", set, parser_name(k));
    *files = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[900];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ++*files;
        if (parser_check(k, buf, n, path)) {
            printf("  committed fuzz input %s broke the contract\n", p);
            bad++;
        }
    }
    closedir(d);
    return bad;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/locus_replay_%d", (int)getpid());
    dw_rmtree(tmp);
    mkdir(tmp, 0700);
    snprintf(path, sizeof path, "%s/input.bin", tmp);
    for (int k = 0; k < PARSER_COUNT; k++) {
        uint8_t **seeds;
        size_t *sizes;
        const int ns = parser_seeds((ParserKind)k, tmp, &seeds, &sizes);
        EXPECT(ns > 0, "%s: no seeds", parser_name(k));
        int bad = 0, runs = 0;
        Rng r;
        rng_seed(&r, 77 + (uint64_t)k);
        for (int s = 0; s < ns; s++) {
            const size_t n = sizes[s];
            EXPECT(parser_check((ParserKind)k, seeds[s], n, path) == 0, "%s: seed %d fails", parser_name(k), s);
            uint8_t *m = malloc(n + 64);
            const size_t stride = n <= 600 ? 1 : n / 150;
            for (size_t len = 0; len < n; len += stride, runs++) bad += parser_check((ParserKind)k, seeds[s], len, path);
            for (int it = 0; it < 200; it++, runs++) {
                memcpy(m, seeds[s], n);
                const int ops = 1 + (int)rng_below(&r, 3);
                for (int o = 0; o < ops; o++) {
                    /* most edits in the first 256 bytes: headers, tags, dims */
                    const size_t at = rng_below(&r, 4) ? rng_below(&r, n < 256 ? n : 256) : rng_below(&r, n);
                    switch (rng_below(&r, 3)) {
                    case 0: m[at] ^= (uint8_t)(1u << rng_below(&r, 8)); break;
                    case 1: m[at] = (uint8_t)(rng_below(&r, 2) ? 0xff : rng_below(&r, 256)); break;
                    default:
                        if (at + 4 <= n) { m[at] = m[at + 1] = m[at + 2] = 0x7f; m[at + 3] = (uint8_t)rng_below(&r, 256); }
                    }
                }
                bad += parser_check((ParserKind)k, m, n, path);
            }
            free(m);
            free(seeds[s]);
        }
        free(seeds);
        free(sizes);
        int corpus = 0, crashes = 0;
        bad += replay_dir((ParserKind)k, "corpus", &corpus);
        bad += replay_dir((ParserKind)k, "crashes", &crashes);
        EXPECT(corpus > 0, "%s: no committed corpus in tests/fixtures/fuzz/corpus/%s (run from the repository root; "
               "tools/fuzz-parsers.sh --update-corpus writes it)", parser_name(k), parser_name(k));
        printf("%s: %d inputs + %d corpus + %d crash reproducers, %d contract failures\n", parser_name(k), runs,
               corpus, crashes, bad);
        EXPECT(bad == 0, "%s: %d inputs broke the contract", parser_name(k), bad);
    }
    dw_rmtree(tmp);
    return expect_report();
}
