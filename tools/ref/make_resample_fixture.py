#!/usr/bin/python3
"""Writes tests/fixtures/resample_pil.bin: Pillow's Image.resize(BILINEAR, box=...) outputs for the cases of
tests/test_data_resample.c, the reference for src/data/transform.c's antialiased bilinear resample (what
torchvision's Resize / RandomResizedCrop do on PIL images). The input image of a case is W x H RGB with
pixel (y, x, c) = dw_pix(k, c, y, x) of tests/data_writers.h; the file holds each case's S x S x 3 output
(row-major, R G B) one after the other. Run with Debian's interpreter (python3-pil):
/usr/bin/python3 tools/ref/make_resample_fixture.py"""
from PIL import Image

CASES = [  # k, W, H, box (x, y, w, h), S
    (0, 37, 23, (0.0, 0.0, 37.0, 23.0), 16),
    (1, 40, 30, (5.0, 3.0, 20.0, 17.0), 24),
    (2, 100, 80, (10.5, 7.25, 60.3, 50.1), 16),
    (3, 64, 48, (0.0, 0.0, 64.0, 48.0), 64),
    (4, 300, 200, (58.0, 16.0, 224.0, 170.0), 32),
]

def dw_pix(k, c, y, x):
    return (k * 37 + c * 85 + y * 3 + x * 7 + (x * y) % 5) % 256

out = bytearray()
for k, w, h, (bx, by, bw, bh), s in CASES:
    img = Image.new("RGB", (w, h))
    img.putdata([(dw_pix(k, 0, y, x), dw_pix(k, 1, y, x), dw_pix(k, 2, y, x)) for y in range(h) for x in range(w)])
    r = img.resize((s, s), resample=Image.BILINEAR, box=(bx, by, bx + bw, by + bh))
    out += r.tobytes()
open("tests/fixtures/resample_pil.bin", "wb").write(bytes(out))
