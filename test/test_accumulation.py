"""The engine's fast paths against the original's rule, written out.

``original_values`` is heatmap77's accumulation loop by loop: every point
adds weight * heat over its whole (2r+1)-square (zero corners included),
every segment adds its nonzero heat, and each pixel's list is sorted
descending and summed with the running weight 1, d, d*d, ...
"""
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import heatmap as hm


def kernel_heat(kernel, d, r):
    if d >= r:
        return 0.0
    return 1.0 - d / float(r) if kernel == "linear" else math.e ** (-d * (math.log(256) / r))


def segment_distance(sx, sy, ex, ey, px, py):
    """The original's distance, but sqrt(x*x + y*y) for its math.hypot: the
    engine's documented last step (at most one unit in the last place apart)."""
    dx, dy = ex - sx, ey - sy
    length2 = float(dx * dx + dy * dy)
    u = 0.0 if length2 == 0 else min(1.0, max(0.0, ((px - sx) * dx + (py - sy) * dy) / length2))
    x, y = sx + u * dx - px, sy + u * dy - py
    return math.sqrt(x * x + y * y)


def original_values(points, segments, kernel, radius, decay):
    """{(x, y): value}: points (x, y, weight, count), segments (x1, y1, x2, y2[, weight])."""
    lists = {}
    for x, y, w, count in points:
        for dx in range(-radius, radius + 1):
            for dy in range(-radius, radius + 1):
                heat = kernel_heat(kernel, math.hypot(dx, dy), radius)
                lists.setdefault((x + dx, y + dy), []).extend([w * heat] * count)
    for seg in segments:
        sx, sy, ex, ey = seg[:4]
        w = seg[4] if len(seg) > 4 else 1.0
        for px in range(int(min(sx, ex) - radius), int(max(sx, ex) + radius + 1)):
            for py in range(int(min(sy, ey) - radius), int(max(sy, ey) + radius + 1)):
                heat = kernel_heat(kernel, segment_distance(sx, sy, ex, ey, px, py), radius)
                if heat:
                    lists.setdefault((px, py), []).append(w * heat)
    out = {}
    for pixel, values in lists.items():
        total, weight = 0.0, 1.0
        for v in sorted(values, reverse=True):
            total += v * weight
            weight *= decay
        out[pixel] = total
    return out


def as_grid(values, window):
    x0, y0, x1, y1 = window
    grid = np.zeros((y1 - y0, x1 - x0))
    for (x, y), v in values.items():
        if x0 <= x < x1 and y0 <= y < y1:
            grid[y - y0, x - x0] = v
    return grid


def engine_grid(points, segments, kernel, radius, decay, window):
    entries = hm._aggregate(hm._BinnedPoints(*(np.array(c, dtype=t) for c, t in zip(
        zip(*points), (np.int64, np.int64, np.float64, np.int64))))) if points else hm._empty_entries()
    segs = np.array(segments, dtype=np.float64) if segments else np.empty((0, 4))
    engine = hm._Engine(hm.Config(kernel=kernel, radius=radius, decay=decay))
    return engine.run(entries, segs, window)[0]


def test_kernel_grid_matches_math_hypot():
    # np.hypot differs from the original's math.hypot in the last bit at 2 offsets
    # within r=30 and 69 within r=150
    r = 150
    grid = hm._kernel_grid("linear", r)
    expected = np.array([[kernel_heat("linear", math.hypot(dx, dy), r)
                          for dx in range(-r, r + 1)] for dy in range(-r, r + 1)])
    assert np.array_equal(grid, expected)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95])
def test_negative_weights_rank_after_the_zero_corners(decay):
    # a CSV weight column with one value below zero: the zero-heat corners of
    # every point's square come before the negative values in a pixel's list
    points = [(0, 0, 2.0, 1), (9, 3, -1.0, 1), (6, 1, 3.0, 1), (2, 7, 1.5, 1), (9, 9, 0.0, 1)]
    window = (-8, -8, 18, 18)
    want = as_grid(original_values(points, [], "linear", 6, decay), window)
    got = engine_grid(points, [], "linear", 6, decay, window)
    assert np.array_equal(got, want)
    assert want.min() < 0 or decay == 0.0


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12),
                          st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0]), st.integers(1, 3)),
                min_size=1, max_size=12),
       st.sampled_from([0.0, 0.3, 0.9]), st.integers(1, 5), st.sampled_from(["linear", "gaussian"]))
def test_signed_weights_are_bit_exact(points, decay, radius, kernel):
    window = (-6, -6, 19, 19)
    want = as_grid(original_values(points, [], kernel, radius, decay), window)
    assert np.array_equal(engine_grid(points, [], kernel, radius, decay, window), want)


def test_points_heat_only_the_overlap_of_their_square():
    # one point with a huge kernel: a small piece computes only its own pixels
    engine = hm._Engine(hm.Config(radius=900, decay=0.5))
    entries = hm._BinnedPoints(np.array([0]), np.array([0]), np.array([2.0]), np.array([3]))
    keys, values, counts = hm._point_heat(entries, (100, 40, 116, 56), engine.grid)
    assert keys.size == 16 * 16 and counts.tolist() == [3] * 256
    assert values.max() == pytest.approx(2 * (1 - math.hypot(100, 40) / 900))


def test_count_grid_counts_band_by_band():
    # a grid of more than 2**22 pixels: points are counted band by band, and only
    # when enough have come
    grid = hm._CountGrid((0, 0, 2500, 2000), 2500 * 2000)
    rng = np.random.default_rng(5)
    ix, iy = rng.integers(0, 2500, 300000), rng.integers(0, 2000, 300000)
    expected = np.zeros((2000, 2500), np.int64)
    np.add.at(expected, (iy, ix), 1)
    for part in range(3):
        grid.add(ix[part::3], iy[part::3])
    grid._count()
    assert grid.counts.dtype == np.int32 and grid.total == 300000
    assert np.array_equal(grid.counts, expected)


# ---- decay 1: sums by FFT ----
def exact_sums(mass, kernel):
    """The sums _point_sums computes, by loops over the kernel (as the walk would)."""
    r = kernel.shape[0] // 2
    h, w = mass.shape[0] - 2 * r, mass.shape[1] - 2 * r
    out = np.zeros((h, w))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out += kernel[dy + r, dx + r] * mass[r - dy:r - dy + h, r - dx:r - dx + w]
    return out


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 6), st.sampled_from(["linear", "gaussian"]), st.integers(0, 2 ** 32 - 1),
       st.sampled_from([1.0, 50.0, 1e12]))
def test_fft_sums_match_the_walk_and_leave_unreached_pixels_zero(radius, kernel, seed, spread):
    rng = np.random.default_rng(seed)
    mass = np.zeros((int(rng.integers(2 * radius + 1, 40)), int(rng.integers(2 * radius + 1, 40))))
    n = int(rng.integers(1, 12))
    # weights from 1 to ``spread``: at 1e12 round-off can pass the smallest value,
    # and the pixels reached are found by convolving the supports instead
    mass[rng.integers(0, mass.shape[0], n), rng.integers(0, mass.shape[1], n)] = \
        np.exp(rng.uniform(0, np.log(spread), n))
    grid = hm._kernel_grid(kernel, radius)
    want = exact_sums(mass, grid)
    got = hm._point_sums(mass, grid, {})
    assert np.array_equal(got == 0, want == 0)
    assert np.allclose(got, want, rtol=1e-9, atol=0) or spread > 1e6
    assert np.allclose(got, want, rtol=0, atol=1e-3 * want.max())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_segments", [False, True])
def test_decay_1_by_fft_equals_the_exact_walk(monkeypatch, weighted, with_segments):
    rng = np.random.default_rng(7)
    n = 300
    points = list(zip(rng.integers(0, 300, n).tolist(), rng.integers(0, 200, n).tolist(),
                      (rng.choice([0.5, 2.0, -1.0], n) if weighted else np.ones(n)).tolist(),
                      rng.integers(1, 3, n).tolist()))
    segments = rng.uniform(0, 300, (20, 4)).tolist() if with_segments else []
    window = (-20, -20, 330, 230)
    monkeypatch.setattr(hm._Engine, "_sums_pay", lambda *a: False)
    exact = engine_grid(points, segments, "linear", 9, 1.0, window)
    monkeypatch.setattr(hm._Engine, "_sums_pay", lambda *a: True)
    monkeypatch.setattr(hm, "_FFT_PIXELS", 300 ** 2)   # several blocks
    fast = engine_grid(points, segments, "linear", 9, 1.0, window)
    assert np.allclose(fast, exact, rtol=1e-12, atol=1e-12 * exact.max())
    assert np.array_equal(fast == 0, exact == 0) or weighted   # signed sums may cancel


@pytest.mark.parametrize("decay", ["0.5", "1"])
@pytest.mark.parametrize("save", [False, True])
def test_weights_near_the_float_limit_are_an_error(run, write, tmp_path, decay, save):
    write("big.csv", "47.6,-122.3,1e308\n47.6001,-122.3001,1.5e308\n47.7,-122.2,1\n")
    out = ["-S", "s.npz"] if save else ["-o", "out.png"]
    code, err = run("-W", 100, "-d", decay, *out, "big.csv")
    assert code == 2
    assert err.strip().splitlines() == ["heatmap.py: error: the heat passes the largest number "
                                        "a float holds (about 1.8e308): make the weights smaller"]
    assert os.listdir(tmp_path) == ["big.csv"]


def test_the_largest_weights_that_fit_still_draw(run, write, pixels):
    write("big.csv", "47.6,-122.3,1e308\n47.7,-122.2,1\n")
    assert run("-W", 100, "-d", "0", "-o", "out.png", "big.csv")[0] == 0
    assert pixels("out.png")[1][..., 3].max() > 200


# ---- crowded segments: only what can matter is computed ----
def sorted_reduction(segments, rect, radius, decay):
    keys, heat, counts = hm._segment_heat(segments, radius, "linear", rect)
    if decay.depth is not None:
        keys, heat = np.repeat(keys, np.minimum(counts, decay.depth)), np.repeat(heat, counts)
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    return hm._reduce(keys, heat, None, w * h, decay).reshape(h, w)


@pytest.mark.parametrize("shape", ["pile", "crowd", "weighted crowd", "repeated"])
@pytest.mark.parametrize("decay", [0.0, 0.3])
def test_crowded_cells_are_bit_exact(shape, decay):
    # more segments per cell than ranks can matter: cells keep what can
    # (_pruned), then pixels do (_pixel_groups, or _pixel_support far from a pile)
    rng = np.random.default_rng(len(shape) + int(decay * 10))
    n = 600
    if shape == "pile":   # a logger left on one spot: segments criss-crossing one pixel
        points = rng.uniform(20.1, 20.9, (n + 1, 2))
        segments = np.hstack([points[:-1], points[1:]])
    else:
        starts = rng.uniform(5, 30, (n, 2))
        segments = np.hstack([starts, starts + rng.normal(0, 1.5, (n, 2))])
    if shape == "weighted crowd":
        segments = np.hstack([segments, rng.uniform(0.5, 2.0, (n, 1))])
    if shape == "repeated":
        segments[: n // 2] = segments[0]
    rect = (0, 0, 45, 41)
    d = hm._Decay(decay, n)
    assert d.depth * 4 < n
    cells = hm._segment_cells(segments, rect, 9, "linear", d)
    assert np.count_nonzero(cells) > 250
    assert np.array_equal(cells, sorted_reduction(segments, rect, 9, d))


def test_segment_weights_multiply_the_heat():
    # the coming --weight_by_time: one weight per segment, bit for bit the original's w * heat
    rng = np.random.default_rng(3)
    segments = np.hstack([rng.uniform(0, 20, (12, 4)), rng.uniform(0.1, 3.0, (12, 1))])
    window = (-6, -6, 27, 27)
    for decay in (0.0, 0.6, 1.0):
        want = as_grid(original_values([], segments.tolist(), "linear", 4, decay), window)
        got = engine_grid([], segments.tolist(), "linear", 4, decay, window)
        assert np.array_equal(got, want)
    mixed = engine_grid([(5, 5, 2.0, 1)], segments.tolist(), "linear", 4, 0.6, window)
    want = as_grid(original_values([(5, 5, 2.0, 1)], segments.tolist(), "linear", 4, 0.6), window)
    assert np.array_equal(mixed, want)


def test_accumulated_segment_weights_reach_the_engine():
    acc = hm._Accumulator((0, 0, 40, 40))
    acc.add_segments(np.array([5.0]), np.array([5.0]), np.array([9.0]), np.array([7.0]))
    acc.add_segments(np.array([20.0]), np.array([20.0]), np.array([22.0]), np.array([25.0]),
                     np.array([2.5]))
    segments = acc.result()[1]
    assert segments[:, 4].tolist() == [1.0, 2.5]
    got = hm._Engine(hm.Config(radius=3, decay=0.9)).run(hm._empty_entries(), segments,
                                                        (0, 0, 40, 40))[0]
    want = as_grid(original_values([], segments.tolist(), "linear", 3, 0.9), (0, 0, 40, 40))
    assert np.array_equal(got, want)


@pytest.mark.parametrize("values", [[], [3], [2, 1, 2], [[4, 1], [1, 0]], [1.5, -0.0, 0.0]])
def test_distinct_is_numpys_unique(values):
    array = np.array(values)
    assert np.array_equal(hm._sorted_unique(array), np.unique(array))
    assert hm._sorted_unique(array).dtype == np.unique(array).dtype
