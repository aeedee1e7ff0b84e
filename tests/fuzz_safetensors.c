/* fuzz_safetensors.c — fuzz driver for the safetensors reader (src/io/safetensors.c). Not a test binary:
 * `make test` runs a bounded, deterministic mutation loop inside tests/test_safetensors.c; this driver
 * is for long runs under sanitizers. The reader must never crash, over-read or hang, must return
 * LOCUS_ERR_FORMAT with the name and a hint for anything it rejects, and everything it accepts must
 * satisfy its promises (bytes inside the buffer, sizes consistent, names findable); a violation
 * aborts, so fuzzers and sanitizers see it.
 *
 * Standalone mutation driver (gcc is enough):
 *   gcc -std=c11 -D_GNU_SOURCE -DLOCUS_FUZZ_MAIN -O1 -g -fsanitize=address,undefined -Iinclude \
 *       -I/usr/include/cjson tests/fuzz_safetensors.c src/io/safetensors.c src/io/fileutil.c \
 *       src/core/status.c src/core/tensor.c -lcjson -lm -o fuzz_st
 *   ./fuzz_st [-n ITERATIONS] [-s SEED] [-k ITER] [SEED_FILE...]
 * It mutates the seed files (or a built-in seed) ITERATIONS times (default 1,000,000), deterministically
 * for a given SEED; -k ITER writes mutant number ITER to fuzz-mutant.safetensors to reproduce a failure.
 * libFuzzer (clang): compile the same files with -DLOCUS_LIBFUZZER -fsanitize=fuzzer,address.
 *
 * The Makefile links every non-test_*.c file of tests/ into the test binaries, so without one of those
 * macros this file compiles to nothing. */
#if defined(LOCUS_FUZZ_MAIN) || defined(LOCUS_LIBFUZZER)

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/rng.h"
#include "locus/safetensors.h"

/* Parses one input from an exact-size heap copy (so ASan sees any over-read) and checks the result. */
static int fuzz_one(const uint8_t *data, size_t n) {
    uint8_t *heap = malloc(n ? n : 1);
    if (!heap) return 0;
    if (n) memcpy(heap, data, n);
    StFile f;
    ErrorMsg err;
    err.text[0] = 0;
    Status s = safetensors_parse(&f, heap, n, "fuzz", &err);
    int ok = s == LOCUS_OK;
    if (!ok) {
        if (s != LOCUS_ERR_FORMAT || !strstr(err.text, "fuzz") || !strstr(err.text, "hint:")) {
            fprintf(stderr, "bad rejection (status %d): %s\n", (int)s, err.text);
            abort();
        }
    } else {
        size_t covered = 0;
        volatile unsigned sink = 0;
        for (int i = 0; i < f.count; i++) {
            const StTensor *t = &f.tensors[i];
            if ((const uint8_t *)t->bytes != heap + t->offset || t->offset + t->nbytes > n ||
                t->nbytes != t->numel * safetensors_dtype_size(t->dtype) || strlen(t->name) >= ST_NAME_MAX ||
                safetensors_find(&f, t->name) != t) {
                fprintf(stderr, "invariant violated by tensor %d '%s'\n", i, t->name);
                abort();
            }
            const uint8_t *p = t->bytes;
            for (size_t k = 0; k < t->nbytes; k++) sink += p[k];
            covered += t->nbytes;
        }
        if (covered > n) abort();
        for (int i = 0; i < f.meta_count; i++)
            if (!safetensors_meta(&f, f.meta[2 * i])) abort();
        (void)sink;
        safetensors_close(&f);
    }
    free(heap);
    return ok;
}

#ifdef LOCUS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_one(data, size);
    return 0;
}
#else

#define MAX_INPUT (1 << 20)

static const char interesting[] = "{}[]\",:0123456789-.e \\\x00\xff";

/* 1..3 random edits of m (n bytes, capacity cap); returns the new length. Edits favour the header. */
static size_t mutate(Rng *r, uint8_t *m, size_t n, size_t cap) {
    int ops = 1 + (int)rng_below(r, 3);
    size_t hend = n;
    if (n >= 8) {
        uint64_t h = 0;
        for (int k = 0; k < 8; k++) h |= (uint64_t)m[k] << (8 * k);
        if (h < n - 8) hend = 8 + (size_t)h;
    }
    for (int o = 0; o < ops && n > 0; o++) {
        size_t pos = rng_below(r, 10) ? rng_below(r, hend < n ? hend : n) : rng_below(r, n);
        switch (rng_below(r, 7)) {
        case 0: m[pos] ^= (uint8_t)(1u << rng_below(r, 8)); break;
        case 1: m[pos] = (uint8_t)interesting[rng_below(r, sizeof interesting - 1)]; break;
        case 2: {
            size_t len = 1 + rng_below(r, 8);
            if (pos + len > n) len = n - pos;
            memmove(m + pos, m + pos + len, n - pos - len);
            n -= len;
            break;
        }
        case 3: {
            size_t len = 1 + rng_below(r, 6);
            if (n + len > cap) break;
            memmove(m + pos + len, m + pos, n - pos);
            for (size_t k = 0; k < len; k++) m[pos + k] = (uint8_t)interesting[rng_below(r, sizeof interesting - 1)];
            n += len;
            break;
        }
        case 4: n = rng_below(r, n + 1); break;
        case 5: if (n >= 8) m[rng_below(r, 8)] = (uint8_t)rng_u64(r); break;
        case 6: {
            static const char *nums[] = {"99999999999", "-1", "18446744073709551616", "1e300", "4.5", "0"};
            const char *s = nums[rng_below(r, 6)];
            size_t len = strlen(s);
            if (m[pos] >= '0' && m[pos] <= '9' && n + len <= cap) {
                memmove(m + pos + len, m + pos + 1, n - pos - 1);
                memcpy(m + pos, s, len);
                n += len - 1;
            }
            break;
        }
        }
    }
    return n;
}

static size_t builtin_seed(uint8_t *out) {
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[24,30]},"
                      "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[30,38]}}";
    size_t hl = strlen(hdr), padded = hl;
    while ((8 + padded) % 8) padded++;
    for (int k = 0; k < 8; k++) out[k] = (uint8_t)((uint64_t)padded >> (8 * k));
    memcpy(out + 8, hdr, hl);
    memset(out + 8 + hl, ' ', padded - hl);
    for (int i = 0; i < 38; i++) out[8 + padded + i] = (uint8_t)(i * 7);
    return 8 + padded + 38;
}

int main(int argc, char **argv) {
    long iters = 1000000, keep = -1;
    uint64_t seed = 1;
    int nseeds = 0;
    static uint8_t *seeds[64];
    static size_t seed_len[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) iters = atol(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-k") && i + 1 < argc) keep = atol(argv[++i]);
        else if (nseeds < 64) {
            FILE *fp = fopen(argv[i], "rb");
            if (!fp) { fprintf(stderr, "cannot open %s\n", argv[i]); return 2; }
            seeds[nseeds] = malloc(MAX_INPUT);
            seed_len[nseeds] = fread(seeds[nseeds], 1, MAX_INPUT / 2, fp);
            fclose(fp);
            printf("seed %s: %s\n", argv[i], fuzz_one(seeds[nseeds], seed_len[nseeds]) ? "valid" : "rejected");
            nseeds++;
        }
    }
    if (!nseeds) {
        seeds[0] = malloc(MAX_INPUT);
        seed_len[0] = builtin_seed(seeds[0]);
        nseeds = 1;
    }
    Rng r;
    rng_seed(&r, seed);
    uint8_t *m = malloc(MAX_INPUT);
    long accepted = 0;
    for (long it = 0; it < iters; it++) {
        int which = (int)rng_below(&r, (uint64_t)nseeds);
        size_t n = seed_len[which];
        memcpy(m, seeds[which], n);
        n = mutate(&r, m, n, MAX_INPUT);
        if (it == keep) {
            FILE *fp = fopen("fuzz-mutant.safetensors", "wb");
            if (fp) { fwrite(m, 1, n, fp); fclose(fp); }
            printf("wrote mutant %ld to fuzz-mutant.safetensors\n", it);
        }
        accepted += fuzz_one(m, n);
    }
    printf("%ld mutants (seed %llu), %ld accepted, %ld rejected, no crash\n", iters, (unsigned long long)seed, accepted,
           iters - accepted);
    free(m);
    for (int i = 0; i < nseeds; i++) free(seeds[i]);
    return 0;
}
#endif /* LOCUS_LIBFUZZER */

#else
typedef int fuzz_safetensors_disabled; /* keeps this translation unit non-empty (ISO C) */
#endif
