"""Our map tile arithmetic and mosaic equal osmviz's.

heatmap.py fetches tiles itself (see test/BENCHMARKS.md: osmviz has no timeout, no retry and
caches any status-200 body), but the tile range, the lat/lon bounds of the mosaic and
its pixels must be what ``osmviz.manager.OSMManager.create_osm_image`` gives, as the
original program used it.  Both fetch from the tile server of test/tileserver.py on
127.0.0.1.
"""
import os
import sys
import urllib.request

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import heatmap as hm  # noqa: E402
from tileserver import TileServer  # noqa: E402

# (min_lat, max_lat, min_lon, max_lon), zoom: osmviz's bounds order
LAYOUTS = [
    ((47.60, 47.62, -122.34, -122.32), 12),   # a city, one or two tiles
    ((47.60, 47.62, -122.34, -122.32), 15),   # the same, several tiles
    ((47.5, 47.7, -122.5, -122.2), 10),
    ((-0.5, 0.5, -0.5, 0.5), 7),              # the equator and the prime meridian
    ((-33.95, -33.80, 151.10, 151.30), 11),   # southern and eastern: Sydney
    ((64.10, 64.16, -21.98, -21.80), 13),     # far north: Reykjavik
    ((78.20, 78.25, 15.50, 15.70), 9),        # Svalbard
    ((-10.0, 10.0, 179.0, 179.9), 6),         # by the antimeridian
    ((-60.0, 60.0, -170.0, 170.0), 1),        # most of the world
    ((10.0, 20.0, 30.0, 40.0), 0),            # zoom 0: the one tile
    ((40.0, 40.0, -74.0, -74.0), 14),         # a single point
    ((0.0, 21.943045533438177, 0.0, 22.5), 4),   # edges on tile borders (y=7, x=9)
]


@pytest.fixture(scope="module")
def osmviz():
    """osmviz.manager, with the process-wide urllib opener it installs on import taken
    away again afterwards (it would change every later urlopen of the test run)."""
    saved = urllib.request._opener
    try:
        manager = pytest.importorskip("osmviz.manager")
        yield manager
    finally:
        urllib.request.install_opener(saved)


@pytest.fixture(scope="module")
def server():
    with TileServer() as srv:
        yield srv


@pytest.mark.parametrize("bounds,zoom", LAYOUTS, ids=[
    "city12", "city15", "area10", "null_island", "sydney", "reykjavik", "svalbard",
    "antimeridian", "world1", "zoom0", "one_point", "tile_borders"])
def test_mosaic_equals_osmviz(osmviz, server, tmp_path, capsys, monkeypatch, bounds, zoom):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    (tmp_path / "osmviz").mkdir()
    manager = osmviz.OSMManager(cache=str(tmp_path / "osmviz"), server=server.base_url,
                                image_manager=osmviz.PILImageManager("RGB"))
    their_image, their_bounds = manager.create_osm_image(bounds, zoom)
    capsys.readouterr()  # osmviz prints its progress

    min_lat, max_lat, min_lon, max_lon = bounds
    box = hm._Box(min_lon, min_lat, max_lon, max_lat)
    tiles = hm._tile_range(box, zoom)
    # tile range: osmviz's corner tiles
    assert tiles[:2] == manager.get_tile_coord(min_lon, max_lat, zoom)
    assert tiles[2:] == manager.get_tile_coord(max_lon, min_lat, zoom)
    # lat/lon bounds of the mosaic, to the last bit
    ours = hm._tile_range_box(tiles, zoom)
    assert (ours.min_y, ours.max_y, ours.min_x, ours.max_x) == their_bounds
    # pixel bounds: the mosaic spans whole tiles in our Mercator pixels at that zoom
    ppd, half = hm._zoom_ppd(zoom), 256 * 2 ** zoom / 2
    pixel_box = hm._project_box(hm.PROJECTIONS["mercator"], ours, ppd)
    want = [tiles[0] * 256 - half, tiles[1] * 256 - half,
            (tiles[2] + 1) * 256 - half, (tiles[3] + 1) * 256 - half]
    got = [pixel_box.min_x, pixel_box.min_y, pixel_box.max_x, pixel_box.max_y]
    assert np.allclose(got, want, rtol=0, atol=1e-6 * max(1, half))
    # pixels
    source = hm._tile_source(hm.Config(osm_base=server.base_url, osm_no_cache=True))
    mosaic = hm._tile_mosaic(tiles, zoom, source)
    assert mosaic.size == their_image.size == (256 * (tiles[2] - tiles[0] + 1),
                                               256 * (tiles[3] - tiles[1] + 1))
    assert np.array_equal(np.asarray(mosaic), np.asarray(their_image))


# ---- why heatmap.py fetches tiles itself: what test/BENCHMARKS.md says osmviz does ----
def test_osmviz_fetching_as_the_readme_describes(osmviz, server, tmp_path, capsys, monkeypatch):
    """If a new osmviz changes any of this, the osmviz audit in test/BENCHMARKS.md
    ("OpenStreetMap tiles: the osmviz audit") must change with it."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server.mode, server.flaky_failures = "ok", 1
    server.reset()
    manager = osmviz.OSMManager(cache=str(tmp_path), server=server.base_url,
                                image_manager=osmviz.PILImageManager("RGB"))
    manager.retrieve_tile_image((1, 1), 2)
    assert server.requests[-1][1].startswith("OSMViz/")           # its own User-Agent ...
    assert urllib.request._opener.addheaders[0][1].startswith("OSMViz/")  # ... process-wide
    server.mode = "500"
    with pytest.raises(Exception) as info:                        # a bare Exception
        manager.retrieve_tile_image((2, 1), 2)
    assert type(info.value) is Exception
    assert not os.path.exists(manager.get_local_tile_filename((2, 1), 2))  # errors not cached
    server.mode = "flaky"
    server.reset()
    with pytest.raises(Exception):                                # no retry
        manager.retrieve_tile_image((3, 1), 2)
    assert server.count == 1
    server.mode = "garbage"                                       # a 200 that is no image ...
    cached = manager.retrieve_tile_image((3, 2), 2)
    server.mode = "ok"
    server.reset()
    assert manager.retrieve_tile_image((3, 2), 2) == cached and server.count == 0
    with open(cached, "rb") as stream:                            # ... stays the "tile"
        assert stream.read().startswith(b"<html>")
    default = osmviz.OSMManager(image_manager=osmviz.PILImageManager("RGB"))
    assert "Using %s to cache map tiles" % default.cache in capsys.readouterr().out  # stdout
