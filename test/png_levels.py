#!/usr/bin/env python3
"""Bytes and time of our PNG writer at zlib levels 6 and 3, and of Pillow's at 6 and 1.

    python test/png_levels.py PICTURE.png ...

Each is the median of 7 writes to memory, in this process (see BENCHMARKS.md, "PNG writing").
"""
import io
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import heatmap as hm  # noqa: E402


def write(pixels, who, level):
    out = io.BytesIO()
    start = time.perf_counter()
    if who == "ours":
        hm._png_stream(out, pixels, None, None, level)
    else:
        Image.fromarray(pixels).save(out, format="PNG", compress_level=level)
    return out.tell(), time.perf_counter() - start


for name in sys.argv[1:]:
    pixels = np.asarray(Image.open(name))
    rows = []
    for who, level in (("ours", 6), ("ours", 3), ("Pillow", 6), ("Pillow", 1)):
        runs = [write(pixels, who, level) for _ in range(7)]
        rows.append("%s at %d: %d bytes, %.1f ms" % (who, level, runs[0][0],
                                                   1000 * sorted(r[1] for r in runs)[3]))
    print("%s %s: %s" % (name, pixels.shape, "; ".join(rows)))
