#!/bin/sh
# fuzz-data.sh — mutation fuzzing of the dataset parsers (IDX, CIFAR-10) through tests/fuzz_idx.c.
#
#   tools/fuzz-data.sh [COUNT] [SEED]        (defaults: 3000 mutants, seed 1)
#
# Builds the driver with AddressSanitizer + UBSan (FUZZ_SAN=0 for a plain -O2 build) in
# BUILD (default build-fuzz-data), writes small valid seed files (IDX images and labels, raw and gzip,
# a 2-record CIFAR-10 batch), makes COUNT mutants of them (bit flips, byte sets, truncations, appended
# bytes, header field edits, gzip-level corruption), and runs the driver over all of them in batches.
# A batch that fails is rerun file by file; each failing file is kept in $BUILD/fuzz-failures/ and
# its report printed. Exit status: 0 when every mutant was parsed or rejected cleanly.
set -eu
count=${1:-3000}
seed=${2:-1}
build=${BUILD:-build-fuzz-data}
if [ "${FUZZ_SAN:-1}" = 1 ]; then
    opt="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
else
    opt="-O2"
fi
make --no-print-directory BUILD="$build" OPT="$opt" "$build/tests/fuzz_idx" >/dev/null
bin="$build/tests/fuzz_idx"

base=/tmp
[ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d -p "$base") # (GNU mktemp: a fresh private directory under $base)
trap 'rm -rf "$work"' EXIT INT TERM

/usr/bin/python3 - "$work" "$count" "$seed" <<'EOF'
import gzip, os, random, struct, sys
work, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
def idx(magic_dims, dims, data):
    return bytes([0, 0, 8, magic_dims]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
images = idx(3, [3, 5, 4], [(i * 7) % 256 for i in range(60)])
labels = idx(1, [5], [3, 1, 4, 1, 5])
cifar = b"".join(bytes([k % 10]) + bytes((k * 31 + i) % 256 for i in range(3072)) for k in range(2))
seeds = [("images", images), ("labels", labels), ("cifar", cifar)]
# the unmutated seeds must parse: written as-is (raw and gzip) and checked by the shell below
for name, data in seeds:
    open(os.path.join(work, "seed_%s.raw" % name), "wb").write(data)
    open(os.path.join(work, "seed_%s.gz" % name), "wb").write(gzip.compress(data, mtime=0))
def mutate(b):
    b = bytearray(b)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and b:                        # bit flip
            i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                      # byte set
            b[rng.randrange(len(b))] = rng.choice([0, 0xff, 0x7f, 0x80, rng.randrange(256)])
        elif op == 2:                            # truncation
            del b[rng.randrange(len(b) + 1):]
        elif op == 3:                            # appended bytes
            b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif op == 4 and len(b) >= 16:           # header field edit: a dim or count
            at = 4 * rng.randrange(4)
            v = rng.choice([0, 1, 0xffffffff, 0x7fffffff, 60000, 10000, 28, rng.randrange(1 << 32),
                            struct.unpack(">I", b[at:at + 4])[0] + rng.choice([-1, 1])])
            b[at:at + 4] = struct.pack(">I", v & 0xffffffff)
        elif op == 5 and len(b) >= 4:            # magic edit
            b[rng.randrange(4)] = rng.choice([0, 1, 3, 8, 9, 0x1f, 0x8b])
        elif op == 6 and b:                      # duplicate a slice
            i = rng.randrange(len(b)); j = min(len(b), i + rng.randint(1, 64)); b[i:i] = b[i:j]
    return bytes(b)
for k in range(count):
    name, data = rng.choice(seeds)
    r = rng.random()
    if r < 0.45:
        out = mutate(data)                       # raw mutant
    elif r < 0.8:
        out = gzip.compress(mutate(data), mtime=0)  # mutated content, valid gzip
    else:
        out = mutate(gzip.compress(data, mtime=0))  # corrupted gzip stream
    open(os.path.join(work, "m%05d_%s" % (k, name)), "wb").write(out)
EOF

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98"

"$bin" "$work"/seed_* || { echo "fuzz-data: the driver fails on the unmutated seed files"; exit 1; }

fails=0
mkdir -p "$build/fuzz-failures"
ls "$work" | grep '^m' | sed "s|^|$work/|" > "$work/list"
batch=0
while :; do
    files=$(sed -n "$((batch * 100 + 1)),$((batch * 100 + 100))p" "$work/list")
    [ -n "$files" ] || break
    batch=$((batch + 1))
    "$bin" $files > "$work/out" 2>&1 && continue
    for f in $files; do
        if ! "$bin" "$f" > "$work/one" 2>&1; then
            fails=$((fails + 1))
            cp "$f" "$build/fuzz-failures/"
            echo "FAIL $(basename "$f") (kept in $build/fuzz-failures/):"
            head -n 30 "$work/one"
        fi
    done
done
san=$([ "${FUZZ_SAN:-1}" = 1 ] && echo "ASan+UBSan" || echo "no sanitizers")
echo "fuzz-data: $count mutants (seed $seed, $san), $fails failing"
[ "$fails" -eq 0 ]
