#!/usr/bin/python3
"""Writes tests/fixtures/svhn_scipy_32x32.mat with scipy.io.savemat (an independent MAT v5 writer), for
tests/test_data_svhn.c: X = 32 x 32 x 3 x 3 uint8 where pixel (row y, col x, channel c, image k) is
dw_pix(k, c, y, x) of tests/data_writers.h, y = [[10], [1], [2]] as doubles (SVHN's 10 = digit 0).
Run with Debian's interpreter: /usr/bin/python3 tools/ref/make_svhn_fixture.py"""
import numpy as np
import scipy.io

def dw_pix(k, c, y, x):
    return (k * 37 + c * 85 + y * 3 + x * 7 + (x * y) % 5) % 256

X = np.zeros((32, 32, 3, 3), dtype=np.uint8)
for k in range(3):
    for c in range(3):
        for y in range(32):
            for x in range(32):
                X[y, x, c, k] = dw_pix(k, c, y, x)
scipy.io.savemat("tests/fixtures/svhn_scipy_32x32.mat", {"X": X, "y": np.array([[10.0], [1.0], [2.0]])},
                 do_compression=True, format="5")
