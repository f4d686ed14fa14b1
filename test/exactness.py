#!/usr/bin/env python3
"""How far the engine's fast paths are from the exact walk, on a real file.

    python test/exactness.py FILE RADIUS DECAY WIDTH

Combines FILE's points (``-W WIDTH``) twice: as ``heatmap.py`` does, and with
the FFT sums and the dense walk of unit points switched off, so that every
pixel is the sort-based reduction, bit for bit the original's sequential sum.
Prints how many pixel values differ, by how much (relative to the pixel and
to the largest value) and how many colour indices (of 256) change.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import heatmap as hm  # noqa: E402


def values(config, exact):
    geometry, acc = hm._read_and_bin(config, hm.read(config.files, config, lenient=False))
    entries, segments, counts = acc.result()
    engine = hm._Engine(config)
    if exact:
        engine._sums_pay = lambda *args: False
        hm._dense_pays = lambda *args: False
    return engine.run(entries, segments, geometry.window(), False, counts)[:2]


def main(path, radius, decay, width):
    config = hm.Config(files=[path], width=int(width), radius=int(radius), decay=float(decay))
    fast, most_fast = values(config, False)
    exact, most = values(config, True)
    held = exact != 0
    rel = np.abs(fast - exact)[held] / np.abs(exact[held])
    changed = hm._colour_index(fast[held], most_fast, 256) != hm._colour_index(exact[held], most, 256)
    print("%s -r %s -d %s -W %s: %d pixels with heat, %d values differ (%.1f %%), at most "
          "%.2e of the value and %.2e of the largest; largest equal: %s; zero pixels equal: %s; "
          "colour indices changed: %d" % (
              os.path.basename(path), radius, decay, width, held.sum(), (fast != exact).sum(),
              100 * (fast != exact).sum() / held.sum(), rel.max(initial=0),
              np.abs(fast - exact).max() / most, most_fast == most,
              np.array_equal(fast == 0, exact == 0), changed.sum()))


if __name__ == "__main__":
    main(*sys.argv[1:5])
