#!/bin/sh
# bench/plot_blocks.sh — the activation memory of each module over one training step, end to end against a
# local method, from `locus memplan --json` (planned == measured, see tests/test_memplan.c), as a PNG.
# Usage: sh bench/plot_blocks.sh OUT.png [train options for the local method, e.g. --method hpff --k 8]
# Needs gnuplot (Debian gnuplot-nox).
set -eu
out=$1; shift
BIN=${BIN:-build/locus}
tmp=$(mktemp -d)
$BIN memplan --model resnet32 --batch 128 "$@" --json > "$tmp/plan.json"
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
d = json.load(open(sys.argv[1] + "/plan.json"))
blocks = d["mem_predicted_per_block"]
e2e = d["e2e_predicted_bytes"]["act"] / 2**20
with open(sys.argv[1] + "/local.dat", "w") as f:        # one step = the modules one after the other
    for i, b in enumerate(blocks):
        f.write("%d %.2f %s\n" % (i, b["act"] / 2**20, b["units"]))
        f.write("%d %.2f %s\n" % (i + 1, b["act"] / 2**20, b["units"]))
with open(sys.argv[1] + "/e2e.dat", "w") as f:
    f.write("0 %.2f\n%d %.2f\n" % (e2e, len(blocks), e2e))
with open(sys.argv[1] + "/n", "w") as f:
    f.write(str(len(blocks)))
PY
n=$(cat "$tmp/n")
gnuplot <<GP
set terminal pngcairo size 900,450 font "sans,10"
set output "$out"
set title "Activation memory over one step, ResNet-32, Fashion-MNIST, batch 128:\n$* vs end to end"
set xlabel "module being trained (one step runs them left to right)"
set ylabel "ACT peak (MiB)"
set xrange [0:$n]
set yrange [0:*]
set key top right
set grid ytics
plot "$tmp/e2e.dat" using 1:2 with lines lw 2 title "end to end (whole step)", \
     "$tmp/local.dat" using 1:2 with lines lw 2 title "local: peak while each module trains"
GP
rm -rf "$tmp"
echo "wrote $out"
