/* fuzz_parsers.c — libFuzzer driver for every parser of untrusted bytes (tests/parser_checks.c): IDX,
 * CIFAR-10/100, MAT v5 + SVHN, STL-10, images (TurboJPEG / stb + transforms), safetensors, config JSON.
 * One binary per parser, chosen at compile time with -DFUZZ_PARSER=PARSER_xxx; tools/fuzz-parsers.sh
 * builds them with clang -fsanitize=fuzzer,address,undefined and runs each for a while. A broken contract
 * aborts, so libFuzzer keeps the input. Built with -DLOCUS_FUZZ_SEEDS instead, main() writes the valid seed
 * inputs of every parser to DIR/<parser>/seed_N (the starting corpora). Without either macro this file
 * compiles to nothing (the Makefile never builds fuzz_*.c into the tests). */
#if defined(LOCUS_LIBFUZZER) || defined(LOCUS_FUZZ_SEEDS)
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parser_checks.h"

#ifdef LOCUS_LIBFUZZER
#ifndef FUZZ_PARSER
#error "compile with -DFUZZ_PARSER=PARSER_IDX (or another ParserKind)"
#endif
static char path[128]; /* the scratch file the file-based parsers read, removed at exit */
static void remove_scratch(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/locus-fuzz-%d.bin", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm",
                 (int)getpid());
        atexit(remove_scratch);
    }
    if (parser_check(FUZZ_PARSER, data, size, path)) abort();
    return 0;
}
#else
int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    mkdir(argv[1], 0700);
    for (int k = 0; k < PARSER_COUNT; k++) {
        char dir[1024], p[1200];
        snprintf(dir, sizeof dir, "%s/%s", argv[1], parser_name((ParserKind)k));
        mkdir(dir, 0700);
        uint8_t **seeds;
        size_t *sizes;
        int n = parser_seeds((ParserKind)k, dir, &seeds, &sizes);
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/seed_%d", dir, i);
            FILE *f = fopen(p, "wb");
            if (f) fwrite(seeds[i], 1, sizes[i], f), fclose(f);
            free(seeds[i]);
        }
        free(seeds);
        free(sizes);
    }
    return 0;
}
#endif
#endif
