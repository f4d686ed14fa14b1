"""--tiles (XYZ folders, MBTiles, the viewer page), render_tiles, render_grid and
--world_file / GeoTIFF.

The main promise: a zoom's tiles, stitched, are the --osm picture of the same
data at that zoom, pixel for pixel.  The pictures get their map from the
local tile server of test/tileserver.py (never the internet).
"""
import io
import json
import os
import sqlite3
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import heatmap as hm  # noqa: E402
from conftest import cluster, gpx_text, plain_text  # noqa: E402
from tileserver import TileServer  # noqa: E402

OPAQUE = ["-m", "000ffffff", "-M", "02affffff"]   # heat colours all but opaque
INVISIBLE = ["-m", "000ffff00", "-M", "000ffff00"]  # no heat shows: the picture is its map


@pytest.fixture(autouse=True)
def _local(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def server():
    with TileServer() as srv:
        yield srv


# Data on both sides of the equator and of the prime meridian, where projected
# coordinates truncate toward zero, and far from them (Seattle).
ORIGIN = cluster(3, 60, 0.0, 0.0, 0.08) + cluster(4, 20, 0.01, -0.015, 0.01)
NORTH_WEST = cluster(5, 60, 47.61, -122.33, 0.05) + cluster(6, 20, 47.62, -122.32, 0.005)


def tracks(points):
    """Three tracks through consecutive points (some segments cross the axes)."""
    return [points[0:30], points[30:55], points[55:80]]


def stitch(folder, zoom):
    """The tiles of one zoom as one RGBA array and the global pixel of its corner."""
    tiles = {}
    for x in os.listdir(os.path.join(folder, str(zoom))):
        for name in os.listdir(os.path.join(folder, str(zoom), x)):
            with Image.open(os.path.join(folder, str(zoom), x, name)) as tile:
                assert tile.size == (256, 256) and tile.mode == "RGBA"
                tiles[int(x), int(name[:-4])] = np.asarray(tile)
    xs, ys = [k[0] for k in tiles], [k[1] for k in tiles]
    out = np.zeros(((max(ys) - min(ys) + 1) * 256, (max(xs) - min(xs) + 1) * 256, 4), np.uint8)
    for (x, y), pixels in tiles.items():
        out[(y - min(ys)) * 256:(y - min(ys) + 1) * 256,
            (x - min(xs)) * 256:(x - min(xs) + 1) * 256] = pixels
    return out, min(xs) * 256, min(ys) * 256


def window(stitched, corner, left, top, width, height):
    """The part of a stitched zoom at global pixels left.. and top.., zero outside."""
    pixels, x0, y0 = stitched
    out = np.zeros((height, width, 4), np.uint8)
    padded = np.zeros((pixels.shape[0] + 2 * height, pixels.shape[1] + 2 * width, 4), np.uint8)
    padded[height:height + pixels.shape[0], width:width + pixels.shape[1]] = pixels
    top, left = top - y0 + height, left - x0 + width
    assert 0 <= top and top + height <= padded.shape[0] and 0 <= left
    out[:] = padded[top:top + height, left:left + width]
    return out


def picture_corner(server, zoom, options, data_file):
    """Global pixel (x, y) of the top-left pixel of the --osm picture, by render_grid."""
    config = hm.Config(osm=True, osm_base=server.base_url, **dict({"zoom": zoom}, **options))
    grid = hm.render_grid(hm.read([data_file], config), config)
    a, _, c, _, e, f = grid.transform
    half = 128 * 2 ** zoom
    return int(round(c / a)) + half, int(round(f / e)) + half, grid


CASES = [(kind, radius, decay, zoom) for kind in ("points", "tracks")
         for radius, decay, zoom in ((3, 1.0, 12), (3, 0.6, 13), (12, 1.0, 13), (12, 0.6, 12))]


@pytest.mark.parametrize("kind,radius,decay,zoom", CASES)
@pytest.mark.parametrize("where", ["origin", "north_west"])
def test_stitched_tiles_are_the_osm_picture(run, write, tmp_path, server, kind, radius, decay,
                                            zoom, where):
    points = ORIGIN if where == "origin" else NORTH_WEST
    name = write("data.gpx" if kind == "tracks" else "data.txt",
                 gpx_text(tracks(points)) if kind == "tracks" else plain_text(points)).name
    heat = ["-r", radius, "-d", decay]
    osm = ["--osm", "-z", zoom, "--osm_base", server.base_url, "--osm_cache", tmp_path / "c"]
    assert run(*heat, *OPAQUE, *osm, "-o", "picture.png", name) == (0, "")
    assert run(*heat, *INVISIBLE, *osm, "-o", "map.png", name) == (0, "")
    assert run(*heat, *OPAQUE, "--tiles", "tiles", "--tile_zoom", zoom, name) == (0, "")
    with Image.open(tmp_path / "picture.png") as image:
        picture = np.asarray(image.convert("RGB"))
    with Image.open(tmp_path / "map.png") as image:
        expected = image.convert("RGB")
    left, top, grid = picture_corner(server, zoom, {"radius": radius, "decay": decay},
                                     str(tmp_path / name))
    tiles = window(stitch(tmp_path / "tiles", zoom), None, left, top, *expected.size)
    assert set(np.unique(tiles[..., 3])) == {0, 254}   # hsva alpha ff is 254 of 255
    assert np.array_equal(tiles[..., 3] > 0, grid.values != 0)   # heat where the picture has it
    layer = Image.fromarray(tiles, "RGBA")
    expected.paste(layer, None, layer.getchannel("A"))
    assert np.array_equal(np.asarray(expected), picture)


@pytest.mark.parametrize("zoom", [0, 1])
def test_world_tiles_at_zooms_0_and_1(run, write, tmp_path, server, zoom):
    """At zoom 0 the one tile is offset by half a tile from the engine's 256-pixel tiles."""
    points = [(-40.0, -70.0), (35.0, 139.7), (51.5, -0.1), (0.0, 0.0), (-33.9, 18.4)]
    write("world.txt", plain_text(points))
    size = {"width": 300} if zoom == 0 else {"zoom": zoom}   # -z 0 means "choose": -W 300 gives 0
    osm = ["--osm", "-W" if zoom == 0 else "-z", 300 if zoom == 0 else zoom,
           "--osm_base", server.base_url, "--osm_cache", tmp_path / "c"]
    assert run("-r", 6, *OPAQUE, *osm, "-o", "picture.png", "world.txt") == (0, "")
    assert run("-r", 6, *INVISIBLE, *osm, "-o", "map.png", "world.txt") == (0, "")
    assert run("-r", 6, *OPAQUE, "--tiles", "tiles", "--tile_zoom", zoom, "world.txt") == (0, "")
    assert len(os.listdir(tmp_path / "tiles" / str(zoom))) == 2 ** zoom
    with Image.open(tmp_path / "picture.png") as image:
        picture = np.asarray(image.convert("RGB"))
    with Image.open(tmp_path / "map.png") as image:
        expected = image.convert("RGB")
    left, top, _ = picture_corner(server, zoom, dict(size, radius=6), str(tmp_path / "world.txt"))
    tiles = window(stitch(tmp_path / "tiles", zoom), None, left, top, *expected.size)
    layer = Image.fromarray(tiles, "RGBA")
    expected.paste(layer, None, layer.getchannel("A"))
    assert np.array_equal(np.asarray(expected), picture)
