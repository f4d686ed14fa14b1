"""--osm: zoom, crop and exact size, attribution, the tile cache, fetch errors.

Every test talks to the tile server of test/tileserver.py on 127.0.0.1
(never the internet) and keeps its tile cache under tmp_path.  The test
tiles encode their own pixel position (red = x, green = y within the tile,
dark grid lines every 64 pixels), so a misplaced tile shows.
"""
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import heatmap as hm  # noqa: E402
from tileserver import GRID_RGB, TileServer  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference", "cases", "osm_tiles")


@pytest.fixture(autouse=True)
def _fast_and_local(monkeypatch, tmp_path):
    """Short timeouts and retry pauses, no proxy for 127.0.0.1, and a default cache
    folder inside tmp_path (so nothing reaches the real ~/.cache)."""
    monkeypatch.setattr(hm, "_OSM_TIMEOUT", 0.3)
    monkeypatch.setattr(hm, "_OSM_BACKOFF", 0.01)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def _shared_server():
    with TileServer(slow_seconds=2.0) as srv:
        yield srv


@pytest.fixture
def server(_shared_server):
    """The module's tile server, back in mode "ok" with no requests recorded (one
    server for all tests: stopping one takes half a second)."""
    _shared_server.mode = "ok"
    _shared_server.flaky_failures = 1
    _shared_server.reset()
    return _shared_server


@pytest.fixture
def osm(run, seattle, server, tmp_path):
    """osm(*args): run --osm on the Seattle points with the local server and the cache
    in tmp_path/cache; returns (exit code, error text)."""
    def _osm(*args, cache=True):
        extra = ["--osm_cache", tmp_path / "cache"] if cache else []
        return run(seattle, "--osm", "--osm_base", server.base_url, *extra, *args)
    return _osm


def image(path):
    with Image.open(path) as img:
        img.load()
        return img


def zooms(server):
    """Zoom levels of the tiles requested so far."""
    return {int(p.strip("/").split("/")[0]) for p, _ in server.requests}


def padded_span(zoom, padding=5):
    """(width, height) pixels of the Seattle points plus padding at ``zoom``."""
    from conftest import SEATTLE
    lats, lons = zip(*SEATTLE)
    box_ll = hm._Box(min(lons), min(lats), max(lons), max(lats))
    box = hm._project_box(hm.PROJECTIONS["mercator"], box_ll, hm._zoom_ppd(zoom))
    return box.max_x - box.min_x + 2 * padding, box.max_y - box.min_y + 2 * padding


def assert_map_continuous(img, rows=(0,)):
    """Along each row, away from grid lines, red grows by 1 per pixel (mod 256): the
    tiles are pasted edge to edge without a gap or an offset."""
    px = np.asarray(img.convert("RGB")).astype(int)
    for y in rows:
        grid = np.all(px[y] == GRID_RGB, axis=1)
        ok = ~grid[:-1] & ~grid[1:]
        steps = (px[y, 1:, 0] - px[y, :-1, 0]) % 256
        assert ok.sum() > 10
        assert np.all(steps[ok] == 1), "tiles misplaced in row %d" % y


def one_error_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("heatmap.py: error: ")
    return lines[0]


# ---- the picture ----
@pytest.mark.skipif(not os.path.isdir(REFERENCE), reason="shared/reference not beside the repo")
def test_reference_case_is_pixel_identical(run, server, tmp_path):
    shutil.copy(os.path.join(REFERENCE, "seattle.txt"), tmp_path)
    code, err = run("--osm", "--osm_base", server.base_url, "--osm_cache", tmp_path / "c",
                    "-W", 360, "-o", "out.png", "seattle.txt")
    assert code == 0, err
    got, want = image(tmp_path / "out.png"), image(os.path.join(REFERENCE, "expected.png"))
    assert (got.mode, got.size) == (want.mode, want.size)
    assert got.tobytes() == want.tobytes()


def test_auto_zoom_is_the_largest_that_fits(osm, server, tmp_path):
    code, err = osm("-W", 360, "-o", "out.png")
    assert code == 0, err
    (zoom,) = zooms(server)
    assert padded_span(zoom)[0] <= 360 < padded_span(zoom + 1)[0]
    out = image(tmp_path / "out.png")
    assert out.mode == "RGB" and out.size[0] <= 360   # cropped to the data, as 1.14
    assert abs(out.size[0] - padded_span(zoom)[0]) <= 1.5
    assert_map_continuous(out, rows=(0, out.size[1] - 1))


def test_auto_zoom_takes_the_tighter_of_width_and_height(osm, server):
    code, err = osm("-W", 2000, "-H", 150, "-o", "out.png")
    assert code == 0, err
    (zoom,) = zooms(server)
    assert padded_span(zoom)[1] <= 150 < padded_span(zoom + 1)[1]


def test_explicit_zoom_needs_no_size(osm, server, tmp_path):
    code, err = osm("-z", 13, "-o", "out.png")
    assert code == 0, err
    assert zooms(server) == {13}
    width, height = image(tmp_path / "out.png").size
    span_w, span_h = padded_span(13)
    assert abs(width - span_w) <= 1.5 and abs(height - span_h) <= 1.5


def test_brightness_and_inversion_apply_to_the_map(osm, tmp_path):
    for name, args in (("plain.png", ()), ("dark.png", ("-B", 0.5)), ("inv.png", ("-N",))):
        code, err = osm("-z", 12, "-o", name, *args)
        assert code == 0, err
    plain = image(tmp_path / "plain.png").convert("RGB").getpixel((1, 1))
    dark = image(tmp_path / "dark.png").convert("RGB").getpixel((1, 1))
    inverted = image(tmp_path / "inv.png").convert("RGB").getpixel((1, 1))
    assert dark == tuple(int(c * 0.5) for c in plain)
    assert max(inverted) == 255 - max(plain)


def test_library_render_with_osm(server, tmp_path):
    config = hm.Config(osm=True, osm_base=server.base_url, zoom=12,
                       osm_cache=str(tmp_path / "cache"))
    img = hm.render([47.61, 47.612], [-122.33, -122.331], config)
    assert img.mode == "RGB" and zooms(server) == {12}


# ---- --osm_exact_size ----
@pytest.mark.parametrize("args, size", [
    (("-W", 300, "-H", 200), (300, 200)),
    (("-W", 500, "-H", 400, "-z", 12), (500, 400)),
    (("-H", 250), (None, 250)),
])
def test_exact_size(osm, tmp_path, args, size):
    code, err = osm("--osm_exact_size", *args, "-o", "out.png")
    assert code == 0, err
    out = image(tmp_path / "out.png")
    assert out.size[1] == size[1]
    assert out.size[0] == size[0] if size[0] else out.size[0] > 0
    assert_map_continuous(out, rows=(0, out.size[1] - 1))


def test_exact_size_keeps_the_default_zoom(osm, server):
    assert osm("-W", 300, "-H", 200, "-o", "a.png", "--osm_no_cache", cache=False)[0] == 0
    plain = zooms(server)
    server.reset()
    assert osm("--osm_exact_size", "-W", 300, "-H", 200, "-o", "b.png", "--osm_no_cache",
               cache=False)[0] == 0
    assert zooms(server) == plain


def test_default_size_is_the_cropped_data(osm, tmp_path):
    assert osm("-W", 300, "-H", 300, "-o", "out.png")[0] == 0
    assert image(tmp_path / "out.png").size != (300, 300)


# ---- --osm_attribution ----
def test_attribution_changes_only_the_corner(osm, tmp_path):
    for name, args in (("plain.png", ()), ("credit.png", ("--osm_attribution",)),
                       ("own.png", ("--osm_attribution", "Map: test server"))):
        code, err = osm("-W", 360, "-o", name, *args)
        assert code == 0, err
    plain, credit, own = (np.asarray(image(tmp_path / n)) for n in
                          ("plain.png", "credit.png", "own.png"))
    assert plain.shape == credit.shape == own.shape
    height, width = plain.shape[:2]
    differs = np.any(plain != credit, axis=2)
    ys, xs = np.nonzero(differs)
    assert ys.size > 50
    assert ys.min() > height - 30 and xs.min() > width // 3   # only the bottom-right corner
    assert not differs[: height - 30].any()
    assert np.any(credit != own)                               # the text is the user's


def test_attribution_is_off_by_default():
    assert hm.Config().osm_attribution is None
    args = hm._parser().parse_args(["--osm", "-W", "100", "x.txt"])
    assert args.osm_attribution is None and not args.osm_exact_size
    args = hm._parser().parse_args(["--osm_attribution", "--osm", "x.txt"])
    assert args.osm_attribution == hm._OSM_ATTRIBUTION


# ---- the tile cache ----
def test_cache_miss_then_hit(osm, server, tmp_path):
    assert osm("-W", 360, "-o", "a.png")[0] == 0
    first = server.count
    assert first > 0
    files = os.listdir(tmp_path / "cache")
    assert len(files) == first and all(f.endswith(".tile") for f in files)
    server.reset()
    assert osm("-W", 360, "-o", "b.png")[0] == 0
    assert server.count == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_default_cache_folder_is_xdg(osm, server, tmp_path):
    assert osm("-z", 12, "-o", "a.png", cache=False)[0] == 0
    folder = tmp_path / "xdg" / "heatmap.py" / "tiles"
    assert len(os.listdir(folder)) == server.count > 0
    server.reset()
    assert osm("-z", 12, "-o", "b.png", cache=False)[0] == 0
    assert server.count == 0


def test_no_cache_neither_reads_nor_writes(osm, server, tmp_path):
    for name in ("a.png", "b.png"):
        assert osm("-z", 12, "--osm_no_cache", "-o", name, cache=False)[0] == 0
    assert server.count > 0 and server.count % 2 == 0
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_bad_responses_are_never_cached(osm, server, tmp_path, mode):
    server.mode = mode
    code, err = osm("-z", 12, "-o", "out.png")
    assert code == 2
    one_error_line(err)
    cache = tmp_path / "cache"
    assert not cache.exists() or not os.listdir(cache)
    server.mode = "ok"
    server.reset()
    assert osm("-z", 12, "-o", "out.png")[0] == 0
    assert len(os.listdir(tmp_path / "cache")) == server.count > 0


def test_corrupt_cache_entry_is_refetched(osm, server, tmp_path):
    assert osm("-z", 12, "-o", "a.png")[0] == 0
    victim = tmp_path / "cache" / sorted(os.listdir(tmp_path / "cache"))[0]
    victim.write_bytes(b"not a tile")
    server.reset()
    assert osm("-z", 12, "-o", "b.png")[0] == 0
    assert server.count == 1
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_stale_cache_is_used_when_the_server_fails(osm, server, tmp_path, monkeypatch):
    assert osm("-z", 12, "-o", "a.png")[0] == 0
    monkeypatch.setattr(hm, "_OSM_CACHE_MAX_AGE", -1.0)   # every entry is stale
    server.mode = "500"
    code, err = osm("-z", 12, "-o", "b.png")
    assert code == 0 and "using the cached copy" in err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# ---- fetch errors ----
@pytest.mark.parametrize("mode, message", [
    ("500", "HTTP 500"), ("garbage", "not an image"), ("404", "HTTP 404"), ("slow", "timed out"),
])
def test_server_errors(osm, server, tmp_path, monkeypatch, mode, message):
    monkeypatch.setattr(hm, "_OSM_RETRIES", 1)
    server.mode = mode
    code, err = osm("-W", 360, "-o", "out.png")
    assert code == 2
    assert message in one_error_line(err)
    assert not (tmp_path / "out.png").exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]


def test_retries_then_succeeds(osm, server, tmp_path):
    server.mode, server.flaky_failures = "flaky", 2
    code, err = osm("-z", 12, "-o", "out.png")
    assert code == 0, err
    assert server.count == len(os.listdir(tmp_path / "cache")) + 2


@pytest.mark.parametrize("mode, requests", [("404", 1), ("500", 1 + hm._OSM_RETRIES)])
def test_what_is_retried(osm, server, mode, requests):
    server.mode = mode
    assert osm("-z", 5, "-o", "out.png")[0] == 2   # the data lies in one tile at zoom 5
    assert server.count == requests


def test_unreachable_server(run, seattle, tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    code, err = run("--osm", "--osm_base", "http://127.0.0.1:%d" % port, "--osm_no_cache",
                    "-W", 300, "-o", "out.png", seattle)
    assert code == 2
    one_error_line(err)
    assert not (tmp_path / "out.png").exists()


def test_user_agent(osm, server):
    assert osm("-z", 12, "-o", "out.png")[0] == 0
    agents = {ua for _, ua in server.requests}
    assert agents == {hm._USER_AGENT}
    assert hm._USER_AGENT.startswith("heatmap.py/%s " % hm.__version__)


# ---- option errors ----
@pytest.mark.parametrize("args, message", [
    ((), "needs -W/--width, -H/--height or -z/--zoom"),
    (("-W", 300, "-L", "saved.npz"), "-L/--load"),
    (("-W", 300, "-s", 10), "-s/--scale"),
    (("-W", 300, "-P", "equirectangular"), "Mercator"),
    (("-z", -1), "-z/--zoom"),
    (("-z", 12, "--osm_exact_size"), "--osm_exact_size needs"),
    (("-W", 300, "--osm_path_template", "/{z}/{x}/{y}{key}.png"), "bad map tile URL"),
    (("-W", 8), "no room"),
    (("-z", 22), "limit of %d" % hm._OSM_MAX_TILES),
])
def test_option_errors(osm, server, tmp_path, args, message):
    code, err = osm(*args, "-o", "out.png")
    assert code == 2
    assert message in one_error_line(err)
    assert server.count == 0
    assert not (tmp_path / "out.png").exists()


def test_zoom_without_osm_warns(run, seattle):
    code, err = run("-W", 100, "-z", 12, "-o", "out.png", seattle)
    assert code == 0 and "-z/--zoom has no effect without --osm" in err


# ---- the real command, with osmviz unavailable ----
def test_command_line_without_osmviz(seattle, server, tmp_path):
    """A separate process in which ``import osmviz`` fails: --osm works, and a server
    error exits 2 with one line on stderr and no output file."""
    code = ("import sys; sys.modules['osmviz'] = None; sys.path.insert(0, %r); "
            "import heatmap; sys.exit(heatmap.main(sys.argv[1:]))" % ROOT)
    base = [sys.executable, "-c", code, "--osm", "--osm_base", server.base_url,
            "--osm_cache", str(tmp_path / "cache"), "-W", "200"]
    env = dict(os.environ, no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
    ok = subprocess.run(base + ["-o", "ok.png", seattle], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert image(tmp_path / "ok.png").mode == "RGB"
    server.mode = "404"
    bad = subprocess.run(base + ["--osm_no_cache", "-o", "bad.png", seattle], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "HTTP 404" in one_error_line(bad.stderr)
    assert not (tmp_path / "bad.png").exists()
