#!/bin/sh
# Installs the Debian packages locus needs that are missing (only those), with a clear message when it
# cannot (no root, no network). Used by `make run` and by CI (.ci/run).
# Build + run: gcc make pkg-config libopenblas-openmp-dev libcjson-dev zlib1g-dev libturbojpeg0-dev (JPEG)
#   libstb-dev (PNG/BMP/PNM decoding, PNG writing in tests)
# Data: dataset-fashion-mnist (the default real dataset). Tests: libcmocka-dev.
# ONNX export: protobuf-c-compiler + libonnx-dev (onnx.pb-c.{c,h} generated at build time), libprotobuf-c-dev;
# python3-onnx for the ONNX checker in make test (python3-torch, large, stays optional: its tests skip).
# Fuzzing (make fuzz = tools/fuzz-parsers.sh; CI runs a short pass): clang, and libclang-rt-14-dev, which holds the
#   libFuzzer and sanitizer runtimes (libclang_rt.fuzzer/asan) and is only a Recommends of clang on Debian 12.
# locus data fetch: libcurl4-openssl-dev libarchive-dev libssl-dev; locus plot: gnuplot-nox.
# Distributed training (--dist, built when MPI is found) and its tests: libopenmpi-dev openmpi-bin.
set -u
PKGS="build-essential pkg-config libopenblas-openmp-dev libcjson-dev zlib1g-dev libcmocka-dev dataset-fashion-mnist"
PKGS="$PKGS protobuf-c-compiler libonnx-dev libprotobuf-c-dev python3-onnx"
PKGS="$PKGS libturbojpeg0-dev libstb-dev"
PKGS="$PKGS libcurl4-openssl-dev libarchive-dev libssl-dev gnuplot-nox"
PKGS="$PKGS libopenmpi-dev openmpi-bin"
PKGS="$PKGS clang libclang-rt-14-dev"
[ $# -gt 0 ] && PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "locus: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "locus: cannot install as a normal user without sudo; run as root:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing; }; then
    echo "locus: apt-get failed to install:$missing" >&2
    echo "hint: check the network/apt sources, or install them by hand" >&2
    exit 1
fi
