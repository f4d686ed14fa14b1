"""Time and tracks (issue 12): frames by the data's clock, --fade, --time_range,
--weight_by_time, --max_jump and --trim_ends, on small hand-written tracks whose answer
is known.

Tracks run east along latitude 1 from longitude 10, drawn in the equirectangular
projection and saved with -S: a state file holds every heated pixel (x, y, value) and
the pixels per degree, so a pixel's distance along the track is (x / ppd - 10) degrees.
"""
import glob
import math
import os
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

import heatmap
from test_animation import ffmpeg, frames_tmp  # noqa: F401  (fixtures: ffmpeg, frames folder)

LAT, LON = 1.0, 10.0
EAST = 2 * math.pi * heatmap.EARTH_RADIUS / 360 * math.cos(math.radians(LAT))  # m per degree
T0 = np.datetime64("2024-05-01T07:00:00", "s")


def straight(metres, step, seconds=1.0, start=0.0, t0=T0):
    """(lat, lon, times) of points every ``step`` metres east from ``start`` metres, one
    every ``seconds``."""
    along = np.arange(start, start + metres + step / 2, step)
    times = t0 + np.round(np.arange(along.size) * seconds).astype("m8[s]")
    return np.full(along.size, LAT), LON + along / EAST, times


def gpx(*tracks):
    """A GPX file with one <trkseg> per (lat, lon, times) (times may be None)."""
    def point(lat, lon, time):
        stamp = "" if time is None else "<time>%sZ</time>" % time
        return '<trkpt lat="%.9f" lon="%.9f">%s</trkpt>' % (lat, lon, stamp)
    body = "".join("<trkseg>%s</trkseg>" % "".join(
        point(a, b, None if t is None else c) for a, b, c in
        zip(lat, lon, t if t is not None else lat)) for lat, lon, t in tracks)
    return "<gpx><trk>%s</trk></gpx>" % body


def heated(tmp_path, run, name, *options):
    """(metres east of LON of each heated pixel's west edge, values) of a -S run on ``name``."""
    code, err = run("-P", "equirectangular", "-S", "s.npz", *options, name)
    assert code == 0, err
    with np.load(tmp_path / "s.npz") as state:
        ppd = float(np.array(__import__("json").loads(str(state["meta"][()]))["ppd"]))
        x, value = state["x"], state["value"]
    keep = value > 0
    return (x[keep] / ppd - LON) * EAST, value[keep], ppd


# ---- pure parts ----
@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1.5h", 5400), ("300", 300),
    (" 2M ", 120), (".5s", 0.5)])
def test_durations(text, seconds):
    assert heatmap._duration_arg(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1w", "-5m", "1h30m", "nan", "1e3s"])
def test_bad_durations(text):
    with pytest.raises(Exception, match="expected a duration"):
        heatmap._duration_arg(text)


@pytest.mark.parametrize("seconds, text", [(300, "5m"), (90, "90s"), (3600, "1h"),
                                           (86400 * 2, "2d"), (0.5, "0.5s")])
def test_duration_text(seconds, text):
    assert heatmap._duration_text(seconds) == text


DAY = 1714521600   # 2024-05-01T00:00:00Z


@pytest.mark.parametrize("bounds, first, last", [
    (("2024-05-01", "2024-05-01"), DAY, DAY + 86399),          # a date is its whole day
    (("2024-05-01T06:30:00Z", None), DAY + 23400, np.iinfo(np.int64).max),
    ((None, "2024-05-01T08:30:00+02:00"), np.iinfo(np.int64).min, DAY + 23400),
    (("1714521600", "1714521601"), DAY, DAY + 1),              # Unix seconds
    ((DAY, np.datetime64("2024-05-02")), DAY, DAY + 86400),    # library values
    (("", "2024-05-01T00:00:00"), np.iinfo(np.int64).min, DAY),
])
def test_time_bounds(bounds, first, last):
    assert heatmap._time_bounds(bounds) == (first, last)


@pytest.mark.parametrize("span, step, frames", [
    (3600, 60, 60),       # a 1-hour track at 1m: 60 frames (the last ends at its last second)
    (3599, 60, 60), (3601, 60, 61), (0, 60, 1), (59, 60, 1), (60, 60, 1), (61, 60, 2)])
def test_clock_frame_count(span, step, frames):
    times = np.array([0, span], np.int64) + DAY
    rank, shown, ends = heatmap._frame_clock(heatmap.Config(frame_time=step), times, DAY)
    assert len(shown) == len(ends) == frames
    assert shown[-1] == (0, 2) and ends[0] == DAY + step


def test_clock_fades_a_moving_window():
    times = np.array([50, 0, 130, 10, 70], np.int64)     # input numbers in reading order
    rank, shown, ends = heatmap._frame_clock(heatmap.Config(frame_time=60, fade=60), times, 0)
    assert rank.tolist() == [2, 0, 4, 1, 3]             # by time: 0, 10, 50, 70, 130
    assert ends.tolist() == [60, 120, 180]
    # frame k shows the inputs of times in (end - fade, end]: ranks lo .. hi - 1
    assert shown == [(0, 3), (3, 4), (4, 5)]


def test_trim_is_the_same_whatever_the_batches():
    """A 10 km track cut into batches anywhere (as readers cut long tracks) loses exactly
    its first and last 200 m, its ends interpolated, times too."""
    lat, lon, times = straight(10000, 10)
    whole = heatmap.tracks(lat, lon, times=times)
    results = []
    for cuts in ([1000], [7, 500, 1000], list(range(37, 1000, 37)) + [1000], range(1, 1001)):
        trim, out, start = heatmap._TrimEnds(200.0), [], 0
        for end in cuts:
            part = heatmap._batch_subset(whole, (np.arange(1000) >= start) & (np.arange(1000) < end))
            out += trim.add(part, heatmap._segment_metres(part), np.zeros(end - start, bool))
            start = end
        out += trim.flush()
        kept = _joined(out)
        results.append(kept)
        assert heatmap._segment_metres(kept).sum() == pytest.approx(heatmap._segment_metres(whole).sum() - 400)
        assert (kept.lon1[0] - LON) * EAST == pytest.approx(200, abs=1e-6)
        assert (lon[-1] - kept.lon2[-1]) * EAST == pytest.approx(200, abs=1e-6)
        assert (kept.time1[0], kept.time2[-1]) == (T0 + 20, times[-1] - 20)
    for kept in results[1:]:
        for a, b in zip(kept, results[0]):
            np.testing.assert_array_equal(a, b)


def _joined(batches):
    return heatmap.Segments(*(None if parts[0] is None else np.concatenate(parts)
                              for parts in zip(*batches)))


def test_trim_keeps_tracks_apart_and_drops_short_ones():
    """Two tracks in one batch, the first shorter than twice the trim: it vanishes."""
    a, b = straight(300, 10), straight(1000, 10, start=5000)
    both = _joined([heatmap.tracks(a[0], a[1], times=a[2]), heatmap.tracks(b[0], b[1], times=b[2])])
    trim = heatmap._TrimEnds(200.0)
    out = trim.add(both, heatmap._segment_metres(both), np.zeros(len(both.lat1), bool)) + trim.flush()
    kept = _joined(out)
    east = (np.r_[kept.lon1, kept.lon2] - LON) * EAST
    assert east.min() == pytest.approx(5200) and east.max() == pytest.approx(5800)


# ---- the command line: known answers ----
def test_trim_ends_leaves_no_heat_near_the_ends(tmp_path, run, write):
    write("t.gpx", gpx(straight(2000, 10), straight(2000, 10, start=3000)))
    common = ("-s", "5", "-r", "2", "-o", "t.png")
    east, _, ppd = heated(tmp_path, run, "t.gpx", *common)
    margin = 2 * EAST / ppd + 0.01     # the kernel's radius plus one pixel, in metres
    assert east.min() < margin and east.max() > 5000 - margin      # without: to the ends
    east, _, _ = heated(tmp_path, run, "t.gpx", "--trim_ends", "200", *common)
    for start, end in ((0, 2000), (3000, 5000)):
        mine = east[(east > start - 500) & (east < end + 500)]
        assert mine.min() >= start + 200 - margin and mine.max() <= end - 200 + margin
        assert mine.min() <= start + 200 + margin and mine.max() >= end - 200 - margin


def test_max_jump_draws_no_line_across_a_jump(tmp_path, run, write):
    lat, lon, times = straight(1000, 20)
    far = straight(1000, 20, start=51000, t0=T0 + 60)
    write("j.gpx", gpx((np.r_[lat, far[0]], np.r_[lon, far[1]], np.r_[times, far[2]])))
    common = ("-s", "50", "-r", "2", "-o", "j.png")
    east, _, ppd = heated(tmp_path, run, "j.gpx", *common)
    between = (east > 1000 + 150) & (east < 51000 - 150)
    assert between.any()                                   # without: a line across
    east, _, _ = heated(tmp_path, run, "j.gpx", "--max_jump", "500", *common)
    assert not ((east > 1000 + 150) & (east < 51000 - 150)).any()
    assert east.min() < 100 and east.max() > 51900             # both halves drawn


def test_a_jump_does_not_end_a_track_for_trim_ends(tmp_path, run, write):
    """A glitch in the middle is dropped but is no end: no gap of 2 x 200 m around it."""
    lat, lon, times = straight(2000, 10)
    lon = lon.copy()
    lon[100] += 0.5                                        # one wild fix at 1000 m
    write("g.gpx", gpx((lat, lon, times)))
    east, _, ppd = heated(tmp_path, run, "g.gpx", "--max_jump", "500", "--trim_ends", "200",
                          "-s", "5", "-r", "2", "-o", "g.png")
    pixel = EAST / ppd
    assert east.min() >= 200 - 3 * pixel and east.max() <= 1800 + 3 * pixel
    gaps = np.diff(np.unique(np.round(east / pixel)))
    assert gaps.max() <= 5              # only the two dropped 10 m segments are missing


def test_time_range_drops_exactly_the_outside_inputs(tmp_path, run, write):
    rng = np.random.default_rng(5)
    lat, lon = 47.6 + rng.random(30) * 0.01, -122.3 + rng.random(30) * 0.01
    seconds = 60 * np.arange(30)
    start = int(T0.astype(np.int64))
    write("p.txt", "".join("%.6f %.6f 1 %d\n" % row for row in zip(lat, lon, start + seconds)))
    inside = (seconds >= 300) & (seconds <= 720)
    write("in.txt", "".join("%.6f %.6f\n" % row for row in zip(lat[inside], lon[inside])))
    track = (lat, lon, T0 + seconds.astype("m8[s]"))
    write("t.gpx", gpx(track))
    write("tin.gpx", gpx(tuple(a[inside] for a in track)))
    common = ("--extent=47.59,-122.31,47.62,-122.28", "-W", "80")
    span = "2024-05-01T07:05:00Z,2024-05-01T07:12:00Z"
    for name, expected in (("p.txt", "in.txt"), ("t.gpx", "tin.gpx")):
        assert run(*common, "--time_column", "--time_range", span, "-o", "a.png", name) == (0, "")
        assert run(*common, "-o", "b.png", expected) == (0, "")
        assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes(), name
    # open ends, and a date for a whole day
    assert run(*common, "--time_column", "--time_range", "2024-05-01T07:05:00,", "-o", "c.png",
               "p.txt") == (0, "")
    assert run(*common, "--time_column", "--time_range", ",2024-05-01", "-o", "d.png",
               "p.txt") == (0, "")
    assert run(*common, "--time_column", "-o", "e.png", "p.txt") == (0, "")
    assert (tmp_path / "d.png").read_bytes() == (tmp_path / "e.png").read_bytes()
    assert (tmp_path / "c.png").read_bytes() != (tmp_path / "e.png").read_bytes()


def _cafe_ride():
    """Walking east at 1 m/s for 300 m, a ten-minute stop at a café (three fixes five
    minutes apart: smart recording), 300 m more, then back west to 400 m: the stretch from
    400 to 600 m is walked twice."""
    first = straight(300, 1)
    stop = first[2][-1] + np.array([300, 600], "m8[s]")
    second = straight(300, 1, start=300, t0=stop[-1])
    back = straight(200, 1, start=400, t0=second[2][-1])
    lon = np.r_[first[1], first[1][-1:], first[1][-1:], second[1][1:], back[1][::-1][1:]]
    times = np.r_[first[2], stop, second[2][1:], back[2][1:]]
    return np.full(lon.size, LAT), lon, times


def _engine_weighs_segments():
    """Whether the engine multiplies a segment's heat by its weight (the engine's (n, 5)
    segments; until that work is on main, weights are carried but not applied)."""
    lat, lon = np.array([47.6, 47.6]), np.array([-122.3, -122.29])
    one = heatmap.Segments(lat[:1], lon[:1], lat[1:], lon[1:])
    config = heatmap.Config(width=40, radius=3)
    values = [heatmap._combine_values(config, *heatmap._read_and_bin(
        config, [one._replace(weight=np.array([w]))])).peak for w in (1.0, 3.0)]
    return values[1] == pytest.approx(3 * values[0])


@pytest.mark.skipif(not _engine_weighs_segments(),
                    reason="the engine does not apply segment weights yet (the engine branch does)")
def test_weight_by_time_makes_a_stop_the_hottest_place(tmp_path, run, write):
    write("ride.gpx", gpx(_cafe_ride()))
    common = ("-s", "2", "-r", "5", "-o", "r.png")
    east, value, _ = heated(tmp_path, run, "ride.gpx", *common)
    hottest = east[np.argmax(value)]
    assert abs(hottest - 300) > 20                                 # not the stop without it
    east, value, ppd = heated(tmp_path, run, "ride.gpx", "--weight_by_time", *common)
    assert abs(east[np.argmax(value)] - 300) <= EAST / ppd + 1e-6   # the stop with it
    # the stop's 5-minute segments are longer than --max_gap 4m: they weigh nothing
    east, value, _ = heated(tmp_path, run, "ride.gpx", "--weight_by_time", "--max_gap", "4m",
                            *common)
    assert abs(east[np.argmax(value)] - 300) > 20


# ---- animations by the clock ----
def _frames(folder):
    return sorted(glob.glob(str(folder / "*" / "frame-*.png")))


def _alpha(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))[:, :, 3]


HOUR = "hour.gpx"


@pytest.fixture
def hour(write):
    """A 1-hour walk east, a fix every 10 s (361 points, 360 segments)."""
    write(HOUR, gpx(straight(3600, 10, seconds=10)))
    return HOUR


def test_frame_time_makes_one_frame_a_minute(tmp_path, run, frames_tmp, ffmpeg, hour):
    assert run("-a", "--frame_time", "1m", "-K", "-W", "120", "-o", "h.mp4", hour) == (0, "")
    assert len(_frames(frames_tmp)) == 60
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("no ffprobe: the video's frames are not counted (apt-get install ffmpeg)")
    done = subprocess.run([ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
                           "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                           str(tmp_path / "h.mp4")], stdout=subprocess.PIPE, text=True,
                          check=True)
    assert int(done.stdout) == 60


def test_fade_empties_where_the_first_ten_minutes_were(tmp_path, run, frames_tmp, ffmpeg, hour):
    assert run("-a", "--frame_time", "1m", "--fade", "10m", "-K", "-W", "240", "-r", "3",
               "-o", "h.gif", hour) == (0, "")
    frames = _frames(frames_tmp)
    assert len(frames) == 60
    early = np.flatnonzero(_alpha(frames[9]).any(axis=0))     # 07:10: the first ten minutes
    last = np.flatnonzero(_alpha(frames[-1]).any(axis=0))     # 07:50 to 08:00
    assert early[0] < 5 and last[-1] > 230
    assert last[0] > early[-1]                  # nothing left where the first ten minutes were
    assert last[0] - early[-1] < 240 * 40 / 60  # ... and it is the 10 minutes before the last
    # no fade: the last frame holds everything
    assert run("-a", "--frame_time", "1m", "-K", "-W", "240", "-r", "3", "-o", "n.gif",
               hour) == (0, "")
    whole = [f for f in _frames(frames_tmp) if f not in frames]
    assert _alpha(whole[-1]).any(axis=0)[early].all()


def test_the_clock_does_not_skip_and_labels_tell_the_time(tmp_path, run, frames_tmp, ffmpeg,
                                                          write):
    """Ten minutes of walking, half an hour of nothing, ten minutes more: 50 frames, the
    quiet ones the same picture, and each frame labelled with its time."""
    first = straight(600, 10, seconds=10)
    later = straight(600, 10, seconds=10, start=1000, t0=T0 + 2400)
    write("w.gpx", gpx(first, later))
    assert run("-a", "--frame_time", "1m", "-K", "-W", "100", "-o", "w.mp4", "w.gpx") == (0, "")
    frames = _frames(frames_tmp)
    assert len(frames) == 50
    pictures = [open(f, "rb").read() for f in frames]
    assert len(set(pictures[9:40])) == 1 and pictures[8] != pictures[9] != pictures[40]
    assert run("-a", "--frame_time", "1m", "--frame_label", "-K", "-W", "100", "-o", "l.mp4",
               "w.gpx") == (0, "")
    labelled = [f for f in _frames(frames_tmp) if f not in frames]
    assert len(labelled) == 50
    a, b = _alpha(labelled[20]), _alpha(frames[20])
    assert (a[:12] != b[:12]).any() and (a[20:] == b[20:]).all()   # a label at the top only


def test_fps_sets_the_video_rate(tmp_path, run, frames_tmp, ffmpeg, hour):
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("no ffprobe (apt-get install ffmpeg)")
    assert run("-a", "--frame_time", "5m", "--fps", "4", "-W", "60", "-o", "h.mp4",
               hour) == (0, "")
    done = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=r_frame_rate", "-of", "csv=p=0", str(tmp_path / "h.mp4")],
                          stdout=subprocess.PIPE, text=True, check=True)
    assert done.stdout.strip() == "4/1"


def test_inputs_without_a_time_are_left_out_with_one_warning(tmp_path, run, write):
    write("p.txt", "47.60 -122.30 1 1714521600\n47.61 -122.31 1\n47.62 -122.32 1 1714521660\n")
    code, err = run("-W", "40", "--time_column", "--time_range", "2024-05-01,", "-o", "p.png",
                    "p.txt")
    assert code == 0
    assert err.count("warning") == 1 and "1 inputs without a time left out" in err


def test_the_options_warn_where_they_do_nothing(run, write):
    write("p.txt", "47.60 -122.30\n47.62 -122.32\n")
    code, err = run("-W", "40", "--fps", "5", "--max_gap", "1m", "-o", "p.png", "p.txt")
    assert code == 0
    assert "--fps has no effect without -a/--animate" in err
    assert "--max_gap has no effect without --track_weight time" in err


# ---- the library ----
def test_config_takes_the_same_settings():
    lat, lon, times = straight(2000, 10)
    segments = heatmap.tracks(lat, lon, times=times)
    plain = np.asarray(heatmap.render(segments, width=80, radius=2))
    trimmed = np.asarray(heatmap.render(segments, width=80, radius=2, trim_ends=500,
                                        extent=(0.99, 9.99, 1.01, 10.03)))
    assert plain.any() and trimmed.any()
    ranged = heatmap.render(segments, width=80, time_range=(str(T0), None), max_jump=100.0)
    assert ranged.size == heatmap.render(segments, width=80).size
    with pytest.raises(heatmap.HeatmapError, match="^time_range .* keeps nothing"):
        heatmap.render(segments, width=80, time_range=("2030-01-01", None))
    with pytest.raises(heatmap.HeatmapError, match="^weight_by_time needs times, and the data"):
        heatmap.render(heatmap.tracks(lat, lon), width=80, weight_by_time=True)
    with pytest.raises(heatmap.HeatmapError, match=r"^render\(\) has no use for the setting fade"):
        heatmap.render(segments, width=80, fade="10m")
    with pytest.raises(heatmap.HeatmapError, match="^frame_time must be a positive duration"):
        heatmap.render_frames(segments, width=80, frame_time="soon")


def test_too_many_frames_is_one_error_before_any_file(tmp_path, frames_tmp, ffmpeg, capsys,
                                                     monkeypatch, write):
    monkeypatch.chdir(tmp_path)
    write("y.gpx", gpx(straight(100, 10, seconds=86400 * 36.5)))   # a point every 36.5 days
    before = sorted(os.listdir(tmp_path))
    assert heatmap.main(["-a", "--frame_time", "1m", "-W", "60", "-o", "y.mp4", "y.gpx"]) == 2
    assert capsys.readouterr().err == (
        "heatmap.py: error: --frame_time 1m would make 525600 frames (the data runs from "
        "2024-05-01 07:00:00 to 2025-05-01 07:00:00), more than 100000: give a longer one\n")
    assert sorted(os.listdir(tmp_path)) == before and os.listdir(frames_tmp) == []


@settings(max_examples=60, deadline=None, derandomize=True)
@given(steps=st.lists(st.lists(st.floats(0, 80), min_size=1, max_size=30), min_size=1,
                      max_size=4),
       cuts=st.lists(st.integers(1, 120), max_size=6), trim=st.floats(0.5, 300),
       jump=st.one_of(st.none(), st.floats(10, 60)))
def test_fuzz_trim_and_jumps_whatever_the_batches(steps, cuts, trim, jump):
    """Tracks of random steps east (0 m: a pause), cut into batches anywhere: each track
    keeps its length less 2 x trim (less the jumps, which count 0 m), the same in one batch."""
    tracks, start = [], 0.0
    for track in steps:
        along = start + np.r_[0.0, np.cumsum(track)]
        tracks.append(heatmap.tracks(np.full(along.size, LAT), LON + along / EAST))
        start = along[-1] + 1000
    whole = _joined(tracks)
    n = len(whole.lat1)
    kept = []
    for bounds in ([0, n], sorted({0, n} | {c for c in cuts if c < n})):
        trim_ = heatmap._TrimEnds(trim)
        out = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            part = heatmap._batch_subset(whole, (np.arange(n) >= a) & (np.arange(n) < b))
            length = heatmap._segment_metres(part)
            out += trim_.add(part, length, length > (jump or np.inf))
        out += trim_.flush()
        kept.append(heatmap._segment_metres(_joined(out)).sum() if out else 0.0)
    expected = sum(max(0.0, float(np.sum([s for s in t if s <= (jump or np.inf)])) - 2 * trim)
                   for t in steps)
    assert kept[0] == pytest.approx(expected, abs=1e-6)
    assert kept[1] == pytest.approx(kept[0], abs=1e-6)


@pytest.mark.parametrize("decay", ["0", "0.8", "1"])
def test_each_faded_frame_is_the_picture_of_its_window(tmp_path, run, frames_tmp, ffmpeg, write,
                                                       decay):
    """A frame shows the inputs of times from its end less --fade to its end, coloured by
    its own largest value: the still picture of those inputs (same --extent)."""
    rng = np.random.default_rng(11)
    lat, lon = 47.6 + rng.random(40) * 0.02, -122.33 + rng.random(40) * 0.03
    minutes = rng.permutation(40) * 0.75                 # 0 .. 29.25 min, not in file order
    start = int(T0.astype(np.int64))
    write("p.txt", "".join("%.6f %.6f 1 %d\n" % (a, b, start + 60 * m)
                           for a, b, m in zip(lat, lon, minutes)))
    common = ("--extent=47.59,-122.34,47.63,-122.29", "-W", "90", "-r", "4", "-d", decay)
    assert run("-a", "--time_column", "--frame_time", "5m", "--fade", "10m", "-K", "-o", "p.mp4",
               "p.txt", *common) == (0, "")
    frames = _frames(frames_tmp)
    assert len(frames) == 6
    for k, frame in enumerate(frames, 1):
        inside = (minutes >= 5 * k - 10) & (minutes <= 5 * k)
        write("w.txt", "".join("%.6f %.6f\n" % p for p in zip(lat[inside], lon[inside])))
        assert run("-o", "still.png", "w.txt", *common) == (0, "")
        with Image.open(frame) as a, Image.open(tmp_path / "still.png") as b:
            assert np.array_equal(np.asarray(a), np.asarray(b)), k


def legs_ride():
    """1 s fixes of a ride of straight legs, each at its own speed, with stops; it turns and
    stops at whole multiples of 10 s, where every log below has a fix: (lat, lon, seconds)."""
    rng = np.random.default_rng(5)
    x, y, xs, ys = 0.0, 0.0, [0.0], [0.0]
    for leg in range(24):
        heading, speed = rng.uniform(0, 2 * np.pi), rng.uniform(3, 12)
        for _ in range(10 * rng.integers(3, 12)):
            x, y = x + speed * np.cos(heading), y + speed * np.sin(heading)
            xs.append(x)
            ys.append(y)
        if leg % 5 == 2:   # a minute at the lights
            xs, ys = xs + [x] * 60, ys + [y] * 60
    return 47.6 + np.array(ys) / 111320, -122.3 + np.array(xs) / 75000, np.arange(len(xs))


@pytest.mark.parametrize("decay", [1.0, 0.95])
@pytest.mark.parametrize("rule", ["segment", "length", "time"])
def test_track_weight_does_not_depend_on_how_often_the_device_logged(rule, decay):
    """The same ride logged every 1 s, 5 s, 10 s and at irregular times (smart recording):
    under length and time within 10 % at every heated pixel; by segment, far apart."""
    lat, lon, t = legs_ride()
    smart = np.unique(np.r_[np.flatnonzero(t % 10 == 0),
                            np.random.default_rng(7).choice(t.size, t.size // 6, replace=False)])
    grids = [heatmap.render_grid(
        [heatmap.tracks(lat[i], lon[i], times=T0 + t[i].astype("m8[s]"))], width=600,
        extent=(47.55, -122.4, 47.65, -122.2), track_weight=rule, decay=decay).values
        for i in (t, t[t % 5 == 0], t[t % 10 == 0], smart)]
    worst = max(np.max(np.abs(g - grids[0]) / np.maximum(np.maximum(g, grids[0]), 1e-300))
                for g in grids[1:])
    assert (worst <= 0.1) == (rule != "segment"), worst
