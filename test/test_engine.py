"""Projections, geometry, kernels, the decay rule and the accumulation engine."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import heatmap as hm

MERC = hm.PROJECTIONS["mercator"]
EQUI = hm.PROJECTIONS["equirectangular"]


# ---- projections ----
@pytest.mark.parametrize("lat,lon,ppd,x,y", [
    (0.0, 0.0, 10.0, 0.0, 0.0),
    (10.0, 20.0, 10.0, 200.0, -100.0),
    (-33.5, -70.25, 4.0, -281.0, 134.0),
    (90.0, 180.0, 1.0, 180.0, -90.0),
])
def test_equirectangular_forward(lat, lon, ppd, x, y):
    assert EQUI.forward(lat, lon, ppd) == (x, y)
    assert EQUI.inverse(x, y, ppd) == (lat, lon)


@pytest.mark.parametrize("lat,y_over_ppr", [
    (0.0, 0.0),
    (30.0, -math.atanh(0.5)),                   # ln tan(45 + 15) = atanh(sin 30)
    (45.0, -math.asinh(1.0)),                   # ln tan(67.5) = ln(1 + sqrt 2)
    (-45.0, math.asinh(1.0)),
    (60.0, -math.atanh(math.sqrt(3) / 2)),
])
def test_mercator_forward_known_values(lat, y_over_ppr):
    ppd = 7.0
    x, y = MERC.forward(lat, 12.5, ppd)
    assert x == 12.5 * ppd
    assert y == pytest.approx(y_over_ppr * ppd * 180 / math.pi, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("name", ["mercator", "equirectangular"])
@pytest.mark.parametrize("lat,lon", [(47.6062, -122.3321), (-33.8688, 151.2093), (0.5, 0.5),
                                     (85.05, -179.9), (-85.05, 179.9)])
def test_projection_scalar_round_trip(name, lat, lon):
    projection = hm.PROJECTIONS[name]
    x, y = projection.forward(lat, lon, 1234.5)
    assert isinstance(x, float) and isinstance(y, float)
    back = projection.inverse(x, y, 1234.5)
    assert back == pytest.approx((lat, lon), abs=1e-9)


@pytest.mark.parametrize("name", ["mercator", "equirectangular"])
def test_projection_array_round_trip(name):
    projection = hm.PROJECTIONS[name]
    lat = np.array([47.6062, -33.8688, 0.5, 85.05, -85.05])
    lon = np.array([-122.3321, 151.2093, 0.5, -179.9, 179.9])
    x, y = projection.forward(lat, lon, 1234.5)
    assert x.shape == y.shape == (5,)
    back_lat, back_lon = projection.inverse(x, y, 1234.5)
    assert np.allclose(back_lat, lat, atol=1e-9, rtol=0)
    assert np.allclose(back_lon, lon, atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", ["mercator", "equirectangular"])
def test_projection_arrays_match_scalars(name):
    projection = hm.PROJECTIONS[name]
    lat = np.array([47.6, -33.9, 12.0])
    lon = np.array([-122.3, 151.2, 0.1])
    x, y = projection.forward(lat, lon, 99.0)
    for i in range(3):
        sx, sy = projection.forward(float(lat[i]), float(lon[i]), 99.0)
        assert (x[i], y[i]) == pytest.approx((sx, sy), rel=1e-15)


def test_mercator_y_grows_southwards():
    ys = [MERC.forward(lat, 0.0, 1.0)[1] for lat in (60, 30, 0, -30, -60)]
    assert ys == sorted(ys) and ys[0] < 0 < ys[-1]


# ---- geometry ----
def test_ppd_for_scale():
    # one degree of the 6378137 m sphere is 111319.49 m
    assert hm._ppd_for_scale(1.0) == pytest.approx(111319.49079327357, rel=1e-12)
    assert hm._ppd_for_scale(10.0) == pytest.approx(11131.949079327357, rel=1e-12)


@pytest.mark.parametrize("width,height,padding,ppd", [
    (100, None, 5, 90.0),        # (100 - 10) px over 1 degree of longitude
    (None, 100, 5, 180.0),       # (100 - 10) px over 0.5 degree of latitude
    (100, 100, 5, 90.0),         # the tighter of the two
    (300, 50, 0, 100.0),
])
def test_fit_ppd_equirectangular(width, height, padding, ppd):
    box = hm._Box(10.0, 20.0, 11.0, 20.5)    # lon 10..11, lat 20..20.5
    assert hm._fit_ppd(EQUI, box, padding, width, height) == pytest.approx(ppd, rel=1e-12)


@pytest.mark.parametrize("box,width,height,message", [
    (hm._Box(10.0, 20.0, 11.0, 20.0), None, 50, "one latitude"),
    (hm._Box(10.0, 20.0, 10.0, 21.0), 50, None, "one longitude"),
    (hm._Box(10.0, 20.0, 11.0, 21.0), 10, None, "too small"),
])
def test_fit_ppd_errors(box, width, height, message):
    with pytest.raises(hm.HeatmapError, match=message):
        hm._fit_ppd(EQUI, box, 5, width, height)


@pytest.mark.parametrize("width,height,box,size", [
    (21, 31, (-5.0, -5.0, 15.0, 25.0), (21, 31)),       # grown around the centre
    (None, None, (0.0, 0.0, 10.0, 20.0), (11, 21)),     # unchanged; int(span) + 1
    (7, None, (2.0, 0.0, 8.0, 20.0), (7, 21)),           # shrunk around the centre
])
def test_image_box(width, height, box, size):
    resized, w, h = hm._image_box(hm._Box(0.0, 0.0, 10.0, 20.0), width, height)
    assert dataclass_tuple(resized) == box
    assert (w, h) == size


def dataclass_tuple(box):
    return (box.min_x, box.min_y, box.max_x, box.max_y)


def test_geometry_scale_and_size():
    config = hm.Config(projection="equirectangular", scale=hm._ppd_for_scale(1.0) / 100,
                       radius=2, margin=3)
    geometry = hm._picture_geometry(config, hm._Box(10.0, 20.0, 10.5, 20.2), (None, None))
    assert geometry.ppd == pytest.approx(100.0, rel=1e-12)
    # 50 x 20 px of data plus 5 px of padding on each side
    assert (geometry.width, geometry.height) == (61, 31)


# ---- kernels ----
KERNEL_VALUES = [
    ("linear", 4, [0, 1, 2, 3, 3.999, 4, 5], [1, 0.75, 0.5, 0.25, 0.00025, 0, 0]),
    ("linear", 1, [0, 0.5, 1], [1, 0.5, 0]),
    ("gaussian", 4, [0, 1, 2, 4, 6], [1, 256 ** -0.25, 1 / 16, 0, 0]),
    ("gaussian", 8, [0, 4, 7.999999, 8], [1, 1 / 16, 1 / 256, 0]),
]


@pytest.mark.parametrize("kernel,radius,distance,heat", [k[0:4] for k in KERNEL_VALUES],
                         ids=["%s_r%d" % k[:2] for k in KERNEL_VALUES])
def test_kernel_values(kernel, radius, distance, heat):
    out = hm.KERNELS[kernel](np.array(distance, dtype=np.float64), radius)
    assert out.dtype == np.float64
    assert np.allclose(out, heat, rtol=1e-5, atol=0)
    assert (out[np.array(distance) >= radius] == 0).all()


def test_stamp_linear_radius_2():
    stamp = hm._kernel_offsets("linear", 2)
    # offsets closer than 2: the centre, 4 edge neighbours (1/2), 4 diagonals (1 - sqrt2/2)
    assert stamp.heat.tolist() == pytest.approx([1.0] + [0.5] * 4 + [1 - math.sqrt(2) / 2] * 4)
    assert stamp.groups.tolist() == [0, 1, 5, 9]
    assert (stamp.dx[0], stamp.dy[0]) == (0, 0)
    assert sorted(zip(stamp.dx[1:5].tolist(), stamp.dy[1:5].tolist())) == \
        [(-1, 0), (0, -1), (0, 1), (1, 0)]
    assert sorted(zip(stamp.dx[5:].tolist(), stamp.dy[5:].tolist())) == \
        [(-1, -1), (-1, 1), (1, -1), (1, 1)]


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("radius", [1, 3, 6])
def test_stamp_covers_the_disc(kernel, radius):
    stamp = hm._kernel_offsets(kernel, radius)
    expected = sum(1 for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)
                   if math.hypot(dx, dy) < radius)
    assert stamp.heat.size == expected
    assert np.all(np.diff(stamp.heat) <= 0)
    assert np.all(np.hypot(stamp.dx, stamp.dy) < radius)


@pytest.mark.parametrize("seg,px,py,distance", [
    ((0, 0, 10, 0), 5, 3, 3.0),          # above the middle
    ((0, 0, 10, 0), -4, 3, 5.0),         # past the start: distance to the end point
    ((0, 0, 10, 0), 13, -4, 5.0),        # past the end
    ((2, 2, 2, 2), 5, 6, 5.0),           # zero-length segment
    ((0, 0, 4, 4), 0, 4, math.sqrt(8)),  # diagonal
    ((-7.5, -3.25, -1.5, -3.25), -4, -1, 2.25),   # negative, unrounded coordinates
])
def test_segment_heat_uses_distance_to_the_segment(seg, px, py, distance):
    # one segment, linear radius 6, decay 1: the pixel holds 1 - distance / 6
    grid, most, _ = engine_values([(500, 500, 1.0, 1)], [seg], "linear", 6, 1.0,
                                  (px, py, px + 1, py + 1))
    assert grid.tolist() == [[pytest.approx(1 - distance / 6, rel=1e-12)]]
    assert most == pytest.approx(1.0, rel=1e-12)


def test_segment_heat_pixels():
    # (1.5, 2.5)-(3.5, 2.5), radius 1: pixels closer than 1 are x 1..4, y 2..3
    grid, _, kept = engine_values([(500, 500, 1.0, 1)], [(1.5, 2.5, 3.5, 2.5)], "linear", 1, 1.0,
                                  (-2, -2, 8, 8))
    ys, xs = np.nonzero(grid)
    assert sorted(zip((xs - 2).tolist(), (ys - 2).tolist())) == \
        [(x, y) for x in range(1, 5) for y in (2, 3)]
    assert grid[2 + 2, 2 + 2] == 0.5
    assert grid[2 + 2, 1 + 2] == pytest.approx(1 - math.sqrt(0.5), rel=1e-12)


# ---- the decay rule ----
def test_decay_weights_are_repeated_products():
    assert hm._decay_weights(0.5, 5).tolist() == [1, 0.5, 0.25, 0.125, 0.0625]
    assert hm._decay_weights(0.0, 3).tolist() == [1, 0, 0]
    assert hm._decay_weights(1.0, 3).tolist() == [1, 1, 1]


REDUCE = [
    # name, keys, values, counts, size, decay, expected
    ("max", [0, 0, 0], [1, 3, 2], [1, 1, 1], 1, 0.0, [3]),
    ("half", [0, 0, 0], [1, 3, 2], [1, 1, 1], 1, 0.5, [3 + 2 * 0.5 + 1 * 0.25]),
    ("sum", [0, 0, 0], [1, 3, 2], [1, 1, 1], 1, 1.0, [6]),
    ("counts_half", [0, 0], [1, 2], [3, 2], 1, 0.5, [2 + 2 * .5 + 1 * .25 + 1 * .125 + 1 * .0625]),
    ("counts_max", [0, 0], [1, 2], [3, 2], 1, 0.0, [2]),
    ("counts_sum", [0, 0], [1, 2], [3, 2], 1, 1.0, [7]),
    ("several_keys", [2, 0, 2, 2], [1, 5, 4, 2], [1, 1, 1, 1], 4, 0.5, [5, 0, 4 + 1 + 0.25, 0]),
    ("ties", [1, 1, 1], [2, 2, 2], [1, 1, 1], 2, 0.9, [0, 2 + 1.8 + 1.62]),
    ("empty", [], [], [], 3, 0.5, [0, 0, 0]),
]


@pytest.mark.parametrize("keys,values,counts,size,decay,expected", [r[1:] for r in REDUCE],
                         ids=[r[0] for r in REDUCE])
def test_reduce(keys, values, counts, size, decay, expected):
    out = hm._reduce(np.array(keys, np.int64), np.array(values, np.float64),
                     np.array(counts, np.int64), size, hm._Decay(decay, sum(counts)))
    assert out.shape == (size,)
    assert out.tolist() == pytest.approx(expected, rel=1e-12)


def naive_decay(values, decay):
    """The decay rule written out: sort descending, weights 1, d, d*d, ..."""
    total, weight = 0.0, 1.0
    for v in sorted(values, reverse=True):
        total += v * weight
        weight *= decay
    return total


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.01, 10.0), st.integers(1, 4)),
                min_size=1, max_size=25),
       st.sampled_from([0.0, 0.3, 0.5, 0.95, 1.0]))
def test_reduce_matches_the_rule(rows, decay):
    keys, values, counts = (np.array(c) for c in zip(*rows))
    out = hm._reduce(keys.astype(np.int64), values.astype(np.float64), counts.astype(np.int64),
                     5, hm._Decay(decay, int(counts.sum())))
    for key in range(5):
        expanded = [v for k, v, c in rows if k == key for _ in range(c)]
        assert out[key] == pytest.approx(naive_decay(expanded, decay), rel=1e-12, abs=1e-300)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.001, 5.0)), min_size=1, max_size=30),
       st.sampled_from([0.0, 0.25, 0.9, 0.95, 1.0]))
def test_reduce_single_copies_are_bit_exact(rows, decay):
    """The docstring promises the original's sequential sum, bit for bit."""
    keys, values = (np.array(c) for c in zip(*rows))
    out = hm._reduce(keys.astype(np.int64), values.astype(np.float64),
                     np.ones(len(rows), np.int64), 4, hm._Decay(decay, len(rows)))
    for key in range(4):
        assert out[key] == naive_decay([v for k, v in rows if k == key], decay)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=12), min_size=1, max_size=6),
       st.sampled_from([0.0, 0.25, 0.9, 1.0]))
def test_decay_rows_are_bit_exact(rows, decay):
    """Each row sorted descending and summed in turn, as the original sums a pixel's list."""
    width = max(len(r) for r in rows)
    heat = np.array([r + [0.0] * (width - len(r)) for r in rows])
    out = hm._decay_rows(heat, hm._Decay(decay, width).row(width))
    assert out.tolist() == [naive_decay(r, decay) for r in rows]


@pytest.mark.parametrize("pixels,length", [(1, 30), (2, 30), (3, 200), (64, 9)])
def test_decay_rows_sum_long_rows_in_turn(pixels, length):
    # long enough that a pairwise sum (NumPy's along one axis) would differ
    heat = np.random.default_rng(length).random((pixels, length))
    want = [naive_decay(row, 0.99) for row in heat.tolist()]
    assert hm._decay_rows(heat, hm._Decay(0.99, length).row(length)).tolist() == want


@pytest.mark.parametrize("decay,length,expected", [
    (0.5, 4, [1, 0.5, 0.25, 0.125]),
    (0.0, 3, [1, 0, 0]),
    (1.0, 3, [1, 1, 1]),
    (0.5, 2000, None),      # past the table: zeros
])
def test_decay_row(decay, length, expected):
    row = hm._Decay(decay, 10).row(length)
    assert row.shape == (length,)
    if expected is not None:
        assert row.tolist() == expected
    else:
        assert row[1999] == 0.0 and row[1] == 0.5


def test_decay_long_runs_underflow_to_the_running_product():
    decay = hm._Decay(0.5, 5000)
    # beyond ~1075 halvings the running weight is 0 (or the smallest subnormal)
    assert decay.weight(np.array([4000]))[0] <= 5e-324
    assert decay.run(np.array([5000]))[0] == pytest.approx(2.0, rel=1e-15)


def test_aggregate_merges_same_pixel_and_weight():
    e = hm._BinnedPoints(np.array([1, 1, 1, 2], np.int64), np.array([5, 5, 5, 5], np.int64),
                    np.array([1.0, 1.0, 2.0, 1.0]), np.array([1, 3, 1, 1], np.int64))
    out = hm._aggregate(e)
    rows = sorted(zip(out.x.tolist(), out.y.tolist(), out.weight.tolist(), out.count.tolist()))
    assert rows == [(1, 5, 1.0, 4), (1, 5, 2.0, 1), (2, 5, 1.0, 1)]


# ---- the engine against a naive reference ----
from test_accumulation import original_values as naive_values  # noqa: E402  (the original's loops)


def random_input(seed, weighted, with_segments, span=14):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    x = rng.integers(-3, span, n)
    y = rng.integers(-3, span, n)
    w = rng.choice([0.5, 1.0, 2.0, 3.0], n) if weighted else np.ones(n)
    c = rng.integers(1, 4, n)
    points = list(zip(x.tolist(), y.tolist(), w.tolist(), c.tolist()))
    segments = []
    if with_segments:
        segments = rng.uniform(-2, span, (int(rng.integers(1, 6)), 4)).tolist()
    return points, segments


def engine_values(points, segments, kernel, radius, decay, window):
    entries = hm._BinnedPoints(*(np.array(c, dtype=t) for c, t in
                            zip(zip(*points), (np.int64, np.int64, np.float64, np.int64)))) \
        if points else hm._empty_entries()
    segs = np.array(segments, dtype=np.float64).reshape(-1, 4)
    grid, most, kept = hm._Engine(hm.Config(kernel=kernel, radius=radius, decay=decay)).run(
        entries, segs, window, keep_all=True)
    return grid, most, kept


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("kind", ["unit_points", "weighted_points", "segments", "segments_only"])
def test_engine_matches_naive_loops(kernel, decay, kind):
    for seed in range(3):
        points, segments = random_input(seed * 7 + len(kind), kind != "unit_points",
                                         kind.startswith("segments"))
        if kind == "segments_only":
            points = []
        radius = 1 + seed * 2
        window = (-4, -5, 17, 16)
        grid, most, kept = engine_values(points, segments, kernel, radius, decay, window)
        expected = naive_values(points, segments, kernel, radius, decay)
        want = np.zeros_like(grid)
        for (x, y), v in expected.items():
            if window[0] <= x < window[2] and window[1] <= y < window[3]:
                want[y - window[1], x - window[0]] = v
        assert np.allclose(grid, want, rtol=1e-12, atol=1e-300)
        assert most == pytest.approx(max(expected.values()), rel=1e-12)
        kept_map = dict(zip(zip(kept[0].tolist(), kept[1].tolist()), kept[2].tolist()))
        assert kept_map.keys() == {p for p, v in expected.items() if v > 0}
        assert all(kept_map[p] == pytest.approx(expected[p], rel=1e-12) for p in kept_map)


@pytest.mark.parametrize("settings", [{"_TILE": 8}, {"_MAX_CONTRIBUTIONS": 40, "_MAX_SEGMENT_WORK": 40}],
                         ids=["small_tiles", "split_tiles"])
@pytest.mark.parametrize("kind", ["unit_points", "weighted_points", "segments", "segments_only"])
def test_engine_tiles_and_splits_do_not_change_values(monkeypatch, kind, settings):
    points, segments = random_input(11, kind != "unit_points", kind.startswith("segments"),
                                    span=40)
    if kind == "segments_only":
        points = []
    window = (-6, -6, 46, 46)
    whole = engine_values(points, segments, "linear", 4, 0.7, window)
    for name, value in settings.items():
        monkeypatch.setattr(hm, name, value)
    tiled = engine_values(points, segments, "linear", 4, 0.7, window)
    assert np.allclose(whole[0], tiled[0], rtol=1e-12, atol=0)
    assert whole[1] == pytest.approx(tiled[1], rel=1e-12)
    assert whole[0].max() > 0


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95, 1.0])
def test_dense_unit_path_equals_sparse_path(kernel, decay):
    rng = np.random.default_rng(int(decay * 100) + len(kernel))
    for _ in range(6):
        radius = int(rng.integers(1, 6))
        engine = hm._Engine(hm.Config(kernel=kernel, radius=radius, decay=decay))
        rect = (3, -2, 17, 9)
        n = int(rng.integers(1, 40))
        x = rng.integers(rect[0] - radius, rect[2] + radius, n)
        y = rng.integers(rect[1] - radius, rect[3] + radius, n)
        entries = hm._aggregate(hm._BinnedPoints(x.astype(np.int64), y.astype(np.int64),
                                            np.ones(n), np.ones(n, np.int64)))
        d = hm._Decay(decay, int(entries.count.sum()) + engine.stamp.heat.size)
        dense = engine._dense_unit(rect, entries, d)
        sparse = engine._sparse(rect, entries, np.empty((0, 4)), d)
        assert dense.shape == sparse.shape == (11, 14)
        assert np.allclose(dense, sparse, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("radius", [1, 3, 12, 20, 45])   # every cell size
def test_segment_cells_equal_the_sorted_reduction(kernel, decay, radius):
    """Segments alone go by cells; mixed with points, by keys and one sort: same bits."""
    rng = np.random.default_rng(radius * 10 + int(decay * 10) + len(kernel))
    rect = (-7, 5, 38, 61)   # not a whole number of cells either way
    starts = rng.uniform(-25, 70, (60, 2))
    ends = starts + rng.normal(0, 6, (60, 2)) * rng.integers(0, 2, (60, 1))  # half zero-length
    segments = np.hstack([starts, ends])
    segments[:20] = segments[0]   # many equal segments: ties and long lists
    d = hm._Decay(decay, segments.shape[0])
    cells = hm._segment_cells(segments, rect, radius, kernel, d)
    keys, heat, _ = hm._segment_heat(segments, radius, kernel, rect)
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    sorted_way = hm._reduce(keys, heat, None, width * height, d).reshape(height, width)
    assert cells.shape == (height, width)
    assert np.count_nonzero(cells) > 40
    assert np.array_equal(cells, sorted_way)


@pytest.mark.parametrize("batch,lists", [(1, 1), (40, 1), (300, 64), (1 << 16, 100)])
def test_segment_cells_split_long_lists_without_changing_values(monkeypatch, batch, lists):
    # 30 segments through one spot: cells computed a row, a few pixels or one pixel at a
    # time, their lists gathered a few cells at a time
    rng = np.random.default_rng(batch)
    segments = np.hstack([rng.uniform(3, 5, (30, 2)), rng.uniform(0, 9, (30, 2))])
    d = hm._Decay(0.9, 30)
    whole = hm._segment_cells(segments, (0, 0, 13, 11), 6, "linear", d)
    monkeypatch.setattr(hm, "_CELL_BATCH", batch)
    monkeypatch.setattr(hm, "_CELL_LISTS", lists)
    assert np.array_equal(hm._segment_cells(segments, (0, 0, 13, 11), 6, "linear", d), whole)
    assert np.count_nonzero(whole) > 60


def test_segment_cells_far_from_the_rect_leave_it_empty():
    d = hm._Decay(0.5, 2)
    out = hm._segment_cells(np.array([[100.0, 100.0, 120.0, 90.0]]), (0, 0, 9, 7), 5, "linear", d)
    assert out.shape == (7, 9) and not out.any()


# ---- decay 0 / between / 1 on two overlapping points ----
@pytest.mark.parametrize("decay,at_point,between", [
    (0.0, 1.0, 2 / 3),               # max
    (0.5, 1 + 0.5 / 3, 2 / 3 * 1.5),  # 1 + d/3 ; 2/3 + d 2/3
    (1.0, 4 / 3, 4 / 3),             # sum
])
def test_two_points_decay(decay, at_point, between):
    # points at x = 0 and x = 2, radius 3 linear: pixel 0 gets 1 and 1/3, pixel 1 gets 2/3 twice
    grid, most, _ = engine_values([(0, 0, 1.0, 1), (2, 0, 1.0, 1)], [], "linear", 3, decay,
                                  (0, 0, 3, 1))
    assert grid[0].tolist() == pytest.approx([at_point, between, at_point], rel=1e-12)
    assert most == pytest.approx(max(at_point, between), rel=1e-12)


def test_maximum_counts_data_outside_the_window():
    grid, most, _ = engine_values([(0, 0, 1.0, 1), (50, 50, 10.0, 1)], [], "linear", 2, 0.95,
                                  (-3, -3, 4, 4))
    assert grid.max() == 1.0
    assert most == 10.0


def test_track_vertices_get_two_contributions():
    # two segments meeting at (5, 0): the vertex pixel gets heat 1 from each
    segments = [(0.0, 0.0, 5.0, 0.0), (5.0, 0.0, 10.0, 0.0)]
    grid, _, _ = engine_values([(100, 100, 1.0, 1)], segments, "linear", 2, 1.0, (0, 0, 11, 1))
    assert grid[0, 5] == 2.0
    assert grid[0, 4] == 1.5   # 1 from the first segment, 1 - 1/2 from the second
    assert grid[0, 0] == 1.0   # the second segment is 5 px away


# ---- whole pictures ----
@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
def test_single_point_picture_is_symmetric(run, write, pixels, kernel):
    write("one.txt", "47.6 -122.3\n")
    assert run("-s", 10, "-r", 3, "-k", kernel, "-o", "one.png", "one.txt") == (0, "")
    mode, a = pixels("one.png")
    assert mode == "RGBA" and a.shape == (7, 7, 4)
    alpha = a[..., 3]
    cy, cx = np.unravel_index(np.argmax(alpha), alpha.shape)
    top = hm._hsva_table(hm._parse_hsva("000ffff00"), hm._parse_hsva("02affffff"))[-1]
    assert a[cy, cx].tolist() == top.tolist()
    block = a[cy - 2:cy + 3, cx - 2:cx + 3]
    for transformed in (block[::-1], block[:, ::-1], block.transpose(1, 0, 2)):
        assert np.array_equal(transformed, block)
    outside = alpha.copy()
    outside[cy - 2:cy + 3, cx - 2:cx + 3] = 0
    assert not outside.any()
    assert block[2, 0, 3] > 0   # 2 px from the centre is still inside radius 3


@pytest.mark.parametrize("decay", ["0", "0.5", "1"])
def test_two_points_at_one_place_look_like_one(run, write, pixels, decay):
    write("one.txt", "47.6 -122.3\n47.7 -122.2\n")
    write("two.txt", "47.6 -122.3\n47.6 -122.3\n47.7 -122.2\n47.7 -122.2\n")
    assert run("-W", 30, "-d", decay, "-o", "one.png", "one.txt") == (0, "")
    assert run("-W", 30, "-d", decay, "-o", "two.png", "two.txt") == (0, "")
    assert pixels("one.png")[1][..., 3].any()
    assert np.array_equal(pixels("one.png")[1], pixels("two.png")[1])


def test_decay_changes_overlapping_pictures(run, write, pixels):
    row = "".join("47.6 %f\n" % (-122.3 + i * 0.0004) for i in range(8))
    write("pts.txt", row + "47.7 -122.2\n")
    pictures = {}
    for decay in ("0", "0.5", "1"):
        assert run("-W", 60, "-r", 6, "-d", decay, "-o", "d.png", "pts.txt") == (0, "")
        pictures[decay] = pixels("d.png")[1]
    assert not np.array_equal(pictures["0"], pictures["0.5"])
    assert not np.array_equal(pictures["0.5"], pictures["1"])
    # which pixels hold heat (any channel set) does not depend on the decay
    assert np.array_equal(pictures["0"].any(axis=2), pictures["1"].any(axis=2))


@pytest.mark.parametrize("radius", [130, 300])
@pytest.mark.parametrize("weight", [None, 2.0])
def test_large_radius_heats_every_tile_it_reaches(radius, weight):
    """A kernel wider than a tile reaches tiles beyond the next one: every
    offset with heat shows, through the count grid (unit points) and as
    entries (weighted points)."""
    config = hm.Config(width=4 * radius, radius=radius, decay=0.5,
                       extent=(46.9, -122.1, 47.1, -121.9))
    points = hm.Points(np.array([47.0, 47.0]), np.array([-122.0, -122.0]),
                       None if weight is None else np.array([weight, weight]))
    values = hm._combine_values(config, *hm._read_and_bin(config, [points])).values
    assert np.count_nonzero(values) == hm._kernel_offsets("linear", radius).heat.size
