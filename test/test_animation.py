"""Animations: frame rules, incremental frames, keepframes, and ffmpeg missing or failing."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import heatmap  # noqa: E402

EXTENT = "--extent=47.59,-122.36,47.63,-122.30"


@pytest.mark.parametrize("total, frequency, straggler, ends", [
    (10, 3, 1, [3, 6, 9, 10]),      # one input left over: a last frame
    (10, 3, 2, [3, 6, 9]),          # too few stragglers for a frame
    (9, 3, 1, [3, 6, 9]),           # nothing left over
    (9, 3, 0, [3, 6, 9, 9]),        # threshold 0 repeats the last frame, as the original
    (2, 5, 3, [2]),                 # fewer inputs than a frame: always one frame
    (5, 1, 1, [1, 2, 3, 4, 5]),
])
def test_frame_ends(total, frequency, straggler, ends):
    assert heatmap._frame_ends(total, frequency, straggler) == ends


@pytest.fixture
def ffmpeg():
    try:
        return heatmap._find_ffmpeg()
    except heatmap.HeatmapError:
        pytest.skip("no ffmpeg (install it or imageio-ffmpeg)")


@pytest.fixture
def frames_tmp(tmp_path, monkeypatch):
    """tempfile.mkdtemp() folders go to a fresh folder we can look into."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _points(tmp_path, n=40, seed=3):
    rng = np.random.default_rng(seed)
    table = np.column_stack([rng.normal(47.61, 0.006, n), rng.normal(-122.33, 0.009, n)])
    path = tmp_path / "pts.txt"
    np.savetxt(path, table, fmt="%.6f")
    return path, table


def _video_frames(ffmpeg, path):
    done = subprocess.run([ffmpeg, "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return int(re.findall(r"frame=\s*(\d+)", done.stderr)[-1])


def test_video_and_kept_frames(tmp_path, frames_tmp, ffmpeg):
    path, _ = _points(tmp_path, n=40)
    video = tmp_path / "anim.mp4"
    code = heatmap.main(["-a", "--frequency", "7", "-K", "-W", "120", "-H", "96", "-o", str(video),
                         str(path)])
    assert code == 0
    frames = sorted(glob.glob(str(frames_tmp / "*" / "frame-*.png")))
    assert [os.path.basename(f) for f in frames] == ["frame-%05d.png" % i for i in range(1, 7)]
    assert video.stat().st_size > 0
    assert _video_frames(ffmpeg, video) == 6
    assert not glob.glob(str(tmp_path / "*.part*"))


def test_frames_removed_without_keepframes(tmp_path, frames_tmp, ffmpeg):
    path, _ = _points(tmp_path, n=10)
    assert heatmap.main(["-a", "--frequency", "4", "-W", "80", "-o", str(tmp_path / "a.mp4"),
                         str(path)]) == 0
    assert os.listdir(frames_tmp) == []


@pytest.mark.parametrize("decay", ["0", "0.7", "1"])
def test_each_frame_is_the_picture_of_the_inputs_so_far(tmp_path, frames_tmp, ffmpeg, decay):
    """Incremental frames equal a full render of the first k inputs (same --extent)."""
    path, table = _points(tmp_path, n=30)
    common = [EXTENT, "-W", "90", "-d", decay, "-r", "4"]
    assert heatmap.main(["-a", "--frequency", "8", "-K", "-o", str(tmp_path / "a.mp4"),
                         str(path)] + common) == 0
    frames = sorted(glob.glob(str(frames_tmp / "*" / "frame-*.png")))
    assert len(frames) == 4                                  # 8, 16, 24, then 30
    for frame, count in zip(frames, (8, 16, 24, 30)):
        prefix = tmp_path / ("first%d.txt" % count)
        np.savetxt(prefix, table[:count], fmt="%.6f")
        still = tmp_path / ("still%d.png" % count)
        assert heatmap.main(["-o", str(still), str(prefix)] + common) == 0
        assert np.array_equal(np.asarray(Image.open(frame)), np.asarray(Image.open(still)))


def test_gpx_segments_are_animation_inputs(tmp_path, frames_tmp, ffmpeg):
    track = "".join('<trkpt lat="%.5f" lon="%.5f"/>' % (47.6 + i * 1e-4, -122.3 + i * 2e-4)
                    for i in range(11))
    gpx = tmp_path / "t.gpx"
    gpx.write_text("<gpx><trk><trkseg>%s</trkseg></trk></gpx>" % track)
    assert heatmap.main(["-a", "--frequency", "3", "-K", "-W", "60", "-o",
                         str(tmp_path / "t.mp4"), str(gpx)]) == 0
    assert len(glob.glob(str(frames_tmp / "*" / "frame-*.png"))) == 4   # 10 segments: 3,6,9,10


def test_ffmpeg_missing_stops_before_any_work(tmp_path, frames_tmp, monkeypatch, capsys):
    path, _ = _points(tmp_path, n=5)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)   # import fails
    code = heatmap.main(["-a", "-W", "60", "-o", str(tmp_path / "a.mp4"), str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "needs ffmpeg" in err and "imageio-ffmpeg" in err
    assert os.listdir(frames_tmp) == []
    assert not (tmp_path / "a.mp4").exists()


def test_ffmpeg_failure_is_reported_and_leaves_nothing(tmp_path, frames_tmp, ffmpeg, capsys):
    path, _ = _points(tmp_path, n=5)
    video = tmp_path / "a.mp4"
    video.write_bytes(b"the previous video")
    code = heatmap.main(["-a", "-W", "60", "-F", "-no_such_ffmpeg_option 1", "-o", str(video),
                         str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("heatmap.py: error: ffmpeg failed (exit") and err.count("\n") == 1
    assert video.read_bytes() == b"the previous video"
    assert sorted(os.listdir(tmp_path)) == ["a.mp4", "pts.txt", "tmp"]
    assert os.listdir(frames_tmp) == []


# ---- shareable videos (issue 20) ----
@pytest.mark.parametrize("options, pix_fmt", [([], "yuv420p"),
                                              (["--ffmpegopts=-pix_fmt yuv444p"], "yuv444p")])
def test_mp4_is_yuv420p_at_even_sizes_unless_asked(tmp_path, frames_tmp, ffmpeg, options,
                                                   pix_fmt):
    """Before: H.264 High 4:4:4, which many browsers and players cannot decode."""
    if not shutil.which("ffprobe"):
        pytest.skip("no ffprobe")
    path, _ = _points(tmp_path, n=20)
    video = tmp_path / "a.mp4"
    assert heatmap.main(["-a", "--frequency", "5", "-W", "121", "-H", "77", "-o", str(video),
                         *options, str(path)]) == 0
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=pix_fmt,width,height", "-of", "csv=p=0", str(video)],
                           stdout=subprocess.PIPE, text=True).stdout.split()
    assert probe == ["122,78,%s" % pix_fmt]   # 121 x 77 frames padded


def test_gif_keeps_its_background_exactly_and_is_small(tmp_path, frames_tmp, ffmpeg):
    """The README's examples/ride.gif.  Before: ffmpeg's default palette dithered the dark
    background into a checkerboard, in a file 18 times as large."""
    ride = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "ride.gpx")
    sizes = []
    for name, options in (("ours.gif", []), ("plain.gif", ["--ffmpegopts=-vf null"])):
        assert heatmap.main(["-a", "--frequency", "100", "-W", "200", "-b", "#101820", "-r", "3",
                             "-o", str(tmp_path / name), *options, ride]) == 0
        sizes.append((tmp_path / name).stat().st_size)
    with Image.open(tmp_path / "ours.gif") as gif:
        for number in range(gif.n_frames):
            gif.seek(number)
            frame = np.asarray(gif.convert("RGB")).reshape(-1, 3)
            assert (frame == (16, 24, 32)).all(1).mean() > 0.5   # the background, exactly
    assert sizes[0] * 5 < sizes[1]


def test_many_frames_are_announced(tmp_path, frames_tmp, ffmpeg, caplog):
    path, _ = _points(tmp_path, n=302)
    assert heatmap.main(["-a", "-W", "40", "-o", str(tmp_path / "a.gif"), str(path)]) == 0
    assert "making 302 frames: a larger --frequency, or --frame_time, makes fewer" in caplog.text


CORNERS = {"top-left": (0, 0), "top-right": (9, 0), "bottom-left": (0, 9), "bottom-right": (9, 9)}


@pytest.mark.parametrize("empty", sorted(CORNERS))
def test_the_frame_label_goes_where_the_data_is_not(empty):
    """Tiles of 32 pixels with inputs in three corners of a 320 x 320 picture."""
    index = type("Index", (), {"ids": np.array([xy for c, xy in CORNERS.items() if c != empty])})
    geometry = type("Geometry", (), {"width": 320, "height": 320})
    assert heatmap._label_corner(index, (0, 0, 320, 320), geometry, 13) == empty


def test_the_frame_label_grows_with_the_frame(tmp_path):
    """Before: a 10-pixel bitmap font whatever the size; now about a 24th of the height."""
    if tuple(int(p) for p in __import__("PIL").__version__.split(".")[:2]) < (10, 1):
        pytest.skip("Pillow before 10.1 has one bitmap font size")
    picture = Image.new("RGBA", (800, 480), (0, 0, 0, 255))
    out = np.asarray(heatmap._draw_attribution(picture, "2024-05-01 07:42:00", "top-left", 20))
    box = np.argwhere((out[..., :3] > 100).all(2))
    assert box[:, 0].max() - box[:, 0].min() >= 15 and box[:, 1].max() - box[:, 1].min() > 150
