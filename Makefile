# locus — one GNU Makefile for the library, the CLI, the tests and the benchmarks.
#
#   make            build build/liblocus.a and build/locus
#   make run        install missing Debian packages, build, train the default model (README quick start)
#   make test       build and run the whole test suite (what CI runs)
#   make test-slow  long convergence runs
#   make asan       the test suite under AddressSanitizer + UBSan
#   make bench      benchmarks against PyTorch, appended to bench/RESULTS.md
#
# OpenBLAS: the OpenMP variant is pinned (pkg-config path + rpath), because with both variants installed
# Debian's alternatives pick the pthread one, which fights our OpenMP threads (spec dependencies.md §1.2).

OPENBLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
export PKG_CONFIG_PATH := $(OPENBLAS_DIR)/pkgconfig:$(PKG_CONFIG_PATH)
PKGS := openblas libcjson zlib

BUILD ?= build
CC ?= gcc
WERROR ?= -Werror
OPT ?= -O3
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra $(WERROR) -fopenmp -Iinclude -Isrc
CFLAGS += $(CFLAGS_BASE) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,-rpath,$(OPENBLAS_DIR) -lm -lpthread -fopenmp
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
# the CLI: tools/locus.c (main) plus tools/cli_common.c and one tools/cmd_*.c per further subcommand
CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tools/*.c)))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# tests/fuzz_*.c are fuzz drivers with their own main (built on demand: make BUILD=b b/tests/fuzz_idx)
TEST_HELPERS := $(filter-out tests/test_%.c tests/fuzz_%.c,$(wildcard tests/*.c))
TEST_HELPER_OBJ := $(TEST_HELPERS:%.c=$(BUILD)/%.o)

.PHONY: all run test test-slow asan bench clean deps
.SECONDARY:
all: $(BUILD)/locus

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

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(TEST_BIN:=.d) $(CLI_OBJ:.o=.d) $(TEST_HELPER_OBJ:.o=.d)
