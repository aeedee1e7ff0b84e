#!/usr/bin/python3
"""torch_ref.py — the PyTorch side of `make bench`: the same workloads as `locus bench`, same JSON keys.

Workload (spec performance.md): batch of random N(0,1) 3x32x32 images and uniform labels, softmax
cross-entropy, SGD momentum 0.9 (lr 0.01, no weight decay), float32. A training step is
zero_grad + forward + loss + backward + optimizer step; an inference step is one eval-mode forward under
torch.no_grad(). Models: CIFAR ResNet-8/20/32/44/56/110 exactly as spec local-learning.md §0.1 (projection
shortcuts, "option B") and ViT-tiny (patch 4, dim 192, depth 6, heads 3, MLP 768, CLS token, pre-norm,
timm layout).

FLOP accounting is the spec's and the same as locus's: forward = 2 x MACs of Conv2d and Linear layers plus
QK^T and AV of attention, counted from the real shapes with forward hooks; a training step = 3 x forward.

--recompute-units wraps every residual block (ResNet) or transformer block (ViT) in
torch.utils.checkpoint (non-reentrant): PyTorch's own gradient checkpointing, the peer of
`locus bench --recompute-units` (locus also recomputes the stem's unit; the classifier unit is not).

Run with /usr/bin/python3 (Debian python3-torch 1.13). Denormals: PyTorch's default (no flush-to-zero)
unless --ftz (torch.set_flush_denormal(True), FTZ/DAZ), which is what `locus bench` does by default; pass
--ftz / --no-ftz to both sides alike. Example:
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 OMP_WAIT_POLICY=passive \
      /usr/bin/python3 bench/torch_ref.py --model resnet32 --mode train --batch 128 --threads 1 --json
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = None
        if stride != 1 or cin != c:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, n, in_c=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for c, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(Block(cin, c, stride if i == 0 else 1))
                cin = c
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.flops = 0  # QK^T + AV of the last call (the hooks see the Linear layers)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = ((q @ k.transpose(-2, -1)) * self.dh ** -0.5).softmax(dim=-1)
        self.flops = 2 * 2 * n * t * t * d
        return self.proj((p @ v).transpose(1, 2).reshape(n, t, d))


class VitBlock(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, in_c=3, hw=32, classes=10, patch=4, d=192, depth=6, heads=3, mlp=768):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_c, d, patch, patch)
        t = 1 + (hw // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.randn(1, t, d) * 0.02)
        self.blocks = nn.Sequential(*[VitBlock(d, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class Checkpointed(nn.Module):
    """m, run under torch.utils.checkpoint while training (its activations recomputed in the backward)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        if self.training:
            return torch.utils.checkpoint.checkpoint(self.m, x, use_reentrant=False)
        return self.m(x)


def checkpoint_blocks(model):
    seqs = [model.layer1, model.layer2, model.layer3] if isinstance(model, ResNet) else [model.blocks]
    for seq in seqs:
        for i in range(len(seq)):
            seq[i] = Checkpointed(seq[i])


RESNET_N = {"resnet8": 1, "resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}


def make_model(name, in_c, hw, classes):
    if name in RESNET_N:
        return ResNet(RESNET_N[name], in_c, classes)
    if name == "vit-tiny":
        return ViT(in_c, hw, classes)
    raise SystemExit(f"torch_ref.py: unknown model '{name}'; choose one of {', '.join(list(RESNET_N) + ['vit-tiny'])}")


def forward_flops_per_img(model, x):
    """2 x MACs of Conv2d + Linear (+ attention matmuls), from one eval forward of x."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total[0] += 2 * out.numel() * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features
        elif isinstance(m, Attention):
            total[0] += m.flops

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, Attention))]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(x)
    model.train(was)
    for h in handles:
        h.remove()
    return total[0] / x.shape[0]


def positive_int(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s} is not >= 1")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet32")
    ap.add_argument("--mode", choices=("train", "infer"), default="train")
    ap.add_argument("--batch", type=positive_int, default=128)
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--steps", type=positive_int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--in-c", type=positive_int, default=3)
    ap.add_argument("--in-hw", type=positive_int, default=32)
    ap.add_argument("--classes", type=positive_int, default=10)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak-gflops", type=float, default=0.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--recompute-units", action="store_true",
                    help="train with every block under torch.utils.checkpoint")
    ap.add_argument("--ftz", action=argparse.BooleanOptionalAction, default=False,
                    help="flush denormals to zero (FTZ/DAZ), as locus bench does by default")
    a = ap.parse_args()
    if a.warmup < 0:
        ap.error("--warmup must be >= 0")

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(a.ftz)
    torch.manual_seed(a.seed)
    model = make_model(a.model, a.in_c, a.in_hw, a.classes)
    x = torch.randn(a.batch, a.in_c, a.in_hw, a.in_hw)
    y = torch.randint(0, a.classes, (a.batch,))
    fwd = forward_flops_per_img(model, x[:2])
    if a.recompute_units:
        checkpoint_blocks(model)

    train = a.mode == "train"
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9) if train else None
    model.train(train)
    times, loss_last = [], None
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        if train:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss_last = loss.item()
        else:
            with torch.no_grad():
                model(x)
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
    if train and not math.isfinite(loss_last):
        sys.exit(f"torch_ref.py: the loss is not finite ({loss_last})")

    med = statistics.median(times)
    per_img = (3 if train else 1) * fwd * 1e-9
    r = {
        "engine": "pytorch",
        "torch_version": torch.__version__,
        "model": a.model, "mode": a.mode, "batch": a.batch, "threads": a.threads,
        "steps": a.steps, "warmup": a.warmup,
        "img_per_s": a.batch / med,
        "step_s_median": med, "step_s_min": min(times), "step_s_max": max(times),
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "gflop_fwd_per_img": fwd * 1e-9, "gflop_per_img": per_img,
        "gflop_per_s": per_img * a.batch / med,
        "ftz": a.ftz, "recompute_units": a.recompute_units,
    }
    if a.peak_gflops > 0:
        r["peak_gflops"] = a.peak_gflops
        r["peak_fraction"] = r["gflop_per_s"] / a.peak_gflops
    if train:
        r["loss_last"] = loss_last
    r["rss_peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    r["mem_peak_bytes"] = {}  # PyTorch has no tagged accounting; see rss_peak_bytes
    if a.json:
        print(json.dumps(r))
    else:
        print(f"pytorch {torch.__version__}: {a.model} {a.mode}, batch {a.batch}, {a.threads} threads: "
              f"median {med:.4f} s (min {min(times):.4f}, max {max(times):.4f}), {r['img_per_s']:.1f} img/s, "
              f"{r['gflop_per_s']:.2f} GFLOP/s, peak RSS {r['rss_peak_bytes'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
