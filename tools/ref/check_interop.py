#!/usr/bin/python3
"""check_interop.py — does a locus export load into PyTorch and give locus's logits?

    /usr/bin/python3 tools/ref/check_interop.py --check ARCH W.safetensors IO.safetensors [--check ...]

ARCH: resnet8/20/32/44/56/110, vit-micro or vit-tiny. W: a state dict written by `locus export --format safetensors` (or state_dict_save); IO: "x" (N x C x H x W)
and "logits" (what locus computed on x with those weights). Builds make_golden.py's reference module for
the architecture and input, loads W with load_state_dict(strict=True), runs it in eval mode and compares.
Exit 0: match (max|diff| <= tol * max|logits|); 1: mismatch or load error; 77: torch is not installed
(tests/test_interop.c then skips this direction). Prints one line with the numbers.
"""
import argparse
import os
import sys

try:
    import torch
except ImportError:
    print("check_interop: python3-torch is not installed (apt-get install python3-torch); skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import ResNetCifar, ViT  # noqa: E402
from st_io import read_safetensors  # noqa: E402


def build(arch, c, h, classes):
    if arch.startswith("resnet"):
        n = (int(arch[6:]) - 2) // 6
        m = ResNetCifar(n, classes)
        m.conv1 = torch.nn.Conv2d(c, 16, 3, 1, 1, bias=False)
        return m
    dims = {"vit-micro": (48, 2, 2, 96), "vit-tiny": (192, 6, 3, 768)}[arch]
    m = ViT(h, 4, *dims, classes)
    m.patch_embed.proj = torch.nn.Conv2d(c, dims[0], 4, 4)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", nargs=3, action="append", required=True, metavar=("ARCH", "WEIGHTS", "IO"),
                    help="one model to check (repeatable: torch is imported once)")
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    failed = 0
    for arch, weights, io_path in a.check:
        sd, _ = read_safetensors(weights)
        io, _ = read_safetensors(io_path)
        x, want = io["x"], io["logits"]
        model = build(arch, x.shape[1], x.shape[2], want.shape[1])
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            print("check_interop %s: load_state_dict(strict=True) failed: %s" % (arch, e))
            failed += 1
            continue
        with torch.no_grad():
            got = model.eval()(x)
        diff = (got - want).abs().max().item()
        rel = diff / want.abs().max().item()
        ok = rel <= a.tol
        failed += not ok
        print("check_interop %s: PyTorch load_state_dict(strict=True) ok; logits max|torch - locus| = %.3g "
              "(%.3g of max|logit|, tol %.0e): %s" % (arch, diff, rel, a.tol, "ok" if ok else "MISMATCH"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
