"""st_io.py — the safetensors writer and reader shared by the fixture scripts in tools/ref/ (spec
data-formats.md §7): u64 LE header length, JSON header padded with spaces so that the data starts 8-byte
aligned, then the F32 little-endian tensors back to back, no holes. Uses only json + struct (Debian has no
python3-safetensors)."""
import json
import struct

import torch


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().reshape(-1)
        data = struct.pack("<%df" % a.numel(), *a.tolist())
        shape = list(t.shape) if t.dim() > 0 else [1]
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        vals = struct.unpack("<%df" % ((end - b) // 4), raw[base + b:base + end])
        out[name] = torch.tensor(vals, dtype=torch.float32).reshape(e["shape"])
    return out, meta
