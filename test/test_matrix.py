"""Every time and track option in every output (issue 20): each changes the result as
documented, or is refused in one line; none is silently ignored.

The ride runs east for 70 minutes from 06:00, a point every 10 s, with a GPS jump 30 km
north in the middle and an 8-minute pause: --time_range keeps its first half hour,
--max_jump drops the jump, --trim_ends its ends, --weight_by_time and --track_weight
weigh its segments, and --max_gap 10m keeps the pause that the default 5m leaves out.
"""
import os
import sqlite3

import numpy as np
import pytest

import heatmap
from test_animation import ffmpeg  # noqa: F401  (fixture)

T0 = np.datetime64("2024-05-01T06:00:00", "s")
OPTIONS = {   # the command line's options and the library's settings
    "time_range": (["--time_range", ",2024-05-01 06:30"],
                   {"time_range": (None, "2024-05-01T06:30")}),
    "max_jump": (["--max_jump", "5000"], {"max_jump": 5000}),
    "trim_ends": (["--trim_ends", "1500"], {"trim_ends": 1500}),
    "weight_by_time": (["--weight_by_time"], {"weight_by_time": True}),
    "track_weight_length": (["--track_weight", "length"], {"track_weight": "length"}),
    "track_weight_time": (["--track_weight", "time"], {"track_weight": "time"}),
    "max_gap": (["--weight_by_time", "--max_gap", "10m"], {"weight_by_time": True, "max_gap": 600}),
}
BASE = {"max_gap": (["--weight_by_time"], {"weight_by_time": True})}   # what max_gap changes


def ride_gpx():
    seconds = np.arange(0, 70 * 60, 10)
    seconds = seconds + np.where(seconds >= 40 * 60, 8 * 60, 0)      # the pause
    lat = np.full(seconds.size, 47.6)
    lat[seconds.size // 2] += 0.27                                      # the jump
    lon = -122.4 + 0.0007 * np.arange(seconds.size)
    points = "".join('<trkpt lat="%.6f" lon="%.6f"><time>%sZ</time></trkpt>' % (a, b, T0 + t)
                     for a, b, t in zip(lat, lon, seconds.astype("m8[s]")))
    return "<gpx><trk><trkseg>%s</trkseg></trk></gpx>" % points


def picture(run, tmp_path, args):
    return run("-W", 300, "-b", "black", "-o", "out.png", *args, "ride.gpx"), "out.png"


def animation(run, tmp_path, args):
    return run("-W", 200, "-a", "--frequency", 100, "-o", "out.gif", *args, "ride.gpx"), "out.gif"


def tile_folder(run, tmp_path, args):
    code = run("--tiles", "tiles", "--tile_zoom", "10-11", *args, "ride.gpx")
    return code, sorted((path, (tmp_path / path / name).read_bytes())
                        for path, _, names in os.walk(tmp_path / "tiles") for name in names
                        if name.endswith(".png"))


def mbtiles(run, tmp_path, args):
    code = run("--tiles", "t.mbtiles", "--tile_zoom", "10-11", *args, "ride.gpx")
    if code[0]:
        return code, None
    with sqlite3.connect(str(tmp_path / "t.mbtiles")) as db:
        return code, sorted(db.execute("SELECT * FROM tiles"))


def state_file(run, tmp_path, args):
    code = run("-W", 300, "-S", "s.npz", *args, "ride.gpx")
    if code[0]:
        return code, None
    with np.load(tmp_path / "s.npz") as state:
        return code, state["value"].tobytes()


def library(function):
    def output(run, tmp_path, settings):
        batches = heatmap.read([str(tmp_path / "ride.gpx")])
        try:
            result = function(batches, **settings)
        except heatmap.HeatmapError as exc:
            return (2, str(exc)), None
        return (0, ""), result
    return output


LIBRARY = {
    "render": library(lambda b, **s: heatmap.render(list(b), width=300, **s).tobytes()),
    "render_grid": library(lambda b, **s: heatmap.render_grid(b, width=300, **s).values.tobytes()),
    "render_tiles": library(lambda b, **s: list(heatmap.render_tiles(b, tile_zoom=(10, 11), **s))),
}
COMMAND = {"picture": picture, "animation": animation, "tile_folder": tile_folder,
           "mbtiles": mbtiles, "state_file": state_file}


def result(outcome, tmp_path):
    (code, err), value = outcome
    assert code == 0, err
    if isinstance(value, str):   # a file written
        return (tmp_path / value).read_bytes()
    return value


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("output", sorted(COMMAND) + sorted(LIBRARY))
def test_every_option_changes_every_output(run, write, tmp_path, ffmpeg, output, option):
    write("ride.gpx", ride_gpx())
    kind = 0 if output in COMMAND else 1
    make = COMMAND.get(output) or LIBRARY[output]
    base = BASE.get(option, ([], {}))[kind]
    before = result(make(run, tmp_path, base), tmp_path)
    after = result(make(run, tmp_path, OPTIONS[option][kind]), tmp_path)
    assert before and after and before != after


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_loaded_state_refuses_every_option(run, write, tmp_path, option):
    """-L draws the data as -S kept it: the options cannot apply again."""
    write("ride.gpx", ride_gpx())
    assert run("-W", 300, "-S", "s.npz", "ride.gpx")[0] == 0
    code, err = run("-L", "s.npz", "-o", "out.png", *OPTIONS[option][0])
    assert code == 2 and err.count("\n") == 1 and "-L/--load cannot apply" in err


@pytest.mark.parametrize("out", ["tiles", "t.mbtiles"])
def test_a_time_range_outside_the_data_is_an_error_for_tiles_too(run, write, tmp_path, out):
    """Before: --tiles drew everything, exit 0."""
    write("ride.gpx", ride_gpx())
    code, err = run("--tiles", out, "--time_range", "2030-01-01,", "ride.gpx")
    assert code == 2 and "--time_range 2030-01-01, keeps nothing: the data's times run from " \
        "2024-05-01 06:00:00 to 2024-05-01 07:17:50" in err
    assert not os.path.exists(tmp_path / out)
