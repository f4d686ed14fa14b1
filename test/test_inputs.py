"""Inputs as users have them: pipes, compressed files, every format, times (issues 10, 12, 15)."""
import gzip
import io
import json
import os
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import heatmap as hm
from conftest import SEATTLE, gpx_text, plain_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = 1700000000  # 2023-11-14T22:13:20Z
TRACK = [(47.6 + i * 0.001 + (i % 3) * 0.0002, -122.33 + i * 0.0015) for i in range(40)]
STAMPS = ["2023-11-14T22:%02d:%02dZ" % (13 + (20 + i * 7) // 60, (20 + i * 7) % 60)
          for i in range(40)]


def batches(path, **options):
    return list(hm.read([str(path)], hm.Config(**options)))


def joined(batches_, field):
    """One array of a field over batches (weight None: ones)."""
    return np.concatenate([np.ones(len(b[0])) if getattr(b, field) is None and field == "weight"
                           else getattr(b, field) for b in batches_])


@pytest.fixture
def stdin(monkeypatch):
    def _feed(data):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return _feed


# ---- pipes and compressed files (issue 10 regression 1) ----
def test_stdin_fifo_gzip_and_file_give_the_same_bytes(tmp_path, run, write, stdin):
    text = plain_text(SEATTLE).encode()
    write("p.txt", text)
    write("p.txt.gz", gzip.compress(text))
    write("noname", gzip.compress(text))
    assert run("-W", 60, "-o", "file.png", "p.txt") == (0, "")
    assert run("-W", 60, "-o", "gz.png", "p.txt.gz") == (0, "")
    assert run("-W", 60, "-o", "sniffed.png", "noname") == (0, "")
    stdin(text)
    assert run("-W", 60, "-o", "stdin.png", "-") == (0, "")
    os.mkfifo(tmp_path / "fifo")
    writer = threading.Thread(target=(tmp_path / "fifo").write_bytes, args=(text,))
    writer.start()
    assert run("-W", 60, "-o", "fifo.png", "fifo") == (0, "")
    writer.join()
    first = (tmp_path / "file.png").read_bytes()
    for name in ("gz.png", "sniffed.png", "stdin.png", "fifo.png"):
        assert (tmp_path / name).read_bytes() == first, name


def test_pipes_in_a_real_shell(tmp_path):
    (tmp_path / "p.txt").write_text(plain_text(SEATTLE))
    run = '"%s" "%s/heatmap.py" -W 50 -o' % (sys.executable, ROOT)
    script = ("{0} a.png p.txt && {0} b.png <(cat p.txt) && cat p.txt | {0} c.png /dev/stdin && "
              "cat p.txt | {0} d.png - && {0} - p.txt > e.png && "
              "cmp a.png b.png && cmp a.png c.png && cmp a.png d.png && cmp a.png e.png"
              ).format(run)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("text,kind", [
    (gpx_text([TRACK]), "Segments"), ("47.6,-122.3\n47.7,-122.2\n", "Points"),
    ('{"type":"Point","coordinates":[-122.3,47.6]}', "Points"),
    ('<kml><Placemark><Point><coordinates>-122.3,47.6</coordinates></Point></Placemark></kml>',
     "Points"),
], ids=["gpx", "csv", "geojson", "kml"])
def test_type_from_content_on_stdin(stdin, text, kind):
    stdin(gzip.compress(text.encode()))
    got = list(hm.read(["-"]))
    assert got and type(got[0]).__name__ == kind


def test_bz2_and_xz_too(write):
    import bz2
    import lzma
    text = plain_text(SEATTLE[:5]).encode()
    for name, data in (("a.txt.bz2", bz2.compress(text)), ("a.txt.xz", lzma.compress(text))):
        assert joined(batches(write(name, data)), "lat").size == 5


@pytest.mark.parametrize("name,data,message", [
    ("t.txt.gz", gzip.compress(b"1 2\n" * 5000)[:-30], "damaged or truncated gzip data"),
    ("c.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage", "damaged or truncated gzip data"),
    ("p.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "p.txt: is a PNG image, not plain text"),
    ("d.csv", b"%PDF-1.4\n1,2\n", "d.csv: is a PDF document, not CSV"),
    ("z.gpx", b"PK\x03\x04\x14\x00", "z.gpx: is a zip archive, not GPX"),
    ("x.dat", b"<html><body/></html>", "XML with the root element <html>"),
], ids=["truncated_gzip", "corrupt_gzip", "png", "pdf", "zip", "other_xml"])
def test_plainly_other_files_are_named(run, write, tmp_path, name, data, message):
    write(name, data)
    code, err = run("-W", 50, "-o", "out.png", name)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_standard_input_only_once(run, stdin):
    stdin(b"1 2\n")
    code, err = run("-W", 50, "-o", "out.png", "-", "-")
    assert code == 2 and "standard input can be read only once" in err


# ---- text: BOM, UTF-16, columns, long lines, quotes (issues 10, 15) ----
@pytest.mark.parametrize("encode", [
    lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    lambda t: t.encode("utf-16"),
    lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
], ids=["utf8_bom", "utf16_le", "utf16_be"])
def test_byte_order_marks_and_utf16(write, encode):
    text = "lat,lon,w\n47.6,-122.3,2\n47.7,-122.2,3\n"
    got = batches(write("e.csv", encode(text)), csv_columns="lat,lon,w")
    assert joined(got, "lat").tolist() == [47.6, 47.7] and joined(got, "weight").tolist() == [2, 3]


@pytest.mark.parametrize("spec,lat,weight", [
    ("Latitude,Longitude", [47.6, 47.7], None),
    ("LAT,lon,Score", [47.6, 47.7], [5.0, 0.5]),
    ("2,3,4", None, [5.0, 0.5]),  # numbers: the header line is data (and fails)
    ("lat,lon,,when", [47.6, 47.7], None),
], ids=["names", "names_weight", "numbers", "time_without_weight"])
def test_csv_columns(write, spec, lat, weight):
    text = ('id,Latitude,Longitude,score,when\n'
            'a,47.6,-122.3,5,2023-11-14T22:13:20Z\n"b, c",47.7,-122.2,0.5,1700000060\n')
    path = write("c.csv", text.replace("Latitude,Longitude", "lat,lon") if "lat" in spec.lower()
                 and "Latitude" not in spec else text)
    if lat is None:
        with pytest.raises(hm.HeatmapError, match="c.csv:1: not a number"):
            batches(path, csv_columns=spec)
        assert joined(batches(path, csv_columns=spec, ignore_csv_header=True), "weight"
                      ).tolist() == weight
        return
    got = batches(path, csv_columns=spec)
    assert joined(got, "lat").tolist() == lat
    assert (None if got[0].weight is None else got[0].weight.tolist()) == weight
    if "when" in spec:
        assert got[0].time.astype(np.int64).tolist() == [T0, T0 + 60]


def test_csv_columns_unknown_name(write):
    with pytest.raises(hm.HeatmapError, match=r"c.csv:1: no column named 'x' \(the header has"):
        batches(write("c.csv", "lat,lon\n1,2\n"), csv_columns="lat,x")


def test_line_without_end_is_an_error_in_bounded_time(write, monkeypatch):
    monkeypatch.setattr(hm, "_CHUNK_BYTES", 1000)
    monkeypatch.setattr(hm, "_MAX_LINE", 5000)
    with pytest.raises(hm.HeatmapError, match=r"s.txt:2: the line is longer than 5000 bytes"):
        batches(write("s.txt", b"1 2\n" + b"1" * 20000))
    with pytest.raises(hm.HeatmapError, match=r"s.csv:1: the line is longer than 5000 bytes"):
        batches(write("s.csv", b"1" * 20000))


@pytest.mark.parametrize("run_on", [b" " * 50000, b'<gpx a="' + b"x" * 50000, b"<<" * 25000,
                                    b"<gpx><trk><trkseg><trkpt><time>" + b"1>" * 25000])
def test_xml_runs_are_read_in_bounded_blocks(write, monkeypatch, run_on):
    monkeypatch.setattr(hm, "_MAX_LINE", 5000)
    seen = []
    feed = hm._XmlReader.feed
    monkeypatch.setattr(hm._XmlReader, "feed", lambda self, d, f=False: (
        seen.append(len(d)), feed(self, d, f))[1])
    with pytest.raises(hm.HeatmapError, match=":1: a tag or text runs on for more than 5000"):
        batches(write("s.gpx", run_on + b"</gpx>"))
    assert max(seen, default=0) <= 5000


def test_csv_quoted_newline_across_the_chunk_boundary(write, monkeypatch):
    text = "".join('%d.5,%d.25,1,"note\nwith, a newline"\n' % (i, i) for i in range(30))
    path = write("q.csv", text)
    whole = batches(path)
    for size in (7, 50, 101):
        monkeypatch.setattr(hm, "_CHUNK_BYTES", size)
        assert joined(batches(path), "lat").tolist() == joined(whole, "lat").tolist()
    assert joined(whole, "lat").size == 30


def test_unterminated_csv_quote_says_so(write):
    with pytest.raises(hm.HeatmapError, match=r'u.csv:2: a quote is not closed'):
        batches(write("u.csv", '1,2\n3,4,"open\n5,6\n'))


def test_error_lines_are_cut(write, run):
    write("big.gpx", '<gpx><trk><trkseg>\n<trkpt lat="%s" lon="2"/><trkpt lat="1" lon="2"/>'
          '</trkseg></trk></gpx>' % ("1" * 100 + "x" * 5000000))
    code, err = run("-W", 50, "-o", "out.png", "big.gpx")
    assert code == 2 and "big.gpx:2: bad coordinate" in err and len(err) < 400


@pytest.mark.parametrize("lon", ["1e300", "-1e300", "400"])
def test_absurd_longitudes_are_refused(write, run, lon):
    write("p.txt", "47.6 -122.3\n47.7 %s\n" % lon)
    code, err = run("-W", 50, "-o", "out.png", "p.txt")
    assert code == 2 and "is outside -360..360" in err


# ---- mixed folders, short tracks (issue 10 regressions 2, 3) ----
def test_a_file_without_a_track_among_others_is_skipped(run, write, tmp_path):
    write("ride.gpx", gpx_text([TRACK]))
    write("waypoints.gpx", '<gpx><wpt lat="47.6" lon="-122.3"/><rte><rtept lat="1" lon="2"/>'
          '</rte></gpx>')
    code, err = run("-W", 80, "-o", "all.png", "ride.gpx", "waypoints.gpx")
    assert code == 0 and err.splitlines()[0] == (
        "heatmap.py: warning: waypoints.gpx: no GPX track points (<trkpt> in <trkseg>), skipped")
    code, err = run("-W", 80, "-o", "none.png", "waypoints.gpx", "waypoints.gpx")
    assert code == 2 and "none of the 2 input files gives anything to draw" in err


def export_folder(write):
    """A Strava/Garmin-style export: rides as GPX, .gpx.gz, FIT, .fit.gz and TCX, one GPX
    without times, a README.txt and a non-GeoJSON activities.json."""
    moved = [[(lat + k * 0.01, lon) for lat, lon in TRACK] for k in range(5)]
    fit, _ = fit_bytes(moved[2], [T0 + 7 * i for i in range(40)])
    files = {"a/1.gpx": same_track_files(moved[0], STAMPS)[0]["t.gpx"],
             "a/2.gpx.gz": gzip.compress(same_track_files(moved[1], STAMPS)[0]["t.gpx"].encode()),
             "a/3.fit": fit, "a/4.fit.gz": gzip.compress(fit),
             "a/5.tcx": same_track_files(moved[3], STAMPS)[0]["t.tcx"],
             "a/6.gpx": gpx_text([moved[4]]), "README.txt": "Your activities, exported.\n",
             "activities.json": '[{"id": 1, "name": "Morning Ride", "distance": 5.2}]'}
    for name, data in files.items():
        write("export/" + name, data)
    return ["export/" + name for name in sorted(files)]


@pytest.mark.parametrize("outcome", [["-W", 200, "-o", "all.png"], ["--tiles", "tiles"],
                                     ["-W", 200, "--time_range", "2023-11-14,", "-o", "t.png"]])
def test_an_export_folder_draws_in_one_run_naming_what_it_skips(run, write, tmp_path, outcome):
    files = export_folder(write)
    code, err = run(*outcome, *files)
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("heatmap.py: warning:")]
    assert lines[:2] == [
        "heatmap.py: warning: export/README.txt:1: not a number: 'Your activities, exported.'; "
        "skipped (--strict makes this an error)",
        "heatmap.py: warning: export/activities.json: [0]: not a GeoJSON geometry (type None); "
        "skipped (--strict makes this an error)"]
    assert lines[2:] == (["heatmap.py: warning: 1 files without times skipped (--time_range "
                          "needs times): export/a/6.gpx"] if "t.png" in outcome else [])
    code, err = run("--strict", *outcome, *files)
    assert code == 2 and err.splitlines() == [
        "heatmap.py: error: export/README.txt:1: not a number: 'Your activities, exported.'"]


def test_a_very_short_track_with_a_width(run, write, pixels):
    write("short.gpx", gpx_text([[(47.6, -122.3), (47.60001, -122.300001), (47.60002, -122.3)]]))
    assert run("-W", 200, "-o", "short.png", "short.gpx") == (0, "")
    mode, image = pixels("short.png")
    assert image.shape[1] == 200 and image.shape[0] > 2000 and image[..., 3].any()


# ---- every format draws the same picture as GPX (issue 10) ----
def fit_bytes(points, times):
    """A FIT activity written by fit-tool; returns (bytes, the degrees it holds)."""
    pytest.importorskip("fit_tool")
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.profile_type import FileType, Manufacturer
    builder = FitFileBuilder(auto_define=True)
    head = FileIdMessage()
    head.type, head.manufacturer, head.product = FileType.ACTIVITY, Manufacturer.DEVELOPMENT.value, 0
    head.time_created, head.serial_number = T0 * 1000, 1
    builder.add(head)
    for (lat, lon), t in zip(points, times):
        record = RecordMessage()
        record.timestamp, record.position_lat, record.position_long = t * 1000, lat, lon
        builder.add(record)
    data = builder.build().to_bytes()
    semicircle = 180.0 / 2 ** 31  # the degrees the file really holds
    held = [(round(lat / semicircle) * semicircle, round(lon / semicircle) * semicircle)
            for lat, lon in points]
    return data, held


def same_track_files(points, stamps):
    """{name: content} of one timed track in every track format."""
    seconds = [T0 + 7 * i for i in range(len(points))]
    trkpts = "".join('<trkpt lat="%r" lon="%r"><ele>3</ele><time>%s</time></trkpt>\n'
                     % (lat, lon, s) for (lat, lon), s in zip(points, stamps))
    tcx = "".join('<Trackpoint><Time>%s</Time><Position><LatitudeDegrees>%r</LatitudeDegrees>'
                  '<LongitudeDegrees>%r</LongitudeDegrees></Position></Trackpoint>\n'
                  % (s, lat, lon) for (lat, lon), s in zip(points, stamps))
    return {
        "t.gpx": '<?xml version="1.0"?><gpx xmlns="http://www.topografix.com/GPX/1/1"><trk>'
                 '<trkseg>\n%s</trkseg></trk></gpx>' % trkpts,
        "t.geojson": json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"time": stamps},
            "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]}
        }]}),
        "t.tcx": '<?xml version="1.0"?><TrainingCenterDatabase xmlns="http://www.garmin.com/'
                 'xmlschemas/TrainingCenterDatabase/v2"><Activities><Activity Sport="Biking">'
                 '<Lap><Track>\n%s</Track></Lap></Activity></Activities></TrainingCenterDatabase>'
                 % tcx,
        "t.kml": '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/'
                 'kml/ext/2.2"><Document><Placemark><gx:Track>%s%s</gx:Track></Placemark>'
                 '</Document></kml>' % ("".join("<when>%s</when>" % s for s in stamps),
                                        "".join("<gx:coord>%r %r 3</gx:coord>" % (lon, lat)
                                                for lat, lon in points)),
        "l.kml": '<kml><Placemark><LineString><coordinates>%s</coordinates></LineString>'
                 '</Placemark></kml>' % " ".join("%r,%r,3" % (lon, lat) for lat, lon in points),
    }, seconds


def test_every_track_format_draws_the_gpx_picture_and_reads_the_times(run, write, pixels):
    files, seconds = same_track_files(TRACK, STAMPS)
    for name, text in files.items():
        write(name, text)
    assert run("-W", 80, "-r", 3, "-o", "gpx.png", "t.gpx") == (0, "")
    gpx = pixels("gpx.png")[1]
    assert gpx[..., 3].any()
    for name in files:
        assert run("-W", 80, "-r", 3, "-o", name + ".png", name) == (0, ""), name
        assert np.array_equal(pixels(name + ".png")[1], gpx), name
        got = batches(write("x" + name, files[name]))
        assert joined(got, "lat1").tolist() == [p[0] for p in TRACK[:-1]], name
        if name != "l.kml":
            assert joined(got, "time1").astype(np.int64).tolist() == seconds[:-1], name
            assert joined(got, "time2").astype(np.int64).tolist() == seconds[1:], name


def test_fit_draws_the_gpx_picture(run, write, pixels):
    pytest.importorskip("fitdecode")
    seconds = [T0 + 7 * i for i in range(len(TRACK))]
    data, held = fit_bytes(TRACK, seconds)
    write("ride.fit", data)
    write("ride.gpx", gpx_text([held]))
    assert run("-W", 80, "-r", 3, "-o", "fit.png", "ride.fit") == (0, "")
    assert run("-W", 80, "-r", 3, "-o", "gpx.png", "ride.gpx") == (0, "")
    assert np.array_equal(pixels("fit.png")[1], pixels("gpx.png")[1])
    got = batches(write("noext", data))
    assert joined(got, "time1").astype(np.int64).tolist() == seconds[:-1]


def test_chained_fit_files_are_two_tracks(write):
    """Before: the first file's last points joined the second file's track."""
    pytest.importorskip("fitdecode")
    first, _ = fit_bytes(TRACK[:3], [T0, T0 + 7, T0 + 14])
    second, _ = fit_bytes(TRACK[3:], [T0 + 100 + 7 * i for i in range(len(TRACK) - 3)])
    got = batches(write("two.fit", first + second))
    assert len(joined(got, "lat1")) == len(TRACK) - 2   # no segment from file 1 to file 2


def test_fit_without_fitdecode_is_one_line(write, run, monkeypatch):
    monkeypatch.setitem(sys.modules, "fitdecode", None)
    write("r.fit", b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT\x00\x00")
    code, err = run("-W", 50, "-o", "out.png", "r.fit")
    assert code == 2 and 'pip install "heatmap.py[fit]"' in err


@pytest.mark.parametrize("missing", [("dask", "distributed"), ("distributed",)])
def test_dask_without_dask_is_one_line(write, run, monkeypatch, missing):
    """Before: --dask without dask installed was a traceback (ModuleNotFoundError)."""
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)
    write("p.txt", "47.6 -122.3\n47.7 -122.2\n")
    code, err = run("-W", 50, "--dask", "local:1", "-o", "out.png", "p.txt")
    assert code == 2 and 'pip install "heatmap.py[dask]"' in err and "Traceback" not in err


def test_damaged_fit_names_the_record(write):
    pytest.importorskip("fitdecode")
    data, _ = fit_bytes(TRACK[:5], range(T0, T0 + 5))
    with pytest.raises(hm.HeatmapError, match="d.fit: record .*: not valid FIT data"):
        batches(write("d.fit", data[:-9]))


# ---- GeoJSON, Takeout ----
GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"mag": 4, "time": "2023-11-14T23:13:20+01:00"},
     "geometry": {"type": "Point", "coordinates": [-122.3, 47.6, 12]}},
    {"type": "Feature", "properties": {"mag": "big", "timestamp": T0 + 1},
     "geometry": {"type": "MultiPoint", "coordinates": [[-122.2, 47.7], [-122.1, 47.8]]}},
    {"type": "Feature", "properties": None, "geometry": None},
    {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
        [[0, 0], [1, 0], [1, 1], [0, 0]]]}},
    {"type": "Feature", "properties": {}, "geometry": {"type": "GeometryCollection",
     "geometries": [{"type": "MultiLineString", "coordinates": [[[-122, 47], [-122.1, 47.1]]]}]}},
]}


@pytest.mark.parametrize("batch", [None, 40, 97])
def test_geojson_feature_collection(write, caplog, monkeypatch, batch):
    if batch:
        monkeypatch.setattr(hm, "_JSON_BATCH", batch)
    got = batches(write("g.geojson", json.dumps(GEOJSON, indent=1)), weight_property="mag")
    points = [b for b in got if isinstance(b, hm.Points)]
    assert joined(points, "lat").tolist() == [47.6, 47.7, 47.8]
    assert joined(points, "weight").tolist() == [4, 1, 1]
    assert joined(points, "time").astype(np.int64).tolist() == [T0, T0 + 1, T0 + 1]
    assert joined([b for b in got if isinstance(b, hm.Segments)], "lat2").tolist() == [47.1]
    assert "1 polygon skipped" in caplog.text and "2 points without a numeric 'mag'" in caplog.text


def test_geojson_streams_escaped_strings_and_root_arrays(write, monkeypatch):
    monkeypatch.setattr(hm, "_JSON_BATCH", 16)
    feature = {"type": "Feature", "properties": {"name": 'a "quoted" \\ back\\\\slash ]},['},
               "geometry": {"type": "Point", "coordinates": [1.5, 2.5]}}
    got = batches(write("e.json", json.dumps([feature] * 7)))
    assert joined(got, "lon").tolist() == [1.5] * 7


def test_newline_delimited_geojson(write):
    lines = "\n".join(json.dumps({"type": "Feature", "properties": {"t": "2023-11-14T22:13:20"},
                                  "geometry": {"type": "Point", "coordinates": [i, 40 + i]}})
                      for i in range(4))
    got = batches(write("g.ndjson", lines + "\n\n"), time_property="t")
    assert joined(got, "lat").tolist() == [40, 41, 42, 43]
    assert set(joined(got, "time").astype(np.int64).tolist()) == {T0}


@pytest.mark.parametrize("name,text,message", [
    ("g.geojson", '{"type": "FeatureCollection", "features": [\n{"type": "Feature",,}]}',
     "g.geojson:2: not valid JSON"),
    ("g.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", '
     '"geometry": {"type": "Point", "coordinates": ["a", 1]}}]}',
     "g.geojson: features[0]: coordinates are not [lon, lat] numbers"),
    ("g.geojson", '{"type": "Feature", "properties": {"time": "yesterday"}, '
     '"geometry": {"type": "Point", "coordinates": [1, 2]}}', "bad time 'yesterday'"),
    ("g.geojson", '{"type": "FeatureCollection", "features": [', "the document is cut short"),
    ("g.ndjson", '{"type": "Point", "coordinates": [1, 2]}\n{"type": "Point"\n',
     "g.ndjson:2: not valid JSON"),
    ("g.geojson", '{"type": "Circle"}', "not a GeoJSON geometry"),
    ("g.geojson", '{"type": "Feature", "properties": {"time": ["2024-01-01T00:00:00Z"]}, '
     '"geometry": {"type": "LineString", "coordinates": [[1, 2], [1.1, 2.1]]}}',
     "g.geojson: (root).geometry: 2 positions but 1 times listed"),
], ids=["syntax", "coordinates", "time", "cut_short", "ndjson_line", "unknown_type",
        "time_list_length"])
def test_geojson_errors(write, run, name, text, message):
    write(name, text)
    code, err = run("-W", 50, "-o", "out.png", name)
    assert code == 2 and message in err and err.count("\n") == 1


def test_geojson_multipoint_times_one_per_position(write):
    text = ('{"type": "Feature", "properties": {"time": ["2023-11-14T22:13:20Z", %d]}, '
            '"geometry": {"type": "MultiPoint", "coordinates": [[1, 2], [1.1, 2.1]]}}' % (T0 + 5))
    assert joined(batches(write("m.geojson", text)), "time").astype(np.int64).tolist() == [T0,
                                                                                         T0 + 5]


def test_takeout_records(write):
    records = {"locations": [
        {"latitudeE7": 476062000, "longitudeE7": -1223321000, "timestamp": "2023-11-14T22:13:20.5Z"},
        {"latitudeE7": 476100000, "longitudeE7": 4072000000, "timestampMs": str(T0 * 1000 + 9000)},
        {"accuracy": 5},
    ]}
    got = batches(write("Records.json", json.dumps(records)))
    assert joined(got, "lat").tolist() == [47.6062, 47.61]
    assert joined(got, "lon").tolist() == pytest.approx([-122.3321, -22.2967296])
    assert joined(got, "time").astype(np.int64).tolist() == [T0, T0 + 9]


# ---- times ----
@pytest.mark.parametrize("text,seconds", [
    ("2023-11-14T22:13:20Z", T0), ("2023-11-14 22:13:20", T0), ("2023-11-14T22:13:20.999z", T0),
    ("2023-11-15T00:13:20+02:00", T0), ("2023-11-14T20:13:20-0200", T0),
    ("2023-11-14T23:13:20+01", T0), ("1700000000", T0), ("1700000000.7", T0),
    ("2024-02-29T00:00:00Z", 1709164800), ("1969-12-31T23:59:59Z", -1),
    ("2023-11-14T22:13Z", T0 - 20), ("2023-11-14 22:13", T0 - 20), ("2023-11-15T00:13+02:00", T0 - 20),
    ("", None), (None, None),
])
def test_parse_times(text, seconds):
    got = hm._parse_times([text])[0]
    assert (np.isnat(got) if seconds is None else got.astype(np.int64) == seconds)


@pytest.mark.parametrize("text", ["2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z", "2023-13-01T00:00:00Z",
                                  "2023-11-14T22:13:20+2", "2023-11-14T22:13:20Zulu", "soon",
                                  "1e300", "2023-11-14", "x" * 60, "2023-11-14T22:13:20.Z",
                                  "2023-11-14T22:1", "2023-11-14T22:13x"])
def test_bad_times(text):
    with pytest.raises(hm._BadTime):
        hm._parse_times(["2023-11-14T22:13:20Z", text])


def test_parse_times_matches_numpy(tmp_path):
    rng = np.random.default_rng(3)
    seconds = rng.integers(-2 * 10 ** 10, 4 * 10 ** 10, 2000)
    texts = [str(np.datetime64(int(s), "s")) + "Z" for s in seconds]
    assert (hm._parse_times(texts).astype(np.int64) == seconds).all()


@pytest.mark.parametrize("chunk", [None, 50, 333])
@pytest.mark.parametrize("exact", [False, True], ids=["fast", "expat"])
def test_gpx_times_fast_and_exact(write, monkeypatch, exact, chunk):
    if chunk:
        monkeypatch.setattr(hm, "_CHUNK_BYTES", chunk)
    points = "".join('<trkpt lat="%r" lon="%r"><ele>1</ele><time>%s</time></trkpt>' % (p + (s,))
                     for p, s in zip(TRACK, STAMPS))
    body = "<gpx><trk><trkseg>%s</trkseg></trk></gpx>" % points
    path = write("t.gpx", body)
    with hm._opened_input(str(path)) as source:
        got = list((hm._GpxExact if exact else hm._Gpx)(source).batches())
    seconds = [T0 + 7 * i for i in range(40)]
    assert joined(got, "time1").astype(np.int64).tolist() == seconds[:-1]
    assert joined(got, "lat2").tolist() == [p[0] for p in TRACK[1:]]


def test_bad_gpx_time_names_the_line(write):
    path = write("t.gpx", '<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2023-01-01T00:00:00Z'
                 '</time></trkpt>\n<trkpt lat="1" lon="2"><time>noon</time></trkpt></trkseg></trk></gpx>')
    with pytest.raises(hm.HeatmapError, match=r"t.gpx:2: bad time 'noon'"):
        batches(path)


def test_plain_time_column(write):
    path = write("p.txt", "47.6 -122.3 1 2023-11-14T22:13:20Z\n47.7 -122.2\n47.8 -122.1 2 1700000001\n")
    got = batches(path, time_column=True)
    assert joined(got, "time").astype(np.int64).tolist()[0::2] == [T0, T0 + 1]
    assert np.isnat(joined(got, "time")[1])
    with pytest.raises(hm.HeatmapError, match="p.txt:1: expected 'lat lon"):
        batches(path)


def test_times_go_through_every_pipeline(run, write, tmp_path):
    files, _ = same_track_files(TRACK, STAMPS)
    write("t.gpx", files["t.gpx"])
    write("p.txt", "47.6 -122.3 1 2023-11-14T22:13:20Z\n47.61 -122.31 1 1700000001\n")
    assert run("-W", 60, "-S", "s.npz", "-o", "a.png", "t.gpx") == (0, "")
    assert run("-W", 60, "-e", "47.5,-122.4,47.7,-122.2", "-o", "b.png", "t.gpx") == (0, "")
    assert run("-W", 60, "--time_column", "-o", "c.png", "p.txt") == (0, "")
    try:
        hm._find_ffmpeg()
    except hm.HeatmapError:
        return
    assert run("-W", 60, "-a", "--frequency", 10, "-S", "a.npz", "-o", "a.gif", "t.gpx") == (0, "")
    assert (tmp_path / "a.gif").stat().st_size > 0


# ---- the fast GPX reader agrees with expat (issue 15 item 8) ----
@pytest.mark.parametrize("extra", [
    '<?pi <trkseg><trkpt lat="9" lon="9"/><trkpt lat="8" lon="8"/></trkseg>?>',
    '<!-- <trkseg><trkpt lat="9" lon="9"/><trkpt lat="8" lon="8"/></trkseg> -->',
], ids=["processing_instruction", "comment"])
@pytest.mark.parametrize("chunk", [None, 30])
def test_fast_gpx_skips_what_expat_skips(write, monkeypatch, extra, chunk):
    if chunk:
        monkeypatch.setattr(hm, "_CHUNK_BYTES", chunk)
    path = write("t.gpx", "<gpx><trk>%s<trkseg><trkpt lat='1' lon='2'/><trkpt lat='3' lon='4'/>"
                 "</trkseg></trk></gpx>" % extra)
    assert joined(batches(path), "lat1").tolist() == [1]


def test_fast_gpx_ignores_an_unused_entity(write):
    text = ('<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY x "<trkseg><trkpt lat=\'9\' '
            'lon=\'9\'/><trkpt lat=\'8\' lon=\'8\'/></trkseg>">]>\n<gpx><trk><trkseg>'
            '<trkpt lat="1" lon="2"/><trkpt lat="3" lon="4"/></trkseg></trk></gpx>')
    assert joined(batches(write("t.gpx", text)), "lat1").tolist() == [1]


# ---- shapefiles: zipped, sidecars (issues 10, 15) ----
def small_shapefile(tmp_path, name="pts"):
    shapefile = pytest.importorskip("shapefile")
    with shapefile.Writer(str(tmp_path / name), shapeType=shapefile.POINT) as w:
        w.field("name", "C")
        for lat, lon in SEATTLE[:10]:
            w.point(lon, lat)
            w.record("p")
    (tmp_path / (name + ".prj")).write_text('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984"]]')
    return tmp_path / (name + ".shp")


def test_zipped_shapefile(tmp_path, run, pixels):
    small_shapefile(tmp_path)
    with zipfile.ZipFile(tmp_path / "pts.zip", "w") as archive:
        for ext in ("shp", "shx", "dbf", "prj"):
            archive.write(tmp_path / ("pts." + ext), "folder/pts." + ext)
    assert run("-W", 50, "-o", "zip.png", "pts.zip") == (0, "")
    assert run("-W", 50, "-o", "shp.png", "pts.shp") == (0, "")
    assert np.array_equal(pixels("zip.png")[1], pixels("shp.png")[1])


def test_shapefile_sidecar_fifo_is_an_error_not_a_hang(tmp_path, run):
    small_shapefile(tmp_path)
    os.remove(tmp_path / "pts.prj")
    os.mkfifo(tmp_path / "pts.prj")
    code, err = run("-W", 50, "-o", "out.png", "pts.shp")
    assert code == 2 and "pts.prj: is not a regular file" in err


def test_save_onto_a_shapefile_part_is_refused(tmp_path, run):
    small_shapefile(tmp_path)
    before = (tmp_path / "pts.dbf").read_bytes()
    code, err = run("-W", 50, "-S", "pts.dbf", "pts.shp")
    assert code == 2 and "would overwrite an input file" in err
    assert (tmp_path / "pts.dbf").read_bytes() == before


def test_brightness_without_a_background_warns(run, write):
    write("p.txt", plain_text(SEATTLE))
    code, err = run("-W", 50, "-B", "0.5", "-o", "out.png", "p.txt")
    assert code == 0 and err.splitlines()[0] == (
        "heatmap.py: warning: -B/--background_brightness has no effect without "
        "-I/--background_image or --osm")


# ---- the fast number parser gives exactly what the exact parsers give ----
FAST_CASES = {
    "digits17": "".join("%r %r\n" % (float(a), float(b)) for a, b in
                        np.random.default_rng(1).normal(0, 50, (300, 2))),
    "signs_exponents": "+1.5 -2e3\n.5 5.\n-0 1E-5\n1.e5 -.5e-3\n5e-324 2e-400\n",
    "blank_lines_crlf": "1 2\r\n\r\n3 4\r\n5 6\r\n",
    "mixed_2_and_3": "1 2 3\n4 5\n6 7 8\n",
    "mixed_3_after_2": "1 2\n4 5 6\n",
    "bad_line": "1 2\n3 x\n",
    "csv_quotes": '"1","2",3\n4,5,"6"\n',
    "csv_blank_and_commas": "1,2\n,\n\n3,4\n",
    "nan": "1 2\nnan 3\n",
}


def read_outcome(path, fast=True):
    """(lat, lon, weight) bytes of a file, or its error, with the fast paths or without."""
    old, hm._FAST = hm._FAST, fast
    try:
        got = batches(path)
        return [joined(got, f).tobytes() for f in ("lat", "lon", "weight")] if got else []
    except hm.HeatmapError as exc:
        return str(exc)
    finally:
        hm._FAST = old


@pytest.mark.parametrize("name", sorted(FAST_CASES))
def test_fast_parser_reads_what_the_exact_parser_reads(write, name):
    path = write("f.csv" if name.startswith("csv") else "f.txt", FAST_CASES[name])
    assert read_outcome(path) == read_outcome(path, fast=False)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.sampled_from(["1", "-2.5", "3e1", ".5", "+7.", "1e", "e", "-", "1..2",
                                          "4E-2", "nan", "", "1_0", "0x1", "9" * 17]),
                         min_size=0, max_size=4), min_size=1, max_size=6),
       st.sampled_from(["p.txt", "p.csv"]))
def test_fast_parser_agrees_on_odd_tokens(tmp_path_factory, rows, name):
    sep = "," if name.endswith("csv") else " "
    path = tmp_path_factory.mktemp("fast") / name
    path.write_text("\n".join(sep.join(r) for r in rows) + "\n")
    assert read_outcome(path) == read_outcome(path, fast=False)


@st.composite
def gpx_documents(draw):
    """GPX text with the shapes the fast reader must get right or hand over."""
    parts = []
    for s in range(draw(st.integers(0, 3))):
        points = []
        for i in range(draw(st.integers(0, 5))):
            lat, lon = 47 + s + i / 10, -122 - i / 7
            body = draw(st.sampled_from(["", "<ele>1</ele>", "<time>%s</time>" % STAMPS[i],
                                         "<ele>2</ele><time>%s</time>" % STAMPS[i + 1],
                                         "<time>%s</time><extensions><time>x</time>"
                                         "</extensions>" % STAMPS[i]]))
            points.append(draw(st.sampled_from([
                '<trkpt lat="%r" lon="%r">%s</trkpt>', '<trkpt lon="%r" lat="%r">%s</trkpt>'
                if False else '<trkpt lat="%r"  lon="%r" >%s</trkpt>',
                '<g:trkpt lat="%r" lon="%r">%s</g:trkpt>'])) % (lat, lon, body))
            points.append(draw(st.sampled_from(["", "\n", "<!-- <trkpt lat='9' lon='9'/> -->",
                                                "<?pi <trkseg>?>", "<![CDATA[<trkseg>]]>"])))
        parts.append(draw(st.sampled_from(["<trkseg>%s</trkseg>", "<g:trkseg>%s</g:trkseg>",
                                           "<trkseg/>%s"])) % "".join(points))
    head = draw(st.sampled_from(["", '<?xml version="1.0"?>\n', "<!-- c -->",
                                 '<!DOCTYPE gpx [<!ENTITY x "<trkseg>">]>']))
    return ('%s<gpx xmlns:g="urn:g"><trk>%s</trk></gpx>' % (head, "\n".join(parts))).encode()


@settings(max_examples=120, deadline=None, derandomize=True)
@given(gpx_documents(), st.sampled_from([None, 20, 61, 150]))
def test_fast_gpx_reads_what_expat_reads(data, chunk):
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t.gpx")
        with open(path, "wb") as stream:
            stream.write(data)
        old = hm._CHUNK_BYTES
        hm._CHUNK_BYTES = chunk or old
        try:
            got = []
            for reader in (hm._Gpx, hm._GpxExact):
                with hm._opened_input(path) as source:
                    try:
                        got.append([b for b in reader(source).batches()])
                    except hm._NothingToDraw:
                        got.append([])
                    except hm.HeatmapError as exc:
                        got.append(str(exc))
        finally:
            hm._CHUNK_BYTES = old
    fast, exact = got
    if isinstance(exact, str) or isinstance(fast, str):
        assert fast == exact
        return
    for field in ("lat1", "lon1", "lat2", "lon2", "time1", "time2"):
        a = [getattr(b, field) for b in fast]
        b = [getattr(b, field) for b in exact]
        a = np.concatenate([x for x in a if x is not None]) if any(x is not None for x in a) else None
        b = np.concatenate([x for x in b if x is not None]) if any(x is not None for x in b) else None
        assert (a is None) == (b is None) and (a is None or a.tobytes() == b.tobytes()), field


def test_kml_placemark_timestamp_and_multigeometry(write):
    text = ('<kml><Document><Folder><Placemark><TimeStamp><when>2023-11-14T22:13:20Z</when>'
            '</TimeStamp><MultiGeometry><Point><coordinates>-122.3,47.6,0</coordinates></Point>'
            '<Point><coordinates>-122.2,47.7</coordinates></Point><Polygon><outerBoundaryIs>'
            '<LinearRing><coordinates>0,0 1,0 1,1 0,0</coordinates></LinearRing>'
            '</outerBoundaryIs></Polygon></MultiGeometry></Placemark></Folder></Document></kml>')
    got = batches(write("p.kml", text))
    assert joined(got, "lat").tolist() == [47.6, 47.7]
    assert joined(got, "time").astype(np.int64).tolist() == [T0, T0]
