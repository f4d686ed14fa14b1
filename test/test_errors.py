"""Hardening: every class of bad input ends in one clean error line.

Each row of ``ERRORS`` is run through ``heatmap.main([...])`` in a fresh
folder, once with no output present and once with an ``out.png`` and a
``state.npz`` already there, and must give

* exit status 2 (argparse's own ``SystemExit(2)`` for malformed options),
* exactly one line on stderr, ``heatmap.py: error: ...``, no traceback,
* the folder byte-for-byte as before: no output created, an existing
  output untouched, no ``*.part`` temp file left.
"""
import importlib.util
import io
import json
import os
import pickle
import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import heatmap  # noqa: E402
from tileserver import DAMAGED_TIFF  # noqa: E402  (Pillow raises TypeError loading it)


# ---- helpers ----
def _city(lat0, lon0, n=30, spread=0.05):
    """n reproducible 'lat lon' lines around a point."""
    rng = np.random.RandomState(7)
    lat = lat0 + spread * (rng.rand(n) - 0.5)
    lon = lon0 + spread * (rng.rand(n) - 0.5)
    return "".join("%.6f %.6f\n" % p for p in zip(lat, lon))


SEATTLE = _city(47.61, -122.33)
GPX_HEAD = '<?xml version="1.0"?>\n<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk>\n'
GOOD_GPX = (GPX_HEAD + '<trkseg><trkpt lat="47.6" lon="-122.3"/><trkpt lat="47.61" '
            'lon="-122.31"/></trkseg>\n</trk></gpx>\n')
EXISTING = {"out.png": b"an existing output\n", "state.npz": b"an existing state\n"}
# a track of two points a year apart: --frame_time's frame count (checked once ffmpeg is found)
YEAR_GPX = {"y.gpx": GPX_HEAD + (
    '<trkseg><trkpt lat="47.6" lon="-122.3"><time>2024-05-01T00:00:00Z</time></trkpt>'
    '<trkpt lat="47.7" lon="-122.2"><time>2025-05-01T00:00:00Z</time></trkpt></trkseg>'
    "</trk></gpx>\n")}
NEEDS_FFMPEG = pytest.mark.skipif(
    not (shutil.which("ffmpeg") or importlib.util.find_spec("imageio_ffmpeg")),
    reason="the frame count is checked once ffmpeg is found")
TIMED = {"t.gpx": GPX_HEAD + "<trkseg>" + "".join(
    '<trkpt lat="47.6%d" lon="-122.3"><time>2024-05-01T07:00:%02dZ</time></trkpt>' % (i, 10 * i)
    for i in range(3)) + "</trkseg></trk></gpx>\n"}


class _Payload:
    """Unpickling this would create the file 'pwned' (it must never happen)."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _png(mode, size=(1, 8), colour=0):
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def _npz(**arrays):
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _npy(array):
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _state(arrays=None, **changes):
    """A well-formed state file with some metadata replaced (None drops a key)."""
    meta = {"format": "heatmap.py-state", "version": 1, "heatmap": "x", "max": 1.0, "ppd": 100.0,
            "projection": "mercator", "box": [0.0, 0.0, 9.0, 9.0], "radius": 1, "margin": 0}
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    columns = dict(x=np.array([3], np.int64), y=np.array([4], np.int64), value=np.array([1.0]))
    columns.update(arrays or {})
    return _npz(meta=np.array(json.dumps(meta)), **columns)


def _shapefile(kind):
    """(shp, shx, dbf) bytes of a small shapefile of the given pyshp shape type."""
    shapefile = pytest.importorskip("shapefile")
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=kind) as writer:
        writer.field("name", "C")
        if kind == shapefile.POINT:
            writer.point(-122.3, 47.6)
            writer.point(-122.2, 47.7)
        else:
            writer.poly([[[-122.3, 47.6], [-122.2, 47.7], [-122.3, 47.7], [-122.3, 47.6]]])
        writer.record("a")
        if kind == shapefile.POINT:
            writer.record("b")
    return shp.getvalue(), shx.getvalue(), dbf.getvalue()


WGS84 = ('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,'
         '298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')
UTM = 'PROJCS["WGS_1984_UTM_Zone_10N",' + WGS84 + ',PROJECTION["Transverse_Mercator"]]'


def _files(case_files):
    """Resolve lazily built file contents (callables) of a table row."""
    return {name: (data() if callable(data) else data) for name, data in case_files.items()}


def _snapshot(folder):
    out = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as stream:
                out[os.path.relpath(path, folder)] = stream.read()
    return out


def run_main(argv, capsys):
    """(exit status, stderr) of heatmap.main; argparse's SystemExit counts as its code."""
    capsys.readouterr()
    try:
        code = heatmap.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line(err, prefix="heatmap.py: error: "):
    assert err.endswith("\n") and err.count("\n") == 1 and len(err) < 300, repr(err)
    assert err.startswith(prefix), repr(err)
    assert "Traceback" not in err


def _gz_run(head, run, tail, times):
    """gzip of head + run * times + tail, the run packed once and repeated as gzip members."""
    import gzip
    return gzip.compress(head) + gzip.compress(run) * times + gzip.compress(tail)


def _zip(members, encrypted=False, declared=None):
    """A zip archive; ``encrypted`` sets the members' encryption flag, ``declared`` their size."""
    import struct
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray(out.getvalue())
    for magic, flag, size in ((b"PK\x03\x04", 6, 22), (b"PK\x01\x02", 8, 24)):
        at = data.find(magic)
        while at >= 0:
            data[at + flag] |= encrypted
            if declared:
                data[at + size:at + size + 4] = struct.pack("<I", declared)
            at = data.find(magic, at + 4)
    return bytes(data)


def _sqlite():
    """An SQLite database of someone else's (a bookmarks table)."""
    import sqlite3
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "db")
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE bookmarks (url TEXT)")
        db.close()
        with open(path, "rb") as stream:
            return stream.read()


# ---- the table ----
W = ["-W", "40"]
OUT = ["-o", "out.png"]
PTS = {"pts.txt": SEATTLE}


def row(name, args, message, files=None, env=None):
    return pytest.param(args, message, files or {}, env or {}, id=name)


ERRORS = [
    # option values, checked before anything is read or written
    row("decay_above_1", W + OUT + ["-d", "1.5", "pts.txt"], "-d/--decay must be between 0 and 1",
        PTS),
    row("decay_negative", W + OUT + ["-d", "-0.1", "pts.txt"], "-d/--decay", PTS),
    row("decay_nan", W + OUT + ["-d", "nan", "pts.txt"], "-d/--decay", PTS),
    row("radius_0", W + OUT + ["-r", "0", "pts.txt"], "-r/--radius must be at least 1", PTS),
    row("radius_negative", W + OUT + ["-r", "-4", "pts.txt"], "-r/--radius", PTS),
    row("width_0", OUT + ["-W", "0", "pts.txt"], "-W/--width must be positive", PTS),
    row("height_negative", OUT + ["-H", "-5", "pts.txt"], "-H/--height must be positive", PTS),
    row("scale_0", OUT + ["-s", "0", "pts.txt"], "-s/--scale must be a positive number", PTS),
    row("scale_negative", OUT + ["-s", "-10", "pts.txt"], "-s/--scale", PTS),
    row("scale_inf", OUT + ["-s", "inf", "pts.txt"], "-s/--scale", PTS),
    row("scale_nan", OUT + ["-s", "nan", "pts.txt"], "-s/--scale", PTS),
    row("margin_negative", W + OUT + ["-R", "-1", "pts.txt"], "-R/--margin", PTS),
    row("frequency_0", W + OUT + ["--frequency", "0", "pts.txt"], "--frequency", PTS),
    row("extent_three_numbers", W + OUT + ["-e", "1,2,3", "pts.txt"],
        "argument -e/--extent: expected four numbers", PTS),
    row("extent_words", W + OUT + ["-e", "a,b,c,d", "pts.txt"], "expected four numbers", PTS),
    row("extent_nan", W + OUT + ["-e", "1,2,3,nan", "pts.txt"], "expected four numbers", PTS),
    row("extent_same_lat", W + OUT + ["-e", "47,-122,47,-121", "pts.txt"],
        "--extent needs four finite numbers, lat1 != lat2 and lon1 != lon2", PTS),
    row("extent_same_lon", W + OUT + ["-e", "47,-122,48,-122", "pts.txt"], "--extent needs", PTS),
    row("extent_beyond_mercator", W + OUT + ["-e", "89.9999999,-122,47,-121", "pts.txt"],
        "outside what the mercator projection can draw", PTS),
    row("extent_beyond_pole", W + OUT + ["-P", "equirectangular", "-e", "95,-122,47,-121",
                                         "pts.txt"], "equirectangular projection", PTS),
    row("hsva_short", W + OUT + ["-m", "12345", "pts.txt"], "is not 9 hex digits", PTS),
    row("hsva_not_hex", W + OUT + ["-M", "zzzzzzzzz", "pts.txt"], "is not 9 hex digits", PTS),
    row("unknown_colour", W + OUT + ["-b", "notacolour", "pts.txt"], "unknown colour", PTS),
    row("gradient_missing", W + OUT + ["-G", "nope.png", "pts.txt"], "cannot read gradient", PTS),
    row("gradient_not_an_image", W + OUT + ["-G", "grad.png", "pts.txt"],
        "cannot read gradient image", dict(PTS, **{"grad.png": b"not a png"})),
    row("gradient_not_rgba", W + OUT + ["-G", "grad.png", "pts.txt"],
        "gradient image must be RGBA or RGB", dict(PTS, **{"grad.png": lambda: _png("L")})),
    row("colormap_unknown", W + OUT + ["--colormap", "nonsense", "pts.txt"],
        "--colormap nonsense", PTS),
    row("colormap_and_gradient", W + OUT + ["--colormap", "viridis", "-G", "grad.png", "pts.txt"],
        "-G/--gradient and --colormap cannot be used together",
        dict(PTS, **{"grad.png": lambda: _png("RGBA")})),
    row("colour_scale_unknown", W + OUT + ["--colour_scale", "cubic", "pts.txt"],
        "argument --colour_scale: invalid choice", PTS),
    row("colour_max_0", W + OUT + ["--colour_max", "0", "pts.txt"],
        "--colour_max must be a positive number, not 0", PTS),
    row("colour_max_nan", W + OUT + ["--colour_max", "nan", "pts.txt"], "--colour_max", PTS),
    row("eq_hist_tiles", ["--tiles", "maps", "--colour_scale", "eq_hist", "pts.txt"],
        "--tiles cannot be used with --colour_scale eq_hist", PTS),
    row("background_image_missing", OUT + ["-I", "map.png", "pts.txt"],
        "no such background image", PTS),
    row("background_image_garbage", OUT + ["-I", "map.png", "pts.txt"],
        "cannot read background image", dict(PTS, **{"map.png": b"\x89PNG garbage"})),
    row("background_image_damaged_tiff", OUT + ["-I", "map.tif", "pts.txt"],
        "cannot read background image", dict(PTS, **{"map.tif": DAMAGED_TIFF})),
    row("gradient_damaged_tiff", W + OUT + ["-G", "grad.tif", "pts.txt"],
        "cannot read gradient image", dict(PTS, **{"grad.tif": DAMAGED_TIFF})),
    row("brightness_negative", W + OUT + ["-B", "-1", "pts.txt"], "-B/--background_brightness",
        PTS),
    row("brightness_inf", W + OUT + ["-B", "inf", "pts.txt"], "-B/--background_brightness", PTS),
    row("output_unknown_extension", W + ["-o", "out.xyz", "pts.txt"], "unknown image type", PTS),
    row("output_no_extension", W + ["-o", "out", "pts.txt"], "unknown image type", PTS),
    row("output_type_pillow_cannot_write", W + ["-o", "out.xbm", "pts.txt"],
        "cannot write XBM images", PTS),
    row("output_folder_missing", W + ["-o", "nofolder/out.png", "pts.txt"],
        "folder", PTS),
    row("output_is_a_folder", W + ["-o", "sub", "pts.txt"], "is a folder",
        dict(PTS, **{"sub/keep.txt": b"x"})),
    row("save_folder_missing", W + OUT + ["-S", "nofolder/state.npz", "pts.txt"], "does not exist",
        PTS),
    row("save_is_a_folder", W + OUT + ["-S", "sub", "pts.txt"], "-S/--save needs a file name",
        dict(PTS, **{"sub/keep.txt": b"x"})),
    row("save_over_input", W + OUT + ["-S", "pts.txt", "pts.txt"], "would overwrite an input file",
        PTS),
    row("output_is_save", W + ["-o", "out.png", "-S", "out.png", "pts.txt"], "name the same file",
        PTS),
    row("animate_without_output", W + ["-a", "pts.txt"], "nothing would be written", PTS),
    row("no_output", W + ["pts.txt"], "nothing would be written: give -o/--output", PTS),
    row("animate_save_without_output", W + ["-a", "-S", "s.npz", "pts.txt"],
        "--animate needs -o/--output", PTS),
    row("animate_bad_ffmpegopts", W + ["-a", "-o", "a.mp4", "-F", '"unbalanced', "pts.txt"],
        "-F/--ffmpegopts", PTS),
    # malformed options (argparse; one line, SystemExit(2))
    row("width_not_a_number", ["-W", "wide"] + OUT + ["pts.txt"],
        "argument -W/--width: invalid int value", PTS),
    row("unknown_option", W + OUT + ["--bogus", "pts.txt"], "unrecognized arguments: --bogus",
        PTS),
    row("unknown_kernel", W + OUT + ["-k", "cubic", "pts.txt"], "argument -k/--kernel", PTS),
    row("option_without_value", W + ["pts.txt", "-o"], "argument -o/--output: expected one",
        PTS),
    # nothing to draw
    row("no_input_files", W + OUT, "no input files"),
    row("no_arguments_at_all", [], "no input files"),
    row("no_size", OUT + ["pts.txt"], "no image size: give -W/--width", PTS),
    row("one_location_width", W + OUT + ["one.txt"],
        "all data has one longitude, so -W/-H cannot set the scale: give -s/--scale or --extent",
        {"one.txt": "47.6 -122.3\n47.6 -122.3\n"}),
    row("one_location_width_height", W + ["-H", "30"] + OUT + ["one.txt"],
        "all data is at one location", {"one.txt": "47.6 -122.3\n"}),
    row("one_latitude_height", ["-H", "30"] + OUT + ["row.txt"], "all data has one latitude",
        {"row.txt": "47.6 -122.3\n47.6 -122.2\n"}),
    # data errors: file and line named, bad text quoted
    row("missing_input", W + OUT + ["pts.txt", "nope.txt"], "nope.txt: no such file", PTS),
    row("url_without_dask", W + OUT + ["https://127.0.0.1:1/x.txt"],
        "https://127.0.0.1:1/x.txt: no such file (URLs are read with --dask)"),
    row("input_is_a_folder", W + OUT + ["sub"], "sub: is a folder, not a file",
        {"sub/keep.txt": b"x"}),
    row("plain_not_a_number", W + OUT + ["bad.txt"], "bad.txt:2: not a number: '47.62 east'",
        {"bad.txt": "47.6 -122.3\n47.62 east\n"}),
    row("plain_one_field", W + OUT + ["bad.txt"], "bad.txt:3: expected 'lat lon [weight]', got '47'",
        {"bad.txt": "47.6 -122.3\n\n47\n"}),
    row("plain_four_fields", W + OUT + ["bad.txt"], "bad.txt:1: expected 'lat lon [weight]'",
        {"bad.txt": "1 2 3 4\n"}),
    row("plain_commas", W + OUT + ["bad.txt"], "--filetype csv", {"bad.txt": "47.6,-122.3\n"}),
    row("plain_nan", W + OUT + ["bad.txt"], "bad.txt:2: not a finite number: 'nan -122.3'",
        {"bad.txt": "47.6 -122.3\nnan -122.3\n"}),
    row("plain_inf_weight", W + OUT + ["bad.txt"], "bad.txt:1: not a finite number",
        {"bad.txt": "47.6 -122.3 inf\n47.7 -122.2\n"}),
    row("plain_overflow", W + OUT + ["bad.txt"], "bad.txt:1: not a finite number",
        {"bad.txt": "1e999 -122.3\n"}),
    row("plain_binary", W + OUT + ["bad.txt"], "bad.txt:1:",
        {"bad.txt": b"\x00\xff\xfe garbage \x01\n"}),
    row("plain_long_bad_line", W + OUT + ["bad.txt"], "... (4928 more)'",
        {"bad.txt": "x" * 5000 + "\n"}),
    row("empty_file", W + OUT + ["empty.txt"], "empty.txt: no data points",
        dict(PTS, **{"empty.txt": ""})),
    row("blank_lines_only", W + OUT + ["blank.txt"], "blank.txt: no data points",
        {"blank.txt": "\n  \n\t\n"}),
    row("latitude_beyond_mercator", W + OUT + ["pole.txt"],
        "pole.txt: latitude 90 is outside what the mercator projection can draw",
        {"pole.txt": "90 10\n80 20\n"}),
    row("csv_missing_field", W + OUT + ["bad.csv"],
        "bad.csv:2: expected 'lat,lon[,weight]', got '47.7,': a field is missing",
        {"bad.csv": "47.6,-122.3\n47.7,\n"}),
    row("csv_one_column", W + OUT + ["bad.csv"], "bad.csv:1: expected 'lat,lon[,weight]'",
        {"bad.csv": "47.6\n"}),
    row("csv_not_a_number", W + OUT + ["bad.csv"], "bad.csv:2: not a number: 'x,-122.3'",
        {"bad.csv": "47.6,-122.3\nx,-122.3\n"}),
    row("csv_header_not_skipped", W + OUT + ["bad.csv"], "bad.csv:1: not a number: 'lat,lon'",
        {"bad.csv": "lat,lon\n47.6,-122.3\n"}),
    row("csv_header_only", W + OUT + ["--ignore_csv_header", "bad.csv"], "bad.csv: no data points",
        {"bad.csv": "lat,lon\n"}),
    row("csv_nan", W + OUT + ["bad.csv"], "bad.csv:1: not a finite number: '\"nan\",1'",
        {"bad.csv": '"nan",1\n47.6,-122.3\n'}),
    row("csv_nul_byte", W + OUT + ["bad.csv"], "bad.csv:1:", {"bad.csv": b"47.6\x00,-122.3\n"}),
    row("gpx_not_xml", W + OUT + ["t.gpx"], "t.gpx:1: not valid XML", {"t.gpx": "not xml at all"}),
    row("gpx_truncated", W + OUT + ["t.gpx"], "t.gpx:", {"t.gpx": GOOD_GPX[:-20]}),
    row("gpx_unknown_encoding", W + OUT + ["t.gpx"], "t.gpx:1: not valid XML: unknown encoding",
        {"t.gpx": GOOD_GPX.replace('"1.0"?>', '"1.0" encoding="TTF-8"?>')}),
    row("gpx_no_track_points", W + OUT + ["t.gpx"], "t.gpx: no GPX track points",
        {"t.gpx": GPX_HEAD + "</trk></gpx>\n"}),
    row("gpx_single_point_segments", W + OUT + ["t.gpx"], "t.gpx: no track segments",
        {"t.gpx": GPX_HEAD + '<trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>\n'}),
    row("gpx_bad_coordinate", W + OUT + ["t.gpx"], "t.gpx:3: bad coordinate",
        {"t.gpx": GPX_HEAD + '<trkseg><trkpt lat="north" lon="2"/></trkseg></trk></gpx>\n'}),
    row("gpx_nan", W + OUT + ["t.gpx"], "t.gpx:3: not a finite number",
        {"t.gpx": GPX_HEAD + '<trkseg><trkpt lat="nan" lon="2"/></trkseg></trk></gpx>\n'}),
    row("shp_garbage", W + OUT + ["p.shp"], "p.shp: not a readable shapefile",
        {"p.shp": b"\x00" * 50, "p.prj": WGS84}),
    row("shp_polygons", W + OUT + ["p.shp"], "only point and multipoint shapefiles",
        {"p.shp": lambda: _shapefile(5)[0], "p.shx": lambda: _shapefile(5)[1],
         "p.dbf": lambda: _shapefile(5)[2], "p.prj": WGS84}),
    row("shp_projected", W + OUT + ["p.shp"], "only WGS84 longitude/latitude shapefiles",
        {"p.shp": lambda: _shapefile(1)[0], "p.shx": lambda: _shapefile(1)[1],
         "p.dbf": lambda: _shapefile(1)[2], "p.prj": UTM}),
    # -L: only our own format, nothing else is ever unpickled or evaluated
    row("load_missing", OUT + ["-L", "nope.npz"], "nope.npz: no such file"),
    row("load_text", OUT + ["-L", "s.npz"], "s.npz: not a heatmap.py state file",
        {"s.npz": SEATTLE}),
    row("load_pickle", OUT + ["-L", "s.npz"], "s.npz: not a heatmap.py state file",
        {"s.npz": lambda: pickle.dumps(_Payload())}),
    row("load_npz_with_pickled_objects", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _npz(meta=np.array([_Payload()], dtype=object), x=np.zeros(1, np.int64),
                               y=np.zeros(1, np.int64), value=np.zeros(1))}),
    row("load_npy", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _npy(np.zeros(3))}),
    row("load_wrong_keys", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _npz(a=np.zeros(3))}),
    row("load_wrong_format_name", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(format="something-else")}),
    row("load_meta_not_json", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _npz(meta=np.array("{oops"), x=np.zeros(1, np.int64),
                               y=np.zeros(1, np.int64), value=np.zeros(1))}),
    row("load_wrong_dtype", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state({"x": np.zeros(1), "y": np.zeros(1)})}),
    row("load_ragged_columns", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state({"value": np.ones(2)})}),
    row("load_bool_radius", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(radius=True)}),
    row("load_future_version", OUT + ["-L", "s.npz"], "state file version 2 is not supported",
        {"s.npz": lambda: _state(version=2)}),
    row("load_no_ppd", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(ppd=None)}),
    row("load_text_ppd", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(ppd="fast")}),
    row("load_nan_max", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(max=float("nan"))}),
    row("load_inverted_box", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(box=[9.0, 9.0, 0.0, 0.0])}),
    row("load_box_not_a_list", OUT + ["-L", "s.npz"], "not a heatmap.py state file",
        {"s.npz": lambda: _state(box=7)}),
    row("load_huge_box", OUT + ["-L", "s.npz"], "s.npz: an image of",
        {"s.npz": lambda: _state(box=[0.0, 0.0, 1e12, 1e12])}),
    row("arrow_stream", W + OUT + ["s.arrow"], "s.arrow: not a Parquet, Arrow IPC (Feather 2) or "
        "NumPy file", {"s.arrow": b"\xff\xff\xff\xff" + bytes(60)}),
    row("output_format_contradicts_the_name", W + OUT + ["--output_format", "jpg", "pts.txt"],
        "out.png: the name gives another type than --output_format jpg", PTS),
    row("video_format_contradicts_the_name", W + ["-a", "-o", "a.gif", "--output_format", "mp4",
                                                  "pts.txt"],
        "a.gif: the name gives another type than --output_format mp4", PTS),
    row("npz_two_dimensional", W + OUT + ["g.npz"], "g.npz: a column is not one-dimensional",
        {"g.npz": lambda: _npz(lat=np.full((2, 2), 47.6), lon=np.full((2, 2), -122.3))}),
    row("ico_too_big", ["-W", "400", "-o", "x.ico", "pts.txt"],
        "x.ico: ICO images are at most 256 pixels wide and high", PTS),
    row("load_animate", ["-a", "-o", "out.gif", "-L", "s.npz"],
        "-a/--animate cannot be used with -L/--load", {"s.npz": _state}),
    row("load_animate_mp4", ["-a", "-o", "out.mp4", "-L", "s.npz"],
        "-a/--animate cannot be used with -L/--load", {"s.npz": _state}),
    # resource guards: the limit and how to override it
    row("radius_too_large", W + OUT + ["-r", "100000", "pts.txt"],
        "-r/--radius 100000 is over the limit of 1000; set HEATMAP_MAX_RADIUS to allow more", PTS),
    row("image_too_large", ["-W", "100000", "-H", "100000"] + OUT + ["pts.txt"],
        "an image of 10000000000 pixels is over the limit of 268435456; set HEATMAP_MAX_PIXELS",
        PTS),
    row("computed_image_too_large", ["-s", "0.1"] + OUT + ["pts.txt"],
        "over the limit of 268435456; set HEATMAP_MAX_PIXELS to allow more", PTS),
    row("scale_far_too_small", ["-s", "1e-9"] + OUT + ["pts.txt"], "give a larger -s/--scale",
        PTS),
    row("pixel_limit_from_env", ["-W", "20", "-H", "20"] + OUT + ["pts.txt"],
        "an image of 400 pixels is over the limit of 100", PTS, {"HEATMAP_MAX_PIXELS": "100"}),
    row("bad_limit_in_env", W + OUT + ["pts.txt"], "HEATMAP_MAX_PIXELS must be a positive whole number",
        PTS, {"HEATMAP_MAX_PIXELS": "lots"}),
    # hardening, round two (more in test_hardening.py)
    row("colour_out_of_range", W + OUT + ["-b", "rgb(256,0,0)", "pts.txt"],
        "colour 'rgb(256,0,0)' is out of range", PTS),
    row("output_format_unknown", W + ["-o", "-", "--output_format", "xyz", "pts.txt"],
        "--output_format xyz: unknown image type", PTS),
    row("format_too_wide", ["-W", "70000", "-H", "100", "-o", "out.gif", "pts.txt"],
        "out.gif: GIF images are at most 65535 pixels wide and high, not 70000 x 100", PTS),
    row("background_image_eps", OUT + ["-I", "map.eps", "pts.txt"],
        "map.eps: cannot read background image: not an image (PNG, JPEG",
        dict(PTS, **{"map.eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n"})),
    row("load_box_1e300", OUT + ["-L", "s.npz"], "s.npz: not a heatmap.py state file",
        {"s.npz": lambda: _state(box=[-1e300, -1e300, 1e300, 1e300])}),
    row("tile_template_too_wide", ["--osm", "-W", "99", "--osm_path_template", "/{x:>999}"]
        + OUT + ["pts.txt"], "{x:>999} is wider than 64 characters", PTS),
    # --tiles, --tile_zoom and --world_file
    row("tile_zoom_too_deep", ["--tile_zoom", "25", "--tiles", "maps", "pts.txt"],
        "--tile_zoom 25 is too deep: zooms go from 0 to 22", PTS),
    row("tile_zoom_reversed", ["--tile_zoom", "16-10", "--tiles", "maps", "pts.txt"],
        "--tile_zoom 16-10: the first zoom is deeper than the last", PTS),
    row("tile_zoom_not_a_zoom", ["--tile_zoom", "ten", "--tiles", "maps", "pts.txt"],
        "argument --tile_zoom: expected a zoom or MIN-MAX (e.g. 10-16), got 'ten'", PTS),
    row("tiles_into_a_folder_not_ours", ["--tiles", "maps", "pts.txt"],
        "maps: holds a; --tiles replaces only what it made", dict(PTS, **{"maps/a": "mine"})),
    row("tiles_into_a_folder_with_other_metadata", ["--tiles", "maps", "pts.txt"],
        "maps: holds no metadata.json of ours", dict(PTS, **{"maps/metadata.json": "{}"})),
    row("tiles_folder_holds_an_input", ["--tiles", "maps", "maps/pts.txt"],
        "maps: replacing it would delete maps/pts.txt", {
            "maps/pts.txt": SEATTLE, "maps/metadata.json": '{"format": "heatmap.py-tiles"}'}),
    row("tiles_into_a_file", ["--tiles", "pts.txt", "pts.txt"],
        "pts.txt: is a file; --tiles writes a folder, or a file named .mbtiles", PTS),
    row("tiles_in_a_missing_folder", ["--tiles", "no/maps", "pts.txt"],
        "'no/maps': --tiles needs a folder or .mbtiles file name in a folder that exists", PTS),
    row("mbtiles_that_is_a_folder", ["--tiles", "m.mbtiles", "pts.txt"],
        "m.mbtiles: is a folder; --tiles writes a folder, or a file named .mbtiles",
        dict(PTS, **{"m.mbtiles/a": "x"})),
    row("tiles_with_background", ["-b", "black", "--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with -b/--background", PTS),
    row("tiles_with_background_image", ["-I", "map.png", "--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with -I/--background_image", PTS),
    row("tiles_with_osm", ["--osm", "-z", "3", "--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with --osm", PTS),
    row("tiles_with_animate", ["-a", "--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with -a/--animate", PTS),
    row("tiles_with_output", OUT + ["--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with -o/--output", PTS),
    row("tiles_with_width", W + ["--tiles", "maps", "pts.txt"],
        "--tiles cannot be used with -s/--scale, -W/--width or -H/--height", PTS),
    row("tiles_equirectangular", ["-P", "equirectangular", "--tiles", "maps", "pts.txt"],
        "map tiles are Web Mercator", PTS),
    row("tile_limit", ["--tile_zoom", "15", "--tiles", "maps", "pts.txt"],
        "--tiles would write more than 3 tiles", PTS, {"HEATMAP_MAX_TILES": "3"}),
    row("mbtiles_tile_limit", ["--tile_zoom", "15", "--tiles", "m.mbtiles", "pts.txt"],
        "set HEATMAP_MAX_TILES to allow more", PTS, {"HEATMAP_MAX_TILES": "3"}),
    row("world_file_without_output", W + ["--world_file", "pts.txt"],
        "--world_file needs -o/--output FILE", PTS),
    row("world_file_to_stdout", W + ["--world_file", "-o", "-", "pts.txt"],
        "--world_file needs -o/--output FILE: it is written beside the picture", PTS),
]


GEO_POINT = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [%s]}}'
KML = "<kml><Placemark><LineString><coordinates>-122.3,47.6 -122.2,47.7</coordinates>" \
      "</LineString></Placemark></kml>"
OURS = '{"format": "heatmap.py-tiles"}'
BIG = "1" + "0" * 400


def _geo_feature(coordinates="-122.3, 47.6", properties="{}"):
    return '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [%s]}, ' \
           '"properties": %s}' % (coordinates, properties)


def _collection(*features):
    return '{"type": "FeatureCollection", "features": [%s]}' % ", ".join(features)


def _records(*records):
    return '{"locations": [%s]}' % ", ".join(records)


# the readers of issue 10 and the input limits of issue 15
ERRORS += [
    row("input_png_named_txt", W + OUT + ["p.txt"], "p.txt: is a PNG image, not plain text",
        {"p.txt": lambda: _png("RGB")}),
    row("input_zip_named_csv", W + OUT + ["p.csv"], "p.csv: is a zip archive, not CSV",
        {"p.csv": b"PK\x03\x04\x14\x00\x00\x00"}),
    row("input_pdf", W + OUT + ["p.gpx"], "p.gpx: is a PDF document, not GPX",
        {"p.gpx": b"%PDF-1.5\n"}),
    row("gzip_truncated", W + OUT + ["p.txt.gz"], "p.txt.gz: damaged or truncated gzip data",
        {"p.txt.gz": lambda: __import__("gzip").compress(SEATTLE.encode() * 50)[:-40]}),
    row("stdin_twice", W + OUT + ["-", "-"], "standard input can be read only once"),
    row("input_folder", W + OUT + ["."], ".: is a folder, not a file"),
    row("xml_of_another_kind", W + OUT + ["x.xml"], "XML with the root element <svg>",
        {"x.xml": "<svg></svg>"}),
    row("longitude_1e300", W + OUT + ["p.txt"], "longitude 1e+300 is outside -360..360",
        {"p.txt": "47.6 -122.3\n47.7 1e300\n"}),
    row("csv_unterminated_quote", W + OUT + ["q.csv"], "q.csv:2: a quote is not closed",
        {"q.csv": '47.6,-122.3\n47.7,-122.2,"open\n47.8,-122.1\n'}),
    row("csv_columns_unknown", W + OUT + ["--csv_columns", "lat,lng", "c.csv"],
        "c.csv:1: no column named 'lng'", {"c.csv": "lat,lon\n47.6,-122.3\n"}),
    row("csv_columns_malformed", W + OUT + ["--csv_columns", "lat", "c.csv"],
        "--csv_columns: expected LAT,LON[,WEIGHT[,TIME]]", {"c.csv": "lat,lon\n47.6,-122.3\n"}),
    row("csv_bad_time", W + OUT + ["--csv_columns", "lat,lon,,t", "c.csv"],
        "c.csv:3: bad time 'soon'", {"c.csv": "lat,lon,t\n47.6,-122.3,1700000000\n"
                                              "47.7,-122.2,soon\n"}),
    row("plain_bad_time", W + OUT + ["--time_column", "p.txt"], "p.txt:1: bad time '2023-13-01T00:00:00Z'",
        {"p.txt": "47.6 -122.3 1 2023-13-01T00:00:00Z\n"}),
    row("gpx_bad_time", W + OUT + ["t.gpx"], "t.gpx:3: bad time 'noon'",
        {"t.gpx": GPX_HEAD + '<trkseg><trkpt lat="1" lon="2"><time>noon</time></trkpt>'
                             '</trkseg></trk></gpx>\n'}),
    row("gpx_huge_bad_coordinate", W + OUT + ["t.gpx"], "t.gpx:3: bad coordinate in <trkpt lat='1xxxx",
        {"t.gpx": GPX_HEAD + '<trkseg><trkpt lat="1%s" lon="2"/></trkseg></trk></gpx>\n'
                             % ("x" * 100000)}),
    row("geojson_not_json", W + OUT + ["g.geojson"], "g.geojson:1: not valid JSON",
        {"g.geojson": '{"type": "FeatureCollection", "features": [}'}),
    row("geojson_bad_coordinates", W + OUT + ["g.geojson"],
        "g.geojson: (root): coordinates are not [lon, lat] numbers",
        {"g.geojson": GEO_POINT % '"x", 1'}),
    row("geojson_polygons_only", W + OUT + ["g.geojson"], "g.geojson: no GeoJSON points or lines (1 polygon skipped)",
        {"g.geojson": '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 1], [0, 0]]]}'}),
    row("ndjson_bad_line", W + OUT + ["g.ndjson"], "g.ndjson:2: not valid JSON",
        {"g.ndjson": GEO_POINT % "1, 2" + "\n{oops}\n"}),
    row("kml_bad_coordinates", W + OUT + ["k.kml"], "k.kml:1: bad KML coordinates",
        {"k.kml": "<kml><Placemark><Point><coordinates>1;2</coordinates></Point></Placemark></kml>"}),
    row("tcx_bad_latitude", W + OUT + ["t.tcx"], "t.tcx:2: bad latitude 'north'",
        {"t.tcx": "<TrainingCenterDatabase><Activities><Activity><Lap><Track>\n<Trackpoint>"
                  "<Position><LatitudeDegrees>north</LatitudeDegrees><LongitudeDegrees>2"
                  "</LongitudeDegrees></Position></Trackpoint></Track></Lap></Activity>"
                  "</Activities></TrainingCenterDatabase>"}),
    row("takeout_no_locations", W + OUT + ["Records.json"], "Records.json: no Takeout locations",
        {"Records.json": '{"locations": []}'}),
    row("fit_damaged", W + OUT + ["r.fit"], "r.fit: record 0: not valid FIT data",
        {"r.fit": b"\x0e\x10\x00\x00\x10\x00\x00\x00.FIT\x00\x00garbage"}),
    # columnar files (issue 23): nothing unpickled, a bad value named by its row
    row("parquet_damaged", W + OUT + ["p.parquet"], "p.parquet: not a readable Parquet, Arrow or "
        "NumPy file", {"p.parquet": b"PAR1 not really PAR1"}),
    row("arrow_damaged", W + OUT + ["p.feather"], "p.feather: not a readable Parquet, Arrow or "
        "NumPy file", {"p.feather": b"ARROW1\x00\x00 cut short"}),
    row("npy_pickled_objects", W + OUT + ["p.npy"], "p.npy: not a readable Parquet, Arrow or "
        "NumPy file", {"p.npy": lambda: _npy(np.array([[_Payload(), 1]], dtype=object))}),
    row("npz_no_coordinates", W + OUT + ["p.npz"], "p.npz:1: no column named 'lat'",
        {"p.npz": lambda: _npz(a=np.zeros(3), b=np.zeros(3))}),
    row("npy_not_finite", W + OUT + ["p.npy"], "p.npy:2: not a finite number",
        {"p.npy": lambda: _npy(np.array([[47.6, -122.3], [np.nan, -122.3]]))}),
    row("npy_three_dimensions", W + OUT + ["p.npy"], "p.npy:1: no column named 'lat'",
        {"p.npy": lambda: _npy(np.zeros((2, 2, 2)))}),
    row("dask_animate", W + ["-a", "-o", "v.mp4", "--dask", "local:1", "pts.txt"],
        "--dask cannot be used with -a/--animate", PTS),
    # time and tracks (issue 12; --frame_time's frame limit is in test_time.py: it needs ffmpeg)
    row("fade_without_animate", W + OUT + ["--fade", "10m", "t.gpx"],
        "--fade needs -a/--animate", TIMED),
    row("frame_time_without_animate", W + OUT + ["--frame_time", "1m", "t.gpx"],
        "--frame_time needs -a/--animate", TIMED),
    row("fade_without_frame_time", W + ["-a", "-o", "a.mp4", "--fade", "10m", "t.gpx"],
        "--fade needs --frame_time", TIMED),
    row("frame_time_zero", W + ["-a", "-o", "a.mp4", "--frame_time", "0", "t.gpx"],
        "--frame_time must be a positive duration", TIMED),
    row("frame_time_word", W + ["-a", "-o", "a.mp4", "--frame_time", "soon", "t.gpx"],
        "argument --frame_time: expected a duration such as 90s, 15m, 1h or 1d", TIMED),
    row("time_range_keeps_nothing", W + OUT + ["--time_range", "2030-01-01,", "t.gpx"],
        "--time_range 2030-01-01, keeps nothing: the data's times run from 2024-05-01 07:00:00 "
        "to 2024-05-01 07:00:20", TIMED),
    row("time_range_bad_time", W + OUT + ["--time_range", "noon,", "t.gpx"],
        "argument --time_range: bad time 'noon'", TIMED),
    row("time_range_backwards", W + OUT + ["--time_range", "2024-05-02,2024-05-01", "t.gpx"],
        "START 2024-05-02 is after END 2024-05-01", TIMED),
    row("time_range_not_a_pair", W + OUT + ["--time_range", "2024-05-01", "t.gpx"],
        "argument --time_range: expected START,END", TIMED),
    row("needs_times_names_the_file", W + OUT + ["--weight_by_time", "pts.txt"],
        "--weight_by_time needs times, and no input has them: pts.txt", PTS),
    row("needs_times_in_no_file", W + OUT + ["--track_weight", "time", "pts.txt", "p2.txt"],
        "--track_weight time needs times, and no input has them: pts.txt, p2.txt",
        dict(PTS, **{"p2.txt": "1 2\n"})),
    row("max_jump_negative", W + OUT + ["--max_jump=-5", "t.gpx"],
        "--max_jump must be a positive number", TIMED),
    row("trim_ends_nan", W + OUT + ["--trim_ends", "nan", "t.gpx"],
        "--trim_ends must be a non-negative number", TIMED),
    row("fps_zero", W + ["-a", "-o", "a.mp4", "--fps", "0", "t.gpx"],
        "--fps must be between 0.001 and 1000, not 0", TIMED),
    row("trim_leaves_nothing", W + OUT + ["--trim_ends", "5000", "t.gpx"],
        "nothing is left to draw after --trim_ends", TIMED),
    pytest.param(W + ["-a", "-o", "y.mp4", "--frame_time", "1s", "--jump_warning=0", "y.gpx"],
                 "--frame_time 1s would make 31536000 frames (the data runs from 2024-05-01 "
                 "00:00:00 to 2025-05-01 00:00:00), more than 100000", YEAR_GPX, {},
                 id="frame_time_too_many_frames", marks=NEEDS_FFMPEG),
]

# issue 24, hardening round three: the outputs alter nothing not ours, the readers stay bounded
ERRORS += [
    # every output name is checked before anything is written
    row("world_file_over_an_input", W + ["-o", "pts.png", "--world_file", "pts.txt", "pts.pgw"],
        "pts.pgw: --world_file would overwrite an input file", dict(PTS, **{"pts.pgw": SEATTLE})),
    row("save_is_the_world_file", W + OUT + ["-S", "out.pgw", "--world_file", "pts.txt"],
        "out.pgw: --world_file and -S/--save name the same file", PTS),
    row("save_is_the_aux_xml", W + OUT + ["-S", "out.png.aux.xml", "--world_file", "pts.txt"],
        "out.png.aux.xml: --world_file and -S/--save name the same file", PTS),
    row("world_file_is_a_folder", W + ["-o", "o3.png", "--world_file", "pts.txt"],
        "o3.pgw: is a folder; --world_file needs a file name", dict(PTS, **{"o3.pgw/a": "x"})),
    row("world_file_beside_a_device", W + ["-o", "/dev/null", "--world_file", "pts.txt"],
        "--world_file needs -o/--output FILE: it is written beside the picture", PTS),
    # --tiles replaces only what it made
    row("tiles_over_a_users_file", ["--tiles", "maps", "pts.txt"],
        "maps: holds NOTES.txt; --tiles replaces only what it made", dict(PTS, **{
            "maps/metadata.json": OURS, "maps/NOTES.txt": "mine", "maps/12/1/2.png": "x"})),
    row("tiles_over_a_users_folder", ["--tiles", "maps", "pts.txt"], "maps: holds photos",
        dict(PTS, **{"maps/metadata.json": OURS, "maps/photos/a.jpg": "mine"})),
    row("tiles_over_a_users_file_deeper", ["--tiles", "maps", "pts.txt"],
        "maps: holds 12/index.orig", dict(PTS, **{"maps/metadata.json": OURS,
                                                  "maps/12/index.orig": "mine"})),
    row("tiles_the_working_folder", ["--tiles", ".", "pts.txt"], ".: replacing it would delete",
        PTS),
    row("tiles_above_the_working_folder", ["--tiles", "..", "pts.txt"],
        "..: replacing it would delete", PTS),
    row("tiles_the_root", ["--tiles", "/", "pts.txt"], "/: replacing it would delete", PTS),
    row("tiles_no_name", ["--tiles", "", "pts.txt"], "'': --tiles needs a folder or .mbtiles",
        PTS),
    row("mbtiles_over_a_users_database", ["--tiles", "bookmarks.mbtiles", "pts.txt"],
        "bookmarks.mbtiles: is not an MBTiles file of ours", dict(PTS, **{
            "bookmarks.mbtiles": _sqlite})),
    row("mbtiles_over_an_empty_file", ["--tiles", "m.mbtiles", "pts.txt"],
        "m.mbtiles: is not an MBTiles file of ours", dict(PTS, **{"m.mbtiles": ""})),
    row("tiles_world_spanning_segments", ["--tile_zoom", "0-22", "--jump_warning", "0",
                                          "--tiles", "maps", "w.gpx"],
        "--tiles would write more than 1000000 tiles (at least", {"w.gpx": GPX_HEAD + (
            '<trkseg><trkpt lat="-80" lon="-179"/><trkpt lat="80" lon="179"/>'
            '<trkpt lat="-80" lon="-179"/></trkseg></trk></gpx>')}),
    # numbers checked where they enter
    row("env_limit_negative", ["--tiles", "maps", "pts.txt"],
        "environment variable HEATMAP_MAX_TILES must be a positive whole number, not '-5'", PTS,
        {"HEATMAP_MAX_TILES": "-5"}),
    row("env_limit_huge", W + OUT + ["pts.txt"], "HEATMAP_MAX_PIXELS must be a positive whole "
        "number, not '1000000000000000000000", PTS, {"HEATMAP_MAX_PIXELS": "1" + "0" * 400}),
    row("fps_huge", W + ["-a", "-o", "a.mp4", "--fps", "1e308", "t.gpx"],
        "--fps must be between 0.001 and 1000, not 1e+308", TIMED),
    row("fps_tiny", W + ["-a", "-o", "a.mp4", "--fps", "1e-300", "t.gpx"],
        "--fps must be between 0.001 and 1000, not 1e-300", TIMED),
    row("geojson_boolean_coordinates", W + OUT + ["g.geojson"],
        "g.geojson: (root): coordinates are not [lon, lat] numbers",
        {"g.geojson": _geo_feature("true, false")}),
    row("geojson_text_coordinates", W + OUT + ["g.geojson"],
        "g.geojson: features[1]: coordinates are not [lon, lat] numbers",
        {"g.geojson": _collection(_geo_feature(), _geo_feature('"-122.2", "47.7"'))}),
    row("geojson_line_of_text", W + OUT + ["g.geojson"],
        "g.geojson: (root).geometry: coordinates are not [lon, lat] numbers", {"g.geojson": (
            '{"type": "Feature", "geometry": {"type": "LineString", "coordinates": '
            '[[-122.3, 47.6], [-122.2, true]]}}')}),
    row("geojson_huge_coordinate", W + OUT + ["g.geojson"],
        "g.geojson: features[1]: coordinates are not [lon, lat] numbers",
        {"g.geojson": _collection(_geo_feature(), _geo_feature("%s, 2" % BIG))}),
    row("geojson_huge_weight", W + OUT + ["--weight_property", "w", "g.geojson"],
        "g.geojson: weight nan is not a finite number",
        {"g.geojson": _collection(_geo_feature(), _geo_feature(properties='{"w": %s}' % BIG))}),
    row("geojson_nan_weight", W + OUT + ["--weight_property", "w", "g.ndjson"],
        "g.ndjson: weight nan is not a finite number", {"g.ndjson": _geo_feature() + "\n" +
                                                        _geo_feature("1, 2", '{"w": NaN}')}),
    row("geojson_minus_infinity_weight", W + OUT + ["--weight_property", "w", "g.ndjson"],
        "g.ndjson: weight -inf is not a finite number", {"g.ndjson": _geo_feature() + "\n" +
                                                         _geo_feature("1, 2", '{"w": -Infinity}')}),
    row("geojson_huge_time", W + OUT + ["g.geojson"], "g.geojson: (root): bad time '1000",
        {"g.geojson": _geo_feature(properties='{"time": %s}' % BIG)}),
    row("geojson_time_list_on_a_point", W + OUT + ["g.geojson"],
        "g.geojson: (root).geometry: 1 positions but 2 times listed", {"g.geojson": _geo_feature(
            properties='{"time": [1, 2]}')}),
    row("takeout_huge_e7", W + OUT + ["Records.json"],
        "Records.json: locations[0...]: latitudeE7/longitudeE7 not numbers",
        {"Records.json": _records('{"latitudeE7": %s, "longitudeE7": 2}' % BIG)}),
    row("takeout_text_e7", W + OUT + ["Records.json"],
        "Records.json: locations[0...]: latitudeE7/longitudeE7 not numbers",
        {"Records.json": _records('{"latitudeE7": "476000000", "longitudeE7": 2}')}),
    row("takeout_minus_infinity_e7", W + OUT + ["Records.json"],
        "Records.json: locations[0...]: latitudeE7/longitudeE7 not numbers",
        {"Records.json": _records('{"latitudeE7": -Infinity, "longitudeE7": 2}')}),
    row("takeout_huge_timestamp_ms", W + OUT + ["Records.json"],
        "Records.json: locations[1]: bad time '1000", {"Records.json": _records(
            '{"latitudeE7": 476000000, "longitudeE7": -1223000000, "timestampMs": 1}',
            '{"latitudeE7": 476000000, "longitudeE7": -1223000000, "timestampMs": %s}' % BIG)}),
    # nesting, runs and packed sizes bounded
    row("geojson_nested_1000_deep", W + OUT + ["g.geojson"], "g.geojson:1: JSON nested more "
        "than 64 deep", {"g.geojson": "[" * 1000 + "]" * 1000}),
    row("takeout_nested_1000_deep", W + OUT + ["Records.json"], "Records.json:1: JSON nested",
        {"Records.json": _records("[" * 1000 + "]" * 1000)}),
    row("ndjson_nested_1000_deep", W + OUT + ["g.ndjson"], "g.ndjson: nested too deep to read",
        {"g.ndjson": _geo_feature() + "\n" + "[" * 1000 + "]" * 1000 + "\n"}),
    row("gzip_past_the_ratio", W + OUT + ["p.txt.gz"],
        "p.txt.gz: unpacks to more than 2 times its size; set HEATMAP_MAX_RATIO", {
            "p.txt.gz": lambda: _gz_run(SEATTLE.encode(), b"\n" * (1 << 20), b"", 3)},
        {"HEATMAP_MAX_RATIO": "2"}),
    row("gpx_time_runs_on", W + OUT + ["t.gpx.gz"], "t.gpx.gz:1: a tag or text runs on for more "
        "than 16777216 bytes", {"t.gpx.gz": lambda: _gz_run(
            b'<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>', b"2" * (1 << 20), b"", 17)},
        {"HEATMAP_MAX_RATIO": "100000"}),
    row("geojson_spaces_run_on", W + OUT + ["g.geojson.gz"], "g.geojson.gz:1: a JSON value runs "
        "on for more than 16777216 bytes", {"g.geojson.gz": lambda: _gz_run(
            (_collection(_geo_feature()) + ",")[:-3].encode() + b",", b" " * (1 << 20), b"", 17)},
        {"HEATMAP_MAX_RATIO": "100000"}),
    row("kmz_encrypted", W + OUT + ["k.kmz"], "k.kmz: doc.kml is encrypted",
        {"k.kmz": lambda: _zip({"doc.kml": KML}, encrypted=True)}),
    row("zipped_shapefile_encrypted", W + OUT + ["p.zip"], "p.zip: p.shp is encrypted",
        {"p.zip": lambda: _zip({"p.shp": _shapefile(1)[0], "p.shx": _shapefile(1)[1]}, True)}),
    row("kmz_declaring_more_than_the_ratio", W + OUT + ["k.kmz"],
        "k.kmz/doc.kml: unpacks to more than 100 times its size",
        {"k.kmz": lambda: _zip({"doc.kml": KML}, declared=1 << 30)}),
    row("zipped_shapefile_declaring_more_than_the_ratio", W + OUT + ["p.zip"],
        "p.zip/p.shp: unpacks to more than 100 times its size", {"p.zip": lambda: _zip(
            {"p.shp": _shapefile(1)[0], "p.shx": _shapefile(1)[1], "p.dbf": b" " * 300},
            declared=1 << 30)}),
    # messages of bounded length; binary data named, not quoted
    row("csv_columns_long_name", W + OUT + ["--csv_columns", "a" * 100000 + ",b", "c.csv"],
        "c.csv:1: no column named 'aaaa", {"c.csv": "lat,lon\n47.6,-122.3\n"}),
    row("csv_header_of_200000_columns", W + OUT + ["--csv_columns", "lat,lon", "c.csv"],
        "(the header has c0, c1, c2", {"c.csv": ",".join("c%d" % i for i in range(200000))
                                       + "\n1,2\n"}),
    row("parquet_as_text", W + OUT + ["p.txt"], "p.txt: is a Parquet file, not plain text",
        {"p.txt": b"PAR1\x15\x04\x15\x10\x00\x01binary"}),
    row("binary_line_in_text", W + OUT + ["p.txt"], "p.txt:2: not a number: '(binary data)'",
        {"p.txt": b"47.6 -122.3\n\x01\x02 \x00\x00\n"}),
    pytest.param(W + ["-a", "-o", "y.mp4", "--jump_warning", "0", "--frame_time",
                      "0.0000000000000000000000000001s",
                      "y.gpx"], "--frame_time 1e-28s would make 3.1536e+35 frames",
                 YEAR_GPX, {},
                 id="frame_time_tiny", marks=NEEDS_FFMPEG),
]

@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing_output"])
@pytest.mark.parametrize("args,message,files,env", ERRORS)
def test_bad_input_is_one_clean_error(tmp_path, monkeypatch, capsys, args, message, files, env,
                                      existing):
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name, data in dict(_files(files), **(EXISTING if existing else {})).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    before = _snapshot(tmp_path)
    code, err = run_main(args, capsys)
    assert code == 2, err
    assert_one_line(err)
    assert message in err, err
    assert not re.search(r" (\S+:(\d+)): .*(\1: |line \2\b)", err), err   # a place named once
    assert _snapshot(tmp_path) == before        # nothing created, nothing changed
    assert not (tmp_path / "pwned").exists()    # nothing untrusted ran


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(heatmap.HeatmapError, match="-d/--decay"):
        heatmap.main(["--debug", "-W", "40", "-d", "2", "-o", "out.png", "pts.txt"])


def test_help_and_version_still_exit_0(capsys):
    for option in ("--help", "--version"):
        with pytest.raises(SystemExit) as info:
            heatmap.main([option])
        assert info.value.code == 0
    assert capsys.readouterr().err == ""


def test_errors_are_raised_before_input_is_read(tmp_path, monkeypatch, capsys):
    """Option errors come before any reader runs (a reader here would fail the test)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)

    def boom(*args, **kwargs):
        raise AssertionError("input was read")
    monkeypatch.setitem(heatmap.READERS, "plain", boom)
    for bad in (["-d", "3"], ["-r", "0"], ["-m", "xyz"], ["-o", "out.what"], ["-G", "no.png"],
                ["-o", "missing/out.png"], ["-I", "no.png"]):
        code, err = run_main(["-W", "40", "-o", "out.png"] + bad + ["pts.txt"], capsys)
        assert code == 2
        assert_one_line(err)


# ---- warnings: one line, the run goes on ----
IDLE = [   # (options, the one warning): an option the run leaves unused is named, not ignored
    (["-L", "s.npz", "-r", "9"], "-r/--radius has no effect with -L/--load: the state file holds "
     "the heat"),
    (["-L", "s.npz", "-P", "equirectangular"], "-P/--projection has no effect with -L/--load"),
    (["-L", "s.npz", "--filetype", "csv"], "--filetype has no effect with -L/--load"),
    (["pts.txt", "-K"], "-K/--keepframes has no effect without -a/--animate"),
    (["pts.txt", "-F", "-crf 3"], "-F/--ffmpegopts has no effect without -a/--animate"),
    (["pts.txt", "--frequency", "5"], "--frequency has no effect without -a/--animate"),
    (["pts.txt", "--tile_zoom", "3"], "--tile_zoom has no effect without --tiles"),
    (["pts.txt", "--leaflet_url", "x/"], "--leaflet_url has no effect without a --tiles folder"),
    (["pts.txt", "--osm_cache", "c"], "--osm_cache has no effect without --osm"),
    (["pts.txt", "--osm_base", "http://x"], "--osm_base has no effect without --osm or a --tiles "
     "folder"),
    (["pts.txt", "-N"], "-N/--invert_background has no effect without -I/--background_image or "
     "--osm"),
    (["pts.txt", "--colormap", "magma", "-M", "100ffffff"], "-M/--hsva_max has no effect with "
     "-G/--gradient or --colormap"),
]


@pytest.mark.parametrize("options,warning", IDLE, ids=[" ".join(o) for o, _ in IDLE])
def test_an_unused_option_is_warned_of(tmp_path, monkeypatch, capsys, options, warning):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)
    (tmp_path / "s.npz").write_bytes(_state())
    code, err = run_main(W + OUT + options, capsys)
    assert code == 0 and (tmp_path / "out.png").exists()
    assert err.startswith("heatmap.py: warning: " + warning) and err.count("\n") == 1, err


def test_tiles_into_mbtiles_warn_of_the_viewer_options(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)
    code, err = run_main(["--tiles", "t.mbtiles", "--tile_zoom", "2", "--leaflet_url", "x/",
                          "pts.txt"], capsys)
    assert code == 0 and err == ("heatmap.py: warning: --leaflet_url has no effect without a "
                                 "--tiles folder (its viewer page)\n")


def test_the_library_refuses_what_it_would_not_apply(tmp_path):
    path = tmp_path / "pts.txt"
    path.write_text(SEATTLE)
    with pytest.raises(heatmap.HeatmapError, match="read\\(\\) gives the files as they are"):
        heatmap.read([str(path)], trim_ends=100)
    heatmap.run([str(path)], width=40, save=str(tmp_path / "s.npz"))
    with pytest.raises(heatmap.HeatmapError, match="load draws the state file: it takes no data"):
        heatmap.run([47.6, 47.61], [-122.3, -122.31], load=str(tmp_path / "s.npz"),
                    output=str(tmp_path / "o.png"))
    assert not (tmp_path / "o.png").exists()


def test_non_numeric_csv_weight_is_one_with_a_one_line_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.csv").write_text("47.6,-122.3,heavy\n47.7,-122.2,2\n")
    code, err = run_main(["-W", "40", "-o", "out.png", "w.csv"], capsys)
    assert code == 0
    assert err == "heatmap.py: warning: w.csv:1: weight 'heavy' is not a number; using 1\n"
    assert (tmp_path / "out.png").exists()


def test_warning_with_a_newline_stays_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)
    real = heatmap.READERS["plain"]

    def noisy(path, config):
        heatmap._LOG.warning("first\nsecond")
        return real(path, config)
    monkeypatch.setitem(heatmap.READERS, "plain", noisy)
    code, err = run_main(["-W", "40", "-o", "out.png", "pts.txt"], capsys)
    assert code == 0 and err == "heatmap.py: warning: first second\n"


# ---- nothing lost: interrupts and failed writes ----
def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _failing_save(exception):
    """Image.save that writes half an image to a file, then raises (memory saves still work)."""
    real = Image.Image.save

    def save(self, fp, *args, **kwargs):
        if not isinstance(fp, (str, os.PathLike)):
            return real(self, fp, *args, **kwargs)
        with open(fp, "wb") as stream:
            stream.write(b"\x89PNG partial")
        raise exception
    return save


def _fail_image_writes(monkeypatch, exception):
    """Both image writers (ours for PNG, Pillow's for the rest) write half a file, then raise."""
    monkeypatch.setattr(Image.Image, "save", _failing_save(exception))
    monkeypatch.setattr(heatmap, "_write_png",
                        lambda path, pixels: _failing_save(exception)(None, path))


def _setup_existing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)
    for name, data in EXISTING.items():
        (tmp_path / name).write_bytes(data)
    return _snapshot(tmp_path)


@pytest.mark.parametrize("where", ["engine", "reader", "image_save", "state_save"])
def test_interrupt_exits_130_and_keeps_the_old_output(tmp_path, monkeypatch, capsys, where):
    before = _setup_existing(tmp_path, monkeypatch)
    if where == "engine":
        monkeypatch.setattr(heatmap._Engine, "run", _interrupt)
    elif where == "reader":
        monkeypatch.setitem(heatmap.READERS, "plain", _interrupt)
    elif where == "image_save":
        _fail_image_writes(monkeypatch, KeyboardInterrupt)
    else:
        monkeypatch.setattr(np, "savez_compressed", _interrupt)
    code, err = run_main(["-W", "40", "-o", "out.png", "-S", "state.npz", "pts.txt"], capsys)
    assert code == 130
    assert err == "heatmap.py: interrupted\n"
    after = _snapshot(tmp_path)
    if where == "state_save":   # the image was finished before the interrupt
        assert after.pop("out.png") != before.pop("out.png")
    assert after == before
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_failed_write_keeps_the_old_output(tmp_path, monkeypatch, capsys):
    before = _setup_existing(tmp_path, monkeypatch)
    _fail_image_writes(monkeypatch, OSError(28, "No space left on device"))
    code, err = run_main(["-W", "40", "-o", "out.png", "pts.txt"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "out.png: cannot write image" in err
    assert _snapshot(tmp_path) == before


def test_failed_state_write_is_one_line(tmp_path, monkeypatch, capsys):
    before = _setup_existing(tmp_path, monkeypatch)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez_compressed", disk_full)
    code, err = run_main(["-W", "40", "-S", "state.npz", "pts.txt"], capsys)
    assert code == 2
    assert err == "heatmap.py: error: state.npz: cannot write: No space left on device\n"
    assert _snapshot(tmp_path) == before


def test_unwritable_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pts.txt").write_text(SEATTLE)

    def no_temp(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(heatmap, "_exclusive_temp", no_temp)
    code, err = run_main(["-W", "40", "-o", "out.png", "pts.txt"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "out.png: cannot write in" in err and "Permission denied" in err
    assert sorted(os.listdir(tmp_path)) == ["pts.txt"]


def test_success_replaces_the_output_and_keeps_its_permissions(tmp_path, monkeypatch, capsys):
    _setup_existing(tmp_path, monkeypatch)
    os.chmod(tmp_path / "out.png", 0o640)
    code, err = run_main(["-W", "40", "-o", "out.png", "-S", "state.npz", "pts.txt"], capsys)
    assert (code, err) == (0, "")
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")
    assert os.stat(tmp_path / "out.png").st_mode & 0o777 == 0o640
    code, err = run_main(["-L", "state.npz", "-o", "again.png"], capsys)
    assert (code, err) == (0, "")
    assert sorted(os.listdir(tmp_path)) == ["again.png", "out.png", "pts.txt", "state.npz"]


def test_load_then_save_to_the_same_state_file_is_allowed(tmp_path, monkeypatch, capsys):
    _setup_existing(tmp_path, monkeypatch)
    assert run_main(["-W", "40", "-S", "s.npz", "pts.txt"], capsys) == (0, "")
    assert run_main(["-L", "s.npz", "-S", "s.npz", "-o", "out.png"], capsys) == (0, "")


def test_memory_error_is_one_line(tmp_path, monkeypatch, capsys):
    _setup_existing(tmp_path, monkeypatch)

    def oom(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(heatmap._Engine, "run", oom)
    code, err = run_main(["-W", "40", "-o", "out.png", "pts.txt"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "out of memory" in err


def test_output_through_a_symlink_replaces_the_target(tmp_path, monkeypatch, capsys):
    _setup_existing(tmp_path, monkeypatch)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "map.png").write_bytes(b"old")
    os.symlink(os.path.join("real", "map.png"), str(tmp_path / "link.png"))
    assert run_main(["-W", "40", "-o", "link.png", "pts.txt"], capsys) == (0, "")
    assert os.path.islink(tmp_path / "link.png")
    assert (tmp_path / "real" / "map.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(os.listdir(tmp_path / "real")) == ["map.png"]


# the engine (issue 15): heat beyond the largest float
ERRORS += [
    row("weights_overflow", W + OUT + ["-d", "0.5", "w.csv"],
        "the heat passes the largest number a float holds",
        {"w.csv": "47.6,-122.3,1e308\n47.6001,-122.3001,1.5e308\n47.7,-122.2,1\n"}),
]
