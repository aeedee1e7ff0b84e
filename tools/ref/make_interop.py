#!/usr/bin/python3
"""make_interop.py — PyTorch fixtures for the weights-in/weights-out tests (tests/test_interop.c).

Writes, in tests/fixtures/ (run by hand with Debian's python3-torch; deterministic for a torch version):

  interop_resnet8.safetensors    resnet8's state_dict exactly as PyTorch has it, F32, including the
                                 BatchNorms' num_batches_tracked (I64 scalars) that locus ignores
  interop_vit-micro.safetensors  vit-micro's state_dict stored as F16 (locus converts on load)
  interop_io.safetensors         x: a batch 4 x 1 x 28 x 28 (Fashion-MNIST geometry, so the same files
                                 also work with `locus train --init-from`), and per model
                                 logits.<arch>: eval-mode logits of those weights, computed in float64
                                 from the stored (float32-exact) values, stored as F32

The models and the weight init are make_golden.py's (PyTorch state_dict / timm names), with 1 input
channel, 28 x 28 images and 10 classes.
"""
import argparse
import copy
import os
import struct
import json

import torch

from make_golden import SEED, ResNetCifar, ViT, init_weights
from st_io import read_safetensors, write_safetensors

BATCH, IN_C, IN_H, IN_W, CLASSES = 4, 1, 28, 28, 10

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64"}


def write_state_dict(path, sd, metadata):
    """safetensors with every tensor in its own dtype (as safetensors.torch.save_file writes them)."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in sd.items():
        t = t.detach().contiguous()
        data = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def patch_first_conv(model):
    """make_golden's models take 3 channels; the fixtures use 1 (Fashion-MNIST)."""
    if hasattr(model, "conv1"):
        model.conv1 = torch.nn.Conv2d(IN_C, 16, 3, 1, 1, bias=False)
    else:
        model.patch_embed.proj = torch.nn.Conv2d(IN_C, model.patch_embed.proj.out_channels, 4, 4)
    return model


MODELS = {
    "resnet8": (lambda: patch_first_conv(ResNetCifar(1, CLASSES)), torch.float32),
    "vit-micro": (lambda: patch_first_conv(ViT(IN_H, 4, 48, 2, 2, 96, CLASSES)), torch.float16),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "tests", "fixtures")))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn((BATCH, IN_C, IN_H, IN_W), generator=gen, dtype=torch.float32)
    io = {"x": x}
    for arch, (build, dtype) in MODELS.items():
        model = build()
        init_weights(model, gen)
        sd = model.state_dict()
        # what the file holds, and the float32 values locus will see after converting it
        stored = {k: (v if k.endswith("num_batches_tracked") else v.to(dtype)) for k, v in sd.items()}
        model.load_state_dict({k: v.to(sd[k].dtype) for k, v in stored.items()}, strict=True)
        path = os.path.join(args.out, "interop_%s.safetensors" % arch)
        write_state_dict(path, stored, {"format": "pt", "arch": arch, "input": "%dx%dx%d" % (IN_C, IN_H, IN_W)})
        ref = copy.deepcopy(model).double().eval()
        f32 = copy.deepcopy(model).float().eval()
        with torch.no_grad():
            logits = ref(x.double())
            dev = (f32(x) - logits).abs().max().item() / logits.abs().max().item()
        io["logits." + arch] = logits.float()
        print("%s: %d tensors (%s), %d bytes -> %s; float32 torch vs float64: max|diff|/max|ref| = %.2e" % (
            arch, len(stored), DTYPES[dtype], os.path.getsize(path), path, dev))
    path = os.path.join(args.out, "interop_io.safetensors")
    write_safetensors(path, io, {"seed": str(SEED + 1), "computed": "float64 (torch %s), eval mode" % torch.__version__})
    back, _ = read_safetensors(path)
    for k, v in io.items():
        assert torch.equal(back[k], v.float()), k
    print("io: x %s + logits -> %s (%d bytes)" % (list(x.shape), path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
