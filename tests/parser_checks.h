/* parser_checks.h — one entry per file parser that reads untrusted bytes: run it on an input and check its
 * contract (an accepted input satisfies the parser's promises; a rejected one gives an I/O, format or
 * argument error whose message names the file and has a hint; no DATA bytes stay charged). Shared by the
 * libFuzzer driver (tests/fuzz_parsers.c) and the replay test of `make test` (tests/test_parsers_replay.c). */
#ifndef LOCUS_TESTS_PARSER_CHECKS_H
#define LOCUS_TESTS_PARSER_CHECKS_H

#include <stddef.h>
#include <stdint.h>

typedef enum ParserKind {
    PARSER_IDX = 0,    /* idx_read_u8 as images and as labels */
    PARSER_CIFAR,      /* cifar_count/read, cifar100_count/read */
    PARSER_MAT,        /* mat_open, every numeric variable streamed, svhn_count/read */
    PARSER_STL10,      /* stl10_count/read */
    PARSER_IMAGE,      /* image_decode (JPEG via TurboJPEG, PNG/BMP/PNM via stb) + both transforms */
    PARSER_SAFETENSORS,/* safetensors_parse */
    PARSER_CONFIG,     /* config_load_json of the training configuration */
    PARSER_COUNT
} ParserKind;

const char *parser_name(ParserKind k);
/* Runs parser k on data (written to `path` first for the file-based ones). Returns 0 when the contract
 * held, 1 (after printing why) when it did not; a crash or sanitizer report is a failure too. */
int parser_check(ParserKind k, const uint8_t *data, size_t n, const char *path);
/* Valid inputs for parser k (malloc'ed; the caller frees each and the array): a few seeds in the real
 * format, written with tests/data_writers.c into scratch files under dir. Returns the count. */
int parser_seeds(ParserKind k, const char *dir, uint8_t ***seeds, size_t **sizes);

#endif
