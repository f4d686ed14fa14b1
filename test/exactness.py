#!/usr/bin/env python3
"""How far the engine's fast paths are from the exact walk, on a real file.

    python test/exactness.py FILE RADIUS DECAY WIDTH
    python test/exactness.py --tiles ZOOM RADIUS DECAY KERNEL FILE...

Combines FILE's points (``-W WIDTH``) twice: as ``heatmap.py`` does, and with
the FFT sums and the dense walk of unit points switched off, so that every
pixel is the sort-based reduction, bit for bit the original's sequential sum.
Prints how many pixel values differ, by how much (relative to the pixel and
to the largest value) and how many colour indices (of 256) change.

``--tiles``: one zoom of a tile pyramid, where short track segments may be counted as
points (``_counted``), against the segment engine: how far values and colours move.
"""
import os
import sys
import time

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


def tiles(zoom, radius, decay, kernel, *files):
    config = hm.Config(files=list(files), radius=int(radius), decay=float(decay), kernel=kernel)
    ppd = hm._zoom_ppd(int(zoom))
    acc = hm._Accumulator((0, 0, 0, 0))
    for batch in hm._input_batches(config):
        hm._project_batch(config, batch, ppd, acc)
    entries, segments, counts = acc.result()
    ends = segments[:, :4]
    window = tuple(int(v) for v in (
        np.floor(ends[:, [0, 2]].min()) - config.radius - 2, np.floor(ends[:, [1, 3]].min()) -
        config.radius - 2, np.ceil(ends[:, [0, 2]].max()) + config.radius + 3,
        np.ceil(ends[:, [1, 3]].max()) + config.radius + 3))
    start = time.process_time()
    exact, top = hm._Engine(config).run(entries, segments, window)[:2]
    middle = time.process_time()
    fast, fast_top = hm._Engine(config, counted=True).run(entries, segments, window)[:2]
    seconds = (middle - start, time.process_time() - middle)
    lit = (exact > 0) | (fast > 0)
    levels = np.abs(hm._colour_index(exact[lit], top, 256).astype(int)
                    - hm._colour_index(fast[lit], fast_top, 256).astype(int))
    length = np.hypot(ends[:, 2] - ends[:, 0], ends[:, 3] - ends[:, 1])
    print("zoom %s -r %s -d %s %s: segments median %.2f px; %d lit pixels; values at most "
          "%.3f of the largest apart, largest %+.3f; colour changed in %.1f %% of lit pixels, "
          "mean %.2f, 99th percentile %d, at most %d levels of 256" % (
              zoom, radius, decay, kernel, np.median(length), lit.sum(),
              np.abs(fast - exact).max() / top, fast_top / top - 1, 100 * np.mean(levels > 0),
              levels.mean(), np.percentile(levels, 99), levels.max()))
    print("CPU seconds: segment engine %.1f, counted %.1f" % seconds)


if __name__ == "__main__":
    if sys.argv[1] == "--tiles":
        tiles(*sys.argv[2:])
    else:
        main(*sys.argv[1:5])
