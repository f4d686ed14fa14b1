"""Property-based fuzzing of the readers and the command line (hypothesis).

Random and mutated inputs (text bytes, CSV, GPX/XML, shapefile bytes,
state files, option values) go through ``heatmap.main([...])``; every run
must end in success (0) or a clean user error (2, one ``heatmap.py: error:``
line), never any other exception, and leave no ``*.part`` file behind.
argparse's ``SystemExit(2)`` for a malformed option counts as a clean error.

The runs are bounded: a fixed number of examples per test (set
HEATMAP_FUZZ_EXAMPLES to change it), derandomized so CI is repeatable (set
HEATMAP_FUZZ_RANDOM=1 to explore new inputs), small pixel and radius limits
through the environment. The whole file takes well under a minute.
"""
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from unittest import mock

import numpy as np
import pytest
from PIL import Image

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import heatmap  # noqa: E402

EXAMPLES = int(os.environ.get("HEATMAP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
                derandomize=not os.environ.get("HEATMAP_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
PROGRESS = re.compile(r"^ *\d+ ms  \S")     # -v/--verbose progress lines
LIMITS = {"HEATMAP_MAX_PIXELS": str(1 << 21), "HEATMAP_MAX_RADIUS": "40"}


# ---- running main ----
def run_in(folder, argv):
    """Run heatmap.main in ``folder`` with small limits; (status, stderr)."""
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with mock.patch.dict(os.environ, LIMITS), contextlib.redirect_stderr(err):
            try:
                code = heatmap.main([str(a) for a in argv])
            except SystemExit as exc:   # argparse: malformed option (help/version not fuzzed)
                code = exc.code
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def check_clean(folder, argv):
    code, err = run_in(folder, argv)
    assert code in (0, 2), (code, err)
    hypothesis.event("exit %s" % code)   # see: pytest --hypothesis-show-statistics
    lines = err.splitlines()
    assert all(line.startswith("heatmap.py: ") or PROGRESS.match(line) for line in lines), err
    if code == 2:
        assert lines and lines[-1].startswith("heatmap.py: error: "), err
        assert len([ln for ln in lines if ln.startswith("heatmap.py: error: ")]) == 1, err
    assert "Traceback" not in err
    assert not [n for n in os.listdir(folder) if n.endswith(".part")]
    return code, err


def run_file(name, data, options=(), size=("-W", "48")):
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, name), "wb") as stream:
            stream.write(data)
        return check_clean(folder, list(size) + ["-o", "out.png"] + list(options) + [name])


# ---- building blocks ----
NUMBER_WORDS = ["nan", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999", "0x10", "1_000",
                "1e-400", "+5", ".5", "5.", "-", "+", "e", "1e", "١٢", "47.6", "-122.3", "0",
                "-0", "90", "-90", "89.999999", "180", "-180", "1e308", "abc", ""]
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-85, max_value=85).map(lambda v: "%.6f" % v),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(NUMBER_WORDS),
)
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
token = st.one_of(numbers, numbers, numbers, junk)
line_ends = st.sampled_from(["\n", "\r\n", "\r", "\n\n"])


lats = st.floats(min_value=-80, max_value=80).map(lambda v: "%.6f" % v)
lons = st.floats(min_value=-179, max_value=179).map(lambda v: "%.6f" % v)
weights = st.one_of(st.integers(0, 9).map(str), st.floats(0.01, 100).map(repr), numbers)
good_fields = st.one_of(st.tuples(lats, lons), st.tuples(lats, lons, weights)).map(list)
# mostly well-formed lines (so runs get past the reader), some broken ones
fields = st.one_of(good_fields, good_fields, good_fields,
                   st.lists(token, min_size=0, max_size=4))


@st.composite
def plain_text(draw):
    lines = draw(st.lists(fields, max_size=12))
    sep = draw(st.sampled_from([" ", " ", "\t", "  ", ","]))
    end = draw(line_ends)
    return end.join(sep.join(fields) for fields in lines).encode("utf-8", "surrogatepass")


@st.composite
def csv_text(draw):
    style = draw(st.sampled_from(["%s", "%s", '"%s"', " %s "]))

    def field(value):
        return (style if draw(st.integers(0, 30)) else "'%s'") % value
    rows = draw(st.lists(st.one_of(fields, st.lists(token, min_size=3, max_size=5)),
                         max_size=12))
    end = draw(line_ends)
    text = end.join(",".join(field(v) for v in row) for row in rows)
    return text.encode("utf-8", "surrogatepass")


def mutate(data, draw):
    """Flip, delete, insert or truncate a few bytes of ``data``."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "zero"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "zero":
            data[at:at + 4] = b"\x00\x00\x00\x00"[:len(data[at:at + 4])]
        else:
            del data[at:]
    return bytes(data)


@st.composite
def gpx_text(draw):
    def attr(name):
        value = draw(st.one_of(lats, lats, lats, st.none(), numbers))
        return "" if value is None else ' %s="%s"' % (name, value.replace('"', "&quot;")
                                                       .replace("&", "&amp;").replace("<", "&lt;"))
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        points = "".join("<trkpt%s%s><ele>1</ele></trkpt>" % (attr("lat"), attr("lon"))
                         for _ in range(draw(st.integers(0, 5))))
        parts.append(draw(st.sampled_from(["<trkseg>%s</trkseg>"] * 6 + [
            "%s", "<trkseg>%s", "<rte>%s</rte>"])) % points)
    namespace = draw(st.sampled_from(['', ' xmlns="http://www.topografix.com/GPX/1/1"',
                                      ' xmlns:g="urn:x"']))
    head = draw(st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>\n'] * 4 + ["",
                                 '<?xml version="1.0" encoding="latin-1"?>\n',
                                 '<?xml version="1.0" encoding="TTF-8"?>\n',
                                 '<?xml version="1.0" encoding="shift_jis"?>\n',
                                 '<!DOCTYPE gpx [<!ENTITY e "x">]>\n']))
    text = "%s<gpx%s><trk>\n%s\n</trk></gpx>\n" % (head, namespace, "\n".join(parts))
    data = text.encode("utf-8", "surrogatepass")
    return mutate(data, draw) if draw(st.integers(0, 2)) == 0 else data


def _shapefile_bytes(kind, coordinates):
    shapefile = pytest.importorskip("shapefile")
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=kind) as writer:
        writer.field("n", "N")
        for i, (lon, lat) in enumerate(coordinates):
            if kind == shapefile.MULTIPOINT:
                writer.multipoint([[lon, lat], [lon + 0.001, lat]])
            elif kind == shapefile.MULTIPOINTM:
                writer.multipointm([[lon, lat, 1.0], [lon + 0.001, lat, 2.0]])
            elif kind == shapefile.POINTZ:
                writer.pointz(lon, lat, 5.0)
            elif kind == shapefile.POINTM:
                writer.pointm(lon, lat, 5.0)
            else:
                writer.point(lon, lat)
            writer.record(i)
    return [shp.getvalue(), shx.getvalue(), dbf.getvalue()]


WGS84 = (b'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,'
         b'298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')


# ---- the readers ----
@FUZZ
@given(data=st.one_of(st.binary(max_size=300), plain_text()),
       filetype=st.sampled_from(["auto", "plain", "csv", "gpx", "shp"]))
def test_fuzz_text_bytes_any_reader(data, filetype):
    run_file("in.txt", data, ["--filetype", filetype])


@FUZZ
@given(data=plain_text())
def test_fuzz_plain_text(data):
    run_file("in.txt", data)


@FUZZ
@given(data=csv_text(), header=st.booleans(), more=st.data())
def test_fuzz_csv(data, header, more):
    data = mutate(data, more.draw) if more.draw(st.booleans()) else data
    run_file("in.csv", data, ["--ignore_csv_header"] if header else [])


@FUZZ
@given(data=st.data())
def test_fuzz_gpx(data):
    run_file("track.gpx", data.draw(gpx_text()), size=data.draw(st.sampled_from(
        [("-W", "48"), ("-H", "40"), ("-s", "50"), ("-W", "30", "-H", "30")])))


@FUZZ
@given(kind=st.sampled_from([1, 8, 11, 21, 28]),
       coordinates=st.lists(st.tuples(st.floats(-179, 179), st.floats(-80, 80)), min_size=1,
                            max_size=6),
       which=st.sampled_from([0, 1, 2, None]), prj=st.sampled_from(["wgs84", "none", "junk"]),
       more=st.data())
def test_fuzz_shapefile_bytes(kind, coordinates, which, prj, more):
    files = _shapefile_bytes(kind, coordinates)
    if which is not None:
        files[which] = mutate(files[which], more.draw)
    with tempfile.TemporaryDirectory() as folder:
        for ext, data in zip(("shp", "shx", "dbf"), files):
            with open(os.path.join(folder, "p." + ext), "wb") as stream:
                stream.write(data)
        if prj != "none":
            with open(os.path.join(folder, "p.prj"), "wb") as stream:
                stream.write(WGS84 if prj == "wgs84" else more.draw(st.binary(max_size=40)))
        check_clean(folder, ["-W", "48", "-o", "out.png", "p.shp"])


# ---- state files (-L) ----
_STATE = {}


def _good_state():
    """Bytes of a real state file, made once."""
    if "bytes" not in _STATE:
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "in.txt"), "w") as stream:
                stream.write("47.6 -122.3\n47.61 -122.31 2\n47.65 -122.2\n")
            assert run_in(folder, ["-W", "40", "-S", "s.npz", "in.txt"]) == (0, "")
            with open(os.path.join(folder, "s.npz"), "rb") as stream:
                _STATE["bytes"] = stream.read()
    return _STATE["bytes"]


def _load(data, options=()):
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "s.npz"), "wb") as stream:
            stream.write(data)
        check_clean(folder, ["-L", "s.npz", "-o", "out.png"] + list(options))
        assert not os.path.exists(os.path.join(folder, "pwned"))


@FUZZ
@given(more=st.data(), options=st.sampled_from([[], ["-W", "30"], ["-H", "50"]]))
def test_fuzz_state_file_bytes(more, options):
    _load(mutate(_good_state(), more.draw), options)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 20, 10 ** 20) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12)
META_KEYS = ["format", "version", "heatmap", "max", "ppd", "projection", "box", "radius",
             "margin"]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(META_KEYS), json_values, max_size=3),
       dtype=st.sampled_from(["<i8", ">i8", "<f8", "<i4"]), n=st.integers(0, 4))
def test_fuzz_state_metadata(changes, dtype, n):
    meta = {"format": "heatmap.py-state", "version": 1, "heatmap": "x", "max": 1.0,
            "ppd": 100.0, "projection": "mercator", "box": [0.0, 0.0, 9.0, 9.0], "radius": 1,
            "margin": 0}
    meta.update(changes)
    out = io.BytesIO()
    np.savez(out, meta=np.array(json.dumps(meta)), x=np.arange(n).astype(dtype),
             y=np.arange(n).astype(dtype), value=np.ones(n))
    _load(out.getvalue())


# ---- option values ----
small_numbers = st.one_of(st.integers(1, 60).map(str), st.integers(1, 60).map(str),
                          st.floats(0.01, 1).map(repr), st.integers(-3, 3000).map(str),
                          st.sampled_from(NUMBER_WORDS),
                          st.floats(allow_nan=True, allow_infinity=True).map(repr))
OPTIONS = {
    "-s": small_numbers, "-W": small_numbers, "-H": small_numbers, "-R": small_numbers,
    "-r": small_numbers, "-d": small_numbers, "-B": small_numbers, "--frequency": small_numbers,
    "-z": small_numbers, "--straggler_threshold": small_numbers,
    "-e": st.lists(st.one_of(numbers, st.floats(-89, 89).map(repr)), min_size=0,
                   max_size=5).map(",".join),
    "-P": st.sampled_from(["mercator", "equirectangular", "polar", ""]),
    "-k": st.sampled_from(["linear", "gaussian", "cubic"]),
    "--filetype": st.sampled_from(["auto", "plain", "csv", "gpx", "shp", "kml"]),
    "-m": st.one_of(st.text("0123456789abcdefABCDEF#", max_size=11), junk),
    "-M": st.one_of(st.text("0123456789abcdefABCDEF#", max_size=11), junk),
    "-b": st.one_of(st.sampled_from(["black", "#123", "#12345678", "rgb(1,2,3)", "hsl(9,9%,9%)",
                                     "#zzz", "red", "", "rgb(256,0,0)", "hsl(0,101%,50%)"]),
                    junk),
    "-I": st.sampled_from(["map.png", "grad.png", "junk.png", "missing.png", "in.txt", "."]),
    "-G": st.sampled_from(["grad.png", "map.png", "junk.png", "missing.png", "."]),
    "-o": st.sampled_from(["out.png", "out.jpg", "out.gif", "out.xbm", "out", "out.PNG",
                           "no/out.png", ".", "in.txt", "out.pdf", "out.bmp"]),
    "-S": st.sampled_from(["s.npz", "out.png", "in.txt", ".", "no/s.npz"]),
    "-F": junk,
    "--output_format": st.one_of(st.sampled_from(["png", "jpg", "JPEG", "webp", "gif", "mp4",
                                                  ".png", "xyz", ""]), junk),
    "--tiles": st.sampled_from(["maps", "m.mbtiles", "M.MBTILES", ".", "in.txt", "no/maps"]),
    "--tile_zoom": st.one_of(small_numbers, junk, st.tuples(st.integers(0, 30), st.integers(
        0, 30)).map("%d-%d".__mod__)),
    "--leaflet_url": st.one_of(st.sampled_from(["leaflet", "http://x/y/", '"><script>']), junk),
    # time and tracks (issue 12)
    "--time_range": st.one_of(st.sampled_from([
        "2024-05-01,", ",2024-05-01T07:00:10Z", "2024-05-01T07:00:05,2024-05-01T07:00:15",
        "2030-01-01,", "1714546800,", ",", "x,", "2024-05-02,2024-05-01", "2024-13-01,"]),
        st.lists(st.one_of(numbers, junk), max_size=3).map(",".join)),
    "--max_jump": small_numbers, "--trim_ends": small_numbers, "--fps": small_numbers,
    "--max_gap": st.one_of(st.sampled_from(["5m", "1s", "0", "1h", "-1m", "2w"]), small_numbers),
    "--frame_time": st.sampled_from(["1m", "0", "soon"]),
    "--fade": st.sampled_from(["10m", "0s", "x"]),
    # colour scales (issue 21)
    "--colormap": st.one_of(st.sampled_from(["viridis", "turbo", "jet", "Greys_r", "nonsense"]),
                            junk),
    "--colour_scale": st.sampled_from(["linear", "log", "sqrt", "eq_hist", "cubic"]),
    "--colour_max": small_numbers,
}
FLAGS = ["-N", "--ignore_csv_header", "-K", "-v", "--world_file", "--weight_by_time",
         "--frame_label", "--time_column"]


@st.composite
def argv(draw):
    args = draw(st.sampled_from([["-W", "48", "-o", "out.png"], ["-s", "200", "-o", "out.png"],
                                 ["-H", "30"], []]))
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=6, unique=True)):
        value = draw(OPTIONS[option])
        args += ["%s=%s" % (option, value)] if value.startswith("-") else [option, value]
    args += draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True))
    args += draw(st.lists(st.sampled_from(["in.txt", "in.txt", "in.csv", "t.gpx", "timed.gpx",
                                           "timed.txt", "missing.txt", "."]),
                          min_size=draw(st.sampled_from([1, 1, 0])), max_size=2))
    return args


def _option_folder(folder):
    with open(os.path.join(folder, "in.txt"), "w") as stream:
        stream.write("47.60 -122.33\n47.62 -122.30 3\n47.61 -122.31\n")
    with open(os.path.join(folder, "in.csv"), "w") as stream:
        stream.write("lat,lon\n47.6,-122.3\n47.7,-122.2,x\n")
    with open(os.path.join(folder, "t.gpx"), "w") as stream:
        stream.write('<gpx><trk><trkseg><trkpt lat="47.6" lon="-122.3"/>'
                     '<trkpt lat="47.61" lon="-122.29"/></trkseg></trk></gpx>')
    with open(os.path.join(folder, "timed.gpx"), "w") as stream:
        stream.write("<gpx><trk><trkseg>%s</trkseg><trkseg>%s</trkseg></trk></gpx>" % tuple(
            "".join('<trkpt lat="%.5f" lon="%.5f"><time>2024-05-01T07:%02d:%02dZ</time></trkpt>'
                    % (47.6 + 0.001 * i, -122.3 + k * 0.01 + 0.002 * (i % 4), k * 30, 7 * i)
                    for i in range(8)) for k in range(2)))
    with open(os.path.join(folder, "timed.txt"), "w") as stream:
        stream.write("47.60 -122.33 1 1714546800\n47.62 -122.30 3 2024-05-01T07:00:30Z\n"
                     "47.61 -122.31 1 \n")
    Image.new("RGB", (60, 40), (40, 80, 120)).save(os.path.join(folder, "map.png"))
    gradient = Image.new("RGBA", (1, 16), (255, 0, 0, 255))
    gradient.putpixel((0, 15), (0, 0, 0, 0))
    gradient.save(os.path.join(folder, "grad.png"))
    with open(os.path.join(folder, "junk.png"), "wb") as stream:
        stream.write(b"\x89PNG\r\n\x1a\n not really")


@FUZZ
@given(args=argv())
def test_fuzz_options(args):
    if "-a" in args or any(a.startswith("--osm") for a in args):
        return  # never generated: no network, no ffmpeg
    with tempfile.TemporaryDirectory() as folder:
        _option_folder(folder)
        before = {n: os.path.getmtime(os.path.join(folder, n)) for n in os.listdir(folder)}
        code, _ = check_clean(folder, args)
        if code != 0:   # a failed run changes nothing
            after = {n: os.path.getmtime(os.path.join(folder, n)) for n in os.listdir(folder)}
            assert after == before


# ---- images given as -I and -G ----
IMAGE_MODES = ["RGB", "RGBA", "L", "LA", "P", "PA", "1", "I", "F", "I;16", "CMYK", "YCbCr",
               "HSV"]


@st.composite
def image_bytes(draw):
    mode = draw(st.sampled_from(IMAGE_MODES))
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    fmt = draw(st.sampled_from(["PNG", "TIFF", "BMP", "GIF", "JPEG", "WEBP"]))
    image = Image.new(mode, size)
    out = io.BytesIO()
    try:
        image.save(out, fmt)
    except (OSError, ValueError, KeyError):
        out = io.BytesIO()
        image.convert("RGBA").save(out, "PNG")
    return mutate(out.getvalue(), draw) if draw(st.booleans()) else out.getvalue()


@FUZZ
@given(data=image_bytes(), option=st.sampled_from(["-I", "-G"]),
       extra=st.sampled_from([[], ["-N"], ["-B", "0.5"], ["-b", "black"]]))
def test_fuzz_background_and_gradient_images(data, option, extra):
    with tempfile.TemporaryDirectory() as folder:
        _option_folder(folder)
        with open(os.path.join(folder, "img"), "wb") as stream:
            stream.write(data)
        check_clean(folder, ["-W", "40", "-o", "out.png", option, "img"] + extra + ["in.txt"])


# ---- map tiles ----
@st.composite
def tile_argv(draw):
    """Points anywhere on Earth (some with weights) and the options of a --tiles run."""
    n = draw(st.integers(1, 12))
    lats = draw(st.lists(st.floats(-89.9, 89.9), min_size=n, max_size=n))
    lons = draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n))
    weights = draw(st.one_of(st.none(), st.lists(st.floats(-5, 50), min_size=n, max_size=n)))
    rows = ["%r %r" % p + ("" if weights is None else " %r" % weights[i])
            for i, p in enumerate(zip(lats, lons))]
    first = draw(st.integers(0, 22))
    zooms = draw(st.sampled_from(["", "%d" % first, "%d-%d" % (first, min(first + 2, 22))]))
    args = ["--tiles", draw(st.sampled_from(["maps", "m.mbtiles"]))]
    args += ["--tile_zoom", zooms] if zooms else []
    args += ["-r", str(draw(st.integers(1, 30))), "-d", draw(st.sampled_from(["0", "0.5", "1"]))]
    args += draw(st.sampled_from([[], ["-k", "gaussian"], ["--extent=%r,%r,%r,%r" % (
        lats[0] - 1, lons[0] - 1, lats[0] + 1, lons[0] + 1)]]))
    return "\n".join(rows) + "\n", args


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 10))
@given(case=tile_argv())
def test_fuzz_tiles(case):
    """Every run ends well or in one clean line; every tile written is a 256x256 PNG."""
    text, args = case
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "in.txt"), "w") as stream:
            stream.write(text)
        code, _ = check_clean(folder, args + ["in.txt"])
        if code != 0:
            assert sorted(os.listdir(folder)) == ["in.txt"]
        elif args[1] == "maps":
            with open(os.path.join(folder, "maps", "metadata.json")) as stream:
                meta = json.load(stream)
            names = [os.path.join(base, name) for base, _, files in os.walk(
                os.path.join(folder, "maps")) for name in files if name.endswith(".png")]
            assert len(names) == meta["tile_count"]
            for name in names[:20]:
                with Image.open(name) as tile:
                    assert tile.size == (256, 256) and tile.mode in ("P", "RGBA")
