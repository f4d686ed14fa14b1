#!/usr/bin/env python3
"""Bytes and time of our PNG writer at zlib levels 6 and 3, and of Pillow's at 6 and 1; or the
bytes a folder of palette tiles could shrink to without changing a pixel.

    python test/png_levels.py PICTURE.png ...
    python test/png_levels.py --tiles FOLDER [--peer FOLDER]

Each picture's figure is the median of 7 writes to memory, in this process. ``--tiles``
re-encodes each palette tile's indices with every PNG filter (one for all rows) at zlib levels
4 (ours) and 9, with zopfli when it is installed (``pip install zopfli``), and, as floors that
no PNG can reach, bz2 and xz of the "up"-filtered rows; ``--peer``: bytes as a multiple of
that folder's PNGs (see BENCHMARKS.md, "PNG writing" and "Speed where users wait").
"""
import bz2
import io
import lzma
import os
import sys
import time
import zlib

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


def pictures(names):
    for name in names:
        pixels = np.asarray(Image.open(name))
        rows = []
        for who, level in (("ours", 6), ("ours", 3), ("Pillow", 6), ("Pillow", 1)):
            runs = [write(pixels, who, level) for _ in range(7)]
            rows.append("%s at %d: %d bytes, %.1f ms" % (who, level, runs[0][0],
                                                       1000 * sorted(r[1] for r in runs)[3]))
        print("%s %s: %s" % (name, pixels.shape, "; ".join(rows)))


def filtered(index, kind):
    """PNG filter ``kind`` (0 none .. 4 Paeth) on every row of uint8 (h, w), each row led by it."""
    a = index.astype(np.int16)
    left, up, corner = (np.zeros_like(a) for _ in range(3))
    left[:, 1:], up[1:], corner[1:, 1:] = a[:, :-1], a[:-1], a[:-1, :-1]
    guess = [0, left, up, (left + up) // 2, None][kind]
    if kind == 4:
        p = left + up - corner
        near_left = (abs(p - left) <= abs(p - up)) & (abs(p - left) <= abs(p - corner))
        guess = np.where(near_left, left, np.where(abs(p - up) <= abs(p - corner), up, corner))
    rows = ((a - guess) & 255).astype(np.uint8)
    return np.concatenate([np.full((a.shape[0], 1), kind, np.uint8), rows], 1).tobytes()


def encoders():
    """{name: (bytes -> compressed bytes, filters)}: PNG's zlib streams, then the floors."""
    every, up, paeth = range(5), (2,), (4,)   # zopfli: Paeth alone (about 0.3 s a tile)
    found = {"zlib 4": (lambda b: zlib.compress(b, 4), every),
             "zlib 9": (lambda b: zlib.compress(b, 9), every)}
    try:
        import zopfli.zlib
        found["zopfli"] = (zopfli.zlib.compress, paeth)
    except ImportError:
        print("(zopfli is not installed: pip install zopfli)")
    found["bz2 (not PNG)"] = (lambda b: bz2.compress(b, 9), up)
    found["xz (not PNG)"] = (lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME), up)
    return found


def png_files(folder):
    return [os.path.join(root, name) for root, _, names in os.walk(folder)
            for name in sorted(names) if name.endswith(".png")]


def outside_idat(path):
    """Bytes of a PNG file outside its IDAT chunks' data (signature, headers, palette, CRCs)."""
    with open(path, "rb") as f:
        data = f.read()
    at, inside = 8, 0
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        inside += length if data[at + 4:at + 8] == b"IDAT" else 0
        at += length + 12
    return len(data) - inside


def tiles(folder, peer):
    files, codecs, sizes = png_files(folder), encoders(), {}
    written = sum(os.path.getsize(f) for f in files)
    for path in files:
        image = Image.open(path)
        if image.mode != "P":
            sys.exit("%s: not a palette tile" % path)
        index, header = np.asarray(image), outside_idat(path)
        for name, (codec, kinds) in codecs.items():
            row = sizes.setdefault(name, {})
            for kind in kinds:
                row[kind] = row.get(kind, 0) + header + len(codec(filtered(index, kind)))
    scale = sum(os.path.getsize(f) for f in png_files(peer)) if peer else None
    print("%d tiles, %d bytes as written%s" % (len(files), written, " (%.2f of the peer's)" % (
        written / scale) if scale else ""))
    names = ["none", "sub", "up", "average", "Paeth"]
    for name, row in sizes.items():
        for kind, total in sorted(row.items()):
            print("%-14s %-8s %10d bytes  %.3f of ours%s" % (
                name, names[kind], total, total / written,
                "  %.2f of the peer's" % (total / scale) if scale else ""))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--tiles"]:
        tiles(sys.argv[2], sys.argv[4] if sys.argv[3:4] == ["--peer"] else None)
    else:
        pictures(sys.argv[1:])
