#!/bin/sh
# fuzz-parsers.sh — libFuzzer runs of every parser of untrusted bytes (tests/fuzz_parsers.c over
# tests/parser_checks.c): idx cifar mat stl10 image safetensors config. Run by `make fuzz` (and by CI for a
# short bounded pass); make test replays the seeds, mutants and committed corpus in tests/test_parsers_replay.c.
#
#   tools/fuzz-parsers.sh [--update-corpus] [SECONDS] [PARSER...]   (defaults: 60 s each, every parser)
#
# Builds the library and the checks with clang -fsanitize=address,undefined,fuzzer-no-link in $BUILD
# (default build-fuzz), one fuzzer binary per parser, writes the seed inputs, then runs each fuzzer niced for
# SECONDS. Each run starts from the committed corpus (tests/fixtures/fuzz/corpus/PARSER, read only), the
# committed reproducers (tests/fixtures/fuzz/crashes/PARSER) and the seeds; new inputs go to
# $BUILD/corpus/PARSER, never into the repository. With --update-corpus, each parser's corpus is then
# minimized (libFuzzer -merge=1 of committed + new + seeds into an empty folder) and replaces the committed
# one; review and commit it. A failing input is kept as $BUILD/crashes/PARSER-crash-*; reproduce with
# `$BUILD/fuzz_PARSER FILE`, fix the parser, and commit the input to tests/fixtures/fuzz/crashes/PARSER/
# so make test replays it. Needs clang and its sanitizer/libFuzzer runtime (Debian 12: clang,
# libclang-rt-14-dev, which --no-install-recommends leaves out).
# Note: libstb and libturbojpeg are Debian's uninstrumented builds, so coverage guidance and ASan reach
# only locus's own code around them.
set -eu
update=0
if [ "${1:-}" = "--update-corpus" ]; then update=1; shift; fi
secs=${1:-60}
[ $# -gt 0 ] && shift
parsers=${*:-"idx cifar mat stl10 image safetensors config"}
build=${BUILD:-build-fuzz}
fixtures=tests/fixtures/fuzz
command -v clang >/dev/null || { echo "fuzz-parsers: clang not found (apt-get install clang libclang-rt-14-dev)"; exit 2; }
san="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
mkdir -p "$build"
if ! nice -n 5 make --no-print-directory -j"${FUZZ_JOBS:-2}" BUILD="$build" CC=clang WERROR= MPI=0 \
    OPT="$san -fsanitize=fuzzer-no-link" "$build/liblocus.a" "$build/tests/parser_checks.o" \
    "$build/tests/data_writers.o" > "$build/make.log" 2>&1; then
    tail -n 20 "$build/make.log"
    echo "fuzz-parsers: instrumented build failed, log $build/make.log"
    exit 2
fi
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
    # STL-10 accepts only whole 27648-byte images; the other formats are explored with small inputs,
    # which keeps the committed corpus small.
    maxlen=16384
    [ "$p" = stl10 ] && maxlen=65536
    nice -n 5 clang $san -fsanitize=fuzzer -DLOCUS_LIBFUZZER -DFUZZ_PARSER=$kind $cflags tests/fuzz_parsers.c \
        $objs $libs -o "$build/fuzz_$p"
    mkdir -p "$build/corpus/$p" "$fixtures/corpus/$p" "$fixtures/crashes/$p"
    echo "fuzz-parsers: $p for $secs s"
    if nice -n 10 "$build/fuzz_$p" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
        -artifact_prefix="$build/crashes/$p-" -print_final_stats=1 "$build/corpus/$p" "$fixtures/corpus/$p" \
        "$fixtures/crashes/$p" "$build/seeds/$p" > "$build/fuzz_$p.log" 2>&1; then
        echo "  ok: $(grep -E 'stat::number_of_executed_units' "$build/fuzz_$p.log" | awk '{print $2}') runs," \
             "$(ls "$build/corpus/$p" | wc -l) new inputs, $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$build/fuzz_$p.log" | tail -n 1)"
    else
        fails=$((fails + 1))
        echo "  FAILED, log $build/fuzz_$p.log:"
        grep -E "ERROR|SUMMARY|broke|leaked|Test unit written" "$build/fuzz_$p.log" | head -n 8
        continue
    fi
    if [ $update -eq 1 ]; then
        rm -rf "$build/merged/$p"
        mkdir -p "$build/merged/$p"
        nice -n 10 "$build/fuzz_$p" -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen "$build/merged/$p" \
            "$fixtures/corpus/$p" "$build/corpus/$p" "$build/seeds/$p" > "$build/merge_$p.log" 2>&1 ||
            { echo "  merge FAILED, log $build/merge_$p.log"; fails=$((fails + 1)); continue; }
        rm -f "$fixtures/corpus/$p"/*
        cp "$build/merged/$p"/* "$fixtures/corpus/$p/"
        echo "  corpus: $(ls "$fixtures/corpus/$p" | wc -l) inputs," \
             "$(cat "$fixtures/corpus/$p"/* | wc -c) bytes in $fixtures/corpus/$p"
    fi
done
echo "fuzz-parsers: $(echo $parsers | wc -w) parsers, $fails failing"
[ "$fails" -eq 0 ]
