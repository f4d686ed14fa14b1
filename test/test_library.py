"""The library for array users: settings by keyword, tables (dict, pandas, polars,
structured arrays), geometries (GeoPandas, ``__geo_interface__``, GeoJSON), tracks(),
skip_invalid, and errors that name settings instead of flags.

Every picture is compared with the same data given the plain way
(``render(lat, lon, Config(...))``) or through the command line.
"""
import logging

import numpy as np
import pytest

import heatmap as hm
from conftest import SEATTLE, gpx_text

LAT, LON = (np.array(v) for v in zip(*SEATTLE))
WEIGHT = np.arange(1.0, len(LAT) + 1) % 7 + 1
SIZE = dict(width=48, radius=3)
FLAGS = [flag for action in hm._parser()._actions for flag in action.option_strings
         if flag.startswith("--") and flag not in ("--help", "--version")]


def pixels(image):
    return np.asarray(image)


@pytest.fixture(scope="module")
def plain():
    """The Seattle points drawn the classic way: render(lat, lon, config)."""
    return pixels(hm.render(LAT, LON, hm.Config(**SIZE)))


@pytest.fixture(scope="module")
def weighted():
    return pixels(hm.render(LAT, LON, hm.Config(**SIZE), weight=WEIGHT))


# ---- settings by keyword ----
def test_settings_by_keyword_equal_a_config(plain):
    assert np.array_equal(pixels(hm.render(LAT, LON, **SIZE)), plain)
    assert np.array_equal(pixels(hm.render(LAT, LON, hm.Config(width=48), radius=3)), plain)
    assert np.array_equal(pixels(hm.render(lat=LAT, lon=LON, **SIZE)), plain)


def test_render_data_and_run_take_settings(tmp_path, write, plain):
    batch = hm.Points(LAT, LON)
    assert np.array_equal(pixels(hm.render_data([batch], **SIZE)), plain)
    path = write("in.txt", "".join("%.6f %.6f\n" % p for p in SEATTLE))
    out = tmp_path / "out.png"
    hm.run(files=[str(path)], output=str(out), **SIZE)
    from PIL import Image
    with Image.open(out) as image:
        assert np.array_equal(np.asarray(image), plain)
    assert len(list(hm.read([str(path)], ignore_csv_header=True))) == 1


def test_unknown_setting():
    with pytest.raises(hm.HeatmapError, match="unknown setting widht"):
        hm.render(LAT, LON, widht=40)


# ---- errors name settings in the library, flags on the command line ----
@pytest.mark.parametrize("settings,message", [
    (dict(width=0), "width must be positive, not 0"),
    (dict(width=40, radius=0), "radius must be at least 1, not 0"),
    (dict(width=40, decay=2.0), "decay must be between 0 and 1, not 2"),
    (dict(width=40, frequency=0), "frequency must be at least 1, not 0"),
    (dict(width=40, zoom=3), None),   # a warning, not an error
    (dict(osm=True), "osm needs width, height or zoom"),
    (dict(), "no image size: give width, height, scale, background_image, or osm with zoom"),
])
def test_library_errors_name_settings(settings, message):
    if message is None:
        hm.render(LAT, LON, **settings)
        return
    with pytest.raises(hm.HeatmapError) as info:
        hm.render(LAT, LON, **settings)
    assert str(info.value) == message


def test_command_line_errors_keep_flags(run, seattle):
    code, err = run("-W", 0, "-o", "out.png", seattle)
    assert code == 2 and "-W/--width must be positive, not 0" in err


@pytest.mark.parametrize("text,named", [
    ("-W/--width must be positive", "width must be positive"),
    ("-W/-H cannot set the scale: give -s/--scale or --extent",
     "width/height cannot set the scale: give scale or extent"),
    ("--osm_exact_size needs -W/--width", "osm_exact_size needs width"),
    ("out-W.png: -o/--output is a folder", "out-W.png: output is a folder"),
    ("--no_such_flag and -Q stay", "--no_such_flag and -Q stay"),
    ("-5 and --5 are numbers", "-5 and --5 are numbers"),
])
def test_setting_names(text, named):
    assert hm._setting_names(text) == named


# ---- tables ----
def test_dict_of_arrays(plain, weighted):
    assert np.array_equal(pixels(hm.render({"lat": LAT, "lon": LON}, **SIZE)), plain)
    assert np.array_equal(pixels(hm.render({"lat": LAT, "lon": LON}, hm.Config(**SIZE))), plain)
    table = {"Latitude": list(LAT), "LNG": list(LON), "n": list(WEIGHT)}
    assert np.array_equal(pixels(hm.render(table, weight="n", **SIZE)), weighted)


def test_structured_array(plain):
    table = np.zeros(len(LAT), dtype=[("y", "f8"), ("x", "f8")])
    table["y"], table["x"] = LAT, LON
    assert np.array_equal(pixels(hm.render(table, lat="y", lon="x", **SIZE)), plain)


def test_pandas_dataframe(plain, weighted):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"latitude": LAT, "longitude": LON, "n": WEIGHT, "name": "x"})
    assert np.array_equal(pixels(hm.render(df, **SIZE)), plain)
    got = hm.render(df, lat="latitude", lon="longitude", weight="n", **SIZE)
    assert np.array_equal(pixels(got), weighted)
    assert np.array_equal(pixels(hm.render(df.latitude, df.longitude, **SIZE)), plain)


def test_pandas_missing_values(plain, caplog):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"lat": pd.array(list(LAT) + [None], dtype="Float64"),
                       "lon": list(LON) + [1.0]})
    with pytest.raises(hm.HeatmapError, match="1 rows hold a value that is not a finite number "
                       r"or out of range \(the first: row 55, lat nan\); skip_invalid=True drops"):
        hm.render(df, **SIZE)
    with caplog.at_level(logging.WARNING, logger="heatmap"):
        image = hm.render(df, skip_invalid=True, **SIZE)
    assert np.array_equal(pixels(image), plain)
    assert "skipped 1 of 56 rows" in caplog.text


def test_polars_dataframe(weighted):
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"lat": LAT, "lon": LON, "w": WEIGHT})
    assert np.array_equal(pixels(hm.render(df, weight="w", **SIZE)), weighted)


@pytest.mark.parametrize("table,options,message", [
    ({"a": [1.0], "lon": [2.0]}, {}, "no lat column .lat or latitude.: name it with lat=, "
                                     "the columns are a, lon"),
    ({"lat": [1.0], "lon": [2.0]}, {"weight": "n"}, "no column 'n' for weight"),
    ({"lat": ["north"], "lon": [2.0]}, {}, "lat is not numbers"),
    ({"lat": [1.0, 2.0], "lon": [2.0]}, {}, r"lat, lon differ in length \(2, 1\)"),
])
def test_table_errors(table, options, message):
    with pytest.raises(hm.HeatmapError, match=message):
        hm.render(table, width=20, **options)


def test_lat_keyword_needs_a_table():
    with pytest.raises(hm.HeatmapError, match="lat= names a column"):
        hm.render(LAT, LON, lat="y", width=20)


@pytest.mark.parametrize("skip", [False, True])
def test_skip_invalid_arrays(skip, plain):
    lat, lon = np.append(LAT, [np.nan, 47.6]), np.append(LON, [-122.3, np.inf])
    if not skip:
        with pytest.raises(hm.HeatmapError, match="2 rows hold"):
            hm.render(lat, lon, **SIZE)
    else:
        assert np.array_equal(pixels(hm.render(lat, lon, skip_invalid=True, **SIZE)), plain)


# ---- tracks ----
RIDE = [(47.600, -122.330), (47.604, -122.326), (47.609, -122.327), (47.612, -122.320)]
RIDE2 = [(47.601, -122.318), (47.606, -122.322)]


@pytest.fixture
def ride_cli(run, write, pixels):
    """The two rides as a GPX file drawn by the command line."""
    write("ride.gpx", gpx_text([RIDE, RIDE2]))
    assert run("-W", 48, "-r", 3, "-o", "ride.png", "ride.gpx") == (0, "")
    return pixels("ride.png")[1]


def test_tracks_equal_gpx(ride_cli):
    lat, lon = (np.array(v) for v in zip(*(RIDE + RIDE2)))
    ids = [1] * len(RIDE) + [2] * len(RIDE2)
    segments = hm.tracks(lat, lon, track=ids)
    assert len(segments.lat1) == len(RIDE) - 1 + len(RIDE2) - 1
    assert np.array_equal(pixels(hm.render(segments, **SIZE)), ride_cli)
    assert np.array_equal(pixels(hm.render_data([segments], **SIZE)), ride_cli)


def test_tracks_gaps_and_times():
    lat = [47.0, 47.1, np.nan, 47.3, 47.4]
    lon = [-122.0, -122.1, -122.2, -122.3, -122.4]
    times = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:01", "2024-01-01T00:00:02",
                      "2024-01-01T00:00:03", "2024-01-01T00:00:04"], dtype="datetime64[s]")
    segments = hm.tracks(lat, lon, times=times)
    assert segments.lat1.tolist() == [47.0, 47.3] and segments.lat2.tolist() == [47.1, 47.4]
    assert segments.time2.astype(int).tolist() == times[[1, 4]].astype(int).tolist()
    assert len(hm.tracks([1.0], [2.0]).lat1) == 0


# ---- geometries ----
class Geo:
    """Anything with __geo_interface__."""

    def __init__(self, mapping):
        self.__geo_interface__ = mapping


def feature_collection(points=(), lines=(), weights=None):
    features = [{"type": "Feature", "properties": {"n": None if weights is None else weights[i]},
                 "geometry": {"type": "Point", "coordinates": [lon, lat]}}
                for i, (lat, lon) in enumerate(points)]
    features += [{"type": "Feature", "properties": {},
                  "geometry": {"type": "LineString", "coordinates": [[x, y] for y, x in line]}}
                 for line in lines]
    return {"type": "FeatureCollection", "features": features}


def test_geo_interface_points(plain, weighted):
    geo = feature_collection(SEATTLE, weights=list(WEIGHT))
    assert np.array_equal(pixels(hm.render(Geo(geo), **SIZE)), plain)
    assert np.array_equal(pixels(hm.render(geo, weight="n", **SIZE)), weighted)


def test_geo_interface_lines(ride_cli):
    geo = feature_collection(lines=[RIDE, RIDE2])
    assert np.array_equal(pixels(hm.render(Geo(geo), **SIZE)), ride_cli)


@pytest.mark.parametrize("geo,message", [
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "only points and lines"),
    ({"type": "Point", "coordinates": [1, 2], "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::3857"}}}, "the data's CRS is urn:ogc:def:crs:EPSG::3857"),
    (feature_collection(lines=[RIDE]), None),
])
def test_geo_interface_errors(geo, message):
    if message is None:   # weights are for points
        with pytest.raises(hm.HeatmapError, match="weight and time are for points"):
            hm.render(geo, weight=[1.0], width=20)
        return
    with pytest.raises(hm.HeatmapError, match=message):
        hm.render(geo, width=20)


def test_geopandas_points_weights_and_crs(plain, weighted):
    gpd = pytest.importorskip("geopandas")
    frame = gpd.GeoDataFrame({"n": WEIGHT}, geometry=gpd.points_from_xy(LON, LAT), crs=4326)
    assert np.array_equal(pixels(hm.render(frame.geometry, **SIZE)), plain)
    assert np.array_equal(pixels(hm.render(frame, weight="n", **SIZE)), weighted)
    mercator = frame.to_crs(3857)   # says its CRS: read back as longitude/latitude
    assert np.array_equal(pixels(hm.render(mercator, weight="n", **SIZE)), weighted)
    no_crs = gpd.GeoSeries(gpd.points_from_xy(LON, LAT))   # no CRS: taken as lon/lat
    assert np.array_equal(pixels(hm.render(no_crs, **SIZE)), plain)


def test_geopandas_lines_and_multipoints(ride_cli, plain):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import LineString, MultiLineString, MultiPoint
    lines = gpd.GeoSeries([MultiLineString([[(x, y) for y, x in RIDE],
                                            [(x, y) for y, x in RIDE2]])], crs="EPSG:4326")
    assert np.array_equal(pixels(hm.render(lines, **SIZE)), ride_cli)
    two = gpd.GeoSeries([LineString([(x, y) for y, x in RIDE]),
                         LineString([(x, y) for y, x in RIDE2])])
    assert np.array_equal(pixels(hm.render(two, **SIZE)), ride_cli)
    points = gpd.GeoSeries([MultiPoint(list(zip(LON[:30], LAT[:30]))),
                            MultiPoint(list(zip(LON[30:], LAT[30:])))])
    assert np.array_equal(pixels(hm.render(points, **SIZE)), plain)


def test_geopandas_polygons_are_refused():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box
    with pytest.raises(hm.HeatmapError, match="only points and lines"):
        hm.render(gpd.GeoSeries([box(0, 0, 1, 1)]), width=20)


# ---- fuzzing: any table of numbers and non-numbers is drawn or refused in one line ----
def test_fuzz_tables_and_settings():
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st

    value = st.one_of(st.floats(-100, 100), st.sampled_from([np.nan, np.inf, -np.inf]),
                      st.integers(-1000, 1000), st.none(), st.text(max_size=3))
    column = st.lists(value, min_size=0, max_size=6)
    options = st.fixed_dictionaries({}, optional={
        "width": st.integers(-2, 30), "radius": st.integers(-1, 4),
        "decay": st.floats(-1, 2), "skip_invalid": st.booleans(),
        "weight": st.sampled_from(["w", "nope"]), "lat": st.sampled_from(["lat", "y"])})

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(lat=column, lon=column, w=column, options=options)
    def draw(lat, lon, w, options):
        options.setdefault("width", 20)
        try:
            image = hm.render({"lat": lat, "lon": lon, "w": w}, **options)
        except hm.HeatmapError as exc:
            assert "\n" not in str(exc)
            assert not any(flag in str(exc) for flag in FLAGS), exc   # settings, not flags
        else:
            assert image.size[0] == options["width"]

    draw()


def test_fuzz_geojson():
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st

    number = st.one_of(st.floats(-80, 80), st.just(np.nan), st.text(max_size=2), st.none())
    coords = st.recursive(number, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
    kinds = st.sampled_from(["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                             "GeometryCollection", "Nonsense", None])
    geometry = st.fixed_dictionaries({"type": kinds, "coordinates": coords}, optional={
        "geometries": st.lists(st.fixed_dictionaries({"type": kinds, "coordinates": coords}),
                               max_size=2)})
    feature = st.one_of(geometry, st.none(), st.fixed_dictionaries(
        {"type": st.just("Feature"), "geometry": st.one_of(geometry, st.none())}))

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(features=st.lists(feature, max_size=4), skip=st.booleans())
    def draw(features, skip):
        try:
            hm.render({"type": "FeatureCollection", "features": features}, width=20,
                      skip_invalid=skip)
        except hm.HeatmapError as exc:
            assert "\n" not in str(exc)

    draw()
