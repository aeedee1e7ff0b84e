#!/bin/sh
# fuzz-parsers.sh — libFuzzer runs of every parser of untrusted bytes (tests/fuzz_parsers.c over
# tests/parser_checks.c): idx cifar mat stl10 image safetensors config. On demand only (not in make test,
# which replays seeds and mutants through the same checks in tests/test_parsers_replay.c).
#
#   tools/fuzz-parsers.sh [SECONDS] [PARSER...]      (defaults: 60 s each, every parser)
#
# Builds the library and the checks with clang -fsanitize=address,undefined,fuzzer-no-link in $BUILD
# (default build-fuzz), one fuzzer binary per parser, writes the seed corpora, then runs each fuzzer niced
# for SECONDS with a growing corpus in $BUILD/corpus/PARSER. A failing input is kept as
# $BUILD/crashes/PARSER-crash-*; reproduce with `$BUILD/fuzz_PARSER FILE`, and commit a fixed one to
# tests/fixtures/fuzz/PARSER/ so make test replays it. Needs clang (Debian: clang, libclang-rt-14-dev).
# Note: libstb and libturbojpeg are Debian's uninstrumented builds, so coverage guidance and ASan reach
# only locus's own code around them.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
parsers=${*:-"idx cifar mat stl10 image safetensors config"}
build=${BUILD:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz-parsers: clang not found (apt-get install clang)"; exit 2; }
san="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make --no-print-directory BUILD="$build" CC=clang WERROR= OPT="$san -fsanitize=fuzzer-no-link" \
    "$build/liblocus.a" "$build/tests/parser_checks.o" "$build/tests/data_writers.o" >/dev/null 2>&1
export PKG_CONFIG_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp/pkgconfig:${PKG_CONFIG_PATH:-}
pkgs="openblas libcjson zlib libturbojpeg stb"
cflags="-std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itests $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -lm -lpthread -fopenmp"
objs="$build/tests/parser_checks.o $build/tests/data_writers.o $build/liblocus.a"
clang $san -DLOCUS_FUZZ_SEEDS $cflags tests/fuzz_parsers.c $objs $libs -o "$build/fuzz_seeds"
rm -rf "$build/seeds"
"$build/fuzz_seeds" "$build/seeds"
mkdir -p "$build/crashes"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fails=0
for p in $parsers; do
    kind=$(echo "PARSER_$p" | tr a-z A-Z)
    clang $san -fsanitize=fuzzer -DLOCUS_LIBFUZZER -DFUZZ_PARSER=$kind $cflags tests/fuzz_parsers.c $objs $libs \
        -o "$build/fuzz_$p"
    mkdir -p "$build/corpus/$p"
    echo "fuzz-parsers: $p for $secs s"
    if nice -n 10 "$build/fuzz_$p" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$build/crashes/$p-" -print_final_stats=1 "$build/corpus/$p" "$build/seeds/$p" \
        > "$build/fuzz_$p.log" 2>&1; then
        echo "  ok: $(grep -E 'stat::number_of_executed_units' "$build/fuzz_$p.log" | awk '{print $2}') runs," \
             "corpus $(ls "$build/corpus/$p" | wc -l) inputs, $(grep -oE 'cov: [0-9]+' "$build/fuzz_$p.log" | tail -n 1)"
    else
        fails=$((fails + 1))
        echo "  FAILED, log $build/fuzz_$p.log:"
        grep -E "ERROR|SUMMARY|broke|leaked|Test unit written" "$build/fuzz_$p.log" | head -n 8
    fi
done
echo "fuzz-parsers: $(echo $parsers | wc -w) parsers, $fails failing"
[ "$fails" -eq 0 ]
