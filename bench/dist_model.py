#!/usr/bin/python3
"""dist_model.py — a model of pipelined local learning on R machines, from one measured run.

Input: the summary.json of a `--dist pipeline` run (any number of ranks): ranks[*].block_seconds (time
spent in each block over the run), ranks[*].images, block_out_bytes (each block's output batch).
For R = 1 .. K machines it splits the K blocks contiguously to minimise the slowest stage (by measured
time), then per batch: stage r computes t_r and sends its output (bytes / bandwidth + latency); sends
overlap the next batch's compute (non-blocking, queue depth >= 2), so the pipeline period is
max_r max(t_r, c_r). Throughput = batch / period; utilisation = sum t / (R * period); the bubble is the
fill and drain of one epoch: (R - 1) periods out of (S + R - 1) for S batches per epoch (the pipeline
drains at every epoch end for evaluation and the checkpoint).
Usage: dist_model.py SUMMARY.json [--gbit 1,10] [--latency-us 50] [--steps-per-epoch S]"""
import argparse
import json


def best_split(times, r):
    """Contiguous split of times into r parts minimising the largest part: list of (first, last)."""
    k = len(times)
    inf = float("inf")
    best = [[inf] * (k + 1) for _ in range(r + 1)]
    cut = [[-1] * (k + 1) for _ in range(r + 1)]
    best[0][0] = 0.0
    for i in range(1, r + 1):
        for b in range(i, k + 1):
            for a in range(i - 1, b):
                c = max(best[i - 1][a], sum(times[a:b]))
                if c < best[i][b]:
                    best[i][b], cut[i][b] = c, a
    parts, b = [], k
    for i in range(r, 0, -1):
        a = cut[i][b]
        parts.append((a, b - 1))
        b = a
    return parts[::-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--gbit", default="1,10")
    ap.add_argument("--latency-us", type=float, default=50.0)
    ap.add_argument("--steps-per-epoch", type=int, default=0)
    a = ap.parse_args()
    s = json.load(open(a.summary))
    k = len(s["block_out_bytes"])
    batch = s["batch"]
    secs = [0.0] * k
    images = 0
    for r in s["ranks"]:
        for b in r["blocks"]:
            secs[b] += r["block_seconds"][b]
        images = max(images, r["images"])
    batches = images / batch
    t = [x / batches for x in secs]  # seconds per batch in each block
    steps = a.steps_per_epoch or int(round(batches / max(1, s["epochs"])))
    print(f"model of {s['model']} {s['method']} K={k}, batch {batch}: measured seconds per batch by block "
          + " ".join(f"{x:.4f}" for x in t) + f"; {steps} batches per epoch")
    print(f"  {'machines':>8} {'Gbit/s':>7} {'split':<22} {'period s':>9} {'img/s':>8} {'speed-up':>8} "
          f"{'utilisation':>11} {'bubble':>7}")
    single = sum(t)
    for gbit in [float(g) for g in a.gbit.split(",")]:
        for r in range(1, k + 1):
            parts = best_split(t, r)
            stage = [sum(t[f:l + 1]) for f, l in parts]
            comm = [(s["block_out_bytes"][l] * 8 / (gbit * 1e9) + a.latency_us * 1e-6) if i < r - 1 else 0.0
                    for i, (f, l) in enumerate(parts)]
            period = max(max(x, c) for x, c in zip(stage, comm))
            util = sum(stage) / (r * period)
            bubble = (r - 1) / (steps + r - 1)
            ips = batch / period * (1 - bubble)
            split = ",".join(f"{f}-{l}" for f, l in parts)
            print(f"  {r:>8} {gbit:>7g} {split:<22} {period:>9.4f} {ips:>8.1f} {single / period * (1 - bubble):>7.2f}x "
                  f"{100 * util:>10.1f}% {100 * bubble:>6.2f}%")


if __name__ == "__main__":
    main()
