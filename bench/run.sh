#!/bin/sh
# bench/run.sh — what `make bench` runs: locus against tuned PyTorch (tcmalloc preloaded) on the CPU,
# batch 128, random 3x32x32 input, SGD momentum 0.9 (spec performance.md), on the issue's workloads:
# CIFAR ResNet-32 training and inference, ResNet-110 training, ViT-tiny training and inference.
#
#   sh bench/run.sh [--quick]        (make bench; make bench QUICK=1 for the quick variant)
#
# 1. measures this machine's FP32 FMA peak on one core (a tiny C loop of independent FMAs, compiled here;
#    AVX-512 when the CPU has it, else AVX2), as the best of many short runs so that other processes on a
#    shared machine lower it as little as possible; the peak for T threads is T x that (the cores are
#    alike; a 2-thread measurement on a busy 2-core machine would only measure the load). Falls back to
#    the spec's 220 GFLOP/s per core when the loop cannot be compiled;
# 2. for threads in 1 2, for each workload MODEL:MODE: REPEATS x (one locus process, one PyTorch process),
#    interleaved so that both sides see the same machine load (the machines are shared and noisy);
# 3. one `locus bench --profile` run (1 thread, train) per model family (ResNet, ViT): per-layer tables;
# 4. checks that both sides built the same networks (equal trainable parameter counts and forward FLOPs
#    per image; it fails otherwise), then prints a markdown table (min / median / max img/s per side, ratio
#    of medians, GFLOP/s and fraction of the measured peak, peak RSS) with the date, machine, commit, load,
#    environment and exact commands, and appends it to bench/RESULTS.md (append-only: results are never
#    edited, only added). The quick variant never touches bench/RESULTS.md: 1 repeat of 2-3 steps is a
#    smoke test of the script, not a result, so its section goes to stdout and $BUILD/bench-quick.md only.
# Environment: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment sets them (reported);
# OMP_WAIT_POLICY=passive; both sides flush denormals (FTZ/DAZ: --ftz; PyTorch set_flush_denormal(True)).
# WORKLOADS="resnet32:train ..." and THREADS="1" narrow the run (defaults: the five workloads above; 1 2).
# Needs $BUILD/locus (BUILD defaults to build; make passes its BUILD), /usr/bin/python3 with torch, and
# libtcmalloc-minimal4.
set -eu

BUILD=${BUILD:-build}
QUICK=${QUICK:-0}
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        *) echo "bench/run.sh: unknown argument '$arg' (usage: bench/run.sh [--quick])" >&2; exit 2 ;;
    esac
done

LOCUS=$BUILD/locus
PY=/usr/bin/python3
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
BATCH=128
WORKLOADS=${WORKLOADS:-resnet32:train resnet32:infer resnet110:train vit-tiny:train vit-tiny:infer}
THREADS=${THREADS:-1 2}
if [ "$QUICK" = 1 ]; then
    REPEATS=1; TRAIN_STEPS="--steps 2 --warmup 1"; INFER_STEPS="--steps 3 --warmup 1"
    RESULTS=$BUILD/bench-quick.md # a smoke test: never appended to bench/RESULTS.md
else
    REPEATS=3; TRAIN_STEPS="--steps 5 --warmup 1"; INFER_STEPS="--steps 10 --warmup 2"
    RESULTS=bench/RESULTS.md
fi
for w in $WORKLOADS; do
    case $w in
        resnet8:* | resnet20:* | resnet32:* | resnet44:* | resnet56:* | resnet110:* | vit-tiny:*) ;;
        *) echo "bench/run.sh: unknown model in WORKLOADS entry '$w' (resnet8..resnet110 or vit-tiny)" >&2; exit 2 ;;
    esac
    case ${w#*:} in
        train | infer) ;;
        *) echo "bench/run.sh: WORKLOADS entry '$w' is not MODEL:train or MODEL:infer" >&2; exit 2 ;;
    esac
done
for threads in $THREADS; do
    case $threads in
        1 | 2) ;;
        *) echo "bench/run.sh: THREADS may hold 1 and 2, not '$threads'" >&2; exit 2 ;;
    esac
done

[ -x "$LOCUS" ] || { echo "bench/run.sh: $LOCUS not found (run make first)" >&2; exit 1; }
[ -r "$TCMALLOC" ] || { echo "bench/run.sh: $TCMALLOC missing (apt-get install libtcmalloc-minimal4)" >&2; exit 1; }
$PY -c "import torch" 2>/dev/null || { echo "bench/run.sh: $PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

export OMP_WAIT_POLICY=passive
work=$(mktemp -d "${TMPDIR:-/tmp}/locus-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- 1. the FMA peak ----------------------------------------------------------------------------------
cat > "$work/peak.c" <<'EOF'
/* FP32 FMA peak: 12 independent accumulator chains per thread (enough to cover FMA latency x 2 pipes). */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#define ITERS 2000000L /* ~1e9 FLOP: a few ms, short enough to often run undisturbed */
__attribute__((target("avx512f"))) static float run512(void) {
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int j = 0; j < 12; j++) a[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < ITERS; i++)
        for (int j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
    float s = 0;
    for (int j = 0; j < 12; j++) s += _mm512_reduce_add_ps(a[j]);
    return s;
}
__attribute__((target("avx2,fma"))) static float run256(void) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int j = 0; j < 12; j++) a[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < ITERS; i++)
        for (int j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], m, c);
    float buf[8], s = 0;
    for (int j = 0; j < 12; j++) {
        _mm256_storeu_ps(buf, a[j]);
        for (int k = 0; k < 8; k++) s += buf[k];
    }
    return s;
}
int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int w512 = __builtin_cpu_supports("avx512f");
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 200; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += w512 ? run512() : run256();
        double dt = omp_get_wtime() - t0, g = threads * ITERS * 12.0 * (w512 ? 16 : 8) * 2 / dt * 1e-9;
        if (g > best) best = g;
    }
    printf("%.1f %s %g\n", best, w512 ? "avx512" : "avx2", (double)sink);
    return 0;
}
EOF
peak_note=""
if ${CC:-gcc} -O3 -fopenmp "$work/peak.c" -o "$work/peak" 2>"$work/peak.err"; then
    set -- $("$work/peak" 1); PEAK1=$1; ISA=$2
    peak_note="measured on 1 core: 12 independent $ISA FMA chains, best of 200 runs of ~1 GFLOP; 2 threads = 2 x 1 core"
else
    PEAK1=220
    peak_note="not measured (peak.c did not compile): the spec's Zen 5 figure, 2 threads = 2 x 1 core"
fi
PEAK2=$(awk "BEGIN { print 2 * $PEAK1 }")

# --- 2. the runs ---------------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
: > "$work/runs.jsonl"
: > "$work/commands.txt"
for threads in $THREADS; do
    if [ "$threads" = 1 ]; then peak=$PEAK1; else peak=$PEAK2; fi
    for w in $WORKLOADS; do
        model=${w%%:*}; mode=${w#*:}
        if [ "$mode" = train ]; then steps=$TRAIN_STEPS; else steps=$INFER_STEPS; fi
        common="--model $model --mode $mode --batch $BATCH --threads $threads $steps --peak-gflops $peak --ftz --json"
        echo "OMP_WAIT_POLICY=passive $LOCUS bench $common" >> "$work/commands.txt"
        echo "LD_PRELOAD=$TCMALLOC OMP_WAIT_POLICY=passive $PY bench/torch_ref.py $common" >> "$work/commands.txt"
        rep=1
        while [ $rep -le $REPEATS ]; do
            echo "bench: $model $mode, $threads thread(s), repeat $rep/$REPEATS: locus, then pytorch" >&2
            $LOCUS bench $common >> "$work/runs.jsonl"
            LD_PRELOAD=$TCMALLOC $PY bench/torch_ref.py $common >> "$work/runs.jsonl"
            rep=$((rep + 1))
        done
    done
done
# one profiled locus training run per model family (the first trained model of each): where the step goes
: > "$work/profiles.md"
families=""
for w in $WORKLOADS; do
    model=${w%%:*}; mode=${w#*:}; family=${model%%[0-9-]*}
    [ "$mode" = train ] || continue
    case " $families " in *" $family "*) continue ;; esac
    families="$families $family"
    pcmd="$LOCUS bench --model $model --mode train --batch $BATCH --threads 1 $TRAIN_STEPS --ftz --profile"
    echo "bench: $model train, 1 thread, per-layer profile" >&2
    {
        echo "Where locus's $model training step goes (\`$pcmd\`):"
        echo
        echo '```'
        $pcmd
        echo '```'
        echo
    } >> "$work/profiles.md"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - start ))

# --- 3. the report -------------------------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (+ uncommitted changes)"; fi
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
cores=$(nproc)
torch_version=$($PY -c "import torch; print(torch.__version__)")
blas=$(readlink -f "$(ldd "$LOCUS" | sed -n 's/.*libopenblas[^ ]* => \([^ ]*\).*/\1/p' | head -n 1)" 2>/dev/null || echo "?")
quick_note=""; [ "$QUICK" = 1 ] && quick_note=" (QUICK smoke test: 1 repeat, 2-3 steps; not a result)"
models=$(for w in $WORKLOADS; do echo "${w%%:*}"; done | awk '!seen[$0]++' | paste -sd, - | sed 's/,/, /g')

PEAK1=$PEAK1 PEAK2=$PEAK2 THREADS="$THREADS" WORKLOADS="$WORKLOADS" $PY - "$work/runs.jsonl" > "$work/table.md" <<'EOF'
import json, os, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mib = lambda b: b / 2**20
workloads = [w.split(":") for w in os.environ["WORKLOADS"].split()]
models = list(dict.fromkeys(m for m, _ in workloads))
# both sides must have built the same network: the same trainable parameters and forward FLOPs per image (locus's
# network count: every unit on every token, as PyTorch computes it; locus's own step may compute less)
bad = []
def network(r, key):
    if key == "gflop_fwd_per_img" and r["engine"] == "locus":
        return r.get("gflop_fwd_per_img_network", r[key])
    return r[key]
for m in models:
    for key in ("params", "gflop_fwd_per_img"):
        got = {r["engine"]: network(r, key) for r in runs if r["model"] == m}
        if set(got) != {"locus", "pytorch"} or abs(got["locus"] - got["pytorch"]) > 1e-9 * max(1.0, abs(got["pytorch"])):
            bad.append(f"{m}: {key} locus {got.get('locus')} vs PyTorch {got.get('pytorch')}")
if bad:
    sys.exit("bench/run.sh: locus and torch_ref.py did not build the same networks:\n  " + "\n  ".join(bad))
print("| model | threads | mode | locus img/s min / **median** / max | PyTorch img/s min / **median** / max "
      "| locus / PyTorch (medians) | GFLOP/s locus / PyTorch (% of peak) | peak RSS MiB locus / PyTorch |")
print("|---|---|---|---|---|---|---|---|")
for threads in map(int, os.environ["THREADS"].split()):
    peak = float(os.environ["PEAK1" if threads == 1 else "PEAK2"])
    for model, mode in workloads:
        side = {}
        for eng in ("locus", "pytorch"):
            rs = [r for r in runs if r["engine"] == eng and r["model"] == model and r["threads"] == threads and r["mode"] == mode]
            ips = sorted(r["img_per_s"] for r in rs)
            side[eng] = dict(ips=ips, med=statistics.median(ips), gf=statistics.median(r["gflop_per_s"] for r in rs),
                             rss=statistics.median(r["rss_peak_bytes"] for r in rs))
        l, t = side["locus"], side["pytorch"]
        fmt = lambda s: f"{s['ips'][0]:.1f} / **{s['med']:.1f}** / {s['ips'][-1]:.1f}"
        print(f"| {model} | {threads} | {mode} | {fmt(l)} | {fmt(t)} | **{l['med'] / t['med']:.2f}x** "
              f"| {l['gf']:.1f} ({100 * l['gf'] / peak:.0f}%) / {t['gf']:.1f} ({100 * t['gf'] / peak:.0f}%) "
              f"| {mib(l['rss']):.0f} / {mib(t['rss']):.0f} |")
print("\nBoth sides built the same networks (checked: equal trainable parameters and forward FLOPs per image). "
      "FLOPs: forward = 2 x MACs of conv + linear (+ QK^T and AV of attention), projection shortcuts included; "
      "a training step counts 3 x forward.\n")
for m in models:
    r = next(r for r in runs if r["model"] == m and r["engine"] == "pytorch")
    print(f"- {m}: {r['params']} trainable parameters, {r['gflop_fwd_per_img']:.6f} GFLOP forward per image")
    own = next(r for r in runs if r["model"] == m and r["engine"] == "locus")
    if own.get("gflop_fwd_per_img_network", own["gflop_fwd_per_img"]) > own["gflop_fwd_per_img"] * (1 + 1e-9):
        print(f"  (locus computes {own['gflop_fwd_per_img']:.6f} of them: the last block for the class token only, "
              "the rest of its tokens being read by nothing; its GFLOP/s counts what it computes)")
kernels = sorted({(r.get("isa", "?"), r.get("conv3x3", "?")) for r in runs if r["engine"] == "locus"})
print("- locus kernels: " + "; ".join(f"{isa}, 3x3 stride-1 convolutions: {conv}" for isa, conv in kernels) +
      " (Winograd does fewer multiply-adds than the FLOPs counted: locus's GFLOP/s and % of peak are effective)")
EOF

{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — $models, batch $BATCH, locus vs PyTorch (tuned)$quick_note"
    echo
    echo "- machine: $cpu, $cores cores; FP32 FMA peak $PEAK1 GFLOP/s (1 thread), $PEAK2 GFLOP/s (2 threads), $peak_note"
    echo "- commit: $commit; locus OpenBLAS: $blas; PyTorch $torch_version with tcmalloc (LD_PRELOAD=$TCMALLOC)"
    echo "- load average (1/5/15 min) before: $load_before, after: $load_after (2 cores; other work was running if > ~0.5); $elapsed s in all"
    echo "- environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)} (as the environment sets them, unchanged);" \
         "OMP_WAIT_POLICY=passive; FTZ/DAZ on on both sides (--ftz; PyTorch: set_flush_denormal(True))"
    echo "- each number is one separate process; $REPEATS repeat(s) per side, locus and PyTorch interleaved;" \
         "img/s = batch / median step time over the timed steps"
    echo
    cat "$work/table.md"
    echo
    cat "$work/profiles.md"
    echo "Commands (each run $REPEATS time(s)):"
    echo
    echo '```'
    cat "$work/commands.txt"
    echo '```'
} > "$work/section.md"

cat "$work/section.md"
echo
if [ "$QUICK" = 1 ]; then
    cp "$work/section.md" "$RESULTS"
    echo "bench: quick smoke test, written to $RESULTS only (bench/RESULTS.md is for full runs)"
else
    [ -f "$RESULTS" ] || printf '# locus benchmark results\n\nAppend-only: `make bench` (bench/run.sh) adds one section per run. Never compare numbers across sections (different days, loads, commits).\n' > "$RESULTS"
    cat "$work/section.md" >> "$RESULTS"
    echo "bench: appended to $RESULTS"
fi
