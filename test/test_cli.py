"""The command line, save/load, the library API and the golden images."""
import dataclasses
import doctest
import json
import math
import os
import pickle
import re
import random
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import heatmap as hm
from conftest import GOLDEN_DIR, SEATTLE, cluster, gpx_text, plain_text

LONG_OPTIONS = """--filetype --ignore_csv_header --scale --width --height --projection --extent
--margin --radius --decay --save --load --output --animate --frequency --straggler_threshold
--ffmpegopts --keepframes --background --background_image --background_brightness
--invert_background --hsva_min --hsva_max --gradient --kernel --osm --osm_base
--osm_path_template --zoom --verbose --debug --version""".split()

SHORT_OPTIONS = [
    ("-s", "--scale"), ("-W", "--width"), ("-H", "--height"), ("-P", "--projection"),
    ("-e", "--extent"), ("-R", "--margin"), ("-r", "--radius"), ("-d", "--decay"),
    ("-S", "--save"), ("-L", "--load"), ("-o", "--output"), ("-a", "--animate"),
    ("-F", "--ffmpegopts"), ("-K", "--keepframes"), ("-b", "--background"),
    ("-I", "--background_image"), ("-B", "--background_brightness"),
    ("-N", "--invert_background"), ("-m", "--hsva_min"), ("-M", "--hsva_max"),
    ("-G", "--gradient"), ("-k", "--kernel"), ("-z", "--zoom"), ("-v", "--verbose"),
]


# ---- --help, --version, options ----
def test_version_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        hm.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "heatmap.py " + hm.__version__


@pytest.fixture(scope="module")
def help_text():
    return hm._parser().format_help()


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        hm.main(["--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: heatmap.py")


@pytest.mark.parametrize("option", LONG_OPTIONS)
def test_help_lists_every_long_option(help_text, option):
    assert (" %s" % option) in help_text or ("[%s" % option) in help_text


@pytest.mark.parametrize("short,long", SHORT_OPTIONS, ids=[s for s, _ in SHORT_OPTIONS])
def test_short_option_is_an_alias(help_text, short, long):
    actions = {a.dest: a.option_strings for a in hm._parser()._actions}
    assert [short, long] == actions[long[2:]]
    assert re.search(r"[\s\[]%s[\s,\]]" % short, help_text)


def test_config_defaults_are_the_command_line_defaults():
    parsed = {k: v for k, v in vars(hm._parser().parse_args([])).items()
              if not k.startswith("legacy_")}  # the hidden deprecated input options
    fields = {f.name for f in dataclasses.fields(hm.Config)}
    assert fields == set(parsed)
    defaults = hm.Config()
    for name in sorted(fields):
        assert parsed[name] == getattr(defaults, name), name


def test_parsed_options_reach_the_config():
    args = hm._parser().parse_args(
        ["-W", "10", "-H", "20", "-s", "2.5", "-r", "7", "-d", "0.3", "-k", "gaussian",
         "-P", "equirectangular", "--extent=-10.5,20,30,40.25", "-R", "4", "-b", "red",
         "-m", "000000000", "--ignore_csv_header", "--filetype", "csv", "a", "b"])
    config = hm._config_from_args(args)
    assert (config.width, config.height, config.scale, config.radius, config.decay) == \
        (10, 20, 2.5, 7, 0.3)
    assert (config.kernel, config.projection, config.margin, config.background) == \
        ("gaussian", "equirectangular", 4, "red")
    assert config.extent == (-10.5, 20.0, 30.0, 40.25)
    assert config.files == ["a", "b"] and config.ignore_csv_header and config.filetype == "csv"
    assert config.padding == 11


@pytest.mark.parametrize("argv", [
    ["--extent", "1,2,3"], ["--extent", "a,b,c,d"], ["--extent", "1,2,3,nan"],
    ["-k", "cubic"], ["-P", "polar"], ["-W", "wide"], ["--filetype", "docx"],
])
def test_bad_option_values_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        hm.main(argv + ["in.txt"])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


# ---- the library API ----
def test_module_doctest():
    result = doctest.testmod(hm)
    assert result.attempted >= 3
    assert result.failed == 0


def test_public_names_exist():
    for name in hm.__all__:
        assert hasattr(hm, name), name


def test_render_returns_an_image_of_the_asked_width():
    lat, lon = zip(*SEATTLE)
    image = hm.render(lat, lon, hm.Config(width=64, radius=4))
    assert isinstance(image, Image.Image)
    assert image.mode == "RGBA" and image.size[0] == 64
    # 0.01 deg of longitude over 56 px; at 47.6 N the same span of latitude is ~1.48x taller
    lat_span_px = (max(lat) - min(lat)) / (max(lon) - min(lon)) * 56 / math.cos(math.radians(47.61))
    assert abs(image.size[1] - (lat_span_px + 8)) <= 2
    assert np.asarray(image)[..., 3].max() == 254


def test_render_width_and_height_exact():
    lat, lon = zip(*SEATTLE)
    assert hm.render(lat, lon, hm.Config(width=50, height=90)).size == (50, 90)
    assert hm.render(lat, lon, hm.Config(height=33)).size[1] == 33


def test_render_equals_the_command_line(run, seattle, pixels):
    assert run("-W", 45, "-r", 3, "-d", "0.5", "-o", "cli.png", seattle) == (0, "")
    lat, lon = zip(*SEATTLE)
    image = hm.render(np.array(lat), np.array(lon), hm.Config(width=45, radius=3, decay=0.5))
    assert np.array_equal(np.asarray(image), pixels("cli.png")[1])


def test_render_weights():
    lat, lon = [47.6, 47.61, 47.62], [-122.3, -122.31, -122.32]
    plain = np.asarray(hm.render(lat, lon, hm.Config(width=40, radius=3)))
    same = np.asarray(hm.render(lat, lon, hm.Config(width=40, radius=3), weight=[2, 2, 2]))
    heavy = np.asarray(hm.render(lat, lon, hm.Config(width=40, radius=3), weight=[1, 1, 9]))
    assert np.array_equal(plain, same)          # colours are relative to the maximum
    assert not np.array_equal(plain, heavy)


def test_render_background_colour_gives_rgb():
    image = hm.render([1.0, 2.0], [3.0, 4.0], hm.Config(width=20, radius=2, background="navy"))
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (0, 0, 128)


@pytest.mark.parametrize("lat,lon,weight,message", [
    ([1, 2], [3], None, "differ in length"),
    ([1, float("nan")], [3, 4], None, "not a finite number"),
    ([1, 2], [3, float("inf")], None, "not a finite number"),
    ([], [], None, "no data points"),
])
def test_render_errors(lat, lon, weight, message):
    with pytest.raises(hm.HeatmapError, match=message):
        hm.render(lat, lon, hm.Config(width=20), weight=weight)


def test_render_data_with_segments_and_points():
    track = hm.Segments(np.array([47.60]), np.array([-122.30]), np.array([47.62]),
                        np.array([-122.28]))
    spot = hm.Points(np.array([47.61]), np.array([-122.33]))
    image = hm.render_data([track, spot], hm.Config(width=60, radius=3))
    a = np.asarray(image)
    assert image.size[0] == 60 and a[..., 3].max() == 254
    # the segment is drawn as a line from bottom-middle to top-right: every row has heat
    # in the right half, further right the higher it is
    right = a[2:-3, 30:, 3] > 0
    assert right.any(axis=1).all()
    centres = [np.flatnonzero(row).mean() for row in right]
    assert all(a >= b for a, b in zip(centres, centres[1:]))
    assert centres[0] - centres[-1] > 15
    assert a[15:25, 0:5, 3].any()        # and the point at the left edge


def test_library_and_read_agree(write):
    path = write("in.txt", "47.6 -122.3\n47.62 -122.28 3\n")
    config = hm.Config(width=30, radius=3)
    from_files = np.asarray(hm.render_data(hm.read([str(path)], config), config))
    direct = np.asarray(hm.render([47.6, 47.62], [-122.3, -122.28], config, weight=[1, 3]))
    assert np.array_equal(from_files, direct)


# ---- sizes, extent, projection through the command line ----
@pytest.mark.parametrize("options,size", [
    (["-W", 70], (70, None)),
    (["-H", 70], (None, 70)),
    (["-W", 70, "-H", 30], (70, 30)),
    (["-W", 30, "-H", 70, "-P", "equirectangular"], (30, 70)),
])
def test_asked_sizes(run, seattle, pixels, options, size):
    assert run(*options, "-o", "out.png", seattle) == (0, "")
    h, w = pixels("out.png")[1].shape[:2]
    assert size[0] in (None, w) and size[1] in (None, h)


@pytest.mark.parametrize("lat,lon,config,size", [
    ([47.6, 47.7], [-122.3, -122.3], hm.Config(height=40, radius=5), (11, 40)),
    ([47.6, 47.6], [-122.3, -122.2], hm.Config(width=40, radius=5), (40, 11)),
], ids=["one_longitude_with_height", "one_latitude_with_width"])
def test_flat_data_with_the_free_side_asked(lat, lon, config, size):
    # the flat side is just the kernel: 2 * radius + 1 pixels
    image = hm.render(lat, lon, config)
    assert image.size == size
    assert np.asarray(image)[..., 3].max() == 254


def test_scale_gives_metres_per_pixel(run, write, pixels):
    # 0.01 degree of longitude on the equator line of the equirectangular map = 1113.2 m
    write("in.txt", "10 20\n10.005 20.01\n")
    assert run("-s", "11.131949079327357", "-r", 2, "-P", "equirectangular",
               "-o", "out.png", "in.txt") == (0, "")
    h, w = pixels("out.png")[1].shape[:2]
    assert (w, h) == (105, 55)   # 100 x 50 px of data + 2 px of radius on each side, + 1


def test_extent_fixes_the_area_and_streams(run, seattle, pixels):
    assert run("--extent=47.60,-122.34,47.62,-122.32", "-W", 40, "-o", "a.png", seattle) == (0, "")
    assert run("-e", "47.62,-122.32,47.60,-122.34", "-W", 40, "-o", "b.png", seattle) == (0, "")
    a, b = pixels("a.png")[1], pixels("b.png")[1]
    assert a.shape[1] == 40 and np.array_equal(a, b)


def test_extent_colours_use_the_maximum_outside_it(run, write, pixels):
    write("in.txt", "47.6 -122.3 1\n47.7 -122.2 10\n")
    assert run("--extent=47.59,-122.31,47.61,-122.29", "-W", 30, "-r", 3, "-d", 0,
               "-o", "out.png", "in.txt") == (0, "")
    a = pixels("out.png")[1]
    # the point inside has value 1 of a maximum of 10: row int(1 / 10 * 255) = 25
    assert a[..., 3].max() == hm._hsva_table(hm._parse_hsva("000ffff00"),
                                             hm._parse_hsva("02affffff"))[25][3]


def test_margin_keeps_data_off_the_border(run, write, pixels):
    write("in.txt", "47.6 -122.3\n47.62 -122.28\n")
    assert run("-W", 60, "-r", 2, "-R", 10, "-o", "out.png", "in.txt") == (0, "")
    a = pixels("out.png")[1]
    heated = np.argwhere(a.any(axis=2))
    assert heated[:, 0].min() >= 9 and heated[:, 1].min() >= 9
    assert heated[:, 1].max() <= 60 - 10


@pytest.mark.parametrize("projection", ["mercator", "equirectangular"])
def test_projections_differ_only_in_height(run, seattle, pixels, projection):
    assert run("-W", 40, "-P", projection, "-o", "out.png", seattle) == (0, "")
    h, w = pixels("out.png")[1].shape[:2]
    lat, lon = zip(*SEATTLE)
    ratio = (max(lat) - min(lat)) / (max(lon) - min(lon))
    if projection == "mercator":
        ratio /= math.cos(math.radians(47.61))
    assert w == 40 and abs(h - (ratio * 30 + 10)) <= 2


def test_several_files_mixed_types(run, write, pixels):
    write("a.txt", plain_text(SEATTLE[:20]))
    write("b.csv", "".join("%f,%f\n" % p for p in SEATTLE[20:]))
    write("all.txt", plain_text(SEATTLE))
    assert run("-W", 40, "-o", "two.png", "a.txt", "b.csv") == (0, "")
    assert run("-W", 40, "-o", "one.png", "all.txt") == (0, "")
    assert np.array_equal(pixels("two.png")[1], pixels("one.png")[1])


def test_gpx_segments_are_not_joined_across_trksegs(run, write, pixels):
    # two short horizontal trksegs at the ends of a long gap: nothing is drawn in the gap
    write("t.gpx", gpx_text([[(47.6, -122.40), (47.6, -122.39)],
                             [(47.6, -122.31), (47.6, -122.30)],
                             [(47.7, -122.35), (47.71, -122.35)]]))
    assert run("-W", 100, "-r", 2, "-o", "out.png", "t.gpx") == (0, "")
    heat = pixels("out.png")[1].any(axis=2)
    assert heat.shape[1] == 100
    row = heat[np.argmax(heat.sum(axis=1))]        # the row of the two horizontal trksegs
    heated = np.flatnonzero(row)
    assert heated.min() < 15 and heated.max() > 85
    assert not row[25:75].any()


def test_verbose_logs_phases(run, seattle, caplog):
    caplog.set_level("INFO", logger="heatmap")
    code, err = run("-v", "-W", 30, "-o", "out.png", seattle)
    assert code == 0 and "reading seattle.txt" in err


def test_debug_raises_instead_of_exit_2(run, seattle):
    with pytest.raises(hm.HeatmapError, match="-d/--decay"):
        run("--debug", "-W", 30, "-d", 2, "-o", "out.png", seattle)


# ---- clean errors ----
ERRORS = [
    ("no_input_files", ["-W", 40, "-o", "out.png"], "no input files"),
    ("missing_file", ["-W", 40, "-o", "out.png", "missing.txt"], "missing.txt: no such file"),
    ("no_size", ["-o", "out.png", "in.txt"], "no image size"),
    ("one_point", ["-W", 40, "-o", "out.png", "one.txt"], "all data has one longitude"),
    ("empty_input", ["-W", 40, "-o", "out.png", "empty.txt"], "no data points"),
    ("decay_above_1", ["-W", 40, "-d", 1.5, "-o", "out.png", "in.txt"], "-d/--decay"),
    ("decay_negative", ["-W", 40, "-d", -0.1, "-o", "out.png", "in.txt"], "-d/--decay"),
    ("radius_0", ["-W", 40, "-r", 0, "-o", "out.png", "in.txt"], "-r/--radius must be at least 1"),
    ("width_0", ["-W", 0, "-o", "out.png", "in.txt"], "-W/--width must be positive"),
    ("height_negative", ["-H", -5, "-o", "out.png", "in.txt"], "-H/--height must be positive"),
    ("scale_negative", ["-s", -1, "-o", "out.png", "in.txt"], "-s/--scale must be a positive"),
    ("scale_0", ["-s", 0, "-o", "out.png", "in.txt"], "-s/--scale must be a positive"),
    ("margin_negative", ["-W", 40, "-R", -1, "-o", "out.png", "in.txt"], "-R/--margin"),
    ("frequency_0", ["-W", 40, "--frequency", 0, "-o", "out.png", "in.txt"], "--frequency"),
    ("flat_extent", ["-W", 40, "--extent=1,2,1,3", "-o", "out.png", "in.txt"], "lat1 != lat2"),
    ("extent_beyond_mercator", ["-W", 40, "--extent=-95,2,1,3", "-o", "out.png", "in.txt"],
     "latitude -95 is outside what the mercator projection can draw"),
    ("pole_in_mercator", ["-W", 40, "-o", "out.png", "pole.txt"], "outside what the mercator"),
    ("brightness_negative", ["-W", 40, "-B", -1, "-o", "out.png", "in.txt"], "-B/"),
    ("missing_background", ["-I", "nope.png", "-o", "out.png", "in.txt"],
     "nope.png: no such background image"),
    ("missing_gradient", ["-W", 40, "-G", "nope.png", "-o", "out.png", "in.txt"],
     "cannot read gradient image"),
    ("missing_folder", ["-W", 40, "-o", "nodir/out.png", "in.txt"], "does not exist"),
    ("too_small", ["-W", 8, "-r", 5, "-o", "out.png", "in.txt"], "too small"),
    ("too_many_pixels", ["-W", 100000, "-H", 100000, "-o", "out.png", "in.txt"],
     "over the limit"),
    ("bad_plain_line", ["-W", 40, "-o", "out.png", "bad.txt"], "bad.txt:2: not a number"),
]


@pytest.mark.parametrize("argv,message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_clean_errors(run, write, tmp_path, argv, message):
    write("in.txt", "47.6 -122.3\n47.62 -122.28\n")
    write("one.txt", "47.6 -122.3\n")
    write("empty.txt", "")
    write("pole.txt", "90 10\n80 20\n")
    write("bad.txt", "47.6 -122.3\n47.62 east\n")
    before = sorted(os.listdir(tmp_path))
    code, err = run(*argv)
    assert code == 2
    assert err.startswith("heatmap.py: error: ") and message in err
    assert sorted(os.listdir(tmp_path)) == before     # nothing written


def test_pole_is_fine_in_equirectangular(run, write, pixels):
    write("pole.txt", "90 10\n80 20\n")
    assert run("-W", 40, "-P", "equirectangular", "-o", "out.png", "pole.txt") == (0, "")
    a = pixels("out.png")[1]
    assert a.shape[:2] == (41, 40)       # 10 degrees at 3 px/degree + 2 x 5 px of radius, + 1
    assert a[5, 5:9, 3].any()           # latitude 90 is drawn on the top data row


def test_huge_scale_image_is_a_clean_error(run, write):
    write("in.txt", "1 1\n1.5 1.5\n")
    code, err = run("-s", "0.001", "-o", "out.png", "in.txt")   # ~5.6e7 x 5.6e7 pixels
    assert code == 2 and "over the limit" in err


# ---- save / load ----
@pytest.mark.parametrize("save_opts,load_opts", [
    (["-W", 50], ["-W", 50]),
    (["-W", 50], []),
    (["-H", 41, "-k", "gaussian", "-d", 1], []),
    (["-W", 50, "--extent=47.605,-122.335,47.615,-122.325"], []),
    (["-s", 20, "-P", "equirectangular", "-r", 2], []),
], ids=["same_width", "no_size_on_load", "gaussian_sum", "extent", "scale_equirect"])
def test_save_load_round_trip(run, seattle, pixels, save_opts, load_opts):
    assert run(*save_opts, "-o", "direct.png", seattle) == (0, "")
    assert run(*save_opts, "-S", "state.npz", seattle) == (0, "")
    assert run(*load_opts, "-L", "state.npz", "-o", "loaded.png") == (0, "")
    direct, loaded = pixels("direct.png")[1], pixels("loaded.png")[1]
    assert direct[..., 3].any()
    assert direct.shape == loaded.shape and np.array_equal(direct, loaded)


def test_save_and_output_in_one_run(run, seattle, pixels):
    assert run("-W", 50, "-S", "state.npz", "-o", "direct.png", seattle) == (0, "")
    assert run("-L", "state.npz", "-S", "again.npz", "-o", "loaded.png") == (0, "")
    assert run("-L", "again.npz", "-o", "twice.png") == (0, "")
    assert np.array_equal(pixels("direct.png")[1], pixels("loaded.png")[1])
    assert np.array_equal(pixels("direct.png")[1], pixels("twice.png")[1])


def test_load_recolours(run, seattle, pixels):
    colours = ["-m", "0aa00ff40", "-M", "05affffff", "-b", "#203040"]
    assert run("-W", 50, *colours, "-o", "direct.png", seattle) == (0, "")
    assert run("-W", 50, "-S", "state.npz", seattle) == (0, "")
    assert run("-L", "state.npz", *colours, "-o", "loaded.png") == (0, "")
    mode, loaded = pixels("loaded.png")
    assert mode == "RGB" and np.array_equal(pixels("direct.png")[1], loaded)


def test_state_file_is_not_a_pickle(run, seattle, tmp_path):
    assert run("-W", 50, "-S", "state.npz", seattle) == (0, "")
    with np.load(tmp_path / "state.npz", allow_pickle=False) as data:
        meta = json.loads(str(data["meta"][()]))
        assert meta["format"] == "heatmap.py-state" and meta["version"] == 1
        assert data["value"].dtype == np.float64 and data["value"].size > 100


def bad_state_files(tmp_path):
    (tmp_path / "garbage.npz").write_bytes(b"this is not a state file\n" * 10)
    (tmp_path / "empty.npz").write_bytes(b"")
    with open(tmp_path / "pickle.npz", "wb") as stream:
        pickle.dump({"max": 1.0, "values": [1, 2, 3]}, stream)
    np.save(tmp_path / "array.npy", np.arange(4))
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    np.savez(tmp_path / "objects.npz", meta=np.array([{"format": "heatmap.py-state"}], object),
             x=np.arange(1), y=np.arange(1), value=np.ones(1))
    meta = {"format": "something-else", "version": 1, "max": 1.0, "ppd": 1.0, "box": [0, 0, 4, 4]}
    np.savez(tmp_path / "foreign.npz", meta=np.array(json.dumps(meta)), x=np.arange(1),
             y=np.arange(1), value=np.ones(1))


@pytest.mark.parametrize("name", ["garbage.npz", "empty.npz", "pickle.npz", "array.npy",
                                  "other.npz", "objects.npz", "foreign.npz"])
def test_load_rejects_other_files(run, tmp_path, name):
    bad_state_files(tmp_path)
    before = sorted(os.listdir(tmp_path))
    code, err = run("-L", name, "-o", "out.png")
    assert code == 2
    assert "heatmap.py: error: %s: not a heatmap.py state file" % name in err
    assert sorted(os.listdir(tmp_path)) == before


def test_load_missing_file(run, tmp_path):
    code, err = run("-L", "missing.npz", "-o", "out.png")
    assert code == 2 and "missing.npz: no such file" in err
    assert not (tmp_path / "out.png").exists()


def crafted_state(path, **changes):
    meta = {"format": "heatmap.py-state", "version": 1, "heatmap": "x", "max": 1.0, "ppd": 100.0,
            "projection": "mercator", "box": [0.0, 0.0, 9.0, 9.0], "radius": 1, "margin": 0}
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    np.savez(path, meta=np.array(json.dumps(meta)), x=np.array([3], np.int64),
             y=np.array([4], np.int64), value=np.array([1.0]))


def test_crafted_state_file_loads(run, tmp_path, pixels):
    crafted_state(tmp_path / "ok.npz")
    assert run("-L", "ok.npz", "-o", "out.png") == (0, "")
    mode, a = pixels("out.png")
    assert a.shape == (10, 10, 4)
    assert np.argwhere(a[..., 3] > 0).tolist() == [[4, 3]]


def test_state_version_checked(run, tmp_path):
    crafted_state(tmp_path / "v2.npz", version=2)
    code, err = run("-L", "v2.npz", "-o", "out.png")
    assert code == 2 and "state file version 2 is not supported" in err


@pytest.mark.parametrize("changes", [
    pytest.param({"ppd": None}, id="no_ppd"),
    pytest.param({"ppd": "fast"}, id="text_ppd"),
    pytest.param({"box": [9.0, 9.0, 0.0, 0.0]}, id="inverted_box"),
    pytest.param({"box": [0.0, 0.0, 1e12, 1e12]}, id="huge_box"),
])
def test_damaged_state_metadata_is_a_clean_error(run, tmp_path, changes):
    crafted_state(tmp_path / "bad.npz", **changes)
    code, err = run("-L", "bad.npz", "-o", "out.png")
    assert code == 2 and "heatmap.py: error: bad.npz" in err
    assert not (tmp_path / "out.png").exists()


# ---- golden images of our own ----
def wobbly_track(seed, n, lat, lon):
    rng = random.Random(seed)
    points, heading = [], 0.3
    for _ in range(n):
        heading += (rng.random() - 0.5) * 0.6
        lat += 0.0004 * math.sin(heading)
        lon += 0.0006 * math.cos(heading)
        points.append((round(lat, 6), round(lon, 6)))
    return points


def golden_inputs(tmp_path):
    (tmp_path / "seattle.txt").write_text(plain_text(SEATTLE))
    (tmp_path / "ride.gpx").write_text(gpx_text([wobbly_track(3, 40, 47.60, -122.34),
                                                 wobbly_track(4, 30, 47.61, -122.33)]))
    sydney = cluster(5, 30, -33.87, 151.21, 0.02)
    weights = [1 + (i * 7) % 5 for i in range(len(sydney))]
    (tmp_path / "sydney.csv").write_text(
        "lat,lon,weight\n"
        + "".join("%.6f,%.6f,%d\n" % (p + (w,)) for p, w in zip(sydney, weights)))
    x = np.arange(48)[None, :].repeat(40, 0)
    y = np.arange(40)[:, None].repeat(48, 1)
    street = np.where((x % 12 == 0) | (y % 10 == 0), 230, 90)
    Image.fromarray(np.stack([street, street, street + 10], 2).astype(np.uint8), "RGB") \
        .save(tmp_path / "bg.png")
    column = np.zeros((16, 1, 4), np.uint8)
    column[:, 0, 0] = np.linspace(255, 0, 16)
    column[:, 0, 2] = np.linspace(0, 255, 16)
    column[:, 0, 3] = np.linspace(255, 0, 16)
    Image.fromarray(column, "RGBA").save(tmp_path / "gradient.png")


GOLDEN = [
    ("points_default", ["-W", 48, "seattle.txt"]),
    ("track_gaussian_black", ["-k", "gaussian", "-r", 4, "-b", "black", "-W", 48, "ride.gpx"]),
    ("csv_weighted_sum_equirect", ["--ignore_csv_header", "-d", 1, "-P", "equirectangular",
                                   "-H", 40, "-m", "0aaffff40", "-M", "000ffffff",
                                   "sydney.csv"]),
    ("extent_background_gradient", ["-I", "bg.png", "-B", "0.8", "-G", "gradient.png",
                                    "--extent=47.603,-122.336,47.617,-122.324", "-r", 3,
                                    "seattle.txt"]),
    ("decay_0_margin_inverted", ["-I", "bg.png", "-N", "-d", 0, "-R", 4, "-r", 4,
                                 "seattle.txt", "ride.gpx"]),
]


@pytest.mark.parametrize("argv", [g[1] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_image(run, tmp_path, regen_golden, argv, request):
    name = request.node.callspec.id + ".png"
    golden_inputs(tmp_path)
    assert run(*argv, "-o", name) == (0, "")
    target = os.path.join(GOLDEN_DIR, name)
    if regen_golden:
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        shutil.copyfile(tmp_path / name, target)
        pytest.skip("regenerated %s" % target)
    assert os.path.exists(target), "missing golden image: run pytest --regen-golden"
    assert os.path.getsize(target) < 20000
    with Image.open(target) as want, Image.open(tmp_path / name) as got:
        assert (got.mode, got.size) == (want.mode, want.size)
        a, b = np.asarray(got), np.asarray(want)
    assert a.any(axis=-1).sum() > 20
    if not np.array_equal(a, b):
        diff = np.argwhere((a != b).reshape(a.shape[0], a.shape[1], -1).any(axis=2))
        pytest.fail("%d pixels differ from %s, first at (row, col) %s"
                    % (len(diff), name, diff[0].tolist()))


@pytest.mark.parametrize("mode,size,part", [
    ("RGBA", (1, 1), 1 << 20),
    ("RGBA", (37, 23), 64),       # many parts, ending mid-row
    ("RGB", (50, 40), 1000),
    ("RGB", (3, 200), 1 << 20),
])
def test_png_writer_round_trips(tmp_path, monkeypatch, mode, size, part):
    monkeypatch.setattr(hm, "_PNG_PART", part)
    rng = np.random.default_rng(sum(size))
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    pixels[size[1] // 2:] = pixels[:1]   # runs of equal rows, as in real heat
    path = tmp_path / "out.png"
    hm._write_png(str(path), pixels)
    with Image.open(path) as back:
        back.load()   # decoding checks the zlib stream and its checksum
        assert back.mode == mode and back.size == size
        assert (np.asarray(back) == pixels).all()
    data, kinds = path.read_bytes(), []
    at = 8
    while at < len(data):   # Pillow does not check every chunk's CRC: do it here
        length, = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == \
            zlib.crc32(kind + body)
        kinds.append(kind)
        at += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and set(kinds[1:-1]) == {b"IDAT"}


def test_plain_png_output_does_without_pillow(tmp_path):
    # start-up: a text file to a transparent PNG never imports PIL (~15 ms)
    import subprocess
    import sys
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    script = ("import sys, heatmap; code = heatmap.main(['-W', '40', '-o', 'out.png', 'pts.txt']); "
              "print(code, 'PIL' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(hm.__file__)))
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False"]
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGBA" and image.size[0] == 40
