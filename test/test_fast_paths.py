"""Every fast path against its reference: heatmap._FAST = False forces the references.

Each workload is drawn both ways and compared: the same values, or within the bounds
the README states ("Exactness"): at decay 1, 1.7e-14 of the largest value (points
summed by FFT, piles of tracks); at decay < 1, 1e-14 of a pixel's value (dense
unweighted points, a group of equal heat added at once).  Pixels without heat are 0
both ways.
"""
import glob
import io
import os
import tempfile

import numpy as np
import pytest
from PIL import Image

import heatmap as hm

DECAY_1_BOUND = 1.7e-14   # of the largest value (README, "Exactness")
PIXEL_BOUND = 1e-14       # of a pixel's value, at decay < 1
COUNTED_BOUND = 0.2       # of the largest value: tracks counted in a tile pyramid


def _cloud(n, seed, weighted=False, piles=0):
    """Clustered points near Seattle; ``piles`` points repeated 50 times each."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.normal(47.61, 0.01, n), rng.normal(-122.33, 0.015, n)
    if piles:
        lat = np.r_[lat, np.repeat(lat[:piles], 50)]
        lon = np.r_[lon, np.repeat(lon[:piles], 50)]
    weight = rng.integers(1, 6, lat.size).astype(float) if weighted else None
    return hm.Points(lat, lon, weight)


def _ride(n, seed, repeat=1):
    rng = np.random.default_rng(seed)
    lat = 47.6 + np.cumsum(rng.normal(0, 0.0004, n))
    lon = -122.3 + np.cumsum(rng.normal(0, 0.0006, n))
    one = hm.tracks(lat, lon)
    return [one] * repeat


WORKLOADS = {
    "points": lambda: [_cloud(3000, 1)],
    "few_points": lambda: [_cloud(200, 8)],   # counted, then taken as entries: no tile scans
    "weights": lambda: [_cloud(2000, 2, weighted=True)],
    "point_piles": lambda: [_cloud(500, 3, piles=40)],
    "tracks": lambda: _ride(400, 4),
    "track_piles": lambda: _ride(150, 5, repeat=30),
    "mixed": lambda: [_cloud(800, 6, weighted=True)] + _ride(200, 7),
}


def _both_ways(monkeypatch, draw):
    monkeypatch.setattr(hm, "_FAST", True)
    fast = draw()
    monkeypatch.setattr(hm, "_FAST", False)
    return fast, draw()


@pytest.mark.parametrize("decay", [0.95, 0.5, 0.0, 1.0])
@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_grid_values_both_ways(monkeypatch, name, kernel, decay):
    batches = WORKLOADS[name]()
    fast, reference = _both_ways(monkeypatch, lambda: hm.render_grid(
        batches, width=300, radius=6, kernel=kernel, decay=decay))
    bound = DECAY_1_BOUND * reference.peak if decay == 1 else PIXEL_BOUND * reference.values
    assert (np.abs(fast.values - reference.values) <= bound).all()
    assert np.array_equal(fast.values == 0, reference.values == 0)
    if decay == 0 or name == "tracks" and decay < 1:
        assert np.array_equal(fast.values, reference.values)   # bit for bit


@pytest.mark.parametrize("name", ["points", "weights", "tracks"])
def test_pictures_both_ways(monkeypatch, tmp_path, name):
    batches = WORKLOADS[name]()
    fast, reference = _both_ways(monkeypatch, lambda: np.asarray(hm.render(
        batches, width=200, radius=5)))
    assert np.array_equal(fast, reference)


def _files(tmp_path):
    """A points file and a GPX file, the inputs of the readers' fast paths."""
    points = _cloud(400, 8, weighted=True)
    np.savetxt(tmp_path / "p.txt", np.column_stack(points[:3]), fmt="%.7f")
    np.savetxt(tmp_path / "p.csv", np.column_stack(points[:3]), fmt="%.7f", delimiter=",")
    ride = _ride(300, 9)[0]
    rows = "".join('<trkpt lat="%.7f" lon="%.7f"><time>2024-05-01T06:%02d:%02dZ</time></trkpt>\n'
                   % (a, b, i // 60 % 60, i % 60) for i, (a, b) in enumerate(zip(ride.lat1,
                                                                                 ride.lon1)))
    (tmp_path / "r.gpx").write_text('<?xml version="1.0"?>\n<gpx version="1.1"><trk><trkseg>\n'
                                    + rows + "</trkseg></trk></gpx>\n")
    return [str(tmp_path / name) for name in ("p.txt", "p.csv", "r.gpx")]


def test_readers_both_ways(monkeypatch, tmp_path):
    files = _files(tmp_path)

    def batches():
        return [[np.asarray(a) for a in batch if a is not None] for batch in hm.read(files)]
    fast, reference = _both_ways(monkeypatch, batches)
    assert len(fast) == len(reference) == 3
    for one, other in zip(fast, reference):
        assert all(np.array_equal(a, b) for a, b in zip(one, other))


def test_tiles_both_ways(monkeypatch):
    """Palette tiles (our writer) against Pillow's RGBA ones: the same pixels."""
    batches = WORKLOADS["mixed"]()

    def tiles():
        return {(z, x, y): np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
                for z, x, y, png in hm.render_tiles(batches, tile_zoom=(12, 13), radius=4)}
    fast, reference = _both_ways(monkeypatch, tiles)
    assert fast.keys() == reference.keys() and len(fast) > 3
    assert all(np.array_equal(fast[key], reference[key]) for key in fast)


@pytest.mark.parametrize("kernel,radius", [("linear", 6), ("gaussian", 24)])
@pytest.mark.parametrize("decay", [0.95, 1.0])
def test_counted_tracks_both_ways(monkeypatch, kernel, radius, decay):
    """A tile pyramid counts short segments at the pixel nearest their middle (linear -r 6:
    under 1.58 pixels for most, 4.1 for all); the jump stays a segment; gaussian -r 6 never."""
    walk = np.cumsum(np.random.default_rng(11).normal(0, 0.4, (1000, 2)), axis=0) + 100
    walk[500:] += 30
    segments = np.hstack([walk[:-1], walk[1:]])
    assert hm._counted(hm._empty_entries(), segments, radius, kernel)[1].shape == (1, 4)
    assert hm._counted(hm._empty_entries(), segments, 6, "gaussian")[1].shape == (999, 4)
    config = hm.Config(radius=radius, decay=decay, kernel=kernel)
    fast, reference = _both_ways(monkeypatch, lambda: hm._Engine(config, counted=True).run(
        hm._empty_entries(), segments, (0, 0, 250, 250))[0])
    assert np.abs(fast - reference).max() <= COUNTED_BOUND * reference.max()
    assert not np.array_equal(fast, reference)


def test_frames_both_ways(monkeypatch, tmp_path):
    try:
        hm._find_ffmpeg()
    except hm.HeatmapError:
        pytest.skip("no ffmpeg (install it or imageio-ffmpeg)")
    files = _files(tmp_path)

    def frames():
        folder = tempfile.mkdtemp(dir=str(tmp_path))
        monkeypatch.setattr(tempfile, "tempdir", folder)
        assert hm.main(["-a", "-K", "--frequency", "150", "-W", "120", "-o",
                        str(tmp_path / "a.mp4"), files[0], files[2]]) == 0
        names = sorted(glob.glob(os.path.join(folder, "*", "frame-*.png")))
        return [np.asarray(Image.open(name)) for name in names]
    fast, reference = _both_ways(monkeypatch, frames)
    assert len(fast) == len(reference) > 3
    assert all(np.array_equal(a, b) for a, b in zip(fast, reference))


@pytest.mark.parametrize("kernel,decay", [("linear", 0.95), ("gaussian", 0.5), ("linear", 0.0)])
def test_ranked_points_bit_for_bit(monkeypatch, kernel, decay):
    """Distinct weights (_Engine._ranked; heavy tiles split first) with piles of copies, then
    zero and negative weights (the sort alone): the same bits both ways."""
    rng = np.random.default_rng(12)
    lat, lon = rng.normal(47.61, 0.01, 20000), rng.normal(-122.33, 0.015, 20000)
    lat, lon = np.r_[lat, np.repeat(lat[:20], 30)], np.r_[lon, np.repeat(lon[:20], 30)]
    weight = rng.uniform(0.5, 50, lat.size)
    ranked = []
    monkeypatch.setattr(hm._Engine, "_ranked", lambda self, *a, _f=hm._Engine._ranked:
                        ranked.append(a[0]) or _f(self, *a))
    for signed in (1, -1, 0)[:3 if decay == 0.95 else 1]:
        some = np.where(rng.random(lat.size) < 0.05, signed * weight, weight)
        fast, reference = _both_ways(monkeypatch, lambda: hm.render_grid(
            hm.Points(lat, lon, some), width=300, radius=8, kernel=kernel, decay=decay).values)
        assert np.array_equal(fast, reference)
        assert signed != 1 or min(rect[2] - rect[0] for rect in ranked) < hm._TILE   # split
        ranked.clear()
    few = hm.Points(lat[::500], lon[::500], weight[::500])   # a few pairs a tile
    fast, reference = _both_ways(monkeypatch, lambda: hm.render_grid(
        few, width=300, radius=8, kernel=kernel, decay=decay).values)
    assert ranked and np.array_equal(fast, reference)


def test_read_ahead_both_ways(monkeypatch, tmp_path, capsys):
    """Four or more small files are read ahead by forked processes (on Linux): the same picture
    and the same messages in the same order (alike warnings summarised, a file skipped)."""
    files = _files(tmp_path)
    for i in range(4):   # weights that are not numbers: a warning a row, alike ones summarised
        (tmp_path / ("w%d.csv" % i)).write_text("".join(
            "47.6%d,-122.3%d,%s\n" % (i, j, "x" if j % 2 else 2) for j in range(9)))
    (tmp_path / "README.txt").write_text("Your activities.\n")
    files += sorted(str(p) for p in tmp_path.glob("w*.csv")) + [str(tmp_path / "README.txt")]

    def run(*verbose):   # -v: each file's messages after its "reading" line, as read here
        assert hm.main([*verbose, "-W", "120", "-o", str(tmp_path / "out.png")] + files) == 0
        err = capsys.readouterr().err.splitlines()
        return [line.split(" ms  ")[-1] for line in err], (tmp_path / "out.png").read_bytes()
    monkeypatch.setattr(hm, "_AHEAD_BYTES", 20000)   # r.gpx, 24 KB, is read here, in order
    monkeypatch.setattr(hm.threading, "active_count", lambda: 1)   # other tests' threads stay
    monkeypatch.setattr(hm.os, "cpu_count", lambda: 2)   # (a one-core machine reads in order)
    replayed = []
    monkeypatch.setattr(hm, "_replayed", lambda *a, _f=hm._replayed: replayed.append(a) or _f(*a))
    fast = [run(), run("-v")]
    assert len(replayed) == 2 * (len(files) - 1)   # all but a file of over _AHEAD_BYTES
    monkeypatch.setattr(hm.sys, "platform", "elsewhere")   # read in order, the rest as fast
    assert fast == [run(), run("-v")] and fast[0][1] == fast[1][1]
    assert any("more warnings like this one" in line for line in fast[0][0])
    assert any("README.txt:1: not a number" in line for line in fast[0][0])


def test_read_ahead_leaves_standard_input_here(monkeypatch, tmp_path, capsys):
    """"-" is standard input, read here, even beside a regular file named "-" (a worker's
    standard input is /dev/null)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text("not the input\n")
    files = _files(tmp_path) * 2
    monkeypatch.setattr(hm.threading, "active_count", lambda: 1)
    monkeypatch.setattr(hm.os, "cpu_count", lambda: 2)

    def run():
        monkeypatch.setattr(hm.sys, "stdin", io.TextIOWrapper(io.BytesIO(b"47.62 -122.35\n")))
        assert hm.main(["-v", "-W", "80", "-o", "out.png", "-"] + files) == 0
        return [line.split(" ms  ")[-1] for line in capsys.readouterr().err.splitlines()]
    fast = run()
    monkeypatch.setattr(hm.sys, "platform", "elsewhere")   # read in order
    assert fast == run() and "reading <stdin> (plain text)" in fast


def _rows_read(files):
    return sum(len(batch[0]) for batch in hm.read(files))


def test_read_ahead_not_in_a_daemon(monkeypatch, tmp_path):
    """A pool's worker (a daemon process: it may start none) reads its files in order."""
    import multiprocessing
    files = _files(tmp_path) * 2
    monkeypatch.setattr(hm.os, "cpu_count", lambda: 2)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_rows_read, (files,)) == _rows_read(files) > 0


def _signal_handlers():
    import signal
    return [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]


def test_read_ahead_workers_leave_signals_to_the_main_process():
    """Ctrl-C is the main process's to report; SIGTERM or SIGHUP end a worker without a trace."""
    import multiprocessing
    import signal
    with multiprocessing.get_context("fork").Pool(1, initializer=hm._worker_signals) as pool:
        assert pool.apply(_signal_handlers) == [signal.SIG_IGN, signal.SIG_DFL, signal.SIG_DFL]


@pytest.mark.parametrize("radius,size", [(5, 256), (127, 256), (3, 8), (200, 256)])
def test_tile_members_of_points_both_ways(monkeypatch, radius, size):
    """A point's tiles (up to 2 x 2 while 2r < size), in the same order both ways."""
    rng = np.random.default_rng(radius)
    entries = hm._BinnedPoints(rng.integers(-600, 600, 500), rng.integers(-600, 600, 500),
                               np.ones(500), np.ones(500, np.int64))
    segments = np.array([[0.0, 0.0, 300.0, 40.0]])
    fast, reference = _both_ways(monkeypatch, lambda: hm._tile_members(entries, segments,
                                                                        radius, size))
    assert all(np.array_equal(a, b) for a, b in zip(fast, reference))
