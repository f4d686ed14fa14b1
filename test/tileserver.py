"""A tiny map tile server on 127.0.0.1 for tests (no network needed).

Serves ``/{z}/{x}/{y}.png`` with generated 256x256 RGB tiles that look like
the ones of the reference checker: red = x pixel within the tile, green =
y pixel, blue = ``(31*x + 17*y + 5*z) % 256`` for tile z/x/y, and a dark
(40, 40, 40) grid line every 64 pixels, so a tile placed one pixel off shows.

Usage::

    with TileServer(mode="ok") as srv:
        url = srv.base_url + "/3/1/2.png"
        ...
        srv.count          # number of requests served so far
        srv.requests       # list of (path, user_agent)
        srv.mode = "500"   # switch behaviour on the fly

Modes:
    "ok"       every valid tile path gets its PNG (other paths: 404)
    "500"      every request gets HTTP 500
    "garbage"  200 with ``Content-Type: image/png`` and bytes that are no image
    "slow"     sleeps ``slow_seconds`` before answering (then answers as "ok")
    "flaky"    the first ``flaky_failures`` requests get HTTP 500, then "ok"
    "404"      every request gets HTTP 404

Hostile modes (a server that is slow on purpose, or sends what a tile must not be):
    "drip_body"     headers at once, then the first ``drip_bytes`` bytes of the tile one
                    every ``drip_seconds`` (each read gets a byte in time), then the rest
    "drip_headers"  the status line, then a header of ``drip_bytes`` bytes sent one byte
                    every ``drip_seconds`` (headers that never seem to end), then the tile
    "eps"           200 with a PostScript (EPS) "tile": decoding it would run Ghostscript
    "bmp"           200 with a valid 256x256 BMP (an image, but not a tile format)
    "tiff"          200 with a damaged TIFF on which Pillow raises TypeError
    "bomb"          200 with a small PNG declaring 9000x9000 pixels (a decompression bomb)

Only the standard library and Pillow are used; no pytest dependency.
"""

import http.server
import io
import struct
import threading
import zlib

from PIL import Image, ImageDraw

TILE_SIZE = 256
GRID_STEP = 64
GRID_RGB = (40, 40, 40)
MODES = ("ok", "500", "garbage", "slow", "flaky", "404", "drip_body", "drip_headers", "eps",
         "bmp", "tiff", "bomb")
GARBAGE = b"<html><body>this is not a tile</body></html>\n"
# An EPS file a 256x256 "tile": Pillow's EPS plugin would hand it to Ghostscript, which
# loops forever on it.
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 256 256\n%%EndComments\n"
       b"{ } loop\nshowpage\n%%EOF\n")
# found by test_fuzz.py: Pillow raises TypeError while loading this one
DAMAGED_TIFF = bytes.fromhex(
    "49492a0008000000080000010400010000000100000001010400010000000900000003010300010000000100"
    "000006010300010000000100000011010500010000006e000000160104000100000009000000170104000100"
    "0000090000001c0103000100000001000000000000000000000000000000")


def png_bomb(side=9000):
    """A valid grayscale PNG of side x side black pixels, about side**2 / 1000 bytes."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    packer, row = zlib.compressobj(9), b"\0" * (side + 1)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def bmp_tile():
    buf = io.BytesIO()
    tile_image(1, 0, 0).save(buf, "BMP")
    return buf.getvalue()


def tile_blue(z, x, y):
    """Blue channel value (0..255) of tile z/x/y."""
    return (31 * x + 17 * y + 5 * z) % 256


def tile_image(z, x, y):
    """The generated 256x256 RGB test tile z/x/y as a Pillow image."""
    green = Image.linear_gradient("L")            # value = row (0..255)
    red = green.transpose(Image.Transpose.TRANSPOSE)  # value = column
    blue = Image.new("L", (TILE_SIZE, TILE_SIZE), tile_blue(z, x, y))
    img = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(img)
    for k in range(0, TILE_SIZE, GRID_STEP):
        draw.line([(k, 0), (k, TILE_SIZE - 1)], fill=GRID_RGB)
        draw.line([(0, k), (TILE_SIZE - 1, k)], fill=GRID_RGB)
    return img


def tile_png(z, x, y):
    """PNG bytes of the generated tile z/x/y."""
    buf = io.BytesIO()
    tile_image(z, x, y).save(buf, "PNG")
    return buf.getvalue()


def parse_tile_path(path):
    """Return (z, x, y) for a path like ``/3/1/2.png`` (query ignored), or
    None when it is not a tile that exists at that zoom."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) != 3 or not parts[2].endswith(".png"):
        return None
    try:
        z, x, y = int(parts[0]), int(parts[1]), int(parts[2][:-4])
    except ValueError:
        return None
    if not (0 <= z <= 24 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return None
    return z, x, y


HOSTILE_BODIES = {"eps": lambda: EPS, "bmp": bmp_tile, "tiff": lambda: DAMAGED_TIFF,
                  "bomb": png_bomb}


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "TestTileServer/1.0"

    def do_GET(self):  # noqa: N802 (http.server API)
        owner = self.server.owner
        mode = owner.record(self.path, self.headers.get("User-Agent"))
        if mode == "slow":
            if owner.stopping.wait(owner.slow_seconds):
                return
            mode = "ok"
        if mode == "500":
            self._reply(500, b"internal error\n", "text/plain")
        elif mode == "404":
            self._reply(404, b"not found\n", "text/plain")
        elif mode == "garbage":
            self._reply(200, GARBAGE, "image/png")
        elif mode in HOSTILE_BODIES:
            self._reply(200, owner.body(mode), "image/png")
        elif mode.startswith("drip_"):
            self._drip(owner, mode)
        else:
            self._serve_tile(owner)

    def _drip(self, owner, mode):
        """Send a whole tile response, the first bytes of it (headers or body) slowly."""
        body = owner.tile(1, 0, 0)
        head = b"HTTP/1.1 200 OK\r\n"
        rest = (b"Content-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
        if mode == "drip_headers":
            slow, rest = b"X-Pad: " + b"a" * owner.drip_bytes + b"\r\n", rest
        else:
            head += rest[:rest.index(b"\r\n\r\n") + 4]
            slow, rest = body[:owner.drip_bytes], body[owner.drip_bytes:]
        self.close_connection = True
        try:
            self.wfile.write(head)
            for byte in slow:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if owner.stopping.wait(owner.drip_seconds):
                    return
            self.wfile.write(rest)
        except (BrokenPipeError, ConnectionResetError):
            owner.hung_up += 1  # the client gave up before the end

    def _serve_tile(self, owner):
        zxy = parse_tile_path(self.path)
        if zxy is None:
            self._reply(404, b"no such tile\n", "text/plain")
        else:
            self._reply(200, owner.tile(*zxy), "image/png")

    def _reply(self, status, body, content_type):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. it timed out)

    def log_message(self, *args):  # keep test output quiet
        pass


class TileServer:
    """Threaded HTTP tile server on 127.0.0.1 at an ephemeral port.

    Starts in the constructor; stop it with close() or use it as a context
    manager.  ``base_url`` has no trailing slash (``http://127.0.0.1:PORT``).
    """

    def __init__(self, mode="ok", slow_seconds=3.0, flaky_failures=1, drip_seconds=0.1,
                 drip_bytes=20):
        if mode not in MODES:
            raise ValueError("mode must be one of %s" % (MODES,))
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.flaky_failures = flaky_failures
        self.drip_seconds = drip_seconds
        self.drip_bytes = drip_bytes
        self.hung_up = 0      # drip responses the client abandoned
        self.requests = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._tiles = {}
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.base_url = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        daemon=True)
        self._thread.start()

    @property
    def count(self):
        """Number of requests received so far."""
        with self._lock:
            return len(self.requests)

    def reset(self):
        """Forget the recorded requests (the flaky counter starts again)."""
        with self._lock:
            self.requests = []

    def record(self, path, user_agent):
        """Log one request; return the mode that applies to it."""
        with self._lock:
            self.requests.append((path, user_agent))
            if self.mode == "flaky":
                return "500" if len(self.requests) <= self.flaky_failures \
                    else "ok"
            return self.mode

    def tile(self, z, x, y):
        """PNG bytes of tile z/x/y (generated once, then kept)."""
        with self._lock:
            body = self._tiles.get((z, x, y))
        if body is None:
            body = tile_png(z, x, y)
            with self._lock:
                self._tiles[(z, x, y)] = body
        return body

    def body(self, mode):
        """The bytes a hostile mode serves (made once, then kept)."""
        with self._lock:
            body = self._tiles.get(mode)
        if body is None:
            body = HOSTILE_BODIES[mode]()
            with self._lock:
                self._tiles[mode] = body
        return body

    def close(self):
        """Stop serving and release the port (wakes sleeping slow replies)."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
