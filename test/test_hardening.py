"""Hardening, round two (issue 15) and output pipes (issue 10): adversarial cases.

Outputs that are devices, FIFOs or read-only; ``-o -``; decoders by allow-list with
sizes checked before decoding; hostile tile servers (test/tileserver.py); signals and
temp files; crafted state files; messages that must stay one printable line.
Every test here failed on the code before the fix (see each docstring).
"""
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import heatmap as hm  # noqa: E402
from conftest import SEATTLE, plain_text  # noqa: E402
from tileserver import EPS, TileServer, png_bomb  # noqa: E402

SCRIPT = os.path.join(ROOT, "heatmap.py")
W = ["-W", "40"]


@pytest.fixture
def pts(write):
    write("pts.txt", plain_text(SEATTLE))
    return "pts.txt"


@pytest.fixture
def main_bytes(tmp_path, monkeypatch, capsysbinary):
    """main_bytes(*args): heatmap.main in tmp_path; (code, stdout bytes, stderr bytes)."""
    monkeypatch.chdir(tmp_path)

    def _main(*args):
        capsysbinary.readouterr()
        code = hm.main([str(a) for a in args])
        out = capsysbinary.readouterr()
        return code, out.out, out.err
    return _main


def messages(err):
    """Our own lines of a run's text (the run fixture adds pytest's log capture)."""
    return [line for line in err.splitlines() if line.startswith("heatmap.py: ")]


def one_error(err, *parts):
    assert err.count("\n") == 1 and err.startswith("heatmap.py: error: "), repr(err)
    for part in parts:
        assert part in err, err


def reference_png(run, tmp_path, *args):
    """Bytes of the picture drawn into a regular file with the same options."""
    code, err = run(*args, "-o", "reference.png")
    assert (code, err) == (0, "")
    return (tmp_path / "reference.png").read_bytes()


def read_fifo_in_background(path):
    """Start a thread that reads the FIFO ``path`` to its end; returns (thread, chunks)."""
    chunks = []

    def read():
        with open(path, "rb") as stream:
            chunks.append(stream.read())
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, chunks


class HangWatch:
    """Notices a reader blocked on a FIFO (the old code opened -G/cached tiles that way
    and waited forever): after ``delay`` seconds it opens the FIFO for writing, which
    only succeeds when a reader waits, and closes it again, which releases the reader."""

    def __init__(self, path, delay=3.0):
        self.path, self.released, self.done = path, False, threading.Event()
        self.thread = threading.Thread(target=self._watch, args=(delay,), daemon=True)
        self.thread.start()

    def _watch(self, delay):
        if self.done.wait(delay):
            return
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.released = True
        except OSError:  # no reader: nobody waits on it
            pass

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.released


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


# ---- 1. devices, FIFOs and links to them are written into, never replaced ----
@pytest.mark.parametrize("flag", ["-o", "-S"])
@pytest.mark.parametrize("through_link", [False, True], ids=["fifo", "link_to_fifo"])
def test_output_onto_a_fifo_writes_into_it(run, pts, tmp_path, flag, through_link):
    """Before: the FIFO was replaced by a regular file (exit 0)."""
    os.mkfifo(tmp_path / "pipe")
    target = "pipe"
    if through_link:
        os.symlink("pipe", tmp_path / "link")
        target = "link"
    thread, chunks = read_fifo_in_background(tmp_path / "pipe")
    args = W + ([flag, target] if flag == "-o" else [flag, target, "-o", "out.png"])
    code, err = run(*args, "--output_format", "png", pts) if flag == "-o" else run(*args, pts)
    thread.join(10)
    assert (code, err) == (0, "")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)
    if through_link:
        assert os.path.islink(tmp_path / "link")
    data = chunks[0]
    if flag == "-o":
        assert data == reference_png(run, tmp_path, *W, pts)
    else:
        assert data.startswith(b"PK\x03\x04")
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def _device(tmp_path, name, kind, major, minor):
    if not is_root():
        pytest.skip("device nodes need root")
    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | kind, os.makedev(major, minor))
    except OSError as exc:  # e.g. a container without CAP_MKNOD
        pytest.skip("cannot make a device node here: %s" % exc)
    return path


@pytest.mark.parametrize("flag", ["-o", "-S"])
def test_output_onto_a_character_device_keeps_it(run, pts, tmp_path, flag):
    """A copy of /dev/null (1, 3).  Before: replaced by a regular file, as root
    `-o /dev/null` destroyed the system's."""
    node = _device(tmp_path, "null.png", stat.S_IFCHR, 1, 3)
    args = W + ([flag, "null.png"] if flag == "-o" else [flag, "null.png", "-o", "out.png"])
    assert run(*args, pts) == (0, "")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert os.stat(node).st_rdev == os.makedev(1, 3)


def test_output_onto_a_block_device_is_refused(run, pts, tmp_path):
    """Before: replaced by a regular file."""
    node = _device(tmp_path, "disk.png", stat.S_IFBLK, 7, 250)
    code, err = run(*W, "-o", "disk.png", pts)
    assert code == 2
    one_error(err, "disk.png: is not a regular file, a FIFO or a character device")
    assert stat.S_ISBLK(os.lstat(node).st_mode)


@pytest.mark.parametrize("flag", ["-o", "-S"])
def test_read_only_output_is_not_replaced(run, pts, tmp_path, flag):
    """Before: a 0444 output was silently replaced (the rename ignores its mode)."""
    name = "out.png" if flag == "-o" else "state.npz"
    (tmp_path / name).write_bytes(b"keep me")
    os.chmod(tmp_path / name, 0o444)
    code, err = run(*W, flag, name, pts)
    assert code == 2
    one_error(err, "%s: is read-only; refusing to replace it" % name)
    assert (tmp_path / name).read_bytes() == b"keep me"


def test_dev_stdout_appends_to_what_the_shell_opened(tmp_path):
    """-o /dev/stdout writes into descriptor 1 (here a `>>` file, whose start stays).
    Before: `unknown image type: no file extension`; and a rename would replace the file."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    (tmp_path / "log").write_bytes(b"before\n")
    with open(tmp_path / "log", "ab") as log:
        done = subprocess.run([sys.executable, SCRIPT, *W, "-o", "/dev/stdout", "pts.txt"],
                              cwd=tmp_path, stdout=log, stderr=subprocess.PIPE, timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    data = (tmp_path / "log").read_bytes()
    assert data.startswith(b"before\n\x89PNG")


# ---- issue 10: -o - writes the picture to standard output ----
def test_dash_output_is_the_same_picture_on_stdout(main_bytes, pts, tmp_path):
    assert main_bytes(*W, "-o", "want.png", pts) == (0, b"", b"")
    assert main_bytes(*W, "-o", "-", pts) == (0, (tmp_path / "want.png").read_bytes(), b"")
    assert sorted(os.listdir(tmp_path)) == ["pts.txt", "want.png"]


def test_dash_output_in_a_shell_redirect(tmp_path):
    """`heatmap.py -o - ... > a.png` gives the same picture as `-o b.png`, and nothing
    else reaches standard output."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    command = [sys.executable, SCRIPT, *W, "-o", "-", "pts.txt"]
    with open(tmp_path / "a.png", "wb") as out:
        done = subprocess.run(command, cwd=tmp_path, stdout=out, stderr=subprocess.PIPE,
                              timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    subprocess.run(command[:-3] + ["-o", "b.png", "pts.txt"], cwd=tmp_path, check=True,
                   timeout=60)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_output_format_names_the_type(main_bytes, pts, tmp_path):
    code, out, err = main_bytes(*W, "-o", "-", "--output_format", "jpg", pts)
    with Image.open(io.BytesIO(out)) as image:
        assert (code, err, image.format) == (0, b"", "JPEG")
    assert main_bytes(*W, "-o", "x.out", "--output_format", "WEBP", pts) == (0, b"", b"")
    with Image.open(tmp_path / "x.out") as image:
        assert image.format == "WEBP"


@pytest.mark.parametrize("args, message", [
    (["-o", "-", "--output_format", "xyz"], "--output_format xyz: unknown image type '.xyz'"),
    (["-o", "-", "-S", "-"], "-: -o/--output and -S/--save name the same file"),
    (["-a", "-o", "-"], "-: --animate needs the video type"),
    (["-a", "-o", "-", "--output_format", "m p4"], "is not a video type"),
])
def test_dash_output_errors(main_bytes, pts, args, message):
    code, out, err = main_bytes(*W, *args, pts)
    assert (code, out) == (2, b"")
    one_error(err.decode(), message)


def test_dash_output_refuses_a_terminal(run, pts, monkeypatch):
    class Terminal(io.BytesIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdout", Terminal())
    code, err = run(*W, "-o", "-", pts)
    assert code == 2
    one_error(err, "-: -o/--output would write binary data to the terminal")
    assert sys.stdout.getvalue() == b""


def test_output_format_without_output_warns(run, pts):
    code, err = run(*W, "--output_format", "jpg", "-S", "s.npz", pts)
    assert code == 0
    assert messages(err) == ["heatmap.py: warning: --output_format has no effect without "
                             "-o/--output"]


def test_animation_to_stdout(main_bytes, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE[:6]))
    code, out, err = main_bytes(*W, "-a", "--frequency", "3", "-o", "-", "--output_format",
                                "gif", "pts.txt")
    assert (code, err) == (0, b"") and out.startswith(b"GIF8")
    assert sorted(os.listdir(tmp_path)) == ["pts.txt"]


# ---- 2. decoders by allow-list; 13. sizes checked before decoding ----
def _image_bytes(fmt, size=(20, 20), mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "PPM", "TGA"])
def test_background_formats_users_give_are_read(run, pts, write, fmt):
    write("map.img", _image_bytes(fmt))
    assert run("-I", "map.img", "-o", "out.png", pts) == (0, "")


@pytest.fixture
def eps_spy(monkeypatch):
    """Records every time Pillow's EPS plugin so much as looks at some bytes."""
    Image.init()
    factory, accept = Image.OPEN["EPS"]
    calls = []

    def spying(prefix):
        calls.append(prefix[:4])
        return accept(prefix)
    monkeypatch.setitem(Image.OPEN, "EPS", (factory, spying))
    return calls


@pytest.mark.parametrize("option", ["-I", "-G"])
def test_eps_is_never_handed_to_pillow(run, pts, write, option, eps_spy):
    """Before: the EPS plugin took the file (and Ghostscript would run on it)."""
    write("evil.png", EPS)
    code, err = run(*W, option, "evil.png", "-o", "out.png", pts)
    assert code == 2
    one_error(err, "evil.png: cannot read", "not an image (PNG, JPEG, WEBP, GIF, BMP, TIFF, "
                                            "PPM or TGA)")
    assert eps_spy == []


@pytest.mark.skipif(not shutil.which("gs"), reason="needs Ghostscript")
def test_looping_postscript_runs_no_ghostscript(tmp_path):
    """With Ghostscript installed, the old code ran it on this file and never finished."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    (tmp_path / "loop.eps").write_bytes(EPS)
    done = subprocess.run([sys.executable, SCRIPT, "-I", "loop.eps", "-o", "out.png", "pts.txt"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not an image" in done.stderr


def test_image_size_is_checked_before_decoding(run, pts, write, monkeypatch):
    """A 2000x2000 -I PNG over a limit of 1e6 pixels is refused from its header.
    Before: decoded whole (a 12000x12000 one took 3.1 GB), then sized."""
    write("big.png", png_bomb(2000))
    monkeypatch.setenv("HEATMAP_MAX_PIXELS", "1000000")
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size))
    for option in ("-I", "-G"):
        code, err = run(*W, option, "big.png", "-o", "out.png", pts)
        assert code == 2
        one_error(err, "big.png: cannot read", "an image of 2000 x 2000 pixels is over the "
                                                "limit of 1000000 pixels")
    assert decoded == []


def test_inverted_background_in_strips_is_the_same(monkeypatch):
    """-N/-B work a strip of rows at a time on large images (7.5 GB -> 3.4 GB for a
    12000x12000 -I -N); the strips must give the whole image's pixels."""
    rng = np.random.RandomState(3)
    for mode in ("RGB", "RGBA"):
        image = Image.fromarray(rng.randint(0, 256, (37, 23, len(mode)), np.uint8), mode)
        for config in (hm.Config(invert_background=True), hm.Config(background_brightness=1.7)):
            whole = hm._transform_background(image, config)
            monkeypatch.setattr(hm, "_STRIP_PIXELS", 100)
            strips = hm._transform_background(image, config)
            monkeypatch.setattr(hm, "_STRIP_PIXELS", 1 << 22)
            assert strips.mode == whole.mode and strips.tobytes() == whole.tobytes()


def test_composite_alpha_in_integers_is_the_float_formula():
    a, b = np.meshgrid(np.arange(256), np.arange(256))
    table = np.zeros((256, 4), np.uint8)
    table[:, 3] = np.arange(256)   # heat alpha a from the value (a + 0.5) / 255
    back = Image.merge("RGBA", [Image.new("L", (256, 256))] * 3 +
                       [Image.fromarray(b.astype(np.uint8), "L")])
    got = hm._composite(np.where(a > 0, (a + 0.5) / 255, 0.0), 1.0, table, back)[..., 3]
    want = np.round(a + b * (255.0 - a) / 255).astype(np.uint8)
    assert np.array_equal(got, want)


# ---- 2, 3, 4, 13: hostile tile servers ----
@pytest.fixture(scope="module")
def _shared_server():
    with TileServer() as server:   # one for the module: stopping one takes half a second
        yield server


@pytest.fixture
def server(_shared_server):
    """The module's tile server in mode "ok", nothing recorded; set .mode for others."""
    _shared_server.mode, _shared_server.hung_up = "ok", 0
    _shared_server.drip_seconds, _shared_server.drip_bytes = 0.1, 20
    _shared_server.reset()
    return _shared_server


@pytest.fixture
def osm_run(run, pts, tmp_path, monkeypatch):
    """osm_run(server): --osm at zoom 3 (one tile) against ``server``; (code, err)."""
    monkeypatch.setattr(hm, "_OSM_TIMEOUT", 0.3)
    monkeypatch.setattr(hm, "_OSM_BACKOFF", 0.01)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    def _run(server, *args):
        return run(pts, "--osm", "--osm_base", server.base_url, "--osm_cache",
                   tmp_path / "cache", "-z", 3, "-o", "out.png", *args)
    return _run


@pytest.mark.parametrize("mode, message", [
    ("eps", "not an image (PNG, JPEG or WEBP)"),      # before: Ghostscript ran (or failed)
    ("bmp", "not an image (PNG, JPEG or WEBP)"),      # before: accepted
    ("tiff", "not an image (PNG, JPEG or WEBP)"),     # before: TypeError traceback
    ("bomb", "the image is 9000x9000 pixels, not 256x256"),  # before: decoded 3 times
    ("drip_body", "timed out: no whole response within 0.3 s"),     # before: read on
    ("drip_headers", "timed out: no whole response within 0.3 s"),  # before: read on
])
def test_hostile_tile_server(osm_run, server, tmp_path, mode, message, monkeypatch, eps_spy):
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        decoded.append(self.size)
        return real_load(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    server.mode = mode
    if not mode.startswith("drip"):
        server.body(mode)  # made before the clock runs (the bomb takes 0.4 s)
    code, err = osm_run(server)
    assert code == 2
    one_error(err, "cannot get map tile", message)
    assert not (tmp_path / "out.png").exists()
    assert not os.listdir(tmp_path / "cache") if (tmp_path / "cache").exists() else True
    assert eps_spy == [] and (9000, 9000) not in decoded
    if mode.startswith("drip"):
        for _ in range(50):   # we left before the server was done
            if server.hung_up:
                break
            time.sleep(0.05)
        assert server.hung_up >= 1


def test_cached_tile_that_is_a_fifo_does_not_hang(osm_run, server, tmp_path):
    """Before: reading the cache entry waited forever for a writer."""
    url = hm._tile_url(server.base_url, "/{z}/{x}/{y}.png", 3, 1, 2)
    entry = hm._cache_path(str(tmp_path / "cache"), url)
    os.makedirs(os.path.dirname(entry))
    os.mkfifo(entry)
    watch = HangWatch(entry)
    code, err = osm_run(server)
    assert not watch.stop()
    assert (code, err) == (0, "")
    assert stat.S_ISREG(os.lstat(entry).st_mode)  # replaced by the fetched tile


def _interrupt_script(body):
    return ("import sys; sys.path.insert(0, %r); import heatmap as hm\n%s" % (ROOT, body))


def signal_when(script, cwd, env, ready, signum):
    """Run ``script`` with python -c; once ready() (or it ended), send ``signum``;
    returns (exit status, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if ready() or proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_abandons_a_download_at_once(tmp_path, server, signum):
    """Headers that never finish (a byte every 0.1 s, 60 s per attempt allowed), six
    tiles.  Before: the first Ctrl-C waited for the downloads in the pool (and SIGTERM
    was not handled)."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    server.mode, server.drip_bytes = "drip_headers", 60000
    script = _interrupt_script(
        "hm._OSM_TIMEOUT = 60.0\nsys.exit(hm.main(['--osm', '--osm_base', %r, "
        "'--osm_no_cache', '-z', '3', '--osm_exact_size', '-W', '600', '-H', '300', "
        "'-o', 'out.png', 'pts.txt']))" % server.base_url)
    env = dict(os.environ, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
    asked = []

    def downloading():  # a little after the first request: the workers are reading
        asked.append(server.count)
        return len([n for n in asked if n]) > 6
    code, out, err = signal_when(script, tmp_path, env, downloading, signum)
    assert code == 128 + signum, err
    assert err.decode().startswith("heatmap.py: interrupted" if signum == signal.SIGINT else
                                   "heatmap.py: stopped by SIGTERM")
    assert out == b"" and os.listdir(tmp_path) == ["pts.txt"]


# ---- 11. SIGTERM and SIGHUP like Ctrl-C: every temp file removed ----
SLOW_WRITE = """
import os, time
real = hm._write_png
def slow(path, pixels):
    real(path, pixels)
    open('writing', 'w').close()
    time.sleep(60)
hm._write_png = slow
"""

FAKE_FFMPEG = """#!/bin/sh
for last; do :; done
printf 'partial video' > "$last"
touch "$PWD/encoding"
sleep 60
"""


@pytest.mark.parametrize("stage, signum", [("image", signal.SIGTERM), ("image", signal.SIGHUP),
                                           ("video", signal.SIGINT), ("video", signal.SIGTERM)])
def test_signal_while_writing_leaves_no_temp_file(tmp_path, signum, stage):
    """Before: SIGTERM/SIGHUP left .out.png.XXXX.part (no handler), and a signal
    during ffmpeg left out.PID.part.mp4."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "out.png").write_bytes(b"old picture")
    if stage == "image":
        body, marker, args = SLOW_WRITE, "writing", "['-W', '40', '-o', 'out.png', 'pts.txt']"
    else:
        ffmpeg = tmp_path / "ffmpeg"
        ffmpeg.write_text(FAKE_FFMPEG)
        os.chmod(ffmpeg, 0o755)
        body = "hm._find_ffmpeg = lambda: %r\n" % str(ffmpeg)
        marker, args = "encoding", "['-W', '40', '-a', '-o', 'out.mp4', 'pts.txt']"
    script = _interrupt_script(body + "sys.exit(hm.main(%s))" % args)
    code, out, err = signal_when(script, tmp_path, dict(os.environ, TMPDIR=str(tmp_path / "tmp")),
                                 (tmp_path / marker).exists, signum)
    assert code == 128 + signum, err
    assert sorted(os.listdir(tmp_path)) == sorted(["pts.txt", "tmp", "out.png", marker] +
                                                  (["ffmpeg"] if stage == "video" else []))
    assert os.listdir(tmp_path / "tmp") == []           # the frames folder too
    assert (tmp_path / "out.png").read_bytes() == b"old picture"


def test_sighup_stays_ignored_under_nohup():
    hup, term = signal.signal(signal.SIGHUP, signal.SIG_IGN), signal.getsignal(signal.SIGTERM)
    try:
        assert signal.SIGHUP not in hm._catch_stop_signals()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGHUP, hup)


# ---- 4. tracebacks left ----
@pytest.mark.parametrize("colour", ["rgb(256,0,0)", "hsl(0,101%,50%)", "hsv(0,101%,100%)"])
def test_colour_out_of_range_is_refused_up_front(run, pts, colour, monkeypatch):
    """Before: OverflowError after all the work."""
    monkeypatch.setitem(hm.READERS, "plain", lambda *a: pytest.fail("input was read"))
    code, err = run(*W, "-b", colour, "-o", "out.png", pts)
    assert code == 2
    one_error(err, "colour %r is out of range" % colour)


@pytest.mark.parametrize("extension, limit", [
    ("gif", 65535), ("tga", 65535), ("pcx", 65534), ("sgi", 65535), ("avif", 65536),
    ("jpg", 65500), ("webp", 16383)])
def test_format_size_limits_are_checked_before_the_work(run, pts, write, extension, limit,
                                                        monkeypatch):
    """Before: OverflowError, struct.error or RuntimeError tracebacks after the work."""
    monkeypatch.setattr(hm._Engine, "run", lambda *a, **k: pytest.fail("work was done"))
    write("row.txt", "47.6 -122.3\n47.6 -100\n")   # -W alone: a picture 70000 x 11
    for args in (["-W", 70000, "-H", 100, pts], ["-W", 70000, "row.txt"]):
        code, err = run(*args, "-o", "out." + extension)
        assert code == 2
        one_error(err, "images are at most %d pixels wide and high" % limit)


def test_frames_that_cannot_be_written_are_one_line(run, pts, tmp_path, monkeypatch):
    """A full temp folder while writing frames.  Before: OSError traceback."""
    monkeypatch.setattr(hm, "_find_ffmpeg", lambda: "ffmpeg")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)
    real = hm._write_png
    written = []

    def full(path, *args):
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        real(path, *args)
    monkeypatch.setattr(hm, "_write_png", full)
    code, err = run(*W, "-a", "-o", "out.mp4", pts)
    assert code == 2
    one_error(err, "cannot write the animation frames in", "No space left on device")
    assert os.listdir(tmp_path / "tmp") == [] and not (tmp_path / "out.mp4").exists()


def test_ffmpeg_writing_nothing_is_an_error(run, pts, tmp_path):
    """Before: "ffmpeg failed (exit 0)"."""
    pytest.importorskip("imageio_ffmpeg")
    code, err = run(*W, "-a", "-o", "out.mp4", "-F", "-f null", pts)
    assert code == 2
    one_error(err, "ffmpeg wrote no video (check -F/--ffmpegopts '-f null')")
    assert sorted(os.listdir(tmp_path)) == ["pts.txt"]


# ---- 6. crafted state files: bounded before reading ----
def _state_zip(box, entries, data=True):
    """A state file with ``entries`` zeros declared per column (written, if ``data``)."""
    from numpy.lib import format as npy
    meta = {"format": "heatmap.py-state", "version": 1, "heatmap": "x", "max": 1.0,
            "ppd": 100.0, "projection": "mercator", "box": box, "radius": 1, "margin": 0}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        buf = io.BytesIO()
        np.save(buf, np.array(json.dumps(meta)))
        archive.writestr("meta.npy", buf.getvalue())
        for name, dtype in (("x", "<i8"), ("y", "<i8"), ("value", "<f8")):
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                npy.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False,
                                                    "shape": (entries,)})
                member.write(bytes(8 * entries if data else 0))
    return out.getvalue()


def test_state_file_declaring_more_pixels_than_its_box_is_refused(run, write, monkeypatch):
    """65536 entries for a 10x10 box (and no more than 1000 pixels whatever the box).
    Before: read whole and drawn (a 7 MB file declaring 2**28 entries a column took
    12.9 GB and 74 s)."""
    monkeypatch.setattr(hm, "_STATE_MIN_CAPACITY", 1000)
    write("s.npz", _state_zip([0.0, 0.0, 9.0, 9.0], 1 << 16))
    real, read = np.lib.format.read_array, []

    def read_array(*args, **kwargs):
        read.append(1)
        assert len(read) == 1, "an array besides the metadata was read"
        return real(*args, **kwargs)
    monkeypatch.setattr(np.lib.format, "read_array", read_array)
    code, err = run("-L", "s.npz", "-o", "out.png")
    assert code == 2
    one_error(err, "s.npz: declares 65536 pixels, more than a state file of its box holds "
                   "(at most 1000)")


@pytest.mark.parametrize("box", [[-1e300, -1e300, 1e300, 1e300], [0.0, 0.0, 1e300, 5.0]])
def test_state_box_of_1e300_is_refused(run, write, box):
    """Before: OverflowError traceback."""
    write("s.npz", _small_state(box))
    code, err = run("-L", "s.npz", "-o", "out.png")
    assert code == 2
    one_error(err, "s.npz: not a heatmap.py state file")


def _small_state(box):
    meta = {"format": "heatmap.py-state", "version": 1, "heatmap": "x", "max": 1.0,
            "ppd": 100.0, "projection": "mercator", "box": box, "radius": 1, "margin": 0}
    out = io.BytesIO()
    np.savez(out, meta=np.array(json.dumps(meta)), x=np.array([3], np.int64),
             y=np.array([4], np.int64), value=np.array([1.0]))
    return out.getvalue()


def test_saved_state_keeps_only_the_pictures_pixels(run, write, tmp_path):
    """Data outside --extent no longer goes into -S (-L never drew it), and -L draws the
    same picture as before."""
    write("pts.txt", plain_text(SEATTLE + [(10.0, 10.0)]))
    args = ["-W", 40, "-e", "47.6,-122.34,47.62,-122.31", "pts.txt"]
    assert run(*args, "-o", "a.png", "-S", "s.npz") == (0, "")
    with np.load(tmp_path / "s.npz") as data:
        box = json.loads(str(data["meta"][()]))["box"]
        assert data["x"].min() >= box[0] - 1 and data["x"].max() <= box[2] + 1
    assert run("-L", "s.npz", "-o", "b.png") == (0, "")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# ---- 14. smaller ones ----
def test_gradient_fifo_is_refused_not_waited_on(run, pts, tmp_path):
    """Before: -G on a FIFO waited forever for a writer."""
    os.mkfifo(tmp_path / "grad.png")
    watch = HangWatch(str(tmp_path / "grad.png"))
    code, err = run(*W, "-G", "grad.png", "-o", "out.png", pts)
    assert not watch.stop()
    assert code == 2
    one_error(err, "grad.png: cannot read gradient image: is not a regular file")


def test_background_fifo_says_what_it_is(run, pts, tmp_path):
    """Before: "no such background image"."""
    os.mkfifo(tmp_path / "map.png")
    code, err = run(*W, "-I", "map.png", "-o", "out.png", pts)
    assert code == 2
    one_error(err, "map.png: cannot read background image: is not a regular file")


def test_extent_the_long_way_round_says_so(run, pts, tmp_path):
    """Before: silently drew the 340 degree side."""
    code, err = run(*W, "--extent=-10,170,10,-170", "-o", "out.png", pts)
    assert code == 0
    assert messages(err) == ["heatmap.py: warning: --extent spans 340 degrees of longitude, "
                             "from -170 to 170, the long way round: a box never crosses the "
                             "antimeridian (180 degrees)"]
    assert run(*W, "--extent=-80,-180,80,180", "-o", "out.png", pts) == (0, "")


def test_control_characters_in_names_are_escaped(run):
    """Before: the escape sequence reached the terminal as it was."""
    code, err = run(*W, "-o", "out.png", "red\x1b[31m\u202e.txt")
    assert code == 2
    one_error(err, "red\\x1b[31m\\u202e.txt: no such file")
    assert "\x1b" not in err and "\u202e" not in err


@pytest.mark.parametrize("args, code", [(["nope.txt"], 2), (["pts.txt"], 0)])
def test_closed_stderr_keeps_the_exit_status(tmp_path, args, code):
    """`2>&-`.  Before: exit 1 (writing to the missing stderr raised)."""
    (tmp_path / "pts.txt").write_text(plain_text(SEATTLE))
    done = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, SCRIPT, *W,
                           "-o", "out.png", *args], cwd=tmp_path, timeout=60)
    assert done.returncode == code
    assert (tmp_path / "out.png").exists() == (code == 0)
    if code == 0:
        assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")


def test_repeated_warnings_are_summarised(run, write):
    """50 bad weights: five lines, then one that counts the rest.  Before: 50 lines."""
    write("w.csv", "".join("47.6%02d,-122.3%02d,heavy\n" % (i, i) for i in range(50)))
    code, err = run(*W, "-o", "out.png", "w.csv")
    assert code == 0
    lines = messages(err)
    assert lines[:5] == ["heatmap.py: warning: w.csv:%d: weight 'heavy' is not a number; "
                         "using 1" % n for n in range(1, 6)]
    assert lines[5:] == ["heatmap.py: warning: 45 more warnings like this one (-v shows them): "
                         "w.csv:1: weight 'heavy' is not a number; using 1"]
    code, err = run(*W, "-v", "-o", "out.png", "w.csv")
    assert [line for line in err.splitlines() if "heavy" in line][49].startswith(
        "heatmap.py: warning: w.csv:50: weight")


def test_huge_field_width_in_the_tile_template_is_refused(run, pts):
    """Before: "out of memory"."""
    code, err = run("--osm", "-W", 100, "--osm_path_template", "/{x:>99999999999}", "-o",
                    "out.png", pts)
    assert code == 2
    one_error(err, "{x:>99999999999} is wider than 64 characters")


# ---- 11. issue 24: the outputs never delete or alter what is not ours ----
def _users_database(path):
    import sqlite3
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE bookmarks (url TEXT)")
        db.execute("INSERT INTO bookmarks VALUES ('https://example.org')")
    db.close()
    return path.read_bytes()


@pytest.mark.parametrize("out", ["maps", "m.mbtiles"])
def test_a_users_file_appearing_mid_run_is_not_replaced(run, pts, tmp_path, monkeypatch, out):
    """A folder (holding thesis.tex) or a database made at the --tiles path while the tiles are
    drawn.  Before: replaced at the end, thesis.tex gone, our tables added to the database."""
    png, target = hm._tile_png, tmp_path / out

    def users_file_appears(*args):
        if not target.exists():
            if out == "maps":
                target.mkdir()
                (target / "thesis.tex").write_text("my thesis")
            else:
                _users_database(target)
        return png(*args)
    monkeypatch.setattr(hm, "_tile_png", users_file_appears)
    code, err = run("--tile_zoom", "11", "--tiles", out, pts)
    before = {"maps": "maps: holds thesis.tex", "m.mbtiles": "m.mbtiles: is not an MBTiles"}
    assert code == 2
    one_error(messages(err)[0] + "\n", before[out], "--tiles replaces only what it made")
    assert sorted(os.listdir(tmp_path)) == sorted([out, pts])   # no .part left either
    if out == "maps":
        assert (target / "thesis.tex").read_text() == "my thesis"
    else:
        import sqlite3
        with sqlite3.connect(str(target)) as db:
            assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["bookmarks"]
        db.close()


@pytest.mark.parametrize("out", ["maps", "m.mbtiles"])
def test_tiles_through_a_link_check_and_replace_its_target(run, pts, tmp_path, out):
    """Before: a link to someone's database was written into (our tables added to it)."""
    target = tmp_path / "theirs" / out
    target.parent.mkdir()
    if out == "maps":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
        before = {"notes.txt": b"mine"}
    else:
        before = {out: _users_database(target)}
    link = "link.mbtiles" if out != "maps" else "link"
    os.symlink(target, tmp_path / link)
    code, err = run("--tile_zoom", "11", "--tiles", link, pts)
    assert code == 2 and "--tiles replaces only what it made" in err
    from test_errors import _snapshot
    assert _snapshot(target.parent if out != "maps" else target) == before
    shutil.rmtree(target.parent)
    target.parent.mkdir()
    assert run("--tile_zoom", "11", "--tiles", link, pts) == (0, "")   # ours: replaced, in place
    assert os.path.islink(tmp_path / link) and target.exists()
    assert run("--tile_zoom", "12", "--tiles", link, pts) == (0, "")
    assert os.path.islink(tmp_path / link)


def test_tiles_refuse_the_home_folder(run, pts, tmp_path, monkeypatch):
    """Before: `--tiles ~` (and the working folder, and `/`) were replaced like any folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    code, err = run("--tiles", "home", pts)
    assert code == 2
    one_error(err, "home: replacing it would delete %s" % (tmp_path / "home"))


def test_world_file_beside_a_device_creates_nothing_there(run, pts):
    """Before: /dev/null.wld and /dev/null.aux.xml were created (as root)."""
    code, err = run(*W, "-o", os.devnull, "--world_file", pts)
    assert code == 2 and "--world_file needs -o/--output FILE" in err
    assert not os.path.exists(os.devnull + ".wld")
    assert not os.path.exists(os.devnull + ".aux.xml")


# ---- 12. issue 24: bombs fail in one line, in bounded time and memory ----
def _gz_members(*parts):
    """A multi-member gzip: each (bytes, times) packed once, its member repeated."""
    import gzip
    return b"".join(gzip.compress(data) * times for data, times in parts)


RUN_ON = b"2" * (1 << 24)
BOMBS = {   # name: (file, bytes, message); 1.5 GB unpacked from about 1.5 MB
    "gpx_time": ("t.gpx.gz", lambda: _gz_members(
        (b'<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>', 1), (RUN_ON, 96)),
        "a tag or text runs on"),
    "tcx_time": ("t.tcx.gz", lambda: _gz_members(
        (b"<TrainingCenterDatabase><Activities><Activity><Lap><Track><Trackpoint><Time>", 1),
        (RUN_ON, 96)), "a tag or text runs on"),
    "geojson_string": ("g.geojson.gz", lambda: _gz_members(
        (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
         b'{"name": "', 1), (RUN_ON, 96)), "a JSON value runs on"),
    "geojson_spaces": ("g.geojson.gz", lambda: _gz_members(
        (b'{"type": "FeatureCollection", "features": [{"type": "Point", "coordinates": [1, 2]},',
         1), (b" " * (1 << 24), 128)), "a JSON value runs on"),
    "takeout_string": ("Records.json.gz", lambda: _gz_members(
        (b'{"locations": [{"latitudeE7": 1, "longitudeE7": 2, "x": "', 1), (RUN_ON, 96)),
        "a JSON value runs on"),
    "kml_spaces": ("k.kml.gz", lambda: _gz_members(
        (b"<kml><Placemark><Point><coordinates>", 1), (b" " * (1 << 24), 96)),
        "a tag or text runs on"),
    "text_line": ("p.txt.gz", lambda: _gz_members((b"47.6 -122.3\n", 1), (b" " * (1 << 24), 96)),
                  "2: the line is longer than"),
}


def _capped(args, cwd):
    """(exit status, stderr, seconds, peak MB) of heatmap.py in a child under a 4 GB cap."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    with open(os.path.join(cwd, "err.txt"), "wb") as err:
        start = time.monotonic()
        child = subprocess.Popen([sys.executable, SCRIPT] + args, cwd=cwd, stderr=err,
                                 stdout=subprocess.DEVNULL, preexec_fn=cap)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
    with open(os.path.join(cwd, "err.txt")) as stream:
        return child.returncode, stream.read(), seconds, usage.ru_maxrss / 1024


@pytest.mark.skipif(sys.platform != "linux", reason="rlimits and ru_maxrss in kilobytes")
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_bombs_fail_in_one_line_quickly_and_small(tmp_path, bomb):
    """Before: 1.5 GB of time text, JSON string or spaces from 1.5 MB peaked at 3.1 GB.  The
    run caps (16 MB) come before the ratio cap (100 times; its tests are in the error table)."""
    name, data, message = BOMBS[bomb]
    (tmp_path / name).write_bytes(data())
    code, err, seconds, peak = _capped(["-W", "40", "-o", "out.png", name], str(tmp_path))
    one_error(err, message)
    assert code == 2 and seconds < 10 and peak < 500, (seconds, peak)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="rlimits and ru_maxrss in kilobytes")
def test_blank_lines_and_an_unread_dbf_cost_little(tmp_path):
    """100 MB of blank lines; a zipped shapefile whose .dbf declares 3 GB.  Before: 2-2.5 GB,
    and the .dbf was unpacked whole into memory."""
    pytest.importorskip("shapefile")
    from test_errors import _shapefile, _zip
    with open(tmp_path / "p.txt", "wb") as out:
        out.write(b"47.6 -122.3\n" + b"\n" * (100 << 20) + b"47.7 -122.2\n")
    shp, shx, _ = _shapefile(1)
    zipped = bytearray(_zip({"p.shp": shp, "p.shx": shx, "p.dbf": b" " * 1000}))
    for magic, size in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = zipped.rfind(magic)   # the last member: p.dbf declares 3 GB
        zipped[at + size:at + size + 4] = (3 << 30).to_bytes(4, "little")
    (tmp_path / "s.zip").write_bytes(bytes(zipped))
    for name in ("p.txt", "s.zip"):
        code, err, seconds, peak = _capped(["-W", "40", "-o", "out.png", name], str(tmp_path))
        assert code == 0 and "error" not in err and seconds < 10 and peak < 500, (err, peak)


# ---- 13. issue 24: formats by structure, not by a word ----
@pytest.mark.parametrize("name, data, kind", [
    ("p", "47.6 -122.3\n47.7 -122.2\n".encode("utf-16-le"), "plain"),
    ("p", "47.6,-122.3\n47.7,-122.2\n".encode("utf-16-be"), "csv"),
    ("t", '<gpx><trk><trkseg><trkpt lat="47.6" lon="-122.3"/><trkpt lat="47.7" lon="-122.2"/>'
          '</trkseg></trk></gpx>'.encode("utf-16-le"), "gpx"),
    ("t", b'<?xml version="1.0"?>\n<!-- made from a <kml> file -->\n<gpx><trk><trkseg><trkpt '
          b'lat="47.6" lon="-122.3"/><trkpt lat="47.7" lon="-122.2"/></trkseg></trk></gpx>', "gpx"),
    ("g", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
          b'{"latitudeE7": 1}, "geometry": {"type": "Point", "coordinates": [-122.3, 47.6]}}]}',
     "geojson"),
    ("r", b'[{"latitudeE7": 476000000, "longitudeE7": -1223000000}]', "takeout"),
], ids=["utf16le_text", "utf16be_csv", "utf16le_gpx", "gpx_comment_naming_kml",
        "geojson_with_latitudeE7", "takeout_array"])
def test_formats_are_told_by_structure(write, name, data, kind):
    """Before: UTF-16 without a byte-order mark gave "no track points"; a comment naming <kml>
    made a GPX file KML; a latitudeE7 property made GeoJSON Takeout."""
    with hm._opened_input(str(write(name, data))) as source:
        assert hm._filetype(source, "auto") == kind
    lat = np.concatenate([b[0] for b in hm.read([str(write(name, data))])])
    assert lat.min() == pytest.approx(47.6)
