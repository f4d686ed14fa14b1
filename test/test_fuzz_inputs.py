"""Property-based fuzzing of the newer readers: GeoJSON (and newline-delimited),
KML, TCX, Takeout, FIT, Parquet, Arrow, NumPy, compressed and re-encoded text, CSV
columns and times.

The same rule as test_fuzz.py: every run ends in 0 or one clean error line.
"""
import gzip
import io
import json
import random

import numpy as np

import pytest
from hypothesis import given, strategies as st

from hypothesis import settings

from test_fuzz import EXAMPLES, FUZZ, lats, lons, mutate, numbers, run_file, run_in
from test_inputs import TRACK, fit_bytes

FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 3, 1))  # eight readers: a third each

times = st.one_of(st.sampled_from(["2023-11-14T22:13:20Z", "2023-11-14 22:13:20+01:00",
                                   "1700000000", "", "noon", "2023-02-30T00:00:00Z",
                                   "9999-12-31T23:59:60.5-23:59"]), numbers)
values = st.one_of(lats.map(float), lons.map(float), numbers, st.none(), st.booleans(),
                   st.integers(-10 ** 12, 10 ** 12), st.sampled_from([10 ** 400, -10 ** 400]))
position = st.one_of(st.tuples(lons.map(float), lats.map(float)).map(list),
                     st.lists(values, max_size=3))


@st.composite
def geometry(draw, depth=0):
    kind = draw(st.sampled_from(["Point", "MultiPoint", "LineString", "MultiLineString",
                                 "Polygon", "GeometryCollection", "Nonsense"]))
    if kind == "Point":
        coordinates = draw(position)
    elif kind in ("MultiPoint", "LineString"):
        coordinates = draw(st.lists(position, max_size=5))
    elif kind == "GeometryCollection" and depth < 2:
        return {"type": kind, "geometries": draw(st.lists(geometry(depth + 1), max_size=3))}
    else:
        coordinates = draw(st.lists(st.lists(position, max_size=4), max_size=3))
    return {"type": kind, "coordinates": coordinates}


@st.composite
def feature(draw):
    properties = draw(st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["w", "time", "timestamp", "name"]), st.one_of(values, times),
        max_size=3)))
    return {"type": "Feature", "properties": properties,
            "geometry": draw(st.one_of(st.none(), geometry()))}


@FUZZ
@given(features=st.lists(feature(), max_size=8), how=st.sampled_from(["collection", "ndjson",
                                                                     "array", "one"]),
       options=st.sampled_from([[], ["--weight_property", "w"], ["--time_property", "name"]]),
       more=st.data())
def test_fuzz_geojson(features, how, options, more):
    if how == "collection":
        data, name = json.dumps({"type": "FeatureCollection", "features": features}), "g.geojson"
    elif how == "ndjson":
        data, name = "\n".join(json.dumps(f) for f in features), "g.ndjson"
    elif how == "array":
        data, name = json.dumps(features, indent=1), "g.json"
    else:
        data, name = json.dumps(features[0] if features else {}), "g.geojson"
    data = data.encode()
    if more.draw(st.booleans()):
        data = mutate(data, more.draw)
    run_file(name, data, options)


@st.composite
def xml_track(draw):
    points = draw(st.lists(st.tuples(st.one_of(lats, numbers), st.one_of(lons, numbers), times),
                           max_size=6))
    kind = draw(st.sampled_from(["tcx", "kml", "gxtrack"]))
    if kind == "tcx":
        body = "".join("<Trackpoint><Time>%s</Time><Position><LatitudeDegrees>%s</LatitudeDegrees>"
                       "<LongitudeDegrees>%s</LongitudeDegrees></Position></Trackpoint>"
                       % (t, a, o) for a, o, t in points)
        text = ("<TrainingCenterDatabase><Activities><Activity><Lap><Track>%s</Track></Lap>"
                "</Activity></Activities></TrainingCenterDatabase>" % body)
    elif kind == "kml":
        coords = " ".join("%s,%s" % (o, a) for a, o, _ in points)
        shape = draw(st.sampled_from(["Point", "LineString", "Polygon"]))
        text = "<kml><Placemark><%s><coordinates>%s</coordinates></%s></Placemark></kml>" % (
            shape, coords, shape)
    else:
        text = ('<kml xmlns:gx="urn:gx"><Placemark><gx:Track>%s%s</gx:Track></Placemark></kml>'
                % ("".join("<when>%s</when>" % t for _, _, t in points),
                   "".join("<gx:coord>%s %s 0</gx:coord>" % (o, a) for a, o, _ in points)))
    return ("t." + ("tcx" if kind == "tcx" else "kml"),
            text.replace("&", "&amp;").encode("utf-8", "surrogatepass"))


@FUZZ
@given(track=xml_track(), more=st.data())
def test_fuzz_tcx_and_kml(track, more):
    name, data = track
    run_file(name, mutate(data, more.draw) if more.draw(st.booleans()) else data)


@FUZZ
@given(records=st.lists(st.dictionaries(st.sampled_from(
    ["latitudeE7", "longitudeE7", "timestamp", "timestampMs"]),
    st.one_of(st.integers(-2 ** 33, 2 ** 33), values, times), max_size=4), max_size=6),
    more=st.data())
def test_fuzz_takeout(records, more):
    data = json.dumps({"locations": records}).encode()
    run_file("Records.json", mutate(data, more.draw) if more.draw(st.booleans()) else data)


@FUZZ
@given(data=st.binary(max_size=200), wrap=st.sampled_from(["gzip", "gzip-cut", "utf16", "bom"]),
       name=st.sampled_from(["in", "in.txt", "in.csv", "in.gpx.gz", "in.json"]))
def test_fuzz_wrapped_bytes(data, wrap, name):
    if wrap.startswith("gzip"):
        data = gzip.compress(data)
        data = data[:len(data) // 2] if wrap == "gzip-cut" else data
    elif wrap == "utf16":
        data = b"\xff\xfe" + data
    else:
        data = b"\xef\xbb\xbf" + data
    run_file(name, data)


@FUZZ
@given(columns=st.lists(st.one_of(st.sampled_from(["lat", "LON", "w", "t", "x", ""]),
                                  st.integers(0, 5).map(str)), min_size=1, max_size=5),
       rows=st.lists(st.lists(st.one_of(lats, lons, times, numbers), min_size=1, max_size=5),
                     max_size=5))
def test_fuzz_csv_columns(columns, rows):
    text = "lat,lon,w,t\n" + "\n".join(",".join(r) for r in rows) + "\n"
    run_file("c.csv", text.encode("utf-8", "surrogatepass"), ["--csv_columns", ",".join(columns)])


@FUZZ
@given(lines=st.lists(st.tuples(lats, lons, st.one_of(st.just(""), numbers), times),
                      max_size=6))
def test_fuzz_plain_time_column(lines):
    text = "\n".join(" ".join(x for x in line if x) for line in lines) + "\n"
    run_file("p.txt", text.encode("utf-8", "surrogatepass"), ["--time_column"])


@FUZZ
@given(more=st.data())
def test_fuzz_fit_bytes(more):
    pytest.importorskip("fitdecode")
    data, _ = fit_bytes(TRACK[:6], range(1700000000, 1700000006))
    run_file("r.fit", mutate(data, more.draw))


def test_200_fit_files_with_three_bytes_changed_end_in_one_line(tmp_path):
    """Issue 24: 14 of 200 such files gave a traceback, a hang, or fitdecode's warnings before
    the error line."""
    pytest.importorskip("fitdecode")
    data, _ = fit_bytes(TRACK, range(1700000000, 1700000040))
    rng = random.Random(24)
    for _ in range(200):
        mutant = bytearray(data)
        for _ in range(3):
            mutant[rng.randrange(len(mutant))] = rng.randrange(256)
        (tmp_path / "r.fit").write_bytes(bytes(mutant))
        code, err = run_in(tmp_path, ["-W", 48, "-o", "out.png", "r.fit"])
        assert code in (0, 2) and "Traceback" not in err, err
        assert code == 0 or err.count("\n") == 1 and err.startswith("heatmap.py: error: "), err


def _columnar_bytes(kind, lat, lon):
    """A small Parquet, Arrow or .npy file of the points, as bytes."""
    out = io.BytesIO()
    if kind == "npy":
        np.save(out, np.column_stack([lat, lon]))
        return out.getvalue()
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"lat": lat, "lon": lon})
    if kind == "parquet":
        __import__("pyarrow.parquet").parquet.write_table(table, out)
    else:
        __import__("pyarrow.feather").feather.write_feather(table, out)
    return out.getvalue()


@FUZZ
@given(kind=st.sampled_from(["npy", "parquet", "feather"]),
       points=st.lists(st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)),
                       min_size=1, max_size=5), more=st.data())
def test_fuzz_columnar_bytes(kind, points, more):
    """Parquet, Arrow and NumPy files, their values any float and their bytes mutated."""
    lat, lon = (np.array(column) for column in zip(*points))
    data = _columnar_bytes(kind, lat, lon)
    run_file("in." + kind, mutate(data, more.draw) if more.draw(st.booleans()) else data)
