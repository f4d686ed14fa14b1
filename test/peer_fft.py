#!/usr/bin/env python3
"""A competent NumPy + FFT heat map script: the peer test/bench.py times -d 1 against.

    python test/peer_fft.py FILE WIDTH RADIUS OUT.png

Reads ``lat lon [weight]`` lines with numpy.loadtxt, projects them (Web
Mercator, truncated to whole pixels, the picture WIDTH wide plus RADIUS of
padding on each side), bins them with np.bincount, convolves the (weighted)
count grid with the linear kernel 1 - d/r by real FFTs, colours the sums
with a 256-step table and writes the PNG with Pillow (default level 6).  It
is what one would write by hand for a decay-1 heat map, with no exactness
work: the floor ours is compared with.
"""
import math
import sys

import numpy as np
from PIL import Image


def main(path, width, radius, out):
    data = np.loadtxt(path, ndmin=2)
    lat, lon = data[:, 0], data[:, 1]
    weight = data[:, 2] if data.shape[1] > 2 else None
    x = np.radians(lon)
    y = -np.log(np.tan(math.pi / 4 + np.radians(lat) / 2))
    scale = (width - 1 - 2 * radius) / (x.max() - x.min())
    ix = np.trunc((x - x.min()) * scale).astype(np.int64) + radius
    iy = np.trunc((y - y.min()) * scale).astype(np.int64) + radius
    height = int(iy.max()) + 1 + radius
    mass = np.bincount(iy * width + ix, weight, width * height).reshape(height, width)
    span = np.arange(-radius, radius + 1)
    kernel = np.maximum(1 - np.hypot(*np.meshgrid(span, span)) / radius, 0)
    shape = (height + 2 * radius, width + 2 * radius)
    sums = np.fft.irfft2(np.fft.rfft2(mass, shape) * np.fft.rfft2(kernel, shape), shape)
    sums = sums[radius:radius + height, radius:radius + width]
    sums[sums < 1e-9] = 0
    steps = np.linspace(0, 1, 256)
    table = np.zeros((256, 4), np.uint8)
    table[:, 0] = 255
    table[:, 1] = (steps * 170).astype(np.uint8)
    table[:, 3] = (steps * 255).astype(np.uint8)
    index = (sums / sums.max() * 255).astype(np.uint8)
    rgba = table[index]
    rgba[sums == 0] = 0
    Image.fromarray(rgba, "RGBA").save(out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
