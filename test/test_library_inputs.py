"""The library's one input path: every public function takes every kind of input (arrays,
tables, geometries, __geo_interface__, Points/Segments, paths) with the same result; each
mistake is one HeatmapError naming the setting or the column; times come from tables;
junk arguments to any public function end in a HeatmapError (hypothesis).
"""
import os
import pathlib
import typing
import warnings

import numpy as np
import pytest

import heatmap as hm
from conftest import SEATTLE

LAT, LON = (np.array(v) for v in zip(*SEATTLE))
TIMES = np.datetime64("2024-05-01T06:00:00", "s") + np.arange(len(LAT)) * np.timedelta64(7, "m")
SIZE = dict(width=48, radius=3)


def _file(tmp_path, name="in.txt"):
    path = tmp_path / name
    path.write_text("".join("%r %r 1 %sZ\n" % (float(a), float(o), t)
                            for a, o, t in zip(LAT, LON, TIMES)))
    return path


def _geo_frame():
    gpd = pytest.importorskip("geopandas")
    frame = gpd.GeoDataFrame({"t": TIMES}, geometry=gpd.points_from_xy(LON, LAT), crs=4326)
    return frame.to_crs(3857)   # read back in degrees


def _feature_collection():
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"time": str(t) + "Z"},
         "geometry": {"type": "Point", "coordinates": [o, a]}} for a, o, t in zip(LAT, LON, TIMES)]}


# each kind of input: (data, the keywords that name its columns)
KINDS = {
    "arrays": lambda tmp: ((LAT,), dict(lon=LON, time=TIMES)),
    "lat_keyword": lambda tmp: ((), dict(lat=list(LAT), lon=list(LON), time=list(TIMES))),
    "dict": lambda tmp: (({"y": LAT, "x": LON, "t": TIMES.astype(str)},),
                         dict(lat="y", lon="x", time="t")),
    "pandas": lambda tmp: ((pytest.importorskip("pandas").DataFrame(
        {"lat": LAT, "lon": LON, "t": TIMES.astype("datetime64[ns]")}),), dict(time="t")),
    "pandas_tz": lambda tmp: ((pytest.importorskip("pandas").DataFrame({
        "lat": LAT, "lon": LON, "t": pytest.importorskip("pandas").to_datetime(TIMES).tz_localize(
            "UTC").tz_convert("Europe/Amsterdam")}),), dict(time="t")),
    "polars": lambda tmp: ((pytest.importorskip("polars").DataFrame(
        {"Latitude": LAT, "lng": LON, "t": TIMES.astype("datetime64[ms]")}),), dict(time="t")),
    "geopandas": lambda tmp: ((_geo_frame(),), dict(time="t")),
    "geo_interface": lambda tmp: ((_feature_collection(),), {}),
    "points": lambda tmp: ((hm.Points(list(LAT), LON, None, TIMES.astype("datetime64[ms]")),), {}),
    "points_list": lambda tmp: (([hm.Points(LAT, LON, None, TIMES)],), {}),
    "points_iterator": lambda tmp: ((iter([hm.Points(LAT, LON, None, TIMES)]),), {}),
    "path": lambda tmp: ((str(_file(tmp)),), dict(time_column=True)),
    "path_list": lambda tmp: (([_file(tmp)],), dict(time_column=True)),
}
FUNCTIONS = {
    "render": lambda *a, **k: np.asarray(hm.render(*a, **k, **SIZE)),
    "render_grid": lambda *a, **k: hm.render_grid(*a, **k, **SIZE).values,
    "render_tiles": lambda *a, **k: sorted(hm.render_tiles(*a, **k, tile_zoom=12, radius=3)),
    "render_frames": lambda *a, **k: [np.asarray(f) for f in hm.render_frames(
        *a, **k, frame_time="1h", **SIZE)],
    "tracks": lambda *a, **k: hm.tracks(*a, **{n: v for n, v in k.items() if n != "time_column"}),
    "time_range": lambda *a, **k: np.asarray(hm.render(
        *a, **k, time_range=("2024-05-01T07:00:00", "2024-05-01T09:00:00"), **SIZE)),
}


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("expected")
    return {name: function(*KINDS["arrays"](tmp)[0], **KINDS["arrays"](tmp)[1])
            for name, function in FUNCTIONS.items()}


def _same(a, b):
    if isinstance(a, hm.Segments):   # GeoPandas' to_crs and back: not to the last bit
        return all(np.array_equal(x, y) if x is None or x.dtype.kind == "M" else
                   np.allclose(x, y, rtol=1e-12) for x, y in zip(a, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_function_takes_every_input_kind(kind, function, expected, tmp_path):
    args, columns = KINDS[kind](tmp_path)
    if function == "tracks" and kind in ("path", "path_list"):
        pytest.skip("a file of points is drawn as points; tracks() joins it all the same")
    got = FUNCTIONS[function](*args, **columns)
    assert _same(got, expected[function])


def test_a_geodataframe_is_not_asked_for_its_geojson(monkeypatch):
    """1e5 rows: GeoPandas builds all of __geo_interface__ when asked (11 s for 2e5 rows)."""
    gpd = pytest.importorskip("geopandas")
    rng = np.random.default_rng(1)
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(rng.uniform(4, 5, 100000),
                                                         rng.uniform(52, 53, 100000)), crs=4326)

    def refuse(self):
        raise AssertionError("__geo_interface__ was built")
    monkeypatch.setattr(gpd.GeoDataFrame, "__geo_interface__", property(refuse))
    monkeypatch.setattr(gpd.GeoSeries, "__geo_interface__", property(refuse))
    assert hm.render_grid(frame, width=64, radius=2).values.sum() > 0
    assert hm.render_grid(frame.geometry, width=64, radius=2).values.sum() > 0


def test_times_from_tables_animate_and_keep_their_unit():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"lat": LAT, "lon": LON, "t": TIMES.astype("datetime64[ns]")})
    frames = list(hm.render_frames(frame, time="t", frame_time="1h", fade="1h", **SIZE))
    assert len(frames) == 7 and all(f.size == frames[0].size for f in frames)
    with pytest.raises(hm.HeatmapError, match="frame_time .*render_frames.. animates"):
        hm.render(frame, time="t", frame_time="1h", **SIZE)
    ridden = hm.tracks(frame.assign(ride=np.arange(len(frame)) // 20), track="ride", time="t")
    assert len(ridden.lat1) == len(frame) - 3
    assert np.asarray(hm.render(ridden, weight_by_time=True, max_gap="1h", **SIZE))[..., 3].any()
    ns = hm.Points(LAT, LON, None, TIMES.astype("datetime64[ns]"))
    assert hm.tracks(ns).time1[0] == TIMES[0]   # not read as seconds
    iso = hm.tracks({"lat": LAT, "lon": LON, "t": [str(t) + "+02:00" for t in TIMES]}, time="t")
    assert iso.time1[0] == TIMES[0] - np.timedelta64(2, "h")


def test_run_animates_in_memory_data(tmp_path):
    pytest.importorskip("pandas")
    import shutil
    if not shutil.which("ffmpeg"):
        pytest.skip("no ffmpeg")
    out = tmp_path / "a.gif"
    hm.run({"lat": LAT, "lon": LON, "t": TIMES}, time="t", animate=True, frame_time="1h",
           output=out, **SIZE)
    from PIL import Image
    with Image.open(out) as gif:
        assert gif.n_frames == 7


def test_grid_bounds_extent_and_repr():
    grid = hm.render_grid(LAT, LON, width=200, radius=1)
    (south, west), (north, east) = grid.bounds
    assert south < LAT.min() < LAT.max() < north and west < LON.min() < LON.max() < east
    left, right, bottom, top = grid.extent
    assert right - left == pytest.approx(grid.transform[0] * grid.values.shape[1])
    assert repr(grid).startswith("Grid(200 x ") and "EPSG:3857" in repr(grid)
    flat = hm.render_grid(LAT, LON, width=200, radius=1, projection="equirectangular")
    assert flat.bounds == ((flat.extent[2], flat.extent[0]), (flat.extent[3], flat.extent[1]))


def test_one_computation_gives_the_grid_and_the_picture():
    settings = dict(SIZE, kernel="gaussian", decay=0.8)
    colours = dict(colormap="magma", colour_scale="log", background="black")
    picture = np.asarray(hm.render(LAT, LON, **settings, **colours))
    assert np.array_equal(np.asarray(hm.colour(hm.render_grid(LAT, LON, **settings), **colours)),
                          picture)


def test_library_warnings_name_settings():
    lat, lon = LAT - 47.61 + 52.37, LON + 122.33 + 4.9      # Amsterdam
    with pytest.warns(UserWarning, match="^no input lies inside extent 4.8,52.3,5,52.4"):
        hm.render(lat, lon, extent=(4.8, 52.3, 5.0, 52.4), **SIZE)   # (lon, lat) order
    with pytest.warns(UserWarning, match="^zoom has no effect without osm"):
        hm.render(LAT, LON, zoom=3, **SIZE)


def test_types_resolve_and_errors_are_value_errors():
    assert issubclass(hm.HeatmapError, ValueError)
    for name in hm.__all__:
        if callable(getattr(hm, name)) and not isinstance(getattr(hm, name), type):
            typing.get_type_hints(getattr(hm, name))
    assert typing.get_type_hints(hm.render)["return"].__name__ == "Image"


def test_read_takes_one_path_or_path_objects(tmp_path):
    path = _file(tmp_path)
    assert len(list(hm.read(str(path), time_column=True))) == 1
    assert len(list(hm.read([pathlib.Path(path)], hm.Config(time_column=True)))) == 1


ERRORS = [   # (function, args, settings, message) for each mistake of the issue
    ("render_grid", ({"a": [1.0]},), {}, "no lat column .lat or latitude.: name it with lat="),
    ("render", ([hm.Points([1.0, np.nan], [2.0, 3.0])],), {},
     r"the first: batch 0, row 1, lat nan\); skip_invalid=True drops them"),
    ("render", ({"lat": [1.0, 95.0], "lon": [2.0, 3.0]},), {}, r"row 1, lat 95"),
    ("render", ([hm.Points([[1.0], [2.0, 3.0]], [2.0, 3.0])],), {}, "lat is not numbers: .1.0. at batch 0, row 0"),
    ("render", (hm.Points(np.zeros((2, 2)), np.zeros(2)),), {}, "lat must be one value a row"),
    ("render", (LAT, LON), dict(width="800"), r"width must be Optional\[int\], not '800'"),
    ("render", (LAT, LON), dict(width=48, kernel="epanechnikov"),
     "kernel must be one of linear, gaussian, not 'epanechnikov'"),
    ("render", (LAT, LON), dict(width=48, background=(0, 0, 0)),
     r"background must be Optional\[str\], not \(0, 0, 0\)"),
    ("render", (LAT, LON), dict(width=48, radius=np.nan), "radius must be int, not nan"),
    ("render", (LAT, LON), dict(width=48, extent=(1, 2, 3)), "extent must be Optional.Tuple"),
    ("render", (LAT, LON), dict(width=48, extent=(1, 2, np.nan, 4)), "extent needs four finite"),
    ("render", (LAT, LON), dict(width=48, projection="polar"), "projection must be one of"),
    ("render", ({"lat": LAT, "lon": LON}, "lat", "lon"), {}, "config must be a heatmap.Config"),
    ("render", (LAT, LON), dict(width=48, output="x.png"),
     r"render\(\) has no use for the setting output"),
    ("render", (LAT, LON), dict(width=48, animate=True), "has no use for the setting animate"),
    ("render_grid", (LAT, LON), dict(width=48, colormap="viridis"), "no use for the setting colormap"),
    ("render", ([hm.Points(LAT, LON)],), dict(weight="w", width=48),
     "weight= names columns of a table, not of batches"),
    ("render", (LAT, hm.Config()), dict(weight=hm.Config()), "a Config goes third"),
    ("tracks", ({"lat": LAT, "lon": LON, "t": ["soon"] * len(LAT)},), dict(time="t"),
     "time: bad time 'soon' at row 0"),
    ("tracks", (LAT, LON), dict(time=TIMES[:3]), "differ in length"),
    ("render_tiles", (LAT, LON), dict(tile_zoom="12"), r"tile_zoom must be Optional\[Tuple"),
    ("render_tiles", (LAT, LON), dict(tile_zoom=(12,)), r"tile_zoom must be Optional\[Tuple"),
    ("render_tiles", ([hm.Points([np.nan], [1.0])],), {}, "not a finite number"),
    ("render", (LAT, LON), dict(width=48, time_range=("soon", None)), "bad time 'soon'"),
    ("render", (LAT, LON), dict(width=48, weight_by_time=True), "weight_by_time needs times"),
    ("colour", (LAT,), {}, r"colour\(\) paints a Grid"),
    ("read", ([1],), {}, r"files must be List\[str\]"),
]


@pytest.mark.parametrize("function,args,settings,message", ERRORS)
def test_each_mistake_is_one_error_naming_it(function, args, settings, message):
    with pytest.raises(hm.HeatmapError, match=message) as info:
        result = getattr(hm, function)(*args, **settings)
        list(result) if function == "read" else None
    assert "\n" not in str(info.value) and "--" not in str(info.value)


def test_an_int_tile_zoom_is_that_zoom():
    assert {z for z, _, _, _ in hm.render_tiles(LAT, LON, tile_zoom=12)} == {12}


def test_fuzz_every_public_function():
    """Junk in every argument of every public function: a result or one HeatmapError."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings, strategies as st

    junk = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1, 0, "x", "", None, [1.0, 2.0, 3.0],
                            (1,), [[1.0], [2.0, 3.0]], {"a": 1}, object(), b"\0", True,
                            np.zeros((2, 2)), hm.Config()])
    numbers = st.lists(st.one_of(st.floats(-100, 100), st.sampled_from([np.nan, np.inf, 1e300])),
                       max_size=4)
    data = st.one_of(junk, numbers, st.builds(hm.Points, numbers, numbers, st.one_of(st.none(),
                     junk, numbers), st.one_of(st.none(), junk, st.just(["x"]))),
                     st.builds(lambda *a: [hm.Segments(*a)], numbers, numbers, numbers, numbers,
                               st.one_of(st.none(), junk)))
    names = ["width", "radius", "decay", "extent", "projection", "kernel", "tile_zoom",
             "background", "time_range", "frame_time", "colormap", "colour_scale", "colour_max",
             "scale", "margin", "hsva_min", "files", "weight_by_time", "gradient", "zoom"]
    functions = ["render", "render_data", "render_grid", "render_tiles", "render_frames",
                 "tracks", "colour", "read", "run"]

    @settings(max_examples=int(os.environ.get("HEATMAP_FUZZ_EXAMPLES", "100")), deadline=None,
              derandomize=not os.environ.get("HEATMAP_FUZZ_RANDOM"),
              suppress_health_check=[HealthCheck.too_slow])
    @given(function=st.sampled_from(functions), data=data, lon=st.one_of(numbers, junk),
           extra=st.dictionaries(st.sampled_from(names), junk, max_size=3),
           columns=st.dictionaries(st.sampled_from(["lat", "weight", "time"]), st.one_of(
               junk, numbers), max_size=2))
    def call(function, data, lon, extra, columns):
        if function in ("colour", "read"):
            args, extra = (data,), {k: v for k, v in extra.items() if k != "files"}
        elif function == "tracks":
            args, extra = (data, lon), {k: v for k, v in columns.items() if k != "weight"}
        else:
            args, extra = (data, lon), dict(extra, **columns)
        if function in ("render", "render_data", "render_grid", "render_frames"):
            extra.setdefault("width", 20)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = getattr(hm, function)(*args, **extra)
                if function in ("render_tiles", "render_frames", "read"):
                    for _ in zip(range(3), result):
                        pass
        except hm.HeatmapError as exc:
            assert "\n" not in str(exc)

    call()
