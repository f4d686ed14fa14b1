"""Dask: the same pictures and tiles from a cluster's partitions as from one process.

One LocalCluster of two worker processes serves the module (a fixture); the command line
reaches it by its address, and once makes its own with ``--dask local:2``.  Each case
compares PNG bytes (or tiles) with the single-process run.
"""
import io
import logging
import os
import sqlite3

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'heatmap.py[dask]')")
pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
import dask  # noqa: E402

import heatmap  # noqa: E402

RNG = np.random.default_rng(23)
N = 6000
TABLE = pd.DataFrame({"la": np.round(52.3 + RNG.normal(0, 0.03, N), 6),
                      "lo": np.round(4.9 + RNG.normal(0, 0.05, N), 6),
                      "w": RNG.choice([0.5, 2.0, 2.0, 3.0, -1.0], N)})


@pytest.fixture(scope="module")
def client():
    with distributed.Client(n_workers=2, threads_per_worker=1, dashboard_address=None,
                            silence_logs=logging.CRITICAL) as made:
        yield made


def png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def both(frame, client, weight=None, **settings):
    """(single process, cluster) PNG bytes of render() of the pandas rows and of ``frame``."""
    settings = dict(dict(width=120), **settings)
    table = frame.compute() if hasattr(frame, "compute") else frame
    alone = heatmap.render(table, lat="la", lon="lo", weight=weight, **settings)
    spread = heatmap.render(frame, lat="la", lon="lo", weight=weight, dask=client, **settings)
    return png(alone), png(spread)


@pytest.mark.parametrize("decay", [1.0, 0.95, 0.5, 0.0])
def test_points_at_every_decay(client, decay):
    alone, spread = both(dd.from_pandas(TABLE, npartitions=3), client, decay=decay)
    assert alone == spread


@pytest.mark.parametrize("weight, decay", [("w", 1.0), ("w", 0.95), ("w", 0.0)])
def test_weighted_points_repeated_and_negative(client, weight, decay):
    alone, spread = both(dd.from_pandas(TABLE, npartitions=3), client, weight, decay=decay,
                         kernel="gaussian")
    assert alone == spread


def _split(frame, parts):
    cuts = np.linspace(0, len(frame), parts + 1).astype(int)
    return [frame[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def _with_empty_and_outside(parts):
    """TABLE in ``parts`` partitions, every other one empty, and one far outside the extent."""
    pieces = []
    for piece in _split(TABLE, parts):
        pieces += [piece, TABLE.iloc[:0]]
    pieces.append(TABLE.iloc[:50].assign(la=40.0, lo=-3.7))   # Madrid
    return dd.from_delayed([dask.delayed(p) for p in pieces], meta=TABLE.iloc[:0])


@pytest.mark.parametrize("parts", [1, 3, 64])
def test_partition_counts_empty_and_outside_the_extent(client, parts):
    frame = _with_empty_and_outside(parts)
    alone, spread = both(frame, client, extent=(52.25, 4.8, 52.35, 5.0), decay=0.9)
    assert alone == spread
    if parts == 3:   # and the data's own box, found by a pass on the workers
        assert np.array_equal(*both(frame, client, decay=0.9))


def test_grid_and_tiles_of_a_dataframe(client):
    frame = dd.from_pandas(TABLE.rename(columns={"la": "lat", "lo": "lon"}), npartitions=3)
    points = [heatmap.Points(TABLE.la.to_numpy(), TABLE.lo.to_numpy())]
    assert np.array_equal(heatmap.render_grid(frame, width=80, dask=client).values,
                          heatmap.render_grid(points, width=80).values)
    assert list(heatmap.render_tiles(frame, tile_zoom=(9, 11), dask=client)) == \
        list(heatmap.render_tiles(points, tile_zoom=(9, 11)))


def _track(path, lat, lon):
    with open(path, "w") as out:
        out.write('<gpx><trk><trkseg>%s</trkseg></trk></gpx>' % "".join(
            '<trkpt lat="%.6f" lon="%.6f"/>' % p for p in zip(lat, lon)))


def test_track_cut_across_three_partitions(client, tmp_path):
    """Three files, each ending where the next begins: the segments of the whole track."""
    t = np.linspace(0, 6, 301)
    lat, lon = 52.3 + 0.02 * np.sin(t), 4.85 + 0.03 * t
    _track(tmp_path / "whole.gpx", lat, lon)
    for i, (a, b) in enumerate([(0, 101), (100, 201), (200, 301)]):
        _track(tmp_path / ("cut%d.gpx" % i), lat[a:b], lon[a:b])
    os.chdir(tmp_path)
    address = client.scheduler.address
    for decay in ("1", "0.9"):
        assert heatmap.main(["-W", "150", "-d", decay, "-o", "alone.png", "whole.gpx"]) == 0
        assert heatmap.main(["-W", "150", "-d", decay, "-o", "spread.png", "--dask", address,
                             "cut*.gpx"]) == 0
        assert (tmp_path / "alone.png").read_bytes() == (tmp_path / "spread.png").read_bytes()


def _tiles(folder):
    found = {}
    for base, _, names in os.walk(folder):
        for name in (n for n in names if n.endswith(".png")):
            with open(os.path.join(base, name), "rb") as tile:
                found[os.path.relpath(os.path.join(base, name), folder)] = tile.read()
    return found


def _mbtiles(path):
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT * FROM tiles").fetchall())


def test_tiles_folder_and_mbtiles(client, tmp_path):
    os.chdir(tmp_path)
    TABLE.to_csv("all.csv", columns=["la", "lo", "w"], header=False, index=False)
    for i, part in enumerate(_split(TABLE, 3)):
        part.to_csv("part%d.csv" % i, columns=["la", "lo", "w"], header=False, index=False)
    common = ["--tile_zoom", "8-11"]
    for out, read in (("alone", _tiles), ("alone.mbtiles", _mbtiles)):
        assert heatmap.main(common + ["--tiles", out, "all.csv"]) == 0
        assert heatmap.main(common + ["--tiles", "spread" + out[5:], "--dask",
                                      client.scheduler.address, "part*.csv"]) == 0
        assert read(out) == read("spread" + out[5:]) and read(out)


def test_command_line_local_cluster_parquet_against_text(tmp_path):
    pytest.importorskip("pyarrow")
    os.chdir(tmp_path)
    np.savetxt("points.txt", TABLE[["la", "lo"]].to_numpy(), fmt="%.6f")
    exact = np.loadtxt("points.txt")
    for i, part in enumerate(_split(exact, 4)):
        pd.DataFrame({"latitude": part[:, 0], "lng": part[:, 1]}).to_parquet("p%d.parquet" % i)
    assert heatmap.main(["-W", "200", "-o", "text.png", "points.txt"]) == 0
    assert heatmap.main(["-W", "200", "-o", "dask.png", "--dask", "local:2", "p*.parquet"]) == 0
    assert (tmp_path / "text.png").read_bytes() == (tmp_path / "dask.png").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["-a", "-o", "v.mp4", "p.txt"], "--dask cannot be used with -a/--animate"),
    (["-o", "x.png", "nothing*.txt"], "nothing*.txt: no such file"),
])
def test_refusals(client, tmp_path, capsys, args, message):
    os.chdir(tmp_path)
    (tmp_path / "p.txt").write_text("52.3 4.9\n52.4 5.0\n")
    assert heatmap.main(["-W", "50", "--dask", client.scheduler.address] + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    with pytest.raises(heatmap.HeatmapError, match="not data in memory"):
        heatmap.render([52.3], [4.9], width=50, dask=client)


def _kill_once(marker):
    """On a worker: its first partition ends the process (one worker, once, by the marker)."""
    original = heatmap._dask_part

    def killer(*args, **kwargs):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return original(*args, **kwargs)
    heatmap._dask_part = killer


def test_a_worker_killed_mid_run(client, tmp_path):
    """Dask runs the lost partitions again elsewhere; the picture is the same (last: it
    leaves the cluster with a new worker)."""
    frame = dd.from_pandas(TABLE, npartitions=4)
    client.run(_kill_once, str(tmp_path / "killed"))
    alone, spread = both(frame, client, decay=0.95)
    assert os.path.exists(tmp_path / "killed")
    assert alone == spread
