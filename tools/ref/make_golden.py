#!/usr/bin/python3
"""make_golden.py — PyTorch reference fixtures for the whole-model golden tests (DESIGN.md §6.2).

Writes tests/fixtures/golden_resnet8.safetensors and tests/fixtures/golden_vit-micro.safetensors,
read by tests/test_golden.c. Run by hand (Debian's python3-torch, no other packages):

    /usr/bin/python3 tools/ref/make_golden.py [--out tests/fixtures]

What each file holds (all F32, little-endian; scalars have shape [1]):
  w.<name>              initial parameters and buffers (PyTorch state_dict names, no num_batches_tracked)
  x, y                  input batch N x 3 x 16 x 16, labels (class indices stored as floats)
  logits, loss          training-mode forward (BN batch statistics), mean cross-entropy
  g.<name>              gradient of `loss` for every trainable parameter
  logits_eval           model.eval() forward on the same initial weights (BN running statistics)
  rm.<bn>.running_mean  BN running statistics after the one training-mode forward
  rm.<bn>.running_var     (momentum 0.1, unbiased batch variance)
  sgd_losses            loss before each of 10 SGD steps on the same batch (lr 0.05, momentum 0.9,
                        nesterov, weight_decay 5e-4 on all parameters), training mode throughout
  sgd_final.<name>      weights after those 10 steps, for a few representative tensors
  adamw_losses          the same with torch.optim.AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0.05)
  adamw_final.<name>    weights after those 10 steps, for a few representative tensors

Invariant: the reference is computed in float64 from weights and inputs that are exactly representable
in float32 (drawn in float32, then widened), so the stored values are the true answer rounded once;
a float32 engine should match them to float32 accuracy. The script also reruns everything in
float32 PyTorch and prints its worst deviation from the float64 reference: that is the size of error
a correct float32 implementation is expected to show, which is what the C test's tolerances are set from.

Models (written here, no timm):
  resnet8   CIFAR ResNet with n = 1 (spec local-learning.md §0.1): stem conv3x3 3->16 + BN + ReLU,
            BasicBlocks 16/32/64 with strides 1/2/2, projection shortcut (conv1x1 + BN) when the shape
            changes, global average pool, Linear(64 -> 10).
  vit-micro patch 4, dim 48, depth 2, heads 2, MLP 96, CLS token, learned pos_embed, pre-norm blocks,
            LayerNorm eps 1e-6, exact (erf) GELU, final LayerNorm, head on the CLS token; timm names.
"""
import argparse
import copy
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from st_io import read_safetensors, write_safetensors

SEED = 20240611
BATCH, IN_C, IN_H, IN_W, CLASSES = 4, 3, 16, 16, 10
STEPS = 10
SGD_ARGS = dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
ADAMW_ARGS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)


# ----------------------------------------------------------------------------------------------------
# models

class BasicBlock(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != c:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, c, 1, stride, 0, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, n, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for s, (c, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, c, stride if i == 0 else 1))
                cin = c
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(h.mean(dim=(2, 3)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(n, t, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # N x T x D


class ViT(nn.Module):
    def __init__(self, img, patch, dim, depth, heads, hidden, classes):
        super().__init__()
        tokens = (img // patch) ** 2
        self.patch_embed = PatchEmbed(3, dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.patch_embed(x)
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1) + self.pos_embed
        h = self.norm(self.blocks(h))
        return self.head(h[:, 0])


# ----------------------------------------------------------------------------------------------------
# deterministic, well-scaled initial weights (drawn in float32 so that they are exact in the fixture)

def randn(gen, shape, std):
    return torch.randn(shape, generator=gen, dtype=torch.float32) * std


def uniform(gen, shape, lo, hi):
    return torch.rand(shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo


# Tensors drawn at a small scale so that a normalisation's eps visibly matters: the BN after
# layer2.0.conv2 sees a variance ~1e-3 and the first ViT LayerNorm ~1e-4, so an engine using the wrong
# eps (BN 1e-5, LayerNorm 1e-6) misses the reference by far more than the tolerance.
SMALL = {"layer2.0.conv2.weight": 0.03, "patch_embed.proj.weight": 0.02, "cls_token": 0.02, "pos_embed": 0.02}


def init_weights(model, gen):
    """Conv: He normal fan-out; linear: N(0, 1/fan_in) weights and small biases; norm layers: gamma in
    [0.6, 1.4], beta in [-0.2, 0.2]; BN running stats non-trivial (mean N(0, 0.1), var in [0.5, 2]);
    ViT tokens/positions N(0, 0.5) so that attention is far from uniform; then SMALL's tensors scaled."""
    sd = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            sd[name] = t
            continue
        shape = tuple(t.shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "weight" and len(shape) == 4:
            fan_out = shape[0] * shape[2] * shape[3]
            v = randn(gen, shape, math.sqrt(2.0 / fan_out))
        elif leaf == "weight" and len(shape) == 2:
            v = randn(gen, shape, 1.0 / math.sqrt(shape[1]))
        elif leaf == "weight":  # BN / LayerNorm gamma
            v = uniform(gen, shape, 0.6, 1.4)
        elif leaf == "bias":
            v = uniform(gen, shape, -0.2, 0.2)
        elif leaf == "running_mean":
            v = randn(gen, shape, 0.1)
        elif leaf == "running_var":
            v = uniform(gen, shape, 0.5, 2.0)
        elif leaf in ("cls_token", "pos_embed"):
            v = randn(gen, shape, 0.5)
        else:
            raise ValueError("no init rule for " + name)
        sd[name] = (v * SMALL.get(name, 1.0)).to(t.dtype)
    model.load_state_dict(sd)


# ----------------------------------------------------------------------------------------------------
# reference computation

def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def run_reference(model0, x, y, final_names):
    """Everything the fixture holds, computed with model0's dtype. Returns an ordered dict name -> tensor."""
    out = {}
    for k, v in state(model0).items():
        out["w." + k] = v
    out["x"] = x
    out["y"] = y.to(x.dtype)

    m = copy.deepcopy(model0).eval()
    with torch.no_grad():
        logits_eval = m(x)

    m = copy.deepcopy(model0).train()
    logits = m(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    for k, p in m.named_parameters():
        out["g." + k] = p.grad.detach().clone()
    out["logits_eval"] = logits_eval
    for k, v in m.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            out["rm." + k] = v.detach().clone()

    for tag, cls, args in (("sgd", torch.optim.SGD, SGD_ARGS), ("adamw", torch.optim.AdamW, ADAMW_ARGS)):
        m = copy.deepcopy(model0).train()
        opt = cls(m.parameters(), **args)
        losses = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[tag + "_losses"] = torch.tensor(losses, dtype=x.dtype)
        sd = state(m)
        for k in final_names:
            out[tag + "_final." + k] = sd[k]
    return out


# ----------------------------------------------------------------------------------------------------

MODELS = {
    "resnet8": dict(
        build=lambda: ResNetCifar(1, CLASSES),
        final=["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
               "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight",
               "layer3.0.bn2.weight", "layer3.0.bn2.bias", "layer3.0.bn2.running_var", "fc.weight", "fc.bias"],
        meta={"arch": "resnet8", "blocks_per_stage": "1", "widths": "16,32,64", "strides": "1,2,2"}),
    "vit-micro": dict(
        build=lambda: ViT(IN_H, 4, 48, 2, 2, 96, CLASSES),
        final=["patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
               "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias",
               "blocks.1.norm2.bias", "blocks.1.mlp.fc1.bias", "blocks.1.mlp.fc2.weight",
               "norm.weight", "norm.bias", "head.weight", "head.bias"],
        meta={"arch": "vit-micro", "patch": "4", "dim": "48", "depth": "2", "heads": "2", "mlp": "96",
              "ln_eps": "1e-6", "gelu": "erf"}),
}


def max_rel_dev(a, b):
    """Worst |a - b| / (max|b| + tiny) per tensor, over all tensors: float32 vs float64 reference."""
    worst, where = 0.0, ""
    for k in b:
        if k in ("x", "y") or k.startswith("w."):
            continue
        d = (a[k].double() - b[k].double()).abs().max().item() / (b[k].double().abs().max().item() + 1e-30)
        if d > worst:
            worst, where = d, k
    return worst, where


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for arch, cfg in MODELS.items():
        gen = torch.Generator().manual_seed(SEED)
        model = cfg["build"]()
        init_weights(model, gen)
        x = torch.randn((BATCH, IN_C, IN_H, IN_W), generator=gen, dtype=torch.float32)
        y = torch.tensor([3, 7, 0, 9], dtype=torch.long)

        ref = run_reference(copy.deepcopy(model).double(), x.double(), y, cfg["final"])
        f32 = run_reference(copy.deepcopy(model).float(), x.float(), y, cfg["final"])
        worst, where = max_rel_dev(f32, ref)

        meta = dict(cfg["meta"], seed=str(SEED), batch=str(BATCH), input="%dx%dx%d" % (IN_C, IN_H, IN_W),
                    classes=str(CLASSES), steps=str(STEPS), sgd=json.dumps(SGD_ARGS), adamw=json.dumps(ADAMW_ARGS),
                    computed="float64 (torch %s), stored as float32" % torch.__version__)
        path = os.path.join(args.out, "golden_%s.safetensors" % arch)
        write_safetensors(path, ref, meta)

        back, _ = read_safetensors(path)
        assert list(back.keys()) == list(ref.keys())
        for k, v in ref.items():
            assert torch.equal(back[k].reshape(-1), v.float().reshape(-1)), k
        n_params = sum(p.numel() for p in model.parameters())
        print("%s: %d params, %d tensors, %d bytes -> %s" % (arch, n_params, len(ref), os.path.getsize(path), path))
        print("  loss %.6f  sgd %.4f -> %.4f  adamw %.4f -> %.4f" % (
            ref["loss"].item(), ref["sgd_losses"][0].item(), ref["sgd_losses"][-1].item(),
            ref["adamw_losses"][0].item(), ref["adamw_losses"][-1].item()))
        print("  float32 torch vs float64 reference: worst max|diff|/max|ref| = %.2e (%s)" % (worst, where))


if __name__ == "__main__":
    main()
