"""The viewer page of --tiles, in a real browser.

A local http server on 127.0.0.1 serves the tile folder (index.html and the
tiles), Debian's Leaflet (libjs-leaflet) under /leaflet/ and a base map of
plain grey tiles under /base/; headless Chromium loads the page and takes a
screenshot, in which the heat must show where the data is: two clusters,
west and east of the middle of the view the page fits to the data.

Needs Debian's ``chromium`` and ``libjs-leaflet`` (.ci/run installs both);
without them the test is skipped, saying which is missing.
"""
import base64
import functools
import http.server
import io
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from conftest import cluster, plain_text  # noqa: E402

LEAFLET = "/usr/share/javascript/leaflet"
GREY = (128, 128, 128)
SIZE = (800, 600)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--hide-scrollbars", "--window-size=%d,%d" % SIZE]
PIPES_ON_3_AND_4 = ("import fcntl, os, sys; a, b = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) "
                    "for fd in sys.argv[1:3]); os.dup2(a, 3); os.dup2(b, 4); "
                    "os.execv(sys.argv[3], sys.argv[3:])")
# true once Leaflet has every tile of the view loaded (or failed: no heat there) and faded in
TILES_SHOWN = """(function () {
  var tiles = document.querySelectorAll("img.leaflet-tile");
  if (document.readyState !== "complete" || tiles.length === 0) return false;
  for (var i = 0; i < tiles.length; i++)
    if (!tiles[i].complete || (tiles[i].style.opacity && tiles[i].style.opacity !== "1")) return false;
  return true;
})()"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no chromium: the viewer test needs Debian's chromium (apt-get install chromium)")


def grey_tile():
    out = io.BytesIO()
    Image.new("RGB", (256, 256), GREY).save(out, "PNG")
    return out.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The tile folder at /, Leaflet at /leaflet/, grey base tiles at /base/."""
    grey = grey_tile()

    def send_response(self, code, message=None):
        self.server.answers.append((self.path, code))
        super().send_response(code, message)

    def do_GET(self):  # noqa: N802 (http.server API)
        self.server.paths.append(self.path)
        if self.path.startswith("/base/"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.grey)))
            self.end_headers()
            self.wfile.write(self.grey)
        else:
            super().do_GET()

    def translate_path(self, path):
        if path.startswith("/leaflet/"):
            return os.path.join(LEAFLET, os.path.basename(path.split("?")[0]))
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture
def site(tmp_path):
    """A server for tmp_path/tiles; yields its base URL."""
    (tmp_path / "tiles").mkdir()
    handler = functools.partial(_Handler, directory=str(tmp_path / "tiles"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.paths, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
    it reads JSON commands ending in NUL on its fd 3 and answers on its fd 4)."""

    def __init__(self, browser, profile, timeout=60.0):
        to_chrome, self.commands = os.pipe()
        self.answers, from_chrome = os.pipe()
        self.process = subprocess.Popen(   # a small Python puts the pipes on fds 3 and 4
            [sys.executable, "-c", PIPES_ON_3_AND_4, str(to_chrome), str(from_chrome), browser]
            + CHROMIUM_FLAGS + [
                "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
            pass_fds=(to_chrome, from_chrome), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1"))
        os.close(to_chrome)
        os.close(from_chrome)
        self.deadline = time.monotonic() + timeout
        self.received, self.count = b"", 0

    def call(self, method, session=None, **params):
        self.count += 1
        message = {"id": self.count, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._next()
            if answer.get("id") == self.count:
                assert "error" not in answer, (method, answer)
                return answer["result"]

    def _next(self):
        while b"\0" not in self.received:
            left = self.deadline - time.monotonic()
            assert left > 0 and select.select([self.answers], [], [], left)[0], "chromium hangs"
            chunk = os.read(self.answers, 1 << 16)
            assert chunk, "chromium quit: %s" % self.process.stderr.read()[-2000:]
            self.received += chunk
        message, self.received = self.received.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process.stderr.close()
            os.close(self.commands)
            os.close(self.answers)


def screenshot(browser, url, folder, ready=TILES_SHOWN, ask=None):
    """Chromium's picture of ``url`` (SIZE pixels) once the map's tiles show (or ``ready`` is
    true), as RGB; with ``ask``, also the value of that expression then."""
    tools = DevTools(browser, os.path.join(folder, "profile"))
    try:
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        page = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tools.call("Emulation.setDeviceMetricsOverride", page, width=SIZE[0], height=SIZE[1],
                   deviceScaleFactor=1, mobile=False)
        tools.call("Page.navigate", page, url=url)
        while not tools.call("Runtime.evaluate", page, expression=ready,
                             returnByValue=True)["result"].get("value"):
            time.sleep(0.1)
        data = tools.call("Page.captureScreenshot", page, format="png")["data"]
        answer = ask and tools.call("Runtime.evaluate", page, expression=ask,
                                    returnByValue=True)["result"]["value"]
    finally:
        tools.close()
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        shot = np.asarray(image.convert("RGB")).astype(int)
    return (shot, answer) if ask else shot


def test_the_viewer_shows_the_heat_where_the_data_is(run, write, tmp_path, site):
    browser, base = leaflet_site(site)
    west, east = cluster(1, 300, 47.6, -122.45, 0.01), cluster(2, 300, 47.6, -122.15, 0.01)
    write("data.txt", plain_text(west + east))
    assert run("--tiles", "tiles", "--tile_zoom", "9-13", "--osm_base", base + "/base",
               "--leaflet_url", base + "/leaflet", "data.txt") == (0, "")
    shot = screenshot(browser, base + "/index.html", str(tmp_path))
    assert shot.shape[:2] == SIZE[::-1]
    assert np.mean(np.all(shot == GREY, axis=2)) > 0.8, "no base map"
    heat = np.abs(shot[..., 0] - shot[..., 1]) > 30   # reds and yellows; map and controls are grey
    heat[-30:] = False                                   # the attribution line
    rows, cols = np.nonzero(heat)
    assert rows.size > 200, "no heat on the map (requests: %s)" % site.paths
    left, right = cols[cols < SIZE[0] / 2], cols[cols >= SIZE[0] / 2]
    assert left.size > 100 and right.size > 100             # both clusters
    assert not np.any(np.abs(cols - SIZE[0] / 2) < 100)     # nothing between them
    assert abs(left.mean() + right.mean() - SIZE[0]) < 30   # the view is centred on the data
    assert right.mean() - left.mean() > 300                 # and fitted to it
    assert abs(rows.mean() - SIZE[1] / 2) < 30 and np.ptp(rows) < 100
    assert any(p.startswith("/13/") or p.startswith("/11/") for p in site.paths)


def test_the_viewer_of_the_world_asks_only_for_tiles_that_exist(run, write, tmp_path, site):
    """Rides in Seattle, Berlin and Sydney: the view spans the world, where most tiles have no
    heat.  Before: one load asked for 3,434 tiles that were not there."""
    browser, base = leaflet_site(site)
    write("data.txt", plain_text(cluster(1, 200, 47.6, -122.3, 0.01) +
                                 cluster(2, 200, 52.5, 13.4, 0.01) +
                                 cluster(3, 200, -33.9, 151.2, 0.01)))
    assert run("--tiles", "tiles", "--osm_base", base + "/base", "--leaflet_url",
               base + "/leaflet", "data.txt") == (0, "")
    screenshot(browser, base + "/index.html", str(tmp_path))
    heat = [(path, code) for path, code in site.answers if path.endswith(".png")
            and not path.startswith("/base/")]
    assert heat and all(code == 200 for _, code in heat), heat


def test_the_viewer_says_when_leaflet_does_not_load(run, write, tmp_path, site):
    browser, base = leaflet_site(site)
    write("data.txt", plain_text(cluster(1, 50, 47.6, -122.3, 0.01)))
    assert run("--tiles", "tiles", "--tile_zoom", "9-10", "--osm_base", base + "/base",
               "--leaflet_url", base + "/offline", "data.txt") == (0, "")
    text = screenshot(browser, base + "/index.html", str(tmp_path),
                      'document.readyState === "complete"', "document.body.innerText")[1]
    assert "did not load from %s/offline/leaflet.js" % base in text and "--leaflet_url" in text


def leaflet_site(site):
    """(chromium, the site's base URL), or a skip naming what is missing."""
    browser = chromium()
    if not os.path.isfile(os.path.join(LEAFLET, "leaflet.js")):
        pytest.skip("no %s/leaflet.js: the viewer test needs Debian's libjs-leaflet" % LEAFLET)
    return browser, "http://127.0.0.1:%d" % site.server_address[1]


def test_folium_puts_a_grid_on_its_bounds(tmp_path, site):
    """render_grid + colour on a folium map (ImageOverlay(bounds=grid.bounds)): each point's heat
    lies where Leaflet puts the point, within a pixel."""
    folium = pytest.importorskip("folium")
    browser = chromium()
    if not os.path.isfile(os.path.join(LEAFLET, "leaflet.js")):
        pytest.skip("no %s/leaflet.js: the folium test needs Debian's libjs-leaflet" % LEAFLET)
    import heatmap
    base = "http://127.0.0.1:%d" % site.server_address[1]
    points = [(52.30, 4.80), (52.42, 4.95), (52.33, 5.05), (52.38, 4.86)]
    lat, lon = (np.array(v) for v in zip(*points))
    grid = heatmap.render_grid(lat, lon, width=300, radius=2, margin=10)
    picture = io.BytesIO()
    heatmap.colour(grid, background="red").save(picture, "PNG")   # opaque: its edges show too
    url = "data:image/png;base64," + base64.b64encode(picture.getvalue()).decode()
    page = folium.Map(tiles=None, zoom_control=False, attribution_control=False)
    page.default_js = [("leaflet", base + "/leaflet/leaflet.js")]    # no CDN: offline
    page.default_css = [("leaflet_css", base + "/leaflet/leaflet.css")]
    folium.raster_layers.ImageOverlay(url, bounds=grid.bounds).add_to(page)
    page.fit_bounds(grid.bounds)
    page.save(str(tmp_path / "tiles" / "map.html"))
    ready = ('document.readyState === "complete" && document.querySelector('
             '"img.leaflet-image-layer") !== null && document.querySelector('
             '"img.leaflet-image-layer").complete')
    ask = "JSON.stringify(%s.map(p => %s.latLngToContainerPoint(p)))" % (
        json.dumps([list(p) for p in points] + [list(c) for c in grid.bounds]), page.get_name())
    shot, answer = screenshot(browser, base + "/map.html", str(tmp_path), ready, ask)
    where = [(p["x"], p["y"]) for p in json.loads(answer)]
    image = (shot[..., 0] > 200) & (shot[..., 1] < 60)            # the red picture
    rows, cols = np.nonzero(image)
    (west, south), (east, north) = where[-2:]
    assert abs(cols.min() - west) <= 1 and abs(cols.max() + 1 - east) <= 1
    assert abs(rows.min() - north) <= 1 and abs(rows.max() + 1 - south) <= 1
    heat = (shot[..., 1] > 120) & (shot[..., 0] > 200)          # yellow: the heat
    pixel = (east - west) / grid.values.shape[1]                   # a grid pixel on the screen
    for x, y in where[:-2]:
        ys, xs = np.nonzero(heat[int(y) - 8:int(y) + 9, int(x) - 8:int(x) + 9])
        assert ys.size, "no heat at %s" % ((x, y),)
        assert abs(int(x) - 8 + xs.mean() + 0.5 - x) <= pixel + 0.5
        assert abs(int(y) - 8 + ys.mean() + 0.5 - y) <= pixel + 0.5


def _example_screenshot(path):
    """Write a screenshot of the viewer of the bundled examples to ``path``, on the
    synthetic map of test/tileserver.py (the picture in the README)."""
    import tempfile
    from tileserver import TileServer
    root = os.path.dirname(HERE)
    sys.path.insert(0, root)
    import heatmap
    with tempfile.TemporaryDirectory() as folder, TileServer() as tiles:
        handler = functools.partial(_Handler, directory=os.path.join(folder, "tiles"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.paths, server.answers = [], []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % server.server_address[1]
        examples = [os.path.join(root, "examples", n) for n in ("points.txt", "ride.gpx")]
        assert heatmap.main(["--tiles", os.path.join(folder, "tiles"), "--osm_base",
                             tiles.base_url, "--leaflet_url", base + "/leaflet"] + examples) == 0
        shot = screenshot(chromium(), base + "/index.html", folder)
        server.shutdown()
        server.server_close()
    Image.fromarray(shot.astype(np.uint8)).save(path, optimize=True)


if __name__ == "__main__":
    _example_screenshot(sys.argv[1])   # python test/test_viewer.py examples/tiles.png
