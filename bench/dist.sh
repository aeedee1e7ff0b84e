#!/bin/sh
# bench/dist.sh — throughput of pipelined local learning (--dist pipeline) against one process, and data
# parallelism, on this machine; appends a section to bench/RESULTS.md and prints it.
#   ResNet-110, DGL, K=4 (the papers' cut list), batch 128, Fashion-MNIST (no augmentation), 1 epoch on
#   LIMIT images: one process with 1 and with 2 threads; the pipeline on 1, 2 and 4 ranks of 1 thread each
#   (4 ranks oversubscribe 2 cores); data parallel on 2 ranks of 1 thread; 2 pipeline stages x 2 replicas
#   (--dist-replicas 2, 4 ranks), BatchNorm per shard and synchronised (--dist-sync-bn). Then bench/dist_model.py
#   models R = 1..K machines from the 1-rank run's measured block times and the activation sizes.
# Target (issue 7): pipeline K=4 on 2 ranks x 1 thread >= 1.7x one process with 1 thread, and ahead of one
# process with 2 threads. Noisy when the machine is shared: the load average is recorded.
# Usage: sh bench/dist.sh [LIMIT_TRAIN] [MODEL] [K]      (defaults: 1280 images, resnet110, 4)
#   RESULTS=FILE appends there instead of bench/RESULTS.md (e.g. /dev/null).
set -u
LIMIT=${1:-1280}; MODEL=${2:-resnet110}; K=${3:-4}
BIN=${BIN:-build/locus}; OUT=${OUT:-/tmp/locus-dist-bench}; RESULTS=${RESULTS:-bench/RESULTS.md}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
MPIRUN="mpirun --oversubscribe --bind-to none"
COMMON="--model $MODEL --method dgl --k $K --limit-train $LIMIT --limit-test 256 --epochs 1 --batch 128 --no-augment --seed 1 --progress none --out $OUT --overwrite"
mkdir -p "$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
rows=""
run() { # name, launcher (or -), threads, extra args...
    name=$1; launch=$2; threads=$3; shift 3
    if [ "$launch" = "-" ]; then cmd="$BIN train $COMMON --threads $threads --name $name $*"
    else cmd="$launch $BIN train $COMMON --threads $threads --name $name $*"; fi
    if OMP_NUM_THREADS=$threads sh -c "$cmd" > "$OUT/$name.log" 2>&1; then
        line=$(/usr/bin/python3 - "$OUT/$name/summary.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ranks = s.get("ranks", [])
busy = " / ".join("%.0f%%" % (100 * r["busy_fraction"]) for r in ranks) or "-"
mem = " / ".join("%.0f" % (r["mem_peak_bytes"]["total"] / 2**20) for r in ranks) or "%.0f" % (s["mem_peak_bytes"]["total"] / 2**20)
print("%s | %.1f | %s | %s" % (sys.argv[2], s["train_img_per_s"], busy, mem))
PY
)
    else line="$name | failed (see $OUT/$name.log) | - | -"; fi
    rows="$rows| $line | \`$cmd\` |
"
}
run single-1t - 1
run single-2t - 2
run pipe-1r "$MPIRUN -np 1" 1 --dist pipeline
run pipe-2r "$MPIRUN -np 2" 1 --dist pipeline
run pipe-4r "$MPIRUN -np 4" 1 --dist pipeline
run data-2r "$MPIRUN -np 2" 1 --dist data
run pipe-2x2 "$MPIRUN -np 4" 1 --dist pipeline --dist-replicas 2
run pipe-2x2-syncbn "$MPIRUN -np 4" 1 --dist pipeline --dist-replicas 2 --dist-sync-bn
ips() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train_img_per_s'])" "$OUT/$1/summary.json" 2>/dev/null || echo 0; }
ratio=$(/usr/bin/python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print('%.2fx one process with 1 thread, %.2fx one process with 2 threads' % (a/b if b else 0, a/c if c else 0))" "$(ips pipe-2r)" "$(ips single-1t)" "$(ips single-2t)")
ratio2x2=$(/usr/bin/python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print('%.2fx the 2-rank pipeline (%.2fx with synchronised BN)' % (a/c if c else 0, b/c if c else 0))" "$(ips pipe-2x2)" "$(ips pipe-2x2-syncbn)" "$(ips pipe-2r)")
model=$(/usr/bin/python3 bench/dist_model.py "$OUT/pipe-1r/summary.json" 2>&1)
{
echo
echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — pipelined local learning over MPI ($MODEL, DGL, K=$K, batch 128, $LIMIT images, 1 epoch)"
echo
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); Open MPI $(mpirun --version 2>/dev/null | head -1 | awk '{print $NF}'), shared memory on one machine"
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)'); load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg); $(( $(date +%s) - t0 )) s in all"
echo "- img/s = training images / time in training steps (the last rank's, for pipelines; evaluation excluded)"
echo
echo "| run | img/s | busy per rank | peak MiB per rank | command |"
echo "|---|---|---|---|---|"
printf "%s" "$rows"
echo
echo "pipeline on 2 ranks x 1 thread: $ratio (target: >= 1.7x and > 1.0x)"
echo
echo "2 stages x 2 replicas (4 ranks on $(nproc) cores): $ratio2x2"
echo
echo '```'
echo "$model"
echo '```'
} | tee -a "$RESULTS"
