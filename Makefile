# locus — one GNU Makefile for the library, the CLI, the tests and the benchmarks.
#
#   make            build build/liblocus.a and build/locus
#   make run        install missing Debian packages, build, train the default model (README quick start)
#   make test       build and run the whole test suite (what CI runs)
#   make test-slow  long convergence runs
#   make asan       the test suite under AddressSanitizer + UBSan
#   make bench      benchmarks against PyTorch, appended to bench/RESULTS.md (QUICK=1: a smoke test, not appended)
#   make fuzz       libFuzzer on every parser, FUZZ_SECONDS (60) each, from the committed corpus (needs clang)
#
# OpenBLAS: the OpenMP variant is pinned (pkg-config path + rpath), because with both variants installed
# Debian's alternatives pick the pthread one, which fights our OpenMP threads (spec dependencies.md §1.2).

OPENBLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
export PKG_CONFIG_PATH := $(OPENBLAS_DIR)/pkgconfig:$(PKG_CONFIG_PATH)
# locus data fetch: libcurl (HTTP), libarchive (tar.gz), libcrypto (MD5/SHA-256); locus plot runs gnuplot.
PKGS := openblas libcjson zlib libturbojpeg stb libcurl libarchive libcrypto

BUILD ?= build
CC ?= gcc
WERROR ?= -Werror
OPT ?= -O3
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra $(WERROR) -fopenmp -Iinclude -Isrc
CFLAGS += $(CFLAGS_BASE) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,-rpath,$(OPENBLAS_DIR) -lm -lpthread -fopenmp
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# MPI (--dist, src/dist/mpi_*.c): auto-detected through pkg-config ompi-c (Debian libopenmpi-dev); MPI=0
# forces the single-process build (src/dist/nompi.c answers --dist with "built without MPI"), MPI=1
# requires it.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
CFLAGS += $(shell pkg-config --cflags ompi-c) -DLOCUS_MPI=1
LDLIBS += $(shell pkg-config --libs ompi-c)
DIST_SKIP := src/dist/nompi.c
else
DIST_SKIP := $(wildcard src/dist/mpi_*.c)
endif
LIB_SRC := $(filter-out $(DIST_SKIP),$(sort $(wildcard src/*/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
# the CLI: tools/locus.c (main) plus tools/cli_common.c and one tools/cmd_*.c per further subcommand
CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tools/*.c)))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# tests/fuzz_*.c are fuzz drivers with their own main (built on demand: make BUILD=b b/tests/fuzz_idx)
TEST_HELPERS := $(filter-out tests/test_%.c tests/fuzz_%.c,$(wildcard tests/*.c))
TEST_HELPER_OBJ := $(TEST_HELPERS:%.c=$(BUILD)/%.o)

.PHONY: all run test test-slow asan bench bench-kernels clean deps fuzz
.SECONDARY:
all: $(BUILD)/locus

# ONNX export (src/export/): onnx.pb-c.{c,h} are generated at build time by protoc-c (protobuf-c-compiler)
# from Debian's /usr/include/onnx/onnx.proto (libonnx-dev) and linked with libprotobuf-c; generating
# beats committing 145 KB of generated code, and both tools are pinned by Debian 12 (1.4.1 / ONNX 1.12).
ONNX_PROTO := /usr/include/onnx/onnx.proto
GEN := $(BUILD)/gen
CFLAGS += -I$(GEN) $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)
LDLIBS += $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)
LIB_OBJ += $(GEN)/onnx.pb-c.o
$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h &:
	@command -v protoc-c >/dev/null && test -f $(ONNX_PROTO) || { echo "locus: ONNX export needs protoc-c and $(ONNX_PROTO)"; \
	  echo "hint: make deps (or apt-get install protobuf-c-compiler libonnx-dev libprotobuf-c-dev)"; exit 1; }
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(GEN)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c
	$(CC) $(CFLAGS) -c $< -o $@
$(filter $(BUILD)/src/export/%,$(LIB_OBJ)): | $(GEN)/onnx.pb-c.h

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblocus.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/locus: $(CLI_OBJ) $(BUILD)/liblocus.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(BUILD)/liblocus.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LDLIBS)

# Install the Debian packages that are missing (only those), then build.
deps:
	@sh tools/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	OMP_WAIT_POLICY=passive $(BUILD)/locus train --config configs/default.json --overwrite

# Every test binary runs; a binary exiting 77 is skipped. Ends with the "N passed, N failed" line.
test: $(TEST_BIN) $(BUILD)/locus
	@OMP_WAIT_POLICY=passive sh tools/run-tests.sh $(BUILD) $(TEST_BIN)

test-slow: $(TEST_BIN) $(BUILD)/locus
	@OMP_WAIT_POLICY=passive LOCUS_SLOW=1 sh tools/run-tests.sh $(BUILD) $(TEST_BIN)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" test

bench: $(BUILD)/locus
	sh bench/run.sh

# The 3x3 conv kernels alone, hot and over 128 cold samples, beside one core's FMA peak (bench/kernels.c).
$(BUILD)/bench-kernels: bench/kernels.c $(BUILD)/liblocus.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
bench-kernels: $(BUILD)/bench-kernels
	$(BUILD)/bench-kernels

# libFuzzer (clang) on every parser for FUZZ_SECONDS each, in build-fuzz; FUZZ_PARSERS picks some
# (idx cifar mat stl10 image safetensors config). tools/fuzz-parsers.sh --update-corpus re-minimizes the corpus.
FUZZ_SECONDS ?= 60
fuzz:
	@sh tools/fuzz-parsers.sh $(FUZZ_SECONDS) $(FUZZ_PARSERS)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_BIN:=.d) $(TEST_HELPER_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
