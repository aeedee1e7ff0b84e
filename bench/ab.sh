#!/bin/sh
# bench/ab.sh — is a change faster? Two locus binaries timed in ABBA-ordered pairs (A B, B A, A B, ...), each run a
# separate `locus bench` process, and the median of the per-pair ratios B / A reported. On a shared or throttling
# machine (this project's VM moved by up to 30% between minutes) a pair sees the same conditions, which single runs
# or separate series do not; differences under ~3% still need more pairs to show.
# Usage: sh bench/ab.sh BASE_BINARY NEW_BINARY [MODEL] [MODE] [THREADS] [PAIRS]
#        (defaults resnet32 train 1 8; e.g. build the base from a git worktree of the old commit)
set -eu
A=$1; B=$2; MODEL=${3:-resnet32}; MODE=${4:-train}; T=${5:-1}; PAIRS=${6:-8}
STEPS=4; WARMUP=1
[ "$MODE" = infer ] && STEPS=8 && WARMUP=2
run() {
    OMP_WAIT_POLICY=passive "$1" bench --model "$MODEL" --mode "$MODE" --batch 128 --threads "$T" --steps $STEPS \
        --warmup $WARMUP --ftz --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["img_per_s"])'
}
i=1
while [ $i -le "$PAIRS" ]; do
    if [ $((i % 2)) = 1 ]; then a=$(run "$A"); b=$(run "$B"); else b=$(run "$B"); a=$(run "$A"); fi
    echo "$a $b"
    i=$((i + 1))
done | /usr/bin/python3 -c '
import statistics, sys
pairs = [tuple(map(float, l.split())) for l in sys.stdin]
ratios = [b / a for a, b in pairs]
for a, b in pairs: print("  base %8.1f  new %8.1f img/s  new/base %.3f" % (a, b, b / a))
print("median new/base %.3f (min %.3f, max %.3f) over %d pairs" % (statistics.median(ratios), min(ratios), max(ratios), len(pairs)))
'
