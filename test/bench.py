#!/usr/bin/env python3
"""Benchmark for heatmap.py: wall time and peak memory on realistic data.

Usage (from the repository root):

    python test/bench.py [--cmd "python -m heatmap"] [--vs "COMMAND"]
                         [--quick] [--only SUBSTR[,SUBSTR...]] [--keep DIR]
                         [--repeat N] [--timeout SECONDS] [--vs-max-points N]
                         [--vs-max-gpx N]
    python test/bench.py --startup [--vs "COMMAND"] [--bin DIR] [--runs N]

Examples:

    .venv/bin/python test/bench.py --quick
    .venv/bin/python test/bench.py --vs /work/orig/bin/heatmap77
    .venv/bin/python test/bench.py --only extent --keep /tmp/bench
    .venv/bin/python test/bench.py --startup --vs /work/orig/bin/heatmap77

What it does:

* Writes seeded (numpy.random.default_rng) data files to a temporary
  directory, in chunks so that even 3e7 points never sit in memory at once:
  clustered ``lat lon`` points around cities of the Puget Sound area,
  weighted points (``lat lon weight``, weight 1..50) and a GPX 1.1 file of
  bike-ride-like random walks (one ``<trkseg>`` of a few thousand points per
  ride, one point a second, each ``<trkpt>`` with ``<ele>`` and ``<time>``).
* Runs every workload (see ``FULL`` and ``QUICK`` below) as a separate child
  process writing a PNG, and reports its wall time (time.perf_counter) and
  peak RSS; a program whose runs are short (under 10 s in all) is run up to
  ``--repeat`` times (default 3), the same rule for both programs, and the
  fastest time is kept, since a short run on a shared machine is noisy (``ru_maxrss`` from ``os.wait4`` on that one child).  Each child
  is started through a tiny launcher process (see LAUNCHER) so that the
  benchmark's own memory never counts in the child's peak RSS.
* With ``--vs COMMAND`` runs the other program on the same files and options
  (only for workloads up to ``--vs-max-points`` points, or ``--vs-max-gpx``
  GPX track points; bigger rows say "skipped"), prints its time, memory and
  the speed-up (their seconds / our seconds), and compares the two PNGs
  pixel by pixel (pixels transparent in both count as identical).
* The ``tiles`` rows run ``--tiles`` into a folder (zooms 10-16) instead of
  writing a PNG, and report the number of tiles written (from its
  metadata.json) where the other rows compare pictures; the original has no
  --tiles, so --vs skips them.
* For the plain-text workload also times ``numpy.loadtxt`` parsing the same
  file in a child process and prints ours/loadtxt (target <= 0.7); for the two
  extent workloads compares peak RSS (target: big one <= 400 MB and within
  20 % of the small one).
* ``--only columnar,dask,arrays`` (issue 23): the same points as text and as Parquet
  without --extent at 1e7 and 1e8 points, taking turns (``--repeat``, at least 5), with
  median wall and CPU seconds and peak RSS; ``--dask local:2`` on the 1e8 points in 16
  Parquet files; ``render(lat, lon)`` on 3e7 and 1e8 in-memory points, its peak above the
  arrays.  Needs pyarrow (and dask for the dask row).
* Ends with a markdown table (for test/BENCHMARKS.md) and the target checks.

Every child gets ``--timeout`` seconds (default 900), after which it is
killed and reported as "timeout".  A failing child (non-zero exit) shows its
last stderr line in its row; the benchmark goes on with the other rows and
exits non-zero at the end.  Temporary files are removed unless ``--keep DIR``
is given; then data and pictures are written there (and data files already
there are reused, since generation is deterministic).

``--startup`` measures start-up instead: every command draws the same
100-point file (``-W 400``), ``--runs`` times each, the commands taking turns,
and the table gives median and fastest wall times and the median minus that of
``python -c "import numpy"`` (the floor for any NumPy program).  The commands:
``python -c "import numpy"``, ``python -m heatmap``, ``python heatmap.py`` (the
file as a script), the installed ``heatmap`` and ``heatmap.py`` commands found
in ``--bin`` (default: the folder of this Python), and ``--vs``.

Commands are split with shlex; the default ``--cmd`` is this Python
interpreter running ``-m heatmap``, with the directory above ``test/`` first
on PYTHONPATH and heatmap.py byte-compiled first: what the installed
``heatmap`` command runs.  ``--cmd "python heatmap.py"`` measures the file
run as a script, which Python compiles on every run (about 50 ms more).
Only numpy and Pillow are needed.
"""

import argparse
import math
import os
import py_compile
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

SEED = 20240517
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 250_000            # points generated and written at a time
KM_PER_DEG = 111.32

# (name, lat, lon, share of the points, gaussian spread in km)
CITIES = [
    ("Seattle", 47.6062, -122.3321, 0.34, 4.0),
    ("Bellevue", 47.6101, -122.2015, 0.12, 3.0),
    ("Tacoma", 47.2529, -122.4443, 0.16, 3.5),
    ("Everett", 47.9790, -122.2021, 0.10, 3.0),
    ("Redmond", 47.6740, -122.1215, 0.07, 2.0),
    ("Bremerton", 47.5673, -122.6326, 0.06, 2.5),
    ("Olympia", 47.0379, -122.9007, 0.08, 3.0),
    ("Kent", 47.3809, -122.2348, 0.07, 2.5),
]
NOISE_SHARE = 0.02         # uniformly spread over the region's bounding box
REGION = (46.95, -123.05, 48.10, -121.95)   # lat1, lon1, lat2, lon2
# Central part of the clusters: Seattle, Bellevue, Redmond, part of Bremerton.
EXTENT = "47.45,-122.60,47.75,-122.05"

REPEAT_BUDGET = 10.0       # seconds: short runs are repeated, long ones run once
RSS_LIMIT_MB = 400
RSS_GROWTH = 0.20
LOADTXT_TARGET = 0.7


# --------------------------------------------------------------------------
# workloads

@dataclass
class Workload:
    name: str
    kind: str              # "points", "weighted" or "gpx"
    n: int                 # number of points / track points
    options: list
    role: str = ""         # "loadtxt", "extent-small", "extent-large"
    tiles: bool = False    # --tiles into a folder instead of -o PNG
    results: dict = field(default_factory=dict)


def sci(n):
    """1e5 for 100000, 3e7 for 30000000, 2e3 for 2000."""
    exp = int(math.floor(math.log10(n)))
    return f"{n / 10 ** exp:g}e{exp}"


def opts(text):
    return shlex.split(text)


R5 = opts("-r 5 -d 0.95 -W 800")
R15 = opts("-r 15 -d 0.95 -W 800")
EXT = opts(f"--extent {EXTENT} -W 800 -d 0.95")
TILES = opts("--tile_zoom 10-16")


def workloads(sizes):
    """Build the workload list from a dict of sizes."""
    s = sizes
    return [
        Workload(f"points-{sci(s['points'])}-r5", "points", s["points"], R5),
        Workload(f"points-{sci(s['points15'])}-r15", "points", s["points15"],
                 R15),
        Workload(f"plain-{sci(s['plain'])}-r5", "points", s["plain"],
                 opts("-r 5 -W 800"), "loadtxt"),
        Workload(f"extent-{sci(s['extent_small'])}", "points",
                 s["extent_small"], EXT, "extent-small"),
        Workload(f"extent-{sci(s['extent_large'])}", "points",
                 s["extent_large"], EXT, "extent-large"),
        Workload(f"gpx-{sci(s['gpx15'])}-r15", "gpx", s["gpx15"], R15),
        Workload(f"gpx-{sci(s['gpx'])}-r5", "gpx", s["gpx"],
                 opts("-r 5 -d 0.8 -W 800")),
        Workload(f"weighted-{sci(s['weighted'])}-r5", "weighted",
                 s["weighted"], R5),
        Workload(f"tiles-{sci(s['tiles'])}-z10-16", "points", s["tiles"],
                 TILES, tiles=True),
        Workload(f"gpx-tiles-{sci(s['gpx_tiles'])}-z10-16", "gpx",
                 s["gpx_tiles"], TILES, tiles=True),
    ]


FULL = dict(points=100_000, points15=100_000, plain=10_000_000,
            extent_small=3_000_000, extent_large=30_000_000,
            gpx15=20_000, gpx=1_000_000, weighted=1_000_000,
            tiles=1_000_000, gpx_tiles=100_000)
# Small enough that even the original heatmap77 on both sides takes ~1 min.
QUICK = dict(points=10_000, points15=2_000, plain=20_000,
             extent_small=1_000, extent_large=10_000,
             gpx15=2_000, gpx=5_000, weighted=5_000,
             tiles=10_000, gpx_tiles=5_000)


# --------------------------------------------------------------------------
# data generation

def format_rows(fmt, columns):
    """Format equally long columns row by row with one %-format."""
    m = len(columns[0])
    flat = [None] * (m * len(columns))
    for i, col in enumerate(columns):
        flat[i::len(columns)] = col.tolist()
    return ((fmt * m) % tuple(flat)).encode("ascii")


def clustered(rng, m):
    """m clustered (lat, lon) points around CITIES plus a little noise."""
    lat0, lon0, share, spread = (np.array([c[i] for c in CITIES], float)
                                 for i in (1, 2, 3, 4))
    idx = rng.choice(len(CITIES), size=m, p=share / share.sum())
    sd_lat = spread[idx] / KM_PER_DEG
    sd_lon = sd_lat / np.cos(np.radians(lat0[idx]))
    lat = lat0[idx] + rng.standard_normal(m) * sd_lat
    lon = lon0[idx] + rng.standard_normal(m) * sd_lon
    noise = rng.random(m) < NOISE_SHARE
    k = int(noise.sum())
    lat[noise] = rng.uniform(REGION[0], REGION[2], k)
    lon[noise] = rng.uniform(REGION[1], REGION[3], k)
    return lat, lon


def write_points(path, n, rng, weighted):
    with open(path, "wb") as f:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            lat, lon = clustered(rng, m)
            if weighted:
                w = rng.integers(1, 51, m)
                f.write(format_rows("%.6f %.6f %d\n", (lat, lon, w)))
            else:
                f.write(format_rows("%.6f %.6f\n", (lat, lon)))


def ride(rng, m, day):
    """One bike ride: m points, one per second, ~5-8 m apart."""
    c = CITIES[rng.integers(len(CITIES))]
    lat0 = c[1] + rng.normal(0, c[4] / 2) / KM_PER_DEG
    lon0 = c[2] + rng.normal(0, c[4] / 2) / KM_PER_DEG / math.cos(
        math.radians(c[1]))
    turns = rng.normal(0, 0.04, m)
    corners = rng.random(m) < 0.004             # street corners
    turns[corners] += rng.choice([-1, 1], int(corners.sum())) * math.pi / 2
    heading = rng.uniform(0, 2 * math.pi) + np.cumsum(turns)
    speed = np.clip(6.5 + np.cumsum(rng.normal(0, 0.05, m)), 2.0, 11.0)
    north = np.cumsum(np.cos(heading) * speed) / 1000 / KM_PER_DEG
    east = np.cumsum(np.sin(heading) * speed) / 1000 / KM_PER_DEG
    lat = lat0 + north
    lon = lon0 + east / math.cos(math.radians(lat0))
    ele = 40 + np.abs(np.cumsum(rng.normal(0, 0.15, m)))
    t0 = np.datetime64("2024-04-01T07:30:00") + np.timedelta64(day, "D")
    times = np.datetime_as_string(t0 + np.arange(m).astype("m8[s]"))
    return lat, lon, ele, times


GPX_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="heatmap bench" '
            b'xmlns="http://www.topografix.com/GPX/1/1">\n  <trk>\n    <name>Bike rides</name>\n')
GPX_TAIL = b"  </trk>\n</gpx>\n"


def write_ride(f, rng, m, day):
    """One <trkseg> of ride(rng, m, day)."""
    f.write(b"    <trkseg>\n")
    f.write(format_rows('      <trkpt lat="%.6f" lon="%.6f"><ele>%.1f</ele>'
                        '<time>%sZ</time></trkpt>\n', ride(rng, m, day)))
    f.write(b"    </trkseg>\n")


def write_gpx(path, n, rng):
    lo = min(2000, max(100, n // 4))
    with open(path, "wb") as f:
        f.write(GPX_HEAD)
        done, day = 0, 0
        while done < n:
            m = min(int(rng.integers(lo, lo * 5 // 2 + 1)), n - done)
            write_ride(f, rng, m, day)
            done, day = done + m, day + 1
        f.write(GPX_TAIL)


def rides_files(datadir, n, count):
    """``count`` GPX files of one ride each (a Strava export), n track points in all, each
    ride 0.5 to 1.5 times the mean length; generated on first use."""
    folder = os.path.join(datadir, f"rides-{count}-{n}")
    if not os.path.isdir(folder):
        rng = np.random.default_rng([SEED, n, 3])
        share = np.cumsum(rng.uniform(0.5, 1.5, count))
        sizes = np.diff(np.r_[0, np.round(share * n / share[-1])]).astype(int)
        os.makedirs(folder + ".part", exist_ok=True)
        for day, m in enumerate(sizes.tolist()):
            with open(os.path.join(folder + ".part", "ride-%03d.gpx" % day), "wb") as f:
                f.write(GPX_HEAD)
                write_ride(f, rng, m, day)
                f.write(GPX_TAIL)
        os.replace(folder + ".part", folder)
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def data_file(datadir, kind, n):
    """Path of the data file for (kind, n), generated on first use."""
    ext = "gpx" if kind == "gpx" else "txt"
    path = os.path.join(datadir, f"{kind}-{n}.{ext}")
    if os.path.exists(path):
        return path
    rng = np.random.default_rng([SEED, n, ["points", "weighted",
                                           "gpx"].index(kind)])
    t = time.perf_counter()
    tmp = path + ".part"
    if kind == "gpx":
        write_gpx(tmp, n, rng)
    else:
        write_points(tmp, n, rng, kind == "weighted")
    os.replace(tmp, path)
    print(f"# generated {os.path.basename(path)}: "
          f"{os.path.getsize(path) / 2**20:.0f} MB in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    return path


# --------------------------------------------------------------------------
# running children

@dataclass
class Run:
    status: str            # "ok", "fail", "timeout", "skipped"
    seconds: float = 0.0
    mb: float = 0.0
    note: str = ""         # last stderr line on failure
    cpu: float = 0.0       # user + system seconds (with the children it waited for)


def last_line(*paths):
    for p in paths:
        try:
            with open(p, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        lines = [x.strip() for x in lines if x.strip()]
        if lines:
            return lines[-1][:160]
    return ""


# A forked child inherits the parent's memory map, and Linux carries its
# high-water mark over exec into the child's ru_maxrss: measured directly,
# every child would look at least as big as this benchmark ever was.  So each
# child is started by this tiny launcher (a bare "python -I -S", ~8 MB), which
# times it and writes its wait4() rusage to a file: "exit seconds maxrss_kib cpu_s".
LAUNCHER = r"""
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as e:
    sys.exit("cannot start: %s" % e)
_, status, usage = os.wait4(pid, 0)
t = time.perf_counter() - t
with open(result, "w") as f:
    f.write("%d %.6f %d %.6f" % (os.waitstatus_to_exitcode(status), t,
                                 usage.ru_maxrss, usage.ru_utime + usage.ru_stime))
"""


def kill_group(pid, flag):
    flag.append(True)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_launcher(proc, timeout):
    """Wait for the launcher; return (seconds, timed out)."""
    timed_out = []
    timer = threading.Timer(timeout, kill_group, (proc.pid, timed_out))
    t0 = time.perf_counter()
    timer.start()
    # Wait without reaping, so the timer can never kill a reused pid.
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    seconds = time.perf_counter() - t0
    timer.cancel()
    timer.join()
    proc.wait()
    return seconds, bool(timed_out)


def run_child(argv, timeout, logbase):
    """Run argv; return Run with wall seconds and the child's peak RSS."""
    out, err, res = (logbase + x for x in (".stdout", ".stderr", ".result"))
    if os.path.exists(res):
        os.remove(res)
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, res] + argv,
            stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
            start_new_session=True)
    seconds, timed_out = wait_launcher(proc, timeout)
    if timed_out:
        return Run("timeout", seconds, note=f"killed after {timeout:g} s")
    try:
        with open(res) as f:
            code, seconds, kib, cpu = f.read().split()
    except (OSError, ValueError):
        return Run("fail", seconds, note=last_line(err, out))
    run = Run("ok", float(seconds), int(kib) / 1024, cpu=float(cpu))
    if int(code) != 0:
        run.status, run.note = "fail", f"exit {code}: " + last_line(err, out)
    return run


def best_of(start, repeat):
    """Run start() up to ``repeat`` times while the runs so far took under
    REPEAT_BUDGET seconds; the fastest time and the largest RSS."""
    runs = [start()]
    while (len(runs) < repeat and runs[-1].status == "ok"
           and sum(r.seconds for r in runs) < REPEAT_BUDGET):
        runs.append(start())
    if runs[-1].status != "ok":
        return runs[-1]
    return Run("ok", min(r.seconds for r in runs), max(r.mb for r in runs))


def run_program(cmd, wl, path, png, timeout, repeat=1):
    out = png[:-4] + ".tiles" if wl.tiles else png
    argv = shlex.split(cmd) + wl.options + ["--tiles" if wl.tiles else "-o", out, path]

    def start():
        if os.path.isdir(out):
            shutil.rmtree(out)
        elif os.path.exists(out):
            os.remove(out)
        run = run_child(argv, timeout, png[:-4])
        if run.status == "ok" and not os.path.exists(out):
            run.status, run.note = "fail", "no output"
        return run
    return best_of(start, repeat)


def tile_count(folder):
    """'N tiles' from the metadata.json of a --tiles folder."""
    import json
    with open(os.path.join(folder, "metadata.json")) as f:
        return f"{json.load(f)['tile_count']} tiles"


def run_loadtxt(path, timeout, logbase, repeat=1):
    code = "import sys, numpy; numpy.loadtxt(sys.argv[1])"
    return best_of(lambda: run_child([sys.executable, "-c", code, path], timeout, logbase),
                   repeat)


# --------------------------------------------------------------------------
# pictures

def compare_png(a, b):
    """Describe how alike two PNGs are, e.g. 'same 100.00%'."""
    ia, ib = Image.open(a), Image.open(b)
    if ia.size != ib.size:
        return f"DIFF size {ia.size[0]}x{ia.size[1]} vs " \
               f"{ib.size[0]}x{ib.size[1]}"
    mode = "" if ia.mode == ib.mode else f" mode {ia.mode}/{ib.mode}"
    pa = np.asarray(ia.convert("RGBA"), dtype=np.int16)
    pb = np.asarray(ib.convert("RGBA"), dtype=np.int16)
    diff = np.abs(pa - pb).max(axis=2)
    diff[(pa[..., 3] == 0) & (pb[..., 3] == 0)] = 0
    maxdiff = int(diff.max())
    pct = math.floor((diff == 0).mean() * 10000) / 100
    if maxdiff == 0 and not mode:
        return "same 100.00%"
    return f"DIFF {pct:.2f}% maxdiff {maxdiff}{mode}"


# --------------------------------------------------------------------------
# reporting

COLS = ["workload", "ours s", "ours MB", "vs s", "vs MB", "speed-up",
        "picture"]


def cells(run):
    if run is None:
        return ["", ""]
    if run.status == "ok":
        return [f"{run.seconds:.2f}", f"{run.mb:.0f}"]
    if run.status == "timeout":
        return ["timeout", ""]
    if run.status == "skipped":
        return ["skipped", "skipped"]
    return ["FAIL", f"{run.mb:.0f}" if run.mb else ""]


def row(wl):
    ours, vs = wl.results["ours"], wl.results.get("vs")
    speed = ""
    if vs and ours.status == "ok" and vs.status == "ok":
        speed = f"{vs.seconds / ours.seconds:.1f}x"
    notes = [wl.results.get("picture", "")]
    for who, run in (("ours", ours), ("vs", vs)):
        if run and run.note:
            notes.append(f"{who} {run.status}: {run.note}")
    return [wl.name] + cells(ours) + cells(vs) + [speed,
                                                  "; ".join(n for n in notes
                                                            if n)]


WIDTHS = [18, 9, 9, 9, 9, 10, 0]


def print_row(values):
    text = "".join(v.ljust(w) if i == 0 else v.rjust(w) if w else "  " + v
                   for i, (v, w) in enumerate(zip(values, WIDTHS)))
    print(text.rstrip(), flush=True)


def markdown(wls):
    lines = ["| " + " | ".join(COLS) + " |",
             "|" + "|".join(["---"] + ["---:"] * 5 + ["---"]) + "|"]
    for wl in wls:
        vals = [v.replace("|", "\\|") for v in row(wl)]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def verdict(ok):
    return "OK" if ok else "MISSED"


def target_lines(wls):
    """Target checks: ours/loadtxt and extent memory growth."""
    lines = []
    for wl in wls:
        ours, lt = wl.results["ours"], wl.results.get("loadtxt")
        if wl.role == "loadtxt" and lt:
            if ours.status == "ok" and lt.status == "ok":
                r = ours.seconds / lt.seconds
                lines.append(
                    f"{wl.name}: ours {ours.seconds:.2f} s, numpy.loadtxt "
                    f"{lt.seconds:.2f} s ({lt.mb:.0f} MB), ours/loadtxt = "
                    f"{r:.2f} (target <= {LOADTXT_TARGET}): "
                    f"{verdict(r <= LOADTXT_TARGET)}")
            else:
                lines.append(f"{wl.name}: ours/loadtxt not measured "
                             f"(ours {ours.status}, loadtxt {lt.status} "
                             f"{lt.note})")
    small = [w for w in wls if w.role == "extent-small"]
    large = [w for w in wls if w.role == "extent-large"]
    if small and large:
        s, g = small[0].results["ours"], large[0].results["ours"]
        if s.status == "ok" and g.status == "ok":
            growth = g.mb / s.mb - 1
            ok = g.mb <= RSS_LIMIT_MB and growth <= RSS_GROWTH
            lines.append(
                f"extent RSS: {large[0].name} {g.mb:.0f} MB vs "
                f"{small[0].name} {s.mb:.0f} MB ({growth:+.0%}; target <= "
                f"{RSS_LIMIT_MB} MB and <= {RSS_GROWTH:+.0%}): {verdict(ok)}")
        else:
            lines.append("extent RSS: not measured (a run failed)")
    return lines


# --------------------------------------------------------------------------
# start-up (--startup)

STARTUP_POINTS = 100


def startup_commands(args, path, png):
    """(label, argv, PYTHONPATH) of every command to time; each draws ``path`` into
    ``png``.  ``python -m heatmap`` imports the repository's module (byte-compiled);
    the installed commands run with the environment as it is."""
    draw = ["-W", "400", "-o", png, path]
    py, here = sys.executable, os.environ.get("PYTHONPATH")
    commands = [('python -c "import numpy"', [py, "-c", "import numpy"], here),
                ("python -m heatmap", [py, "-m", "heatmap"] + draw,
                 os.pathsep.join(p for p in (REPO, here) if p)),
                ("python heatmap.py (the file as a script)",
                 [py, os.path.join(REPO, "heatmap.py")] + draw, here)]
    for name in ("heatmap", "heatmap.py"):
        installed = os.path.join(args.bin, name)
        if os.path.isfile(installed):
            commands.append((f"{installed} (installed)", [installed] + draw, here))
        else:
            print(f"# no {installed}: not timed")
    if args.vs:
        commands.append((args.vs, shlex.split(args.vs) + draw, here))
    return commands


def startup(args):
    """Time start-up, the commands taking turns; print a markdown table."""
    workdir = tempfile.mkdtemp(prefix="heatmap-startup-")
    try:
        rng = np.random.default_rng(SEED)
        path, png = os.path.join(workdir, "p100.txt"), os.path.join(workdir, "out.png")
        write_points(path, STARTUP_POINTS, rng, weighted=False)
        commands = startup_commands(args, path, png)
        times = {label: [] for label, _, _ in commands}
        for _ in range(args.runs):
            for label, argv, pythonpath in commands:
                os.environ.pop("PYTHONPATH", None)
                os.environ.update({"PYTHONPATH": pythonpath} if pythonpath else {})
                run = run_child(argv, args.timeout, os.path.join(workdir, "child"))
                if run.status != "ok":
                    sys.exit(f"{label}: {run.status} {run.note}")
                times[label].append(run.seconds * 1000)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    floor = float(np.median(times[commands[0][0]]))
    print(f"\n{args.runs} runs each, {STARTUP_POINTS} points, -W 400 "
          f"({time.strftime('%Y-%m-%d')})\n")
    print("| command | median ms | fastest ms | median - numpy import ms |")
    print("|---|---:|---:|---:|")
    for label, _, _ in commands:
        median = float(np.median(times[label]))
        print(f"| `{label}` | {median:.0f} | {min(times[label]):.0f} | {median - floor:+.0f} |")


# --------------------------------------------------------------------------
# input rows: readers against their peers and floors (issues 10, 13, 15)

REFERENCE = "import heatmap; heatmap._FAST = False; "   # every fast path off
RUN_HEATMAP = "import runpy, sys; sys.argv[0] = 'heatmap'; runpy.run_module('heatmap', run_name='__main__')"
READ_ONLY = ("import sys, heatmap; n = 0\nfor b in heatmap.read(sys.argv[1:]): n += len(b[0])\n"
             "print(n)")
INPUT_TARGETS = {"builtin": 1.0, "fast path": 0.67, "geojson": 1.5, "gpx.gz": 1.5}


def geojson_file(datadir, points_path, n):
    """The points of a plain file as a GeoJSON FeatureCollection of Point features."""
    path = os.path.join(datadir, f"points-{n}.geojson")
    if not os.path.exists(path):
        table = np.loadtxt(points_path, max_rows=n)
        with open(path + ".part", "w") as f:
            f.write('{"type": "FeatureCollection", "features": [\n')
            for start in range(0, n, CHUNK):
                part = table[start:start + CHUNK]
                f.write(",\n".join('{"type": "Feature", "properties": {}, "geometry": '
                                   '{"type": "Point", "coordinates": [%.6f, %.6f]}}'
                                   % (lon, lat) for lat, lon in part.tolist()))
                f.write(",\n" if start + CHUNK < n else "\n")
            f.write("]}\n")
        os.replace(path + ".part", path)
    return path


def gz_file(path):
    import gzip
    if not os.path.exists(path + ".gz"):
        with open(path, "rb") as src, gzip.open(path + ".gz.part", "wb", 6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(path + ".gz.part", path + ".gz")
    return path + ".gz"


def no_times_file(path):
    """A GPX file like ``path`` without its <time> elements."""
    out = path.replace(".gpx", "-notime.gpx")
    if not os.path.exists(out):
        import re
        with open(path, "rb") as src:
            data = re.sub(rb"<time>[^<]*</time>", b"", src.read())
        with open(out + ".part", "wb") as dst:
            dst.write(data)
        os.replace(out + ".part", out)
    return out


def input_rows(args, datadir, outdir):
    """(name, ours Run, peer name, peer Run, target) rows for the readers."""
    quick = args.quick
    n_text, n_points, n_gpx = (20_000, 20_000, 5_000) if quick else (10_000_000, 1_000_000, 1_000_000)
    text = data_file(datadir, "points", n_text)
    points = data_file(datadir, "points", n_points)
    gpx = data_file(datadir, "gpx", n_gpx)
    py = [sys.executable, "-c"]
    draw = ["-r", "5", "-W", "800", "-o"]
    repeat = args.repeat

    def child(argv, name):
        return best_of(lambda: run_child(argv, args.timeout, os.path.join(outdir, name)), repeat)

    rows = []
    builtin = child(py + [RUN_HEATMAP] + draw + [os.path.join(outdir, "t1.png"), text],
                    "text-builtin")
    rows.append((f"text-{sci(n_text)} builtin end to end", builtin, "numpy.loadtxt parse",
                 run_loadtxt(text, args.timeout, os.path.join(outdir, "loadtxt"), repeat),
                 INPUT_TARGETS["builtin"]))
    rows.append((f"text-{sci(n_text)} fast path (_parse_table) end to end", builtin,
                 "_FAST off (the exact parsers)", child(py + [REFERENCE + RUN_HEATMAP] + draw + [
                     os.path.join(outdir, "t2.png"), text], "text-reference"),
                 INPUT_TARGETS["fast path"]))
    geojson = geojson_file(datadir, points, n_points)
    rows.append((f"geojson-{sci(n_points)} peak MB",
                 child(py + [RUN_HEATMAP] + draw + [os.path.join(outdir, "g.png"), geojson],
                       "geojson"),
                 "same points as text", child(py + [RUN_HEATMAP] + draw + [
                     os.path.join(outdir, "p.png"), points], "plain"), INPUT_TARGETS["geojson"]))
    rows.append((f"gpx.gz-{sci(n_gpx)} peak MB",
                 child(py + [RUN_HEATMAP] + draw + [os.path.join(outdir, "z.png"), gz_file(gpx)],
                       "gpxgz"),
                 "the .gpx", child(py + [RUN_HEATMAP] + draw + [os.path.join(outdir, "x.png"), gpx],
                                   "gpx"), INPUT_TARGETS["gpx.gz"]))
    read_gpx = child(py + [READ_ONLY, gpx], "read-gpx")
    rows.append((f"read gpx-{sci(n_gpx)}: fast path (_Gpx)", read_gpx, "_FAST off (expat)",
                 child(py + [REFERENCE + READ_ONLY, gpx], "read-gpx-reference"),
                 INPUT_TARGETS["fast path"]))
    rows.append((f"read gpx-{sci(n_gpx)} with <time>", read_gpx,
                 "without <time>", child(py + [READ_ONLY, no_times_file(gpx)], "read-gpx-nt"), None))
    return rows


def noline_row(args, outdir):
    """A 1 GB file without a newline (sparse): fails in s and MB (issue 15: < 10 s, < 1 GB)."""
    path = os.path.join(outdir, "noline.txt")
    with open(path, "wb") as f:
        f.truncate((1 << 20) if args.quick else (1 << 30))
    try:
        run = run_child(shlex.split(args.cmd) + ["-W", "100", "-o",
                                                 os.path.join(outdir, "n.png"), path],
                        args.timeout, os.path.join(outdir, "noline"))
    finally:
        os.remove(path)
    return run


def print_input_rows(rows, noline):
    print("\n| input workload | ours s | ours MB | peer | peer s | peer MB | ratio | target |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for name, ours, peer_name, peer, target in rows:
        by_memory = "peak MB" in name
        ratio = ""
        if ours.status == "ok" and peer.status == "ok":
            ratio = "%.2f" % ((ours.mb / peer.mb) if by_memory else (ours.seconds / peer.seconds))
        goal = "" if target is None else "%s <= %g (%s)" % (
            "MB" if by_memory else "s", target, verdict(ratio != "" and float(ratio) <= target))
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, *cells(ours), peer_name, *cells(peer), ratio, goal))
    ok = noline.status == "fail" and noline.seconds < 10 and noline.mb < 1024
    print("| 1 GB without a newline (error expected) | %.2f | %.0f | | | | | < 10 s, < 1 GB (%s) |"
          % (noline.seconds, noline.mb, verdict(ok)))


# --------------------------------------------------------------------------
# engine rows (issues 13 and 15): each against its peer or floor, same run

PEER_FFT = os.path.join(REPO, "test", "peer_fft.py")
# project + bin 1e7 points into -W 8000, ours (the library's own stage) and
# the NumPy floor, both after loading the same arrays; each prints its seconds
STAGE_OURS = """import sys, time, numpy, heatmap as hm
lat, lon = numpy.load(sys.argv[1])
t = time.perf_counter()
geometry, acc = hm._read_and_bin(hm.Config(width=8000, radius=5), [hm.Points(lat[i:i + 760000],
                            lon[i:i + 760000]) for i in range(0, lat.size, 760000)])
acc.result()
print("stage", time.perf_counter() - t, geometry.width, geometry.height)"""
STAGE_FLOOR = """import sys, time, math, numpy as np
lat, lon = np.load(sys.argv[1])
t = time.perf_counter()
x = lon * (8000 / (lon.max() - lon.min()))
y = -np.log(np.tan(math.pi / 4 + math.pi / 360 * lat)) * (8000 / (lon.max() - lon.min()) * 180 / math.pi)
ix, iy = np.trunc(x - x.min()).astype(np.int64), np.trunc(y - y.min()).astype(np.int64)
w, h = int(ix.max()) + 1, int(iy.max()) + 1
grid = np.bincount(iy * w + ix, minlength=w * h)
print("stage", time.perf_counter() - t, w, h)"""
ENGINE_TARGETS = {"r150": 2.0, "weighted": 1.2, "W8000": 2.0, "gpx": 3.5, "png": 1.05,
                  "tall": 120, "one": 30, "pile-weighted": 1024, "pile-gpx": 60}


def tall_files(datadir, n):
    """Fourteen GPX rides strung along a north-south route (a 1000 x 4578 picture at
    -W 1000): the tall -b black picture."""
    paths = []
    for i in range(14):
        path = os.path.join(datadir, f"tall-{n}-{i:02d}.gpx")
        paths.append(path)
        if os.path.exists(path):
            continue
        rng = np.random.default_rng([SEED, n, 7, i])
        lat, lon, ele, times = ride(rng, n // 14, i)
        # each ride fills one of 14 stacked boxes 0.5 x 0.155 degrees (lon x lat)
        lat = 46.0 + 0.155 * i + 0.155 * (lat - lat.min()) / (np.ptp(lat) or 1)
        lon = -122.0 + 0.1 * (i % 3) + 0.5 * (lon - lon.min()) / (np.ptp(lon) or 1)
        with open(path + ".part", "wb") as f:
            f.write(b'<?xml version="1.0"?>\n<gpx version="1.1" '
                    b'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n')
            f.write(format_rows('<trkpt lat="%.6f" lon="%.6f"><time>%sZ</time></trkpt>\n',
                                (lat, lon, times)))
            f.write(b"</trkseg></trk></gpx>\n")
        os.replace(path + ".part", path)
    return paths


def pile_file(datadir, kind, n):
    """``n`` weighted points within 40 px ("pile-weighted", -s 10: 400 m) or ``n``
    track points jittered within one pixel ("pile-gpx", -s 10: +-2 m)."""
    path = os.path.join(datadir, f"{kind}-{n}." + ("gpx" if kind == "pile-gpx" else "txt"))
    if not os.path.exists(path):
        rng = np.random.default_rng([SEED, n, 9])
        with open(path + ".part", "wb") as f:
            if kind == "pile-gpx":
                lat, lon = 47.6 + rng.uniform(-2e-5, 2e-5, n), -122.3 + rng.uniform(-2e-5, 2e-5, n)
                f.write(b'<?xml version="1.0"?>\n<gpx version="1.1" '
                        b'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n')
                f.write(format_rows('<trkpt lat="%.7f" lon="%.7f"/>\n', (lat, lon)))
                f.write(b"</trkseg></trk></gpx>\n")
            else:
                lat, lon = 47.6 + rng.uniform(0, 0.0036, n), -122.3 + rng.uniform(0, 0.0053, n)
                f.write(format_rows("%.7f %.7f %d\n", (lat, lon, rng.integers(1, 51, n))))
        os.replace(path + ".part", path)
    return path


def arrays_file(datadir, n):
    """.npy of (lat, lon) float64 (2, n), clustered like the points files."""
    path = os.path.join(datadir, f"arrays-{n}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng([SEED, n, 8])
        np.save(path + ".part.npy", np.stack(clustered(rng, n)))
        os.replace(path + ".part.npy", path)
    return path


def stage_run(argv, timeout, logbase):
    """Run a stage child; its seconds are those it printed ("stage S ..."), not its wall time."""
    run = run_child(argv, timeout, logbase)
    if run.status == "ok":
        with open(logbase + ".stdout") as f:
            run.seconds = float(f.read().split()[1])
    return run


def png_rows(args, pictures, outdir):
    """(name, ours Run, peer name, peer Run, target) for our PNG writer against
    Pillow's, on the bench's own pictures: size against level 6, time against
    level 1 (fastest of --repeat, in this process)."""
    sys.path.insert(0, REPO)
    import heatmap
    rows = []
    for path in pictures:
        if not os.path.exists(path):
            continue
        with Image.open(path) as image:
            image.load()
        pixels = np.asarray(image)

        def fastest(write):
            times = []
            for _ in range(max(args.repeat, 3)):
                t = time.perf_counter()
                write()
                times.append(time.perf_counter() - t)
            return min(times)
        ours, level6, level1 = (os.path.join(outdir, "png-%s.png" % k) for k in ("ours", "6", "1"))
        ours_s = fastest(lambda: heatmap._write_png(ours, pixels))
        pil1_s = fastest(lambda: image.save(level1, compress_level=1))
        image.save(level6, compress_level=6)
        name = os.path.basename(path)[:-9]
        rows.append((f"PNG {name} ({image.width}x{image.height} {image.mode}) size (KB)",
                     Run("ok", 0, os.path.getsize(ours) / 1024), "Pillow level 6",
                     Run("ok", 0, os.path.getsize(level6) / 1024), ENGINE_TARGETS["png"]))
        rows.append((f"PNG {name} write s", Run("ok", ours_s), "Pillow level 1",
                     Run("ok", pil1_s), 1.0))
    return rows


def engine_rows(args, datadir, outdir):
    """(name, ours Run, peer name, peer Run, target) rows for the engine: FFT sums,
    big pictures, GPX growth, the tall -b black picture, the cost cliffs of issue 15."""
    quick = args.quick
    n_points, n_weighted, n_big = (5_000, 20_000, 200_000) if quick else (100_000, 1_000_000,
                                                                            10_000_000)
    n_gpx = (2_000, 10_000) if quick else (100_000, 1_000_000)
    cmd = shlex.split(args.cmd)
    py = [sys.executable, "-c"]

    def child(argv, name, stage=False):
        base = os.path.join(outdir, name)
        return best_of(lambda: (stage_run if stage else run_child)(argv, args.timeout, base),
                       args.repeat)

    def ours(options, files, name):
        files = files if isinstance(files, list) else [files]
        return child(cmd + shlex.split(options) + ["-o", os.path.join(outdir, name + ".ours.png")]
                     + files, name)

    rows = []
    points = data_file(datadir, "points", n_points)
    for r in (50, 150):
        peer = child([sys.executable, PEER_FFT, points, "800", str(r),
                      os.path.join(outdir, "peer.png")], "peer-r%d" % r)
        rows.append((f"points-{sci(n_points)} r={r} -d 1", ours(f"-r {r} -d 1 -W 800", points,
                                                               f"fft-r{r}"),
                     "NumPy FFT script", peer, ENGINE_TARGETS["r150"] if r == 150 else None))
    weighted = data_file(datadir, "weighted", n_weighted)
    rows.append((f"weighted-{sci(n_weighted)} -d 1", ours("-r 5 -d 1 -W 800", weighted, "fft-w"),
                 "NumPy FFT script", child([sys.executable, PEER_FFT, weighted, "800", "5",
                                            os.path.join(outdir, "peer.png")], "peer-w"),
                 ENGINE_TARGETS["weighted"]))
    arrays = arrays_file(datadir, n_big)
    rows.append((f"project + bin {sci(n_big)} into -W 8000",
                 child(py + [STAGE_OURS, arrays], "stage-ours", True),
                 "NumPy floor", child(py + [STAGE_FLOOR, arrays], "stage-floor", True),
                 ENGINE_TARGETS["W8000"]))
    gpx5 = None
    for n in n_gpx:
        gpx = data_file(datadir, "gpx", n)
        r15 = ours("-r 15 -d 0.95 -W 800", gpx, f"gpx-{n}-r15")
        gpx5 = ours("-r 5 -d 0.95 -W 800", gpx, f"gpx-{n}-r5")
        rows.append((f"gpx-{sci(n)} r=15", r15, "its r=5", gpx5,
                     ENGINE_TARGETS["gpx"] if n == n_gpx[-1] else None))
    rows.append(("tall: 14 tracks -b black -W 1000 peak MB",
                 ours("-r 3 -b black -W 1000", tall_files(datadir, n_gpx[0]), "tall"),
                 "", Run("skipped"), ENGINE_TARGETS["tall"]))
    one = os.path.join(datadir, "one.txt")
    with open(one, "w") as f:
        f.write("47.6 -122.3\n")
    rows.append(("one point -r 1000 -s 10", ours("-r 1000 -s 10", one, "one"), "", Run("skipped"),
                 ENGINE_TARGETS["one"]))
    rows.append(("2000 weighted within 40 px -r 160 peak MB",
                 ours("-r 160 -s 10", pile_file(datadir, "pile-weighted", 200 if quick else 2000),
                      "pile-weighted"), "", Run("skipped"), ENGINE_TARGETS["pile-weighted"]))
    rows.append((f"{sci(n_gpx[1])} track points on one pixel -r 50",
                 ours("-r 50 -s 10", pile_file(datadir, "pile-gpx", n_gpx[1]), "pile-gpx"), "",
                 Run("skipped"), ENGINE_TARGETS["pile-gpx"]))
    pictures = [os.path.join(outdir, f"{k}.ours.png") for k in
                (f"gpx-{n_gpx[0]}-r15", "fft-r50", "fft-w", "tall")]
    return rows + png_rows(args, pictures, outdir)


def print_engine_rows(rows):
    """Markdown table of the engine rows; ratios are ours / peer (MB rows: MB)."""
    print("\n| engine workload | ours s | ours MB | peer | peer s | peer MB | ratio | target |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for name, ours, peer_name, peer, target in rows:
        by_memory = "MB" in name or " size" in name
        ratio, goal = "", ""
        if ours.status == "ok" and peer.status == "ok":
            ratio = "%.2f" % ((ours.mb / peer.mb) if by_memory else (ours.seconds / peer.seconds))
        if target is not None and ours.status == "ok":
            value = float(ratio) if ratio else (ours.mb if by_memory else ours.seconds)
            unit = "" if ratio else (" MB" if by_memory else " s")
            goal = "<= %g%s (%s)" % (target, unit, verdict(value <= target))
            if "one pixel" in name:
                goal += ", %.0f MB <= 1024 (%s)" % (ours.mb, verdict(ours.mb <= 1024))
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, *cells(ours), peer_name, *cells(peer), ratio, goal))


# --------------------------------------------------------------------------
# time rows: animations paced by the data's clock (issue 12)

GPX_START = "2024-04-01T07:30:00"    # the first <time> write_gpx writes (see ride)
CLOCK_FRAMES = 500


def gpx_span(path):
    """Seconds from the first to the last <time> of a bench GPX file (read off its tail)."""
    import re
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 4096))
        last = re.findall(rb"<time>([^<]*?)Z?</time>", f.read())[-1].decode()
    return float((np.datetime64(last, "s") - np.datetime64(GPX_START, "s")) / np.timedelta64(1, "s"))


# heatmap.main in this Python, then its own peak RSS (ffmpeg, its child, not included)
SELF_PEAK = ("import resource, sys, heatmap; code = heatmap.main(sys.argv[1:]); "
             "print('self maxrss KiB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr); sys.exit(code)")


def phase_ms(path):
    """(ms drawing the frames, ms in ffmpeg, frames, heatmap's own peak MB) from a -v log."""
    import re
    text = open(path, encoding="utf-8", errors="replace").read()
    read = re.search(r"(\d+) ms  \d+ inputs read", text)
    frames = re.search(r"(\d+) ms  (\d+) frames in", text)
    video = re.search(r"(\d+) ms  video written", text)
    peak = re.search(r"self maxrss KiB (\d+)", text)
    if not (read and frames and video and peak):
        return None
    return (int(frames.group(1)) - int(read.group(1)), int(video.group(1)) - int(frames.group(1)),
            int(frames.group(2)), int(peak.group(1)) / 1024)


def time_rows(args, datadir, outdir):
    """Rows: 1e6 timestamped GPX points animated by --frame_time into CLOCK_FRAMES frames,
    with --fade and without, taking turns (--repeat times each)."""
    n = 5_000 if args.quick else 1_000_000
    gpx = data_file(datadir, "gpx", n)
    step = "%.3fs" % (gpx_span(gpx) / (CLOCK_FRAMES - 0.5))
    cases = [("--fade 10d", ["--fade", "10d"]), ("no fade", [])]
    runs = {name: [] for name, _ in cases}
    for turn in range(max(1, args.repeat)):
        for name, extra in cases:
            base = os.path.join(outdir, "clock-%d-%d" % (len(runs[name]), len(extra)))
            argv = [sys.executable, "-c", SELF_PEAK, "-v", "-a", "--frame_time", step, "-r", "5",
                    "-W", "800"] + extra + ["-o", base + ".mp4", gpx]
            run = run_child(argv, args.timeout, base)
            runs[name].append((run, phase_ms(base + ".stderr")))
    return [(f"gpx-{sci(n)} -a --frame_time {step}, {name}", runs[name]) for name, _ in cases]


def print_time_rows(rows):
    print("\n| time workload | runs | median s | frames | ms a frame (drawing) | ffmpeg s "
          "| peak MB: heatmap.py | with ffmpeg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in rows:
        ok = [(r, p) for r, p in runs if r.status == "ok" and p]
        if not ok:
            print("| %s | %d | %s | | | | | | |" % (name, len(runs), runs[-1][0].note or "failed"))
            continue

        def median(values):
            return sorted(values)[len(ok) // 2]
        print("| %s | %d | %.2f | %d | %.1f | %.2f | %.0f | %.0f |" % (
            name, len(ok), median(r.seconds for r, _ in ok), ok[0][1][2],
            median(p[0] / p[2] for _, p in ok), median(p[1] for _, p in ok) / 1000,
            max(p[3] for _, p in ok), max(r.mb for r, _ in ok)))


# Issue 24: packed inputs that unpack to 1.5-2 GB (a 16 MB run packed once, its gzip member
# repeated): each must fail in one line in under 10 s and 500 MB, with the ratio cap and with
# only the run caps (HEATMAP_MAX_RATIO=1000000; the blank lines are then read to the end).
BOMBS = (
    ("gpx <time> 1.5 GB", "t.gpx.gz", b'<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>', b"2", 96),
    ("tcx <Time> 1.5 GB", "t.tcx.gz", b"<TrainingCenterDatabase><Activities><Activity><Lap>"
     b"<Track><Trackpoint><Time>", b"2", 96),
    ("geojson string 1.5 GB", "g.geojson.gz", b'{"type": "FeatureCollection", "features": '
     b'[{"type": "Feature", "properties": {"name": "', b"a", 96),
    ("geojson spaces 2 GB", "s.geojson.gz", b'{"type": "FeatureCollection", "features": '
     b'[{"type": "Point", "coordinates": [1, 2]},', b" ", 128),
    ("takeout string 1.5 GB", "Records.json.gz", b'{"locations": [{"latitudeE7": 1, '
     b'"longitudeE7": 2, "x": "', b"a", 96),
    ("text blank lines 1.5 GB", "b.txt.gz", b"47.6 -122.3\n", b"\n", 96),
)


def bomb_rows(args, outdir):
    """Rows: (name, HEATMAP_MAX_RATIO, Run) of each bomb, run once."""
    import gzip
    rows = []
    for name, file, head, byte, times in BOMBS:
        path = os.path.join(outdir, file)
        with open(path, "wb") as f:
            f.write(gzip.compress(head) + gzip.compress(byte * (1 << 24)) * (1 if args.quick
                                                                             else times))
        for ratio in ("100 (default)", "1000000"):
            argv = ["env", "HEATMAP_MAX_RATIO=" + ratio.split()[0]] + shlex.split(args.cmd) + [
                "-W", "100", "-o", os.path.join(outdir, "bomb.png"), path]
            rows.append((name, ratio, run_child(argv, args.timeout, path)))
        os.remove(path)
    return rows


def print_bomb_rows(rows):
    print("\n| bomb (issue 24) | HEATMAP_MAX_RATIO | s | MB | end |")
    print("|---|---|---:|---:|---|")
    for name, ratio, run in rows:
        print("| %s | %s | %.2f | %.0f | %s |" % (name, ratio, run.seconds, run.mb,
                                                  run.note or "drawn"))


# --------------------------------------------------------------------------
# pyramid: a tile pyramid of GPX rides against hittekaart-py (issue 22)

RIDES = 287                # one GPX file a ride, 1e6 track points in all
RIDE_ZOOMS = (10, 14)
HITTEKAART = "/work/peers/hittekaart/bin/python /work/peers/hittekaart_tiles.py"


def tile_bytes(folder):
    """(tiles, bytes) of the PNGs under a {z}/{x}/{y}.png folder."""
    sizes = [os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder)
             for name in names if name.endswith(".png")]
    return len(sizes), sum(sizes)


def rides_rows(args, datadir, outdir):
    """[(name, [(Run, tiles, bytes)])]: our tiles of the rides and hittekaart's (when
    --hittekaart runs), zooms RIDE_ZOOMS, the two taking turns --repeat times."""
    files = rides_files(datadir, 20_000 if args.quick else 1_000_000, RIDES)
    zooms, out = "%d-%d" % RIDE_ZOOMS, os.path.join(outdir, "rides")
    cases = [("heatmap.py --tiles", shlex.split(args.cmd) + ["--tile_zoom", zooms, "--tiles", out])]
    if args.hittekaart:
        cases.append(("hittekaart-py", shlex.split(args.hittekaart) + [
            "--min-zoom", str(RIDE_ZOOMS[0]), "--max-zoom", str(RIDE_ZOOMS[1]), "--force", "-o", out]))
    runs = {name: [] for name, _ in cases}
    for _ in range(max(1, args.repeat)):
        for name, argv in cases:
            shutil.rmtree(out, ignore_errors=True)
            run = run_child(argv + files, args.timeout, out)
            runs[name].append((run,) + tile_bytes(out))
    return list(runs.items())


def print_rides_rows(rows):
    """Markdown table of the rides rows (medians), and ours / the peer's."""
    print("\n| rides workload | runs | median s | median cpu s | peak MB | tiles | PNG bytes "
          "| bytes a tile | ms a tile |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    medians = []
    for name, runs in rows:
        ok = [(r, t, b) for r, t, b in runs if r.status == "ok"]
        if not ok:
            print("| %s | %d | %s | | | | | | |" % (name, len(runs), runs[-1][0].note or "failed"))
            continue
        med = [float(np.median([x for x in column])) for column in
               zip(*[(r.seconds, r.cpu, r.mb, t, b) for r, t, b in ok])]
        medians.append(med)
        tiles = max(med[3], 1)
        print("| %s, zooms %d-%d, %d files | %d | %.2f | %.2f | %.0f | %d | %d | %.0f | %.2f |" % (
            name, *RIDE_ZOOMS, RIDES, len(ok), *med, med[4] / tiles, 1000 * med[0] / tiles))
    if len(medians) == 2:
        print("\nours / peer: wall %.2f, cpu %.2f, PNG bytes %.2f (targets <= 1.5)" % (
            medians[0][0] / medians[1][0], medians[0][1] / medians[1][1],
            medians[0][4] / medians[1][4]))


# --------------------------------------------------------------------------
# the library (issue 21): render() of in-memory data, timed inside the child

LIBRARY_CHILD = """import os, sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
import heatmap
kind, n, decay = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rng = np.random.default_rng(n)
lat, lon = 47.6 + rng.normal(0, 0.05, n), -122.3 + rng.normal(0, 0.08, n)
weight = rng.uniform(1, 50, n) if kind == "weighted" else rng.integers(1, 11, n).astype(float)
args, kw = (lat, lon), ({"weight": weight} if kind.startswith("weighted") else {})
if kind in ("DataFrame", "GeoDataFrame"):
    import pandas as pd
    args = (pd.DataFrame({"lat": lat, "lon": lon}),)
    if kind == "GeoDataFrame":
        import geopandas as gpd
        args = (gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326),)
start, cpu = time.perf_counter(), os.times()
heatmap.render(*args, width=800, radius=5, decay=decay, **kw)
end = os.times()
print("stage %.4f %.4f" % (time.perf_counter() - start,
                           end.user - cpu.user + end.system - cpu.system))
"""
# (row, [(kind, rows, decay), ...] timed alternately, one run of each per round)
LIBRARY_PAIRS = [
    ("1e6 rows: GeoDataFrame / DataFrame (target <= 2)", [("GeoDataFrame", 10**6, 0.95),
                                                          ("DataFrame", 10**6, 0.95)]),
    ("1e6 points -d 0.95: weighted / unweighted (target <= 3)", [("weighted", 10**6, 0.95),
                                                                 ("arrays", 10**6, 0.95)]),
    ("1e6 points -d 0.95: weights 1..10 / unweighted", [("weighted-integers", 10**6, 0.95),
                                                         ("arrays", 10**6, 0.95)]),
    ("1e5 weighted points: -d 0.95 / -d 1", [("weighted", 10**5, 0.95), ("weighted", 10**5, 1)]),
]


def library_rows(args, outdir, rounds=7):
    """Rows (name, [(label, median wall s, median CPU s)]) of LIBRARY_PAIRS, the runs of a pair
    taking turns (``rounds`` of each: the machine is shared, so medians)."""
    rows = []
    for name, pair in LIBRARY_PAIRS:
        runs = {i: [] for i in range(len(pair))}
        for _ in range(rounds if not args.quick else 3):
            for i, (kind, n, decay) in enumerate(pair):
                n = n // 100 if args.quick else n
                base = os.path.join(outdir, "library-%s-%d" % (kind, i))
                run = run_child([sys.executable, "-c", LIBRARY_CHILD, REPO, kind, str(n),
                                 str(decay)], args.timeout, base)
                if run.status == "ok":
                    with open(base + ".stdout") as f:
                        runs[i].append(tuple(float(v) for v in f.read().split()[1:3]))
        rows.append((name, [("%s %s -d %g" % (kind, sci(n), decay),
                              median([r[0] for r in runs[i]]), median([r[1] for r in runs[i]]))
                             for i, (kind, n, decay) in enumerate(pair)]))
    return rows


def median(values):
    return sorted(values)[len(values) // 2] if values else float("nan")


def print_library_rows(rows):
    print("\n| library workload | A: median s (CPU s) | B: median s (CPU s) | A / B |")
    print("|---|---:|---:|---:|")
    for name, ((a, a_s, a_cpu), (b, b_s, b_cpu)) in rows:
        print("| %s | %s: %.3f (%.3f) | %s: %.3f (%.3f) | %.2f |"
              % (name, a, a_s, a_cpu, b, b_s, b_cpu, a_s / b_s))


# --------------------------------------------------------------------------
# rides (issue 20): --track_weight, a GPS jump, shareable GIFs, the jump check

def ride_files(datadir):
    """A two-hour ride at 1 s (52.09 N 5.12 E), and the same with its first fix at 0,0."""
    paths = [os.path.join(datadir, n) for n in ("ride.gpx", "ride-glitch.gpx")]
    if not os.path.exists(paths[1]):
        rng = np.random.default_rng(3)
        heading = np.cumsum(rng.normal(0, 0.05, 7200))
        lat = 52.09 + np.cumsum(np.sin(heading)) * 7 / 111320
        lon = 5.12 + np.cumsum(np.cos(heading)) * 7 / (111320 * math.cos(math.radians(52.09)))
        start = np.datetime64(GPX_START, "s")
        times = np.datetime_as_string(start + np.arange(7201).astype("m8[s]"))
        for path, a, b in ((paths[0], lat, lon), (paths[1], np.r_[0.0, lat], np.r_[0.0, lon])):
            with open(path, "wb") as f:
                f.write(b'<gpx version="1.1" creator="bench"><trk><trkseg>\n' + format_rows(
                    '<trkpt lat="%.6f" lon="%.6f"><time>%sZ</time></trkpt>\n',
                    (a, b, times[:a.size])) + b"</trkseg></trk></gpx>\n")
    return paths


def ride_rows(args, datadir, outdir):
    """(name, A runs, B runs, B's name, what to compare) for pairs taken in turns (at least 5)."""
    n = 5_000 if args.quick else 100_000
    gpx, big = data_file(datadir, "gpx", n), data_file(datadir, "gpx", 10 * n)
    ride, glitch = ride_files(datadir)
    examples = os.path.join(REPO, "examples", "ride.gpx")
    gif = ["-a", "--frequency", "100", "-W", "200", "-b", "#101820", "-r", "3"]
    pairs = [
        ("gpx-%s -W 800 --track_weight length" % sci(n), ["-W", "800", "--track_weight", "length",
         "-o", "{out}.png", gpx], "segment", ["-W", "800", "-o", "{out}.png", gpx], "time"),
        ("gpx-%s -W 800 --track_weight time" % sci(n), ["-W", "800", "--track_weight", "time",
         "-o", "{out}.png", gpx], "segment", ["-W", "800", "-o", "{out}.png", gpx], "time"),
        ("gpx-%s --tiles z10-16 --track_weight length" % sci(n), ["--tile_zoom", "10-16",
         "--track_weight", "length", "--tiles", "{out}", gpx], "segment",
         ["--tile_zoom", "10-16", "--tiles", "{out}", gpx], "time"),
        ("a ride with a 0,0 fix, --max_jump 1000, tiles z11-16", ["--tile_zoom", "11-16",
         "--max_jump", "1000", "--tiles", "{out}", glitch], "the ride without it",
         ["--tile_zoom", "11-16", "--tiles", "{out}", ride], "time"),
        ("examples/ride.gif (palettegen)", gif + ["-o", "{out}.gif", examples],
         "ffmpeg's default palette", gif + ["--ffmpegopts=-vf null", "-o", "{out}.gif",
                                            examples], "size"),
        ("reading gpx-%s, jump check on" % sci(10 * n), ["-W", "800", "-o", "{out}.png", big],
         "--jump_warning 0", ["-W", "800", "--jump_warning", "0", "-o", "{out}.png", big], "time"),
    ]
    rows = []
    for number, (name, a, b_name, b, what) in enumerate(pairs):
        runs = ([], [])
        for turn in range(max(5, args.repeat)):
            for side, argv in enumerate((a, b)):
                out = os.path.join(outdir, "ride-%d-%d" % (number, side))
                shutil.rmtree(out, ignore_errors=True)
                run = run_child(shlex.split(args.cmd) + [x.replace("{out}", out) for x in argv],
                                args.timeout, out)
                if what == "size" and run.status == "ok":
                    run.mb = os.path.getsize(out + ".gif") / 1e6
                runs[side].append(run)
        rows.append((name, runs[0], b_name, runs[1], what))
    return rows


def print_ride_rows(rows):
    print("\n| ride workload | A: median s (cpu s) | B | B: median s (cpu s) | A/B "
          "| size A / B MB |")
    print("|---|---:|---|---:|---:|---:|")
    for name, a, b_name, b, what in rows:
        if not all(r.status == "ok" for r in a + b):
            print("| %s | %s | %s | | | |" % (name, (a + b)[-1].note or "failed", b_name))
            continue

        def median(runs, field):
            return sorted(getattr(r, field) for r in runs)[len(runs) // 2]
        ratio = median(a, "mb" if what == "size" else "seconds") / \
            median(b, "mb" if what == "size" else "seconds")
        sizes = "%.3f / %.3f" % (median(a, "mb"), median(b, "mb")) if what == "size" else ""
        print("| %s | %.2f (%.2f) | %s | %.2f (%.2f) | %.2f | %s |" % (
            name, median(a, "seconds"), median(a, "cpu"), b_name, median(b, "seconds"),
            median(b, "cpu"), ratio, sizes))


# --------------------------------------------------------------------------
# columnar input, bounded memory and Dask (issue 23): --only columnar, arrays, dask

COLUMNAR_N = (10_000_000, 100_000_000)     # quick: (100_000, 1_000_000)
DASK_PARTS = 16


def parquet_files(datadir, n, parts=1):
    """The points of data_file("points", n) as Parquet (row groups of 2**20 points), in
    ``parts`` files: the same float64 values, parsed from the text by heatmap.read."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    sys.path.insert(0, REPO)
    import heatmap
    paths = [os.path.join(datadir, f"points-{n}-{i}of{parts}.parquet") for i in range(parts)]
    if all(os.path.exists(p) for p in paths):
        return paths
    text, per, done = data_file(datadir, "points", n), -(-n // parts), 0
    writers = [pq.ParquetWriter(p + ".part", pa.schema([("lat", pa.float64()),
                                                        ("lon", pa.float64())])) for p in paths]
    pending = [[] for _ in paths]
    for batch in heatmap.read([text]):
        for lat, lon in ((batch.lat[i:i + (1 << 18)], batch.lon[i:i + (1 << 18)])
                         for i in range(0, len(batch.lat), 1 << 18)):
            part = min(done // per, parts - 1)
            pending[part].append((lat, lon))
            done += len(lat)
            if sum(len(a) for a, _ in pending[part]) >= 1 << 20 or done == n:
                for k, rows in enumerate(pending):
                    if rows:
                        writers[k].write_table(pa.table({"lat": np.concatenate([a for a, _ in rows]),
                                                         "lon": np.concatenate([b for _, b in rows])}))
                        pending[k] = []
    for writer, path in zip(writers, paths):
        writer.close()
        os.replace(path + ".part", path)
    return paths


ARRAYS_CHILD = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
import heatmap
n = int(sys.argv[1])
rng = np.random.default_rng(1)
lat, lon = np.empty(n), np.empty(n)
for i in range(0, n, 1 << 22):
    m = min(1 << 22, n - i)
    lat[i:i + m] = 47.6 + rng.standard_normal(m) * 0.05
    lon[i:i + m] = -122.3 + rng.standard_normal(m) * 0.07
def status(key):
    return int([l for l in open("/proc/self/status") if l.startswith(key)][0].split()[1])
base = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")   # the peak starts again from here
heatmap.render(lat, lon, width=800)
print("stage", 0, (status("VmHWM:") - base) / 1024)
"""


def alternate(cases, repeat, timeout, outdir):
    """{name: [Run]}: the cases' argv run in turns, ``repeat`` times each."""
    runs = {name: [] for name, _ in cases}
    for turn in range(repeat):
        for name, argv in cases:
            base = os.path.join(outdir, "c23-%s-%d" % (name.replace(" ", "_"), turn))
            runs[name].append(run_child(argv, timeout, base))
    return runs


def columnar_rows(args, datadir, outdir):
    """Rows of (name, [Run]): text against Parquet without --extent at two sizes (time, CPU,
    peak), --dask local:2 on DASK_PARTS Parquet files, and render(lat, lon) in memory."""
    sizes = (100_000, 1_000_000) if args.quick else COLUMNAR_N
    cmd, only = shlex.split(args.cmd), args.only or ""
    cases, rows = [], []
    for n in sizes if "columnar" in only or "dask" in only else ():
        text, parquet = data_file(datadir, "points", n), parquet_files(datadir, n)[0]
        common = cmd + ["-W", "800", "-o"]
        if "columnar" in only:
            cases += [(f"text-{sci(n)}", common + [os.path.join(outdir, f"t{n}.png"), text]),
                      (f"parquet-{sci(n)}", common + [os.path.join(outdir, f"p{n}.png"), parquet])]
        if "dask" in only and n == sizes[-1]:
            parquet_files(datadir, n, DASK_PARTS)   # writes the parts the glob names
            cases += [(f"dask-local2-{sci(n)}-{DASK_PARTS}parts", common + [
                os.path.join(outdir, f"d{n}.png"), "--dask", "local:2",
                os.path.join(datadir, f"points-{n}-*of{DASK_PARTS}.parquet")])]
    runs = alternate(cases, max(args.repeat, 5), args.timeout, outdir)
    rows += list(runs.items())
    if "arrays" in only:
        for n in (1_000_000, 3_000_000) if args.quick else (30_000_000, 100_000_000):
            base = os.path.join(outdir, f"library-{n}")
            run = stage_run([sys.executable, "-c", ARRAYS_CHILD, str(n), REPO], args.timeout, base)
            with open(base + ".stdout") as f:
                run.note = "%.0f MB above the arrays" % float(f.read().split()[2])
            rows.append((f"render(lat, lon) {sci(n)}, -W 800", [run]))
    return rows


def print_columnar_rows(rows, outdir):
    print("\n| columnar workload | runs | median s | median CPU s | peak MB | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, runs in rows:
        ok = [r for r in runs if r.status == "ok"]
        if not ok:
            print("| %s | %d | %s | | | |" % (name, len(runs), runs[-1].note or "failed"))
            continue
        med = lambda values: sorted(values)[len(ok) // 2]   # noqa: E731
        print("| %s | %d | %.2f | %.2f | %.0f | %s |" % (
            name, len(ok), med(r.seconds for r in ok), med(r.cpu for r in ok),
            max(r.mb for r in ok), ok[0].note))
    pictures = {}
    for name in os.listdir(outdir):
        if name[0] in "tpd" and name.endswith(".png") and name[1:-4].isdigit():
            with open(os.path.join(outdir, name), "rb") as f:
                pictures.setdefault(name[1:-4], set()).add(f.read())
    for n, found in sorted(pictures.items()):
        print("- %s points: the pictures are %s" % (
            n, "byte-identical" if len(found) == 1 else "DIFFERENT"))


def counting_rows(args):
    """Counting alone (issue 22): _add_by_bands of 1e7 flat indices into a grid of one band
    (2000 x 2000, int32) against one np.bincount of the same, in this process, the two taking
    turns; [(name, median seconds)]."""
    sys.path.insert(0, REPO)
    import heatmap
    n = 200_000 if args.quick else 10_000_000
    flat = np.random.default_rng(SEED).integers(0, 2000 * 2000, n)
    times = {"_add_by_bands": [], "np.bincount": []}
    for _ in range(max(args.repeat, 7)):
        grid = np.zeros((2000, 2000), np.int32)
        t = time.perf_counter()
        heatmap._add_by_bands(grid.reshape(-1), flat, None)
        times["_add_by_bands"].append(time.perf_counter() - t)
        t = time.perf_counter()
        floor = np.bincount(flat, minlength=grid.size)
        times["np.bincount"].append(time.perf_counter() - t)
        assert (floor == grid.reshape(-1)).all()
    return [(name, float(np.median(ts))) for name, ts in times.items()]


def print_counting_rows(rows):
    print("\n| counting 1e7 points into 2000 x 2000 (one band) | median s |")
    print("|---|---:|")
    for name, seconds in rows:
        print("| %s | %.4f |" % (name, seconds))
    print("\nours / np.bincount: %.2f (target <= 1.2)" % (rows[0][1] / rows[1][1]))


# --------------------------------------------------------------------------
# main

def parse_args(argv=None):
    default_cmd = shlex.join([sys.executable, "-m", "heatmap"])
    p = argparse.ArgumentParser(
        description="Benchmark heatmap.py (see the module docstring).")
    p.add_argument("--cmd", default=default_cmd,
                   help="our program (default: %(default)s)")
    p.add_argument("--vs", help="other program to compare with")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, runs in about a minute")
    p.add_argument("--only", help="run only workloads whose name contains "
                   "one of these comma-separated substrings")
    p.add_argument("--keep", metavar="DIR",
                   help="write data and pictures to DIR and keep them")
    p.add_argument("--repeat", type=int, default=3,
                   help="run each program up to this many times and keep the "
                   "fastest, while its runs so far took under %g s "
                   "(default: %%(default)s)" % REPEAT_BUDGET)
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds per child process (default: %(default)s)")
    p.add_argument("--vs-max-points", type=float, default=1e5,
                   help="run --vs only up to this many points "
                   "(default: %(default)g)")
    p.add_argument("--vs-max-gpx", type=float, default=2e4,
                   help="run --vs only up to this many GPX track points "
                   "(default: %(default)g)")
    p.add_argument("--startup", action="store_true",
                   help="measure start-up on a 100-point file instead (see the docstring)")
    p.add_argument("--bin", default=os.path.dirname(sys.executable),
                   help="--startup: folder of the installed heatmap and heatmap.py commands "
                   "(default: %(default)s)")
    p.add_argument("--hittekaart", default=HITTEKAART if os.path.exists(HITTEKAART.split()[-1])
                   else None, help="rides rows: the peer's command (default: %(default)s)")
    p.add_argument("--runs", type=int, default=20,
                   help="--startup: runs of each command (default: %(default)s)")
    return p.parse_args(argv)


SECTIONS = ("input", "engine", "time", "library", "ride", "pyramid", "bombs",
            "counting")   # --only NAME: a section


def selected(args):
    wls = workloads(QUICK if args.quick else FULL)
    if args.only:
        keys = [k for k in args.only.split(",") if k]
        wls = [w for w in wls if any(k in w.name for k in keys)]
    return wls


def vs_allowed(args, wl):
    cap = args.vs_max_gpx if wl.kind == "gpx" else args.vs_max_points
    return wl.n <= cap


def run_workload(args, wl, datadir, outdir):
    path = data_file(datadir, wl.kind, wl.n)
    base = os.path.join(outdir, wl.name)
    wl.results["ours"] = run_program(args.cmd, wl, path, base + ".ours.png",
                                     args.timeout, args.repeat)
    if wl.tiles:   # the original has no --tiles
        if wl.results["ours"].status == "ok":
            wl.results["picture"] = tile_count(base + ".ours.tiles")
        return
    if args.vs:
        if vs_allowed(args, wl):
            vs = run_program(args.vs, wl, path, base + ".vs.png",
                             args.timeout, args.repeat)
        else:
            vs = Run("skipped")
        wl.results["vs"] = vs
        if wl.results["ours"].status == "ok" and vs.status == "ok":
            wl.results["picture"] = compare_png(base + ".ours.png",
                                                base + ".vs.png")
    if wl.role == "loadtxt":
        wl.results["loadtxt"] = run_loadtxt(path, args.timeout,
                                            base + ".loadtxt", args.repeat)


def failed(wls):
    return any(r.status in ("fail", "timeout")
               for w in wls for k, r in w.results.items()
               if isinstance(r, Run))


def main(argv=None):
    args = parse_args(argv)
    if args.startup:
        py_compile.compile(os.path.join(REPO, "heatmap.py"), doraise=True)
        startup(args)
        return
    wls = selected(args)
    issue23 = any(k in (args.only or "") for k in ("columnar", "arrays", "dask"))
    if not wls and args.only not in SECTIONS and not issue23:
        sys.exit(f"no workload matches --only {args.only!r}")
    # The default command imports heatmap.py from the repository, byte-compiled
    # once here as pip does on install, like the installed `heatmap` command
    # (and heatmap77's).  Running the file as a script compiles it every time.
    py_compile.compile(os.path.join(REPO, "heatmap.py"), doraise=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    print(f"# ours: {args.cmd}  (PYTHONPATH starts with {REPO})")
    if args.vs:
        print(f"# vs:   {args.vs}")
    workdir = args.keep or tempfile.mkdtemp(prefix="heatmap-bench-")
    datadir, outdir = (os.path.join(workdir, d) for d in ("data", "out"))
    os.makedirs(datadir, exist_ok=True)
    os.makedirs(outdir, exist_ok=True)
    started = time.perf_counter()
    try:
        print_row(COLS)
        if issue23:
            print_columnar_rows(columnar_rows(args, datadir, outdir), outdir)
        for wl in wls if args.only not in SECTIONS and not issue23 else []:
            run_workload(args, wl, datadir, outdir)
            print_row(row(wl))
        if not args.only or "input" in args.only:
            print_input_rows(input_rows(args, datadir, outdir), noline_row(args, outdir))
        if not args.only or "engine" in args.only:
            print_engine_rows(engine_rows(args, datadir, outdir))
        if not args.only or "time" in args.only:
            print_time_rows(time_rows(args, datadir, outdir))
        if not args.only or "library" in args.only:
            print_library_rows(library_rows(args, outdir))
        if not args.only or "ride" in args.only.replace("pyramid", ""):
            print_ride_rows(ride_rows(args, datadir, outdir))
        if not args.only or "pyramid" in args.only:
            print_rides_rows(rides_rows(args, datadir, outdir))
        if not args.only or "bombs" in args.only:
            print_bomb_rows(bomb_rows(args, outdir))
        if not args.only or "counting" in args.only:
            print_counting_rows(counting_rows(args))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n# total {time.perf_counter() - started:.0f} s\n")
    print(markdown(wls))
    targets = target_lines(wls)
    if targets:
        print("\nTargets" + (" (quick sizes: for information only)"
                             if args.quick else "") + ":")
        for line in targets:
            print(f"- {line}")
    if failed(wls):
        print("\nsome runs failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
