"""The README's shell examples run as written (issue 20).

Every line of a ```sh block that runs heatmap.py (``heatmap.py ...``, ``zcat ... |
heatmap.py ...``) runs in bash in a folder of fixture data named as the README names it,
with a ``heatmap.py`` command on PATH.  The one change to a line: ``--osm`` gets the local
tile server of test/tileserver.py.  A line that fails here must change in the README.
"""
import gzip
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from conftest import SEATTLE, plain_text  # noqa: E402
from test_inputs import export_folder  # noqa: E402
from tileserver import TileServer  # noqa: E402


def examples():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as stream:
        blocks = re.findall(r"```sh\n(.*?)```", stream.read(), re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return list(dict.fromkeys(line for line in lines
                              if re.match(r"heatmap\.py |zcat .*\| heatmap\.py ", line)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The files the examples name, and a heatmap.py command in bin/."""
    root = tmp_path_factory.mktemp("readme")
    ride, timed = (os.path.join(ROOT, "examples", n) for n in ("ride.gpx", "timed_ride.gpx"))
    for name in ("ride.gpx", "trip.gpx", "a.gpx", "rides/1.gpx", "rides/2.gpx"):
        os.makedirs(os.path.dirname(root / name), exist_ok=True)
        shutil.copy(timed, root / name)
    shutil.copy(ride, root / "b.gpx")
    shutil.copytree(os.path.join(ROOT, "examples"), root / "examples")
    for name in ("1", "2"):
        with open(root / "rides" / (name + ".gpx"), "rb") as stream:
            (root / "rides" / (name + ".gpx.gz")).write_bytes(gzip.compress(stream.read()))
    for name in ("photos.txt", "points.txt", "data.txt"):
        (root / name).write_text(plain_text(SEATTLE))
    (root / "points.txt.gz").write_bytes(gzip.compress(plain_text(SEATTLE).encode()))
    (root / "data.csv").write_text("lat,lon\n" + plain_text(SEATTLE).replace(" ", ","))
    for name in ("map.png", "basemap.png"):
        Image.new("RGB", (400, 300), (90, 90, 90)).save(root / name)
    gradient = np.linspace([0, 0, 255], [255, 255, 0], 256).astype(np.uint8)[::-1, None]
    Image.fromarray(gradient).save(root / "gradient.png")   # RGB, as ImageMagick makes it
    os.makedirs(root / "strava_export")
    export_folder(lambda name, data: _write(root / "strava_export" / "activities" /
                                            os.path.basename(name), data))
    os.makedirs(root / "bin")
    (root / "bin" / "heatmap.py").write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (
        sys.executable, os.path.join(ROOT, "heatmap.py")))
    os.chmod(root / "bin" / "heatmap.py", 0o755)
    assert subprocess.run([str(root / "bin" / "heatmap.py"), "-W", "80", "-S", "state.npz",
                           "data.txt"], cwd=root).returncode == 0   # for -L
    return root


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)


@pytest.fixture(scope="module")
def tiles():
    with TileServer() as server:
        yield server


@pytest.mark.parametrize("line", examples())
def test_the_readme_example_runs_as_written(folder, tiles, line):
    if "composite" in line and not shutil.which("composite"):
        pytest.skip("no ImageMagick: the example pipes into composite (apt-get install "
                    "imagemagick)")
    if re.search(r"-a |\.mp4|\.gif", line) and not shutil.which("ffmpeg"):
        pytest.skip("no ffmpeg")
    if "parquet" in line:   # issue 23: Parquet, --dask
        pq = pytest.importorskip("pyarrow.parquet")
        "--dask" in line and pytest.importorskip("distributed")
        os.makedirs(folder / "trips", exist_ok=True)
        points = np.loadtxt(folder / "points.txt")
        for name, rows in (("trips.parquet", points), ("trips/1.parquet", points[::2]),
                           ("trips/2.parquet", points[1::2])):
            pq.write_table(__import__("pyarrow").table({"lat": rows[:, 0], "lon": rows[:, 1]}),
                           folder / name)
    env = dict(os.environ, PATH="%s:%s" % (folder / "bin", os.environ["PATH"]),
               XDG_CACHE_HOME=str(folder / "cache"), no_proxy="127.0.0.1")
    done = subprocess.run(["bash", "-c", line.replace("--osm ", "--osm --osm_base %s "
                                                      % tiles.base_url)],
                          cwd=folder, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert b"heatmap.py: error" not in done.stderr, done.stderr.decode()


def test_the_readme_has_examples():
    assert len(examples()) > 15
