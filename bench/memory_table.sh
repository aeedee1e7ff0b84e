#!/bin/sh
# bench/memory_table.sh — planned activation and total peaks of every local method at K = 4, 8, 16 against
# end to end, as a markdown table (ResNet-32 on Fashion-MNIST, batch 128 by default). The plan runs the exact
# allocation sequence of a training step and an evaluation; tests/test_memplan.c asserts planned == measured
# for every method and K (and every training run reports both), so these are the bytes a run uses.
# Usage: sh bench/memory_table.sh [MODEL] [BATCH]
set -eu
MODEL=${1:-resnet32}; BATCH=${2:-128}; BIN=${BIN:-build/locus}
echo "| method | K | ACT peak MiB | E2E ACT MiB | ACT vs E2E | total peak MiB | E2E total MiB | total vs E2E |"
echo "|---|---|---|---|---|---|---|---|"
row() { # label, K, options...
    label=$1; k=$2; shift 2
    $BIN memplan --model "$MODEL" --data fashion-mnist --batch "$BATCH" --k "$k" "$@" --json |
        /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); p = d["mem_predicted_bytes"]; e = d["e2e_predicted_bytes"]; M = 2**20
print("| %s | %s | %.1f | %.1f | %.1f%% | %.1f | %.1f | %.1f%% |" % (sys.argv[1], sys.argv[2], p["act"] / M,
      e["act"] / M, 100 * p["act"] / e["act"], p["total"] / M, e["total"] / M, 100 * p["total"] / e["total"]))
' "$label" "$k"
}
for k in 4 8 16; do
    row greedy $k --method greedy
    row dgl $k --method dgl
    row "infopro (contrast, 1c2f)" $k --method infopro
    row "pff (InfoPro + 4 quadrant decoders)" $k --method pff
    row "hilo (2c2f, CE; recompute)" $k --method hilo
    row "hilo (--hilo-mode once)" $k --method hilo --hilo-mode once
    row "hpff (HiLo + PFF; recompute)" $k --method hpff
    row "hpff (dgl heads)" $k --method hpff --aux dgl
    row "man (dgl heads)" $k --method man --aux dgl
done
