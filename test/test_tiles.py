"""--tiles (XYZ folders, MBTiles, the viewer page), render_tiles, render_grid and
--world_file / GeoTIFF.

The main promise: a zoom's tiles, stitched, are the --osm picture of the same
data at that zoom, pixel for pixel.  The pictures get their map from the
local tile server of test/tileserver.py (never the internet).
"""
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
from test_errors import _snapshot as snapshot  # noqa: E402
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
                assert tile.size == (256, 256) and tile.mode == "P"
                tiles[int(x), int(name[:-4])] = np.asarray(tile.convert("RGBA"))
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
    return int(round(c / a + 0.5)) + half, int(round(f / e + 0.5)) + half, grid  # pixels centred


CASES = [(kind, radius, decay, zoom) for kind in ("points", "tracks")
         for radius, decay, zoom in ((3, 1.0, 12), (3, 0.6, 13), (12, 1.0, 13), (12, 0.6, 12))]


@pytest.mark.parametrize("kind,radius,decay,zoom", CASES)
@pytest.mark.parametrize("where", ["origin", "north_west"])
def test_stitched_tiles_are_the_osm_picture(run, write, tmp_path, server, kind, radius, decay,
                                            zoom, where):
    points = ORIGIN if where == "origin" else NORTH_WEST
    name = write("data.gpx" if kind == "tracks" else "data.txt",
                 gpx_text(tracks(points)) if kind == "tracks" else plain_text(points)).name
    heat = ["-r", radius, "-d", decay, "--jump_warning", 0]   # its 5 km segments are no jumps
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


# ---- outputs: folder and MBTiles ----
def folder_tiles(folder):
    """{(z, x, y): PNG bytes} of a tile folder."""
    out = {}
    for z in (n for n in os.listdir(folder) if n.isdigit()):
        for x in os.listdir(os.path.join(folder, z)):
            for name in os.listdir(os.path.join(folder, z, x)):
                with open(os.path.join(folder, z, x, name), "rb") as stream:
                    out[int(z), int(x), int(name[:-4])] = stream.read()
    return out


def test_mbtiles_holds_the_folder_tiles(run, write, tmp_path):
    write("data.txt", plain_text(NORTH_WEST))
    assert run("-r", 8, "--tile_zoom", "9-13", "--tiles", "tiles", "data.txt") == (0, "")
    assert run("-r", 8, "--tile_zoom", "9-13", "--tiles", "t.mbtiles", "data.txt") == (0, "")
    folder = folder_tiles(tmp_path / "tiles")
    db = sqlite3.connect(str(tmp_path / "t.mbtiles"))
    rows = db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    db.close()
    assert {(z, x, 2 ** z - 1 - row): data for z, x, row, data in rows} == folder  # TMS rows
    assert {z for z, _, _ in folder} == set(range(9, 14))
    assert app_id == 0x4D504258
    assert meta["format"] == "png" and meta["name"] == "t"
    assert (meta["minzoom"], meta["maxzoom"]) == ("9", "13")
    west, south, east, north = map(float, meta["bounds"].split(","))
    lats, lons = np.array(NORTH_WEST).T
    assert west < lons.min() < lons.max() < east and south < lats.min() < lats.max() < north
    lon, lat, zoom = map(float, meta["center"].split(","))
    assert west < lon < east and south < lat < north and zoom == 9
    assert meta["attribution"] == "\u00a9 OpenStreetMap contributors"
    with open(tmp_path / "tiles" / "metadata.json") as stream:
        assert json.load(stream)["tile_count"] == len(folder)


def test_identical_tiles_are_stored_once(run, write, tmp_path):
    """One colour for all heat: the tiles inside a field of points 20 pixels apart are alike."""
    lat, lon = np.meshgrid(np.arange(47.4, 47.7, 0.0047), np.arange(-122.7, -122.25, 0.007))
    write("field.txt", plain_text(list(zip(lat.ravel(), lon.ravel()))))
    assert run("-r", 18, "-m", "000ffffff", "-M", "000ffffff", "--tile_zoom", "12",
               "--tiles", "t.mbtiles", "field.txt") == (0, "")
    db = sqlite3.connect(str(tmp_path / "t.mbtiles"))
    tiles = db.execute("SELECT COUNT(*) FROM map").fetchone()[0]
    images = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    distinct = db.execute("SELECT COUNT(DISTINCT tile_data) FROM tiles").fetchone()[0]
    db.close()
    assert images == distinct < tiles - 10


def test_default_zooms_fit_the_data(run, write, tmp_path):
    write("data.txt", plain_text(NORTH_WEST))
    assert run("--tiles", "tiles", "data.txt") == (0, "")
    with open(tmp_path / "tiles" / "metadata.json") as stream:
        meta = json.load(stream)
    first, last = meta["minzoom"], meta["maxzoom"]
    span = 0.05 / 360 * 256   # the data's width in pixels at zoom 0
    assert span * 2 ** first + 2 * 5 <= 256 < span * 2 ** (first + 1) + 2 * 5
    assert span * 2 ** last <= 4096 < span * 2 ** (last + 1)
    assert sorted(int(z) for z in os.listdir(tmp_path / "tiles") if z.isdigit()) == \
        list(range(first, last + 1))


def ride(seed, lat, lon, km=40):
    """A ride of points every 50 m, wandering from (lat, lon)."""
    heading = np.cumsum(np.random.default_rng(seed).normal(0, 0.2, km * 20))
    east = np.cumsum(np.cos(heading)) * 0.00045 / np.cos(np.radians(lat))
    return list(zip((lat + np.cumsum(np.sin(heading)) * 0.00045).tolist(), (lon + east).tolist()))


@pytest.mark.parametrize("budget, last", [(4096, 16), (100, 15), (50, 14)])
def test_default_zooms_of_rides_show_the_roads_within_a_tile_budget(run, write, tmp_path,
                                                                    monkeypatch, budget, last):
    """Five rides of 15 km go to zoom 16 (before: 14); their points lie in 200 tiles of zoom
    16, so with a budget of 100 tiles, zoom 15, and of 50, 14."""
    monkeypatch.setattr(hm, "_TILE_TRACK_BUDGET", budget)
    write("rides.gpx", gpx_text([ride(i, 52.1, 5.1, 15) for i in range(5)]))
    assert run("--tiles", "t.mbtiles", "rides.gpx") == (0, "")
    with sqlite3.connect(str(tmp_path / "t.mbtiles")) as db:
        assert dict(db.execute("SELECT name, value FROM metadata"))["maxzoom"] == str(last)


def test_the_centre_of_a_world_wide_export_is_on_its_data(run, write, tmp_path):
    """Rides in Seattle (the most), Berlin and Sydney.  Before: in the Atlantic."""
    rides = [ride(1, 47.6, -122.3), ride(2, 47.62, -122.2), ride(3, 52.5, 13.4),
             ride(4, -33.9, 151.2)]
    write("rides.gpx", gpx_text(rides))
    assert run("--tiles", "t.mbtiles", "--tile_zoom", "0-4", "rides.gpx") == (0, "")
    with sqlite3.connect(str(tmp_path / "t.mbtiles")) as db:
        lon, lat, _ = map(float, dict(db.execute("SELECT name, value FROM metadata"))[
            "center"].split(","))
    assert 47.4 < lat < 47.9 and -122.6 < lon < -121.5


def test_extent_writes_only_its_tiles_with_the_whole_data_scale(run, write, tmp_path):
    write("data.txt", plain_text(NORTH_WEST + ORIGIN))
    assert run("--tile_zoom", "12", "--tiles", "all", "data.txt") == (0, "")
    assert run("--tile_zoom", "12", "--extent=-1,-1,1,1", "--tiles", "part",
               "data.txt") == (0, "")
    everything, part = folder_tiles(tmp_path / "all"), folder_tiles(tmp_path / "part")
    assert part and set(part) < set(everything)
    assert all(everything[key] == data for key, data in part.items())


def test_replacing_our_folder_leaves_no_old_tiles(run, write, tmp_path):
    write("a.txt", plain_text(NORTH_WEST))
    write("b.txt", plain_text(ORIGIN))
    assert run("--tile_zoom", "11", "--tiles", "tiles", "a.txt") == (0, "")
    old = set(folder_tiles(tmp_path / "tiles"))
    assert run("--tile_zoom", "11", "--tiles", "tiles", "b.txt") == (0, "")
    new = set(folder_tiles(tmp_path / "tiles"))
    assert new and not new & old
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt", "tiles"]


def test_an_empty_folder_is_filled(run, write, tmp_path):
    write("a.txt", plain_text(NORTH_WEST))
    (tmp_path / "tiles").mkdir()
    assert run("--tile_zoom", "11", "--tiles", "tiles", "a.txt") == (0, "")
    assert folder_tiles(tmp_path / "tiles")


@pytest.mark.parametrize("out", ["tiles", "t.mbtiles"])
def test_interrupted_run_keeps_the_old_tiles(run, write, tmp_path, monkeypatch, out):
    write("a.txt", plain_text(NORTH_WEST))
    assert run("--tile_zoom", "10-12", "--tiles", out, "a.txt") == (0, "")
    before = snapshot(tmp_path)
    calls = []

    def interrupt(*args):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return png(*args)
    png = hm._tile_png
    monkeypatch.setattr(hm, "_tile_png", interrupt)
    write("b.txt", plain_text(ORIGIN + NORTH_WEST))
    before["b.txt"] = (tmp_path / "b.txt").read_bytes()
    code, err = run("--tile_zoom", "10-12", "--tiles", out, "b.txt")
    assert (code, err) == (130, "heatmap.py: interrupted\n")
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == sorted(["a.txt", "b.txt", out])


def test_tile_limit_is_checked_before_anything_is_written(run, write, tmp_path, monkeypatch):
    write("a.txt", plain_text(NORTH_WEST + ORIGIN))
    monkeypatch.setenv("HEATMAP_MAX_TILES", "20")
    code, err = run("--tile_zoom", "14", "--tiles", "tiles", "a.txt")   # sure before combining
    assert code == 2 and err.count("\n") == 1 and "over the limit" in err
    assert "HEATMAP_MAX_TILES" in err
    code, err = run("--tile_zoom", "8-13", "--tiles", "t.mbtiles", "a.txt")   # found on the way
    assert code == 2 and err.count("\n") == 1 and "HEATMAP_MAX_TILES" in err
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_progress_counts_the_tiles_of_each_zoom(run, write, tmp_path, monkeypatch):
    shown = []

    class Progress:
        def __init__(self, what, total=None):
            self.entry = [what, total, 0]
            shown.append(self.entry)

        def update(self, done):
            self.entry[2] = done

        def close(self):
            pass
    monkeypatch.setattr(hm, "_Progress", Progress)
    write("a.txt", plain_text(NORTH_WEST))
    assert run("--tile_zoom", "11-12", "--tiles", "tiles", "a.txt") == (0, "")
    tiles = folder_tiles(tmp_path / "tiles")
    written = [(what, total, done) for what, total, done in shown if "written" in what]
    assert written == [("zoom %d: tiles written" % z, n, n) for z, n in (
        (11, sum(k[0] == 11 for k in tiles)), (12, sum(k[0] == 12 for k in tiles)))]


# ---- the library ----
def test_render_tiles_yields_the_tiles_of_the_command_line(run, write, tmp_path):
    write("data.txt", plain_text(ORIGIN))
    assert run("-r", 7, "-d", 0.8, "--tile_zoom", "11-12", "--tiles", "tiles", "data.txt") == (0, "")
    lat, lon = np.array(ORIGIN).T
    made = hm.render_tiles([hm.Points(lat, lon)], hm.Config(radius=7), decay=0.8,
                           tile_zoom=(11, 12))
    tiles = {(z, x, y): png for z, x, y, png in made}
    assert tiles == folder_tiles(tmp_path / "tiles")


def test_render_tiles_refuses_picture_options_when_called():
    with pytest.raises(hm.HeatmapError, match=r"render_tiles\(\) has no use for the setting "
                       "background"):
        hm.render_tiles([hm.Points(np.zeros(1), np.zeros(1))], background="red")
    with pytest.raises(hm.HeatmapError, match="tiles cannot be used with scale, width or height"):
        hm.render_tiles([hm.Points(np.zeros(1), np.zeros(1))], width=100)


@pytest.mark.parametrize("projection,crs", [("mercator", "EPSG:3857"),
                                            ("equirectangular", "EPSG:4326")])
def test_render_grid_places_each_point_on_its_peak(projection, crs):
    """The transform puts every input point within one pixel of its heat peak."""
    lat = np.array([47.60, 47.65, 47.62, -0.004, 0.003])
    lon = np.array([-122.35, -122.30, -122.21, -0.002, 0.005])
    config = hm.Config(width=400, radius=3, projection=projection)
    grid = hm.render_grid([hm.Points(lat[:3], lon[:3])], config)
    assert grid.crs == crs and grid.values.shape == (np.asarray(hm.render(lat[:3], lon[:3], config))
                                                      .shape[:2])
    assert grid.peak == grid.values.max() > 0
    for la, lo in zip(lat[:3], lon[:3]):
        col, row = to_pixel(grid.transform, *projected(la, lo, crs))
        peak = peak_near(grid.values, col, row)
        assert abs(peak[0] - col) <= 1 and abs(peak[1] - row) <= 1
    grid = hm.render_grid([hm.Points(lat[3:], lon[3:])], hm.Config(scale=50, radius=3,
                                                                    projection=projection))
    for la, lo in zip(lat[3:], lon[3:]):   # truncation toward zero near the axes
        col, row = to_pixel(grid.transform, *projected(la, lo, crs))
        peak = peak_near(grid.values, col, row)
        assert abs(peak[0] - col) <= 1 and abs(peak[1] - row) <= 1


def projected(lat, lon, crs):
    """x, y of a point in the CRS, computed here independently of heatmap.py."""
    if crs == "EPSG:4326":
        return lon, lat
    radius = 6378137.0
    return radius * np.radians(lon), radius * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def to_pixel(transform, x, y):
    """Fractional (column, row) of x, y under an (a, b, c, d, e, f) transform."""
    a, b, c, d, e, f = transform
    assert b == d == 0
    return (x - c) / a, (y - f) / e


def peak_near(values, col, row, reach=4):
    """(column + 0.5, row + 0.5) of the largest value within ``reach`` pixels."""
    c, r = max(int(col) - reach, 0), max(int(row) - reach, 0)
    part = values[r:r + 2 * reach + 1, c:c + 2 * reach + 1]
    pr, pc = np.unravel_index(np.argmax(part), part.shape)
    return c + pc + 0.5, r + pr + 0.5


# ---- world files and GeoTIFF ----
@pytest.mark.parametrize("projection,crs", [("mercator", "3857"), ("equirectangular", "4326")])
def test_world_file_places_the_picture(run, write, tmp_path, projection, crs):
    write("data.txt", plain_text(NORTH_WEST[:6]))
    assert run("-W", 300, "-r", 3, "-P", projection, "--world_file", "-o", "out.png",
               "data.txt") == (0, "")
    with open(tmp_path / "out.pgw") as stream:
        a, d, b, e, c, f = map(float, stream.read().split())
    with open(tmp_path / "out.png.aux.xml") as stream:
        assert 'AUTHORITY["EPSG","%s"]]</SRS>' % crs in stream.read()
    with Image.open(tmp_path / "out.png") as image:
        alpha = np.asarray(image)[..., 3].astype(float)
    for lat, lon in NORTH_WEST[:6]:
        x, y = projected(lat, lon, "EPSG:" + crs)
        col, row = to_pixel((a, b, c - a / 2, d, e, f - e / 2), x, y)   # world files: centres
        peak = peak_near(alpha, col, row)
        assert abs(peak[0] - col) <= 1 and abs(peak[1] - row) <= 1


def test_world_file_names_follow_the_extension(run, write, tmp_path):
    write("data.txt", plain_text(NORTH_WEST[:6]))
    for name, world in (("a.jpg", "a.jgw"), ("b.jpeg", "b.jgw"), ("c.tif", "c.tfw"),
                        ("d.PNG", "d.pgw")):
        assert run("-W", 50, "--world_file", "-o", name, "data.txt")[0] == 0
        if name != "c.tif" or not has_rasterio():
            assert (tmp_path / world).is_file() and (tmp_path / (name + ".aux.xml")).is_file()


def test_world_file_of_a_short_track_drawn_wide(run, write, tmp_path):
    """Coordinates far from pixel 0 are drawn off a whole-pixel origin: the world file
    adds it back, also after -S and -L."""
    points = [(47.60001 + 0.00002 * i, -122.33001 + 0.00003 * (i % 3)) for i in range(5)]
    write("data.txt", plain_text(points))
    assert run("-W", 800, "-r", 4, "-S", "s.npz", "--world_file", "-o", "a.png",
               "data.txt") == (0, "")
    assert run("-L", "s.npz", "--world_file", "-o", "b.png") == (0, "")
    assert (tmp_path / "a.pgw").read_text() == (tmp_path / "b.pgw").read_text()
    with open(tmp_path / "a.pgw") as stream:
        a, d, b, e, c, f = map(float, stream.read().split())
    with Image.open(tmp_path / "a.png") as image:
        alpha = np.asarray(image)[..., 3].astype(float)
    for lat, lon in points:
        col, row = to_pixel((a, b, c - a / 2, d, e, f - e / 2), *projected(lat, lon, "EPSG:3857"))
        peak = peak_near(alpha, col, row, reach=6)
        assert abs(peak[0] - col) <= 1 and abs(peak[1] - row) <= 1


def test_world_file_of_a_loaded_state_keeps_its_projection(run, write, tmp_path):
    write("data.txt", plain_text(NORTH_WEST[:6]))
    assert run("-W", 90, "-P", "equirectangular", "-S", "s.npz", "--world_file", "-o", "a.png",
               "data.txt") == (0, "")
    assert run("-L", "s.npz", "--world_file", "-o", "b.png") == (0, "")
    assert (tmp_path / "a.pgw").read_text() == (tmp_path / "b.pgw").read_text()
    assert 'AUTHORITY["EPSG","4326"]]</SRS>' in (tmp_path / "b.png.aux.xml").read_text()


def has_rasterio():
    try:
        import rasterio  # noqa: F401
    except ImportError:
        return False
    return True


def test_gdal_reads_the_world_file_and_the_crs(run, write, tmp_path):
    rasterio = pytest.importorskip("rasterio")
    write("data.txt", plain_text(NORTH_WEST[:6]))
    assert run("-W", 120, "--world_file", "-o", "out.png", "data.txt") == (0, "")
    config = hm.Config(width=120)
    grid = hm.render_grid(hm.read(["data.txt"], config), config)
    with rasterio.open(tmp_path / "out.png") as image:
        assert image.crs.to_epsg() == 3857
        assert np.allclose(tuple(image.transform)[:6], grid.transform, rtol=1e-12)


@pytest.mark.parametrize("projection,epsg", [("mercator", 3857), ("equirectangular", 4326)])
def test_geotiff_with_rasterio(run, write, tmp_path, projection, epsg):
    rasterio = pytest.importorskip("rasterio")
    write("data.txt", plain_text(NORTH_WEST[:6]))
    assert run("-W", 120, "-P", projection, "--world_file", "-o", "out.tif", "data.txt") == (0, "")
    assert run("-W", 120, "-P", projection, "-o", "out.png", "data.txt") == (0, "")
    assert not (tmp_path / "out.tfw").exists()
    config = hm.Config(width=120, projection=projection)
    grid = hm.render_grid(hm.read(["data.txt"], config), config)
    with rasterio.open(tmp_path / "out.tif") as image:
        assert image.crs.to_epsg() == epsg
        assert np.allclose(tuple(image.transform)[:6], grid.transform, rtol=1e-12)
        assert [c.name for c in image.colorinterp] == ["red", "green", "blue", "alpha"]
        pixels = np.moveaxis(image.read(), 0, 2)
    with Image.open(tmp_path / "out.png") as png:
        assert np.array_equal(pixels, np.asarray(png))


def test_geotiff_falls_back_to_a_world_file_without_rasterio(run, write, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rasterio", None)   # import rasterio fails
    write("data.txt", plain_text(NORTH_WEST[:6]))
    assert run("-W", 60, "--world_file", "-o", "out.tif", "data.txt") == (0, "")
    assert (tmp_path / "out.tfw").is_file() and (tmp_path / "out.tif.aux.xml").is_file()


def test_a_fix_at_0_0_is_named_and_max_jump_gives_the_tiles_of_the_ride_without_it(
        run, write, tmp_path):
    """Issues 20, 24: a ride whose first fix is at 0,0 (a common glitch).  Before: no warning, and
    zooms 11-16 still running after 10 minutes; with --max_jump, the very tiles of the ride."""
    points = ride(7, 52.1, 5.1, 10)
    write("ride.gpx", gpx_text([points]))
    write("glitch.gpx", gpx_text([[(0.0, 0.0)] + points]))
    code, err = run("--tiles", "glitch", "--tile_zoom", "3-4", "glitch.gpx")
    assert code == 0 and err.splitlines()[0] == ("heatmap.py: warning: glitch.gpx: a track "
                                                 "segment 5819.4 km long, likely a GPS jump: "
                                                 "--max_jump drops such segments")
    assert run("--tiles", "clean", "ride.gpx") == (0, "")
    assert run("--tiles", "fixed", "--max_jump", 1000, "glitch.gpx") == (0, "")
    assert folder_tiles(tmp_path / "fixed") == folder_tiles(tmp_path / "clean")
