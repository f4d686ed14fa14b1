"""Readers: plain text, CSV, GPX, shapefile, file type detection."""
import logging

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import heatmap as hm
from conftest import SEATTLE, gpx_text, plain_text


def read_batches(path, **options):
    return list(hm.read([str(path)], hm.Config(**options)))


def read_points(path, **options):
    """(lat, lon, weight-or-None) lists of every Points batch, concatenated."""
    batches = read_batches(path, **options)
    assert all(isinstance(b, hm.Points) for b in batches)
    lat = [v for b in batches for v in b.lat.tolist()]
    lon = [v for b in batches for v in b.lon.tolist()]
    if all(b.weight is None for b in batches):
        return lat, lon, None
    weight = [v for b in batches
              for v in (b.weight.tolist() if b.weight is not None else [1.0] * b.lat.size)]
    return lat, lon, weight


def read_segments(path, **options):
    """[(lat1, lon1, lat2, lon2), ...] of every Segments batch, in order."""
    batches = read_batches(path, **options)
    assert all(isinstance(b, hm.Segments) for b in batches)
    return [tuple(row) for b in batches
            for row in zip(b.lat1.tolist(), b.lon1.tolist(), b.lat2.tolist(), b.lon2.tolist())]


# ---- plain text ----
PLAIN = [
    ("two_columns", "47.6 -122.3\n47.7 -122.4\n", [47.6, 47.7], [-122.3, -122.4], None),
    ("three_columns", "1 2 3\n4 5 6\n", [1, 4], [2, 5], [3, 6]),
    ("mixed_two_and_three", "1 2\n4 5 6\n", [1, 4], [2, 5], [1, 6]),
    ("blank_lines", "\n1 2\n\n   \n3 4\n\n", [1, 3], [2, 4], None),
    ("tabs", "1\t2\n3\t\t4\n\t5 6\t\n", [1, 3, 5], [2, 4, 6], None),
    ("crlf", "1 2\r\n3 4\r\n", [1, 3], [2, 4], None),
    ("no_final_newline", "1 2\n3 4", [1, 3], [2, 4], None),
    ("exponent_and_sign", "-33.8 1.512e2\n+1.5 -0.25\n", [-33.8, 1.5], [151.2, -0.25], None),
    ("weight_one_is_no_weight", "1 2 1\n3 4 1.0\n", [1, 3], [2, 4], None),
    ("empty_file", "", [], [], None),
]


@pytest.mark.parametrize("text,lat,lon,weight", [p[1:] for p in PLAIN], ids=[p[0] for p in PLAIN])
def test_plain(write, text, lat, lon, weight):
    assert read_points(write("in.txt", text)) == (lat, lon, weight)


PLAIN_ERRORS = [
    ("one_field", "1 2\n3\n", 2, "expected 'lat lon [weight]'"),
    ("four_fields", "1 2\n\n3 4 5 6\n", 3, "expected 'lat lon [weight]'"),
    ("not_a_number", "1 2\nfoo bar\n", 2, "not a number"),
    ("comma_separated", "1,2\n", 1, "expected 'lat lon [weight]'"),
    ("nan", "1 2\n\n3 nan\n", 3, "not a finite number"),
    ("inf_weight", "1 2 inf\n", 1, "not a finite number"),
]


@pytest.mark.parametrize("chunk", [None, 5], ids=["one_chunk", "tiny_chunks"])
@pytest.mark.parametrize("text,line,message", [p[1:] for p in PLAIN_ERRORS],
                         ids=[p[0] for p in PLAIN_ERRORS])
def test_plain_errors_name_the_line(write, monkeypatch, chunk, text, line, message):
    if chunk:
        monkeypatch.setattr(hm, "_CHUNK_BYTES", chunk)
    path = write("bad.txt", text)
    with pytest.raises(hm.HeatmapError) as info:
        read_batches(path)
    assert str(info.value).startswith("%s:%d: %s" % (path, line, message))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_plain_chunking_does_not_change_the_data(write, monkeypatch, chunk):
    text = plain_text(SEATTLE[:20]) + "\n" + "47.5 -122.5 3\n" + plain_text(SEATTLE[20:30])
    path = write("in.txt", text)
    whole = read_points(path)
    monkeypatch.setattr(hm, "_CHUNK_BYTES", chunk)
    assert read_points(path) == whole
    assert len(whole[0]) == 31 and whole[2][20] == 3.0


# ---- CSV ----
CSV = [
    ("no_header", "1,2\n3,4\n", {}, [1, 3], [2, 4], None),
    ("header_skipped", "lat,lon\n1,2\n3,4\n", {"ignore_csv_header": True}, [1, 3], [2, 4], None),
    ("weight_column", "1,2,5\n3,4,0.5\n", {}, [1, 3], [2, 4], [5, 0.5]),
    ("weighted_with_header", "lat,lon,w\n1,2,5\n", {"ignore_csv_header": True}, [1], [2], [5]),
    ("quoted_extra_column", '1,2,3,"Seattle, WA"\n4,5,6,"x,y,z"\n', {}, [1, 4], [2, 5], [3, 6]),
    ("extra_columns", "1,2,3,a,b\n4,5,6,c,d\n", {}, [1, 4], [2, 5], [3, 6]),
    ("blank_line", "1,2\n\n3,4\n", {}, [1, 3], [2, 4], None),
    ("spaces_around_fields", "1, 2\n 3 ,4\n", {}, [1, 3], [2, 4], None),
    ("crlf", "1,2\r\n3,4\r\n", {}, [1, 3], [2, 4], None),
    ("quoted_numbers", '"47.6","-122.3","2"\n47.7,-122.2\n', {}, [47.6, 47.7], [-122.3, -122.2],
     [2, 1]),
    ("southern_and_western", "-33.86,151.2\n-34.6,-58.38\n", {}, [-33.86, -34.6],
     [151.2, -58.38], None),
]


@pytest.mark.parametrize("chunk", [None, 6], ids=["one_chunk", "tiny_chunks"])
@pytest.mark.parametrize("text,options,lat,lon,weight", [c[1:] for c in CSV],
                         ids=[c[0] for c in CSV])
def test_csv(write, monkeypatch, chunk, text, options, lat, lon, weight):
    if chunk:
        monkeypatch.setattr(hm, "_CHUNK_BYTES", chunk)
    assert read_points(write("in.csv", text), **options) == (lat, lon, weight)


@pytest.mark.parametrize("text,bad", [
    ("1,2,5\n3,4,abc\n", "'abc'"),
    ('1,2,5\n3,4,"a,b"\n', "'a,b'"),
    ("1,2,5\n3,4,\n", "''"),
], ids=["word", "quoted_with_comma", "empty"])
def test_csv_non_numeric_weight_is_one_with_a_warning(write, caplog, text, bad):
    caplog.set_level(logging.WARNING, logger="heatmap")
    path = write("in.csv", text)
    assert read_points(path) == ([1, 3], [2, 4], [5, 1])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("%s:2: weight %s is not a number" % (path, bad))


@pytest.mark.parametrize("text,options,line,message", [
    ("lat,lon\n1,2\n", {}, 1, "not a number"),
    ("1,2\n3\n", {}, 2, "expected 'lat,lon[,weight]'"),
    ("h\n1,2\n3,x\n", {"ignore_csv_header": True}, 3, "not a number"),
    ("1,2\n3,inf\n", {}, 2, "not a finite number"),
], ids=["header_not_skipped", "one_column", "bad_lon_after_header", "infinite"])
def test_csv_errors_name_the_line(write, text, options, line, message):
    path = write("bad.csv", text)
    with pytest.raises(hm.HeatmapError) as info:
        read_batches(path, **options)
    assert str(info.value).startswith("%s:%d: %s" % (path, line, message))


# ---- GPX ----
TWO_SEGMENTS = [[(47.6, -122.3), (47.61, -122.31), (47.62, -122.3)],
                [(47.7, -122.2), (47.71, -122.21)]]
TWO_SEGMENTS_READ = [(47.6, -122.3, 47.61, -122.31), (47.61, -122.31, 47.62, -122.3),
                     (47.7, -122.2, 47.71, -122.21)]


@pytest.mark.parametrize("name,namespace", [
    ("ns11.gpx", "http://www.topografix.com/GPX/1/1"),
    ("ns10.gpx", "http://www.topografix.com/GPX/1/0"),
    ("plain.gpx", None),
    ("UPPER.GPX", "http://www.topografix.com/GPX/1/1"),
], ids=["gpx_1_1", "gpx_1_0", "no_namespace", "upper_case_extension"])
def test_gpx_segments_stay_within_their_trkseg(write, name, namespace):
    path = write(name, gpx_text(TWO_SEGMENTS, namespace))
    assert read_segments(path) == TWO_SEGMENTS_READ


def test_gpx_prefixed_namespace(write):
    text = ('<?xml version="1.0"?><g:gpx xmlns:g="http://www.topografix.com/GPX/1/1"><g:trk>'
            '<g:trkseg><g:trkpt lat="1" lon="2"/><g:trkpt lat="3" lon="4"/></g:trkseg>'
            '</g:trk></g:gpx>')
    assert read_segments(write("p.gpx", text)) == [(1, 2, 3, 4)]


def test_gpx_trkpt_without_coordinates_is_skipped(write, caplog):
    caplog.set_level(logging.WARNING, logger="heatmap")
    text = ('<gpx><trk><trkseg>\n<trkpt lat="1" lon="2"/>\n<trkpt lat="9"/>\n'
            '<trkpt lat="3" lon="4"><ele>5</ele></trkpt>\n</trkseg></trk></gpx>')
    path = write("t.gpx", text)
    assert read_segments(path) == [(1, 2, 3, 4)]
    assert "%s:3: <trkpt> without lat and lon skipped" % path in caplog.text


def test_gpx_trkpt_outside_trkseg_is_ignored(write, caplog):
    caplog.set_level(logging.WARNING, logger="heatmap")
    text = ('<gpx><wpt lat="0" lon="0"/><trk><trkpt lat="8" lon="8"/><trkseg>'
            '<trkpt lat="1" lon="2"/><trkpt lat="3" lon="4"/></trkseg>'
            '<trkpt lat="9" lon="9"/></trk></gpx>')
    assert read_segments(write("t.gpx", text)) == [(1, 2, 3, 4)]
    assert caplog.text.count("<trkpt> outside <trkseg> ignored") == 2


def test_gpx_one_point_segments_give_no_segments(write):
    assert read_segments(write("t.gpx", gpx_text([[(1, 2)], [(3, 4)]]))) == []


@pytest.mark.parametrize("comment", ["", "<!-- a comment -->"], ids=["plain", "with_comment"])
def test_gpx_batching_keeps_segments_joined(write, monkeypatch, comment):
    track = [[(47.6 + i / 1000, -122.3 - i / 500) for i in range(9)], [(1, 1), (2, 2)]]
    path = write("t.gpx", gpx_text(track).replace("<trk>", "<trk>" + comment))
    whole = read_segments(path)
    monkeypatch.setattr(hm, "_GPX_BATCH", 2)
    assert read_segments(path) == whole
    assert len(whole) == 9
    assert all(whole[i][2:] == whole[i + 1][:2] for i in range(7))
    assert whole[0][:2] == track[0][0] and whole[7][2:] == track[0][8]
    assert whole[8] == (1, 1, 2, 2)


GPX_VARIANTS = [
    ("lon_before_lat", '<trkpt lon="2" lat="1"/><trkpt lon="4" lat="3"/>'),
    ("single_quotes", "<trkpt lat='1' lon='2'/><trkpt lat='3' lon='4'/>"),
    ("spaces_in_attributes", '<trkpt lat = "1"  lon= "2" /><trkpt\n lat="3"\tlon="4"></trkpt>'),
    ("child_elements", '<trkpt lat="1" lon="2"><ele>5</ele><time>2020-01-01T00:00:00Z</time>'
                       '</trkpt><trkpt lat="3" lon="4"><ele>6</ele></trkpt>'),
    ("exponents", '<trkpt lat="1e0" lon="0.2E1"/><trkpt lat="+3" lon="4.000"/>'),
    ("comment_between", '<trkpt lat="1" lon="2"/><!-- <trkpt lat="9" lon="9"/> -->'
                        '<trkpt lat="3" lon="4"/>'),
    ("cdata_and_entity", '<trkpt lat="1" lon="2"><name><![CDATA[<trkpt>]]> &amp;</name></trkpt>'
                         '<trkpt lat="3" lon="4"/>'),
    ("extra_attribute", '<trkpt id="a" lat="1" lon="2"/><trkpt lat="3" lon="4" id="b"/>'),
]


@pytest.mark.parametrize("points", [v[1] for v in GPX_VARIANTS], ids=[v[0] for v in GPX_VARIANTS])
def test_gpx_point_variants(write, points):
    text = ('<?xml version="1.0"?>\n<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk>'
            "<trkseg/><trkseg>%s</trkseg><trkseg>"
            '<trkpt lat="5" lon="6"/><trkpt lat="7" lon="8"/></trkseg></trk></gpx>' % points)
    assert read_segments(write("v.gpx", text)) == [(1, 2, 3, 4), (5, 6, 7, 8)]


@pytest.mark.parametrize("text,message", [
    ("<gpx><trk><trkseg><trkpt lat='1' lon='2'/>", "not valid XML"),
    ("this is not xml", "not valid XML"),
    ("<gpx><trkseg>\n<trkpt lat='x' lon='2'/></trkseg></gpx>", ":2: bad coordinate"),
    ("<gpx><trkseg><trkpt lat='nan' lon='2'/></trkseg></gpx>", "not a finite number"),
    ("<gpx><trkseg>\n<trkpt lat='1' lon='2'/></trkseg></gpx>\n<gpx><trkseg>\n\n"
     "<trkpt lat='x' lon='2'/></trkseg></gpx>", "bad.gpx:5: bad coordinate"),
    ("<gpx><trkseg>\n<trkpt lat='1' lon='2'/></trkseg></gpx>\n\nxx", "bad.gpx:4: not valid XML"),
], ids=["truncated", "not_xml", "bad_coordinate", "nan", "second_document", "junk_after"])
def test_gpx_errors(write, text, message):
    with pytest.raises(hm.HeatmapError, match=message):
        read_batches(write("bad.gpx", text))


def test_gpx_without_points_is_empty_for_the_library_and_an_error_for_the_command(write):
    path = write("none.gpx", "<gpx><trk></trk></gpx>")
    assert read_batches(path) == []
    with pytest.raises(hm.HeatmapError, match="none.gpx: no GPX track points"):
        list(hm.read([str(path)], lenient=False))


# ---- shapefile ----
WGS84_PRJ = ('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,'
             '298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')
MERCATOR_PRJ = ('PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",'
                'DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
                'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
                'PROJECTION["Mercator_Auxiliary_Sphere"],UNIT["Meter",1.0]]')


def write_shp(base, points, prj=WGS84_PRJ, kind="point"):
    """A shapefile at base(.shp/.shx/.dbf[.prj]) holding (lat, lon) points."""
    shapefile = pytest.importorskip("shapefile")
    shape_type = {"point": shapefile.POINT, "multipoint": shapefile.MULTIPOINT,
                  "line": shapefile.POLYLINE}[kind]
    with shapefile.Writer(str(base), shapeType=shape_type) as w:
        w.field("name", "C")
        if kind == "point":
            for i, (lat, lon) in enumerate(points):
                w.point(lon, lat)
                w.record("p%d" % i)
        elif kind == "multipoint":
            w.multipoint([[lon, lat] for lat, lon in points])
            w.record("m")
        else:
            w.line([[[lon, lat] for lat, lon in points]])
            w.record("l")
    if prj is not None:
        with open(str(base) + ".prj", "w") as stream:
            stream.write(prj)
    return str(base) + ".shp"


def test_shapefile_points(tmp_path):
    path = write_shp(tmp_path / "pts", [(47.6, -122.3), (-33.9, 151.2)])
    assert read_points(path) == ([47.6, -33.9], [-122.3, 151.2], None)


def test_shapefile_multipoint(tmp_path):
    path = write_shp(tmp_path / "mp", [(1.5, 2.5), (3.5, 4.5)], kind="multipoint")
    assert read_points(path) == ([1.5, 3.5], [2.5, 4.5], None)


def test_shapefile_without_prj_warns_and_reads(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="heatmap")
    path = write_shp(tmp_path / "noprj", [(10.0, 20.0)], prj=None)
    assert read_points(path) == ([10.0], [20.0], None)
    assert "no .prj file; assuming WGS84" in caplog.text


@pytest.mark.parametrize("prj,message", [
    (MERCATOR_PRJ, "only WGS84 longitude/latitude shapefiles are supported"),
    ('GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",SPHEROID["GRS_1980",'
     '6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]',
     "only WGS84"),
], ids=["projected", "nad83"])
def test_shapefile_other_coordinate_systems_rejected(tmp_path, prj, message):
    path = write_shp(tmp_path / "proj", [(10.0, 20.0)], prj=prj)
    with pytest.raises(hm.HeatmapError, match=message):
        read_batches(path)


def test_shapefile_lines_rejected(tmp_path):
    path = write_shp(tmp_path / "line", [(1.0, 2.0), (3.0, 4.0)], kind="line")
    with pytest.raises(hm.HeatmapError, match="only point and multipoint"):
        read_batches(path)


def test_shapefile_renders_like_the_same_points_as_text(tmp_path, run, write, pixels):
    write_shp(tmp_path / "seattle", SEATTLE)
    write("seattle.txt", plain_text(SEATTLE))
    assert run("-W", 50, "-o", "shp.png", "seattle.shp") == (0, "")
    assert run("-W", 50, "-o", "txt.png", "seattle.txt") == (0, "")
    shp, txt = pixels("shp.png"), pixels("txt.png")
    assert shp[0] == txt[0] == "RGBA"
    assert shp[1].shape[1] == 50 and shp[1][..., 3].any()
    assert np.array_equal(shp[1], txt[1])


def test_shapefile_projected_prj_is_a_clean_cli_error(tmp_path, run):
    write_shp(tmp_path / "merc", [(10.0, 20.0), (11.0, 21.0)], prj=MERCATOR_PRJ)
    code, err = run("-W", 50, "-o", "out.png", "merc.shp")
    assert code == 2
    assert "merc.shp: only WGS84 longitude/latitude shapefiles" in err
    assert not (tmp_path / "out.png").exists()


# ---- columnar files: Parquet, Arrow (Feather 2), NumPy ----
LAT, LON, W = [47.6, 47.61, 47.62], [-122.3, -122.31, -122.32], [1.0, 2.0, 0.5]


def _columnar(path, kind, columns):
    """Write ``columns`` (name -> list) as a Parquet, Arrow, .npz, structured or 2-D .npy file."""
    if kind in ("parquet", "feather"):
        pa = pytest.importorskip("pyarrow")
        table = pa.table(columns)
        if kind == "parquet":
            __import__("pyarrow.parquet").parquet.write_table(table, path, row_group_size=2)
        else:
            __import__("pyarrow.feather").feather.write_feather(table, path)
    elif kind == "npz":
        np.savez(path, **{k: np.asarray(v) for k, v in columns.items()})
    elif kind == "named":
        np.save(path, np.rec.fromarrays(list(columns.values()), names=list(columns)))
    else:
        np.save(path, np.column_stack(list(columns.values())))
    return path


KINDS = [("parquet", "p.parquet"), ("feather", "p.feather"), ("npz", "p.npz"),
         ("named", "p.npy"), ("plain2d", "t.npy")]


@pytest.mark.parametrize("kind, name", KINDS)
def test_columnar_columns_by_name_and_by_csv_columns(tmp_path, kind, name):
    path = _columnar(tmp_path / name, kind, {"Latitude": LAT, "lng": LON, "w": W})
    if kind == "plain2d":   # unnamed: the first two, a third is the weight
        assert read_points(path) == (LAT, LON, W)
        assert read_points(path, csv_columns="1,3") == (LAT, W, None)
        return
    assert read_points(path) == (LAT, LON, None)   # the weight only when named
    assert read_points(path, csv_columns="latitude,LNG,w") == (LAT, LON, W)
    assert read_points(path, csv_columns="3,1") == (W, LAT, None)


@pytest.mark.parametrize("kind, name", KINDS[:3])
def test_columnar_times(tmp_path, kind, name):
    times = ["2024-05-01T07:00:00Z", "2024-05-01T07:00:10Z", "2024-05-01T07:00:20Z"]
    stamps = np.array([t[:-1] for t in times], "datetime64[s]")
    for column in (times, stamps, stamps.astype("datetime64[ns]"), stamps.astype(np.int64)):
        path = _columnar(tmp_path / name, kind, {"lat": LAT, "lon": LON, "t": column})
        batches = read_batches(path, csv_columns="lat,lon,,t")
        assert np.concatenate([b.time for b in batches]).tolist() == stamps.tolist()


@pytest.mark.parametrize("kind, name, columns, options, message", [
    ("parquet", "p.parquet", {"x": LAT, "y": LON}, {}, "p.parquet:1: no column named 'lat' "
     "(the header has x, y)"),
    ("npz", "p.npz", {"lat": LAT, "lon": LON}, {"csv_columns": "lat,lon,5"},
     "p.npz: no column 5 (there are 2)"),
    ("parquet", "p.parquet", {"lat": LAT, "lon": [1.0, float("nan"), 2.0]}, {},
     "p.parquet:2: not a finite number"),
    ("npz", "p.npz", {"lat": LAT, "lon": LON[:2]}, {}, "p.npz: not a readable Parquet, Arrow "
     "or NumPy file"),
    ("feather", "p.feather", {"lat": LAT, "lon": LON, "t": ["x", "y", "z"]},
     {"csv_columns": "lat,lon,,t"}, "p.feather: bad time 'x' at row 1"),
])
def test_columnar_errors(tmp_path, kind, name, columns, options, message):
    path = _columnar(tmp_path / name, kind, columns)
    with pytest.raises(hm.HeatmapError) as error:
        read_points(path, **options)
    assert message in str(error.value)


def test_columnar_rows_come_a_million_at_a_time(tmp_path):
    lat = np.linspace(-60, 60, (1 << 20) + 5)
    np.save(tmp_path / "big.npy", np.column_stack([lat, lat]))
    batches = read_batches(tmp_path / "big.npy")
    assert [len(b.lat) for b in batches] == [1 << 20, 5]
    assert np.array_equal(np.concatenate([b.lat for b in batches]), lat)


def test_columnar_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = _columnar(tmp_path / "p.parquet", "parquet", {"lat": LAT, "lon": LON})
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(hm.HeatmapError, match=r'needs pyarrow: pip install "heatmap.py\[parquet\]"'):
        read_points(path)


def test_columnar_pictures_match_the_text(tmp_path, run, write, pixels):
    text = write("p.txt", "".join("%.6f %.6f\n" % p for p in SEATTLE))
    table = np.loadtxt(text)
    for kind, name in KINDS:
        _columnar(tmp_path / name, kind, {"lat": table[:, 0], "lon": table[:, 1]})
        assert run("-W", 40, "-o", name + ".png", name) == (0, "")
        assert run("-W", 40, "-o", "text.png", "p.txt") == (0, "")
        assert (tmp_path / (name + ".png")).read_bytes() == (tmp_path / "text.png").read_bytes()


# ---- file type detection and --filetype ----
@pytest.mark.parametrize("name,expected", [
    ("a.txt", "plain"), ("a", None), ("a.dat", None), ("a.csv", "csv"),
    ("A.CSV", "csv"), ("a.gpx", "gpx"), ("TRACK.GPX", "gpx"), ("a.shp", "shp"),
    ("a.Shp", "shp"), ("dir.gpx/a.txt", "plain"), ("ride.gpx.gz", "gpx"), ("p.csv.GZ", "csv"),
    ("a.geojson", "geojson"), ("a.ndjson", "geojsonl"), ("a.kml", "kml"), ("a.kmz", "kml"),
    ("a.tcx", "tcx"), ("a.fit", "fit"), ("a.zip", "shp"), ("a.PARQUET", "parquet"),
    ("a.feather", "arrow"), ("a.npy", "numpy"), ("a.npz", "numpy"),
    ("Records.json", ["takeout", "geojsonl", "geojson"]),   # the content decides among them
])
def test_filetype_by_name(name, expected):
    expected = [] if expected is None else [expected] if isinstance(expected, str) else expected
    assert hm._types_by_name(name) == expected


@pytest.mark.parametrize("forced", ["plain", "csv", "gpx", "shp"])
def test_filetype_override_wins(write, forced):
    path = write("a.csv", "1,2\n")
    with hm._opened_input(str(path)) as source:
        assert hm._filetype(source, forced) == forced


def test_filetype_override_reads_csv_from_a_txt_name(write):
    path = write("points.dat", "lat,lon,w\n1,2,3\n4,5,6\n")
    assert read_points(path, filetype="csv", ignore_csv_header=True) == ([1, 4], [2, 5], [3, 6])
    with pytest.raises(hm.HeatmapError, match="points.dat:1: "):
        read_points(path)  # auto: plain text


def test_filetype_override_on_the_command_line(run, write, pixels):
    text = "".join("%.6f,%.6f\n" % p for p in SEATTLE)
    write("a.csv", text)
    write("a.dat", text)
    assert run("-W", 40, "-o", "csv.png", "a.csv") == (0, "")
    assert run("--filetype", "csv", "-W", 40, "-o", "dat.png", "a.dat") == (0, "")
    assert np.array_equal(pixels("csv.png")[1], pixels("dat.png")[1])
    write("a.txt", text)  # .txt is plain text, as for the original
    code, err = run("-W", 40, "-o", "plain.png", "a.txt")
    assert code == 2 and "a.txt:1: expected 'lat lon [weight]'" in err


def test_upper_case_gpx_extension_on_the_command_line(run, write, pixels):
    write("track.gpx", gpx_text(TWO_SEGMENTS))
    write("TRACK.GPX", gpx_text(TWO_SEGMENTS))
    assert run("-W", 40, "-o", "lower.png", "track.gpx") == (0, "")
    assert run("-W", 40, "-o", "upper.png", "TRACK.GPX") == (0, "")
    assert pixels("upper.png")[1][..., 3].any()
    assert np.array_equal(pixels("lower.png")[1], pixels("upper.png")[1])


def test_read_missing_file(tmp_path):
    with pytest.raises(hm.HeatmapError, match="no such file"):
        read_batches(tmp_path / "missing.txt")


def test_read_yields_files_in_order(write):
    a = write("a.txt", "1 2\n")
    b = write("b.gpx", gpx_text([[(3, 4), (5, 6)]]))
    c = write("c.csv", "7,8,2\n")
    batches = list(hm.read([str(a), str(b), str(c)]))
    assert [type(x).__name__ for x in batches] == ["Points", "Segments", "Points"]
    assert batches[0].lat.tolist() == [1] and batches[2].weight.tolist() == [2]
    assert batches[1].lat2.tolist() == [5]



SEGMENT_TAG_CASES = [
    b"<trkseg> trkseg",                     # the word again after a tag
    b'<trkseg a="trkseg">x</trkseg>',       # the word inside a tag
    b"<gpx:trkseg/><trksegment></trkseg>",  # prefixed, empty, lookalike
    b"trkseg<trkseg>",                      # the word before any "<"
    b"<x trkseg><trkseg\n>",                # the word in another tag
    b"</ns.a-b:trkseg >",                   # closing, dotted prefix
    b"",
]


@pytest.mark.parametrize("data", SEGMENT_TAG_CASES)
def test_segment_tags_cases(data):
    found = [m.span() for m in hm._segment_tags(data)]
    assert found == [m.span() for m in hm._GPX_SEGMENT_TAG.finditer(data)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([b"<", b"</", b"/>", b">", b"trkseg", b"trksegment", b"gpx:",
                                 b" ", b"x"]), max_size=30))
def test_segment_tags_are_the_expression_s_matches(tokens):
    data = b"".join(tokens)
    found = [m.span() for m in hm._segment_tags(data)]
    assert found == [m.span() for m in hm._GPX_SEGMENT_TAG.finditer(data)]


# ---- the format registry: a new format is a reader and a row ----
@pytest.mark.parametrize("kind", list(hm._FORMATS))
def test_every_format_row_is_whole(kind, monkeypatch, capsys):
    row = hm._FORMATS[kind]
    assert callable(hm.READERS[kind]) and hm.READERS[kind].__name__ == row.reader
    assert row.extensions and all(e.startswith(".") and e == e.lower() for e in row.extensions)
    assert row.title and row.help and row.empty
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        hm.main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "%s (%s) %s" % (kind, ", ".join(row.extensions), " ".join(row.help.split())) in shown
    assert kind in hm._parser()._option_string_actions["--filetype"].choices
