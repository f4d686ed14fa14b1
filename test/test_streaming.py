"""Streaming, aggregation and fast paths give the same values as the plain paths."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import heatmap  # noqa: E402


def _points(n, seed, spread=0.01, weighted=False):
    rng = np.random.default_rng(seed)
    lat = rng.normal(47.6, spread, n)
    lon = rng.normal(-122.3, spread * 1.5, n)
    weight = rng.integers(1, 5, n).astype(float) if weighted else None
    return heatmap.Points(lat, lon, weight)


def _result(config, batches):
    return heatmap._combine_values(config, *heatmap._read_and_bin(config, iter(batches)))


def _same(a, b):
    assert a.values.shape == b.values.shape
    np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=0)
    assert a.peak == pytest.approx(b.peak, rel=1e-12)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
def test_extent_streaming_matches_held_input(decay, weighted):
    """With --extent the input streams batch by batch; without, it is held first."""
    batches = [_points(400, seed, weighted=weighted) for seed in range(5)]
    extent = (47.58, -122.34, 47.62, -122.26)
    streamed = _result(heatmap.Config(width=120, extent=extent, decay=decay), batches)
    # the same geometry without streaming: one held batch, same extent
    held = heatmap.Points(np.concatenate([b.lat for b in batches]),
                          np.concatenate([b.lon for b in batches]),
                          None if not weighted else np.concatenate([b.weight for b in batches]))
    config = heatmap.Config(width=120, extent=extent, decay=decay)
    geometry, acc = heatmap._read_and_bin(config, iter([held]))
    once = heatmap._combine_values(config, geometry, acc)
    _same(streamed, once)


@pytest.mark.parametrize("decay", [0.0, 0.3, 0.95, 1.0])
def test_count_grid_overflow_matches_grid(monkeypatch, decay):
    """Points beyond the dense count grid's budget go the aggregated-entry way."""
    batches = [_points(3000, 1, spread=0.05)]
    config = heatmap.Config(width=150, decay=decay, extent=(47.59, -122.32, 47.61, -122.28))
    roomy = _result(config, batches)
    monkeypatch.setattr(heatmap, "_DENSE_PIXELS", 1)
    tight = _result(config, batches)
    _same(roomy, tight)
    _, acc = heatmap._read_and_bin(config, iter(batches))
    assert acc.result()[0].x.size > 1000  # most points really took the entry path


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("decay", [0.0, 0.6, 1.0])
def test_dense_and_sparse_unit_paths_agree(kernel, decay):
    rng = np.random.default_rng(7)
    engine = heatmap._Engine(heatmap.Config(kernel=kernel, radius=4, decay=decay))
    entries = heatmap._aggregate(heatmap._BinnedPoints(
        rng.integers(0, 30, 300), rng.integers(0, 30, 300), np.ones(300), np.ones(300, np.int64)))
    rect = (0, 0, 32, 32)
    table = heatmap._Decay(decay, 400)
    dense = engine._dense_unit(rect, entries, table)
    sparse = engine._sparse(rect, entries, np.empty((0, 4)), table)
    np.testing.assert_allclose(dense, sparse, rtol=1e-12)


def test_tile_split_matches_whole_tile(monkeypatch):
    """Splitting a crowded tile into quarters does not change any value."""
    rng = np.random.default_rng(3)
    n = 500
    entries = heatmap._aggregate(heatmap._BinnedPoints(
        rng.integers(0, 64, n), rng.integers(0, 64, n), rng.integers(1, 4, n).astype(float),
        np.ones(n, np.int64)))
    segments = rng.uniform(0, 64, (40, 4))
    engine = heatmap._Engine(heatmap.Config(radius=5, decay=0.9))
    table = heatmap._Decay(0.9, 2000)
    whole = engine._tile((0, 0, 64, 64), entries, segments, table)
    monkeypatch.setattr(heatmap, "_MAX_CONTRIBUTIONS", 1000)
    split = engine._tile((0, 0, 64, 64), entries, segments, table)
    np.testing.assert_allclose(whole, split, rtol=1e-12)


@pytest.mark.parametrize("seed,sign", [(0, 1), (1, 1), (2, -1), (3, 1), (4, -1)])
def test_packed_sort_is_exact(seed, sign):
    """The packed sort orders exactly like a two-key lexsort, ties included
    (scaled ranks for values >= 0, float32 ranks when some are negative)."""
    rng = np.random.default_rng(seed)
    m = 20000
    keys = rng.integers(0, 300, m)
    values = rng.choice([0.25, 0.5, 1 / 3, 0.7], m) * rng.integers(1, 4, m)
    values[::7] += 1e-12  # differences the ranks cannot see
    if sign < 0:
        values[::3] *= -1
    order, sorted_keys, sorted_values = heatmap._sort_contributions(keys, values)
    expected = np.lexsort((-values, keys))
    assert (keys[order] == keys[expected]).all() and (sorted_keys == keys[expected]).all()
    assert (values[order] == values[expected]).all() and (sorted_values == values[expected]).all()


def gpx_both_ways(path):
    """(batches of the fast GPX reader, batches of the expat-only reader) of one file."""
    with heatmap._opened_input(str(path)) as source:
        fast = list(heatmap._Gpx(source).batches())
    with heatmap._opened_input(str(path)) as source:
        slow = list(heatmap._GpxExact(source).batches())
    return fast, slow


def test_fast_gpx_matches_expat_reader(tmp_path):
    rng = np.random.default_rng(5)
    body = []
    for _ in range(3):
        pts = rng.normal([52.37, 4.89], 0.01, (50, 2))
        body.append("<trkseg>" + "".join(
            '<trkpt lat="%.6f" lon="%.6f"><ele>1</ele></trkpt>\n' % tuple(p) for p in pts)
            + "</trkseg>")
    path = tmp_path / "t.gpx"
    path.write_text('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk>%s</trk></gpx>'
                    % "".join(body))
    fast, slow = gpx_both_ways(path)
    for field in ("lat1", "lon1", "lat2", "lon2"):
        a = np.concatenate([getattr(s, field) for s in fast])
        b = np.concatenate([getattr(s, field) for s in slow])
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("text", [
    '<gpx><trk><trkseg><trkpt lon="4.1" lat="52.1"/><trkpt lon="4.2" lat="52.2"/></trkseg></trk></gpx>',
    '<gpx><trk><trkseg><!-- c --><trkpt lat="52.1" lon="4.1"/><trkpt lat="52.2" lon="4.2"/>'
    '</trkseg></trk></gpx>',
    '<gpx><trkpt lat="52.1" lon="4.1"/><trk><trkseg><trkpt lat="52.2" lon="4.2"/>'
    '<trkpt lat="52.3" lon="4.3"/></trkseg></trk></gpx>',
], ids=["attribute-order", "comment", "point-outside-segment"])
def test_fast_gpx_hands_odd_files_to_expat(tmp_path, text):
    path = tmp_path / "odd.gpx"
    path.write_text(text)
    fast, slow = gpx_both_ways(path)
    assert len(fast) == len(slow) == 1
    for field in ("lat1", "lon1", "lat2", "lon2"):
        assert getattr(fast[0], field).tobytes() == getattr(slow[0], field).tobytes()


def test_library_arrays_are_checked_and_binned_in_slices(monkeypatch):
    """render()'s arrays go through in slices of _LIBRARY_ROWS (views, not copies): the same
    picture, and no slice bigger (the memory beyond the caller's arrays stays bounded)."""
    points = _points(1000, 5, weighted=True)
    whole = heatmap.render_grid([points], width=60).values
    seen = []
    check = heatmap._check_batch
    monkeypatch.setattr(heatmap, "_check_batch", lambda c, b: seen.append(len(b[0])) or check(c, b))
    monkeypatch.setattr(heatmap, "_LIBRARY_ROWS", 64)
    assert np.array_equal(heatmap.render_grid([points], width=60).values, whole)
    assert max(seen) == 64 and sum(seen) == 1000


def test_files_past_the_limit_are_read_twice_not_held(tmp_path, monkeypatch, caplog):
    """Without --extent a big input (its arrays) is read once for its box and once to bin it, after
    a batch shows it big; a pipe is held and says so with -v; the pictures are the same."""
    path = tmp_path / "p.txt"
    points = _points(500, 6)
    np.savetxt(path, np.column_stack([points.lat, points.lon]), fmt="%.6f")
    opened = []
    real = heatmap._opened_input
    monkeypatch.setattr(heatmap, "_opened_input", lambda p: opened.append(p) or real(p))
    for held in (1 << 40, 0):
        monkeypatch.setattr(heatmap, "_HELD_BYTES", held)
        assert heatmap.main(["-W", "80", "-o", str(tmp_path / ("%d.png" % held)), str(path)]) == 0
    assert len(opened) == 4   # held: once; not: a batch, then a pass for the box, one to bin
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import threading
    threading.Thread(target=lambda: fifo.write_bytes(path.read_bytes())).start()
    assert heatmap.main(["-v", "-W", "80", "-o", str(tmp_path / "pipe.png"), str(fifo)]) == 0
    assert "the input is held in memory (a pipe is read once" in caplog.text
    pictures = [(tmp_path / name).read_bytes() for name in ("0.png", "%d.png" % (1 << 40),
                                                           "pipe.png")]
    assert pictures[0] == pictures[1] == pictures[2]
