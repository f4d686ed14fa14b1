#!/usr/bin/env python3
# heatmap.py - heat map images and animations from coordinate data.
# Copyright (c) 2026 the heatmap.py authors.
# SPDX-License-Identifier: MIT
#
# A clean-room re-implementation of the command line of Seth Golub's classic
# heatmap.py (heatmap77 1.14): same options, same pictures, whole-array NumPy.


"""Plot a heat map from coordinate data.

Reads plain text, CSV, GPX and ESRI shapefiles, projects the points
(Mercator or equirectangular), stamps a kernel around each point or track
segment, combines what lands on a pixel with the *decay* rule (a pixel's
contributions sorted descending and summed with weights 1, d, d**2, ...),
colours the result and writes an image, or an animation with ffmpeg.

As a program::

    heatmap.py -W 800 -o heat.png points.txt

As a library:

>>> import numpy as np, heatmap
>>> lat = np.array([47.60, 47.61, 47.61]); lon = np.array([-122.33, -122.32, -122.32])
>>> image = heatmap.render(lat, lon, heatmap.Config(width=64, radius=4))
>>> image.size, image.mode
((64, 92), 'RGBA')
"""


# ---- 0 Map ----
# A run, from argv to the PNG (section numbers in brackets; grep '^# ----' lists them):
#   main [14] -> _config_from_args -> _run_config [13] -> _validate [12]
#   -> _input_batches [13]: read [2.1]: _read_ahead, _file_batches: _opened_input, _filetype (a
#          row of _FORMATS), READERS[kind] [2.2-2.6] -> Points / Segments; _apply_track_time_options
#        -> _read_and_bin [13]: the data's box (_held: files over 64 MB are read again) and
#           _picture_geometry [3], _binned (_project_batch) into an _Accumulator [4]
#           (--track_weight length, time: tracks in _even_pieces)
#        -> _combine_values [13]: _Engine.run [5.1] -> values; _peak [6] -> the top colour
#   -> _make_scene, _heat_picture [7.1, 6] -> _save_output [11.2] -> _save_image, _write_png
#      [11.1]; -S: _save_state [11.2].
# -a: _run_animation [9] -> _read_and_bin(record=True) -> _animate: _frame_plan, _write_frames
#     of _frame_pictures (the engine on the tiles each frame changes), _encode_video (ffmpeg).
# --tiles: _run_tiles [13] -> _input_batches -> _tile_plan [10.1] -> _tile_stream: per zoom
#     _combine_zoom (the engine) then _paint_tile -> _write_tile_folder / _write_mbtiles [10.2].
# -L: _render_loaded [11.2] -> the picture as above.
# Library: render, render_grid, render_tiles, render_frames, run, tracks [13]: _library_input
#     (settings checked, _USES) -> _library_batches [2.7] (any input) -> _input_batches.
# --dask, dask DataFrames: _DaskParts [13] reads and bins each partition on the workers
#     (_dask_part), the accumulations merged (_Accumulator.merge); the engine runs here.
#
# The engine's paths, chosen in _Engine [5.1] tile by tile (a pyramid's zoom may first count
# short track segments as points: _counted):
#   decay 1, points of positive weight: sums by FFT (_sums_pay; _sum_block, _point_sums [5.2])
#   points alone: walks (_walk: _dense_unit, _level_walk; weights > 0 at decay < 1: _ranked)
#   track segments alone: cells (_sparse; _segment_cells [5.3]), found along them (_cells_along)
#   anything else, and every path's reference: the sort (_point_heat, _segment_heat, _reduce)
#   a tile with too much work is split into quarters first (_is_heavy, _pieces).
# Fast paths and their references (_FAST = False forces every reference; the test
# test/test_fast_paths.py compares both, test/BENCHMARKS.md has their bench rows):
#   many small files   _read_ahead (forked) [2.1]      _file_batches in order
#   text numbers       _parse_table [2.2]              _plain_rows, _csv_rows
#   GPX                _Gpx [2.4]                      _GpxExact
#   GeoJSON points     _GeoJsonShapes.add_all [2.5]    _GeoJsonShapes.add
#   unit points        _CountGrid [4]                  _BinnedPoints entries
#   points' tiles      _tile_members [5.1]             _cells_along
#   the engine         FFT sums, walks, cells [5]      the sort
#   pyramid tracks     _counted [5.1]                  the segment engine
#   PNG, palette tiles _png_stream [11.1]              Pillow's PNG writer
#
# Where to change:
#   a new input format    a reader [2.2-2.6] and a row of _FORMATS [2.1]
#   a new option          a Config field (its type checks it) [1.2]; its flag in an _OPTION_GROUPS
#                         function [14]; _RANGES, _CHOICES [1.2] or _validate [12]; a row in
#                         test/test_errors.py; the library functions using it: _USES [13];
#                         the runs that leave it unused (each warned of): _idle_settings [12]
#   a library input kind  a branch of _library_batches [2.7]
#   the colour scale      _peak, _colour_index, _COLOUR_SCALES, _colour_table, _COLORMAPS [6]
#   a kernel, projection  KERNELS [5.1], PROJECTIONS [3]
#   tile output           _tile_stream [10.1]; _write_tile_folder, _write_mbtiles,
#                         _viewer_page [10.2]
#   time and track rules  _TrackTimeFilter, _TrimEnds [8]; --track_weight's _even_pieces [4]
#   limits, owned outputs _check_ratio, _MAX_LINE, _JSON_DEPTH [2]; _output_names [12]
# Measurements behind the fast paths and limits: test/BENCHMARKS.md (test/bench.py).


# ---- 1.1 Basics: imports, version, limits ----
# The module's imports, its public surface, the limits that guard memory and time (each one
# has an environment override, named in --help), and helpers every section uses: a thread
# pool that keeps order, sorted unique values, optional imports, regexes compiled on first use.
# Imported only where needed, for a short start-up (issue 22; a text-to-PNG run needs no Pillow):
# PIL, hashlib (tile cache), json (state files), shlex, shutil, subprocess, tempfile
# (animation), xml.parsers.expat (GPX) and the optional extras (pyshp, imageio-ffmpeg, ...).
from __future__ import annotations
import argparse
import colorsys
import contextlib
import dataclasses
import functools
import importlib
import io
import itertools
import logging
import math
import os
import re
import signal
import stat
import string
import struct
import sys
import threading
import time
import warnings
import zlib
from dataclasses import dataclass, field
import typing
from typing import (TYPE_CHECKING, Any, Callable, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)
import numpy as np

if TYPE_CHECKING:
    from PIL import Image
else:
    class _PillowImage:   # PIL.Image for typing.get_type_hints: Pillow is imported when it asks
        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("PIL.Image"), name)
    Image = _PillowImage()


__version__ = "2.0.0"
__all__ = [
    "Config", "HeatmapError", "Points", "Segments", "KERNELS", "PROJECTIONS",
    "READERS", "read", "render", "render_data", "run", "main", "tracks",
    "Grid", "render_grid", "render_tiles", "render_frames", "colour",
]
EARTH_RADIUS = 6378137.0          # metres, the sphere of Web Mercator
_MAX_PIXELS = 1 << 28             # largest image we agree to allocate (override: env)
_MAX_RADIUS = 1000                # largest kernel radius (override: HEATMAP_MAX_RADIUS)
_MAX_COORD = 1 << 30              # largest projected pixel coordinate
_MAX_LONGITUDE = 360              # degrees: beyond, input is an error (0..360 data is fine)
_MAX_RATIO = 100                  # bytes unpacked per packed byte (override: HEATMAP_MAX_RATIO)
_NO_SIZE = ("no image size: give -W/--width, -H/--height, -s/--scale, -I/--background_image, "
            "or --osm with -z/--zoom")
_USER_AGENT = "heatmap.py/%s (Python heat map renderer)" % __version__
_LOG = logging.getLogger("heatmap")
_FAST = True                      # False: every fast path's reference (test/test_fast_paths.py)


def _env_limit(name: str, default: int) -> int:
    """A limit from the environment variable ``name`` (a positive whole number), else default."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\+?0*[1-9]\d{0,17}", text):
        raise HeatmapError("environment variable %s must be a positive whole number, not %r"
                           % (name, _quoted(text)))
    return int(text)


def _max_pixels() -> int:
    return _env_limit("HEATMAP_MAX_PIXELS", _MAX_PIXELS)


def _too_big(pixels: int) -> HeatmapError:
    return HeatmapError("an image of %d pixels is over the limit of %d; set HEATMAP_MAX_PIXELS "
                        "to allow more" % (pixels, _max_pixels()))


def _threaded_map(work, jobs: Iterable, workers: Optional[int] = None, ahead: int = 1,
                  executor=None) -> Iterator:
    """``map(work, jobs)`` on a few threads (NumPy releases the GIL; ``executor``: another pool's
    factory), in order, ``ahead`` jobs a thread queued beyond the running one (none left idle).
    One job, or one worker: no threads (they cost a small run more than they give)."""
    workers = workers or min(4, os.cpu_count() or 1)
    jobs = iter(jobs)
    head = list(itertools.islice(jobs, 2))
    jobs = itertools.chain(head, jobs)
    if workers == 1 or len(head) < 2:
        yield from map(work, jobs)
        return
    from concurrent.futures import ThreadPoolExecutor
    with (executor or ThreadPoolExecutor)(workers) as pool:
        pending: List = []
        for job in jobs:
            pending.append(pool.submit(work, job))
            if len(pending) > workers * ahead:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values, flattened: ``np.unique`` without importing numpy.ma (11-20 ms)."""
    ordered = np.sort(values, axis=None)
    return np.concatenate((ordered[:1], ordered[1:][ordered[1:] != ordered[:-1]]))


def _import_extra(module: str, package: str, extra: str, what: str):
    """Import an optional dependency, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise HeatmapError('%s needs %s: pip install "heatmap.py[%s]"' % (what, package, extra)
                           ) from None


class _Regex:
    """``re.compile(pattern)`` on first use: ten compiled at import cost every run ~1 ms."""
    def __init__(self, pattern):
        self.pattern = pattern

    def __getattr__(self, name: str):   # search, findall, ...: the compiled pattern's, kept
        return self.__dict__.setdefault(name, getattr(re.compile(self.pattern), name))


# ---- 1.2 Basics: errors, messages, configuration ----
# One exception, HeatmapError, carries every mistake of the user's input or options as one
# line; the command line prints it and exits 2, the library raises it (its warnings go to
# warnings.warn).  Config holds every setting with its default and type (the command line's
# defaults come from it); _RANGES and _CHOICES check the values of some.
class HeatmapError(ValueError):
    """A mistake in the user's input or options; the message is one line."""


def _data_error(path: str, line: int, what: str) -> HeatmapError:
    return HeatmapError("%s:%d: %s" % (path, line, what))


def _quoted(raw) -> str:
    """Input (bytes or text) as messages quote it: stripped, about 80 characters at most."""
    text = (raw[:400] if isinstance(raw, str) else bytes(raw[:400]).decode("utf-8", "replace"))
    if re.search("[\x00-\x08\x0e-\x1f]", text):
        return "(binary data)"
    text = text.strip()
    return text if len(text) <= 80 and len(raw) <= 400 else "%s... (%d more)" % (
        text[:72], len(raw) - 72)


def _shown(value: Any) -> str:
    """A bad value of the library's as quoted in an error message: its repr, shortened."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return _quoted(" ".join(text.split()).encode())


# Messages name flags ("-W/--width must be positive"); the public library functions pass them
# through _setting_errors, which names the settings instead, so no check needs to know its caller.
_FLAG = _Regex(r"(?<![\w-])(?:-[A-Za-z]/(?=--))?(--?[A-Za-z]\w*)(?![\w-])")


@functools.lru_cache(maxsize=None)
def _settings_by_flag() -> Tuple[dict, dict]:
    """({flag: setting}, {setting: its command-line group}) of every Config field with a flag."""
    known, parser = {f.name for f in dataclasses.fields(Config)}, _parser()
    return ({flag: a.dest for a in parser._actions for flag in a.option_strings if a.dest in known},
            {a.dest: group.title for group in parser._action_groups for a in group._group_actions})


def _setting_names(text: str) -> str:
    """``text`` with each setting's flag (-W/--width, -W, --frequency) replaced by its name."""
    names = _settings_by_flag()[0]
    return _FLAG.sub(lambda match: names.get(match.group(1), match.group(0)), text)


_Function = typing.TypeVar("_Function", bound=Callable[..., Any])


def _setting_errors(function: _Function) -> _Function:
    """Decorator of the public library functions: their HeatmapErrors name settings."""
    @functools.wraps(function)
    def library_call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except HeatmapError as exc:
            exc.args = (_setting_names(str(exc)),)
            raise
    return typing.cast(_Function, library_call)


class _LibraryWarnings(logging.Handler):
    """The library's warnings as warnings.warn, naming settings (main() shows them as lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        frame, level = sys._getframe(1), 2   # shown at the caller's line, outside this module
        while frame is not None and frame.f_globals.get("__name__") in (__name__, "logging"):
            frame, level = frame.f_back, level + 1
        warnings.warn(_setting_names(record.getMessage()), stacklevel=level)


_LIBRARY_WARNINGS = _LibraryWarnings(logging.WARNING)
_LOG.addHandler(_LIBRARY_WARNINGS)


class _Progress:
    """A counter on stderr once the work has taken a second; silent unless stderr is a terminal."""

    def __init__(self, what: str, total: Optional[int] = None):
        self.what, self.total, self.drawn = what, total, False
        self.start = self.shown = time.monotonic()
        self.active = sys.stderr is not None and sys.stderr.isatty()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.active and now - self.start > 1.0 and now - self.shown > 0.2:
            total = "/%d" % self.total if self.total else ""
            sys.stderr.write("\r%s: %d%s " % (self.what, done, total))
            sys.stderr.flush()
            self.shown, self.drawn = now, True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")


@dataclass
class Config:
    """Every setting of a run, with its default (the command line's too).  Sizes are pixels,
    ``scale`` metres per pixel, ``extent`` ``(lat1, lon1, lat2, lon2)`` in degrees."""
    files: List[str] = field(default_factory=list)
    filetype: str = "auto"
    ignore_csv_header: bool = False
    scale: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    projection: str = "mercator"
    extent: Optional[Tuple[float, float, float, float]] = None
    margin: int = 0
    radius: int = 5
    decay: float = 0.95
    save: Optional[str] = None
    load: Optional[str] = None
    output: Optional[str] = None
    animate: bool = False
    frequency: int = 1
    straggler_threshold: int = 1
    ffmpegopts: Optional[str] = None
    keepframes: bool = False
    background: Optional[str] = None
    background_image: Optional[str] = None
    background_brightness: Optional[float] = None
    invert_background: bool = False
    hsva_min: str = "000ffff00"
    hsva_max: str = "02affffff"
    gradient: Optional[str] = None
    colormap: Optional[str] = None         # a matplotlib colormap's name, instead of -m/-M
    colour_scale: str = "linear"           # heat to colour: linear, log, sqrt or eq_hist
    colour_max: Optional[float] = None     # the heat that gets the top colour; None: the largest
    kernel: str = "linear"
    osm: bool = False
    osm_base: str = "https://tile.openstreetmap.org"
    osm_path_template: str = "/{z}/{x}/{y}.png"
    zoom: int = 0
    osm_cache: Optional[str] = None        # tile cache folder; None: the user's cache folder
    osm_no_cache: bool = False
    osm_exact_size: bool = False
    osm_attribution: Optional[str] = None  # text drawn in a corner of an --osm picture
    verbose: bool = False
    debug: bool = False
    output_format: Optional[str] = None    # -o's image type when its name does not say (-o -)
    # readers
    csv_columns: Optional[str] = None      # "LAT,LON[,WEIGHT[,TIME]]": header names or numbers
    weight_property: Optional[str] = None  # GeoJSON property that holds a point's weight
    time_property: Optional[str] = None    # GeoJSON property that holds the time
    time_column: bool = False              # plain text: a 4th field is the time
    # tiles and georeferenced pictures
    tiles: Optional[str] = None            # --tiles OUT: a folder, or a file ending in .mbtiles
    tile_zoom: Optional[Tuple[int, int]] = None   # (first, last) zoom; None: from the data
    leaflet_url: Optional[str] = None      # folder URL of leaflet.js/.css; None: unpkg.com
    world_file: bool = False               # world file + .aux.xml (or GeoTIFF) beside -o
    # time: data times and tracks (durations in seconds; the command line also takes 90s, 15m)
    time_range: Optional[Tuple[Optional[str], Optional[str]]] = None  # (START, END), None: open
    frame_time: Optional[float] = None     # -a: data time per frame, instead of --frequency
    fade: Optional[float] = None           # -a: an input leaves the frames this long after it
    fps: Optional[float] = None            # video frames per second; None: ffmpeg's (25)
    frame_label: bool = False              # each frame's time in its top-left corner
    weight_by_time: bool = False           # a track segment weighs its duration in seconds
    max_gap: float = 300.0                 # with weight_by_time, a longer segment weighs nothing
    max_jump: Optional[float] = None       # metres: longer track segments are dropped
    trim_ends: Optional[float] = None      # metres taken off both ends of each track
    track_weight: str = "segment"          # a track's heat: by segment, metre or second
    jump_warning: float = 5000.0           # metres: a longer track segment is warned of
    strict: bool = False                   # of several inputs, an unreadable one is an error
    dask: Optional[object] = None          # a scheduler address, "local:N" or a Client (or None)

    @property
    def padding(self) -> int:
        """Pixels kept around the data: margin plus kernel radius."""
        return self.margin + self.radius


# Range checks (section 12): (setting, flag, lowest, highest or None, lowest itself refused).
_RANGES = (
    ("decay", "-d/--decay", 0, 1, False),
    ("radius", "-r/--radius", 1, None, False),
    ("width", "-W/--width", 0, None, True),
    ("height", "-H/--height", 0, None, True),
    ("scale", "-s/--scale", 0, None, True),
    ("margin", "-R/--margin", 0, None, False),
    ("frequency", "--frequency", 1, None, False),
    ("background_brightness", "-B/--background_brightness", 0, 255, False),
    ("max_jump", "--max_jump", 0, None, True),
    ("fps", "--fps", 0.001, 1000, False),
    ("trim_ends", "--trim_ends", 0, None, False),
    ("jump_warning", "--jump_warning", 0, None, False),
    ("colour_max", "--colour_max", 0, None, True),
)
# Settings that name one of a few choices: (setting, flag, a function giving the choices).
_CHOICES = (
    ("projection", "-P/--projection", lambda: PROJECTIONS),
    ("kernel", "-k/--kernel", lambda: KERNELS),
    ("filetype", "--filetype", lambda: ["auto", *READERS]),
    ("colour_scale", "--colour_scale", lambda: _COLOUR_SCALES),
    ("track_weight", "--track_weight", lambda: ("segment", "length", "time")),
)
_config_hints = functools.lru_cache(None)(lambda: typing.get_type_hints(Config))  # ~1 ms a call


# ---- 2.1 Input: streams, the format registry, read() ----
# Every input, a file, "-" or a FIFO, is opened once as a binary stream (_opened_input):
# decompressed (.gz, .bz2, .xz by their magic bytes; to at most HEATMAP_MAX_RATIO times its
# size, _check_ratio, as are zip members), UTF-16 re-encoded as UTF-8, its first 4 KB kept
# to tell its format by.  _FORMATS has a row per format (reader, extensions, a sniff of the
# first bytes by structure, --help entry, message for a file that gives nothing).  read()
# picks the format (--filetype, else the extension, else the content), runs the reader and
# checks each batch; an export folder's small files are read ahead by forked processes.  Readers
# yield Points or Segments (a few hundred thousand rows each, so a file of any size streams).
class Points(NamedTuple):
    """A batch of points: float64 arrays (n,); ``weight`` None means all 1; ``time``
    (datetime64[s], NaT where unknown) None means the input has no timestamps."""
    lat: np.ndarray
    lon: np.ndarray
    weight: Optional[np.ndarray] = None
    time: Optional[np.ndarray] = None


class Segments(NamedTuple):
    """A batch of track segments from (lat1, lon1) to (lat2, lon2): float64 arrays (n,);
    ``time1``/``time2`` (datetime64[s], NaT where unknown) the times of their ends, or None;
    ``weight`` (multiplies a segment's heat) None means all 1."""
    lat1: np.ndarray
    lon1: np.ndarray
    lat2: np.ndarray
    lon2: np.ndarray
    time1: Optional[np.ndarray] = None
    time2: Optional[np.ndarray] = None
    weight: Optional[np.ndarray] = None


class _Input(NamedTuple):
    """One input, opened once.  ``name``: for messages; ``stream``: binary, read once, decompressed,
    as UTF-8 (UTF-16 re-encoded, a BOM removed); ``head``: its first bytes, still in the stream;
    ``path``: the regular file as is, else None; ``recoded``: re-encoded (XML may say UTF-16)."""
    name: str
    stream: io.BufferedIOBase
    head: bytes
    path: Optional[str]
    recoded: bool = False


class _NothingToDraw(Exception):
    """A reader found nothing to draw; the message says what was missing."""


def _open_binary(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise HeatmapError("%s: cannot read: %s" % (path, exc.strerror or exc)) from None


def _not_a_file(path: str) -> HeatmapError:
    missing = "no such file (URLs are read with --dask)" if "://" in path else "no such file"
    return HeatmapError("%s: %s" % (path, missing if not os.path.exists(path) else
                                    "is a folder, not a file" if os.path.isdir(path) else
                                    "is not a regular file"))


def _check_input_path(path: str) -> None:
    """An input is "-" (standard input), a file, or anything else that reads as a stream."""
    if path != "-" and (not os.path.exists(path) or os.path.isdir(path)):
        raise _not_a_file(path)


class _HeadFirstStream(io.RawIOBase):
    """A raw stream of ``head``, then of ``source`` (readinto, read or a read function: more than
    asked waits); read errors are HeatmapErrors.  ``count``: _check_ratio bounds it if packed."""

    def __init__(self, name: str, head: bytes, source, what: str = "cannot read", packed=None):
        super().__init__()
        self._name, self._head, self._what, self.count, self._packed = name, head, what, 0, packed
        self._readinto = getattr(source, "readinto", None)
        self._read = getattr(source, "read", source)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            if self._head or not self._readinto:
                data = self._head or self._read(len(buffer))
                n = min(len(buffer), len(data))
                buffer[:n], self._head = data[:n], data[n:]
            else:
                n = self._readinto(buffer)  # no copy
        except HeatmapError:
            raise
        except Exception as exc:  # OSError, EOFError, zlib.error, lzma.LZMAError, UnicodeError
            raise HeatmapError("%s: %s: %s" % (self._name, self._what, exc)) from None
        self.count += n
        if self._packed is not None:
            _check_ratio(self._name, self.count, self._packed.count)
        return n


def _check_ratio(name: str, unpacked: int, packed: int) -> None:
    """Refuse data unpacking to over HEATMAP_MAX_RATIO times its packed size (or 1 MB)."""
    ratio = _env_limit("HEATMAP_MAX_RATIO", _MAX_RATIO)
    if unpacked > ratio * max(packed, 1 << 20):
        raise HeatmapError("%s: unpacks to more than %d times its size; set HEATMAP_MAX_RATIO to "
                           "allow more" % (name, ratio))


_HEAD_BYTES = 1 << 12                # bytes looked at to tell a file's type
_COMPRESSION = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"))


def _buffered_stream(name: str, head: bytes, source, what: str = "cannot read",
                     packed=None) -> io.BufferedReader:
    return io.BufferedReader(_HeadFirstStream(name, head, source, what, packed), 1 << 16)


def _make_input(name: str, raw, path: Optional[str]) -> _Input:
    """The :class:`_Input` of a raw binary stream: decompressed, decoded, its head read."""
    stream = _buffered_stream(name, b"", raw)
    head, packed = stream.read(_HEAD_BYTES), stream.raw
    for magic, module in _COMPRESSION:
        if head.startswith(magic):
            inner = __import__(module).open(_buffered_stream(name, head, stream), "rb")
            stream = _buffered_stream(name, b"", inner, "damaged or truncated %s data" % module,
                                      packed)
            head, path = stream.read(_HEAD_BYTES), None
            break
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else None  # by a byte-order mark
    for codec, zero, other in (("utf-16-le", 1, 0), ("utf-16-be", 0, 1)):  # or by its NULs
        if head[zero::2] and not head[zero::2].strip(b"\0") and b"\0" not in head[other::2]:
            encoding = codec
    if encoding:  # re-encoded as UTF-8
        import codecs
        stream = _buffered_stream(name, b"", codecs.EncodedFile(_buffered_stream(
            name, head, stream), "utf-8", encoding).read, "not valid UTF-16 text")
        head, path = stream.read(_HEAD_BYTES), None
    if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark (Excel's "CSV UTF-8")
        head, path = head[3:], None
    return _Input(name, _buffered_stream(name, head, stream), head, path, bool(encoding))


@contextlib.contextmanager
def _opened_input(path: str) -> Iterator[_Input]:
    """An input file, "-" (standard input), a FIFO or a device, opened once as a stream."""
    if "://" in path:   # a URL that fsspec reads (--dask)
        with _import_extra("fsspec", "fsspec", "dask", "reading URLs").open(path, "rb") as stream:
            yield _make_input(path, stream, None)
        return
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        if stdin is None:
            raise HeatmapError("-: there is no standard input")
        yield _make_input("<stdin>", stdin, None)
        return
    _check_input_path(path)
    with _open_binary(path) as stream:
        yield _make_input(path, stream.raw, path if os.path.isfile(path) else None)


class _TrackBuilder:
    """Track points as read, handed out as :class:`Segments`; no segment joins two tracks.
    ``flush`` hands out what is read, keeping the last point to join the next, so batches stream."""

    def __init__(self):
        self.lat, self.lon, self.time = [], [], []   # the arrays of points not yet handed out
        self.open, self.points, self.done = False, 0, []   # done: the Segments to hand out

    def start(self) -> None:
        self.end()
        self.open = True

    def add(self, lat: np.ndarray, lon: np.ndarray, time: Optional[np.ndarray] = None) -> None:
        if lat.size:
            self.lat.append(lat)
            self.lon.append(lon)
            self.time.append(time)
            self.points += lat.size

    def end(self) -> None:
        self.flush(keep_last=False)
        self.open = False

    def flush(self, keep_last: bool = True) -> None:
        if not self.lat:
            return
        lat, lon = np.concatenate(self.lat), np.concatenate(self.lon)
        time = None
        if any(t is not None for t in self.time):
            time = np.concatenate([_no_times(a.size) if t is None else t
                                   for a, t in zip(self.lat, self.time)])
        if lat.size > 1:
            self.done.append(Segments(lat[:-1], lon[:-1], lat[1:], lon[1:],
                                      None if time is None else time[:-1],
                                      None if time is None else time[1:]))
        self.lat, self.lon, self.time = [], [], []
        if keep_last:
            self.lat, self.lon = [lat[-1:]], [lon[-1:]]
            self.time = [None if time is None else time[-1:]]

    def take(self) -> List[Segments]:
        done, self.done = self.done, []
        return done


class _Format(NamedTuple):
    """One input format: how it is told, who reads it, how --help describes it."""
    title: str                      # in messages: "GPX", "a shapefile"
    reader: str                     # the name of its reader function (sections 2.2-2.6)
    extensions: Tuple[str, ...]     # by the name, also under .gz, .bz2 and .xz
    sniff: Callable[[bytes], bool]  # by the first bytes, when the name does not tell
    help: str                       # its entry in --help
    empty: str = "no data points"   # why a file gave nothing to draw
    zipped: bool = False            # may come as a zip archive


def _xml_root(head: bytes) -> Optional[bytes]:
    """The name of the first element of XML text (namespace prefix left out), or None."""
    text = re.sub(rb"<!--.*?-->|<\?.*?\?>", b"", head, flags=re.S).lstrip()  # not in comments
    root = re.search(rb"<(?:[\w.-]+:)?([A-Za-z_][\w.-]*)", text) if text[:1] == b"<" else None
    return root.group(1) if root else None


def _json_kind(head: bytes) -> Optional[str]:
    """takeout, geojsonl or geojson for text that starts as JSON, else None."""
    if head.lstrip()[:1] not in (b"{", b"["):
        return None
    if re.match(rb'\s*(\{\s*"locations"|\[\s*\{[^{}]*"latitudeE7")', head):  # by its shape
        return "takeout"
    lines = [line.strip() for line in head.split(b"\n") if line.strip()]
    if len(lines) > 1 and lines[0].startswith(b"{") and lines[0].endswith(b"}") \
            and lines[1].startswith(b"{"):
        return "geojsonl"
    return "geojson"


def _first_line_has_comma(head: bytes) -> bool:
    first = next((line for line in head.split(b"\n") if line.strip()), b"")
    return b"," in first and _xml_root(head) is None and _json_kind(head) is None


# The formats, in the order their content is tried; READERS [2.6], --filetype, --help follow.
_FORMATS = {
    "fit": _Format("FIT", "_read_fit", (".fit",), lambda head: head[8:12] == b".FIT",
                   "Garmin FIT activities (needs fitdecode: the fit extra)",
                   "no track segments (two or more records with a position)"),
    "shp": _Format("a shapefile", "_read_shp", (".shp", ".zip"), lambda h: h.startswith(
        b"\x00\x00\x27\x0a"), "ESRI shapefile point layers in WGS84, with the .shx beside it or "
        "all in a .zip (needs pyshp: the shp extra)", zipped=True),
    "parquet": _Format("Parquet", "_read_columnar", (".parquet", ".pq"), lambda h: h.startswith(
        b"PAR1"), "columns as for numpy; a row group at a time (needs pyarrow: the parquet extra)"),
    "arrow": _Format("Arrow", "_read_columnar", (".arrow", ".feather"), lambda h: h.startswith(
        b"ARROW1"), "Arrow IPC files (Feather 2), columns as for numpy (the parquet extra)"),
    "numpy": _Format("NumPy", "_read_columnar", (".npy", ".npz"), lambda h: h.startswith(
        b"\x93NUMPY"), "columns lat/latitude and lon/lng/long/longitude, or of a 2-D .npy the "
        "first two (a third: the weight), or those --csv_columns names", zipped=True),
    "gpx": _Format("GPX", "_read_gpx", (".gpx",), lambda head: _xml_root(head) == b"gpx",
                   "the <trkpt>s of each <trkseg> joined into a track: heat along the lines "
                   "between them", "no track segments (a <trkseg> needs two or more <trkpt>)"),
    "tcx": _Format("TCX", "_read_tcx", (".tcx",),
                   lambda head: _xml_root(head) == b"TrainingCenterDatabase",
                   "Garmin TCX tracks", "no track segments (a <Track> needs two or more points)"),
    "kml": _Format("KML", "_read_kml", (".kml", ".kmz"), lambda head: _xml_root(head) == b"kml",
                   "KML points, lines and gx:Tracks; a .kmz is read from its first .kml",
                   zipped=True),
    "takeout": _Format("Takeout location history", "_read_takeout", (".json",),
                       lambda head: _json_kind(head) == "takeout",
                       "Google Takeout location history (Records.json)"),
    "geojsonl": _Format("newline-delimited GeoJSON", "_read_geojsonl",
                        (".geojsonl", ".ndjson", ".jsonl", ".json"),
                        lambda head: _json_kind(head) == "geojsonl", "one GeoJSON object a line"),
    "geojson": _Format("GeoJSON", "_read_geojson", (".geojson", ".json"),
                       lambda head: _json_kind(head) == "geojson",
                       "GeoJSON points and lines (--weight_property, --time_property)"),
    "csv": _Format("CSV", "_read_csv", (".csv",), _first_line_has_comma,
                   '"lat,lon" or "lat,lon,weight,..." rows; quoted fields work; '
                   "--ignore_csv_header skips a header line, --csv_columns picks columns"),
    "plain": _Format("plain text", "_read_plain", (".txt",),
                     lambda head: _xml_root(head) is None and _json_kind(head) is None,
                     'one point a line, "lat lon" or "lat lon weight", latitude first, in '
                     "degrees; spaces or tabs between; blank lines are skipped"),
}
_OTHER_FILES = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                (b"GIF8", "a GIF image"), (b"%PDF-", "a PDF document"),
                (b"PK\x03\x04", "a zip archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
                (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
                (b"RIFF", "a RIFF file (WebP, WAV or AVI)"), (b"\x7fELF", "a program"),
                (b"SQLite format 3\x00", "an SQLite database"), (b"PAR1", "a Parquet file"))


def _filetype(source: _Input, filetype: str) -> str:
    """An input's format: --filetype, else its extension (under .gz), else its content (which also
    decides among an extension's formats); a file plainly of another kind is an error."""
    if filetype == "auto":
        filetype = _type_by_content(source, _types_by_name(source.name))
    row = _FORMATS[filetype]
    binary = filetype in ("fit", "parquet", "arrow", "numpy")  # their libraries check them
    if not binary and not (row.zipped and source.head.startswith(b"PK\x03\x04")):
        for magic, what in _OTHER_FILES:
            if source.head.startswith(magic):
                raise HeatmapError("%s: is %s, not %s" % (source.name, what, row.title))
    return filetype


def _types_by_name(name: str) -> List[str]:
    """The formats whose extension the name has (under .gz, .bz2 or .xz): any number."""
    base, ext = os.path.splitext(name.lower())
    if ext in (".gz", ".bz2", ".xz"):
        ext = os.path.splitext(base)[1]
    return [kind for kind, row in _FORMATS.items() if ext in row.extensions]


def _type_by_content(source: _Input, kinds: Sequence[str] = ()) -> str:
    """First of ``kinds`` (or of all formats) whose sniff knows the head; one alone is taken."""
    if len(kinds) == 1:
        return kinds[0]
    for kind in kinds or _FORMATS:
        if _FORMATS[kind].sniff(source.head):
            return kind
    if kinds:
        return kinds[-1]
    root = _xml_root(source.head)
    raise HeatmapError("%s: XML with the root element <%s>, not GPX, KML or TCX" % (
        source.name, root.decode("ascii", "replace") if root else "?"))


def read(files: Any, config: Optional[Config] = None, lenient: bool = True,
         **settings: Any) -> Iterator[object]:
    """:class:`Points` and :class:`Segments` batches of ``files`` (a path, "-", a FIFO, or a
    list), in order, as read.  Of several, one that cannot be read is skipped with a warning
    (``strict``: an error), and so is one without times if an option needs them; not
    ``lenient`` (the command line), one that gives nothing too.  ``settings``: Config fields;
    the time and track settings that change the batches are refused: the drawing applies them."""
    config = _config_with(config, dict(settings, files=files))
    _check_settings(config)
    if config.time_range or config.max_jump or config.trim_ends or _track_rule(config) != "segment":
        raise HeatmapError("read() gives the files as they are: render(), render_tiles(), "
                           "render_frames() and run() of the files apply time_range, max_jump, "
                           "trim_ends and track_weight")
    return _read_files(config, lenient)


def _read_files(config: Config, lenient: bool) -> Iterator[object]:
    """read() of ``config.files``; the time and track options are left to the drawing."""
    files = config.files
    found, nothing, needs, untimed, jump = 0, "", _needs_times(config), [], config.max_jump
    for path, stream in zip(files, _read_ahead(files, config)):
        count, timed, longest = 0, 0, 0.0
        try:
            with contextlib.closing(stream):
                name, kind = next(stream)
                _LOG.info("reading %s (%s)", name, _FORMATS[kind].title)
                nothing = _FORMATS[kind].empty
                try:
                    for batch in stream:
                        try:
                            _check_batch(config, batch)
                        except HeatmapError as exc:
                            raise HeatmapError("%s: %s" % (name, exc)) from None
                        count += len(batch[0])
                        time = batch.time if isinstance(batch, Points) else batch.time2
                        if needs and (time is None or np.isnat(time).all()):
                            continue   # no time: the filter would leave it out
                        timed += len(batch[0])
                        if isinstance(batch, Segments) and config.jump_warning:   # a GPS jump?
                            metres = _segment_metres(batch)   # over --max_jump: dropped anyway
                            longest = np.max(metres[metres <= (jump or math.inf)], initial=longest)
                        yield batch
                except _NothingToDraw as exc:
                    nothing = str(exc)
                except RecursionError:  # json.loads of deep nesting (GeoJSON, Takeout: _JSON_DEPTH)
                    raise HeatmapError("%s: nested too deep to read" % name) from None
                nothing = "%s: %s" % (name, nothing)
        except HeatmapError as exc:
            if timed or config.strict or len(files) == 1:
                raise
            _LOG.warning("%s; skipped (--strict makes this an error)", exc)
            continue
        if count and not timed:
            untimed.append(path)
        elif longest > config.jump_warning:
            _LOG.warning("%s: a track segment %.1f km long, likely a GPS jump: --max_jump "
                         "drops such segments", path, longest / 1000)
        if not lenient and not count and len(files) > 1:
            _LOG.warning("%s, skipped", nothing)
        found += timed
    if untimed and found:
        _LOG.warning("%d files without times skipped (%s needs times): %s", len(untimed), needs,
                     ", ".join(untimed))
    elif untimed:
        raise HeatmapError("%s needs times, and no input has them: %s"
                           % (needs, ", ".join(untimed)))
    elif not lenient and not found:
        raise HeatmapError(nothing if len(files) == 1 else
                           "none of the %d input files gives anything to draw" % len(files))


def _file_batches(path: str, config: Config) -> Iterator[object]:
    """A file's (name, format), then its batches."""
    with _opened_input(path) as source:
        kind = _filetype(source, config.filetype)
        yield source.name, kind
        yield from READERS[kind](source, config)


_AHEAD_BYTES = 1 << 23   # files up to this size may be read ahead in worker processes


def _read_ahead(files: List[str], config: Config) -> Iterator[Iterator[object]]:
    """Each file's _file_batches, in order.  Fast path of reading them here: the same batches and
    messages; chosen in read(); bench row "pyramid".  4+ files of up to _AHEAD_BYTES, on Linux,
    no other thread (a fork copies none), not in a daemon: read ahead by forked processes."""
    small = sum(os.path.isfile(p) and os.path.getsize(p) <= _AHEAD_BYTES for p in files)
    if not _FAST or small < 4 or (os.cpu_count() or 1) < 2 or threading.active_count() > 1 or \
            not sys.platform.startswith("linux") or \
            __import__("multiprocessing").current_process().daemon:   # (a pool's: no children)
        return (_file_batches(path, config) for path in files)
    from concurrent.futures import ProcessPoolExecutor
    forked = functools.partial(ProcessPoolExecutor, initializer=_worker_signals,
                               mp_context=__import__("multiprocessing").get_context("fork"))
    work = functools.partial(_file_events, config=dataclasses.replace(config, dask=None))
    read = _threaded_map(work, files, None, 1, forked)
    return (_replayed(*done) if done else _file_batches(path, config)
            for path, done in zip(files, read))


def _worker_signals() -> None:
    """A read-ahead process leaves Ctrl-C to this one, and ends quietly on SIGTERM or SIGHUP."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (getattr(signal, name) for name in ("SIGTERM", "SIGHUP")):
        signal.signal(number, signal.SIG_DFL)


def _file_events(path: str, config: Config) -> Optional[tuple]:
    """In a forked process: (its log records (level, template, arguments, batches before it), the
    list of _file_batches, the error that ended it or None); None: a file to read in order (big)."""
    if path == "-" or not os.path.isfile(path) or os.path.getsize(path) > _AHEAD_BYTES:
        return None   # ("-": standard input, /dev/null in a worker, beside a file named "-")
    events, error, size, records, handler = [], None, 0, [], logging.Handler()
    handler.emit = lambda r: records.append((r.levelno, r.msg, r.args, len(events)))
    _LOG.handlers, _LOG.propagate = [handler], False
    try:
        for event in _file_batches(path, config):
            events.append(event)
            size += sum(a.nbytes for a in event if isinstance(a, np.ndarray))
            if size > _HELD_BYTES:   # (an archive's): streamed here instead
                return None
    except (HeatmapError, _NothingToDraw, RecursionError) as exc:
        error = exc
    return records, events, error


def _replayed(records: list, events: list, error: Optional[BaseException]) -> Iterator[object]:
    """A file read ahead, as _file_batches: its batches, its messages logged here among them in
    the order they came, its error."""
    done = 0
    for level, template, args, before in records:
        yield from events[done:before]
        done = max(done, before)
        _LOG.log(level, template, *args)
    yield from events[done:]
    if error is not None:
        raise error


def _check_batch(config: Config, batch: object) -> object:
    if isinstance(batch, Points) and batch.lat.size and \
            180 >= np.abs(batch.lat).max() > 90 >= np.abs(batch.lon).max():
        raise HeatmapError("latitude %.12g is outside -90..90 and every longitude is a latitude: "
                           "swapped columns? (--csv_columns 2,1)"
                           % max(batch.lat.min(), batch.lat.max(), key=abs))
    for lat in [batch.lat] if isinstance(batch, Points) else [batch.lat1, batch.lat2]:
        if lat.size:
            _check_latitudes(config, _Box(0.0, float(lat.min()), 0.0, float(lat.max())))
    for lon in [batch.lon] if isinstance(batch, Points) else [batch.lon1, batch.lon2]:
        if lon.size and not np.abs(lon).max() <= _MAX_LONGITUDE:
            worst = lon[np.argmax(np.abs(lon))]
            raise HeatmapError("longitude %.12g is outside -%d..%d" % (worst, _MAX_LONGITUDE,
                                                                       _MAX_LONGITUDE))
    if batch.weight is not None and not np.isfinite(batch.weight).all():
        raise HeatmapError("weight %g is not a finite number" % batch.weight[
            np.argmin(np.isfinite(batch.weight))])
    return batch


# ---- 2.2 Input: text and CSV ----
# Plain "lat lon [weight]" lines and CSV rows, in chunks of whole lines (64 KB doubling to 16 MB:
# a small file zeroes less) parsed on two threads: a table of plain decimals by whole-array NumPy
# (_parse_table, the fast path), anything else (quotes, exponents, a bad line) by the exact
# parsers (_plain_rows, _csv_rows: the reference) naming the bad line; both give float()'s bits.
_CHUNK_BYTES = 1 << 24            # text read per chunk
_FIRST_CHUNK_BYTES = 1 << 16      # ... from this size, doubling
_MAX_LINE = 1 << 24               # longest text line, in bytes (a longer one is an error)


def _line_chunks(source: _Input, quotes: bool = False, first_line: int = 1
                 ) -> Iterator[Tuple[int, bytearray]]:
    """Yield (first line number, a new buffer of whole lines ending b"\\n"); with ``quotes`` (CSV)
    cut outside double quotes.  A line over _MAX_LINE bytes is an error (bounded time, memory)."""
    rest, line_no, size = b"", first_line, min(_FIRST_CHUNK_BYTES, _CHUNK_BYTES)
    while True:
        buf = bytearray(len(rest) + size)
        buf[:len(rest)] = rest
        with memoryview(buf) as view, view[len(rest):] as free:
            read = source.stream.readinto(free)
        if not read:
            break
        size = min(2 * size, _CHUNK_BYTES)
        end = len(rest) + read
        cut = _chunk_cut(buf, end, quotes)
        if not cut and end > _MAX_LINE:
            what = ("a quoted field runs on for more than %d bytes (a quote not closed?)"
                    if quotes and b"\n" in buf else "the line is longer than %d bytes")
            raise _data_error(source.name, line_no, what % _MAX_LINE)
        rest = bytes(buf[cut:end])
        del buf[cut:]
        if buf and not buf.isspace():  # no whole line yet; blank lines cost nothing
            yield line_no, buf
        line_no += buf.count(b"\n")
    if len(rest) > _MAX_LINE:
        raise _data_error(source.name, line_no, "the line is longer than %d bytes" % _MAX_LINE)
    if rest:
        yield line_no, bytearray(rest + b"\n")


def _chunk_cut(buf: bytearray, end: int, quotes: bool) -> int:
    """Bytes of buf[:end] making whole lines (0: none); with ``quotes``, no quoted field cut."""
    cut = buf.rfind(b"\n", 0, end) + 1
    if quotes and cut:
        odd = buf.count(b'"', 0, cut) % 2
        while odd and cut:
            before = buf.rfind(b"\n", 0, cut - 1) + 1
            odd ^= buf.count(b'"', before, cut) % 2
            cut = before
    return cut


def _plain_rows(name: str, first_line: int, chunk, four: bool = False) -> Points:
    """Slow exact parse of plain lines, naming the first bad one."""
    rows, times, lines = [], [], []
    for line, raw in enumerate(chunk.split(b"\n"), first_line):
        fields = raw.split()
        if not fields:
            continue
        if not 2 <= len(fields) <= (4 if four else 3):
            hint = " (CSV? name the file .csv or give --filetype csv)" if b"," in raw else ""
            raise _data_error(name, line, "expected 'lat lon [weight%s]', got %r%s"
                              % (" [time]" if four else "", _quoted(raw), hint))
        try:
            values = [float(f) for f in fields[:3]]
        except ValueError:
            raise _data_error(name, line, "not a number: %r" % _quoted(raw)) from None
        rows.append(values + [1.0] * (3 - len(values)))
        lines.append(line)
        if four:
            times.append(bytes(fields[3]) if len(fields) > 3 else b"")
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    bad = np.flatnonzero(~np.isfinite(table).all(1))
    if bad.size:
        line = lines[bad[0]]
        raise _data_error(name, line, "not a finite number: %r"
                          % _quoted(chunk.split(b"\n")[line - first_line]))
    return _points_from_table(table, _times_at(name, times, lines) if four else None)


def _parse_table(chunk: bytes, sep: bytes) -> Optional[np.ndarray]:
    """Fast path of _plain_rows/_csv_rows: the same bits; chosen in _read_plain/_read_csv;
    bench row "text-1e7 fast path".  Whole lines as float64 (rows, columns), or None.  ``sep``
    b" ": runs of spaces, tabs, \\r separate fields; b",": one comma, spaces around it allowed.
    Blank lines are skipped; the others need as many fields, each [+-]?(digits[.digits]|.digits|
    digits.), at most 32 integer and 22 fraction digits, a mantissa below 2**53 (so finite)."""
    if sep not in (b" ", b","):
        return None
    csv = sep == b","
    n = len(chunk)
    block = 1 << 18   # 256 KiB keeps temporaries in cache: faster than larger or smaller blocks
    tables = _parse_tables()
    out = np.empty((n + 1) // 2 + 1)   # a token and its separator take >= 2 bytes (+1: no "\n")
    work = np.empty(min(n, block) + 9, np.uint8)   # 8 leading spaces: 8-byte loads start at >= 0
    pos = ntot = ncols = 0
    while pos < n:
        end = chunk.rfind(b"\n", pos, pos + block) + 1
        if end <= pos:  # one line longer than a block, or no final newline
            end = chunk.find(b"\n", pos + block) + 1 or n
        m = end - pos
        if m + 9 > work.shape[0]:
            work = np.empty(m + 9, np.uint8)
        buf = work[:m + 9]
        buf[:8] = 32
        buf[8:m + 8] = np.frombuffer(chunk, np.uint8, m, pos)
        buf[m + 8] = 10  # guarantees a newline after the last token
        res = _parse_block(buf, csv, out[ntot:], tables)
        if res is None or res[0] and ncols and res[1] != ncols:
            return None   # not a table, or another number of columns than the blocks before
        if res[0]:
            ncols, ntot = res[1], ntot + res[0]
        pos = end
    if not ncols:
        return None
    out.resize((ntot,), refcheck=False)   # in place (realloc, no copy): no view of it is alive
    return out.reshape(-1, ncols)


def _parse_tables() -> tuple:
    """_parse_block's constants (per call: no module state): masks of the low nibbles of the top k
    bytes of a uint64 (k <= 8); 10**k as uint64 (k < 9), float64 (k < 23), signed (-: k + 23)."""
    p10 = 10.0 ** np.arange(23)
    masks = [((1 << 8 * k) - 1 << 64 - 8 * k) & 0x0F0F0F0F0F0F0F0F for k in range(9)]
    return (np.array(masks, np.uint64), np.array([10 ** k for k in range(9)], np.uint64), p10,
            np.concatenate([p10, -p10]))


def _parse_block(buf: np.ndarray, csv: bool, out: np.ndarray, tables) -> Optional[Tuple[int, int]]:
    """Parse one block into out[:ntok]; return (ntok, columns), (0, 0) if blank, or None.
    buf: uint8 (L,) = 8 spaces + whole lines + b"\\n".  out: float64, long enough."""
    L = buf.shape[0]
    c = buf - 43  # uint8: '+' ',' '-' '.' '/' '0'..'9' -> 0..14, the rest > 14
    tok = c <= 14  # bool (L,): byte may belong to a token
    if csv:
        tok &= c != 1  # ',' separates
    # Events: token edges (start, or one past the end), newlines and points (and commas).
    # (b | 0x24) == 0x2E selects '\n' and '.', (b | 0x26) == 0x2E also ','; the few
    # control/punctuation bytes it also selects are invalid, rejected by the byte count below.
    evm = np.empty(L, bool)
    evm[0] = False
    np.not_equal(tok[1:], tok[:-1], out=evm[1:])
    evm |= (buf | (0x26 if csv else 0x24)) == 0x2E
    ev = evm.nonzero()[0]  # int64 (nev,) byte positions; nev >= 1 (final '\n')
    # Event chars (shifted by -43) behind one dummy '\n': chx[:-1].take(j) is event j-1's.
    chx = np.empty(ev.shape[0] + 1, np.uint8)
    chx[0] = 223
    ch = chx[1:]
    c.take(ev, out=ch, mode="clip")
    is_tc = ch <= 14  # token char
    if csv:
        is_tc &= ch != 1
    # Inner decimal points: a '.' right after another token-char event (the token's start or a
    # first point).  Every other token-char event is a start.
    is_pt = ch == 3
    is_pt[1:] &= is_tc[:-1]
    is_pt[0] = False
    js = (is_tc > is_pt).nonzero()[0]  # int64 (ntok,) event index of each token start
    ntok = js.shape[0]
    # The end is the next event, or the one after an inner point: a token with a second point
    # "ends" early, which the byte count below rejects.
    pt1 = is_pt[1:].take(js)  # bool (ntok,): has an inner '.'
    je = js + pt1 + 1
    s, e = ev.take(js), ev.take(je)
    # Every byte must be a token byte, space, tab, \r, \n (or a CSV comma).
    nws = np.count_nonzero(buf == 32) + np.count_nonzero((buf | 4) == 13)
    nnl = np.count_nonzero(ch == 223)
    ncom = np.count_nonzero(ch == 1) if csv else 0
    if int(e.sum()) - int(s.sum()) + nws + nnl + ncom != L:
        return None
    if ntok == 0:
        return (0, 0) if ncom == 0 else None
    ncols = _columns(chx, js, je, csv, ncom)
    if ncols is None or not _tokens_to_float(buf, ch, ev, js, je, pt1, s, e, out[:ntok], tables):
        return None
    return ntok, ncols


def _columns(chx, js, je, csv, ncom) -> Optional[int]:
    """Fields per non-blank line; None if lines differ or CSV commas are wrong (chx: as above)."""
    ntok = js.shape[0]
    first = np.empty(ntok, bool)  # token starts a line
    first[0] = True
    # Between two tokens lie the end event of the first and maybe more events (only newlines,
    # and commas in CSV): the gap has a newline iff its first or its last event is one.
    x = chx[1:].take(je[:-1])
    y = chx[:-1].take(js[1:])
    np.equal(x, 223, out=first[1:])
    first[1:] |= y == 223
    if csv:
        # Same line: exactly one comma -- "a,b" / "a ,b" -- and no newline.
        g = js[1:] - je[:-1]
        same = ((x == 1) & (g == 1)) | ((x != 223) & (x != 1) & (g == 2) & (y == 1))
        # Every other comma (empty field, leading/trailing comma) breaks the count.
        if not (same | first[1:]).all() or np.count_nonzero(same) != ncom:
            return None
    rows = np.count_nonzero(first)
    k = ntok // rows
    return k if k * rows == ntok and first[::k].all() else None


def _tokens_to_float(buf, ch, ev, js, je, pt1, s, e, out, tables) -> bool:
    """float(token) of every token into out; False if one is unsupported.  ch, ev: event chars,
    positions; js, je, pt1: per token its start and end event, has an inner point; s, e: bytes."""
    keep, p10u, p10f, p10s = tables
    c0 = ch.take(js)  # first char (-43): 0 '+', 2 '-', 3 '.'
    hp = (c0 == 3) | pt1  # has a decimal point
    p = ev.take(je - hp)  # the point: the event before the end (the start for ".5"); e if none
    li = p - s
    li -= (c0 | 2) == 2  # integer digits (after a sign)
    lf = e - p
    lf -= hp  # fraction digits
    if (li | lf).min() == 0:
        return False  # no digit at all ("+", ".", "-.")
    limax, lfmax = int(li.max()), int(lf.max())
    nw = -(-max(limax, lfmax) // 8)  # 8-byte words per part
    if lfmax > 22 or nw > 4:
        return False  # 10**F inexact / absurdly long token
    # a[x] = bytes x-8..x-1 as little-endian uint64: one aligned copy makes the gathers below
    # ~4x cheaper than unaligned ones.
    L = buf.shape[0]
    a = np.empty(L + 1, np.uint64)
    np.copyto(a[8:], np.ndarray((L - 7,), "<u8", buf, strides=(1,)))
    if nw == 1:  # common case: exact uint64 arithmetic, M < 10**16
        di = a.take(p) & keep.take(li)
        df = a.take(e) & keep.take(lf)
        # The low nibble maps '0'..'9' -> 0..9 and '+,-./' -> 11..15 (the only other token
        # bytes); lane + 0x76 sets the lane's top bit iff > 9.
        lanes = np.bitwise_or.reduce(di + np.uint64(0x7676767676767676))
        lanes |= np.bitwise_or.reduce(df + np.uint64(0x7676767676767676))
        if lanes & np.uint64(0x8080808080808080):
            return False
        m = _swar8(di)
        m *= p10u.take(lf)
        m += _swar8(df)
        if limax + lfmax >= 16 and int(m.max()) >= 1 << 53:
            return False
        m = m.view(np.int64)  # int64 -> float64 converts faster than uint64
    else:  # long tokens: float Horner, exact below 2**53 and >= 2**53 otherwise
        m = _digits_long(a, p, li, nw, keep)
        fp = _digits_long(a, e, lf, nw, keep)
        if m is None or fp is None:
            return False
        m *= p10f.take(lf)
        m += fp
        if m.max() >= 2.0 ** 53:
            return False
    lf += 23 * (c0 == 2)  # signed divisors: M / -10**F == -(M / 10**F) exactly, -0.0 for M == 0
    np.divide(m, p10s.take(lf), out=out)
    return True


def _digits_long(a, end, nd, nw, keep):
    """float64 (n,) of nd (<= 8*nw) digits ending at byte end (a: as above); None: not digits."""
    val = np.zeros(end.shape[0])
    for w in range(nw - 1, -1, -1):  # most significant 8-digit word first
        k = np.clip(nd - 8 * w, 0, 8)
        d = a.take(np.maximum(end - 8 * w, 8)) & keep.take(k)  # clamped where k == 0
        if np.bitwise_or.reduce(d + np.uint64(0x7676767676767676)) & np.uint64(0x8080808080808080):
            return None
        # val*1e8 + v is exact while < 2**53 and, rounding being monotone, stays >= 2**53 after.
        val *= 1e8
        val += _swar8(d)
    return val


def _swar8(d):
    """uint64 words of 8 digits 0..9 (the most significant in the lowest byte) as new numbers."""
    d = d * np.uint64(10 << 8 | 1)  # (d*10 << 8) + d: byte k+1 gets 10*d[k] + d[k+1]
    d >>= np.uint64(8)
    d &= np.uint64(0x00FF00FF00FF00FF)  # 2-digit groups in 16-bit lanes
    d *= np.uint64(100 << 16 | 1)
    d >>= np.uint64(16)
    d &= np.uint64(0x0000FFFF0000FFFF)  # 4-digit groups in 32-bit lanes
    d *= np.uint64(10000 << 32 | 1)
    d >>= np.uint64(32)  # the 8-digit number
    return d


def _points_from_table(table: np.ndarray, time: Optional[np.ndarray] = None) -> Points:
    weighted = table.shape[1] > 2 and not np.all(table[:, 2] == 1.0)
    weight = table[:, 2].copy() if weighted else None
    return Points(table[:, 0].copy(), table[:, 1].copy(), weight, time)


def _read_plain(source: _Input, config: Config) -> Iterator[Points]:
    """Whitespace-split ``lat lon [weight]`` lines (``[time]``: --time_column); blanks skipped."""
    four = config.time_column

    def parse(job: Tuple[int, bytearray]) -> Points:
        first_line, chunk = job
        table = _parse_table(chunk, b" ") if _FAST else None
        if table is not None and 2 <= table.shape[1] <= (4 if four else 3):
            if not four:
                return _points_from_table(table)
            time = _unix_times(table[:, 3]) if table.shape[1] > 3 else _no_times(len(table))
            if time is not None:
                return _points_from_table(table[:, :3], time)
        return _plain_rows(source.name, first_line, chunk, four)

    return (batch for batch in _threaded_map(parse, _line_chunks(source)) if len(batch[0]))


class _CsvColumns(NamedTuple):
    """0-based CSV columns; ``weight`` None: all 1 (``optional``, the default: a third if any)."""
    lat: int
    lon: int
    weight: Optional[int] = 2
    time: Optional[int] = None
    optional: bool = True

    @property
    def needed(self) -> int:
        used = [self.lat, self.lon, self.time] + ([] if self.optional else [self.weight])
        return max(c for c in used if c is not None) + 1


def _csv_columns(spec: Optional[str], header: Optional[bytes], name: str) -> _CsvColumns:
    """The columns of --csv_columns (header names or numbers from 1; WEIGHT may be empty)."""
    if not spec:
        return _CsvColumns(0, 1)
    parts = _csv_column_parts(spec)
    names: List[str] = []
    if header is not None:
        import csv
        names = [n.strip().lower() for n in next(csv.reader([header.decode("utf-8", "replace")
                                                              .rstrip("\r\n")]), [])]
    found: List[Optional[int]] = []
    for part in parts:
        if not part:
            found.append(None)
        elif part.isdigit():
            found.append(int(part) - 1)
        elif part.lower() in names:
            found.append(names.index(part.lower()))
        else:
            raise _data_error(name, 1, "no column named %r (the header has %s)" % (
                _quoted(part), _quoted(", ".join(names)) or "nothing"))
    return _CsvColumns(*found + [None] * (4 - len(found)), optional=False)


def _csv_column_parts(spec: str) -> List[str]:
    """The parts of --csv_columns, checked: LAT and LON given, numbers from 1, at most 4."""
    parts = [p.strip() for p in spec.split(",")]
    if not 2 <= len(parts) <= 4 or not parts[0] or not parts[1] or \
            any(p.isdigit() and int(p) < 1 for p in parts) or len(parts) == 4 and not parts[3]:
        raise HeatmapError("--csv_columns: expected LAT,LON[,WEIGHT[,TIME]] (header names or "
                           "numbers from 1), not %r" % _quoted(spec))
    return parts


def _csv_rows(name: str, first_line: int, chunk, columns: _CsvColumns) -> Points:
    """Exact CSV parse (quotes, extra columns); a bad weight counts as 1 with a warning."""
    import csv
    if chunk.count(b'"') % 2:  # only the file's end leaves a quote open: its last odd line
        odd = [offset for offset, line in enumerate(chunk.split(b"\n")) if line.count(b'"') % 2]
        raise _data_error(name, first_line + odd[-1], "a quote is not closed")
    rows, times, row_lines = [], [], []
    text = bytes(chunk).decode("utf-8", "replace").split("\n")
    reader, start, line = csv.reader(text), 0, first_line
    try:
        for record in reader:
            line, start = first_line + start, reader.line_num
            if not record or not "".join(record).strip():
                continue
            rows.append(_csv_record(name, line, record, columns))
            row_lines.append(line)
            if columns.time is not None:
                times.append(record[columns.time].strip())
    except csv.Error as exc:
        raise _data_error(name, first_line + max(reader.line_num - 1, 0),
                          "not valid CSV: %s" % exc) from None
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    bad = np.flatnonzero(~np.isfinite(table).all(1))
    if bad.size:
        line = row_lines[bad[0]]  # quoted as written, as the fast path quotes it
        raise _data_error(name, line, "not a finite number: %r"
                          % _quoted(text[line - first_line].rstrip("\r").encode()))
    time = _times_at(name, times, row_lines) if columns.time is not None else None
    return _points_from_table(table, time)


def _csv_record(name: str, line: int, record: List[str], columns: _CsvColumns) -> Tuple:
    """(lat, lon, weight) of one CSV record."""
    quoted = _quoted(",".join(record).encode("utf-8"))
    if len(record) < columns.needed or not record[columns.lat].strip() \
            or not record[columns.lon].strip():
        raise _data_error(name, line, "expected '%s', got %r: a field is missing" % (
            "lat,lon[,weight]" if columns.optional else "%d or more fields" % columns.needed,
            quoted))
    try:
        lat, lon = float(record[columns.lat]), float(record[columns.lon])
    except ValueError:
        raise _data_error(name, line, "not a number: %r" % quoted) from None
    weight = 1.0
    if columns.weight is not None and len(record) > columns.weight:
        try:
            weight = float(record[columns.weight])
        except ValueError:
            _LOG.warning("%s:%d: weight %r is not a number; using 1",
                         name, line, _quoted(record[columns.weight].encode("utf-8")))
    return lat, lon, weight


def _csv_table(table: np.ndarray, columns: _CsvColumns) -> Optional[Points]:
    """The chosen columns of a numeric CSV table, or None if it lacks some."""
    if table.shape[1] < columns.needed:
        return None
    picked = [table[:, columns.lat], table[:, columns.lon]]
    if columns.weight is not None and columns.weight < table.shape[1]:
        picked.append(table[:, columns.weight])
    time = None if columns.time is None else _unix_times(table[:, columns.time])
    if columns.time is not None and time is None:
        return None
    return _points_from_table(np.stack(picked, 1), time)


def _read_csv(source: _Input, config: Config) -> Iterator[Points]:
    """``lat,lon[,weight[,...]]`` rows, or the columns --csv_columns names."""
    header, first, spec = None, 1, config.csv_columns
    if config.ignore_csv_header or spec and any(not p.strip().isdigit() for p in spec.split(",")):
        header, first = source.stream.readline(_MAX_LINE + 1), 2   # a header, or named columns
        if len(header) > _MAX_LINE:
            raise _data_error(source.name, 1, "the line is longer than %d bytes" % _MAX_LINE)
    columns = _csv_columns(spec, header, source.name)

    def parse(job: Tuple[int, bytearray]) -> Points:
        first_line, chunk = job
        table = _parse_table(chunk, b",") if _FAST else None
        points = _csv_table(table, columns) if table is not None else None
        return _csv_rows(source.name, first_line, chunk, columns) if points is None else points

    batches = _threaded_map(parse, _line_chunks(source, True, first))
    return (batch for batch in batches if len(batch[0]))


# ---- 2.3 Input: times ----
# Times of points and track points, as datetime64[s] (NaT where a point has none): ISO 8601
# text (a fraction and a zone allowed; no zone is UTC) or Unix seconds, parsed on whole
# arrays of fixed-width byte rows rather than one datetime at a time.
_TIME_WIDTH = 40                      # longest time text read (bytes)
_MAX_UNIX_SECONDS = 1e11              # about the year 5000
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class _BadTime(ValueError):
    """Entry ``index`` (the one argument) of an array of times is not a time."""

    index = property(lambda self: self.args[0])


def _no_times(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT"), "datetime64[s]")


def _unix_times(seconds: np.ndarray) -> Optional[np.ndarray]:
    """datetime64[s] of Unix seconds (float64), rounded down; None if one is not a time."""
    if not (np.abs(seconds) <= _MAX_UNIX_SECONDS).all():
        return None
    return np.floor(seconds).astype(np.int64).astype("datetime64[s]")


def _parse_times(values) -> np.ndarray:
    """datetime64[s] (n,) of ISO 8601 texts (str or bytes; a fraction, a zone; none is UTC) or Unix
    seconds (text or numbers); None and "" are NaT.  :class:`_BadTime` names the first bad one."""
    values, cell = list(values), "S%d" % (_TIME_WIDTH + 1)
    try:
        cells = np.array(values, dtype=cell)
    except (UnicodeError, ValueError, TypeError):
        raise _BadTime(_first_failing(lambda value: np.array([value], cell), values)) from None
    if cells.ndim != 1:  # lists in place of times
        raise _BadTime(next(i for i, v in enumerate(values) if isinstance(v, (list, tuple))))
    return _time_matrix(cells.view(np.uint8).reshape(len(values), _TIME_WIDTH + 1))


def _first_failing(convert: Callable, values: Iterable) -> int:
    """The index of the first of ``values`` that ``convert`` refuses (0 if none)."""
    for index, value in enumerate(values):
        try:
            convert(value)
        except (UnicodeError, ValueError, TypeError):
            return index
    return 0


def _time_matrix(matrix: np.ndarray) -> np.ndarray:
    """datetime64[s] (n,) of time texts as rows of a uint8 (n, width) matrix, NUL-padded."""
    n, width = matrix.shape
    long = np.flatnonzero(matrix[:, _TIME_WIDTH:].any(1))
    if long.size:
        raise _BadTime(int(long[0]))
    text = np.zeros((n, _TIME_WIDTH + 8), np.uint8)  # NUL after every text
    text[:, :min(width, _TIME_WIDTH)] = matrix[:, :_TIME_WIDTH]
    short = (text[:, 13] == ord(":")) & np.isin(text[:, 16], np.frombuffer(b"\0Zz+-", np.uint8))
    if short.any():   # hh:mm (ISO 8601 lets seconds go): read as hh:mm:00
        text[short, 19:] = text[short, 16:-3]
        text[short, 16:19] = np.frombuffer(b":00", np.uint8)
    iso = text[:, 4] == ord("-")
    if iso.all():
        return _iso_times(text, None)
    out = _no_times(n)
    empty = (text[:, 0] == 0) | (text[:, :5] == np.frombuffer(b"None\0", np.uint8)).all(1)
    if iso.any():
        out[iso] = _iso_times(text[iso], np.flatnonzero(iso))
    rows = np.flatnonzero(~iso & ~empty)   # Unix seconds
    if rows.size:
        try:
            seconds = text[rows].view("S%d" % text.shape[1]).ravel().astype(np.float64)
        except ValueError:
            bad = _first_failing(lambda row: float(bytes(row).rstrip(b"\0")), text[rows])
            raise _BadTime(int(rows[bad])) from None
        times = _unix_times(seconds)
        if times is None:
            raise _BadTime(int(rows[np.flatnonzero(~(np.abs(seconds) <= _MAX_UNIX_SECONDS))[0]]))
        out[rows] = times
    return out


def _iso_times(t: np.ndarray, rows: Optional[np.ndarray]) -> np.ndarray:
    """datetime64[s] of ISO 8601 texts (NUL-padded uint8 rows); _BadTime(rows[i]) for a bad one."""
    def number(*cols):
        value = np.zeros(len(t), np.int64)
        for c in cols:
            value = value * 10 + t[:, c] - 48
        return value
    digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
    ok = ((t[:, digits] - 48) <= 9).all(1)  # uint8: other bytes wrap past 9
    ok &= (t[:, 7] == ord("-")) & np.isin(t[:, 10], list(b"Tt ")) \
        & (t[:, 13] == ord(":")) & (t[:, 16] == ord(":"))
    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = _DAYS_IN_MONTH[np.where(month_ok, month, 1)] + (leap & (month == 2))
    ok &= month_ok & (day >= 1) & (day <= days) & (hour <= 23) & (minute <= 59) & (second <= 60)
    # after the seconds: an optional fraction, then nothing, Z, or +hh[:mm] / -hh[:mm]
    fraction = (t[:, 19] == ord(".")) | (t[:, 19] == ord(","))
    zone = 19
    if fraction.any():
        run = np.argmax((t[:, 20:] - 48) > 9, axis=1)  # fraction digits (NUL ends them)
        ok &= ~fraction | (run > 0)
        zone = 19 + np.where(fraction, 1 + run, 0)
    at = np.arange(len(t))
    z = t[at, zone]
    plain = (z == 0) | (((z == ord("Z")) | (z == ord("z"))) & (t[at, zone + 1] == 0))
    signed = (z == ord("+")) | (z == ord("-"))
    offset = _zone_offsets(t, zone, at) if signed.any() else np.zeros(len(t), np.int64)
    ok &= plain | signed & (offset >= 0)
    offset = np.where(signed, np.where(z == ord("-"), -offset, offset), 0)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise _BadTime(bad if rows is None else int(rows[bad]))
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - offset).astype("datetime64[s]")


def _zone_offsets(t, zone, at) -> np.ndarray:
    """Seconds east of UTC of a +hh, +hhmm, +hh:mm zone from column ``zone`` to the end, else -1."""
    c = [t[at, zone + k] for k in range(7)]
    dg = [(x - 48) <= 9 for x in c]
    v = [x.astype(np.int64) - 48 for x in c]
    hours = v[1] * 10 + v[2]
    two = dg[1] & dg[2] & (c[3] == 0)
    four = dg[1] & dg[2] & dg[3] & dg[4] & (c[5] == 0)
    colon = dg[1] & dg[2] & (c[3] == ord(":")) & dg[4] & dg[5] & (c[6] == 0)
    minutes = np.where(four, v[3] * 10 + v[4], np.where(colon, v[4] * 10 + v[5], 0))
    good = (two | four | colon) & (hours <= 23) & (minutes <= 59)
    return np.where(good, hours * 3600 + minutes * 60, -1)


def _days_from_civil(year, month, day) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (int64 arrays)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _times_at(name: str, texts: Sequence, lines: Sequence[int]) -> np.ndarray:
    """:func:`_parse_times`, a bad time named by its line: ``FILE:LINE: bad time '...'``."""
    try:
        return _parse_times(texts)
    except _BadTime as bad:
        value = texts[bad.index]
        raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode("utf-8")
        raise _data_error(name, lines[bad.index], "bad time %r" % _quoted(raw)) from None


# ---- 2.4 Input: XML (GPX, TCX, KML) ----
# GPX, TCX and KML are streamed through expat (_XmlReader) block by block, so memory stays bounded
# (a tag or text longer than _MAX_LINE is an error).  GPX's fast path (_Gpx) reads blocks of the
# common shape (<trkpt lat lon> in <trkseg>, one <time>) by regular expressions and whole arrays,
# others by _GpxExact's expat handlers (the reference); expat checks all, so both read alike.
_GPX_BATCH = 1 << 16              # track points per yielded batch
_XML_HANDLERS = ("StartElementHandler", "EndElementHandler", "CharacterDataHandler")


class _XmlReader:
    """An XML input (several documents too) streamed by expat: subclasses define ``start(tag,
    attrs)``, ``end(tag, text)`` (text of ``texts``), ``nothing``, ``sync()`` (feeds the track)."""
    block_end = b">"  # blocks end after the last of these (else after a '>')
    found_points = False   # _Kml: Points handed out
    lines_before = 0       # lines of the documents before this one (a parser counts from 1)

    def __init__(self, source: _Input):
        from xml.parsers import expat
        self.source, self.name, self.fed = source, source.name, 0
        self.parser = expat.ParserCreate("UTF-8" if source.recoded else None, "}")
        self.parser.buffer_text = True
        self.track = _TrackBuilder()
        self._text: Optional[List[str]] = None
        self.attach()

    def attach(self, on: bool = True) -> None:
        """Our handlers on expat, or (``on`` False: the fast path's blocks) none."""
        for handler, method in zip(_XML_HANDLERS, (self._start, self._end, self._chars)):
            setattr(self.parser, handler, method if on else None)

    def _start(self, name: str, attrs: dict) -> None:
        tag = name[name.rfind("}") + 1:]
        if tag in self.texts:
            self._text = []
        self.start(tag, attrs)

    def _end(self, name: str) -> None:
        tag = name[name.rfind("}") + 1:]
        text = None
        if tag in self.texts and self._text is not None:
            text, self._text = "".join(self._text).strip(), None
        self.end(tag, text)

    def _chars(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def sync(self) -> None:
        pass

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber + self.lines_before

    def feed(self, data: bytes, final: bool = False) -> None:
        from xml.parsers import expat
        try:
            self.parser.Parse(data, final)
            self.fed += len(data)
        except expat.ExpatError as exc:
            if exc.code != expat.errors.codes[expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]:
                raise _data_error(self.name, exc.lineno + self.lines_before, "not valid XML: %s"
                                  % expat.ErrorString(exc.code)) from None
            rest, old = data[self.parser.ErrorByteIndex - self.fed:], self.parser   # a new document
            self.parser = expat.ParserCreate("UTF-8" if self.source.recoded else None, "}")
            self.parser.buffer_text, self.fed = True, 0
            self.lines_before += old.ErrorLineNumber - 1
            self.attach(old.StartElementHandler is not None)   # as the old one
            self.feed(rest, final)
        except HeatmapError:   # a handler's (a bad coordinate): already names the file and line
            raise
        except (LookupError, ValueError) as exc:  # an encoding expat cannot use
            raise _data_error(self.name, self.line, "not valid XML: %s" % exc) from None

    def blocks(self) -> Iterator[bytes]:
        """The input in blocks of about _MAX_LINE bytes, each cut after a '>'."""
        rest = b""
        for block in iter(lambda: self.source.stream.read(_MAX_LINE), b""):
            data = rest + block if rest else block
            cut = data.rfind(self.block_end)
            cut = cut + len(self.block_end) if cut >= 0 else data.rfind(b">") + 1
            if len(data) - cut > _MAX_LINE or len(block) == _MAX_LINE and b"<" not in block:
                raise _data_error(self.name, self.line, "a tag or text runs on for more than %d "
                                  "bytes" % _MAX_LINE)  # bounds expat's buffers and our texts
            rest, data = data[cut:], data[:cut]
            if data:
                yield data
        if rest:
            yield rest

    def batches(self) -> Iterator[object]:
        for data in self.blocks():
            self.block(data)
            yield from self.take()
        self.feed(b"", True)
        self.sync()
        self.track.end()
        yield from self.take()
        self.finish()
        if not self.found():
            raise _NothingToDraw(self.nothing)

    def take(self) -> list:
        return self.track.take()

    def found(self) -> bool:
        return self.track.points > 0 or self.found_points

    def finish(self) -> None:
        pass

    def block(self, data: bytes) -> None:
        self.feed(data)
        self.sync()
        self.track.flush()

    def numbers(self, texts: Sequence[str], lines: Sequence[int], what: str) -> np.ndarray:
        """float64 (n,) of coordinate texts; a bad one names its line."""
        try:
            values = np.array(texts, dtype=np.float64)
        except (ValueError, TypeError):
            values = np.array([_float_or_nan(t) for t in texts])
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _data_error(self.name, lines[i], "bad %s %r" % (what, _quoted(
                str(texts[i]).encode("utf-8"))))
        return values


def _float_or_nan(text) -> float:
    try:
        return float(text)
    except (ValueError, TypeError, OverflowError):
        return math.nan


class _GpxExact(_XmlReader):
    """GPX by expat: each ``<trkseg>``'s ``<trkpt>``s, with their ``<time>``."""
    texts = frozenset(("time",))
    nothing = "no GPX track points (<trkpt> in <trkseg>)"

    def __init__(self, source: _Input):
        super().__init__(source)
        self.depth = -1  # elements open inside the current <trkpt>; -1: none
        self.rows: List[list] = []   # [lat, lon, time text, line] of points not yet added

    def start(self, tag: str, attrs: dict) -> None:
        if self.depth >= 0:
            self.depth += 1
        elif tag == "trkseg":
            self.sync()
            self.track.start()
        elif tag == "trkpt":
            self._point(attrs)

    def _point(self, attrs: dict) -> None:
        line = self.line
        if not self.track.open:
            _LOG.warning("%s:%d: <trkpt> outside <trkseg> ignored", self.name, line)
            return
        if "lat" not in attrs or "lon" not in attrs:
            _LOG.warning("%s:%d: <trkpt> without lat and lon skipped", self.name, line)
            return
        try:
            lat, lon = float(attrs["lat"]), float(attrs["lon"])
        except ValueError:
            shown = tuple(_quoted(attrs[k].encode("utf-8")) for k in ("lat", "lon"))
            raise _data_error(self.name, line, "bad coordinate in <trkpt lat=%r lon=%r>"
                              % shown) from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise _data_error(self.name, line, "not a finite number in <trkpt>")
        self.rows.append([lat, lon, None, line])
        self.depth = 0

    def end(self, tag: str, text: Optional[str]) -> None:
        if self.depth >= 0:
            if self.depth == 1 and tag == "time":
                self.rows[-1][2] = text
            self.depth -= 1
        elif tag == "trkseg":
            self.sync()
            self.track.end()

    def sync(self) -> None:
        done = len(self.rows) - (self.depth >= 0)  # a point still open stays
        if done <= 0:
            return
        lat, lon, times, lines = zip(*self.rows[:done])
        del self.rows[:done]
        time = _times_at(self.name, times, lines) if times.count(None) < done else None
        self.track.add(np.array(lat), np.array(lon), time)


_GPX_SEGMENT_TAG = _Regex(rb"<(/?)(?:[\w.-]+:)?trkseg(?=[\s/>])[^>]*?(/?)>")
_GPX_POINT_TAG = _Regex(rb"<(?:[\w.-]+:)?trkpt(?=[\s/>])")
_GPX_POINT = _Regex(rb"<(?:[\w.-]+:)?trkpt\s+lat\s*=\s*[\"']([-+.0-9]+)[\"']"
                    rb"\s+lon\s*=\s*[\"']([-+.0-9]+)[\"']")
# the same without a namespace prefix: a literal start, which re finds far faster
_GPX_PLAIN_POINT = _Regex(_GPX_POINT.pattern.replace(rb"(?:[\w.-]+:)?", b""))
_GPX_EMPTY_POINT = _Regex(rb"<(?:[\w.-]+:)?trkpt\s[^>]*/>")
_XML_MARKUP = _Regex(rb"<[!?]")
_XML_SKIPPED = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))


class _Gpx(_GpxExact):
    """Fast path of _GpxExact: the same batches; chosen in _read_gpx; bench row "read gpx fast
    path".  Other blocks, and all after a DOCTYPE (entities may hide elements), go to it."""
    block_end = b"</trkpt>"  # whole points in a block, <time> and all

    def __init__(self, source: _Input):
        super().__init__(source)
        self.pending, self.exact_only = None, False  # closer of markup still open; after DOCTYPE

    def block(self, data: bytes) -> None:
        clean, self.pending, declaration = _skip_markup(data, self.pending)
        self.exact_only |= declaration
        fast = not self.exact_only and clean is not None and self.depth < 0
        ops = _gpx_ops(clean, self.track.open) if fast else None
        self.attach(ops is None)
        if ops is None:
            super().block(data)
            return
        self.feed(data)
        for op in ops:
            if isinstance(op, str):
                getattr(self.track, op)()   # "start", "end"
            else:
                self.track.add(*op)
        self.track.flush()


def _skip_markup(data: bytes, pending: Optional[bytes]) -> tuple:
    """(data without comments, CDATA and PIs, or None when that cannot be vouched for; the closer
    of one left open at the end; whether it has a declaration such as DOCTYPE)."""
    pieces, at = [], 0
    if pending:
        end = data.find(pending)
        if end < 0:
            return None, pending, False
        at = end + len(pending)
    found = _XML_MARKUP.search(data, at)
    while found:
        start = found.start()
        closer = next((c for o, c in _XML_SKIPPED if data.startswith(o, start)), None)
        if closer is None:
            return None, None, True
        end = data.find(closer, start + 2)
        if end < 0:
            return None, closer, False
        pieces.append(data[at:start])
        at = end + len(closer)
        found = _XML_MARKUP.search(data, at)
    if pending:
        return None, None, False  # began inside markup: read this block exactly
    return (b"".join(pieces + [data[at:]]) if pieces else data), None, False


def _gpx_ops(data: bytes, inside: bool) -> Optional[list]:
    """Per block, in order: "start", "end", (lat, lon, time) runs; None if not the common shape."""
    ops, start = [], 0
    for tag in _segment_tags(data):
        run = _gpx_points(data[start:tag.start()], inside)
        if run is None:
            return None
        ops += run
        closing, empty = tag.group(1), tag.group(2)
        if closing or not empty:
            ops += ["end"] if closing else ["end", "start"]
            inside = not closing
        start = tag.end()
    run = _gpx_points(data[start:], inside)
    return None if run is None else ops + run


def _gpx_points(piece: bytes, inside: bool) -> Optional[list]:
    """[(lat, lon, time)] of a piece's ``<trkpt>``s in a segment; [] if none, None if unsure."""
    prefixed = b":trkpt" in piece
    opened = len(_GPX_POINT_TAG.findall(piece)) if prefixed else piece.count(b"<trkpt")
    if not opened:
        return []
    pairs = (_GPX_POINT if prefixed else _GPX_PLAIN_POINT).findall(piece)
    if not inside or len(pairs) != opened:
        return None
    closed = piece.count(b"trkpt>")  # </trkpt>, </ns:trkpt>
    if closed != opened and closed + len(_GPX_EMPTY_POINT.findall(piece)) != opened:
        return None  # a point runs on into the next block
    table = _parse_table(b" ".join(itertools.chain.from_iterable(pairs)) + b"\n", b" ")
    if table is None or not np.isfinite(table).all():
        return None
    time = _gpx_times(piece, opened) if b"time>" in piece else None
    if time is None and b"time>" in piece:
        return None
    return [(table[0, 0::2], table[0, 1::2], time)]   # one line of lat lon lat lon ...


def _gpx_times(piece: bytes, n: int) -> Optional[np.ndarray]:
    """datetime64[s] of each of n ``<trkpt>``s' one plainly written ``<time>``; else None."""
    if b":time>" in piece:
        return None
    buf = np.frombuffer(piece, np.uint8)
    opens, times = _find_all(buf, b"<trkpt"), _find_all(buf, b"<time>")
    ends, closes = _find_all(buf, b"</time>"), _find_all(buf, b"</trkpt>")
    first = times + 6
    if not (len(opens) == len(times) == len(ends) == len(closes) == n and (opens < times).all()
            and ((first <= ends) & (ends < closes)).all() and (closes[:-1] < opens[1:]).all()):
        return None
    width = int((ends - first).max())
    if width > _TIME_WIDTH:
        return None
    cols = np.arange(width)
    matrix = buf[np.minimum(first[:, None] + cols, len(buf) - 1)]
    matrix[cols >= (ends - first)[:, None]] = 0
    if ((matrix == ord("&")) | (matrix == ord("<"))).any():
        return None  # character references: the exact reader decodes them
    try:
        return _time_matrix(np.ascontiguousarray(matrix))
    except _BadTime:
        return None  # the exact reader names the line


def _find_all(buf: np.ndarray, word: bytes) -> np.ndarray:
    """int64 positions of every occurrence of ``word`` in a uint8 array."""
    at = np.flatnonzero(buf[:len(buf) - len(word) + 1] == word[0])
    for i, ch in enumerate(word[1:], 1):
        at = at[buf[at + i] == ch]
    return at


def _segment_tags(data: bytes) -> Iterator["re.Match"]:
    """``_GPX_SEGMENT_TAG.finditer(data)``, from each "trkseg" found by bytes.find (ten times the
    expression's own scan): only the nearest "<" before it can open a tag around it."""
    end = before = 0
    at = data.find(b"trkseg")
    while at >= 0:
        opening = data.rfind(b"<", max(end, before), at)
        tag = _GPX_SEGMENT_TAG.match(data, opening) if opening >= 0 else None
        if tag:
            yield tag
            end = tag.end()
        before = at
        at = data.find(b"trkseg", max(end, at + 6))


def _read_gpx(source: _Input, config: Config) -> Iterator[Segments]:
    """Each ``<trkseg>``'s consecutive ``<trkpt>``s become line segments."""
    return (_Gpx if _FAST else _GpxExact)(source).batches()


class _Tcx(_XmlReader):
    """Garmin TCX: each ``<Track>``'s ``<Trackpoint>``s with a ``<Position>``."""
    texts = frozenset(("LatitudeDegrees", "LongitudeDegrees", "Time"))
    nothing = "no TCX track points (<Trackpoint> with <Position>)"

    def __init__(self, source: _Input):
        super().__init__(source)
        self.point, self.rows = {}, []   # the open <Trackpoint>'s texts; (lat, lon, time, line)s

    def start(self, tag: str, attrs: dict) -> None:
        if tag == "Track":
            self.sync()
            self.track.start()
        elif tag == "Trackpoint":
            self.point = {"line": self.line}

    def end(self, tag: str, text: Optional[str]) -> None:
        if tag in self.texts:
            self.point[tag] = text
        elif tag == "Trackpoint":
            p, self.point = self.point, {}
            if "LatitudeDegrees" in p and "LongitudeDegrees" in p:
                self.rows.append((p["LatitudeDegrees"], p["LongitudeDegrees"], p.get("Time"),
                                  p["line"]))
        elif tag == "Track":
            self.sync()
            self.track.end()

    def sync(self) -> None:
        if not self.rows:
            return
        lat, lon, times, lines = zip(*self.rows)
        self.rows = []
        time = _times_at(self.name, times, lines) if any(times) else None
        self.track.add(self.numbers(lat, lines, "latitude"), self.numbers(lon, lines, "longitude"),
                       time)


def _read_tcx(source: _Input, config: Config) -> Iterator[Segments]:
    """Garmin Training Center tracks (activities and courses)."""
    return _Tcx(source).batches()


class _Kml(_XmlReader):
    """KML: ``Point``s as points; ``LineString``s and ``gx:Track``s (``<when>`` times) as tracks;
    polygons skipped with a warning.  A Placemark's ``TimeStamp`` is its points' time."""
    texts = frozenset(("coordinates", "coord", "when"))
    nothing = "no KML points, lines or tracks"

    def __init__(self, source: _Input):
        super().__init__(source)
        self.shape: List[str] = []           # open geometry elements
        self.points, self.placemark = [], []   # Points to hand out; (lat, lon) of this Placemark
        self.stamp: Optional[str] = None     # the Placemark's TimeStamp
        self.when, self.coords = [], []      # texts of this gx:Track
        self.start_line = self.polygons = 0

    def start(self, tag: str, attrs: dict) -> None:
        if tag in ("Point", "LineString", "LinearRing", "Track", "Polygon"):
            self.shape.append(tag)
            self.start_line = self.line
            if tag == "Track":
                self.when, self.coords = [], []
        elif tag == "Placemark":
            self.placemark, self.stamp = [], None

    def end(self, tag: str, text: Optional[str]) -> None:
        kind = self.shape[-1] if self.shape else None
        if tag == "coordinates" and text is not None:
            self._coordinates(kind, text)
        elif tag == "coord" and kind == "Track":
            self.coords.append(text or "")
        elif tag == "when" and kind == "Track":
            self.when.append(text or "")
        elif tag == "when":
            self.stamp = text
        elif tag == "Track" and kind == "Track":
            self._gx_track()
        elif tag == "Placemark":   # its TimeStamp may follow its points
            for lat, lon in self.placemark:
                stamps, lines = [self.stamp] * lat.size, [self.line] * lat.size
                time = _times_at(self.name, stamps, lines) if self.stamp else None
                self.points.append(Points(lat, lon, None, time))
            self.placemark = []
        if self.shape and tag == kind:
            self.shape.pop()

    def _coordinates(self, kind: Optional[str], text: str) -> None:
        if "Polygon" in self.shape:
            self.polygons += 1
            return
        lon, lat = self._tuples(text)
        if kind == "LineString":
            self.track.start()
            self.track.add(lat, lon)
            self.track.end()
        elif kind == "Point":
            self.placemark.append((lat, lon))

    def _tuples(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """(lon, lat) of a KML coordinates text: "lon,lat[,alt] ..." tuples."""
        tuples = text.split()
        values = ",".join(tuples).split(",")
        width = len(values) // max(len(tuples), 1)
        if width not in (2, 3) or width * len(tuples) != len(values):
            raise _data_error(self.name, self.start_line, "bad KML coordinates %r"
                              % _quoted(text.encode("utf-8")))
        table = self.numbers(values, [self.start_line] * len(values), "KML coordinate")
        return table[0::width], table[1::width]

    def _gx_track(self) -> None:
        if len(self.when) not in (0, len(self.coords)):
            raise _data_error(self.name, self.start_line, "gx:Track has %d <when> for %d "
                              "<gx:coord>" % (len(self.when), len(self.coords)))
        if not self.coords:
            return
        lon, lat = self._tuples(" ".join(c.replace(" ", ",") for c in self.coords))
        if len(lat) != len(self.coords):
            raise _data_error(self.name, self.start_line, "bad gx:coord in this gx:Track")
        self.track.start()
        self.track.add(lat, lon, _times_at(self.name, self.when, [self.start_line] * len(self.when))
                       if self.when else None)
        self.track.end()

    def take(self) -> list:
        batches: list = self.track.take()
        if self.points:
            points, self.points, self.found_points = self.points, [], True
            time = None if all(p.time is None for p in points) else np.concatenate(
                [_no_times(p.lat.size) if p.time is None else p.time for p in points])
            batches.append(Points(np.concatenate([p.lat for p in points]),
                                  np.concatenate([p.lon for p in points]), None, time))
        return batches

    def finish(self) -> None:
        if self.polygons and self.found():
            _LOG.warning("%s: %d polygon%s skipped (only points, lines and tracks are drawn)",
                         self.name, self.polygons, "" if self.polygons == 1 else "s")


def _read_kml(source: _Input, config: Config) -> Iterator[object]:
    """KML points, lines and tracks; a .kmz is read from its first .kml."""
    if not source.head.startswith(b"PK\x03\x04"):
        yield from _Kml(source).batches()
        return
    import zipfile
    if source.path is None:
        raise HeatmapError("%s: a .kmz (zip archive) must be a file, not a stream" % source.name)
    try:
        with zipfile.ZipFile(source.path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise HeatmapError("%s: no .kml file in this .kmz" % source.name)
            with _zip_member(archive, names[0], source.name) as member:
                yield from _Kml(_make_input("%s/%s" % (source.name, names[0]), member,
                                            None)).batches()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise HeatmapError("%s: not a readable .kmz: %s" % (source.name, exc)) from None


def _zip_member(archive, name: str, where: str):
    """A member of a zip input, opened; refused when encrypted or unpacking past _check_ratio."""
    info = archive.getinfo(name)
    if info.flag_bits & 1:
        raise HeatmapError("%s: %s is encrypted" % (where, name))
    _check_ratio("%s/%s" % (where, name), info.file_size, info.compress_size)
    return archive.open(info)


# ---- 2.5 Input: JSON (GeoJSON, Takeout) ----
# GeoJSON (a FeatureCollection streamed a megabyte at a time by _JsonArrays: one scan on whole
# arrays finds where its elements end, one json.loads parses them), GeoJSON lines and Google
# Takeout; a value over _MAX_LINE bytes or nested past _JSON_DEPTH is an error.  _GeoJsonShapes
# makes batches of GeoJSON for files and the library alike (polygons: skipped, or refused).
_JSON_BATCH = 1 << 20             # JSON bytes parsed at a time (~10x that as Python objects)
_JSON_DEPTH = 64                  # deepest nesting of JSON arrays and objects read
_NOT_NUMBERS = frozenset((bool, str, np.bool_, np.str_))   # what float() takes, but JSON does not

_JSON_EVENTS = np.isin(np.arange(256), list(b'"\\{}[],'))   # the bytes _JsonArrays looks at
_JSON_KEY = _Regex(rb'"((?:[^"\\]|\\.)*)"\s*:\s*$')


class _JsonArrays:
    """Streams in batches the elements of big arrays (root members ``keys``, or the root array): one
    whole-array scan and one ``json.loads`` a block; the rest of the document is ``root``."""

    def __init__(self, source: _Input, keys: Sequence[str]):
        self.source, self.keys = source, {k.encode() for k in keys}
        self.in_string, self.depth = False, 0
        self.key, self.index = None, 0      # the array being streamed, its next element's index
        self.element, self.skeleton = [], []   # its unfinished element; everything else
        self.line = self.element_line = 1   # lines of the block's and the element's starts
        self.root = None

    def batches(self) -> Iterator[Tuple[str, int, int, list]]:
        """(key, index of the first element, line it starts on, elements) per block."""
        import json
        rest = b""
        while True:
            block = self.source.stream.read(_JSON_BATCH)
            data = rest + block if rest else block
            cut = len(data.rstrip(b"\\")) if block else len(data)  # escapes stay whole
            data, rest = data[:cut], data[cut:]
            if data:
                yield from self._block(data)
                self.line += data.count(b"\n")
            if not block:
                break
        if self.depth or self.in_string:
            raise _data_error(self.source.name, self.line, "not valid JSON: the document is "
                              "cut short")
        text = b"".join(self.skeleton)
        try:
            self.root = json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise self._error(exc, 1) from None
        if not isinstance(self.root, (dict, list)):
            raise _data_error(self.source.name, 1, "not a JSON object or array")

    def _block(self, data: bytes) -> Iterator[Tuple[str, int, int, list]]:
        buf = np.frombuffer(data, np.uint8)
        at = np.flatnonzero(_JSON_EVENTS[buf])
        char = buf[at]
        quote = char == ord('"')
        backslash = char == ord("\\")
        if backslash.any():   # a quote after an odd run of backslashes is escaped
            slashes = at[backslash]
            starts = np.maximum.accumulate(np.where(np.diff(slashes, prepend=-2) != 1, slashes, 0))
            quote &= ~np.isin(at - 1, slashes[(slashes - starts) % 2 == 0])  # 1st, 3rd.. of a run
        inside = (np.cumsum(quote) + self.in_string) % 2 == 1  # after each event
        structural = ~quote & ~inside & ~backslash
        at, char = at[structural], char[structural]
        step = np.where((char == ord("{")) | (char == ord("[")), 1,
                        np.where((char == ord("}")) | (char == ord("]")), -1, 0))
        depth = self.depth + np.cumsum(step)  # after each event
        if depth.size and depth.max() > _JSON_DEPTH:  # checked here: json.loads recurses
            raise _data_error(self.source.name, self.line + data.count(b"\n", 0, int(at[np.argmax(
                depth > _JSON_DEPTH)])), "JSON nested more than %d deep" % _JSON_DEPTH)
        self.in_string = bool(inside[-1]) if inside.size else self.in_string
        # root-level brackets switch between skeleton and an array's elements
        switch = np.flatnonzero(((char == ord("[")) & (depth - step <= 1))
                                | ((char == ord("]")) & (depth <= 1)))
        start = 0
        for i in switch.tolist():
            pos = int(at[i])
            if self.key is None and char[i] == ord("["):
                key = self._array_key(data, pos, int(depth[i] - step[i]))
                if key is not None:
                    self.skeleton.append(data[start:pos + 1])
                    self.key, self.index, start = key, 0, pos + 1
                    self.element_line = self.line + data.count(b"\n", 0, pos)
            elif self.key is not None and char[i] == ord("]") and depth[i] == (
                    0 if self.key == "" else 1):
                yield from self._elements(data, start, pos, at, char, depth, True)
                self.key, start = None, pos
        if self.key is not None:
            yield from self._elements(data, start, len(data), at, char, depth, False)
        else:
            self.skeleton.append(data[start:])
        self.depth = int(depth[-1]) if depth.size else self.depth
        self.skeleton = [b"".join(self.skeleton)]
        if len(self.skeleton[0]) + sum(map(len, self.element)) > _MAX_LINE:  # a value or spaces
            raise _data_error(self.source.name, self.line, "a JSON value runs on for more than "
                              "%d bytes" % _MAX_LINE)

    def _array_key(self, data: bytes, pos: int, depth_before: int) -> Optional[str]:
        """The key of a root member array opening at ``pos``, "" for a root array, or None."""
        if depth_before == 0:
            return ""
        before = data[max(0, pos - 300):pos]
        if pos < 300:
            before = (b"".join(self.skeleton[-2:]) + before)[-300:]
        found = _JSON_KEY.search(before)
        return found.group(1).decode() if found and found.group(1) in self.keys else None

    def _elements(self, data, start, end, at, char, depth, closed) -> Iterator:
        """Complete elements of the streamed array in data[start:end], parsed."""
        import json
        inner = 1 if self.key == "" else 2
        commas = at[(char == ord(",")) & (depth == inner) & (at >= start) & (at < end)]
        last = end if closed else (int(commas[-1]) if commas.size else start - 1)
        if last >= start:
            text = b"".join(self.element) + data[start:last]
            self.element = []
            if text.strip():
                try:
                    elements = json.loads(b"[" + text + b"]")
                except ValueError as exc:
                    raise self._error(exc, self.element_line) from None
                first, self.index = self.index, self.index + len(elements)
                yield self.key or "", first, self.element_line, elements
            if not closed:
                self.element_line = self.line + data.count(b"\n", 0, last)
            start = last + 1
        if not closed:
            self.element.append(data[start:end])

    def _error(self, exc: ValueError, line: int) -> HeatmapError:
        return _data_error(self.source.name, line + getattr(exc, "lineno", 1) - 1,
                           "not valid JSON: %s" % getattr(exc, "msg", str(exc)))


def _is_position(value) -> bool:
    """A GeoJSON position: a list of numbers, the first two (lon, lat) finite."""
    return isinstance(value, (list, tuple)) and len(value) >= 2 and all(
        type(v) not in _NOT_NUMBERS and isinstance(v, (int, float, np.number))
        and -1e300 < v < 1e300 for v in value[:2])


class _GeoJsonShapes:
    """GeoJSON objects ([lon, lat]) as batches: (Multi)Points as :class:`Points` (weight:
    --weight_property or ``feature_weights`` by element; time: --time_property, else time or
    timestamp), lines as tracks, polygons skipped or refused; ``label(i)`` names element i."""

    def __init__(self, name: str, config: Config, polygons: str = "skip"):
        self.name, self.polygons = name, polygons
        self.weight_key, self.feature_weights = config.weight_property, None
        self.time_keys = (config.time_property,) if config.time_property else ("time", "timestamp")
        self.track = _TrackBuilder()
        self.coords, self.weights, self.times, self.owner = [], [], [], []  # owner: elements
        self.skipped = self.unweighted = 0
        self.found = False
        self.label = lambda i: "%s: [%d]" % (name, i)

    def add_all(self, elements: list, first: int) -> None:
        """Add Features: Points in one tight loop (the fast path of :meth:`add`), the rest by it."""
        coords, weights, times, owner = self.coords, self.weights, self.times, self.owner
        weight_key, time_keys = self.weight_key, self.time_keys
        for index, feature in enumerate(elements, first):
            geometry = feature.get("geometry") if type(feature) is dict else None
            if type(geometry) is not dict or geometry.get("type") != "Point" \
                    or feature.get("type") != "Feature" or not _FAST:
                self.add(feature, index)
                continue
            props = feature.get("properties")
            props = props if type(props) is dict else {}
            weight = props.get(weight_key) if weight_key else 1.0
            if type(weight) not in (int, float):
                self.unweighted += 1
                weight = 1.0
            time = None
            for key in time_keys:
                if key in props:
                    time = props[key]
                    break
            coords.append(geometry.get("coordinates"))
            weights.append(weight)
            times.append(time)
            owner.append(index)

    def add(self, obj, index: int, path: str = "") -> None:
        """Add a Feature, FeatureCollection or geometry (element ``index`` of the batch)."""
        if not isinstance(obj, dict):
            raise self._error(index, path, "not a GeoJSON object")
        kind = obj.get("type")
        if kind == "FeatureCollection":
            for i, feature in enumerate(obj.get("features") or []):
                self.add(feature, index, "%s.features[%d]" % (path, i))
        elif kind == "Feature":
            geometry = obj.get("geometry")
            if geometry is not None:
                props = obj.get("properties")
                self._geometry(geometry, props if isinstance(props, dict) else {}, index,
                               path + ".geometry")
        else:
            self._geometry(obj, {}, index, path)

    def _geometry(self, geometry, props: dict, index: int, path: str) -> None:
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        coords = geometry.get("coordinates") if kind else None
        if kind in ("Point", "MultiPoint"):
            self._points([coords] if kind == "Point" else coords, props, index, path)
        elif kind in ("LineString", "MultiLineString"):
            for line in ([coords] if kind == "LineString" else coords or []):
                self._line(line, props, index, path)
        elif kind == "GeometryCollection":
            for i, part in enumerate(geometry.get("geometries") or []):
                self._geometry(part, props, index, "%s.geometries[%d]" % (path, i))
        elif kind in ("Polygon", "MultiPolygon") and self.polygons == "error":
            raise self._error(index, path, "only points and lines can be drawn, not a %s (draw "
                              "polygons by their .boundary or .centroid)" % kind)
        elif kind in ("Polygon", "MultiPolygon"):
            self.skipped += 1
        else:
            raise self._error(index, path, "not a GeoJSON geometry (type %r)" % (kind,))

    def _points(self, coords, props: dict, index: int, path: str) -> None:
        if not isinstance(coords, list):
            raise self._error(index, path, "coordinates are not a list")
        weight = props.get(self.weight_key) if self.weight_key else 1.0
        if type(weight) is bool or not isinstance(weight, (int, float, np.integer, np.floating)):
            self.unweighted += len(coords)
            weight = 1.0
        self.times += self._time_list(props, len(coords), index, path) or [None] * len(coords)
        self.coords += coords
        self.weights += [weight] * len(coords)
        self.owner += [index] * len(coords)

    def _line(self, coords, props: dict, index: int, path: str) -> None:
        lon, lat = self._lon_lat(coords, index, path)
        time = self._time_list(props, lat.size, index, path)
        self.track.start()
        self.track.add(lat, lon, None if time is None else self._times(time, [index] * lat.size,
                                                                       path))
        self.track.end()

    def _time_list(self, props: dict, n: int, index: int, path: str) -> Optional[list]:
        """The feature's time for each of n positions (one for all, or a list of n), or None."""
        time = next((props[k] for k in self.time_keys if k in props), None)
        if not isinstance(time, list):
            return None if time is None else [time] * n
        if len(time) != n:
            raise self._error(index, path, "%d positions but %d times listed" % (n, len(time)))
        return time

    def _lon_lat(self, coords, index, path: str) -> Tuple[np.ndarray, np.ndarray]:
        """(lon, lat) of positions; ``index``: their element, or a list of each one's."""
        try:
            table = np.array(coords, dtype=np.float64)
            fine = table.ndim == 2 and table.shape[1] >= 2 and np.isfinite(table[:, :2]).all() \
                and _NOT_NUMBERS.isdisjoint(map(type, itertools.chain.from_iterable(coords)))
        except (ValueError, TypeError, OverflowError):
            fine = False
        if not fine:  # some have a height, or one is bad: each is looked at
            good = [_is_position(c) for c in coords] if isinstance(coords, list) else [False]
            if not good or False in good:
                raise self._error(index if isinstance(index, int) else index[good.index(False)],
                                  path, "coordinates are not [lon, lat] numbers")
            table = np.array([c[:2] for c in coords], dtype=np.float64)
        return table[:, 0], table[:, 1]

    def _times(self, values: list, owners: Sequence[int], path: str) -> np.ndarray:
        try:
            return _parse_times(values)
        except _BadTime as bad:
            raise self._error(owners[bad.index], path, "bad time %r" % _quoted(
                str(values[bad.index]).encode("utf-8"))) from None

    def _error(self, index: int, path: str, what: str) -> HeatmapError:
        return HeatmapError("%s%s: %s" % (self.label(index), path, what))

    def take(self) -> list:
        batches: list = self.track.take()
        if self.coords:
            lon, lat = self._lon_lat(self.coords, self.owner, "")
            try:
                weight = np.array(self.weights, dtype=np.float64)
            except OverflowError:  # a whole number past a float's range: not a finite weight
                weight = np.array([_float_or_nan(w) for w in self.weights])
            if self.feature_weights is not None:
                weight = self.feature_weights[self.owner]
            known = self.times.count(None) != len(self.times)
            time = self._times(self.times, self.owner, "") if known else None
            batches.append(Points(lat, lon, None if (weight == 1).all() else weight, time))
            self.coords, self.weights, self.times, self.owner = [], [], [], []
        self.found = self.found or bool(batches)
        return batches

    def finish(self) -> None:
        polygons = "%d polygon%s skipped" % (self.skipped, "" if self.skipped == 1 else "s")
        if not self.found:
            raise _NothingToDraw("no GeoJSON points or lines" + (" (%s)" % polygons if self.skipped
                                                             else ""))
        if self.skipped:
            _LOG.warning("%s: %s (only points and lines are drawn)", self.name, polygons)
        if self.unweighted and self.weight_key:
            _LOG.warning("%s: %d point%s without a numeric %r property count as 1", self.name,
                         self.unweighted, "" if self.unweighted == 1 else "s", self.weight_key)


def _read_geojson(source: _Input, config: Config) -> Iterator[object]:
    """GeoJSON: points and lines of Features, FeatureCollections (streamed), geometries."""
    stream = _JsonArrays(source, ("features", "geometries"))
    shapes = _GeoJsonShapes(source.name, config)
    for key, first, _, elements in stream.batches():
        shapes.label = lambda i, key=key: "%s: %s[%d]" % (source.name, key, i)
        if key == "geometries":
            for i, element in enumerate(elements):
                shapes._geometry(element, {}, first + i, "")
        else:
            shapes.add_all(elements, first)
        yield from shapes.take()
    if isinstance(stream.root, dict):
        shapes.label = lambda i: "%s: (root)" % source.name
        shapes.add(stream.root, 0)
    yield from shapes.take()
    shapes.finish()


def _read_geojsonl(source: _Input, config: Config) -> Iterator[object]:
    """Newline-delimited GeoJSON: one Feature or geometry per line."""
    import json
    shapes = _GeoJsonShapes(source.name, config)
    for first_line, chunk in _line_chunks(source):
        numbered = [(first_line + i, line) for i, line in enumerate(chunk.split(b"\n"))
                    if line.strip()]
        numbers, lines = zip(*numbered) if numbered else ((), ())
        try:
            elements = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            elements = None
        if elements is None or len(elements) != len(lines):
            for number, line in numbered:  # the first line that is not one JSON value
                try:
                    json.loads(line)
                except ValueError as exc:
                    raise _data_error(source.name, number, "not valid JSON: %s"
                                      % getattr(exc, "msg", exc)) from None
            raise _data_error(source.name, first_line, "not one JSON value per line")
        shapes.label = lambda i, numbers=numbers: "%s:%d" % (source.name, numbers[i])
        shapes.add_all(elements, 0)
        yield from shapes.take()
    shapes.finish()


def _read_takeout(source: _Input, config: Config) -> Iterator[Points]:
    """Google Takeout's Records.json: ``locations`` (latitudeE7, longitudeE7, timestamp(Ms))."""
    stream, found = _JsonArrays(source, ("locations",)), False
    for _, first, _, records in stream.batches():
        points = _takeout_points(source.name, first, records)
        if points is not None:
            found = True
            yield points
    if not found:
        raise _NothingToDraw("no Takeout locations (latitudeE7, longitudeE7)")


def _takeout_points(name: str, first: int, records: list) -> Optional[Points]:
    records = [r for r in records if isinstance(r, dict)]
    e7 = [r.get("latitudeE7") for r in records] + [r.get("longitudeE7") for r in records]
    try:  # numbers (None, NaN: no position), not text, booleans or infinities
        lat, lon = np.array(e7, dtype=np.float64).reshape(2, -1)
    except (ValueError, TypeError, OverflowError):
        lat = lon = np.array([np.inf])
    if np.isinf(lat).any() or np.isinf(lon).any() or not _NOT_NUMBERS.isdisjoint(map(type, e7)):
        raise HeatmapError("%s: locations[%d...]: latitudeE7/longitudeE7 not numbers"
                           % (name, first))
    # some exports overflowed 32 bits: values past 180 degrees wrap around
    lat = np.where(lat > 9e8, lat - 2.0 ** 32, lat) / 1e7
    lon = np.where(lon > 18e8, lon - 2.0 ** 32, lon) / 1e7
    keep = np.isfinite(lat) & np.isfinite(lon)
    if not keep.any():
        return None
    time = None
    for key, scale in (("timestamp", None), ("timestampMs", 1000)):  # the first given wins
        stamps = [r.get(key) for r in records]
        if any(s is not None for s in stamps):
            try:
                more = _parse_times(stamps if scale is None else [
                    None if s is None else _float_or_nan(s) / scale for s in stamps])
            except _BadTime as bad:
                raise HeatmapError("%s: locations[%d]: bad time %r" % (
                    name, first + bad.index, _quoted(str(stamps[bad.index])))) from None
            time = more if time is None else np.where(np.isnat(time), more, time)
    return Points(lat[keep], lon[keep], None, None if time is None else time[keep])


# ---- 2.6 Input: FIT, shapefiles and columnar files ----
# Garmin FIT activities (through fitdecode), ESRI shapefiles (through pyshp, from files or a
# zip), Parquet and Arrow (through pyarrow), all optional extras, and NumPy files; then
# READERS, the reader functions by format name (each named by its row of _FORMATS, 2.1).
_FIT_EPOCH = 631065600              # 1989-12-31T00:00:00Z in Unix seconds
_SEMICIRCLE = 180.0 / 2 ** 31       # degrees per FIT position unit


def _read_fit(source: _Input, config: Config) -> Iterator[Segments]:
    """FIT activities (Garmin, Wahoo, Strava) by fitdecode: positioned records, a track a file."""
    fitdecode = _import_extra("fitdecode", "fitdecode", "fit", "reading FIT files")
    track, rows, number = _TrackBuilder(), [], 0
    try:
        for frame in fitdecode.FitReader(source.stream, check_crc=fitdecode.CrcCheck.RAISE,
                                         error_handling=fitdecode.ErrorHandling.IGNORE):
            if isinstance(frame, fitdecode.FitHeader):   # a file's points end with it
                _fit_rows(track, rows)
                track.start()
            elif isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record":
                number += 1
                lat, lon, time = (frame.get_field(name).raw_value if frame.has_field(name) else
                                  None for name in ("position_lat", "position_long", "timestamp"))
                if isinstance(lat, int) and isinstance(lon, int):   # else no position
                    rows.append((lat, lon, time if isinstance(time, int) else math.nan))
                if len(rows) >= _GPX_BATCH:
                    _fit_rows(track, rows)
                    yield from track.take()
    except HeatmapError:   # a decompression bomb refused while reading
        raise
    except Exception as exc:  # fitdecode raises many types on damaged data
        raise HeatmapError("%s: record %d: not valid FIT data: %s" % (
            source.name, number, _one_line(exc) or type(exc).__name__)) from None
    _fit_rows(track, rows)
    track.end()
    yield from track.take()
    if not track.points:
        raise _NothingToDraw("no FIT records with a position")


def _fit_rows(track: _TrackBuilder, rows: list) -> None:
    """Rows (lat and lon in FIT units, FIT seconds or nan) to the track, the list emptied."""
    if not rows:
        return
    table = np.array(rows, dtype=np.float64)
    known, time = np.isfinite(table[:, 2]), None
    if known.any():
        time = _no_times(len(table))
        time[known] = (table[known, 2] + _FIT_EPOCH).astype(np.int64).astype("datetime64[s]")
    track.add(table[:, 0] * _SEMICIRCLE, table[:, 1] * _SEMICIRCLE, time)
    track.flush()
    rows.clear()


def _sidecar_files(paths: Iterable[str], exts: Sequence[str] = (".shx", ".dbf", ".prj", ".cpg")
                   ) -> List[str]:
    """The files beside the inputs that are their shapefile's parts ``exts`` (either case)."""
    return [base + e for base in (os.path.splitext(p)[0] for p in paths) for ext in exts
            for e in (ext, ext.upper()) if os.path.lexists(base + e)]


def _check_prj(name: str, wkt: Optional[str]) -> None:
    if wkt is None:
        _LOG.warning("%s: no .prj file; assuming WGS84 longitude/latitude", name)
        return
    wkt = wkt.upper().replace(" ", "_")
    if "PROJCS" in wkt or "WGS_1984" not in wkt and "WGS84" not in wkt:
        said = _quoted(wkt.split("[", 1)[0].encode("utf-8"))
        raise HeatmapError("%s: only WGS84 longitude/latitude shapefiles are supported "
                           "(the .prj says %s)" % (name, repr(said) if said else "something else"))


def _shapefile_files(source: _Input) -> Tuple[dict, Optional[str]]:
    """({"shp"/"shx": binary file}, .prj text or None) of a shapefile or zip (no .dbf read)."""
    if source.path is None:
        raise HeatmapError("%s: a shapefile must be a file (it is read with its .shx), not a "
                           "stream" % source.name)
    if source.head.startswith(b"PK\x03\x04"):
        return _zipped_shapefile(source)
    found = _sidecar_files([source.path], (".shx", ".prj"))
    parts = {os.path.splitext(name)[1].lower(): name for name in reversed(found)}
    for name in parts.values():
        if not os.path.isfile(name):  # a FIFO would hang
            raise HeatmapError("%s: is not a regular file" % name)
    files = {"shp": open(source.path, "rb")}
    if ".shx" in parts:
        files["shx"] = open(parts[".shx"], "rb")
    if ".prj" in parts:
        with open(parts[".prj"], "rb") as stream:
            return files, stream.read(1 << 20).decode("utf-8", "replace")
    return files, None


def _zipped_shapefile(source: _Input) -> Tuple[dict, Optional[str]]:
    """The parts of the one shapefile in a zip (as Natural Earth and most portals ship them)."""
    import zipfile
    try:
        with zipfile.ZipFile(source.path) as archive:
            names = {n.lower(): n for n in archive.namelist()}
            shps = [n for n in names if n.endswith(".shp")]
            if len(shps) != 1:
                raise HeatmapError("%s: the zip archive holds %s shapefiles; unpack it and give "
                                   "one" % (source.name, len(shps) or "no"))
            parts = {ext: _zip_member(archive, names[shps[0][:-3] + ext], source.name).read()
                     for ext in ("shp", "shx", "prj") if shps[0][:-3] + ext in names}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError,
            zlib.error) as exc:
        raise HeatmapError("%s: not a readable zip archive: %s" % (source.name, exc)) from None
    prj = parts.pop("prj", b"").decode("utf-8", "replace") or None
    return {ext: io.BytesIO(data) for ext, data in parts.items()}, prj


def _read_shp(source: _Input, config: Config) -> Iterator[Points]:
    """Point and multipoint layers in WGS84, read with pyshp (also from a .zip)."""
    shapefile = _import_extra("shapefile", "pyshp", "shp", "reading .shp files")
    files, prj = _shapefile_files(source)
    try:
        _check_prj(source.name, prj)
        yield from _shapefile_points(shapefile, source.name, files)
    finally:
        for stream in files.values():
            stream.close()


def _shapefile_points(shapefile, name: str, files: dict) -> Iterator[Points]:
    try:
        reader = shapefile.Reader(**files)
    except Exception as exc:  # pyshp raises several unrelated types for bad files
        raise HeatmapError("%s: not a readable shapefile: %s" % (name, _one_line(exc))) from None
    with reader:
        kinds = {shapefile.POINT, shapefile.POINTZ, shapefile.POINTM,
                 shapefile.MULTIPOINT, shapefile.MULTIPOINTZ, shapefile.MULTIPOINTM}
        if reader.shapeType not in kinds:
            kind = getattr(shapefile, "SHAPETYPE_LOOKUP", {}).get(reader.shapeType)
            raise HeatmapError("%s: only point and multipoint shapefiles are supported "
                               "(this one holds %s)"
                               % (name, kind or "unknown shape type %r" % reader.shapeType))
        batch: List[Tuple[float, float]] = []
        try:
            for shape in reader.iterShapes():
                batch.extend(shape.points)
                if len(batch) >= _GPX_BATCH:
                    yield _shp_points(name, batch)
                    batch = []
        except HeatmapError:
            raise
        except Exception as exc:
            raise HeatmapError("%s: damaged shapefile: %s" % (name, _one_line(exc))) from None
        if batch:
            yield _shp_points(name, batch)


def _shp_points(name: str, xy: List[Tuple[float, float]]) -> Points:
    table = np.array([p[:2] for p in xy], dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(table).all():
        raise HeatmapError("%s: a point is not a finite number" % name)
    return Points(table[:, 1].copy(), table[:, 0].copy())


def _read_columnar(source: _Input, config: Config) -> Iterator[Points]:
    """Parquet (a row group at a time), Arrow IPC files (Feather 2), .npy (memory-mapped) and .npz:
    the columns --csv_columns names, else lat/latitude and lon/lng/long/longitude, else (unnamed)
    the first two, a third the weight; rows count from 1 in messages, as lines do."""
    try:
        names, chunks = _columnar_table(source)
        names, row = [str(name) for name in names], 1
        lower = [n.lower() for n in names]
        spec = config.csv_columns or ("1,2,3"[:max(3, 2 * len(names) - 1)] if "".join(
            names).isdigit() else ",".join(next((g for g in guesses if g in lower), guesses[0])
                                           for guesses in (_LAT_NAMES, _LON_NAMES)))
        columns = _csv_columns(spec, ",".join(lower).encode(), source.name)[:4]
        if max(c for c in columns if c is not None) >= len(names):
            raise HeatmapError("%s: no column %s (there are %d)" % (
                source.name, max(c for c in columns if c is not None) + 1, len(names)))
        for chunk in chunks(list({names[c] for c in columns if c is not None})):
            for start in range(0, len(chunk[names[columns[0]]]), 1 << 20):
                part = [None if c is None else chunk[names[c]][start:start + (1 << 20)]
                        for c in columns]
                if any(a is not None and np.ndim(a) != 1 for a in part):
                    raise HeatmapError("%s: a column is not one-dimensional" % source.name)
                table = np.column_stack([a for a in part[:3] if a is not None]).astype(float)
                if not np.isfinite(table).all():
                    row += int(np.argmin(np.isfinite(table).all(1)))
                    raise _data_error(source.name, row, "not a finite number")
                yield _points_from_table(table, None if part[3] is None else _column_times(
                    source.name, part[3], range(row, row + len(table))))
                row += len(table)
    except HeatmapError:
        raise
    except Exception as exc:  # pyarrow's and NumPy's errors on a damaged file
        raise HeatmapError("%s: not a readable Parquet, Arrow or NumPy file: %s" % (
            source.name, _one_line(exc) or type(exc).__name__)) from None


def _columnar_table(source: _Input):
    """(column names, chunks(names): dicts of those columns' arrays, some rows each) of a file."""
    data = source.path or io.BytesIO(source.stream.read())
    if not source.head.startswith((b"PAR1", b"ARROW1", b"\x93NUMPY", b"PK\x03\x04")):
        raise HeatmapError("%s: not a Parquet, Arrow IPC (Feather 2) or NumPy file" % source.name)
    if not source.head.startswith((b"PAR1", b"ARROW1")):   # NumPy, nothing unpickled
        data = np.load(data, allow_pickle=False, mmap_mode="r" if source.path else None)
        if isinstance(data, np.ndarray) and data.dtype.names is None:
            data = {str(i + 1): column for i, column in enumerate(np.atleast_2d(data.T))
                    if data.ndim < 3}
        names = data.dtype.names if isinstance(data, np.ndarray) else list(data.keys())
        return names, lambda used: iter([{name: data[name] for name in used}])
    pa = _import_extra("pyarrow", "pyarrow", "parquet", "reading Parquet and Arrow files")
    if source.head.startswith(b"PAR1"):   # (pre_buffer=True would read it all)
        data = __import__("pyarrow.parquet").parquet.ParquetFile(data, pre_buffer=False)
        names, batches = data.schema_arrow.names, lambda used: data.iter_batches(1 << 20,
                                                                                columns=used)
    else:
        data = pa.ipc.open_file(pa.memory_map(data) if source.path else data)
        names, batches = data.schema.names, lambda used: map(data.get_batch,
                                                             range(data.num_record_batches))
    return names, lambda used: ({name: batch.column(name).to_numpy(zero_copy_only=False)
                                 for name in used} for batch in batches(used))


READERS = {kind: globals()[row.reader] for kind, row in _FORMATS.items()}


# ---- 2.7 Input: the library's arrays, tables and geometries ----
# What the library's functions take (_library_batches, a branch per kind): files, Points/Segments
# batches, geometries (GeoPandas by shapely on whole arrays, others by __geo_interface__ and
# _GeoJsonShapes), tables (pandas, polars, dicts of arrays, structured arrays) and arrays.  Rows
# are checked as a reader's (_checked_columns), a bad one named; tracks() joins rows into Segments.
_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "lng", "long", "longitude")
_GEO_TYPES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
              "MultiPolygon", "GeometryCollection")   # by shapely's type id: 0, 1, 2 are drawn
_GEOJSON_TYPES = ("FeatureCollection", "Feature", "GeometryCollection", "Point", "MultiPoint",
                  "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_COLUMN_LIMITS = {"lat": 90.0, "lon": float(_MAX_LONGITUDE)}   # degrees; other numbers: finite


def _library_batches(config: Config, data: Any, spec: dict, skip_invalid: bool,
                     join: bool = False) -> Iterable[object]:
    """The batches of the library's ``data`` (see :func:`render`), its columns named by ``spec``
    (lat, lon, weight, time: a column name or the values); ``join``: Segments, for tracks()."""
    if any(isinstance(v, Config) for v in [data, *spec.values()]):
        raise HeatmapError("a Config goes third, or by name: render(data, config=Config(...))")
    if data is None:
        data, spec = spec["lat"], dict(spec, lat=None)
    if hasattr(data, "to_delayed") and hasattr(data, "columns") and not join:   # dask (13)
        return _DaskParts(data.to_delayed(), (spec, skip_invalid))
    given = sorted(k for k, v in spec.items() if v is not None)
    if isinstance(data, (str, os.PathLike, Points, Segments)):
        data = [data]
    if isinstance(data, Iterator):   # read once
        first = next(data, None)
        data = itertools.chain([first], data)
    else:
        first = data[0] if isinstance(data, (list, tuple)) and data else None
    if isinstance(first, (str, os.PathLike)):
        batches, kind = _read_files(_config_with(config, {"files": data}), False), "files"
    elif isinstance(first, (Points, Segments)):
        batches, kind = (_user_batch(b, i, skip_invalid) for i, b in enumerate(data)), "batches"
    elif _is_geo(data):
        batches, kind = _geo_batches(data, spec, skip_invalid, join), ""
    else:
        columns, row = _table_columns(data, spec)
        return [_track_segments(columns, skip_invalid, row) if join else
                Points(**_checked_columns(columns, skip_invalid, row))]
    if given and kind:
        raise HeatmapError("%s= names columns of a table, not of %s" % ("=, ".join(given), kind))
    if join:
        return (_track_segments({k: v for k, v in b._asdict().items() if v is not None},
                                skip_invalid, "row %s") if isinstance(b, Points) else b
                for b in batches)
    return batches


def _user_batch(batch: Any, number: int, skip_invalid: bool) -> object:
    """A batch given to the library, checked as a reader's (:func:`_checked_columns`)."""
    if not isinstance(batch, (Points, Segments)):
        raise HeatmapError("batch %d is not Points or Segments: %s" % (number, _shown(batch)))
    columns = {k: v for k, v in batch._asdict().items() if v is not None}
    return type(batch)(**_checked_columns(columns, skip_invalid, "batch %d, row %%s" % number))


def _is_geo(data: Any) -> bool:
    """Geometries: its type has ``__geo_interface__`` (GeoPandas, shapely: not asked of the data,
    which would build all of its GeoJSON) or it is a GeoJSON dict."""
    kind = data.get("type") if isinstance(data, dict) else None
    return hasattr(type(data), "__geo_interface__") or (isinstance(kind, str) and kind in
            _GEOJSON_TYPES) or "__geo_interface__" in getattr(data, "__dict__", ())


def _table_columns(data: Any, spec: dict) -> Tuple[dict, Any]:
    """({name: values} of a table's columns named by ``spec`` (lat and lon guessed when None), or
    of arrays (``data`` the latitudes); how a row is named: "row %s" or the table's index)."""
    from collections.abc import Mapping
    if not (isinstance(data, Mapping) or hasattr(data, "columns")   # a DataFrame
            or getattr(getattr(data, "dtype", None), "names", None)):   # a structured array
        named = [k for k, v in spec.items() if isinstance(v, str)]
        if named:
            raise HeatmapError("%s= names a column: give a table (a DataFrame, a dict of arrays) "
                               "first, or the values themselves" % named[0])
        if spec["lon"] is None:
            raise HeatmapError("no longitudes: render(lat, lon) or render(table)")
        return dict({k: v for k, v in spec.items() if v is not None}, lat=data), "row %s"
    guesses = {"lat": _LAT_NAMES, "lon": _LON_NAMES}
    return ({k: _table_column(data, v, guesses.get(k, ()), k) for k, v in spec.items()
             if v is not None or k in guesses}, getattr(data, "index", "row %s"))


def _table_column(data: Any, name: Any, guesses: Sequence[str], what: str) -> Any:
    """Column ``name`` of a table (or values given), else the first in ``guesses`` (any case)."""
    if name is not None and not isinstance(name, (str, int)):
        return name
    names = list(getattr(getattr(data, "dtype", None), "names", None)
                 or (data.columns if hasattr(data, "columns") else data.keys()))
    shown = _quoted(", ".join(map(str, names)))
    if name is None:
        lower = {str(n).lower(): n for n in reversed(names)}
        guess = next((g for g in guesses if g in lower), None)
        if guess is None:
            raise HeatmapError("no %s column (%s): name it with %s=, the columns are %s"
                               % (what, " or ".join(guesses), what, shown))
        name = lower[guess]
    elif name not in names:
        raise HeatmapError("no column %r for %s; the columns are %s" % (name, what, shown))
    return data[name]


def _checked_columns(columns: dict, skip_invalid: bool, row: Any) -> dict:
    """Columns as (n,) arrays of one length (:func:`_column_values`); a row with a number not finite
    or a latitude past 90 or longitude past 360 degrees is an error naming it (``row``: "row %s"
    or a table's index), or with ``skip_invalid`` dropped and counted in a warning."""
    arrays = {k: _column_values(k, v, row) for k, v in columns.items()}
    if len({len(v) for v in arrays.values()}) > 1:
        raise HeatmapError("%s differ in length (%s)" % (", ".join(arrays), ", ".join(
            str(len(v)) for v in arrays.values())))
    limits = {k: _COLUMN_LIMITS.get(k[:3], np.inf) for k in arrays if arrays[k].dtype == np.float64}
    bad = np.zeros(len(next(iter(arrays.values()))), bool)
    for i in range(0, bad.size, _LIBRARY_ROWS):   # in slices: no temporaries of the whole size
        for k, limit in limits.items():
            bad[i:i + _LIBRARY_ROWS] |= ~(np.abs(arrays[k][i:i + _LIBRARY_ROWS]) <= limit)
    count = int(np.count_nonzero(bad))
    if not count:
        return arrays
    first = int(np.argmax(bad))
    text = "(the first: %s, %s)" % (_row_name(row, first), ", ".join("%s %r" % (
        k, float(arrays[k][first])) for k in limits if not abs(arrays[k][first]) <= limits[k]))
    if not skip_invalid:
        raise HeatmapError("%d rows hold a value that is not a finite number or out of range "
                           "%s; skip_invalid=True drops them" % (count, text))
    _LOG.warning("skipped %d of %d rows that hold a value that is not a finite number or out "
                 "of range %s", count, len(bad), text)
    return {k: v[~bad] for k, v in arrays.items()}


def _row_name(row: Any, i: int) -> str:
    return row % i if isinstance(row, str) else "row %s" % (row[i],)


def _column_values(name: str, values: Any, row: Any) -> np.ndarray:
    """(n,) array of a column: float64 for lat*, lon* and weight, datetime64[s] for time*."""
    if name.startswith("time"):
        return _column_times(name, values, row)
    if not name.startswith(("lat", "lon", "weight")):
        return _one_a_row(name, values, None)
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)  # pandas, with NA
    try:
        kind = np.asarray(values).dtype.kind
    except (TypeError, ValueError):   # ragged
        kind = "O"
    items = list(values) if kind in "OSU" and isinstance(values, Iterable) else []
    for i, item in enumerate(items):
        try:
            float(item)
        except (TypeError, ValueError):
            raise HeatmapError("%s is not numbers: %s at %s" % (name, _shown(item),
                                                               _row_name(row, i))) from None
    return _one_a_row(name, values, np.float64)


def _one_a_row(name: str, values: Any, dtype: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype)
    except (TypeError, ValueError):
        array = np.zeros((0, 0))
    if array.ndim != 1:
        raise HeatmapError("%s must be one value a row, not %s" % (name, _shown(values)))
    return array


def _column_times(name: str, values: Any, row: Any) -> np.ndarray:
    """datetime64[s] (n,) of times: datetime64 of any unit (polars: in UTC), time-zone aware
    pandas times, ISO 8601 text or Unix seconds; None, NaN and NaT are unknown."""
    if getattr(getattr(values, "dt", None), "tz", None) is not None:   # pandas, to UTC
        values = values.dt.tz_convert(None)
    array = _one_a_row(name, values, None)
    if array.dtype.kind == "M":
        return array.astype("datetime64[s]")
    if array.dtype.kind == "f":   # Unix seconds, NaN unknown
        array = np.where(np.isnan(array), None, array)
    try:
        return _parse_times(array)
    except _BadTime as bad:
        raise HeatmapError("%s: bad time %s at %s" % (name, _shown(array[bad.index]),
                                                       _row_name(row, bad.index))) from None


def _track_segments(columns: dict, skip_invalid: bool, row: Any) -> Segments:
    """Segments joining each row to the next of the same ``track`` (ids), a bad row a gap."""
    columns = {k: _column_values(k, v, row) for k, v in columns.items() if k != "weight"}
    kept = _checked_columns(dict(columns, row=np.arange(len(columns["lat"]))), skip_invalid, row)
    join = kept["row"][1:] == kept["row"][:-1] + 1
    if "track" in kept:
        join &= kept["track"][1:] == kept["track"][:-1]
    ends = [{k: v[:-1][join] if start else v[1:][join] for k, v in kept.items()}
            for start in (True, False)]
    return Segments(ends[0]["lat"], ends[0]["lon"], ends[1]["lat"], ends[1]["lon"],
                    ends[0].get("time"), ends[1].get("time"))


@_setting_errors
def tracks(data: Any = None, lon: Any = None, track: Any = None, time: Any = None, *,
           lat: Any = None, times: Any = None, skip_invalid: bool = True) -> Segments:
    """Segments joining consecutive points: the track lat[0], lon[0] -> lat[1], lon[1] -> ...

    ``data``, ``lat``, ``lon``, ``time`` (``times`` in 2.0): as for :func:`render` (Segments
    are kept); ``track``: ids (a column name or values), a new track where they change; a bad
    point is a gap (an error if not ``skip_invalid``).

    >>> tracks([47.60, 47.61, 47.62], [-122.33, -122.32, -122.30]).lat2
    array([47.61, 47.62])
    """
    spec = {"lat": lat, "lon": lon, "time": time if times is None else times, "track": track}
    parts = list(_library_batches(Config(), data, spec, skip_invalid, join=True))
    fields = zip(*parts) if parts else [[np.zeros(0)]] * 4 + [[None]] * 3
    return Segments(*(None if any(v is None for v in f) else np.concatenate(f) for f in fields))


def _geo_batches(data: Any, spec: dict, skip_invalid: bool, join: bool) -> List[object]:
    """Points and Segments of GeoPandas data (whole arrays, by shapely) or of anything with
    ``__geo_interface__`` (as GeoJSON); ``spec``: weight and time of points, by column or value."""
    crs = getattr(data, "crs", None)   # GeoPandas in another CRS: to longitude/latitude
    if crs is not None and hasattr(data, "to_crs") and getattr(crs, "to_epsg", str)() != 4326:
        data = data.to_crs(4326)
    geometry = getattr(data, "geometry", None)
    if geometry is None or not hasattr(geometry, "values"):
        return _geojson_batches(data if isinstance(data, dict) else data.__geo_interface__, spec)
    import shapely  # every GeoPandas has it
    parts = np.asarray(geometry.values, dtype=object)
    kinds, owner = shapely.get_type_id(parts), np.arange(len(parts))
    if (kinds > 2).any():   # multi-part geometries (getting the parts of all: 1.4 s for 1e6)
        parts, owner = shapely.get_parts(parts, return_index=True)
        kinds = shapely.get_type_id(parts)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    odd = kinds[kinds > 2]
    if odd.size:
        raise HeatmapError("only points and lines can be drawn, not a %s (draw polygons by "
                           "their .boundary or .centroid)" % _GEO_TYPES[int(odd[0])])
    point, batches = kinds[part] == 0, []
    if point.any():
        rows = owner[part[point]]
        index = getattr(data, "index", "row %s")
        columns = {k: _column_values(k, _table_column(data, v, (), k), index)[rows]
                   for k, v in spec.items() if v is not None and k not in ("lat", "lon")}
        columns.update(lat=coords[point, 1], lon=coords[point, 0])
        row = index if isinstance(index, str) else index[rows]
        batches.append(_track_segments(columns, skip_invalid, row) if join else
                       Points(**_checked_columns(columns, skip_invalid, row)))
    if not point.all():
        if any(spec.get(k) is not None for k in ("weight", "time")):
            raise HeatmapError("weight and time are for points: lines are drawn with weight 1")
        batches.append(tracks(coords[~point, 1], coords[~point, 0], track=part[~point],
                              skip_invalid=skip_invalid))
    return batches


def _geojson_batches(geo: Any, spec: dict) -> List[object]:
    """The batches of a GeoJSON-like mapping, by the GeoJSON reader's interpreter (section
    2.5), polygons refused; ``weight``, ``time``: a property name, or weight one value a feature."""
    crs = str(((geo.get("crs") or {}).get("properties") or {}).get("name", "EPSG:4326"))
    if not re.search(r"4326|CRS84", crs):
        raise HeatmapError("the data's CRS is %s: give longitude/latitude (EPSG:4326)" % crs)
    weight, time = spec.get("weight"), spec.get("time")
    if not isinstance(time, (str, type(None))):
        raise HeatmapError("time= names the property of the features that holds their times")
    named = weight if isinstance(weight, str) else None
    shapes = _GeoJsonShapes("data", Config(weight_property=named, time_property=time),
                            polygons="error")
    shapes.label = lambda i: "feature %d" % i
    features = (geo.get("features") if geo.get("type") == "FeatureCollection" else [geo]) or ()
    for index, feature in enumerate(features):
        shapes.add(feature, index)
    if weight is not None and named is None:
        if shapes.track.points:
            raise HeatmapError("weight and time are for points: lines are drawn with weight 1")
        weights = shapes.feature_weights = _column_values("weight", weight, "row %s")
        if len(weights) != len(features):
            raise HeatmapError("weight has %d values for %d features" % (len(weights),
                                                                         len(features)))
    batches = shapes.take()
    if not batches:
        raise HeatmapError("no points or lines in the data")
    return batches


# ---- 3 Projections and the picture's geometry ----
# Degrees to pixels: a projection maps lat/lon to a plane, scaled by pixels per degree (from -s, or
# fitted to -W/-H with the margin and radius as padding).  A point lands on the pixel its projected
# coordinates truncate to (toward zero, as the original).  The picture's geometry is the scale, the
# pixel box of the image and its size; _image_values cuts the engine's values to that box.
class _Projection:
    """forward(lat, lon, ppd): pixel (x, y), y southwards, of floats or float64 arrays; inverse."""
    max_lat = 90.0


class _Equirectangular(_Projection):
    def forward(self, lat, lon, ppd):
        return lon * ppd, -lat * ppd

    def inverse(self, x, y, ppd):
        return -y / ppd, x / ppd


class _Mercator(_Projection):
    max_lat = 89.999999

    def forward(self, lat, lon, ppd):
        ppr = ppd * (180 / math.pi)
        log, tan = (np.log, np.tan) if isinstance(lat, np.ndarray) else (math.log, math.tan)
        return lon * ppd, -ppr * log(tan(math.pi / 4 + math.pi / 360 * lat))

    def inverse(self, x, y, ppd):
        ppr = ppd * (180 / math.pi)
        atan, exp = (np.arctan, np.exp) if isinstance(y, np.ndarray) else (math.atan, math.exp)
        return 360 / math.pi * atan(exp(-y / ppr)) - 90, x / ppd


PROJECTIONS = {"mercator": _Mercator(), "equirectangular": _Equirectangular()}


@dataclass
class _Box:
    """An axis-aligned box; in pixels x grows east and y south."""
    min_x: float
    min_y: float
    max_x: float
    max_y: float

    def grown(self, pad: float) -> "_Box":
        return _Box(self.min_x - pad, self.min_y - pad, self.max_x + pad, self.max_y + pad)

    def resized(self, width: Optional[float], height: Optional[float]) -> "_Box":
        """Same centre, ``width``/``height`` wide where given (0 or None: unchanged)."""
        box = dataclasses.replace(self)
        if width:
            box.max_x += float(width - (box.max_x - box.min_x)) / 2
            box.min_x = box.max_x - width
        if height:
            box.max_y += float(height - (box.max_y - box.min_y)) / 2
            box.min_y = box.max_y - height
        return box


def _project_box(projection: _Projection, lat_lon: _Box, ppd: float) -> _Box:
    """Pixel box of a lat/lon box (min_x/max_x hold longitudes, min_y/max_y latitudes)."""
    x1, y1 = projection.forward(lat_lon.min_y, lat_lon.min_x, ppd)
    x2, y2 = projection.forward(lat_lon.max_y, lat_lon.max_x, ppd)
    return _Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _ppd_for_scale(metres_per_pixel: float) -> float:
    return 2 * math.pi * EARTH_RADIUS / 360 / metres_per_pixel


_FIT_SCALE = 1000000.0            # provisional pixels/degree used to fit a scale


def _fit_ppd(projection: _Projection, lat_lon: _Box, padding: int,
             width: Optional[int], height: Optional[int]) -> float:
    """Pixels per degree at which the box plus padding fits width and/or height."""
    size = _project_box(projection, lat_lon, _FIT_SCALE)
    span_x, span_y = size.max_x - size.min_x, size.max_y - size.min_y
    fits = [float(side - 2 * padding) / span * _FIT_SCALE
            for side, span in ((height, span_y), (width, span_x)) if side and span]
    if not fits:  # nothing to fit a scale to
        what = ("has one longitude" if width and not height else
                "has one latitude" if height and not width else "is at one location")
        raise HeatmapError("all data %s, so -W/-H cannot set the scale: give -s/--scale or "
                           "--extent" % what)
    ppd = min(fits)
    if ppd <= 0:
        raise HeatmapError("the image is too small for margin + radius (%d pixels per side)"
                           % padding)
    return ppd


@dataclass
class _PictureGeometry:
    """Where the picture lies in the pixel plane and how big it is."""
    ppd: float           # pixels per degree of longitude
    box: _Box            # pixel box of the image: pixel (x, y) lands at int(x - min_x)
    width: int
    height: int
    basemap: Optional[Image.Image] = None   # the --osm map (width x height), after -B/-N
    origin: Tuple[float, float] = (0.0, 0.0)  # whole pixels taken off projected coordinates
    projection: str = "mercator"            # the name in PROJECTIONS of the pixel plane

    def window(self) -> Tuple[int, int, int, int]:
        """Integer pixel coordinates (x0, y0, x1, y1), inclusive, covered by the image."""
        return (math.ceil(self.box.min_x), math.ceil(self.box.min_y),
                math.ceil(self.box.min_x) + self.width, math.ceil(self.box.min_y) + self.height)


def _image_box(box: _Box, width: Optional[int], height: Optional[int]) -> Tuple[_Box, int, int]:
    """Resize the padded data box to the asked size, as the original does."""
    resized = box.resized((width or 1) - 1, (height or 1) - 1)
    out_w = width if width and width > 1 else int(resized.max_x - resized.min_x) + 1
    out_h = height if height and height > 1 else int(resized.max_y - resized.min_y) + 1
    return resized, out_w, out_h


def _data_box(batches: Iterable[object], empty: bool = False) -> Optional[_Box]:
    """lat/lon box of batches and _Boxes, or of a Dask cluster's input; none: None or an error."""
    if isinstance(batches, _DaskParts):
        return batches.box()
    lats, lons = [], []
    for batch in batches:
        if isinstance(batch, _Box):   # a part's (Dask)
            pairs = [(np.array([batch.min_y, batch.max_y]), np.array([batch.min_x, batch.max_x]))]
        elif isinstance(batch, Points):
            pairs = [(batch.lat, batch.lon)]
        else:
            pairs = [(batch.lat1, batch.lon1), (batch.lat2, batch.lon2)]
        for lat, lon in pairs:
            if lat.size:
                lats += [lat.min(), lat.max()]
                lons += [lon.min(), lon.max()]
    if not lats and not empty:
        raise HeatmapError("no data points in the input")
    return _Box(float(min(lons)), float(min(lats)), float(max(lons)), float(max(lats))) \
        if lats else None


def _extent_box(extent: Tuple[float, float, float, float]) -> _Box:
    lat1, lon1, lat2, lon2 = extent
    return _Box(min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2))


def _check_latitudes(config: Config, box: _Box) -> None:
    worst, limit = max(box.max_y, box.min_y, key=abs), PROJECTIONS[config.projection].max_lat
    if abs(worst) > limit:
        raise HeatmapError("latitude %.12g is outside what the %s projection can draw "
                           "(|lat| <= %.12g)" % (worst, config.projection, limit))


def _picture_geometry(config: Config, box_ll: _Box,
                      size: Tuple[Optional[int], Optional[int]]) -> _PictureGeometry:
    """Scale and image box for a lat/lon box and the asked (width, height)."""
    if config.osm:
        return _osm_background(config, box_ll)
    projection = PROJECTIONS[config.projection]
    width, height = size
    if config.scale:
        ppd = _ppd_for_scale(config.scale)
    elif width or height:
        ppd = _fit_ppd(projection, box_ll, config.padding, width, height)
    else:
        raise HeatmapError(_NO_SIZE)
    box = _project_box(projection, box_ll, ppd).grown(config.padding)
    origin = (_pixel_origin(box.min_x, box.max_x), _pixel_origin(box.min_y, box.max_y))
    box = _Box(box.min_x - origin[0], box.min_y - origin[1], box.max_x - origin[0],
               box.max_y - origin[1])
    if not all(abs(v) <= _MAX_COORD for v in dataclasses.astuple(box)):
        raise HeatmapError("the image would reach beyond pixel %d at this scale: %s" % (
            _MAX_COORD, "give a larger -s/--scale or a smaller --extent" if config.scale else
            "the data spans too little to fit -W/-H; give -s/--scale or --extent"))
    resized, out_w, out_h = _image_box(box, width, height)
    if out_w * out_h > _max_pixels():  # refuse before anything that big is allocated
        raise _too_big(out_w * out_h)
    return _PictureGeometry(ppd, resized, out_w, out_h, origin=origin, projection=config.projection)


def _pixel_origin(low: float, high: float) -> float:
    """Whole pixels to take off the coordinates of a box far from pixel 0 (a short track drawn
    -W wide); off a box on one side of 0 this changes no truncation."""
    if max(abs(low), abs(high)) <= _MAX_COORD // 4 or low < 0 < high:
        return 0.0
    return float(math.floor(low) if low >= 0 else math.ceil(high))


def _image_values(geometry: _PictureGeometry, grid: np.ndarray, window) -> np.ndarray:
    """float64 (height, width): pixel x in min_x .. max_x lands on column int(x - min_x), as the
    original (last column and row empty unless its edge is whole); an image-sized grid: reused."""
    box = geometry.box
    cols = _axis_slices(window[0], window[2], box.min_x, box.max_x, geometry.width)
    rows = _axis_slices(window[1], window[3], box.min_y, box.max_y, geometry.height)
    if grid.shape == (geometry.height, geometry.width) and cols and rows and \
            cols[0] == cols[1] and rows[0] == rows[1] and cols[0].start == rows[0].start == 0:
        grid[rows[0].stop:] = 0.0   # the window is the image: no copy (8 bytes a pixel)
        grid[:, cols[0].stop:] = 0.0
        return grid
    out = np.zeros((geometry.height, geometry.width))
    if cols and rows:
        out[rows[1], cols[1]] = grid[rows[0], cols[0]]
    return out


def _axis_slices(first: int, end: int, low: float, high: float, size: int):
    """(grid slice, image slice) along one axis for pixels first .. end - 1, or None."""
    pixels = np.arange(first, end)
    position = np.floor(pixels - low).astype(np.int64)
    fits = np.flatnonzero((pixels >= low) & (pixels <= high) & (position < size))
    if not fits.size:
        return None
    lo, hi = int(fits[0]), int(fits[-1]) + 1
    return slice(lo, hi), slice(int(position[lo]), int(position[lo]) + hi - lo)


# ---- 4 Binning ----
# Projected input is held in memory that follows the picture, not the input: unit points are
# counted in a dense grid (_CountGrid, the fast path of the entries; at decay 1 it sums positive
# weights too), other points aggregated into (pixel, weight) -> count entries (_BinnedPoints, the
# reference), track segments kept as pixel coordinates (--track_weight length, time: in even pieces
# along each track, so how often a device logged does not matter).  _Accumulator holds them and the
# input order; accumulations on one grid merge exactly (a Dask cluster's partitions).
class _BinnedPoints(NamedTuple):
    """Aggregated points: pixel x, y (int64), weight (float64), count (int64), each (n,)."""
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    count: np.ndarray

    def take(self, index) -> "_BinnedPoints":
        return _BinnedPoints(*(a[index] for a in self))


def _empty_entries() -> _BinnedPoints:
    return _BinnedPoints(np.empty(0, np.int64), np.empty(0, np.int64),
                    np.empty(0, np.float64), np.empty(0, np.int64))


def _aggregate(entries: _BinnedPoints) -> _BinnedPoints:
    """Merge entries with the same pixel and weight, summing their counts."""
    if entries.x.size == 0:
        return entries
    values = _sorted_unique(entries.weight)
    which = np.searchsorted(values, entries.weight)
    x_lo, y_lo = int(entries.x.min()), int(entries.y.min())
    wide = int(entries.x.max()) - x_lo + 1
    if wide * (int(entries.y.max()) - y_lo + 1) * values.size < 1 << 62:
        # one int64 key (pixel, weight): a single sort instead of a three-key lexsort
        key = ((entries.y - y_lo) * wide + (entries.x - x_lo)) * values.size + which
        order = np.argsort(key)
        new = np.r_[True, np.diff(key[order]) != 0]
    else:
        order = np.lexsort((entries.weight, entries.y, entries.x))
        x, y, w = entries.x[order], entries.y[order], entries.weight[order]
        new = np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1]) | (w[1:] != w[:-1])]
    starts = np.flatnonzero(new)
    return entries.take(order[starts])._replace(count=np.add.reduceat(entries.count[order], starts))


def _concat_entries(parts: Sequence[_BinnedPoints]) -> _BinnedPoints:
    return _BinnedPoints(*(np.concatenate(column) for column in zip(*parts)))


def _count_block(rect: Tuple[int, int, int, int], entries: _BinnedPoints) -> np.ndarray:
    """int64 grid[y, x] over ``rect`` of the entries' counts (entries outside are left out)."""
    x0, y0, x1, y1 = rect
    block = np.zeros((y1 - y0, x1 - x0), np.int64)
    inside = (entries.x >= x0) & (entries.x < x1) & (entries.y >= y0) & (entries.y < y1)
    np.add.at(block, (entries.y[inside] - y0, entries.x[inside] - x0), entries.count[inside])
    return block


def _rect_area(rect: Tuple[int, int, int, int]) -> int:
    return (rect[2] - rect[0]) * (rect[3] - rect[1])


def _grown_rect(window: Tuple[int, int, int, int], pad: int) -> Tuple[int, int, int, int]:
    return window[0] - pad, window[1] - pad, window[2] + pad, window[3] + pad


_DENSE_PIXELS = 1 << 23          # unit-point count grid may grow to this many pixels


def _project_batch(config: Config, batch: object, ppd: float, acc: _Accumulator,
                   origin: Tuple[float, float] = (0.0, 0.0)) -> None:
    def forward(lat, lon):
        x, y = PROJECTIONS[config.projection].forward(lat, lon, ppd)
        if origin != (0.0, 0.0):
            x, y = x - origin[0], y - origin[1]
        if x.size and (np.abs(x).max() > _MAX_COORD or np.abs(y).max() > _MAX_COORD):
            raise HeatmapError("the data spans more than %d pixels at this scale: "
                               "give a larger -s/--scale or a smaller --extent" % _MAX_COORD)
        return x, y
    if isinstance(batch, Points):
        acc.add_points(*forward(batch.lat, batch.lon), batch.weight)
    else:
        pieces = (*forward(batch.lat1, batch.lon1), *forward(batch.lat2, batch.lon2),
                  batch.weight, None)
        if _track_rule(config) != "segment":
            pieces = _even_pieces(*pieces[:5], config.radius * _PIECE)
        acc.add_segments(*pieces)
    if acc.log is not None and config.frame_time:
        acc.add_times(*_input_seconds(batch))


_PIECE = 0.5    # --track_weight length and time: tracks in pieces of this many radii


def _even_pieces(x1, y1, x2, y2, weight: np.ndarray, step: float):
    """Tracks (runs of segments, each starting where the last ended) in pieces ``step`` long, each
    with its share of the weights (spread along each segment) and the segment it ends in."""
    length = np.hypot(x2 - x1, y2 - y1)
    start = np.r_[True, (x1[1:] != x2[:-1]) | (y1[1:] != y2[:-1])]
    end = np.cumsum(length + np.where(start, step, 0.0))   # along the tracks, kept apart
    first, last = np.flatnonzero(start), np.r_[np.flatnonzero(start)[1:], start.size] - 1
    begin, span = end[first] - length[first], end[last] - end[first] + length[first]
    cuts = np.maximum(np.ceil(span / step), 1).astype(np.int64)
    run, k = _repeat_ranges(np.zeros_like(cuts), cuts + 1)
    at, ends = begin[run] + np.minimum(k * step, span[run]), k == cuts[run]
    total = np.cumsum(weight)
    along = np.ravel([end - length, end], "F")
    heat = np.interp(at, along, np.ravel([total - weight, total], "F"))
    heat[k == 0], heat[ends] = (total - weight)[first], total[last]
    x, y = (np.interp(at, along, np.ravel(pair, "F")) for pair in ((x1, x2), (y1, y2)))
    keep = ~ends[:-1]
    return (x[:-1][keep], y[:-1][keep], x[1:][keep], y[1:][keep], np.diff(heat)[keep],
            np.where(ends, last[run], np.searchsorted(end, at))[1:][keep])


def _binned(config: Config, batches: Iterable[object], acc: "_Accumulator", ppd: float,
            origin: Tuple[float, float] = (0.0, 0.0)) -> "_Accumulator":
    """``acc`` with the batches projected and binned in (a Dask cluster's: on its workers)."""
    if isinstance(batches, _DaskParts):
        return batches.binned(acc, ppd, origin)
    progress = _Progress("inputs read")
    for batch in batches:
        _project_batch(config, batch, ppd, acc, origin)
        progress.update(acc.inputs)
    progress.close()
    return acc


class _Accumulator:
    """Projected input: unit points in a count grid (``region`` first, growing within a budget),
    other points as entries, segments as they come; ``sums`` (decay 1): it sums weights > 0."""

    def __init__(self, region: Tuple[int, int, int, int], record: bool = False, sums: bool = False):
        self.grid = _CountGrid(region, _rect_area(region) + _DENSE_PIXELS)
        self.sums = sums
        self.log: Optional[list] = [] if record else None
        self.parts: List[_BinnedPoints] = []
        self.pending, self.inputs = 0, 0
        self.entries = _empty_entries()
        self.segments: List[np.ndarray] = []
        self.times: List[np.ndarray] = []   # --frame_time: each input's time, in input order
        self.first_time: Optional[int] = None  # the earliest time in the data (a track's start)

    def add_points(self, x: np.ndarray, y: np.ndarray, weight: Optional[np.ndarray]) -> None:
        """Add points at pixel coordinates (float64 arrays), truncated like the original."""
        ix, iy = np.trunc(x).astype(np.int64), np.trunc(y).astype(np.int64)
        if self.log is not None:
            self.log.append((self.inputs, ix, iy, weight))
        self.inputs += ix.size
        if weight is None:
            if _FAST:   # fast path of the entries below: a count grid
                left = self.grid.add(ix, iy)
                ix, iy = ix[left], iy[left]
            weight = np.ones(ix.size)
        elif self.sums and _FAST:   # decay 1 sums by FFT: positive weights need no entries
            positive = weight > 0
            left = ~positive
            left[positive] = self.grid.add(ix[positive], iy[positive], weight[positive])
            ix, iy, weight = ix[left], iy[left], weight[left]
        if ix.size:   # aggregated when enough have come: one sort for many chunks
            self.parts.append(_BinnedPoints(ix, iy, weight.astype(np.float64),
                                       np.ones(ix.size, np.int64)))
            self.pending += ix.size
        if self.pending > 4 * max(self.entries.x.size, 1 << 20):
            self._merge()

    def add_segments(self, x1, y1, x2, y2, weight: Optional[np.ndarray] = None,
                     source: Optional[np.ndarray] = None) -> None:
        """Add segments at pixel coordinates; ``weight`` (one each) multiplies their heat;
        ``source``: the input each is part of (by number in this call), else one each."""
        self.segments.append(np.stack([x1, y1, x2, y2] + ([] if weight is None else [weight]), 1))
        source = np.arange(len(x1)) if source is None else source
        if self.log is not None:
            self.log.append((self.inputs, source))
        self.inputs += int(source[-1]) + 1 if source.size else 0

    def ordered(self):
        """Recorded inputs: (point entries, their input numbers, segments, theirs)."""
        points = [item for item in self.log if len(item) == 4]
        entries = _concat_entries([_empty_entries()] + [
            _BinnedPoints(ix, iy, np.ones(ix.size) if w is None else w, np.ones(ix.size, np.int64))
            for _, ix, iy, w in points])
        entry_seq = np.concatenate([np.empty(0, np.int64)] +
                                   [first + np.arange(ix.size) for first, ix, _, _ in points])
        segment_seq = np.concatenate([np.empty(0, np.int64)] + [
            first + source for first, source in (i for i in self.log if len(i) == 2)])
        return entries, entry_seq, self._segment_array(), segment_seq

    def add_times(self, times: np.ndarray, first: int) -> None:
        """The --frame_time clock: int64 Unix seconds of the inputs just added, the earliest."""
        self.times.append(times)
        self.first_time = first if self.first_time is None else min(self.first_time, first)

    def clock(self) -> Tuple[np.ndarray, int]:
        """(int64 (inputs,) Unix seconds of every input by input number, the earliest time)."""
        return np.concatenate([np.empty(0, np.int64)] + self.times), self.first_time or 0

    def _segment_array(self) -> np.ndarray:
        """float64 (n, 4) of all segments, or (n, 5) when some came with weights (1 elsewhere)."""
        width = max([4] + [part.shape[1] for part in self.segments])
        return np.concatenate([np.hstack([part, np.ones((part.shape[0], width - part.shape[1]))])
                               for part in self.segments]) if self.segments else np.empty((0, 4))

    def _merge(self) -> None:
        if self.parts:
            self.entries = _aggregate(_concat_entries([self.entries] + self.parts))
            self.parts, self.pending = [], 0

    def merge(self, other: "_Accumulator") -> "_Accumulator":
        """Add an accumulation on the same grid, neither grown (a Dask part's, of later input)."""
        entries, segments, grid = other.result()
        self.grid.total += grid.total
        self.grid._count()   # (int64 once the total passes int32's)
        self.grid.counts = self.grid.counts + grid.counts
        if grid.sums is not None:
            self.grid.sums = grid.sums + (0.0 if self.grid.sums is None else self.grid.sums)
        self.parts.append(entries)
        self.segments.append(segments)
        self.inputs += other.inputs
        return self

    def result(self) -> Tuple[_BinnedPoints, np.ndarray, _CountGrid]:
        """(aggregated entries of the points not in the grid, float64 (n, 4|5) segments, grid)."""
        self._merge()
        self.grid._count()
        return self.entries, self._segment_array(), self.grid


class _CountGrid:
    """Fast path of _BinnedPoints entries for unit points: the same values; chosen in
    _Accumulator.add_points; bench rows "W8000" and the engine rows.  Counts (int32 until a pixel
    might pass it) over a region growing up to ``limit`` pixels; ``sums``: positive weights."""

    def __init__(self, region: Tuple[int, int, int, int], limit: int):
        self.region, self.limit = region, limit
        self.counts = np.zeros((region[3] - region[1], region[2] - region[0]), np.int32)
        self.sums: Optional[np.ndarray] = None
        self.total, self.waiting_size = 0, 0
        self.waiting: List[Tuple[np.ndarray, Optional[np.ndarray]]] = []

    def add(self, ix: np.ndarray, iy: np.ndarray,
            weight: Optional[np.ndarray] = None) -> np.ndarray:
        """Count the points it can hold (with ``weight``: sum it); returns a mask of the others."""
        if ix.size:
            self._grow(int(ix.min()), int(iy.min()), int(ix.max()) + 1, int(iy.max()) + 1)
        x0, y0, x1, y1 = self.region
        inside = (ix >= x0) & (ix < x1) & (iy >= y0) & (iy < y1)
        if not inside.all():
            ix, iy, weight = ix[inside], iy[inside], None if weight is None else weight[inside]
        flat = (iy - y0) * (x1 - x0) + ix - x0   # (numpy reuses the temporaries)
        self.waiting.append((flat, weight))
        self.waiting_size += flat.size
        if self.waiting_size >= max(self.counts.size >> 2, 1 << 22):
            self._count()
        return ~inside

    def _count(self) -> None:
        """Add the waiting points to the grids."""
        weighted = [(flat, weight) for flat, weight in self.waiting if weight is not None]
        unit = [flat for flat, weight in self.waiting if weight is None]
        self.waiting, self.waiting_size = [], 0
        self.total += sum(flat.size for flat in unit)
        if self.counts.dtype == np.int32 and self.total > np.iinfo(np.int32).max:
            self.counts = self.counts.astype(np.int64)
        if unit:
            flat = np.concatenate(unit)
            del unit[:]   # the parts go before the sort's own arrays come
            _add_by_bands(self.counts.reshape(-1), flat, None)
        if weighted:
            if self.sums is None:
                self.sums = np.zeros(self.counts.shape)
            _add_by_bands(self.sums.reshape(-1), np.concatenate([f for f, _ in weighted]),
                          np.concatenate([w for _, w in weighted]))

    def _grow(self, bx0: int, by0: int, bx1: int, by1: int) -> None:
        x0, y0, x1, y1 = self.region
        if bx0 >= x0 and by0 >= y0 and bx1 <= x1 and by1 <= y1:
            return
        slack_x, slack_y = (x1 - x0) // 4, (y1 - y0) // 4   # a quarter more: regrown rarely
        nx0, ny0 = (x0 if bx0 >= x0 else bx0 - slack_x), (y0 if by0 >= y0 else by0 - slack_y)
        nx1, ny1 = (x1 if bx1 <= x1 else bx1 + slack_x), (y1 if by1 <= y1 else by1 + slack_y)
        if (nx1 - nx0) * (ny1 - ny0) > self.limit:
            nx0, ny0 = max(nx0, min(x0, bx0)), max(ny0, min(y0, by0))
            nx1, ny1 = min(nx1, max(x1, bx1)), min(ny1, max(y1, by1))
            if (nx1 - nx0) * (ny1 - ny0) > self.limit:
                return
        self._count()
        region = (nx0, ny0, nx1, ny1)   # (block pastes into zeros over it)
        self.counts = self.block(region)
        self.sums = None if self.sums is None else self.block(region, self.sums)
        self.region = region

    def block(self, rect: Tuple[int, int, int, int],
              grid: Optional[np.ndarray] = None) -> np.ndarray:
        """grid[y, x] of the counts (or of ``grid``) over ``rect``, 0 outside the region."""
        grid = self.counts if grid is None else grid
        x0, y0, x1, y1 = self.region
        if x0 <= rect[0] and y0 <= rect[1] and x1 >= rect[2] and y1 >= rect[3]:
            return grid[rect[1] - y0:rect[3] - y0, rect[0] - x0:rect[2] - x0]
        out = np.zeros((rect[3] - rect[1], rect[2] - rect[0]), grid.dtype)
        _Engine._paste(out, rect, self.region, grid)
        return out

    def mass(self, rect: Tuple[int, int, int, int]) -> np.ndarray:
        """float64 grid[y, x] over ``rect`` of the counts plus the summed weights."""
        mass = self.block(rect).astype(np.float64)
        if self.sums is not None:
            mass += self.block(rect, self.sums)
        return mass

    def entries(self, weighted: bool) -> _BinnedPoints:
        """The summed weights as entries (pixel, sum, count 1), else counts (pixel, 1, count)."""
        grid = self.sums if weighted else self.counts
        ys, xs = np.divmod(np.flatnonzero(grid.ravel() != 0), grid.shape[1])   # (fast on bools)
        held, ones = grid[ys, xs], np.ones(xs.size)
        if not np.isfinite(held).all():
            raise _overflow_error()
        return _BinnedPoints(xs + self.region[0], ys + self.region[1], held if weighted else ones,
                             ones.astype(np.int64) if weighted else held.astype(np.int64))

    def occupied_box(self) -> Optional[Tuple[int, int, int, int]]:
        """Pixel box (x0, y0, x1, y1 exclusive) of the points held, or None."""
        held = self.counts != 0 if self.sums is None else (self.counts != 0) | (self.sums != 0)
        rows = np.flatnonzero(held.any(axis=1))
        if not rows.size:
            return None
        cols = np.flatnonzero(held.any(axis=0))
        x0, y0 = self.region[:2]
        return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1

    def occupied(self, size: int, radius: int) -> set:
        """Tiles (tx, ty) of ``size`` pixels whose area grown by ``radius`` holds counts."""
        x0, y0, x1, y1 = self.region
        held = self.counts != 0
        rows = np.flatnonzero(held.any(axis=1)) + y0
        tiles = set()
        for ty in _tiles_covering(rows - radius, rows + radius, size):
            top, bottom = max(ty * size - radius, y0), min((ty + 1) * size + radius, y1)
            cols = np.flatnonzero(held[top - y0:bottom - y0].any(axis=0)) + x0
            tiles.update((tx, ty) for tx in _tiles_covering(cols - radius, cols + radius, size))
        return tiles


def _add_by_bands(grid: np.ndarray, flat: np.ndarray, weight: Optional[np.ndarray]) -> None:
    """grid[flat] += 1 (or weight), a band of 2**22 pixels at a time, the points in band order by
    a radix sort of 16-bit band numbers: no grid-sized temporary, no copy of all the points."""
    if not flat.size:
        return
    bands = grid.size >> 22
    if weight is None and flat.size < grid.size >> 5:   # a few points: no grid-sized temporary
        np.add.at(grid, flat, 1)
        return
    if not bands:   # one band: one np.bincount
        with np.errstate(over="ignore"):
            np.add(grid, np.bincount(flat, weight, grid.size), out=grid, casting="unsafe")
        return
    if bands >= 1 << 16:   # (a grid of 2**38 pixels: never within the pixel limit)
        raise HeatmapError("the image is too large to count points in")
    band = np.empty(flat.size, np.uint16)
    for i in range(0, flat.size, 1 << 20):   # 16-bit band numbers, a million at a time
        np.right_shift(flat[i:i + (1 << 20)], 22, out=band[i:i + (1 << 20)], casting="unsafe")
    order = np.argsort(band, kind="stable")
    ends = np.cumsum(np.bincount(band, minlength=bands + 1))
    # one buffer for all bands: fresh np.bincount arrays fault in every page (1.15 s vs 0.3 s, 1e7)
    found = np.zeros(min(grid.size, 1 << 22), np.float64 if weight is not None else np.int64)
    for b, (lo, hi) in enumerate(zip(np.r_[0, ends[:-1]].tolist(), ends.tolist())):
        if lo < hi:
            which = order[lo:hi]
            view = grid[b << 22:(b + 1) << 22]
            found[:view.size] = 0
            with np.errstate(over="ignore"):   # huge weights: inf, reported later as an error
                np.add.at(found, flat[which] - (b << 22), 1 if weight is None else weight[which])
                np.add(view, found[:view.size], out=view, casting="unsafe")


# ---- 5.1 Engine: the decay rule and the dispatch ----
# The decay rule: a pixel's contributions sorted descending and summed with weights 1, d, d*d, ...
# (_Decay: the weights and their running sums).  The reference is the sort (_point_heat and
# _segment_heat list each contribution, _reduce sorts them by pixel and value and sums them in the
# original's order: its bits).  Ranks from _Decay.depth on cannot change a sum of values >= 0 (each
# adds under half an ulp): every fast path uses that, and only that, to skip work.
# _Engine.tile_values works in tiles of _TILE pixels (quartered while too much lands on one), a few
# at a time on the cores, choosing a path for each: FFT sums at decay 1 (_sums_pay) or walks for
# points alone (5.2; a few ulp at most), cells for segments alone (5.3), else the sort.  A pyramid's
# short track segments may first be counted as points (_counted: within a stated bound).
_TILE = 256                       # pixels per side of an accumulation tile
_MAX_CONTRIBUTIONS = 1 << 21      # contributions reduced at once before a tile splits
_MAX_SEGMENT_WORK = 1 << 22       # the same for segments alone: cells hold no contributions
_LEVEL_COST = 100                 # points a weight needs in a tile for the level walk to pay
_SMALL_WORK = 1 << 20             # contributions (inputs times kernel offsets) worth no threads


def _linear(distance: np.ndarray, radius: int) -> np.ndarray:
    """Cone: 1 - d/r inside the radius, 0 outside; float64 like ``distance``."""
    heat = np.divide(distance, float(radius), dtype=np.float64)
    np.subtract(1.0, heat, out=heat)
    return np.maximum(heat, 0.0, out=heat)   # 1 - d/r <= 0 just where d >= r


def _gaussian(distance: np.ndarray, radius: int) -> np.ndarray:
    """The original's "gaussian": e**(-d ln256 / r), 1/256 at the radius, 0 beyond."""
    return np.where(distance >= radius, 0.0, np.power(math.e, -distance * (math.log(256) / radius)))


KERNELS = {"linear": _linear, "gaussian": _gaussian}


def _kernel_grid(kernel: str, radius: int) -> np.ndarray:
    """float64 grid[dy + r, dx + r] of the heat at integer offset (dx, dy), 0 outside the disc.
    Distance: sqrt of the exact integer sum, the same bits as math.hypot (np.hypot is not)."""
    squares = (np.arange(-radius, radius + 1) ** 2).astype(np.float64)
    return KERNELS[kernel](np.sqrt(squares[:, None] + squares[None, :]), radius)


class _KernelOffsets(NamedTuple):
    """Kernel offsets with nonzero heat, in descending heat: int arrays dx, dy, float heat."""
    dx: np.ndarray
    dy: np.ndarray
    heat: np.ndarray
    groups: np.ndarray   # start index of each run of equal heat, plus len(heat)


def _kernel_offsets(kernel: str, radius: int, grid: Optional[np.ndarray] = None) -> _KernelOffsets:
    """The offsets of the :func:`_kernel_grid` with nonzero heat, hottest first."""
    grid = _kernel_grid(kernel, radius) if grid is None else grid
    dy, dx = [a.ravel() - radius for a in np.indices(grid.shape)]
    heat = grid.ravel()
    order = np.lexsort((dx, dy, -heat))[:np.count_nonzero(heat > 0)]   # heat >= 0, descending
    heat = heat[order]
    starts = np.flatnonzero(np.r_[True, heat[1:] != heat[:-1]])
    return _KernelOffsets(dx[order], dy[order], heat, np.r_[starts, heat.size])


def _decay_weights(decay: float, length: int) -> np.ndarray:
    """1, d, d*d, ... by repeated multiplication, as the original's running weight."""
    steps = np.full(max(length, 1), decay, dtype=np.float64)
    steps[0] = 1.0
    return np.cumprod(steps)


class _Decay:
    """Rank weights W[R] = d**R and run sums S[c] = W[0] + ... + W[c-1], tables ending where nothing
    changes (decay 0 after rank 0, else once d**R underflows); decay 1: none (W = 1, S[c] = c)."""

    def __init__(self, decay: float, most: int):
        self.decay = decay
        length = 2 if decay == 0.0 else 1 if decay >= 1.0 else \
            min(most + 2, int(800 / -math.log(decay)) + 2)
        self.weights = _decay_weights(decay, length)
        self.sums = np.concatenate(([0.0], np.cumsum(self.weights)))
        # ranks from ``depth`` add at most v0 * 2**-55 (or never occur); None: all count (decay 1)
        tiny = np.flatnonzero(self.weights <= 2.0 ** -55)
        self.depth = None if decay == 1.0 else int(tiny[0]) if tiny.size else length

    def weight(self, rank: np.ndarray) -> np.ndarray:
        return self.weights[np.minimum(rank, self.weights.size - 1)]

    def row(self, length: int) -> np.ndarray:
        """W[0], ..., W[length - 1] as float64 (length,)."""
        if self.decay == 1.0:
            return np.ones(length)
        return np.r_[self.weights[:length], np.zeros(max(length - self.weights.size, 0))]

    def run(self, count: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """S[count] as float64 (into ``out`` when given); ``count`` int64, any shape."""
        if self.decay == 1.0:
            return np.add(count, 0.0, out=out)   # S[c] = c
        return np.take(self.sums, count, mode="clip", out=out)


def _sort_contributions(keys: np.ndarray, values: np.ndarray):
    """(order, keys ascending, values descending per key): values >= 0 by one packed uint64 sort
    (key | value scaled to a rank | position), runs of one rank then exactly; others: np.lexsort."""
    m = keys.size
    key_bits, pos_bits = int(keys.max()).bit_length(), max(1, (m - 1).bit_length())
    value_bits, top = min(64 - key_bits - pos_bits, 52), float(values.max())
    if value_bits < 16 or not (0.0 < top < math.inf and float(values.min()) >= 0.0):
        order = np.lexsort((-values, keys))
        return order, keys[order], values[order]
    packed = np.left_shift(np.ascontiguousarray(keys, np.int64).view(np.uint64),
                           np.uint64(value_bits + pos_bits))
    highest = (1 << value_bits) - 1   # a rank is never larger for a larger value
    rank = np.subtract(np.uint64(highest), np.multiply(values, highest / top).astype(np.uint64))
    rank <<= np.uint64(pos_bits)
    packed |= rank
    packed |= np.arange(m, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << pos_bits) - 1)).view(np.int64)
    v = values[order]
    _fix_hidden_order(packed, pos_bits, order, v)
    return order, (packed >> np.uint64(value_bits + pos_bits)).view(np.int64), v


def _fix_hidden_order(packed: np.ndarray, pos_bits: int, order: np.ndarray, v: np.ndarray) -> None:
    """Sort exactly, in place, the runs of equal packed key and rank with values out of order."""
    up = np.flatnonzero(v[1:] > v[:-1])  # mostly where the key changes
    run = packed >> np.uint64(pos_bits)
    up = up[run[up] == run[up + 1]]
    if not up.size:
        return
    base = _sorted_unique(run[up]) << np.uint64(pos_bits)
    lo = np.searchsorted(packed, base)
    hi = np.searchsorted(packed, base | np.uint64((1 << pos_bits) - 1), side="right")
    which, where = _repeat_ranges(lo, hi)
    fixed = np.lexsort((-v[where], which))
    order[where], v[where] = order[where][fixed], v[where][fixed]


def _reduce(keys: np.ndarray, values: np.ndarray, counts: Optional[np.ndarray],
            size: int, decay: _Decay) -> np.ndarray:
    """float64 (size,): per key in [0, size), its values sorted descending and summed with weights
    1, d, d**2, ... sequentially, as the original (bit-exact); ``counts``: copies of each."""
    if counts is not None and decay.depth is not None:   # one by one, as many as can matter
        copies = np.minimum(counts, decay.depth)
        keys, values, counts = np.repeat(keys, copies), np.repeat(values, copies), None
    if keys.size == 0:
        return np.zeros(size)
    order, keys, values = _sort_contributions(keys, values)
    per_key = np.bincount(keys, minlength=size)
    rank = np.arange(keys.size) - np.repeat(np.cumsum(per_key) - per_key, per_key)
    if counts is not None:   # decay 1: W[rank] = 1
        values = values * counts[order]
    return np.bincount(keys, weights=values * decay.weight(rank), minlength=size)


def _overflow_error() -> HeatmapError:
    return HeatmapError("the heat passes the largest number a float holds (about 1.8e308): "
                        "make the weights smaller")


def _tile_rect(tx: int, ty: int, size: int) -> Tuple[int, int, int, int]:
    return tx * size, ty * size, (tx + 1) * size, (ty + 1) * size


def _tiles_covering(lo: np.ndarray, hi: np.ndarray, size: int) -> List[int]:
    """Sorted indices of the tiles of ``size`` pixels that pixel ranges lo[i]..hi[i] touch."""
    first, last = lo // size, hi // size
    tiles = first[:, None] + np.arange(int((last - first).max(initial=0)) + 1)
    return _sorted_unique(tiles[tiles <= last[:, None]]).tolist()


def _counted(entries: _BinnedPoints, segments: np.ndarray, radius: int,
             kernel: str) -> Tuple[_BinnedPoints, np.ndarray]:
    """Fast path of the segment engine for tile pyramids (bound: README "Exactness"): a segment
    of length L as a point at the pixel nearest its middle is 0.71 + L/2 pixels off at most, its
    heat that times the kernel's steepest slope.  If that is a quarter of the peak or less for
    the median segment, those up to a half are counted (jumps and gaps stay segments)."""
    steep = 1000.0 * (1.0 - KERNELS[kernel](np.array([1e-3]), radius)[0])
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    if not length.size or np.median(length) > 0.5 / steep - 1.42:
        return entries, segments
    short = length <= 1 / steep - 1.42
    part = segments[short]   # one copy of the short rows
    x, y = np.floor((part[:, 0:2] + part[:, 2:4]) / 2 + 0.5).astype(np.int64).T
    weight = _segment_column(part, 4)
    # a track's next segment is often on the same pixel: runs are merged before the sort
    first = np.flatnonzero(np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1]) |
                                 (weight[1:] != weight[:-1])])
    points = _BinnedPoints(x[first], y[first], weight[first], np.diff(np.r_[first, x.size]))
    return _aggregate(_concat_entries([entries, points])), segments[~short]


def _tile_members(entries: _BinnedPoints, segments: np.ndarray, radius: int, size: int):
    """Tiles of ``size`` pixels each point entry and segment can heat: (int64 (k, 2) tile x/y,
    int8 (k,) kind 0 entry / 1 segment, int64 (k,) index into entries or segments)."""
    if _FAST and 2 * radius < size:   # fast path of _cells_along, points: 2 x 2 tiles ("pyramid")
        x0, x1 = (entries.x - radius) // size, (entries.x + radius) // size
        y0, y1 = (entries.y - radius) // size, (entries.y + radius) // size
        cols, rows = np.stack([x0, x0, x0 + 1, x0 + 1], 1), np.stack([y0, y0 + 1, y0, y0 + 1], 1)
        one, corner = np.nonzero((cols <= x1[:, None]) & (rows <= y1[:, None]))
        px, py = cols[one, corner], rows[one, corner]
    else:
        one, px, py = _cells_along(np.stack([entries.x, entries.y] * 2, 1).astype(float), size,
                                   radius)
    seg, sx, sy = _cells_along(segments, size, radius + 1)
    kind = np.r_[np.zeros(one.size, np.int8), np.ones(seg.size, np.int8)]
    return np.stack([np.r_[px, sx], np.r_[py, sy]], 1), kind, np.r_[one, seg]


def _cells_along(segments: np.ndarray, size: int, reach: float, box=None):
    """(segment, cell x, cell y), int64, of the cells of ``size`` pixels within ``reach`` of each
    segment: columns along its longer axis, each with the rows near it there; ``box``: (w, h)."""
    ends = segments[:, :4]
    steep = np.abs(ends[:, 3] - ends[:, 1]) > np.abs(ends[:, 2] - ends[:, 0])
    ends = np.where(steep[:, None], ends[:, [1, 0, 3, 2]], ends)   # (a, b): longer axis first
    ends = np.where((ends[:, 2] < ends[:, 0])[:, None], ends[:, [2, 3, 0, 1]], ends)
    a0, b0, a1, b1 = ends.T
    slope = np.divide(b1 - b0, a1 - a0, out=np.zeros(a0.size), where=a1 > a0)
    first, stop = np.floor((a0 - reach) / size), np.floor((a1 + reach) / size) + 1
    if box is not None:   # only the cells over the box
        cells = -(-np.array(box) // size)
        first, stop = np.maximum(first, 0), np.minimum(stop, np.where(steep, cells[1], cells[0]))
    seg, col = _repeat_ranges(first.astype(np.int64), stop.astype(np.int64))
    lo = np.clip(col * size - reach, a0[seg], a1[seg])   # the stretch near the column
    hi = np.clip((col + 1) * size + reach, a0[seg], a1[seg])
    b_lo, b_hi = b0[seg] + slope[seg] * (lo - a0[seg]), b0[seg] + slope[seg] * (hi - a0[seg])
    low, end = np.floor((np.minimum(b_lo, b_hi) - reach) / size), np.floor(
        (np.maximum(b_lo, b_hi) + reach) / size) + 1
    if box is not None:
        low, end = np.maximum(low, 0), np.minimum(end, np.where(steep[seg], cells[0], cells[1]))
    pick, row = _repeat_ranges(low.astype(np.int64), end.astype(np.int64))
    seg, col, flip = seg[pick], col[pick], steep[seg[pick]]
    return seg, np.where(flip, row, col), np.where(flip, col, row)


def _repeat_ranges(start: np.ndarray, stop: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(which, value), int64: every value in start[i] .. stop[i] - 1, with its i."""
    length = np.maximum(stop - start, 0)
    which = np.repeat(np.arange(start.size), length)
    return which, start[which] + np.arange(which.size) - np.repeat(np.cumsum(length) - length,
                                                                   length)


@functools.lru_cache(maxsize=4)
def _pixel_keys(width: int, height: int, margin: int) -> np.ndarray:
    """int32 flat pixel numbers of a width x height rect, -1 in a margin around it (read-only)."""
    keys = np.pad(np.arange(width * height, dtype=np.int32).reshape(height, width), margin,
                  constant_values=-1)
    keys.flags.writeable = False
    return keys


class _Engine:
    """Points and segments to decay-combined values; ``counted``: a pyramid's (:func:`_counted`)."""

    def __init__(self, config: Config, counted: bool = False):
        self.counted = counted and _FAST
        self.radius, self.kernel, self.decay_value = config.radius, config.kernel, config.decay
        self.grid = _kernel_grid(config.kernel, config.radius)
        # copies of a point that can matter (about _Decay.depth), for estimating work only
        self.copies = 1 if config.decay in (0.0, 1.0) else int(38.2 / -math.log(config.decay)) + 2
        self.stamp = _kernel_offsets(config.kernel, config.radius, self.grid)

    def run(self, entries: _BinnedPoints, segments: np.ndarray, window: Tuple[int, int, int, int],
            keep_all: bool = False, counts: Optional["_CountGrid"] = None):
        """(grid[y, x] over ``window``, max anywhere, ``keep_all``: all nonzero (x, y, value))."""
        grid = np.zeros((window[3] - window[1], window[2] - window[0]))
        largest, kept = 0.0, [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))]
        for rect, values in self.tile_values(entries, segments, counts):
            if values.size:
                largest = max(largest, float(values.max()))
            self._paste(grid, window, rect, values)
            if keep_all:
                ys, xs = np.nonzero(values)
                kept.append((xs + rect[0], ys + rect[1], values[ys, xs]))
        return grid, largest, [np.concatenate(c) for c in zip(*kept)] if keep_all else []

    def tile_values(self, entries: _BinnedPoints, segments: np.ndarray,
                    counts: Optional["_CountGrid"] = None,
                    ) -> Iterator[Tuple[Tuple[int, int, int, int], np.ndarray]]:
        """Yield (rect, values) per _TILE-pixel tile with data, or part of one (decay-1 FFT sums: by
        block, as views), in tile order; other pixels are 0.  ``segments``: weights >= 0."""
        if self.counted:
            entries, segments = _counted(entries, segments, self.radius, self.kernel)
        total = int(entries.count.sum()) + segments.shape[0] + (counts.total if counts else 0)
        decay = _Decay(self.decay_value, total + self.stamp.heat.size)
        segments = _segment_rows(segments)
        ahead = 4   # jobs queued per thread: a long tile never leaves the others idle
        if self._sums_pay(entries, counts):
            jobs, ahead = self._sum_jobs(entries, segments, counts), 1   # blocks are big
        else:
            if counts is not None and counts.sums is not None:
                entries = _concat_entries([entries, counts.entries(True)])
            if counts is not None and total * self.stamp.heat.size < _SMALL_WORK >> 4:
                entries, counts = _concat_entries([entries, counts.entries(False)]), None
            jobs = (piece for tile in self._tiles(entries, segments, counts)
                    for piece in self._pieces(*tile))
        spectra: dict = {}   # the kernel's transforms by FFT size, shared by the jobs
        pile = threading.Lock()   # one piece of a pile at a time: each holds ~250 bytes a segment

        def work(job) -> list:
            if job[0] == "sum":
                return self._sum_block(*job[1:], decay, spectra)
            rect, near, segs, index, block = job
            mine = segs if index.size == segs.shape[0] else segs[index]   # (all: no copy)
            with pile if index.size > _PILE_PIECE else contextlib.nullcontext():
                return [(rect, self._tile(rect, near, mine, decay, block))]
        small = total * self.stamp.heat.size < _SMALL_WORK   # faster on this thread alone
        for pieces in _threaded_map(work, jobs, 1 if small else None, ahead):
            for rect, values in pieces:
                if values.size and not (math.isfinite(values.min())
                                        and math.isfinite(values.max())):
                    raise _overflow_error()
                yield rect, values

    def _sums_pay(self, entries: _BinnedPoints, counts: Optional["_CountGrid"]) -> bool:
        """Whether decay-1 sums by FFT (60 ns a pixel of the points' box) beat the sort (100 ns a
        contribution) or the walk (0.6 ns a pixel per offset pair or group), on 2 cores."""
        if self.decay_value != 1.0 or not _FAST:
            return False
        positive = entries.take(entries.weight > 0)
        box = _points_box(positive, counts)
        if box is None:
            return False
        area = _rect_area(_grown_rect(box, self.radius))
        points = positive.x.size
        if counts is not None:
            points += np.count_nonzero(counts.counts) + (
                0 if counts.sums is None else np.count_nonzero(counts.sums))
        walk = 100 * points * self.stamp.heat.size
        if bool(np.all(positive.weight == 1.0)) and (counts is None or counts.sums is None):
            walk = min(walk, 0.6 * area * (self.stamp.heat.size / 2 + 4 * self.stamp.groups.size))
        return 60 * area < walk

    def _sum_jobs(self, entries: _BinnedPoints, segments: np.ndarray,
                  counts: Optional["_CountGrid"]):
        """Jobs at decay 1: blocks of whole tiles over the positive weights, ("sum", block, region,
        points, counts, segments, {tile: others}), then pieces of the tiles only others reach."""
        r = self.radius
        positive = entries.weight > 0
        negative = entries.take(~positive)
        others = {tile: (negative.take(near), index)
                  for tile, (near, index) in self._member_tiles(negative, segments).items()}
        entries = entries.take(positive)
        box = _points_box(entries, counts)
        if box is not None:
            lo_x, lo_y, hi_x, hi_y = _grown_rect(box, r)
            side = max(1, (math.isqrt(_FFT_PIXELS) - 2 * r) // _TILE) * _TILE
            end_x, end_y = -(-hi_x // _TILE) * _TILE, -(-hi_y // _TILE) * _TILE
            for y in range(lo_y // _TILE * _TILE, hi_y, side):
                for x in range(lo_x // _TILE * _TILE, hi_x, side):
                    block = (x, y, min(x + side, end_x), min(y + side, end_y))
                    grown = _grown_rect(block, r)
                    near = entries.take((entries.x >= grown[0]) & (entries.x < grown[2]) &
                                        (entries.y >= grown[1]) & (entries.y < grown[3]))
                    mine = {t: others.pop(t) for t in list(others)   # the tiles in the block
                            if x <= t[0] * _TILE < block[2] and y <= t[1] * _TILE < block[3]}
                    yield "sum", block, (lo_x, lo_y, hi_x, hi_y), near, counts, segments, mine
        for tile, (near, index) in sorted(others.items()):
            yield from self._pieces(_tile_rect(*tile, _TILE), near, segments, None, index)

    def _sum_block(self, block, area, entries: _BinnedPoints, counts: Optional["_CountGrid"],
                   segments: np.ndarray, others: dict, decay: _Decay, spectra: dict) -> list:
        """[(tile rect, values)] of a block at decay 1: FFT sums (:func:`_point_sums`) over its part
        of ``area``, plus the exact values of points of weight <= 0 and of segments."""
        sums = np.zeros((block[3] - block[1], block[2] - block[0]))
        inner = (max(block[0], area[0]), max(block[1], area[1]),
                 min(block[2], area[2]), min(block[3], area[3]))
        if inner[0] < inner[2] and inner[1] < inner[3]:
            grown = _grown_rect(inner, self.radius)
            mass = np.zeros((grown[3] - grown[1], grown[2] - grown[0])) if counts is None \
                else counts.mass(grown)
            flat = (entries.y - grown[1]) * mass.shape[1] + (entries.x - grown[0])
            mass.ravel()[:] += np.bincount(flat, entries.weight * entries.count, mass.size)
            if mass.any():
                self._paste(sums, block, inner, _point_sums(mass, self.grid, spectra))
        out = []
        for y in range(block[1], block[3], _TILE):
            for x in range(block[0], block[2], _TILE):
                values = sums[y - block[1]:y - block[1] + _TILE, x - block[0]:x - block[0] + _TILE]
                exact = others.get((x // _TILE, y // _TILE))
                rect = _tile_rect(x // _TILE, y // _TILE, _TILE)
                if exact is not None:
                    values = values + self._tile(rect, exact[0], segments[exact[1]], decay)
                elif not values.any():
                    continue
                out.append((rect, values))
        return out

    @staticmethod
    def _paste(grid, window, rect, values) -> None:
        x0, y0 = max(window[0], rect[0]), max(window[1], rect[1])
        x1, y1 = min(window[2], rect[2]), min(window[3], rect[3])
        if x0 < x1 and y0 < y1:
            grid[y0 - window[1]:y1 - window[1], x0 - window[0]:x1 - window[0]] = \
                values[y0 - rect[1]:y1 - rect[1], x0 - rect[0]:x1 - rect[0]]

    def _member_tiles(self, entries: _BinnedPoints, segments: np.ndarray) -> dict:
        """{(tx, ty): (index of entries near it, of segments near it)} per tile they reach."""
        ids, kind, which = _tile_members(entries, segments, self.radius, _TILE)
        order = np.lexsort((ids[:, 1], ids[:, 0]))
        ids, kind, which = ids[order], kind[order], which[order]
        cuts = np.flatnonzero(np.any(ids[1:] != ids[:-1], axis=1)) + 1
        return {(int(part[0, 0]), int(part[0, 1])): (index[kinds == 0], index[kinds == 1])
                for part, kinds, index in zip(np.split(ids, cuts), np.split(kind, cuts),
                                              np.split(which, cuts)) if part.size}

    def _tiles(self, entries: _BinnedPoints, segments: np.ndarray, counts: Optional["_CountGrid"]):
        """Yield (rect, entries near, segments, None or (unit points alone) counts over rect + r,
        index of the segments near) per tile with data."""
        members = self._member_tiles(entries, segments)
        dense = set() if counts is None else counts.occupied(_TILE, self.radius)
        for tile in sorted(set(members) | dense):
            rect = _tile_rect(tile[0], tile[1], _TILE)
            near, index = members.get(tile, (np.empty(0, np.int64),) * 2)
            near = entries.take(near)   # (here: the first tile's job starts sooner)
            if tile in dense:
                grown = _grown_rect(rect, self.radius)
                block = counts.block(grown)
                if not near.x.size and not index.size and \
                        _dense_pays(np.count_nonzero(block), rect):
                    yield rect, near, segments, block, index
                    continue
                ys, xs = np.divmod(np.flatnonzero(block.ravel() != 0), block.shape[1])   # weight 1
                near = _concat_entries([near, _BinnedPoints(xs + grown[0], ys + grown[1],
                                                            np.ones(xs.size), block[ys, xs])])
            yield rect, near, segments, None, index

    def _tile(self, rect, entries: _BinnedPoints, segments: np.ndarray, decay: _Decay,
              block: Optional[np.ndarray] = None) -> np.ndarray:
        """Exact values over one tile, split when too much lands on it (``block``: see _tiles)."""
        if block is not None:
            return self._dense_unit(rect, entries, decay, block)
        walk = self._walk(rect, entries, segments.shape[0])
        if walk is not None:
            return walk(rect, entries, decay)
        if self._is_heavy(rect, entries, segments.shape[0]):
            out = np.zeros((rect[3] - rect[1], rect[2] - rect[0]))
            for sub, near, touch in self._quarters(rect, entries, segments):
                self._paste(out, rect, sub, self._tile(sub, entries.take(near), segments[touch],
                                                       decay))
            return out
        return self._sparse(rect, entries, segments, decay)

    def _pieces(self, rect, entries: _BinnedPoints, segments: np.ndarray, block, index):
        """Jobs (rect, entries, all segments, index of those near, block); heavy tiles: quarters."""
        if block is None and self._is_heavy(rect, entries, index.size) and \
                self._walk(rect, entries, index.size) is None:
            for sub, near, touch in self._quarters(rect, entries, segments[index]):
                yield from self._pieces(sub, entries.take(near), segments, None, index[touch])
        else:
            yield rect, entries, segments, index, block

    def _walk(self, rect, entries: _BinnedPoints, segments: int):
        """Points alone: the walk that pays (unit points, dense; weights > 0, decay < 1) or None."""
        if not _FAST or segments or not entries.x.size:
            return None
        if bool(np.all(entries.weight == 1.0)) and _dense_pays(entries.x.size, rect):
            return self._dense_unit
        if self.decay_value == 1 or entries.weight.min() <= 0:
            return None
        if _sorted_unique(entries.weight).size * _LEVEL_COST < entries.x.size:
            return self._level_walk
        small = _rect_area(rect) <= 1 << 16   # _ranked's radix sort keys pixels in 16 bits
        return self._ranked if small and not self._is_heavy(rect, entries, 0) else None

    def _is_heavy(self, rect, entries: _BinnedPoints, segments: int) -> bool:
        """Whether the part of the kernels inside ``rect`` is too much to compute at once."""
        r, (x0, y0, x1, y1) = self.radius, rect
        work = segments * min((2 * r + 2) ** 2, _rect_area(rect))
        if not entries.x.size:   # segments alone split down to single cells: a pile stays in bounds
            return work > _MAX_SEGMENT_WORK and x1 - x0 > _cell_size(r)
        wide = np.minimum(entries.x + r + 1, x1) - np.maximum(entries.x - r, x0)
        tall = np.minimum(entries.y + r + 1, y1) - np.maximum(entries.y - r, y0)
        work += int(np.dot(wide * tall, np.minimum(entries.count, self.copies)))
        return work > _MAX_CONTRIBUTIONS and x1 - x0 > 8

    def _quarters(self, rect, entries: _BinnedPoints, segments: np.ndarray) -> list:
        """[(quarter rect, mask of the entries near it, of the segments near it)]."""
        r, (x0, y0, x1, y1) = self.radius, rect
        mx, my = (x0 + x1) // 2, (y0 + y1) // 2
        lo_x, lo_y = (np.minimum(segments[:, 0:2], segments[:, 2:4]) - r - 1).T
        hi_x, hi_y = (np.maximum(segments[:, 0:2], segments[:, 2:4]) + r + 1).T
        return [(sub, (entries.x >= sub[0] - r) & (entries.x < sub[2] + r) &
                 (entries.y >= sub[1] - r) & (entries.y < sub[3] + r),
                 (hi_x >= sub[0]) & (lo_x < sub[2]) & (hi_y >= sub[1]) & (lo_y < sub[3]))
                for sub in ((x0, y0, mx, my), (mx, y0, x1, my), (x0, my, mx, y1), (mx, my, x1, y1))]

    def _dense_unit(self, rect, entries: _BinnedPoints, decay: _Decay,
                    block: Optional[np.ndarray] = None) -> np.ndarray:
        """Fast path of the sort for dense unit points: within 1e-14 of a pixel's value; chosen by
        _walk; bench rows "points r=5/r=15".  Whole-grid passes over offsets by descending heat
        (section prose), over the points' box.  Points: ``entries`` or ``block`` counts."""
        r, stamp, (x0, y0, x1, y1) = self.radius, self.stamp, rect
        out = np.zeros((y1 - y0, x1 - x0))
        if block is None:
            block = _count_block(_grown_rect(rect, r), entries)
        # tile columns and rows holding points; block index i is tile index i - r
        cols, rows = np.flatnonzero(block.any(axis=0)) - r, np.flatnonzero(block.any(axis=1)) - r
        if not cols.size:
            return out
        bx0, bx1 = max(int(cols[0]) - r, 0), min(int(cols[-1]) + r + 1, x1 - x0)
        by0, by1 = max(int(rows[0]) - r, 0), min(int(rows[-1]) + r + 1, y1 - y0)
        w, h = bx1 - bx0, by1 - by0
        # the narrowest integers that hold the box's total (no rank is more): faster adds
        counts = block[by0:by1 + 2 * r, bx0:bx1 + 2 * r]
        counts = counts.astype(np.min_scalar_type(-int(counts.sum())))
        total = out[by0:by1, bx0:bx1]
        rank = np.zeros((h, w), counts.dtype)
        s_old, s_new = np.zeros((h, w)), np.empty((h, w))
        for lo, hi in zip(stamp.groups[:-1], stamp.groups[1:]):
            for dx, dy in zip(stamp.dx[lo:hi], stamp.dy[lo:hi]):
                rank += counts[r + dy:r + dy + h, r + dx:r + dx + w]
            decay.run(rank, out=s_new)
            np.subtract(s_new, s_old, out=s_old)
            s_old *= stamp.heat[lo]
            total += s_old
            s_old, s_new = s_new, s_old
        return out

    def _level_walk(self, rect, entries: _BinnedPoints, decay: _Decay) -> np.ndarray:
        """Points of weights > 0 at decay < 1 without the sort: one value (weight times offset heat)
        at a time, largest first; c meeting a pixel R larger ones met add value * W[R] * S[c]."""
        r, stamp, (x0, y0, x1, y1) = self.radius, self.stamp, rect
        entries = _aggregate(entries)   # a weight's points on distinct pixels
        wide = x1 - x0 + 4 * r   # the tile grown by 2r: no contribution falls out
        weights = _sorted_unique(entries.weight)
        by_weight = np.argsort(entries.weight, kind="stable")
        ends = np.searchsorted(entries.weight[by_weight], weights, "right").tolist()
        spot = ((entries.y - y0 + 2 * r) * wide + entries.x - x0 + 2 * r)[by_weight]
        copies, offset = entries.count[by_weight], stamp.dy * wide + stamp.dx
        runs = [decay.run(copies[a:b]) for a, b in zip([0] + ends[:-1], ends)]
        value = weights[:, None] * stamp.heat
        rank, out = np.zeros(wide * (y1 - y0 + 4 * r), np.int64), np.zeros(wide * (y1 - y0 + 4 * r))
        for j, o in zip(*np.unravel_index(np.argsort(-value, axis=None, kind="stable"),
                                          value.shape)):
            first = ends[j - 1] if j else 0
            target = spot[first:ends[j]] + offset[o]
            before = rank[target]
            out[target] += value[j, o] * decay.weight(before) * runs[j]
            rank[target] = before + copies[first:ends[j]]
        return out.reshape(-1, wide)[2 * r:y1 - y0 + 2 * r, 2 * r:x1 - x0 + 2 * r]

    def _ranked(self, rect, entries: _BinnedPoints, decay: _Decay) -> np.ndarray:
        """Fast path of the sort for points of weights > 0 at decay < 1: bit-exact; chosen by
        _walk; bench row "1e6 points -d 0.95: weighted / unweighted".  Pairs (point, heat level)
        in descending value, spread to their pixels: a stable radix sort by pixel ranks them."""
        r, stamp, (x0, y0, x1, y1) = self.radius, self.stamp, rect
        keys = _pixel_keys(x1 - x0, y1 - y0, 2 * r)
        point = np.argsort(-entries.weight, kind="stable")
        point = np.repeat(point, np.minimum(entries.count, decay.depth)[point])
        value = (stamp.heat[stamp.groups[:-1], None] * entries.weight[point]).ravel()
        away = np.max([x0 - entries.x, entries.x - x1 + 1, y0 - entries.y, entries.y - y1 + 1], 0)
        reach = np.maximum.reduceat(np.maximum(abs(stamp.dx), abs(stamp.dy)), stamp.groups[:-1])
        pair = np.flatnonzero(away[point] <= reach[:, None])   # levels reaching the rect
        pair = pair[np.argsort(-value[pair], kind="stable")]   # merges the levels' sorted runs
        level, point = pair // point.size, point[pair % point.size]
        lengths = np.diff(stamp.groups)   # each level's offsets, padded to the longest
        padded = np.full((lengths.size, int(lengths.max())), keys.size, np.int32)
        padded[np.arange(padded.shape[1]) < lengths[:, None]] = stamp.dy * keys.shape[1] + stamp.dx
        spot = (entries.y[point] - y0 + 2 * r) * keys.shape[1] + entries.x[point] - x0 + 2 * r
        pixel = keys.take(spot.astype(np.int32)[:, None] + padded.take(level, 0), mode="clip")
        inside = np.flatnonzero(pixel >= 0)
        pixel, value = pixel.ravel()[inside], value[pair[inside // padded.shape[1]]]
        area = (x1 - x0) * (y1 - y0)
        order = np.argsort(pixel.astype(np.uint16), kind="stable")   # _TILE**2 <= 2**16 keys
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)   # place in pixel order, less the pixel's first place
        counts = np.bincount(pixel, minlength=area)
        rank -= (np.cumsum(counts) - counts)[pixel]
        return np.bincount(pixel, value * decay.weight(rank), area).reshape(y1 - y0, -1)

    def _sparse(self, rect, entries: _BinnedPoints, segments: np.ndarray,
                decay: _Decay) -> np.ndarray:
        """Weighted points and segments by a sort-based reduction (segments alone by cells)."""
        if _FAST and segments.shape[0] and not entries.x.size and (
                segments.shape[1] < 5 or segments[:, 4].min() >= 0):
            return _segment_cells(segments, rect, self.radius, self.kernel, decay)
        w, h = rect[2] - rect[0], rect[3] - rect[1]
        keys, values, counts = _point_heat(entries, rect, self.grid)
        if segments.shape[0]:
            parts = zip((keys, values, counts), _segment_heat(segments, self.radius,
                                                              self.kernel, rect))
            keys, values, counts = (np.concatenate(p) for p in parts)
        return _reduce(keys, values, counts, w * h, decay).reshape(h, w)


# ---- 5.2 Engine: points ----
# The reference is _point_heat: each point lists its kernel's contributions inside the tile.  Fast
# paths: walks in _Engine by largest value, a pixel c more meet adding heat * (S[R + c] - S[R])
# (_dense_unit: unit points, per offset, within 1e-14 of a pixel's value; _level_walk: per weight
# and offset, within a few ulp); _ranked: a radix sort of (point, heat level) pairs, bit-exact; at
# decay 1 FFT sums (_point_sums: within 1.7e-14 of the largest value; pixels no point reaches: 0).
def _point_heat(entries: _BinnedPoints, rect: Tuple[int, int, int, int], grid: np.ndarray):
    """Contributions of points to ``rect``: int64 keys (y - y0) * width + (x - x0), weight * heat,
    counts.  As the original, a negative weight makes zero-heat corners count (before negatives)."""
    r, x0, y0, x1, y1 = grid.shape[0] // 2, *rect
    signed = bool(np.any(entries.weight < 0))
    lo_x, hi_x = np.maximum(entries.x - r, x0), np.minimum(entries.x + r + 1, x1)
    lo_y, hi_y = np.maximum(entries.y - r, y0), np.minimum(entries.y + r + 1, y1)
    # few shapes (powers of two, or the whole square): Python calls hold the GIL (BENCHMARKS.md)
    cols = _shape_length(np.maximum(hi_x - lo_x, 0), 2 * r + 1)
    rows = _shape_length(np.maximum(hi_y - lo_y, 0), 2 * r + 1)
    shape_id = rows * (cols.max(initial=0) + 1) + cols
    keys, values, counts = [np.empty(0, np.int64)], [np.empty(0)], [np.empty(0, np.int64)]
    for sid in _sorted_unique(shape_id[(rows > 0) & (cols > 0)]):
        pick = np.flatnonzero(shape_id == sid)
        h, w = int(rows[pick[0]]), int(cols[pick[0]])
        for part in np.array_split(pick, max(1, pick.size * h * w >> 22)):
            px = lo_x[part, None, None] + np.arange(w)
            py = lo_y[part, None, None] + np.arange(h)[:, None]
            offset = (py - entries.y[part, None, None] + r) * (2 * r + 1) + \
                (px - entries.x[part, None, None] + r)
            inside = (px < hi_x[part, None, None]) & (py < hi_y[part, None, None])
            heat = grid.take(np.where(inside, offset, 0))
            keep = inside & (heat > 0) if not signed else inside
            keys.append(((py - y0) * (x1 - x0) + (px - x0))[keep])
            values.append((entries.weight[part, None, None] * heat)[keep])
            counts.append(entries.count[np.broadcast_to(part[:, None, None], keep.shape)[keep]])
    return tuple(np.concatenate(a) for a in (keys, values, counts))


def _shape_length(n: np.ndarray, whole: int) -> np.ndarray:
    """int64 lengths rounded up to a power of two, at most ``whole`` (0 stays 0)."""
    up = np.left_shift(1, np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64))
    return np.where(n > 0, np.minimum(up, whole), 0)


def _dense_pays(points: int, rect: Tuple[int, int, int, int]) -> bool:
    """Whether ``points`` pixels near ``rect`` pay for whole-tile passes (0.6 ns a pixel)."""
    return points * 170 > _rect_area(rect) + 4000


_FFT_PIXELS = 1 << 23             # largest FFT (pixels) of a block of decay-1 sums


def _fft_size(n: int) -> int:
    """The least m >= n with no prime factor above 5: the sizes pocketfft does fastest."""
    while 30 ** 64 % n:   # n divides 30**64 just when no prime factor is above 5 (n < 2**64)
        n += 1
    return n


def _convolve(mass: np.ndarray, kernel: np.ndarray, spectra: dict, name: str) -> np.ndarray:
    """float64 (h - 2r, w - 2r): sum of mass[q] * kernel[p - q + r] for pixels p r or more inside
    ``mass``, by real FFTs (no wrap-around there); kernel transforms cached in ``spectra``."""
    r, (h, w) = kernel.shape[0] // 2, mass.shape
    shape = (_fft_size(h), _fft_size(w))
    key = (name, shape)
    if key not in spectra:
        wrapped = np.zeros(shape)
        wrapped[:2 * r + 1, :2 * r + 1] = kernel
        spectra[key] = np.fft.rfft2(np.roll(wrapped, (-r, -r), (0, 1)))
    return np.fft.irfft2(np.fft.rfft2(mass, shape) * spectra[key], shape)[r:h - r, r:w - r]


def _point_sums(mass: np.ndarray, kernel: np.ndarray, spectra: dict) -> np.ndarray:
    """Fast path of the sort at decay 1: within 1.7e-14 of the largest value; chosen by
    _Engine._sums_pay; bench row "r150".  Pixels no point reaches are exactly 0 (by value if
    round-off < half the least contribution, else by convolving supports)."""
    top = float(mass.max())
    if not math.isfinite(top):
        raise _overflow_error()
    scale = 2.0 ** -math.frexp(top)[1]       # exact, and no overflow inside the FFT
    sums = _convolve(mass * scale, kernel, spectra, "kernel")
    noise = 16 * 2.0 ** -52 * math.log2(mass.size) * \
        float(np.linalg.norm(mass * scale)) * float(np.linalg.norm(kernel))
    least = float(mass[mass > 0].min()) * scale * float(kernel[kernel > 0].min())
    if least / 2 > noise:
        reached = sums > least / 2
    else:
        reached = _convolve((mass > 0).astype(np.float64), (kernel > 0).astype(np.float64),
                            spectra, "disc") > 0.5
    sums[~reached] = 0.0
    return np.divide(sums, scale, out=sums)


def _points_box(entries: _BinnedPoints,
               counts: Optional["_CountGrid"]) -> Optional[Tuple[int, int, int, int]]:
    """Pixel box (x0, y0, x1, y1 exclusive) of the entries and the counts, or None."""
    boxes = [] if counts is None else [counts.occupied_box()]
    if entries.x.size:
        boxes.append((int(entries.x.min()), int(entries.y.min()),
                      int(entries.x.max()) + 1, int(entries.y.max()) + 1))
    boxes = [b for b in boxes if b is not None]
    return (*np.min(boxes, 0)[:2].tolist(), *np.max(boxes, 0)[2:].tolist()) if boxes else None


# ---- 5.3 Engine: segments ----
# The reference is _segment_heat: every pixel within r of a segment, with the kernel of its
# distance; pixels and cells are found along each segment (_cells_along): the cost follows its
# length, not its box.  The fast path, _segment_cells, gives the same bits: square cells, each
# listing the segments that can reach it; cells with lists of about one length make one array
# (cells, rows, columns, list), so one sort along the last axis orders every pixel's contributions.
# Where more segments crowd a cell than ranks can matter, bounds from its centre drop those that
# cannot (_prune_crowded_cells); a pile (a logger left on one spot) computes per pixel only those
# that can be among its depth hottest (_crowded_values).  Equal segments are computed once.
_CELL_BATCH = 1 << 16             # float64 elements per segment-cell batch: stays in cache
_CELL_LISTS = 1 << 19             # cell list entries gathered at once (about 100 bytes each)
_GROUP = 32                       # segments in a group of a crowded cell (one box)
_PILE_PIECE = 1 << 18             # pieces with more segments than this run one at a time
_PILE = 64                        # equal segments summed one by one at decay 1, at most


def _segment_heat(seg: np.ndarray, radius: int, kernel: str, rect: Tuple[int, int, int, int]):
    """Pixels of ``rect`` nearer than r to segments: keys as :func:`_point_heat`, heat, copies.  The
    distance sqrt(dx*dx + dy*dy) is within an ulp of the original's math.hypot, and 3x as fast."""
    x0, y0, x1, y1 = rect
    table, copies = _segment_table(seg), _segment_column(seg, 5).astype(np.int64)
    step = max(1, (1 << 22) // ((max(x1 - x0, y1 - y0) + 2 * radius + 4) * (2 * radius + 4)))
    keys, values, counts = [np.empty(0, np.int64)], [np.empty(0)], [np.empty(0, np.int64)]
    for first in range(0, seg.shape[0], step):   # about 2**22 pixels at a time
        ends = seg[first:first + step, :4] - np.array([x0, y0, x0, y0], np.float64)
        which, px, py = _cells_along(ends, 1, float(radius), (x1 - x0, y1 - y0))
        which += first
        distance = np.sqrt(_squared_distance(px + float(x0), py + float(y0), *table[:5, which]))
        near = distance < radius
        which = which[near]
        keys.append((py * (x1 - x0) + px)[near])
        values.append(table[5, which] * KERNELS[kernel](distance[near], radius))
        counts.append(copies[which])
    return tuple(np.concatenate(a) for a in (keys, values, counts))


def _squared_distance(px, py, sx, sy, dx, dy, length2) -> np.ndarray:
    """float64, broadcast, a new array: squared distance from pixels p to segments s + u d, as the
    original: u = clamp(((p - s) . d) / |d|^2) (``length2`` = |d|^2), then (s + u d - p)^2."""
    u = (px - sx) * dx + (py - sy) * dy
    u /= length2
    np.maximum(u, 0.0, out=u)   # np.clip would hold the GIL for its Python wrapper
    np.minimum(u, 1.0, out=u)
    ex = u * dx
    ex += sx
    ex -= px
    u *= dy
    u += sy
    u -= py
    ex *= ex
    u *= u
    ex += u
    return ex


def _segment_cells(segments: np.ndarray, rect: Tuple[int, int, int, int], radius: int,
                   kernel: str, decay: _Decay) -> np.ndarray:
    """Fast path of _segment_heat + _reduce for segments alone: the same bits; chosen in
    _Engine._sparse; bench rows "gpx" and "pile-gpx".  Weights >= 0; at decay 1 a pile of more
    than _PILE equal segments is one, its heat times the count."""
    (x0, y0, x1, y1), size = rect, _cell_size(radius)
    segments = _segment_rows(segments)
    table, copies = _segment_table(segments), _segment_column(segments, 5).astype(np.int64)
    if decay.depth is None:   # a sum: a big pile by multiplication (not bit for bit)
        pile = copies > _PILE
        table[5, :-1][pile] *= copies[pile]
        copies[pile] = 1
    cells, members = _cell_members(segments, rect, radius, size)
    if np.any(copies > 1):
        times = copies[members] if decay.depth is None else np.minimum(copies[members], decay.depth)
        cells, members = np.repeat(cells, times), np.repeat(members, times)
    across = -(-(x1 - x0) // size)
    out = np.zeros((-(-(y1 - y0) // size), size, across, size))
    if decay.depth is not None and cells.size:   # crowded cells: drop what cannot matter
        listed = np.bincount(cells)[cells]
        crowded = listed > decay.depth
        margin = 1e-9 * (1 + max(map(abs, rect)))   # round-off of distances, in pixels
        piled = listed > 64 * decay.depth   # cells would drop little of a pile: pixels will
        _crowded_values(table, cells[piled], members[piled], rect[:2], size, margin, radius,
                        kernel, decay, out)
        # bounds from a cell's centre are loose when it is not small beside r: computed whole
        crowded &= ~piled & (size < 0.6 * radius)
        _cell_values(table, cells[~crowded & ~piled], members[~crowded & ~piled], rect, size,
                     radius, kernel, decay, out)
        cells, members = _prune_crowded_cells(table, cells[crowded], members[crowded], rect[:2],
                                              size, across, margin, radius, kernel, decay.depth)
        piled = (np.bincount(cells) > 4 * decay.depth)[cells] if cells.size else crowded[:0]
        _crowded_values(table, cells[piled], members[piled], rect[:2], size, margin, radius,
                        kernel, decay, out)
        cells, members = cells[~piled], members[~piled]
    _cell_values(table, cells, members, rect, size, radius, kernel, decay, out)
    return out.reshape(out.shape[0] * size, across * size)[:y1 - y0, :x1 - x0]


def _cell_values(table: np.ndarray, cells: np.ndarray, members: np.ndarray, rect, size: int,
                 radius: int, kernel: str, decay: _Decay, out: np.ndarray) -> None:
    """Decay-combine the listed segments on every pixel of the cells into ``out`` (by cell rows)."""
    across, offsets = out.shape[2], np.arange(size, dtype=np.float64)
    weighted = bool(np.any(table[5] != 1.0))
    for group, lists in _cell_batches(cells, members, table.shape[1] - 1, size * size):
        length = lists.shape[1]
        weights = decay.row(length if decay.depth is None else min(length, decay.depth))
        px = (group % across * size + rect[0])[:, None] + offsets
        py = (group // across * size + rect[1])[:, None] + offsets
        values = np.empty((group.size, size, size))
        # a list longer than a batch (a pile): a part at a time, keeping the depth hottest so far
        part = length if decay.depth is None or length <= _CELL_BATCH else \
            max(_CELL_BATCH // 8, 2 * decay.depth)
        step = max(1, _CELL_BATCH // (size * size * part))
        for batch in (slice(i, i + step) for i in range(0, group.size, step)):
            near = table[:, lists[batch]]   # gathered a batch at a time: small on every thread
            for rows, cols in _cell_parts(size, part):
                hottest = None
                for i in range(0, length, part):
                    heat = KERNELS[kernel](_cell_distances(
                        near[:5, :, i:i + part], px[batch, cols], py[batch, rows]), radius)
                    if weighted:
                        heat *= near[5, :, None, None, i:i + part]
                    hottest = heat if hottest is None else np.concatenate([hottest, heat], -1)
                    if hottest.shape[-1] > weights.size + part:
                        hottest.partition(hottest.shape[-1] - weights.size, axis=-1)
                        hottest = hottest[..., -weights.size:]
                values[batch, rows, cols] = _decay_rows(hottest, weights)
        out[group // across, :, group % across, :] = values


def _segment_rows(segments: np.ndarray) -> np.ndarray:
    """The segments (n, 4|5) as given, or when rows repeat (a logger left on one spot) the distinct
    ones (m, 6) with weight and count (:func:`_segment_column`); found by sorting 64-bit hashes."""
    if segments.shape[1] == 6 or segments.shape[0] < 2:
        return segments
    bits = np.ascontiguousarray(segments, np.float64).view(np.uint64)
    key = np.zeros(bits.shape[0], np.uint64)
    for column in bits.T:
        key = (key ^ column) * np.uint64(0x9E3779B97F4A7C15)
    key.sort()
    if not np.any(key[1:] == key[:-1]):
        return segments
    same = np.ascontiguousarray(segments).view(np.dtype((np.void, 8 * segments.shape[1]))).ravel()
    _, first, counts = np.unique(same, return_index=True, return_counts=True)
    rows = np.ones((first.size, 6))
    rows[:, :segments.shape[1]] = segments[first]
    rows[:, 5] = counts
    return rows


def _segment_column(segments: np.ndarray, i: int) -> np.ndarray:
    """Column ``i`` of segment rows (4: weight, 5: number of copies), 1 when absent."""
    return segments[:, i] if segments.shape[1] > i else np.ones(segments.shape[0])


def _cell_batches(cells: np.ndarray, members: np.ndarray, pad: int, pixels: int = 1):
    """Yield (int64 cell numbers, int64 (cells, length) member lists padded with ``pad``) for sorted
    ``cells`` of about one list length, in bounded whole batches of :func:`_cell_values`."""
    per_cell = np.bincount(cells) if cells.size else np.zeros(0, np.int64)
    first = np.cumsum(per_cell) - per_cell
    used = np.flatnonzero(per_cell)
    # list lengths 1, 2, ..., 8, 10, 12, 14, 16, 20, 24, ...: few lengths, little padding
    step = 2 ** np.maximum(np.floor(np.log2(np.maximum(per_cell[used], 1))) - 2, 0).astype(int)
    slots = -(-per_cell[used] // step) * step
    for length in _sorted_unique(slots).tolist():
        unit = max(1, _CELL_BATCH // (pixels * length))   # cells computed at once
        span = max(1, _CELL_LISTS // (length * unit)) * unit
        of_length = used[slots == length]
        for group in (of_length[i:i + span] for i in range(0, of_length.size, span)):
            lists = np.full((group.size, length), pad)
            row, slot = _repeat_ranges(np.zeros_like(group), per_cell[group])
            lists[row, slot] = members[first[group][row] + slot]
            yield group, lists


def _prune_crowded_cells(table: np.ndarray, cells: np.ndarray, members: np.ndarray, origin,
                         size: int, across: int, margin: float, radius: int, kernel: str,
                         depth: int):
    """The (cell, segment) pairs a crowded cell must keep: bounds from its centre (its pixels lie
    within half a diagonal) keep those above 0 reaching the depth-th largest lower bound."""
    centre, half = (size - 1) / 2.0, (size - 1) / math.sqrt(2) + margin
    kept = []
    for group, lists in _cell_batches(cells, members, table.shape[1] - 1):
        sx, sy, dx, dy, length2, weight = table[:, lists]
        cx = (group % across * size + origin[0] + centre)[:, None]
        cy = (group // across * size + origin[1] + centre)[:, None]
        distance = np.sqrt(_squared_distance(cx, cy, sx, sy, dx, dy, length2))
        high = weight * KERNELS[kernel](np.maximum(distance - half, 0.0), radius)
        low = weight * KERNELS[kernel](distance + half, radius)
        least = (np.partition(low, -depth, axis=1) if lists.shape[1] > 4 * depth else
                 np.sort(low, axis=1))[:, -depth]
        keep = (high > 0) & (high >= least[:, None])
        which, slot = np.divmod(np.flatnonzero(keep), keep.shape[1])
        kept.append((group[which], lists[which, slot]))
    if not kept:
        return cells, members
    cells, members = (np.concatenate(c) for c in zip(*kept))
    order = np.argsort(cells, kind="stable")
    return cells[order], members[order]


def _crowded_values(table: np.ndarray, cells: np.ndarray, members: np.ndarray, origin,
                    size: int, margin: float, radius: int, kernel: str, decay: _Decay,
                    out: np.ndarray) -> None:
    """Into ``out`` as :func:`_cell_values`: cells still crowded after pruning, pixel by pixel, only
    the segments that may be among a pixel's ``depth`` hottest (_pixel_groups, _pixel_support)."""
    across = out.shape[2]
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if cells.size else cells
    for first, end in zip(starts.tolist(), starts[1:].tolist() + [cells.size]):
        cell, listed = int(cells[first]), members[first:end]
        whole = listed.size == table.shape[1] - 1 and bool(np.all(np.diff(listed) == 1)) \
            and listed[0] == 0   # every segment once (a pile): no copy
        near = table[:, :-1] if whole else table[:, listed]
        xs = cell % across * size + origin[0] + np.arange(size, dtype=np.float64)
        ys = cell // across * size + origin[1] + np.arange(size, dtype=np.float64)
        px, py = np.tile(xs, size), np.repeat(ys, size)
        ends = near[0:2] + near[2:4]
        low, high = np.minimum(near[0:2], ends).min(axis=1), np.maximum(near[0:2], ends).max(axis=1)
        centre, spread = (low + high) / 2, float(np.hypot(*(high - low))) / 2 + margin
        one_weight = near[5].min() == near[5].max()
        far = (np.hypot(px - centre[0], py - centre[1]) > 4 * spread) & one_weight
        values = np.empty(px.size)
        if far.any():
            values[far] = _pixel_support(near, px[far], py[far], centre, spread, margin, radius,
                                         kernel, decay)
        if not far.all():
            near = near[:, np.argsort(_morton_code(near[0] + ends[0], near[1] + ends[1]))]
            values[~far] = _pixel_groups(near, px[~far], py[~far], margin, radius, kernel, decay)
        out[cell // across, :, cell % across, :] = values.reshape(size, size)


def _pixel_support(near: np.ndarray, px: np.ndarray, py: np.ndarray, centre: np.ndarray,
                   spread: float, margin: float, radius: int, kernel: str,
                   decay: _Decay) -> np.ndarray:
    """Fast path of _pixel_groups for pixels far from a small pile: the same bits; chosen in
    _crowded_values; bench row "pile-gpx" (5.2x).  Pixels beyond 4 * spread from ``centre``,
    segments of one weight within ``spread`` of it: at distance D in direction u a segment is
    D - h to D - h + spread**2 / (2 (D - spread)) away, h its support (max of its ends' (x - centre)
    . u): only supports within that slack of the depth-th largest can be among the depth hottest."""
    ends = [(a - centre[:, None]).astype(np.float32) for a in (near[0:2], near[0:2] + near[2:4])]
    x, y = px - centre[0], py - centre[1]
    distance = np.hypot(x, y)
    toward = np.stack([x / distance, y / distance])
    slack = spread * spread / (2 * (distance - spread)) + 1e-5 * spread + margin
    block = np.unique(np.floor(px / 4) * (1 << 30) + np.floor(py / 4), return_inverse=True)[1]
    values = np.zeros(px.size)
    for pixels in np.split(np.argsort(block, kind="stable"),
                           np.flatnonzero(np.diff(np.sort(block))) + 1):
        u = toward[:, pixels].mean(axis=1)
        u /= np.hypot(*u)
        turn = float(np.hypot(*(toward[:, pixels] - u[:, None])).max()) + 1e-6
        h = _support(ends, u[:, None])[0]
        wide = 2 * spread * turn + slack[pixels].max()
        near_enough = distance[pixels].min() - radius - spread * turn - slack[pixels].max()
        kept = np.flatnonzero((h >= _top(h[None], decay.depth)[0] - wide) & (h > near_enough))
        h = _support([a[:, kept] for a in ends], toward[:, pixels])
        reach = (distance[pixels] - radius - slack[pixels])[:, None]
        keep = (h >= (_top(h, decay.depth) - slack[pixels])[:, None]) & (h > reach)
        pixel, seg = np.divmod(np.flatnonzero(keep), kept.size)   # faster than 2-d nonzero
        values[pixels] = _exact_rows(near[:, kept], px[pixels], py[pixels], pixel, seg, radius,
                                     kernel, decay)
    return values


def _support(ends: List[np.ndarray], toward: np.ndarray) -> np.ndarray:
    """float32 (pixels, n): the larger of the two ends' (2, n) dot product with each
    direction of ``toward`` (2, pixels).  (No matmul: BLAS threads would fight ours.)"""
    ux, uy = (np.asarray(a, np.float32)[:, None] for a in toward)
    h = ends[0][0] * ux
    h += ends[0][1] * uy
    return np.maximum(h, ends[1][0] * ux + ends[1][1] * uy, out=h)


def _top(h: np.ndarray, depth: int) -> np.ndarray:
    """The depth-th largest of each row of ``h`` (pixels, n), or -inf if n < depth."""
    if h.shape[1] < depth:
        return np.full(h.shape[0], -np.inf, h.dtype)
    return np.partition(h, h.shape[1] - depth, axis=1)[:, h.shape[1] - depth]


def _exact_rows(near: np.ndarray, px: np.ndarray, py: np.ndarray, pixel: np.ndarray,
                seg: np.ndarray, radius: int, kernel: str, decay: _Decay) -> np.ndarray:
    """float64 heat at (px, py) of ``near[:, seg]`` per sorted ``pixel``, as :func:`_cell_values`,
    ~_CELL_LISTS pairs at once (more for one pixel: its ``depth`` hottest)."""
    per = np.bincount(pixel, minlength=px.size)
    start = np.cumsum(per) - per
    big = per > _CELL_LISTS // 2
    cut = np.r_[True, (start[1:] // _CELL_LISTS != start[:-1] // _CELL_LISTS) | big[1:] | big[:-1]]
    firsts = np.flatnonzero(cut).tolist()
    values = np.zeros(px.size)
    for first, end in zip(firsts, firsts[1:] + [px.size]):
        hottest = np.zeros((end - first, max(1, int(per[first:end].max()))))
        for lo in range(int(start[first]), int(start[end - 1] + per[end - 1]), _CELL_LISTS):
            hi = min(lo + _CELL_LISTS, int(start[end - 1] + per[end - 1]))
            heat = KERNELS[kernel](np.sqrt(_squared_distance(
                px[pixel[lo:hi]], py[pixel[lo:hi]], *near[:5, seg[lo:hi]])), radius)
            heat *= near[5, seg[lo:hi]]
            if big[first]:   # one pixel: its part joins the hottest so far
                hottest = np.concatenate([hottest[:, :decay.depth], heat[None]], axis=1)
                hottest.partition(hottest.shape[1] - decay.depth, axis=1)
                hottest = hottest[:, -decay.depth:]
            else:
                local = pixel[lo:hi] - first
                hottest[local, np.arange(lo, hi) - start[first:end][local]] = heat
        values[first:end] = _decay_rows(hottest, decay.row(min(hottest.shape[1], decay.depth)))
    return values


def _pixel_groups(near: np.ndarray, px: np.ndarray, py: np.ndarray, margin: float,
                  radius: int, kernel: str, decay: _Decay) -> np.ndarray:
    """float64 (pixels,) heat at (px, py) of the spatially ordered ``near`` (6, n) table."""
    groups = -(-near.shape[1] // _GROUP)
    padded = np.repeat([[1e30], [1e30], [0.0], [0.0], [1.0], [0.0]], groups * _GROUP, axis=1)
    padded[:, :near.shape[1]] = near
    sx, sy, dx, dy, length2, weight = padded
    lo_x, hi_x = np.minimum(sx, sx + dx), np.maximum(sx, sx + dx)
    lo_y, hi_y = np.minimum(sy, sy + dy), np.maximum(sy, sy + dy)
    lo_x, lo_y, w_lo = (a.reshape(groups, _GROUP).min(axis=1) for a in (lo_x, lo_y, weight))
    hi_x, hi_y, w_hi = (a.reshape(groups, _GROUP).max(axis=1) for a in (hi_x, hi_y, weight))
    if near.shape[1] % _GROUP:
        w_lo[-1] = 0.0   # a partial group vouches for nothing
    need = -(-decay.depth // _GROUP)
    values = np.zeros(px.size)
    step = max(1, (1 << 20) // groups)
    for chunk in (slice(i, i + step) for i in range(0, px.size, step)):
        x, y = px[chunk, None], py[chunk, None]
        gap = np.hypot(np.maximum(np.maximum(lo_x - x, x - hi_x), 0.0),
                       np.maximum(np.maximum(lo_y - y, y - hi_y), 0.0))
        span = np.hypot(np.maximum(np.abs(x - lo_x), np.abs(x - hi_x)),
                        np.maximum(np.abs(y - lo_y), np.abs(y - hi_y)))
        high = w_hi * KERNELS[kernel](np.maximum(gap - margin, 0.0), radius)
        low = w_lo * KERNELS[kernel](span + margin, radius)
        least = np.partition(low, -need, axis=1)[:, -need] if groups >= need else 0.0 * x[:, 0]
        pixel, group = np.divmod(np.flatnonzero((high > 0) & (high >= least[:, None])), groups)
        seg = (group[:, None] * _GROUP + np.arange(_GROUP)).ravel()
        values[chunk] = _exact_rows(padded, px[chunk], py[chunk], np.repeat(pixel, _GROUP), seg,
                                    radius, kernel, decay)
    return values


def _morton_code(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """uint64 Z-order codes of points, 16 bits an axis over their bounding box."""
    code = np.zeros(x.size, np.uint64)
    for shift, v in enumerate((x, y)):
        span = float(v.max() - v.min()) or 1.0
        q = ((v - v.min()) * (65535 / span)).astype(np.uint64)
        for bits, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            q = (q | (q << np.uint64(bits))) & np.uint64(mask)
        code |= q << np.uint64(shift)
    return code


def _cell_parts(size: int, length: int) -> List[Tuple[slice, slice]]:
    """(rows, columns) of a cell to compute at once: all, or fewer pixels for a very long list."""
    pixels = max(1, _CELL_BATCH // length)
    if pixels >= size:
        rows = pixels // size
        return [(slice(y, y + rows), slice(0, size)) for y in range(0, size, rows)]
    return [(slice(y, y + 1), slice(x, x + pixels))
            for y in range(size) for x in range(0, size, pixels)]


def _cell_size(radius: int) -> int:
    """Edge in pixels of the cells of :func:`_segment_cells`: smaller cells waste fewer pixels but
    list more pairs (measured on a GPS track: 4 fastest to r=10, 8 for r=15-30, 16 at r=60)."""
    return 4 if radius < 12 else 8 if radius < 40 else 16


def _cell_members(segments: np.ndarray, rect, radius: int, size: int):
    """(cell, segment) pairs: ascending int64 cell numbers (row-major over ``rect``), int64 indices
    of the segments passing near enough to the cell's centre for a pixel to be within r."""
    x0, y0, x1, y1 = rect
    centre, cells, members = (size - 1) / 2.0, [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for first in range(0, segments.shape[0], 1 << 13):   # a few segments at a time: small arrays
        ends = segments[first:first + (1 << 13), :4] - np.array([x0, y0, x0, y0], np.float64)
        seg, cx, cy = _cells_along(ends, size, float(radius), (x1 - x0, y1 - y0))
        start, direction = ends[seg, 0:2], ends[seg, 2:4] - ends[seg, 0:2]
        length2 = np.maximum((direction * direction).sum(axis=1), 1e-300)   # a point: u = 0
        near = _squared_distance(cx * size + centre, cy * size + centre, *start.T,
                                 *direction.T, length2) < (radius + 1.0 + centre * 1.415) ** 2
        cells.append(cy[near] * -(-(x1 - x0) // size) + cx[near])
        members.append(seg[near] + first)
    cells, members = np.concatenate(cells), np.concatenate(members)
    # the order within a cell does not matter; 16-bit keys sort by radix when stable
    order = np.argsort(cells.astype(np.uint16) if cells.size and cells.max() < 1 << 16 else cells,
                       kind="stable")
    return cells[order], members[order]


def _segment_table(segments: np.ndarray) -> np.ndarray:
    """float64 (6, n + 1): start x, y, direction x, y, squared length, weight per segment, then a
    point out of reach; a zero-length one: direction 0, length 1 (u = 0, as the original)."""
    table = np.empty((6, segments.shape[0] + 1))
    table[:, -1] = (1e30, 1e30, 0.0, 0.0, 1.0, 1.0)
    table[5, :-1] = _segment_column(segments, 4)
    start, direction = table[0:2, :-1], table[2:4, :-1]
    start[:] = segments[:, 0:2].T
    np.subtract(segments[:, 2:4].T, start, out=direction)
    length2 = direction[0] * direction[0] + direction[1] * direction[1]
    direction[:, length2 == 0] = 0.0
    table[4, :-1] = np.where(length2 == 0, 1.0, length2)
    return table


def _cell_distances(table: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """float64 (m, rows, columns, k): distances of cell pixels ``px`` (m, columns), ``py`` (m, rows)
    to their segments ``table`` (5, m, k), by the original's steps, sqrt(dx*dx + dy*dy) last."""
    sx, sy, dx, dy, length2 = (t[:, None, None, :] for t in table)
    px, py = px[:, None, :, None], py[:, :, None, None]
    distance = _squared_distance(px, py, sx, sy, dx, dy, length2)
    return np.sqrt(distance, out=distance)


def _decay_rows(heat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Decay-combine along the last axis (..., k) -> (...) as the original, bit for bit: the largest
    ``weights.size`` of each row, descending, summed with ``weights``.  Reorders ``heat``."""
    k = heat.shape[-1]
    if k > 4 * weights.size:   # a partition pays on long rows only (sorts are vectorised)
        heat.partition(k - weights.size, axis=-1)
        heat = heat[..., k - weights.size:]
    heat.sort(axis=-1)
    heat = heat[..., max(heat.shape[-1] - weights.size, 0):]
    k = heat.shape[-1]
    n = heat.size // k
    # row i of ``ranked``: every pixel's i-th largest heat; reducing over axis 0 adds whole rows
    # in turn, so each sum is sequential (a single column would be summed pairwise: hence two).
    ranked = np.empty((k, n)) if n > 1 else np.zeros((k, 2))
    np.multiply(heat.reshape(n, k).T[::-1], weights[:, None], out=ranked[:, :n])
    return np.add.reduce(ranked, axis=0)[:n].reshape(heat.shape[:-1])


# ---- 6 Colour ----
# A value becomes one of 256 colours: table[int(value / peak * 255)], in that order of operations
# (as the original; linear kernels land on bucket edges), or log, sqrt, eq_hist of value / peak
# first.  The table runs between two HSVA colours (-m, -M), or comes from a gradient image (-G) or
# a colormap; _peak decides the top of the scale.  Image files decode only from expected formats.
def _parse_hsva(text: str) -> Tuple[float, float, float, float]:
    """``hhhssvvaa`` hex (optional leading #) to four floats, each /256."""
    digits = text[1:] if text.startswith("#") else text
    if len(digits) != 9 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise HeatmapError("colour %r is not 9 hex digits hhhssvvaa" % text)
    return tuple(int(digits[a:b], 16) / 256.0 for a, b in ((0, 3), (3, 5), (5, 7), (7, 9)))


@functools.lru_cache(maxsize=8)   # checked, then used: built once a run, read-only
def _hsva_table(low: Sequence[float], high: Sequence[float], steps: int = 256) -> np.ndarray:
    """RGBA uint8 (steps, 4): a straight walk from ``low`` to ``high`` in HSVA."""
    def colour(step: int) -> List[int]:
        h, s, v, a = (step / float(steps - 1) * (b - a_) + a_ for a_, b in zip(low, high))
        return [int(c * 255) for c in colorsys.hsv_to_rgb(h % 1, s, v) + (a,)]
    table = np.array([colour(step) for step in range(steps)], dtype=np.uint8)
    table.setflags(write=False)
    return table


# Image files: Pillow is always given the formats it may decode, never picking a plugin by the
# bytes (EPS runs Ghostscript): -G and -I take common types, map tiles what tile servers send.
_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "PPM", "TGA")
_TILE_FORMATS = ("PNG", "JPEG", "WEBP")


class _BadImage(Exception):
    """Why some bytes are not an image we decode (a short reason)."""


def _decode_image(source, formats: Sequence[str], max_pixels: int,
                  size: Optional[Tuple[int, int]] = None, load: bool = True) -> Image.Image:
    """Image in stream ``source`` decoded by one of ``formats`` if its header passes; _BadImage."""
    from PIL import Image
    try:
        image = Image.open(source, formats=list(formats))
    except Image.UnidentifiedImageError:
        raise _BadImage("not an image (%s or %s)" % (", ".join(formats[:-1]), formats[-1])) \
            from None
    except Exception as exc:  # Pillow raises many types (even TypeError) on damaged files
        raise _BadImage(str(exc) or type(exc).__name__) from None
    problem = None
    if size and image.size != size:
        problem = "the image is %dx%d pixels, not %dx%d" % (image.size + size)
    elif image.width * image.height > max_pixels:
        problem = ("an image of %d x %d pixels is over the limit of %d pixels; set "
                   "HEATMAP_MAX_PIXELS to allow more" % (image.size + (max_pixels,)))
    try:
        if not problem and load:
            image.load()
    except Exception as exc:
        problem = str(exc) or type(exc).__name__
    if problem:
        image.close()
        raise _BadImage(problem)
    return image


def _open_regular(path: str):
    """Binary stream of regular file ``path``, else OSError (opened non-blocking: no FIFO)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError("is a folder" if stat.S_ISDIR(mode) else
                          "is not a regular file (a FIFO, device or socket)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _image_file(path: str, what: str, load: bool = True) -> Image.Image:
    """The -I/-G image ``path`` decoded (or only its header if not ``load``); ``what`` names it."""
    try:
        with _open_regular(path) as stream:
            return _decode_image(stream, _IMAGE_FORMATS, _max_pixels(), load=load)
    except (OSError, _BadImage) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise HeatmapError("%s: cannot read %s: %s" % (path, what, reason)) from None


def _gradient_table(path: str) -> np.ndarray:
    """RGBA uint8 (height, 4) from an image's first column, bottom row first."""
    image = _image_file(path, "gradient image")
    if image.mode not in ("RGBA", "RGB"):   # RGB: opaque colours
        raise HeatmapError("%s: gradient image must be RGBA or RGB, not %s" % (path, image.mode))
    column = np.asarray(image.convert("RGBA"))[::-1, 0, :]
    if image.mode == "RGBA" and column[0, 3] != 0:
        _LOG.warning("%s: bottom-left pixel is not fully transparent", path)
    if column[-1, 3] != 255:
        _LOG.warning("%s: top-left pixel is not fully opaque", path)
    return np.ascontiguousarray(column)


# Matplotlib's 256-entry tables of viridis, inferno, magma, plasma (N. J. Smith, S. van der Walt,
# E. Firing; CC0), cividis (J. R. Nunez et al.; matplotlib's licence), turbo (A. Mikhailov, Google;
# Apache-2.0), for --colormap without matplotlib: by map and channel, second differences, zlib.
_COLORMAPS = ("viridis", "inferno", "magma", "plasma", "cividis", "turbo")
_COLORMAP_BYTES = (
    "c-oa%yS3FY5L`bvhlGd{sDPZ5l#Fi3>4uPu5=f|k8pt4d!nU;9nc0<n@s%Z6wxs><=zjQaTRX~m+ic9*Hk*F$^;!G}UH%y"
    "~RGD^1nVSs)e7X*eLHKx59-jaexnR|fIh)Zuo29(D24US_NObkA1MoPzy%Pcp-6(@im_p8|eEO<iC{wrrEf^oG>0F8?F{W"
    "HN6PYMnljgEcTg-`O^L@8-A=mq~u1S|#6A^f6P7e;Kii}K;RB*OVSj}stvRZ3nsyYAASmDxRdonb2$A_4#gkj0^T@|bY)&"
    "#h9kOXmR;aL*Sj^cu|7thC<;MHM3(~f+BPLv13`Id!0?UKwy%~|3|a*l<ks|D`&vEb0<HuXzJKXu(g-^N1caBD0KlW>|0("
    "NadR3(c>(g<F8AK&+MRPnOECgRB*CRgwnpA_=ibR4bkq?w(zZ?3(ouYK%}MMv~2jn^aS`+rNfwih&qVhw;a@B&LN?7g$2{"
    "U59%1M++P6FEbnnIwWjlsNs`d|7mADs3Yf%nHM3v#t*kpA!*D><v6|&8zj5D5v){Tf>(d5Ai6XlQ`>|T85<{W6d5d9YQn9"
    "_9weumN`C=F4Lu0O`sH&16$P5AVz*2X%yJW!@cBkswd~4K5?AFo5mGw!Ynyy|`b1+VC!T7|vB0cXq3JShKXhG4cOl$UL(h"
    "BX?XM!IDo7EV`HzQkVBJl(z#OSc2VG}}^temm<2Q<;eeISKUecFpD~nuAlAQMnxmF<P5`C}EIW@eRe!9PY+S<FHDZvkXsM"
    "JN8U}u1{g&!-h8pEOuN7!{P^o=3>z{7;)3Q-Wd#452L!P)WYo8Rh{4;&~%M5;x{2eDPh3__TJAOl$FH^A0vh4e>&B3U{B6"
    "3*(^`yXAJZOCeD*(qxJZuHK#p+NrUU}KDArT|Y*VC@OW*2ES{6uwi;fg_Y0=+d7iAe?`~!f;C"
)


def _colormap_table(name: str) -> np.ndarray:
    """RGBA uint8 (256, 4) of a matplotlib colormap: shipped, else from matplotlib."""
    if name in _COLORMAPS:
        import base64
        packed = np.frombuffer(zlib.decompress(base64.b85decode(_COLORMAP_BYTES)),
                               np.uint8).reshape(len(_COLORMAPS), 3, 256)[_COLORMAPS.index(name)]
        rgb = np.cumsum(np.cumsum(packed, axis=1, dtype=np.uint8), axis=1, dtype=np.uint8).T
        return np.column_stack([rgb, np.full(256, 255, np.uint8)])
    matplotlib = _import_extra("matplotlib", "matplotlib", "colormap", "--colormap %s" % name)
    if name not in matplotlib.colormaps:
        raise HeatmapError("--colormap %s is not one of matplotlib's (such as %s)"
                           % (name, ", ".join(_COLORMAPS)))
    return matplotlib.colormaps[name](np.linspace(0, 1, 256), bytes=True)


def _colour_table(config: Config) -> np.ndarray:
    if config.gradient and config.colormap:
        raise HeatmapError("-G/--gradient and --colormap cannot be used together")
    if config.colormap:
        return _colormap_table(config.colormap)
    if config.gradient:
        return _gradient_table(config.gradient)
    return _hsva_table(_parse_hsva(config.hsva_min), _parse_hsva(config.hsva_max))


_COLOUR_SCALES = ("linear", "log", "sqrt", "eq_hist")
_LOG_SPAN = 1000.0                # log: heat a thousandth of the top's still shows
_EQ_HIST_LEVELS = 4096            # eq_hist: the picture's heat by this many quantiles


class _Top(float):
    """The top colour's heat, with --colour_scale ``scale`` and eq_hist's quantiles ``levels``."""
    scale, levels = "linear", np.zeros(0)


def _peak(config: Config, largest: float, values: Optional[np.ndarray] = None) -> float:
    """The value that gets the top colour: --colour_max, else the ``largest`` value of a picture
    (a frame, a pyramid's zoom, a state file); eq_hist's levels from the picture's ``values``."""
    top = _Top(config.colour_max or largest)
    top.largest = largest   # (a state file keeps it: -L may colour it otherwise)
    top.scale = config.colour_scale
    if top.scale == "eq_hist" and values is not None:
        heat = np.sort(np.minimum(values[values > 0], top))
        top.levels = heat[np.linspace(0, heat.size - 1, min(heat.size, _EQ_HIST_LEVELS),
                                      dtype=np.int64)]
    return top


def _colour_index(values: np.ndarray, peak: float, steps: int) -> np.ndarray:
    """Table row per value: int(value / max * (steps - 1)) in float64 (other scales map value / max
    first); rows out of range index as the original's list (negative from the end, or clipped)."""
    if peak <= 0:
        return np.zeros(values.shape, np.int64)
    share, scale = values / peak, getattr(peak, "scale", "linear")
    if scale != "linear":
        share = np.clip(share, 0.0, 1.0)
        share = (np.log1p(share * _LOG_SPAN) / math.log1p(_LOG_SPAN) if scale == "log" else
                 np.sqrt(share) if scale == "sqrt" else
                 np.searchsorted(peak.levels, values, "right") / max(peak.levels.size, 1))
    index = np.trunc(np.clip(share * (steps - 1), -2 * steps, 2 * steps)).astype(np.int64)
    index = np.where((index < 0) & (index >= -steps), index + steps, index)
    return np.where(index < 0, 0, np.minimum(index, steps - 1))


_STRIP = 1 << 18                  # pixels coloured or composited at a time


def _heat_rgba(values: np.ndarray, peak: float, table: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 4): coloured heat; pixels without data fully transparent."""
    return _coloured_on(values, peak, table, (0, 0, 0, 0))


def _coloured_on(values: np.ndarray, peak: float, colours: np.ndarray,
                 blank: Sequence[int]) -> np.ndarray:
    """uint8 (h, w, c): the ``colours`` (n, c) row of each float64 (h, w) value, ``blank`` where it
    is 0; in strips of rows, so the temporaries (16 bytes a pixel with data) stay small."""
    colours = np.ascontiguousarray(colours, np.uint8)
    out = np.empty(values.shape + colours.shape[1:], np.uint8)
    # RGBA pixels as one uint32 each: a 1-D take, twice as fast as taking rows (measured)
    packed = colours.shape[1] == 4
    lut = colours.view(np.uint32).ravel() if packed else colours
    pixels = out.view(np.uint32) if packed else out
    fill = np.array(blank, np.uint8).view(np.uint32)[0] if packed else blank
    rows = max(1, _STRIP // max(values.shape[1], 1))
    for y in range(0, values.shape[0], rows):
        part, view = values[y:y + rows].ravel(), pixels[y:y + rows].reshape((-1,) + lut.shape[1:])
        view[:] = fill
        where = np.flatnonzero(part != 0)   # a small part of the picture (bools: fast nonzero)
        view[where] = lut[_colour_index(part[where], peak, colours.shape[0])]
    return out


def _blend_on_colour(rgba: np.ndarray, colour: Tuple[int, int, int]) -> np.ndarray:
    """uint8 (..., 3): int(c * a + bg * (1 - a)) per channel, a = alpha / 255 (blends the table)."""
    alpha = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] * alpha + np.asarray(colour[:3]) * (1 - alpha)).astype(np.uint8)


def _parse_colour(text: str) -> Tuple[int, int, int]:
    """(r, g, b) 0..255 of a colour name, #rrggbb, rgb(), hsl() or hsv()."""
    from PIL import ImageColor
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise HeatmapError("unknown colour %r (use a name or #rrggbb)" % text) from None
    if not all(0 <= c <= 255 for c in rgb):   # Pillow takes rgb(256,0,0), hsl(0,101%,50%)
        raise HeatmapError("colour %r is out of range (each part from 0 to 255, or 0%% to "
                           "100%%)" % text)
    return rgb[:3]


# ---- 7.1 Backgrounds and the finished picture ----
# The heat coloured onto nothing (RGBA), a colour (-b), an image (-I) or a map (--osm): the
# finished picture as an array, so a plain PNG run needs no Pillow.
_STRIP_PIXELS = 1 << 22   # pixels of a background worked on at once


def _transform_background(image: Image.Image, config: Config) -> Image.Image:
    """-N (value inverted, wins; RGBA out) or -B on an RGB(A) image, in strips (copies are big)."""
    if not config.invert_background and config.background_brightness is None:
        return image
    from PIL import Image
    alpha = "A" in image.getbands()
    out = Image.new("RGBA" if alpha or config.invert_background else "RGB", image.size)
    rows = max(1, _STRIP_PIXELS // image.width)
    for top in range(0, image.height, rows):
        strip = image.crop((0, top, image.width, min(top + rows, image.height)))
        if config.invert_background:
            h, s, v = strip.convert("RGB").convert("HSV").split()
            part = Image.merge("HSV", (h, s, v.point(lambda x: 255 - x))).convert("RGBA")
        else:
            part = strip.convert("RGB").point(lambda x: int(x * config.background_brightness))
        if alpha:
            part.putalpha(strip.getchannel("A"))
        out.paste(part, (0, top))
    return out


def _composite(values: np.ndarray, peak: float, table: np.ndarray,
               background: Image.Image) -> np.ndarray:
    """uint8 (h, w, 3|4): the heat on a same-size background as Image.composite puts it, in strips;
    an RGBA background's alpha "over" it: round(a + b * (255 - a) / 255) in integers (exact)."""
    from PIL import Image
    out = np.array(background)
    rows = max(1, _STRIP // max(values.shape[1], 1))
    for y in range(0, values.shape[0], rows):
        heat = _heat_rgba(values[y:y + rows], peak, table)
        layer = Image.fromarray(heat, "RGBA")
        strip = Image.fromarray(out[y:y + rows])
        strip.paste(layer, (0, 0), layer.getchannel("A"))
        if out.shape[2] == 4:
            a, b = heat[..., 3].astype(np.uint32), out[y:y + rows, :, 3]
            strip.putalpha(Image.fromarray(((2 * (255 * a + b * (255 - a)) + 255) // 510)
                                           .astype(np.uint8), "L"))
        out[y:y + rows] = np.asarray(strip)
    return out


@dataclass
class _Scene:
    """What a render needs besides the values: geometry, colours, background."""
    geometry: _PictureGeometry
    table: np.ndarray
    background: Optional[Image.Image] = None
    colour: Optional[Tuple[int, int, int]] = None
    attribution: Optional[str] = None   # --osm_attribution text, drawn last


def _heat_picture(values: np.ndarray, peak: float, scene: _Scene) -> np.ndarray:
    """uint8 (h, w, 4|3) RGBA or RGB: the heat on the scene's background (no Pillow for a PNG)."""
    if scene.background is not None:
        picture = _composite(values, peak, scene.table, scene.background)
        if scene.attribution:
            picture = np.asarray(_draw_attribution(_pil_image(picture), scene.attribution))
        return picture
    if scene.colour is not None:
        return _coloured_on(values, peak, _blend_on_colour(scene.table, scene.colour), scene.colour)
    return _heat_rgba(values, peak, scene.table)


def _pil_image(pixels: np.ndarray) -> Image.Image:
    from PIL import Image
    return Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")


def _background_scene(config: Config):
    """(background image or None, asked (width, height)) from -I."""
    if not config.background_image:
        return None, (config.width, config.height)
    image = _image_file(config.background_image, "background image")
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return _transform_background(image, config), image.size


def _make_scene(config: Config, geometry: _PictureGeometry,
                background: Optional[Image.Image]) -> _Scene:
    background = geometry.basemap if background is None else background
    colour = _parse_colour(config.background) if config.background and background is None else None
    if background is not None and background.size != (geometry.width, geometry.height):
        background = background.resize((geometry.width, geometry.height))
    attribution = config.osm_attribution if config.osm else None
    return _Scene(geometry, _colour_table(config), background, colour, attribution)


def _draw_attribution(image: Image.Image, text: str, corner: str = "bottom-right",
                      size: Optional[int] = None) -> Image.Image:
    """A copy of ``image``: ``text``, ``size`` pixels high, on a pale box in a ``corner``."""
    from PIL import Image, ImageDraw, ImageFont
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    try:
        font = ImageFont.load_default(size) if size else ImageFont.load_default()
    except TypeError:   # an older Pillow: one small bitmap font
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, (bottom - top) // 5)   # also the margin
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    x0 = pad if "left" in corner else base.size[0] - pad - width
    y0 = pad if "top" in corner else base.size[1] - pad - height
    draw.rectangle((x0, y0, x0 + width - 1, y0 + height - 1), fill=(255, 255, 255, 170))
    draw.text((x0 + pad - left, y0 + pad - top), text, font=font, fill=(40, 40, 40, 255))
    out = Image.alpha_composite(base, overlay)
    return out.convert(image.mode) if image.mode in ("RGB", "RGBA") else out


# ---- 7.2 Backgrounds: OpenStreetMap ----
# --osm: the map behind the heat, fetched from a tile server with the standard library (two
# downloads at a time, retries, a deadline per request a slow server cannot stretch), cached.
# Units: lat/lon in degrees; "projected" x/y: pixels of the Mercator plane at 256 * 2**zoom / 360
# per degree, (0, 0) at lat 0 / lon 0, y growing south; "global" pixels: shifted so (0, 0) is tile
# 0/0's north-west corner.  Tiles: _OSM_TILE pixels square, x west to east, y north to south.  The
# zoom and the crop follow the original (and osmviz) float for float.
_OSM_TILE = 256                       # map tile edge, pixels
_OSM_ATTRIBUTION = "\u00a9 OpenStreetMap contributors"
_OSM_TIMEOUT = 10.0                   # seconds for a whole request (connect, headers, body)
_OSM_RETRIES = 2                      # extra attempts after the first
_OSM_BACKOFF = 0.25                   # seconds before the first retry (then doubles)
_OSM_WORKERS = 2                      # parallel downloads (OSM tile policy: at most 2)
_OSM_MAX_TILES = 1024                 # refuse maps that need more tiles than this
_OSM_MAX_TILE_BYTES = 8 << 20         # refuse a tile response larger than this
_OSM_CACHE_MAX_AGE = 30 * 24 * 3600   # seconds a cached tile is used without refetching
_OSM_RETRY_STATUS = frozenset((408, 429, 500, 502, 503, 504))
_OSM_OUTSIDE_RGB = (0, 0, 0)          # map pixels with no tile (beyond +-85.05 degrees)
_OSM_PROBE_ZOOM = 30                  # zoom at which the data box is measured
_OSM_MAX_ZOOM = 30                    # largest -z/--zoom accepted
_OSM_MAX_AUTO_ZOOM = 19               # largest zoom chosen automatically (OSM's own tiles)


class _TileSource(NamedTuple):
    """Where map tiles are fetched from, and kept (the _OSM_ limits are read when used)."""
    base: str                  # e.g. https://tile.openstreetmap.org
    template: str              # path with {z} {x} {y}
    cache_dir: Optional[str]   # folder of the tile cache; None: no cache
    user_agent: str


def _validate_osm(config: Config) -> None:
    """Check the --osm options before any input is read (called by _validate)."""
    if not config.osm:
        return
    sized = config.width or config.height
    for wrong, message in (
            (config.load, "--osm cannot be used with -L/--load: the saved data keeps its own "
             "scale and extent"),
            (config.background_image, "--osm and -I/--background_image cannot be used together"),
            (config.scale, "--osm takes the scale from the zoom: give -z/--zoom, not -s/--scale"),
            (config.projection != "mercator", "--osm maps are Mercator: -P/--projection %s "
             "cannot be used with it" % config.projection),
            (not 0 <= config.zoom <= _OSM_MAX_ZOOM, "-z/--zoom must be between 1 and %d (0 "
             "chooses one), not %d" % (_OSM_MAX_ZOOM, config.zoom)),
            (not (sized or config.zoom), "--osm needs -W/--width, -H/--height or -z/--zoom"),
            (config.osm_exact_size and not sized,
             "--osm_exact_size needs -W/--width or -H/--height")):
        if wrong:
            raise HeatmapError(message)
    _tile_url(config.osm_base, config.osm_path_template, 0, 0, 0)


def _zoom_ppd(zoom: int) -> float:
    return 256 * 2 ** zoom / 360.0


def _unproject_box(box: _Box, ppd: float) -> _Box:
    """lat/lon box (min_x/max_x longitudes, min_y/max_y latitudes) of a Mercator pixel box."""
    inverse = PROJECTIONS["mercator"].inverse
    lat1, lon1 = inverse(box.min_x, box.min_y, ppd)
    lat2, lon2 = inverse(box.max_x, box.max_y, ppd)
    return _Box(min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2))


def _osm_zoom(config: Config, box_ll: _Box) -> int:
    """-z/--zoom, else the largest zoom <= _OSM_MAX_AUTO_ZOOM where box plus padding fits -W/-H."""
    if config.zoom:
        return config.zoom
    box = _project_box(PROJECTIONS["mercator"], box_ll, _zoom_ppd(_OSM_PROBE_ZOOM))
    ratio = 0.0   # the data's span (pixels at the probe zoom) per pixel of room inside the padding
    for span, limit, flag in ((box.max_y - box.min_y, config.height, "-H/--height"),
                              (box.max_x - box.min_x, config.width, "-W/--width")):
        room = (limit or 0) - 2 * config.padding
        if limit and room <= 0:
            raise HeatmapError("%s %d leaves no room for margin + radius (%d pixels per side)"
                               % (flag, limit, config.padding))
        ratio = max(ratio, float(span) / room if limit else 0.0)
    if ratio <= 0:
        raise HeatmapError("--osm cannot choose a zoom for data with no extent: give -z/--zoom")
    zoom = max(0, int(_OSM_PROBE_ZOOM - math.log(ratio, 2)))
    if zoom > _OSM_MAX_AUTO_ZOOM:
        _LOG.info("zoom %d is past the tiles' %d; using %d (-z/--zoom to force)",
                  zoom, _OSM_MAX_AUTO_ZOOM, _OSM_MAX_AUTO_ZOOM)
    return min(zoom, _OSM_MAX_AUTO_ZOOM)


# Tiles (the slippy-map formulas, float for float as osmviz 4.5.0 computes them).
def _tile_range(box_ll: _Box, zoom: int) -> Tuple[int, int, int, int]:
    """Inclusive tile range (min_x, min_y, max_x, max_y) covering a lat/lon box, the corners'
    tiles truncated toward zero (past ~85.05 degrees: row 0 or negative)."""
    n, tiles = 2.0 ** zoom, ()
    for lat, lon in ((box_ll.max_y, box_ll.min_x), (box_ll.min_y, box_ll.max_x)):
        lat_rad = lat * math.pi / 180.0
        merc = math.log(math.tan(lat_rad) + (1 / math.cos(lat_rad)))
        tiles += (int((lon + 180.0) / 360.0 * n), int((1.0 - merc / math.pi) / 2.0 * n))
    return tiles


def _tile_range_box(tiles: Tuple[int, int, int, int], zoom: int) -> _Box:
    """lat/lon box of an inclusive tile range, from its tiles' outer corners."""
    n = 2.0 ** zoom
    lon_min, lon_max = (x / n * 360.0 - 180.0 for x in (tiles[0], tiles[2] + 1))
    lat_max, lat_min = (math.atan(math.sinh(math.pi * (1 - 2 * y / n))) * 180.0 / math.pi
                        for y in (tiles[1], tiles[3] + 1))
    return _Box(lon_min, lat_min, lon_max, lat_max)


def _tile_url(base: str, template: str, zoom: int, x: int, y: int) -> str:
    pattern = base + template
    try:
        for _, name, spec, _ in string.Formatter().parse(pattern):
            if name is not None and name not in ("x", "y", "z"):
                raise ValueError("unknown field {%s}" % name)
            if spec and any(int(n) > 64 for n in re.findall(r"\d+", spec)):
                raise ValueError("{%s:%s} is wider than 64 characters" % (name, spec))
        return pattern.format(x=x, y=y, z=zoom)
    except (ValueError, KeyError, IndexError) as exc:
        raise HeatmapError("bad map tile URL %r (--osm_base + --osm_path_template): %s"
                           % (pattern, exc)) from None


# The map behind the heat.
def _osm_background(config: Config, box_ll: _Box) -> _PictureGeometry:
    """Geometry of an --osm picture of the lat/lon box, its map (after -B/-N) as basemap: as 1.14,
    the mosaic cropped to the data plus padding (often under -W/-H); --osm_exact_size: -W x -H."""
    zoom, source = _osm_zoom(config, box_ll), _tile_source(config)
    image, geometry = (_osm_exact(box_ll, zoom, config, source) if config.osm_exact_size else
                       _osm_cropped(box_ll, zoom, config.padding, source))
    geometry.basemap = _transform_background(image, config)
    return geometry


def _osm_cropped(box_ll: _Box, zoom: int, padding: int,
                 source: _TileSource) -> Tuple[Image.Image, _PictureGeometry]:
    """(map, geometry): the tile mosaic under the data and ``padding``, cropped as 1.14 crops it."""
    ppd, mercator = _zoom_ppd(zoom), PROJECTIONS["mercator"]
    padded = _project_box(mercator, box_ll, ppd).grown(padding)
    padded_ll = _unproject_box(padded, ppd)
    tiles = _tile_range(padded_ll, zoom)
    mosaic_xy = _project_box(mercator, _tile_range_box(tiles, zoom), ppd)
    off_x, off_y = padded.min_x - mosaic_xy.min_x, padded.min_y - mosaic_xy.min_y
    crop = (int(off_x), int(off_y), int(off_x + (padded.max_x - padded.min_x) + 1),
            int(off_y + (padded.max_y - padded.min_y) + 1))
    image = _tile_mosaic(tiles, zoom, source).crop(crop)
    extent = _project_box(mercator, padded_ll, ppd).grown(padding)
    return image, _PictureGeometry(ppd, *_image_box(extent, *image.size))


def _osm_exact(box_ll: _Box, zoom: int, config: Config,
               source: _TileSource) -> Tuple[Image.Image, _PictureGeometry]:
    """(map, geometry): exactly -W x -H pixels (one missing: the data's aspect) around the data."""
    ppd = _zoom_ppd(zoom)
    padded = _project_box(PROJECTIONS["mercator"], box_ll, ppd).grown(config.padding)
    span_x, span_y = padded.max_x - padded.min_x, padded.max_y - padded.min_y
    width, height = config.width, config.height
    if not height:
        height = round(width * span_y / span_x) if span_x > 0 else width
    elif not width:
        width = round(height * span_x / span_y) if span_y > 0 else height
    width, height = max(1, int(width)), max(1, int(height))
    half_world = _OSM_TILE * 2 ** zoom // 2
    left = math.floor((padded.min_x + padded.max_x) / 2 + half_world - width / 2 + 0.5)
    top = math.floor((padded.min_y + padded.max_y) / 2 + half_world - height / 2 + 0.5)
    tiles = (left // _OSM_TILE, top // _OSM_TILE,
             (left + width - 1) // _OSM_TILE, (top + height - 1) // _OSM_TILE)
    x, y = left % _OSM_TILE, top % _OSM_TILE   # the map's corner in the mosaic
    image = _tile_mosaic(tiles, zoom, source).crop((x, y, x + width, y + height))
    min_x, min_y = float(left - half_world), float(top - half_world)
    box = _Box(min_x, min_y, min_x + width - 1, min_y + height - 1)
    return image, _PictureGeometry(ppd, box, width, height)


def _tile_mosaic(tiles: Tuple[int, int, int, int], zoom: int, source: _TileSource) -> Image.Image:
    """RGB image of the inclusive tile range, tile (min_x, min_y) at the top left; columns
    wrap around the antimeridian, rows outside the world stay _OSM_OUTSIDE_RGB."""
    min_x, min_y, max_x, max_y = tiles
    cols, rows = max_x - min_x + 1, max_y - min_y + 1
    if cols * rows > _OSM_MAX_TILES:
        raise HeatmapError("the map would need %d tiles, over the limit of %d: use a lower "
                           "-z/--zoom or a smaller size" % (cols * rows, _OSM_MAX_TILES))
    world = 2 ** zoom
    slots = {(x - min_x, y - min_y): _tile_url(source.base, source.template, zoom, x % world, y)
             for x in range(min_x, max_x + 1) for y in range(min_y, max_y + 1) if 0 <= y < world}
    _LOG.info("map: %d tiles at zoom %d", len(slots), zoom)
    data = _fetch_all(list(slots.values()), source)
    from PIL import Image
    mosaic = Image.new("RGB", (cols * _OSM_TILE, rows * _OSM_TILE), _OSM_OUTSIDE_RGB)
    for (col, row), url in slots.items():
        with _tile_image(data[url]) as tile:  # checked when fetched: cannot fail
            mosaic.paste(tile, (col * _OSM_TILE, row * _OSM_TILE))
    return mosaic


# Fetching and the tile cache.
def _tile_source(config: Config) -> _TileSource:
    """Fetch settings; cache: --osm_cache, else $XDG_CACHE_HOME or ~/.cache + /heatmap.py/tiles."""
    root = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(root):
        root = os.path.join(os.path.expanduser("~"), ".cache")
    cache_dir = None if config.osm_no_cache else (
        config.osm_cache or os.path.join(root, "heatmap.py", "tiles"))
    agent = os.environ.get("HEATMAP_USER_AGENT", _USER_AGENT)  # add your contact, as OSM asks
    return _TileSource(config.osm_base, config.osm_path_template, cache_dir, agent)


def _cache_path(cache_dir: str, url: str) -> str:
    import hashlib
    return os.path.join(cache_dir, hashlib.sha256(url.encode("utf-8")).hexdigest() + ".tile")


def _tile_image(data: bytes) -> Image.Image:
    """The decoded map tile in ``data`` (PNG, JPEG or WebP, 256x256, checked first); _BadImage."""
    return _decode_image(io.BytesIO(data), _TILE_FORMATS, _OSM_TILE ** 2, (_OSM_TILE, _OSM_TILE))


def _checked_tile(data: bytes) -> bytes:
    """``data`` if it is a whole 256x256 map tile, else _BadImage saying why."""
    try:
        _tile_image(data).close()
    except _BadImage as exc:
        raise _BadImage("the response is no usable tile: %s (%d bytes)" % (exc, len(data))) \
            from None
    return data


def _read_cache(path: str) -> Tuple[Optional[bytes], bool]:
    """(bytes, fresh) of a valid cached tile, or (None, False); fresh: under _OSM_CACHE_MAX_AGE s.
    A bad entry is deleted; a non-regular file (a FIFO would hang) is passed over, replaced."""
    try:
        with _open_regular(path) as stream:
            data = stream.read(_OSM_MAX_TILE_BYTES + 1)
            age = time.time() - os.fstat(stream.fileno()).st_mtime
    except OSError:
        return None, False
    try:
        return _checked_tile(data), age <= _OSM_CACHE_MAX_AGE
    except _BadImage:
        _remove_quietly(path)
        return None, False


def _write_cache(path: str, data: bytes) -> None:
    """Store a tile atomically (temp file + rename); a failure only warns."""
    folder, temp = os.path.dirname(path), None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, temp = _exclusive_temp(folder, ".part-", "")
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException as exc:  # also Ctrl-C: no temp file left in the cache
        if temp:
            _remove_quietly(temp)
        if not isinstance(exc, OSError):
            raise
        _LOG.warning("cannot write to the map tile cache %s: %s", folder, exc)


class _DownloadCanceller:
    """Cuts downloads off: a deadline or Ctrl-C fires it, shutting down every socket added to it or
    to a child (waking the thread blocked on it); a socket added after firing is shut at once."""

    def __init__(self, parent: Optional["_DownloadCanceller"] = None):
        self._lock = threading.Lock()
        self._items = []              # sockets and child cutoffs
        self.fired = threading.Event()
        if parent:
            parent.add(self)

    def add(self, item) -> None:
        with self._lock:
            self._items.append(item)
        if self.fired.is_set():   # else a fire() after this cuts it off
            self.fire()

    def fire(self) -> None:
        import socket
        self.fired.set()
        with self._lock:
            items, self._items = self._items, []
        for item in items:
            if isinstance(item, _DownloadCanceller):
                item.fire()
            else:
                with contextlib.suppress(OSError):   # already closed
                    item.shutdown(socket.SHUT_RDWR)


def _watched_opener(cutoff: _DownloadCanceller):
    """A urllib opener (usual proxies, redirects) adding each connection's socket to ``cutoff``."""
    import http.client
    import urllib.request

    def watched(base):
        class Connection(base):
            def connect(self):
                super().connect()
                cutoff.add(self.sock)
        return Connection

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(watched(http.client.HTTPConnection), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(watched(http.client.HTTPSConnection), req, context=self._context)
    return urllib.request.build_opener(HTTP, HTTPS)


def _download(url: str, source: _TileSource, cutoff: _DownloadCanceller) -> bytes:
    """Body of one GET of ``url`` (at most _OSM_MAX_TILE_BYTES) within _OSM_TIMEOUT s for the whole
    request; raises urllib's, http.client's, socket errors, TimeoutError and _BadImage."""
    import urllib.request  # here: only --osm needs it (about 60 ms to import)
    request = urllib.request.Request(url, headers={"User-Agent": source.user_agent})
    timer = threading.Timer(_OSM_TIMEOUT, cutoff.fire)   # a byte a second keeps reads alive
    timer.daemon = True
    timer.start()
    data = bytearray()
    try:
        with _watched_opener(cutoff).open(request, timeout=_OSM_TIMEOUT) as response:
            for chunk in iter(functools.partial(response.read, 65536), b""):
                if cutoff.fired.is_set():
                    break
                data += chunk
                if len(data) > _OSM_MAX_TILE_BYTES:
                    raise _BadImage("the response is larger than %d bytes" % _OSM_MAX_TILE_BYTES)
    except Exception:
        if not cutoff.fired.is_set():
            raise
    finally:
        timer.cancel()
    if cutoff.fired.is_set():
        raise TimeoutError("timed out: no whole response within %g s" % _OSM_TIMEOUT)
    return bytes(data)


def _fetch_fresh(url: str, source: _TileSource, abandon: _DownloadCanceller) -> bytes:
    """Download and check a tile, retrying network errors, timeouts, 408/429/5xx and bad bodies
    _OSM_RETRIES times after _OSM_BACKOFF * 2**k s, a deadline per try; ``abandon`` stops all."""
    import http.client
    import urllib.error
    for attempt in range(_OSM_RETRIES + 1):
        try:
            return _checked_tile(_download(url, source, _DownloadCanceller(abandon)))
        except urllib.error.HTTPError as exc:
            exc.close()
            error, retry = "HTTP %d %s" % (exc.code, exc.reason), exc.code in _OSM_RETRY_STATUS
        except urllib.error.URLError as exc:
            error, retry = str(exc.reason), True
        except (ValueError, _BadImage, OSError, http.client.HTTPException) as exc:
            error = str(exc) or type(exc).__name__
            retry = not isinstance(exc, ValueError)   # ValueError: e.g. an unknown URL scheme
        if (not retry or attempt == _OSM_RETRIES
                or abandon.fired.wait(_OSM_BACKOFF * 2 ** attempt)):   # True: abandoned
            break
    raise HeatmapError("cannot get map tile %s: %s" % (url, error))


def _fetch_tile(url: str, source: _TileSource, abandon: _DownloadCanceller) -> bytes:
    """The tile at ``url``: a fresh cached copy, else downloaded (and cached), else a stale copy."""
    path = _cache_path(source.cache_dir, url) if source.cache_dir else None
    cached, fresh = _read_cache(path) if path else (None, False)
    if fresh:
        return cached
    try:
        data = _fetch_fresh(url, source, abandon)
    except HeatmapError as exc:
        if cached is None:
            raise
        _LOG.warning("%s; using the cached copy", exc)
        return cached
    if path and not abandon.fired.is_set():
        _write_cache(path, data)
    return data


def _fetch_all(urls: Sequence[str], source: _TileSource) -> dict:
    """{url: bytes} of the distinct ``urls``, _OSM_WORKERS at a time; the first failure cuts the
    rest off and is raised; Ctrl-C or SIGTERM cuts all off and leaves at once (daemon workers)."""
    pending = list(dict.fromkeys(urls))[::-1]   # taken from the end: in order
    results, failures, lock, abandon = {}, [], threading.Lock(), _DownloadCanceller()

    def work() -> None:
        while not abandon.fired.is_set():
            with lock:
                if not pending:
                    return
                url = pending.pop()
            try:
                results[url] = _fetch_tile(url, source, abandon)
            except BaseException as exc:  # reported by the caller's thread
                failures.append(exc)
                abandon.fire()
    workers = [threading.Thread(target=work, daemon=True, name="heatmap-tiles")
               for _ in range(max(1, min(_OSM_WORKERS, len(pending))))]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    except BaseException:  # Ctrl-C while waiting
        abandon.fire()
        raise
    if failures:
        raise failures[0]
    return results


# ---- 8 Tracks and time options ----
# What shapes the input before it is projected, applied by _TrackTimeFilter in this order:
# --max_jump, --trim_ends (_TrimEnds holds a track's tail until its end is known, across batches),
# inputs without a time left out when an option needs times, --time_range, --track_weight's weights
# (metres, seconds: section 4 spreads them along each track).  Option values are parsed here too.
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))   # of durations: 90s, 15m, 1h, 1d


def _duration_arg(text: str) -> float:
    """Seconds of a command-line duration: a number and a unit s, m, h or d (none: seconds)."""
    match = re.fullmatch(r"\s*(\d+\.?\d*|\.\d+)\s*([smhdSMHD]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError("expected a duration such as 90s, 15m, 1h or 1d, "
                                         "got %r" % text)
    return float(match.group(1)) * dict(_UNITS)[(match.group(2) or "s").lower()]


def _duration_text(seconds: float) -> str:
    """A duration as the command line writes it: 300 -> "5m", 90 -> "90s"."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%gs" % seconds


def _duration_seconds(value, flag: str) -> Optional[float]:
    """Seconds of a duration: a number, text ("15m"), timedelta or timedelta64; None stays None."""
    if value is None:
        return None
    seconds = math.nan
    with contextlib.suppress(argparse.ArgumentTypeError, TypeError, ValueError, OverflowError):
        if isinstance(value, str):
            value = _duration_arg(value)
        elif isinstance(value, np.timedelta64):
            value = value / np.timedelta64(1, "s")
        elif hasattr(value, "total_seconds"):
            value = value.total_seconds()
        seconds = float(value)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise HeatmapError("%s must be a positive duration (90s, 15m, 1h, 1d), not %r"
                           % (flag, _quoted(str(value).encode("utf-8"))))
    return seconds


def _time_range_arg(text: str) -> Tuple[Optional[str], Optional[str]]:
    """--time_range START,END: two times, either may be empty; checked here."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not any(parts):
        raise argparse.ArgumentTypeError("expected START,END (times, dates or Unix seconds; "
                                         "one of them may be empty), got %r" % text)
    bounds = (parts[0] or None, parts[1] or None)
    try:
        _time_bounds(bounds)
    except HeatmapError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return bounds


def _time_bounds(bounds) -> Tuple[int, int]:
    """(first, last) Unix seconds --time_range (START, END) keeps (inclusive; open: int64 limit)."""
    try:
        start, end = bounds
    except (TypeError, ValueError):
        raise HeatmapError("expected a pair (START, END), not %r" % (bounds,)) from None
    limits = np.iinfo(np.int64)
    first = limits.min if start is None or str(start) == "" else _time_bound(start, False)
    last = limits.max if end is None or str(end) == "" else _time_bound(end, True)
    if first > last:
        raise HeatmapError("START %s is after END %s" % (start, end))
    return first, last


def _time_bound(value, end: bool) -> int:
    """Unix seconds of one end of a --time_range: ISO 8601 text, Unix seconds, a datetime
    or datetime64; a date alone (2024-05-01) stands for its first second, or as END its last."""
    day = isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()))
    time = np.datetime64("NaT")
    with contextlib.suppress(_BadTime, ValueError, TypeError, OverflowError):
        if isinstance(value, str):   # a date alone made its first second
            time = _parse_times([value.strip() + ("T00:00:00" if day else "")])[0]
        elif isinstance(value, (int, float, np.integer, np.floating)) and \
                not isinstance(value, bool):
            time = _unix_times(np.array([float(value)]))[0]
        elif getattr(value, "tzinfo", None) is not None:   # an aware datetime, a pandas Timestamp
            time = np.datetime64(int(value.timestamp()), "s")
        else:
            time = np.datetime64(value, "s")                # a naive datetime is UTC, as data times
    if np.isnat(time):
        raise HeatmapError("bad time %r (give ISO 8601 such as 2024-05-01T06:30:00Z, a date, "
                           "or Unix seconds)" % _quoted(str(value).encode("utf-8")))
    return int(time.astype("datetime64[s]").astype(np.int64)) + (86399 if day and end else 0)


def _time_text(seconds: int) -> str:
    """Unix seconds as a frame label or in messages: ``2024-05-01 06:30:00``."""
    return str(np.datetime64(int(seconds), "s")).replace("T", " ")


def _track_rule(config: Config) -> str:
    """--track_weight, with --weight_by_time its short form of "time"."""
    return "time" if config.weight_by_time else config.track_weight


def _needs_times(config: Config) -> Optional[str]:
    """The first option given that needs the data's times, or None."""
    options = (("--time_range", config.time_range), ("--frame_time", config.frame_time),
               ("--weight_by_time", config.weight_by_time),
               ("--track_weight time", config.track_weight == "time"))
    return next((flag for flag, given in options if given is not None and given is not False), None)


def _validate_time(config: Config) -> None:
    """Check the time and track settings (part of _validate)."""
    if config.weight_by_time and config.track_weight == "length":
        raise HeatmapError("--weight_by_time is --track_weight time, not length")
    for flag, value in (("--frame_time", config.frame_time), ("--fade", config.fade),
                        ("--max_gap", config.max_gap)):
        _duration_seconds(value, flag)
    if config.time_range is not None:
        try:
            _time_bounds(config.time_range)
        except HeatmapError as exc:
            raise HeatmapError("--time_range: %s" % exc) from None
    for flag, value in (("--frame_time", config.frame_time), ("--fade", config.fade)):
        if value is not None and not config.animate:
            raise HeatmapError("%s needs -a/--animate" % flag)
    if config.fade is not None and config.frame_time is None:
        raise HeatmapError("--fade needs --frame_time (frames paced by the data's clock)")


def _batch_subset(batch, keep: np.ndarray):
    """The inputs of a Points or Segments batch where ``keep`` is True."""
    return batch if keep.all() else type(batch)(*(None if a is None else a[keep] for a in batch))


def _segment_metres(segments: Segments) -> np.ndarray:
    """float64 (n,) segment lengths in metres: great circles on the sphere of EARTH_RADIUS."""
    lat1, lat2 = np.radians(segments.lat1), np.radians(segments.lat2)
    half = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * \
        np.sin(np.radians(segments.lon2 - segments.lon1) / 2) ** 2
    return 2 * EARTH_RADIUS * np.arcsin(np.sqrt(np.minimum(half, 1.0)))


def _part_of(segments: Segments, start: np.ndarray, end: np.ndarray) -> Segments:
    """Segments cut to fractions ``start`` .. ``end`` (0 to 1) of their length, interpolated."""
    def at(f, a, b):
        return np.where(f <= 0, a, np.where(f >= 1, b, a + (b - a) * f))
    if not (start.any() or (end < 1).any()):
        return segments
    s, times = segments, (segments.time1, segments.time2)
    if s.time1 is not None and s.time2 is not None:
        known = ~np.isnat(s.time1) & ~np.isnat(s.time2)
        t1, t2 = s.time1.astype(np.int64), s.time2.astype(np.int64)
        times = tuple(np.where(known, np.round(at(f, t1, t2)), t).astype(np.int64)
                      .astype("datetime64[s]") for f, t in ((start, t1), (end, t2)))
        times = tuple(np.where(known, t, o) for t, o in zip(times, (s.time1, s.time2)))
    return Segments(at(start, s.lat1, s.lat2), at(start, s.lon1, s.lon2), at(end, s.lat1, s.lat2),
                    at(end, s.lon1, s.lon2), times[0], times[1], s.weight)


class _TrimEnds:
    """--trim_ends on Segments: each track's first and last ``metres`` cut, across batches.  A
    track: segments each starting where the last ended; its last ``metres`` wait until one starts
    elsewhere or the input ends.  Segments --max_jump drops count 0 m and end no track."""

    def __init__(self, metres: float):
        self.metres = metres
        self.held: Optional[Tuple[Segments, np.ndarray, np.ndarray]] = None  # tail, length, jump
        self.held_from = 0.0      # metres along its track where the held tail starts
        self.along = 0.0          # metres along the open track to its last segment's end
        self.end: Optional[Tuple[float, float]] = None   # where the last segment ended

    def add(self, batch: Segments, length: np.ndarray, jump: np.ndarray) -> List[Segments]:
        """The segments of ``batch`` (and of earlier ones) that can be given out now."""
        starts = np.r_[self.end != (batch.lat1[0], batch.lon1[0]),
                       (batch.lat1[1:] != batch.lat2[:-1]) | (batch.lon1[1:] != batch.lon2[:-1])]
        self.end = (batch.lat2[-1], batch.lon2[-1])
        offset = 0.0 if starts[0] else self.along
        if self.held is not None:
            tail, tail_length, tail_jump = self.held
            starts = np.r_[True, np.zeros(len(tail_length) - 1, bool), starts]
            batch = Segments(*(None if a is None or b is None else np.concatenate([a, b])
                               for a, b in zip(tail, batch)))
            length, jump = np.r_[tail_length, length], np.r_[tail_jump, jump]
            offset = self.held_from
        return self._cut(batch, length, jump, starts, offset, final=False)

    def flush(self) -> List[Segments]:
        """What is still held, at the end of the input."""
        if self.held is None:
            return []
        starts = np.arange(len(self.held[1])) == 0
        return self._cut(*self.held, starts, self.held_from, final=True)

    def _cut(self, batch: Segments, length: np.ndarray, jump: np.ndarray, starts: np.ndarray,
             offset: float, final: bool) -> List[Segments]:
        """Trim ``batch``'s tracks; ``starts`` marks each segment that begins one (the first always,
        ``offset`` metres along its track); the last track's tail is held unless ``final``."""
        length = np.where(jump, 0.0, length)
        first = np.maximum.accumulate(np.where(starts, np.arange(starts.size), 0))
        before = np.cumsum(length) - length
        d0 = before - before[first] + np.where(first == 0, offset, 0.0)
        d1 = d0 + length
        track = np.cumsum(starts) - 1
        total = d1[np.r_[np.flatnonzero(starts)[1:], starts.size] - 1][track]
        low, high = self.metres, total - self.metres
        hold = (track == track[-1]) & (d1 > high) & (not final)
        self.held = None
        if hold.any():
            self.held = (_batch_subset(batch, hold), length[hold], jump[hold])
            self.held_from = float(d0[hold][0])
        self.along = float(d1[-1])
        a, b = np.maximum(d0, low), np.minimum(d1, high)
        keep = ~hold & ~jump & ((b > a) | ((length == 0) & (d0 >= low) & (d1 <= high)))
        if not keep.any():
            return []
        safe = np.where(length > 0, length, 1.0)[keep]
        return [_part_of(_batch_subset(batch, keep), np.maximum(a - d0, 0)[keep] / safe,
                         np.where(length > 0, (b - d0), 1.0)[keep] / safe)]


class _TrackTimeFilter:
    """This section's options on a stream of batches, in the order its opening lists them."""

    def __init__(self, config: Config):
        self.config, self.needs = config, _needs_times(config)
        self.bounds = _time_bounds(config.time_range) if config.time_range else None
        self.max_gap = _duration_seconds(config.max_gap, "--max_gap")
        self.trim = _TrimEnds(float(config.trim_ends)) if config.trim_ends else None
        self.read = self.timed = self.untimed = self.inside = self.kept = 0
        self.span: List[int] = []   # the earliest and latest time read (for messages)

    def run(self, batches: Iterable[object]) -> Iterator[object]:
        for batch in itertools.chain(batches, [None]):
            for part in self._tracks(batch):
                part = self._in_time(part)
                if _track_rule(self.config) == "length" and isinstance(part, Segments):
                    part = part._replace(weight=_segment_metres(part) * (   # heat per metre
                        1 if part.weight is None else part.weight))
                if len(part[0]):
                    self.kept += len(part[0])
                    yield part
        self._finish()

    def _tracks(self, batch) -> List[object]:
        """--max_jump and --trim_ends on one batch (None: the end of the input)."""
        if batch is None:
            return self.trim.flush() if self.trim else []
        self.read += len(batch[0])
        if isinstance(batch, Points) or not len(batch[0]) or \
                not (self.config.max_jump or self.trim):
            return [batch]
        length = _segment_metres(batch)
        jump = length > float(self.config.max_jump or math.inf)
        return self.trim.add(batch, length, jump) if self.trim else [_batch_subset(batch, ~jump)]

    def _in_time(self, batch):
        """Inputs without a time left out, --time_range, --weight_by_time (when given)."""
        if not self.needs or not len(batch[0]):
            return batch
        points = isinstance(batch, Points)
        ends = [batch.time] if points else [batch.time1, batch.time2]
        known = np.zeros(len(batch[0]), bool) if any(t is None for t in ends) else \
            np.logical_and.reduce([~np.isnat(t) for t in ends])
        timed = int(np.count_nonzero(known))
        self.untimed += len(batch[0]) - timed
        self.timed += timed
        if not timed:
            return _batch_subset(batch, known)
        seconds = [t.astype(np.int64) for t in ends]
        self.span = [min(self.span[:1] + [int(seconds[0][known].min())]),
                     max(self.span[1:] + [int(seconds[-1][known].max())])]
        keep = known
        if self.bounds:
            for s in seconds:
                keep = keep & (s >= self.bounds[0]) & (s <= self.bounds[1])
            self.inside += int(np.count_nonzero(keep))
        if _track_rule(self.config) == "time" and not points:
            duration = (seconds[1] - seconds[0]).astype(np.float64)
            keep = keep & (duration > 0) & (duration <= self.max_gap)
            batch = batch._replace(
                weight=duration if batch.weight is None else duration * batch.weight)
        return _batch_subset(batch, keep)

    def _finish(self) -> None:
        if self.needs and self.read and not self.timed:
            raise HeatmapError("%s needs times, and the data has none" % self.needs)
        if self.untimed:
            _LOG.warning("%d inputs without a time left out (%s needs times)", self.untimed,
                         self.needs)
        if self.bounds and self.timed and not self.inside:
            raise HeatmapError("--time_range %s keeps nothing: the data's times run from %s to %s"
                               % (",".join(str(v or "") for v in self.config.time_range),
                                  _time_text(self.span[0]), _time_text(self.span[1])))
        if self.read and not self.kept:
            given = [flag for flag, on in (("--max_jump", self.config.max_jump),
                                           ("--trim_ends", self.config.trim_ends),
                                           ("--weight_by_time", self.config.weight_by_time)) if on]
            raise HeatmapError("nothing is left to draw after %s" % ", ".join(given))


def _apply_track_time_options(config: Config, batches: Iterable[object]) -> Iterable[object]:
    """The input as the time and track options want it (as it is without them)."""
    if not (_needs_times(config) or config.max_jump or config.trim_ends
            or config.track_weight == "length"):
        return batches
    return _TrackTimeFilter(config).run(batches)


def _input_seconds(batch) -> Tuple[np.ndarray, int]:
    """Of a batch with all times known: (int64 seconds by input, a segment's end; first start)."""
    first, last = (batch.time,) * 2 if isinstance(batch, Points) else (batch.time1, batch.time2)
    return last.astype(np.int64), int(first.astype(np.int64).min())


# ---- 9 Animation ----
# -a: frames drawn as the input accumulates (--frequency inputs a frame, or with
# --frame_time by the data's clock, --fade letting inputs go), each frame recomputing only
# the small tiles its inputs touch (_FrameIndex), written as PNGs into a temporary folder
# and encoded by ffmpeg for sharing (yuv420p MP4, a GIF's own palette), or given to render_frames.
_FRAME_TILE = 32   # pixels per side of the tiles a frame recomputes
_MAX_FRAMES = 100000                  # frames a --frame_time animation may make


def _frame_clock(config: Config, times: np.ndarray, first: int):
    """--frame_time frames of inputs at int64 Unix seconds ``times``: (their ranks in time, [(lo,
    hi)] ranks each frame shows, to its end first + k * step, k from 1, or --fade before; ends)."""
    step = _duration_seconds(config.frame_time, "--frame_time")
    count = (float(times.max()) - first if times.size else 0.0) / step
    if count > _MAX_FRAMES:
        raise HeatmapError("--frame_time %s would make %.9g frames (the data runs from %s to %s), "
                           "more than %d: give a longer one" % (
                               _duration_text(step), count, _time_text(first),
                               _time_text(times.max()), _MAX_FRAMES))
    count = max(1, math.ceil(count))
    order = np.argsort(times, kind="stable")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    ordered = times[order]
    ends = first + step * np.arange(1, count + 1)
    shown = np.searchsorted(ordered, ends, side="right")
    fade = _duration_seconds(config.fade, "--fade")   # None: inputs stay
    gone = np.zeros(count, np.int64) if fade is None else np.searchsorted(ordered, ends - fade)
    return rank, list(zip(gone.tolist(), shown.tolist())), np.floor(ends).astype(np.int64)


def _find_ffmpeg() -> str:
    import shutil
    path = shutil.which("ffmpeg")
    if path:
        return path
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise HeatmapError("--animate needs ffmpeg: install it (e.g. apt-get install ffmpeg) "
                           'or pip install "heatmap.py[animate]" (imageio-ffmpeg)') from None


def _frame_ends(total: int, frequency: int, straggler_threshold: int) -> List[int]:
    """Frame ends, in inputs: every ``frequency``; the rest if none or >= straggler_threshold."""
    ends = list(range(frequency, total + 1, frequency))
    if not ends or total - ends[-1] >= straggler_threshold:
        ends.append(total)
    return ends


class _FrameIndex:
    """Ordered inputs bucketed by small tiles, to recompute only what a frame changes."""

    def __init__(self, entries: _BinnedPoints, entry_seq: np.ndarray, segments: np.ndarray,
                 segment_seq: np.ndarray, radius: int):
        self.entries, self.segments = entries, segments
        ids, kind, which = _tile_members(entries, segments, radius, _FRAME_TILE)
        seq = np.r_[entry_seq, segment_seq][np.where(kind == 0, which, which + entry_seq.size)]
        order = np.lexsort((seq, ids[:, 1], ids[:, 0]))
        self.ids, self.kind, self.which, self.seq = (a[order] for a in (ids, kind, which, seq))
        tile_first = np.r_[True, np.any(self.ids[1:] != self.ids[:-1], axis=1)]
        self.tile_of = np.cumsum(tile_first) - 1
        self.tile_start = np.r_[np.flatnonzero(tile_first), self.seq.size]
        self.by_seq = np.argsort(self.seq, kind="stable")
        self.sorted_seq = self.seq[self.by_seq]
        self.tiles = self.tile_start.size - 1

    def changed(self, before: Tuple[int, int], now: Tuple[int, int]):
        """Yield (tile number, rect, entries, segments) per tile touched by inputs entering or
        leaving from frame ``before`` to ``now`` (lo, hi), with every input ``now`` shows there."""
        moved = np.r_[self._between(before[1], now[1]), self._between(before[0], now[0])]
        for tile in _sorted_unique(self.tile_of[moved]):
            start, stop = self.tile_start[tile], self.tile_start[tile + 1]
            first, last = start + np.searchsorted(self.seq[start:stop], now)
            kind, which = self.kind[first:last], self.which[first:last]
            rect = _tile_rect(int(self.ids[start, 0]), int(self.ids[start, 1]), _FRAME_TILE)
            yield tile, rect, _aggregate(self.entries.take(which[kind == 0])), \
                self.segments[which[kind == 1]]

    def _between(self, start: int, end: int) -> np.ndarray:
        """Memberships of the inputs start .. end - 1 (none when end <= start)."""
        return self.by_seq[np.searchsorted(self.sorted_seq, start):
                           np.searchsorted(self.sorted_seq, max(start, end))]


def _frame_plan(config: Config, acc: "_Accumulator"):
    """(_FrameIndex, [(lo, hi)]: a frame shows inputs lo .. hi - 1 in its order, labels or None)."""
    entries, entry_seq, segments, segment_seq = acc.ordered()
    ends = _frame_ends(acc.inputs, config.frequency, config.straggler_threshold)
    frames, labels = [(0, end) for end in ends], [None] * len(ends)
    if config.frame_time is not None:
        rank, frames, stamps = _frame_clock(config, *acc.clock())
        entry_seq, segment_seq = rank[entry_seq], rank[segment_seq]
        labels = [_time_text(t) if config.frame_label else None for t in stamps]
    return _FrameIndex(entries, entry_seq, segments, segment_seq, config.radius), frames, labels


def _frame_pictures(config: Config, geometry: _PictureGeometry, acc: "_Accumulator",
                    scene: "_Scene", plan: Tuple) -> Iterator[Tuple[np.ndarray, bool]]:
    """(picture, changed) of each frame of ``plan``; not changed: the frame before again."""
    index, frames, labels = plan
    engine = _Engine(config)
    decay = _Decay(config.decay, acc.inputs + engine.stamp.heat.size)
    window = geometry.window()
    grid = np.zeros((window[3] - window[1], window[2] - window[0]))
    tile_largest = np.zeros(index.tiles)   # each tile's largest value: a frame's is the largest
    before, picture, progress = (0, 0), None, _Progress("frames", len(frames))
    font = max(12, geometry.height // 24)
    corner = _label_corner(index, window, geometry, font) if any(labels) else ""

    def recompute(job):
        tile, rect, part, segs = job
        if not (part.x.size or segs.shape[0]):   # everything left
            return tile, rect, np.zeros((rect[3] - rect[1], rect[2] - rect[0]))
        return tile, rect, engine._tile(rect, part, segs, decay)
    for number, (frame, label) in enumerate(zip(frames, labels), 1):
        for tile, rect, values in _threaded_map(recompute, index.changed(before, frame), ahead=4):
            tile_largest[tile] = values.max()
            engine._paste(grid, window, rect, values)
            picture = None
        changed = picture is None or label is not None
        if picture is None:
            values = _image_values(geometry, grid, window)
            picture = _heat_picture(values, _peak(config, float(tile_largest.max(initial=0.0)),
                                                  values), scene)
        yield (picture if label is None else np.asarray(   # its time in a corner
            _draw_attribution(_pil_image(picture), label, corner, font))), changed
        before = frame
        progress.update(number)
    progress.close()


def _write_frames(config: Config, geometry: _PictureGeometry, acc: "_Accumulator",
                  scene: "_Scene", folder: str, plan: Tuple) -> int:
    """frame-00001.png ... of ``plan`` into ``folder``, a repeat linked (or copied); the count."""
    import shutil
    number, previous = 0, None
    for number, (picture, changed) in enumerate(
            _frame_pictures(config, geometry, acc, scene, plan), 1):
        path = os.path.join(folder, "frame-%05d.png" % number)
        if changed:
            _write_png(path, picture, None if config.keepframes else 1)   # for ffmpeg alone
        else:
            try:
                os.link(previous, path)
            except OSError:
                shutil.copyfile(previous, path)
        previous = path
    return number


def _label_corner(index: _FrameIndex, window, geometry: _PictureGeometry, font: int) -> str:
    """The corner whose frame label (``font`` pixels high) covers the fewest tiles with inputs."""
    x, y = (index.ids * _FRAME_TILE - window[:2]).T
    near = {"left": x < font * 11, "right": x + _FRAME_TILE > geometry.width - font * 11,
            "top": y < font * 2, "bottom": y + _FRAME_TILE > geometry.height - font * 2}
    return min(("top-left", "top-right", "bottom-left", "bottom-right"), key=lambda corner:
               np.count_nonzero(np.logical_and(*(near[side] for side in corner.split("-")))))


def _video_extension(config: Config) -> str:
    """The container ffmpeg writes, as an extension: --output_format, else -o's."""
    name = config.output_format or ("" if config.output == "-" else
                                    os.path.splitext(config.output)[1][1:])
    if not name:
        raise HeatmapError("%s: --animate needs the video type: an extension (.mp4) or "
                           "--output_format" % config.output)
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", name):
        raise HeatmapError("--output_format %r is not a video type such as mp4" % name)
    return "." + name.lower()


def _shareable(config: Config) -> List[str]:
    """ffmpeg options before -F's: H.264 all players decode (yuv420p, even sizes), GIF palettes."""
    extension, own = _video_extension(config), re.search(r"-vf|-filter", config.ffmpegopts or "")
    if extension == ".gif" and not own:
        return ["-filter_complex", "split[a][b];[a]palettegen[p];[b][p]paletteuse"]
    pad = [] if own else ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
    return ["-pix_fmt", "yuv420p"] + pad if extension in (".mp4", ".m4v", ".mov", ".mkv") else []


def _encode_video(ffmpeg: str, folder: str, config: Config) -> None:
    """Run ffmpeg on the frames into a temporary file that becomes -o on success."""
    import shlex
    import subprocess
    frames = os.path.join(folder, "frame-%05d.png")

    def write(temp: str) -> None:
        rate = [] if config.fps is None else ["-framerate", "%g" % float(config.fps)]
        command = ([ffmpeg, "-y", "-loglevel", "error"] + rate + ["-i", frames]
                   + _shareable(config) + shlex.split(config.ffmpegopts or "") + [temp])
        _LOG.info("encoding video: %s", " ".join(shlex.quote(c) for c in command))
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
        except OSError as exc:
            raise HeatmapError("cannot run ffmpeg: %s" % exc) from None
        tail = " | ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        if done.returncode != 0:
            raise HeatmapError("ffmpeg failed (exit %d): %s"
                               % (done.returncode, tail or "no message"))
        if not os.path.getsize(temp):  # e.g. -F '-f null', or an output of its own
            raise HeatmapError("ffmpeg wrote no video (check -F/--ffmpegopts %r)%s"
                               % (config.ffmpegopts or "", ": " + tail if tail else ""))
    _write_atomic(config.output, write, ".part" + _video_extension(config))


def _animate(ffmpeg: str, config: Config, geometry: _PictureGeometry, acc: "_Accumulator",
             scene: "_Scene") -> None:
    """Frames into a tempfile.mkdtemp() folder, then a video; -K keeps the frames."""
    plan = _frame_plan(config, acc)   # its errors (too many frames) come before any file
    if config.frame_time is None and len(plan[1]) > 300:
        _LOG.warning("making %d frames: a larger --frequency, or --frame_time, makes fewer",
                     len(plan[1]))
    import shutil
    import tempfile
    try:
        folder = tempfile.mkdtemp(prefix="heatmap-frames-")
    except OSError as exc:
        raise HeatmapError("cannot make a folder for the animation frames in %s: %s"
                           % (tempfile.gettempdir(), exc.strerror or exc)) from None
    try:
        try:
            count = _write_frames(config, geometry, acc, scene, folder, plan)
        except OSError as exc:  # e.g. a full temp folder ($TMPDIR chooses it)
            raise HeatmapError("cannot write the animation frames in %s: %s"
                               % (folder, exc.strerror or exc)) from None
        _LOG.info("%d frames in %s", count, folder)
        _encode_video(ffmpeg, folder, config)
        _LOG.info("video written: %s", config.output)
    finally:
        if config.keepframes:
            _LOG.info("the animation frames are in %s", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)


# ---- 10.1 Tiles: the pyramid ----
# Web Mercator XYZ map tiles of the heat (--tiles: a folder with a Leaflet viewer page, or one
# MBTiles file), cut from the pixel plane of an --osm picture at each zoom: plane pixel (px, py)
# is global pixel (px + h, py + h), h = 128 * 2**zoom; tile (x, y) holds global pixels 256x ..
# 256x + 255 by 256y .. 256y + 255.  Per zoom, pass 1 combines the heat tile by tile into a
# temporary file (_ValueSpill) and finds the largest value (the zoom's colour scale, as for one
# picture of it); pass 2 colours the tiles and writes palette PNGs (_tile_png).
_TILE_MAX_ZOOM = 22               # deepest --tile_zoom (the plane stays within _MAX_COORD)
_TILE_AUTO_MAX_ZOOM = 18          # deepest zoom chosen from the data
_TILE_AUTO_WIDTH = 4096           # the deepest zoom chosen shows the data this many pixels wide
_TILE_AUTO_LEVELS = 4             # and at least this many zooms above it are made too
_TILE_TRACK_BUDGET = 4096         # tracks: zoom 16 if their points lie in this many of its tiles
_MAX_TILES = 1000000              # tiles one run may write (override: HEATMAP_MAX_TILES)
_TILE_LEVEL = 4                   # zlib level of palette tiles: 1 % larger than 6, 75 % the time
_WEB_MERCATOR_LAT = 85.0511287798066   # where the square world of map tiles ends
_TOO_MANY_TILES = ("--tiles would write more than %d tiles (at least %d), over the limit: give "
                   "fewer zooms with --tile_zoom or a smaller --extent, or set HEATMAP_MAX_TILES "
                   "to allow more")   # % (limit, count)


class _TilePlan(NamedTuple):
    """What a --tiles run makes: its zooms and where (lat/lon boxes: min_x/max_x longitudes)."""
    zooms: range
    data: _Box           # the input's box
    bounds: _Box         # the area the tiles cover: --extent, else the data and its heat
    extent: bool         # only the tiles over ``bounds`` are written
    centre: Tuple[float, float]   # (lon, lat) of an input near the middle of the data


def _zoom_range_arg(text: str) -> Tuple[int, int]:
    """--tile_zoom: "Z" or "MIN-MAX" to (min, max)."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError("expected a zoom or MIN-MAX (e.g. 10-16), got %r" % text)
    return int(match.group(1)), int(match.group(2) or match.group(1))


def _validate_tiles(config: Config) -> None:
    """Check --tiles and --world_file before any input is read (called by _validate)."""
    if config.tiles is not None:
        _tile_options(config)
        _check_tile_output(config)
    elif config.world_file:
        if not config.output or _output_kind(config.output) == "stream":
            raise HeatmapError("--world_file needs -o/--output FILE: it is written beside the "
                               "picture")
        if config.animate:
            raise HeatmapError("--world_file cannot be used with -a/--animate")


def _tile_options(config: Config) -> None:
    """Refuse options that mean nothing for map tiles, and impossible zooms."""
    refused = ((config.osm, "--osm: the viewer page (index.html) shows the tiles on the map"),
               (config.background, "-b/--background: tiles stay transparent over the map"),
               (config.background_image, "-I/--background_image: tiles lie on a web map"),
               (config.animate, "-a/--animate"),
               (config.output, "-o/--output: --tiles names the output"),
               (config.save or config.load, "-S/--save or -L/--load"),
               (config.scale or config.width or config.height, "-s/--scale, -W/--width or "
                "-H/--height: each zoom has its scale (see --tile_zoom)"),
               (config.projection != "mercator",
                "-P/--projection %s: map tiles are Web Mercator" % config.projection),
               (config.world_file, "--world_file: map tiles are placed by their zoom, x and y"),
               (config.colour_scale == "eq_hist",
                "--colour_scale eq_hist: a zoom's tiles are coloured as they are made"))
    for used, what in refused:
        if used:
            raise HeatmapError("--tiles cannot be used with " + what)
    if config.tile_zoom:
        low, high = config.tile_zoom
        if high > _TILE_MAX_ZOOM:
            raise HeatmapError("--tile_zoom %d is too deep: zooms go from 0 to %d"
                               % (high, _TILE_MAX_ZOOM))
        if low > high:
            raise HeatmapError("--tile_zoom %d-%d: the first zoom is deeper than the last"
                               % (low, high))
    _tile_url(config.osm_base, config.osm_path_template, 0, 0, 0)  # the viewer's base map


def _tile_plan(config: Config, held: Sequence[object]) -> _TilePlan:
    """Zooms and boxes of a --tiles run over the input batches ``held``."""
    data = _data_box(held)
    zooms = _tile_zooms(config, _extent_box(config.extent) if config.extent else data, held)
    top = _project_box(PROJECTIONS["mercator"], data, _zoom_ppd(zooms[-1]))
    if max(abs(v) for v in dataclasses.astuple(top)) > _MAX_COORD:
        worst = data.max_y if abs(data.max_y) > abs(data.min_y) else data.min_y
        raise HeatmapError("latitude %.12g is too near the pole for zoom %d tiles: give a smaller "
                           "--tile_zoom" % (worst, zooms[-1]))
    lat, lon = (np.concatenate([b[i] for b in held]) for i in (0, 1))   # points', tracks' starts
    near = np.argmin(np.abs(lat - np.median(lat)) + np.abs(lon - np.median(lon)))
    if config.extent:
        return _TilePlan(zooms, data, _extent_box(config.extent), True, (lon[near], lat[near]))
    ppd = _zoom_ppd(zooms[0])  # heat reaches furthest, in degrees, at the first zoom
    reach = _project_box(PROJECTIONS["mercator"], data, ppd).grown(config.radius + 1)
    return _TilePlan(zooms, data, _unproject_box(reach, ppd), False, (lon[near], lat[near]))


def _tile_zooms(config: Config, box_ll: _Box, held: Sequence[object]) -> range:
    """--tile_zoom, else from where box and radius fit one tile to where the box is _TILE_AUTO_WIDTH
    pixels wide, or for tracks zoom 16 within _TILE_TRACK_BUDGET (see the README)."""
    if config.tile_zoom:
        return range(config.tile_zoom[0], config.tile_zoom[1] + 1)
    box = _project_box(PROJECTIONS["mercator"], box_ll, _zoom_ppd(0))
    span = max(box.max_x - box.min_x, box.max_y - box.min_y)
    zooms = range(_TILE_AUTO_MAX_ZOOM + 1)
    last = max([z for z in zooms if span * 2 ** z <= _TILE_AUTO_WIDTH] or [0])
    if any(isinstance(batch, Segments) for batch in held):   # zoom 16 tells the roads apart
        tiles = _tiles_holding(held, 16, (0, 0, 1 << 16, 1 << 16))
        last = max(last, 16 - math.ceil(math.log2(max(tiles / _TILE_TRACK_BUDGET, 1))))
    first = max([z for z in zooms if span * 2 ** z + 2 * config.radius <= _OSM_TILE] or [0])
    return range(max(0, min(first, last - _TILE_AUTO_LEVELS)), last + 1)


def _tile_window(plan: _TilePlan, zoom: int) -> Tuple[int, int, int, int]:
    """Inclusive range (x0, y0, x1, y1) of the tiles a zoom may write."""
    last = 2 ** zoom - 1
    x0, y0, x1, y1 = _tile_range(plan.bounds, zoom) if plan.extent else (0, 0, last, last)
    return max(x0, 0), max(y0, 0), min(x1, last), min(y1, last)


def _check_tile_count(config: Config, held: Sequence[object], plan: _TilePlan, limit: int) -> None:
    """Refuse before any work more than ``limit`` tiles sure to hold heat: the tiles over the data's
    box grown by the radius settle most runs, else tiles with an input point or track end count."""
    most = 0
    for zoom in plan.zooms:
        box = _project_box(PROJECTIONS["mercator"], plan.data, _zoom_ppd(zoom))
        shift, (x0, y0, x1, y1) = _OSM_TILE * 2 ** zoom // 2, _tile_window(plan, zoom)
        edges = [math.floor(v + shift) // _OSM_TILE
                 for v in dataclasses.astuple(box.grown(config.radius + 1))]
        most += max(min(x1, edges[2]) - max(x0, edges[0]) + 1, 0) * \
            max(min(y1, edges[3]) - max(y0, edges[1]) + 1, 0)
    if most > limit:
        least = sum(_tiles_holding(held, zoom, _tile_window(plan, zoom)) for zoom in plan.zooms)
        if least > limit:
            raise HeatmapError(_TOO_MANY_TILES % (limit, least))


def _tiles_holding(held: Sequence[object], zoom: int, window) -> int:
    """Tiles of ``window`` at ``zoom`` sure to hold heat: with an input point (weight not 0) or
    track end, or, if more and the window is the world, those the longest segment crosses."""
    ppd, shift, last = _zoom_ppd(zoom), _OSM_TILE * 2 ** zoom // 2, 2 ** zoom - 1
    forward, (x0, y0, x1, y1) = PROJECTIONS["mercator"].forward, window
    keys, longest = [np.empty(0, np.int64)], 0
    for batch in held:
        if isinstance(batch, Points):
            places = [(batch.lat, batch.lon, batch.weight is None or batch.weight != 0)]
        else:
            places = [(batch.lat1, batch.lon1, True), (batch.lat2, batch.lon2, True)]
        ends = []
        for lat, lon, keep in places:
            tx, ty = ((np.trunc(v).astype(np.int64) + shift) // _OSM_TILE
                      for v in forward(lat, lon, ppd))
            ok = keep & (tx >= x0) & (tx <= x1) & (ty >= y0) & (ty <= y1)
            keys.append(_sorted_unique(tx[ok] * (2 ** zoom) + ty[ok]))
            ends.append(np.clip(np.stack([tx, ty]), 0, last))
        if len(ends) == 2 and ends[0].size and window == (0, 0, last, last):
            longest = max(longest, int(np.abs(ends[0] - ends[1]).max()) + 1)
    return max(int(_sorted_unique(np.concatenate(keys)).size), longest)


def _xyz_tiles(pieces: Iterable[Tuple[Tuple[int, int, int, int], np.ndarray]],
               zoom: int) -> Iterator[Tuple[Tuple[int, int], np.ndarray]]:
    """The engine's (plane rect, values) pieces, which come tile by tile, as ((x, y), float64 [256,
    256]) of each tile at ``zoom``: a tile is whole once a piece lands elsewhere; whole-tile pieces
    are kept as they are; parts off the world go."""
    world, shift = 2 ** zoom, _OSM_TILE * 2 ** zoom // 2
    open_tiles: dict = {}
    for rect, values in pieces:
        rect = tuple(v + shift for v in rect)
        cols = range(max(rect[0] // _OSM_TILE, 0), min((rect[2] - 1) // _OSM_TILE, world - 1) + 1)
        rows = range(max(rect[1] // _OSM_TILE, 0), min((rect[3] - 1) // _OSM_TILE, world - 1) + 1)
        touched = [(x, y) for x in cols for y in rows]
        for key in [k for k in open_tiles if touched and k not in touched]:
            yield key, open_tiles.pop(key)
        key = (rect[0] // _OSM_TILE, rect[1] // _OSM_TILE)
        if touched == [key] and rect == _tile_rect(*key, _OSM_TILE) and key not in open_tiles:
            yield key, values
            continue
        for key in touched:
            if key not in open_tiles:
                open_tiles[key] = np.zeros((_OSM_TILE, _OSM_TILE))
            _Engine._paste(open_tiles[key], _tile_rect(key[0], key[1], _OSM_TILE), rect, values)
    yield from open_tiles.items()


class _ValueSpill:
    """Tile values between a zoom's two passes, in an anonymous temp file in ``folder`` (None: the
    system's), read in order: a tile's heat box as float64, or if smaller uint16 indices, values."""
    _HEAD = struct.Struct("<7q")   # x, y, rows r0-r1, columns c0-c1, (index, value) pairs or -1

    def __init__(self, folder: Optional[str]):
        import tempfile
        try:
            self.file = tempfile.TemporaryFile(dir=folder)
        except OSError as exc:
            raise HeatmapError("cannot make a temporary file in %s: %s"
                               % (folder or tempfile.gettempdir(), exc.strerror or exc)) from None
        self.count = 0

    def put(self, x: int, y: int, values: np.ndarray, count: int) -> None:
        heat = np.flatnonzero(values.ravel() != 0)   # (bools: NumPy's fast nonzero, 6x)
        r0, r1 = int(heat[0]) // _OSM_TILE, int(heat[-1]) // _OSM_TILE + 1
        cols = heat % _OSM_TILE
        c0, c1 = int(cols.min()), int(cols.max()) + 1
        pairs = count * 10 < (r1 - r0) * (c1 - c0) * 8
        try:
            self.file.write(self._HEAD.pack(x, y, r0, r1, c0, c1, count if pairs else -1))
            if pairs:
                self.file.write(heat.astype(np.uint16).data)
                self.file.write(values.ravel()[heat].data)
            else:
                self.file.write(np.ascontiguousarray(values[r0:r1, c0:c1]).data)
        except OSError as exc:
            raise HeatmapError("cannot write temporary tile values: %s" % (exc.strerror or exc)) \
                from None
        self.count += 1

    def read(self) -> Iterator[Tuple[int, int, object, np.ndarray]]:
        """(x, y, where, float64 values) per tile: ``where`` the box (r0, r1, c0, c1) or indices."""
        self.file.seek(0)
        for _ in range(self.count):
            x, y, r0, r1, c0, c1, pairs = self._HEAD.unpack(self.file.read(self._HEAD.size))
            if pairs < 0:
                part = np.frombuffer(self.file.read((r1 - r0) * (c1 - c0) * 8))
                yield x, y, (r0, r1, c0, c1), part.reshape(r1 - r0, c1 - c0)
            else:
                heat = np.frombuffer(self.file.read(pairs * 2), np.uint16)
                yield x, y, heat, np.frombuffer(self.file.read(pairs * 8))

    def close(self) -> None:
        self.file.close()


def _combine_zoom(config: Config, held: Sequence[object], plan: _TilePlan, zoom: int,
                  spill: _ValueSpill) -> float:
    """Pass 1 of a zoom: combine it tile by tile, spill the tiles to write; the largest value."""
    ppd = _zoom_ppd(zoom)
    box = _project_box(PROJECTIONS["mercator"], plan.data, ppd).grown(config.radius + 1)
    x0, y0 = math.floor(box.min_x), math.floor(box.min_y)
    region = (x0, y0, math.ceil(box.max_x) + 1, math.ceil(box.max_y) + 1)
    if _rect_area(region) > _DENSE_PIXELS:   # over budget: no count grid, points go to entries
        region = (x0, y0, x0, y0)
    entries, segments, counts = _binned(config, held, _Accumulator(region), ppd).result()
    largest = 0.0

    def pieces():
        nonlocal largest
        for rect, values in _Engine(config, counted=True).tile_values(entries, segments, counts):
            if values.size:
                largest = max(largest, float(values.max()))
            yield rect, values
    window = _tile_window(plan, zoom)
    progress, number = _Progress("zoom %d: tiles combined" % zoom), 0
    for (x, y), values in _xyz_tiles(pieces(), zoom):
        count = np.count_nonzero(values)
        if count:   # a tile with heat
            number += 1
            if window[0] <= x <= window[2] and window[1] <= y <= window[3]:
                spill.put(x, y, values, count)
            progress.update(number)
    progress.close()
    return largest


def _paint_tile(item: Tuple[int, int, object, np.ndarray], zoom: int, peak: float,
                table: np.ndarray, store) -> Tuple[int, int, bytes]:
    """Pass 2: (x, y, PNG bytes) of a _ValueSpill.read item; also store(zoom, x, y, png)."""
    x, y, where, values = item
    if isinstance(where, tuple):
        rows, cols = np.arange(where[0], where[1]), np.arange(where[2], where[3])
        where, values = (rows[:, None] * _OSM_TILE + cols).ravel(), values.ravel()
    heat = values != 0   # code 0: no heat, else 1 + the colour's row
    codes = _colour_index(values[heat], peak, table.shape[0]) + 1
    png = _tile_png(where[heat], codes, np.vstack([np.zeros((1, 4), np.uint8), table]))
    if store:
        store(zoom, x, y, png)
    return x, y, png


def _tile_png(spots: np.ndarray, codes: np.ndarray, colours: np.ndarray) -> bytes:
    """PNG bytes of a tile: ``colours`` (n, 4) rows ``codes`` at flat pixels ``spots``, row 0
    elsewhere; our writer, on this thread; a palette if <= 256 colours are used (BENCHMARKS.md)."""
    uses = np.bincount(codes, minlength=colours.shape[0])
    uses[0] = _OSM_TILE ** 2 - spots.size
    used = np.flatnonzero(uses)
    packed = colours[used].view(np.uint32).ravel()
    first = (packed[:, None] == packed).argmax(axis=1)   # rows of one colour share an entry
    keep = np.flatnonzero(first == np.arange(used.size))
    out = io.BytesIO()
    if _FAST and keep.size <= 256:
        entry = np.zeros(colours.shape[0], np.uint8)
        entry[used] = np.searchsorted(keep, first)
        tile = np.full(_OSM_TILE ** 2, entry[0], np.uint8)   # palette indices: set at the spots
        tile[spots] = entry[codes]
        _png_stream(out, tile.reshape(_OSM_TILE, -1), 1, colours[used[keep]], _TILE_LEVEL)
        return out.getvalue()
    tile = np.zeros(_OSM_TILE ** 2, np.int64)
    tile[spots] = codes
    pixels = colours[tile.reshape(_OSM_TILE, -1)]
    if _FAST:
        _png_stream(out, pixels, workers=1)
    else:
        _pil_image(pixels).save(out, format="PNG")
    return out.getvalue()


def _tile_stream(config: Config, held: Sequence[object], plan: _TilePlan,
                 spill_dir: Optional[str], store=None) -> Iterator[Tuple[int, int, int, bytes]]:
    """(zoom, x, y, PNG bytes) of every tile with heat, in zoom order, in one zoom's binned input
    (values wait in ``spill_dir``); ``store(zoom, x, y, png)``, if given, runs on tile threads."""
    table, limit, written = _colour_table(config), _env_limit("HEATMAP_MAX_TILES", _MAX_TILES), 0
    _check_tile_count(config, held, plan, limit)
    for zoom in plan.zooms:
        with contextlib.closing(_ValueSpill(spill_dir)) as spill:
            peak = _peak(config, _combine_zoom(config, held, plan, zoom, spill))
            written += spill.count
            if written > limit:
                raise HeatmapError(_TOO_MANY_TILES % (limit, written))
            _LOG.info("zoom %d: %d tiles with heat; largest value %g", zoom, spill.count, peak)
            paint = functools.partial(_paint_tile, zoom=zoom, peak=peak, table=table, store=store)
            progress = _Progress("zoom %d: tiles written" % zoom, spill.count)
            for done, (x, y, png) in enumerate(_threaded_map(paint, spill.read(), ahead=4), 1):
                yield zoom, x, y, png
                progress.update(done)
            progress.close()


# ---- 10.2 Tiles: folders, MBTiles and the viewer page ----
# The two tile outputs, written atomically and never over what we did not make (checked at
# the start and right before the swap): a folder (metadata.json, {z}/{x}/{y}.png, a viewer
# page asking for those alone) or an MBTiles file.
_TILE_FOLDER_FORMAT = "heatmap.py-tiles"   # metadata.json "format" of the folders we write
_TILE_DESCRIPTION = "heat map by heatmap.py"  # metadata "description": MBTiles files we write
_LEAFLET_URL = "https://unpkg.com/leaflet@1.9.4/dist"
_LEAFLET_SRI = {"leaflet.js": "sha256-20nQCchB9co0qIjJZRGuk2/Z9VM+kNiyxNV1lvTlZBo=",
                "leaflet.css": "sha256-p4NxAoJBhIIN+hmNHrzRCf9tD/miZyoHS5obTRR9BMY="}
_OSM_ATTRIBUTION_HTML = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                         'OpenStreetMap</a> contributors')
_OUR_TILE_FILES = _Regex(r"metadata\.json|index\.html|\d+(/\d+(/\d+\.png)?)?")
_MBTILES_SCHEMA = """
PRAGMA application_id = 1297105496;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE metadata (name TEXT, value TEXT);
CREATE UNIQUE INDEX metadata_name ON metadata (name);
CREATE TABLE images (tile_id TEXT PRIMARY KEY, tile_data BLOB);
CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);
CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);
CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
    map.tile_row AS tile_row, images.tile_data AS tile_data
    FROM map JOIN images ON images.tile_id = map.tile_id;
"""  # application_id: "MPBX", MBTiles' magic number; identical tiles share one images row


def _check_tile_output(config: Config) -> None:
    """Refuse a --tiles target (a link's target) not ours, or holding the working or home folder
    or an input; checked first and again right before the swap."""
    path, real = config.tiles, os.path.realpath(config.tiles or ".")
    if not path or not os.path.isdir(os.path.dirname(real)):
        raise HeatmapError("%r: --tiles needs a folder or .mbtiles file name in a folder that "
                           "exists" % _quoted(path))
    mbtiles, folder = path.lower().endswith(".mbtiles"), os.path.isdir(real)
    if os.path.lexists(real) and mbtiles == folder:
        raise HeatmapError("%s: is a %s; --tiles writes a folder, or a file named .mbtiles"
                           % (path, "folder" if folder else "file"))
    for kept in [os.getcwd(), os.path.expanduser("~")] + list(config.files) + [config.gradient]:
        if kept and kept != "-" and os.path.commonpath([real, os.path.realpath(kept)]) == real:
            raise HeatmapError("%s: replacing it would delete %s" % (path, kept))
    foreign = _foreign_mbtiles if mbtiles else _foreign_tile_folder
    problem = os.path.lexists(real) and foreign(real)
    if problem:
        raise HeatmapError("%s: %s; --tiles replaces only what it made: give a new name or remove "
                           "it" % (path, problem))


def _foreign_tile_folder(folder: str) -> Optional[str]:
    """What makes a folder not ours: an entry we do not write, or no metadata.json of ours."""
    import json
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            entry = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if not _OUR_TILE_FILES.fullmatch(entry):
                return "holds %s" % _quoted(entry)
    ours = not os.listdir(folder)   # without a metadata.json of ours: only if empty
    with contextlib.suppress(OSError, ValueError, AttributeError):  # none, not JSON, not an object
        with open(os.path.join(folder, "metadata.json"), "rb") as stream:
            ours = json.loads(stream.read(1 << 20)).get("format") == _TILE_FOLDER_FORMAT
    return None if ours else "holds no metadata.json of ours"


def _foreign_mbtiles(path: str) -> Optional[str]:
    """Why an MBTiles file is not ours (its metadata, read without writing, says who made it)."""
    import pathlib
    import sqlite3
    row = None
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(
            pathlib.Path(path).as_uri() + "?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM metadata WHERE name = 'description'").fetchone()
    return None if row == (_TILE_DESCRIPTION,) else "is not an MBTiles file of ours"


def _tile_metadata(config: Config, plan: _TilePlan, count: int) -> dict:
    """What metadata.json says of a tile folder (TileJSON-like names)."""
    box = plan.bounds
    west, east = max(box.min_x, -180.0), min(box.max_x, 180.0)
    south, north = max(box.min_y, -_WEB_MERCATOR_LAT), min(box.max_y, _WEB_MERCATOR_LAT)
    name = os.path.splitext(os.path.basename(os.path.normpath(config.tiles or "heatmap")))[0]
    return {"format": _TILE_FOLDER_FORMAT, "version": 1, "generator": "heatmap.py " + __version__,
            "name": name, "description": _TILE_DESCRIPTION, "tiles": "{z}/{x}/{y}.png",
            "scheme": "xyz", "tile_count": count, "minzoom": plan.zooms[0],
            "maxzoom": plan.zooms[-1], "bounds": [round(v, 7) for v in (west, south, east, north)],
            "center": [round(plan.centre[0], 7), round(plan.centre[1], 7), plan.zooms[0]],
            "attribution": config.osm_attribution or _OSM_ATTRIBUTION,
            "basemap": config.osm_base + config.osm_path_template}


def _write_tile_folder(config: Config, plan: _TilePlan, tiles) -> int:
    """Write tiles(store=...), metadata.json and index.html as the folder config.tiles."""
    import json

    def fill(build: str) -> int:
        made, have = set(), {}   # have: zoom -> [x * 2**zoom + y] of its tiles, for the viewer

        def store(zoom: int, x: int, y: int, png: bytes) -> None:
            folder = os.path.join(build, str(zoom), str(x))
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            with open(os.path.join(folder, "%d.png" % y), "wb") as out:
                out.write(png)
        with contextlib.closing(tiles(store=store)) as stream:  # closed: nothing written later
            for zoom, x, y, _ in stream:
                have.setdefault(zoom, []).append(x * 2 ** zoom + y)
        meta = _tile_metadata(config, plan, sum(map(len, have.values())))
        with open(os.path.join(build, "metadata.json"), "w", encoding="utf-8") as out:
            json.dump(meta, out, indent=1)
        with open(os.path.join(build, "index.html"), "w", encoding="utf-8") as out:
            out.write(_viewer_page(config, meta, have))
        _check_tile_output(config)  # again: what the run did not make may have come meanwhile
        return meta["tile_count"]
    return _replace_folder(config.tiles, fill)


def _replace_folder(path: str, fill) -> int:
    """fill(a new folder beside ``path``), then swap it in; on failure or Ctrl-C the old stays."""
    import shutil
    target = os.path.realpath(path)
    build = "%s.%s.part" % (os.path.join(os.path.dirname(target), "." + os.path.basename(target)),
                            os.urandom(6).hex())
    old = None
    try:
        os.mkdir(build)
        result = fill(build)
        if os.path.isdir(target):
            old = build[:-len(".part")] + ".old"
            os.rename(target, old)
        os.rename(build, target)
    except BaseException as exc:  # also Ctrl-C: the old folder is what stays
        shutil.rmtree(build, ignore_errors=True)
        if old and os.path.isdir(old) and not os.path.exists(target):
            os.rename(old, target)
        if isinstance(exc, OSError):
            raise HeatmapError("%s: cannot write: %s" % (path, exc.strerror or exc)) from None
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return result


def _write_mbtiles(config: Config, plan: _TilePlan, tiles) -> int:
    """Write tiles() (see _tile_stream) as the MBTiles 1.3 file config.tiles (TMS rows)."""
    import hashlib
    import sqlite3
    count = 0

    def write(temp: str) -> None:
        nonlocal count
        db = sqlite3.connect(temp)
        try:
            db.executescript(_MBTILES_SCHEMA)
            with contextlib.closing(tiles()) as stream:
                for zoom, x, y, png in stream:
                    tile_id = hashlib.sha256(png).hexdigest()
                    db.execute("INSERT OR IGNORE INTO images VALUES (?, ?)", (tile_id, png))
                    db.execute("INSERT INTO map VALUES (?, ?, ?, ?)",
                               (zoom, x, 2 ** zoom - 1 - y, tile_id))
                    count += 1
            meta = _tile_metadata(config, plan, count)
            db.executemany("INSERT INTO metadata VALUES (?, ?)", [
                ("name", meta["name"]), ("format", "png"), ("type", "overlay"), ("version", "1"),
                ("description", meta["description"]), ("attribution", meta["attribution"]),
                ("minzoom", str(meta["minzoom"])), ("maxzoom", str(meta["maxzoom"])),
                ("bounds", ",".join("%.7g" % v for v in meta["bounds"])),
                ("center", ",".join("%.7g" % v for v in meta["center"]))])
            db.commit()
            _check_tile_output(config)  # again: what the run did not make may have come meanwhile
        except sqlite3.Error as exc:
            raise HeatmapError("%s: cannot write: %s" % (config.tiles, exc)) from None
        finally:
            db.close()
    _write_atomic(config.tiles, write)
    return count


_VIEWER_PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="stylesheet" href="$css"$css_sri>
<script src="$js"$js_sri></script>
<style>html, body, #map { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="map"></div>
<script>
var view = $view;
if (!window.L) {
  document.body.innerHTML = "<p style='font: 18px sans-serif; margin: 2em'>Leaflet did not " +
    "load from $js: offline, put leaflet.js and leaflet.css here and use --leaflet_url .</p>";
} else {
  var map = L.map("map"), have = {};
  for (var z in view.tiles) view.tiles[z].forEach(function (k) { have[z + "/" + k] = 1; });
  var Heat = L.TileLayer.extend({getTileUrl: function (c) {   // only the tiles written
    return have[c.z + "/" + (c.x * Math.pow(2, c.z) + c.y)] ?
      L.TileLayer.prototype.getTileUrl.call(this, c) : L.Util.emptyImageUrl;
  }});
  L.tileLayer(view.basemap, {maxZoom: 19, attribution: view.attribution}).addTo(map);
  new Heat("{z}/{x}/{y}.png", {minNativeZoom: view.minzoom, maxNativeZoom: view.maxzoom,
                               maxZoom: 19, bounds: view.bounds}).addTo(map);
  map.fitBounds(view.bounds, {maxZoom: view.maxzoom});
}
</script>
</body>
</html>
""")


def _viewer_page(config: Config, meta: dict, tiles: dict) -> str:
    """index.html: Leaflet (--leaflet_url, else unpkg by SRI), base map, heat tiles, fitted."""
    import html
    import json
    west, south, east, north = meta["bounds"]
    attribution = (html.escape(config.osm_attribution) if config.osm_attribution
                   else _OSM_ATTRIBUTION_HTML)
    view = {"basemap": meta["basemap"], "attribution": attribution, "minzoom": meta["minzoom"],
            "maxzoom": meta["maxzoom"], "bounds": [[south, west], [north, east]], "tiles": tiles}
    base = (config.leaflet_url or _LEAFLET_URL).rstrip("/")
    sri = {name: "" if config.leaflet_url else ' integrity="%s" crossorigin=""' % digest
           for name, digest in _LEAFLET_SRI.items()}
    return _VIEWER_PAGE.substitute(
        title=html.escape(meta["name"]), view=json.dumps(view).replace("<", "\\u003c"),
        css=html.escape(base + "/leaflet.css"), js=html.escape(base + "/leaflet.js"),
        css_sri=sri["leaflet.css"], js_sri=sri["leaflet.js"])


# ---- 11.1 Output: image files, PNG, atomic writes ----
# Pictures are written atomically: to a temporary file beside the target, renamed over it when
# whole; a stream (-, a FIFO, a character device) is written into from a finished temporary file.
# PNG goes through our own encoder (Pillow's fast path, the same pixels; also palettes): rows
# filtered as Pillow does, deflated in strips on threads into one zlib stream; others: Pillow.
# Largest width or height each format can store (Pillow fails, or worse, on more).
_MAX_SIDE = {"GIF": 65535, "TGA": 65535, "SGI": 65535, "PCX": 65534, "JPEG": 65500,
             "MPO": 65500, "PDF": 65500, "AVIF": 65536, "WEBP": 16383, "ICO": 256}
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "TGA", "GIF", "ICO", "JPEG2000", "ICNS", "SGI", "DDS",
                  "QOI", "AVIF", "BLP"}
_PNG_PART = 1 << 20               # bytes of PNG rows per thread job (fewer: no pool, ~4 ms)
_PNG_SMALL = 1 << 18              # pixels of a picture deflated at level 6


def _save_format(path: str, name: Optional[str] = None) -> str:
    """Pillow format name for --output_format ``name`` (an extension: "jpg"), else the output's
    extension; PNG for ``-`` and other streams.  Rare types load all plugins (~40 ms)."""
    if name:
        extension, where = "." + name.lower().lstrip("."), "--output_format %s" % name
    else:
        extension, where = os.path.splitext(path)[1].lower(), path
        if not extension and _output_kind(path) == "stream":  # -, /dev/stdout, a FIFO
            extension = ".png"
    if extension == ".png":
        return "PNG"
    from PIL import Image
    Image.preinit()
    fmt = Image.EXTENSION.get(extension) or Image.registered_extensions().get(extension)
    if not extension:
        raise HeatmapError("%s: unknown image type: no file extension (try .png or .jpg, or "
                           "--output_format)" % where)
    if fmt is None or fmt not in Image.SAVE:
        raise HeatmapError("%s: unknown image type %r (try .png or .jpg%s)" % (where, extension,
                           "; a video needs -a" * (extension in (".mp4", ".mkv", ".webm", ".mov"))))
    return fmt


def _check_image_type(path: str, name: Optional[str] = None) -> None:
    """Refuse an output type Pillow cannot write, by writing a 1x1 image of it to memory."""
    fmt = _save_format(path, name)
    if fmt == "PNG":
        return  # our own writer
    from PIL import Image
    for mode in ("RGB", "RGBA") if fmt in _ALPHA_FORMATS else ("RGB",):
        try:
            Image.new(mode, (1, 1)).save(io.BytesIO(), format=fmt)
        except Exception as exc:  # plugins raise OSError, ValueError, KeyError, ...
            raise HeatmapError("%s: cannot write %s images here: %s (try .png or .jpg)"
                               % (path, fmt, exc)) from None


def _check_output_size(config: Config, width: int, height: int) -> None:
    """Refuse, before the work, an -o picture its format cannot hold."""
    if not config.output or config.animate:
        return
    fmt = _save_format(config.output, config.output_format)
    most = _MAX_SIDE.get(fmt)
    if most and max(width, height) > most:
        raise HeatmapError("%s: %s images are at most %d pixels wide and high, not %d x %d"
                           % (config.output, fmt, most, width, height))


def _new_file_mode(path: str) -> int:
    """A written file's mode: its old one, else 0666 less the umask (not mkstemp's private 0600)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _exclusive_temp(folder: str, prefix: str, suffix: str) -> Tuple[int, str]:
    """(fd, path) of a new file prefix + random + suffix, mode 0600 (as mkstemp, a slow import)."""
    for _ in range(100):
        path = os.path.join(folder, prefix + os.urandom(6).hex() + suffix)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError("no free temporary file name in %s" % folder)


def _write_atomic(path: str, write, suffix: str = ".part") -> None:
    """write(temp_path), then rename ``.NAME.XXXX.part`` (``suffix``) over the file (a link's
    target), or copy it from the temp folder into a stream; a failure writes and leaves nothing."""
    stream, target = _output_kind(path) == "stream", os.path.realpath(path)
    folder, prefix, where = os.path.dirname(target), ".%s." % os.path.basename(target)[:64], "in "
    if stream:
        import tempfile
        folder, prefix, where = tempfile.gettempdir(), "heatmap-", "a temporary file in "
    try:
        fd, temp = _exclusive_temp(folder, prefix, suffix)
    except OSError as exc:
        raise HeatmapError("%s: cannot write %s%s: %s"
                           % (path, where, folder, exc.strerror or exc)) from None
    try:
        os.close(fd)
        write(temp)
        if stream:
            with open(temp, "rb") as source:
                _copy_into(path, source)
            _remove_quietly(temp)
            return
        os.chmod(temp, _new_file_mode(target))
        if _output_kind(path) != "file":  # never rename over a FIFO or device made meanwhile
            raise HeatmapError("%s: became a FIFO or device while heatmap.py ran; not replaced"
                               % path)
        os.replace(temp, target)
    except BaseException as exc:  # also Ctrl-C: never leave a partial file behind
        _remove_quietly(temp)
        if isinstance(exc, OSError):
            raise HeatmapError("%s: cannot write: %s" % (path, exc.strerror or exc)) from None
        raise


def _output_kind(path: str) -> str:
    """"file" (regular or none yet: replaced by renaming), "stream" (``-``, a FIFO, a character
    device: written into); HeatmapError for a folder, a block device, a socket, a read-only file."""
    if _open_descriptor(path) is not None:
        return "stream"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "file"  # none yet (a missing folder is reported by _check_output)
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    if stat.S_ISDIR(mode):
        raise HeatmapError("%s: is a folder, not a file" % path)
    if not stat.S_ISREG(mode):
        raise HeatmapError("%s: is not a regular file, a FIFO or a character device; "
                           "refusing to replace it" % path)
    if not mode & 0o222 or not os.access(path, os.W_OK):
        raise HeatmapError("%s: is read-only; refusing to replace it" % path)
    return "file"


def _open_descriptor(path: str) -> Optional[int]:
    """The open descriptor ``path`` names (1 for ``-``, N for /dev/fd/N, /proc/self/fd/N and links
    to them), else None: write into it (a ``>>`` file keeps its start), never replace it."""
    if path == "-":
        return 1
    own = r"/(?:dev|proc/(?:self|%d))/fd/(\d+)" % os.getpid()
    for _ in range(40):  # the kernel's own limit on links followed
        path = os.path.abspath(path)
        match = re.fullmatch(own, path)
        if match:
            return int(match.group(1))
        try:
            path = os.path.join(os.path.dirname(path), os.readlink(path))
        except (OSError, ValueError):
            return None
    return None


def _copy_into(path: str, source) -> None:
    """Copy ``source`` into a FIFO, a device or an open descriptor (``-``, /dev/stdout: stdout)."""
    import shutil
    number = _open_descriptor(path)
    if number == 1:
        if sys.stdout is None:
            raise HeatmapError("%s: standard output is closed" % path)
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", sys.stdout)
        shutil.copyfileobj(source, out)
        out.flush()
        return
    fd = os.dup(number) if number is not None else \
        os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "wb") as out:
        if number is None and stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since checked
            raise HeatmapError("%s: became a regular file while heatmap.py ran" % path)
        shutil.copyfileobj(source, out)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _write_png(path: str, pixels: np.ndarray, level: Optional[int] = None) -> None:
    """uint8 (h, w, 3|4) as PNG at ``level``, else 6 up to _PNG_SMALL pixels (under 5 ms more than
    1) and 3 above (a fifth larger than 6 in a third of its time: test/BENCHMARKS.md)."""
    if not _FAST:
        _pil_image(pixels).save(path, format="PNG")
        return
    with open(path, "wb") as out:
        _png_stream(out, pixels, None, None, level or (
            6 if pixels.shape[0] * pixels.shape[1] <= _PNG_SMALL else 3))


def _png_stream(out, pixels: np.ndarray, workers: Optional[int] = None,
                palette: Optional[np.ndarray] = None, level: int = 6) -> None:
    """Fast path of Pillow's PNG writer: the same pixels; chosen in _write_png/_tile_png; bench row
    "png".  Rows deflated in ~_PNG_PART-byte strips on ``workers`` threads, sync-flushed."""
    height, width = pixels.shape[:2]
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    rows = pixels.reshape(height, -1)
    step = max(1, _PNG_PART // (rows.shape[1] + 1))
    # measured: zlib's "filtered" strategy suits the RGB rows, its default RGBA ones
    strategy = zlib.Z_FILTERED if channels == 3 else zlib.Z_DEFAULT_STRATEGY

    def deflate(top: int) -> Tuple[memoryview, bytes]:
        data = _png_rows(rows, top, min(top + step, height), channels)
        packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        end = zlib.Z_FINISH if top + step >= height else zlib.Z_SYNC_FLUSH
        return data, packer.compress(data) + packer.flush(end)

    kind = {1: 3, 3: 2, 4: 6}[channels]   # PNG colour types: palette, RGB, RGBA
    out.write(b"\x89PNG\r\n\x1a\n")
    _png_chunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, kind, 0, 0, 0))
    if palette is not None:
        _png_chunk(out, b"PLTE", palette[:, :3].tobytes())
        clear = np.flatnonzero(palette[:, 3] != 255)   # alphas up to the last one below 255
        if clear.size:
            _png_chunk(out, b"tRNS", palette[:clear[-1] + 1, 3].tobytes())
    _png_chunk(out, b"IDAT", b"\x78\x9c")  # zlib header: deflate, 32 KB window
    check = 1
    for data, body in _threaded_map(deflate, range(0, height, step), workers):
        check = zlib.adler32(data, check)
        _png_chunk(out, b"IDAT", body)
    _png_chunk(out, b"IDAT", struct.pack(">I", check))
    _png_chunk(out, b"IEND", b"")


def _png_rows(rows: np.ndarray, top: int, end: int, channels: int) -> memoryview:
    """PNG rows top .. end - 1 of uint8 (h, w * channels) filtered "up" (smooth heat), or on RGB
    "sub" where that sums smaller absolute differences, as Pillow chooses (test/BENCHMARKS.md)."""
    current = rows[top:end]
    out = np.empty((end - top, rows.shape[1] + 1), np.uint8)
    out[:, 0] = 2
    np.subtract(current[1:], rows[top:end - 1], out=out[1:, 1:])
    np.subtract(current[0], rows[top - 1] if top else 0, out=out[0, 1:], casting="unsafe")
    if channels == 3:
        sub = np.empty_like(current)
        sub[:, :3] = current[:, :3]
        np.subtract(current[:, 3:], current[:, :-3], out=sub[:, 3:])
        cost = [np.abs(a.view(np.int8)).sum(axis=1, dtype=np.int64) for a in (sub, out[:, 1:])]
        left = cost[0] < cost[1]
        out[left, 0] = 1
        out[left, 1:] = sub[left]
    return out.data   # zlib reads the buffer: no copy


def _png_chunk(out, kind: bytes, body: bytes) -> None:
    out.write(struct.pack(">I", len(body)) + kind)
    out.write(body)
    out.write(struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))


def _save_image(pixels: np.ndarray, path: str, colour: Optional[Tuple[int, int, int]],
                format_name: Optional[str] = None) -> None:
    """Write a _heat_picture as format_name's (else the path's) type; no alpha: on colour/white."""
    fmt = _save_format(path, format_name)

    def write(temp: str) -> None:
        try:
            if fmt == "PNG":
                return _write_png(temp, pixels)
            image = _pil_image(pixels)
            if image.mode == "RGBA" and fmt not in _ALPHA_FORMATS:
                from PIL import Image
                flat = Image.new("RGB", image.size, colour or (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            image.save(temp, format=fmt)
        except (OSError, ValueError, KeyError) as exc:
            raise HeatmapError("%s: cannot write image: %s" % (path, exc)) from None
    _write_atomic(path, write)
    _LOG.info("wrote %s (%d x %d %s)", path, pixels.shape[1], pixels.shape[0],
              "RGBA" if pixels.shape[2] == 4 else "RGB")


# ---- 11.2 Output: georeferenced pictures and state files ----
# Where a picture lies on Earth (the affine transform of its pixels, world files, GeoTIFF,
# Grid), and state files (-S/-L): the picture's values as .npz with JSON metadata, never a
# pickle, and checked before anything of them is allocated.
_CRS = {"mercator": "EPSG:3857", "equirectangular": "EPSG:4326"}
_WGS84 = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
          'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
          'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],')
_CRS_WKT = {"EPSG:4326": _WGS84 + 'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],'
                                  'AUTHORITY["EPSG","4326"]]',
            "EPSG:3857": 'PROJCS["WGS 84 / Pseudo-Mercator",' + _WGS84 +
                         'AUTHORITY["EPSG","4326"]],PROJECTION["Mercator_1SP"],'
                         'PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],'
                         'PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
                         'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],'
                         'AXIS["Northing",NORTH],EXTENSION["PROJ4","+proj=merc +a=6378137 '
                         '+b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null'
                         ' +wktext +no_defs"],AUTHORITY["EPSG","3857"]]'}
_AXIS_MAPPING = {"EPSG:4326": "2,1", "EPSG:3857": "1,2"}   # WKT axes to (x, y) of the data
_STATE_FORMAT = "heatmap.py-state"
_STATE_VERSION = 1
_STATE_MIN_CAPACITY = 1 << 20     # pixels a state file may hold whatever its box
_STATE_MAX_COORD = 1e15           # no state box goes beyond (ours: 2**30); pixel sums stay exact


class Grid(NamedTuple):
    """The heat of a picture before colouring, placed on Earth.

    ``values``: float64 [row, column], the decay-combined heat of each pixel.  ``transform``:
    (a, b, c, d, e, f) with x = a*column + b*row + c and y = d*column + e*row + f at a pixel's
    top-left corner (the order of ``affine.Affine``/rasterio); x/y are metres of ``crs``
    "EPSG:3857" (Web Mercator, for -P mercator) or longitude/latitude of "EPSG:4326"
    (equirectangular).  ``peak``: the largest value anywhere, the top of the colour scale."""
    values: np.ndarray
    transform: Tuple[float, float, float, float, float, float]
    crs: str
    peak: float

    @property
    def most(self) -> float:
        """The name of ``peak`` before 2.1."""
        return self.peak

    @property
    def extent(self) -> Tuple[float, float, float, float]:
        """(left, right, bottom, top) in ``crs`` units: ``imshow(grid.values, extent=...)``."""
        a, _, c, _, e, f = self.transform
        return (c, c + a * self.values.shape[1], f + e * self.values.shape[0], f)

    @property
    def bounds(self) -> Tuple[Tuple[float, float], Tuple[float, float]]:
        """((south, west), (north, east)) in degrees: folium's ``ImageOverlay(image, bounds=...)``
        (a Web Mercator grid lies exactly on a web map)."""
        west, east, south, north = self.extent
        if self.crs == "EPSG:3857":
            west, east = (math.degrees(x / EARTH_RADIUS) for x in (west, east))
            south, north = (math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS)) - math.pi / 2)
                            for y in (south, north))
        return (south, west), (north, east)

    def __repr__(self) -> str:
        return "Grid(%d x %d pixels, %s, bounds (%.6f, %.6f) to (%.6f, %.6f), peak %g)" % (
            *self.values.shape[::-1], self.crs, *self.bounds[0], *self.bounds[1], self.peak)


def _grid_transform(geometry: _PictureGeometry) -> Tuple[Tuple[float, ...], str]:
    """(affine transform, CRS) of a picture's pixels (see :class:`Grid`).  Coordinates truncate
    toward zero, so plane pixel X holds [X, X + 1) for X > 0, (X - 1, X] for X < 0, (-1, 1) for 0:
    centring pixel X on X keeps every point within a pixel of its pixel's centre."""
    x0, y0 = (w + o for w, o in zip(geometry.window()[:2], geometry.origin))  # projected pixels
    unit = (math.pi * EARTH_RADIUS / 180 if geometry.projection == "mercator" else 1) / geometry.ppd
    return (unit, 0.0, (x0 - 0.5) * unit, 0.0, -unit, -(y0 - 0.5) * unit), _CRS[geometry.projection]


def _save_output(config: Config, pixels: np.ndarray, geometry: _PictureGeometry,
                 colour: Optional[Tuple[int, int, int]]) -> None:
    """Write -o and, for --world_file, a GeoTIFF (.tif, rasterio) or a world file and .aux.xml."""
    transform, crs = _grid_transform(geometry)
    if config.world_file and _save_format(config.output, config.output_format) == "TIFF":
        try:
            import rasterio
        except ImportError:
            _LOG.info("a GeoTIFF needs rasterio (pip install \"heatmap.py[geotiff]\"); "
                      "writing a TIFF and a world file")
        else:
            _save_geotiff(rasterio, pixels, config.output, transform, crs)
            return
    _save_image(pixels, config.output, colour, config.output_format)
    if config.world_file:
        _write_world_file(config.output, config.output_format, transform, crs)


def _save_geotiff(rasterio, pixels: np.ndarray, path: str, transform, crs: str) -> None:
    """A deflated RGB(A) GeoTIFF with its CRS and transform, written by rasterio."""
    height, width, bands = pixels.shape
    options = {"alpha": "YES"} if bands == 4 else {}   # GDAL: not premultiplied

    def write(temp: str) -> None:
        try:
            with rasterio.open(temp, "w", driver="GTiff", width=width, height=height, count=bands,
                               dtype="uint8", crs=crs, transform=rasterio.Affine(*transform),
                               photometric="RGB", compress="deflate", **options) as out:
                out.write(np.moveaxis(pixels, 2, 0))
        except rasterio.errors.RasterioError as exc:
            raise HeatmapError("%s: cannot write GeoTIFF: %s" % (path, exc)) from None
    _write_atomic(path, write)
    _LOG.info("wrote %s (GeoTIFF, %s)", path, crs)


def _world_file_names(path: str, format_name: Optional[str]) -> Tuple[str, str]:
    """PATH's world file (.pgw for .png, the extension's ends and w; else .wld) and .aux.xml."""
    base, extension = os.path.splitext(path)
    letters = (extension[1:] or (format_name or "").lstrip(".")).lower()
    return base + "." + (letters[0] + letters[-1] + "w" if letters else "wld"), path + ".aux.xml"


def _write_world_file(path: str, format_name: Optional[str], transform: Tuple[float, ...],
                      crs: str) -> None:
    """Write PATH's world file and .aux.xml naming the CRS, as GDAL reads them."""
    a, _, c, _, e, f = transform
    lines = [a, 0.0, 0.0, e, c + a / 2, f + e / 2]  # world files name pixel centres
    texts = ("".join("%.17g\n" % v for v in lines), '<PAMDataset>\n  <SRS dataAxisToSRSAxis'
             'Mapping="%s">%s</SRS>\n</PAMDataset>\n' % (_AXIS_MAPPING[crs], _CRS_WKT[crs]))
    import pathlib
    for name, text in zip(_world_file_names(path, format_name), texts):
        _write_atomic(name, lambda temp, text=text: pathlib.Path(temp).write_text(text, "ascii"))


def _save_state(path: str, config: Config, result: _CombinedValues) -> None:
    """Write values and geometry as .npz with JSON metadata (no pickle), only the picture's pixels:
    -L draws no others, and the box bounds their number (else data past --extent adds pixels)."""
    xs, ys, vs = result.sparse
    geometry = result.geometry
    x0, y0, x1, y1 = geometry.window()
    inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    xs, ys, vs = xs[inside], ys[inside], vs[inside]
    meta = {"format": _STATE_FORMAT, "version": _STATE_VERSION, "heatmap": __version__,
            "max": result.peak.largest, "ppd": geometry.ppd, "projection": geometry.projection,
            "box": dataclasses.astuple(geometry.box), "radius": config.radius,
            "margin": config.margin, "origin": list(geometry.origin)}

    def write(temp: str) -> None:
        import json
        with open(temp, "wb") as stream:
            np.savez_compressed(stream, meta=np.array(json.dumps(meta)), x=xs.astype(np.int64),
                                y=ys.astype(np.int64), value=vs.astype(np.float64))
    _write_atomic(path, write)


def _load_state(path: str):
    """(metadata dict, x, y, value arrays) of a state file, validated: metadata first, then each
    array's header against the box's pixels, so a crafted file cannot make us allocate more."""
    bad = HeatmapError("%s: not a heatmap.py state file" % path)
    if not os.path.isfile(path):
        raise _not_a_file(path)
    with _open_binary(path) as stream:
        if stream.read(4) != b"PK\x03\x04":  # an .npz is a zip; never unpickle anything else
            raise bad
    import json
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(data.files) != ["meta", "value", "x", "y"] or \
                    data.zip.getinfo("meta.npy").file_size > 1 << 20:
                raise bad
            meta = json.loads(str(data["meta"][()]))
            most = _state_capacity(path, meta, bad)
            for name, dtype in (("x", np.int64), ("y", np.int64), ("value", np.float64)):
                _check_state_column(data.zip, name, dtype, most, path, bad)
            x, y, value = data["x"], data["y"], data["value"]
    except HeatmapError:
        raise
    except MemoryError:
        raise HeatmapError("%s: too large to load" % path) from None
    except Exception:  # zip, npy and json each raise their own types on garbage
        raise bad from None
    if not (x.size == y.size == value.size and bool(np.isfinite(value).all())):
        raise bad
    return meta, x, y, value


def _state_capacity(path: str, meta, bad: HeatmapError) -> int:
    """Check a state file's metadata; returns the pixels its arrays may hold: the saved box's, at
    least _STATE_MIN_CAPACITY (files of 2.0 kept pixels outside the picture)."""
    if not isinstance(meta, dict) or meta.get("format") != _STATE_FORMAT:
        raise bad
    if isinstance(meta.get("version"), bool) or meta.get("version") != _STATE_VERSION:
        raise HeatmapError("%s: state file version %s is not supported"
                           % (path, _quoted(repr(meta.get("version")).encode("utf-8"))))
    box = meta.get("box")
    ok = (_state_number(meta.get("max")) and meta["max"] >= 0
          and _state_number(meta.get("ppd")) and meta["ppd"] > 0
          and isinstance(meta.get("projection", "mercator"), str)
          and meta.get("projection", "mercator") in PROJECTIONS
          and all(_state_number(meta.get(k, 0), whole=True) and meta.get(k, 0) >= 0
                  for k in ("radius", "margin"))
          and isinstance(box, list) and len(box) == 4 and all(_state_number(v) for v in box)
          and box[0] <= box[2] and box[1] <= box[3] and max(map(abs, box)) <= _STATE_MAX_COORD)
    if not ok:
        raise bad
    area = (float(box[2]) - box[0] + 2) * (float(box[3]) - box[1] + 2)  # its whole pixels
    if area > _max_pixels():
        raise HeatmapError("%s: %s" % (path, _too_big(int(area))))
    return max(int(area), _STATE_MIN_CAPACITY)


def _check_state_column(archive, name: str, dtype, most: int, path: str, bad: HeatmapError) -> None:
    """Refuse, from its .npy header alone, a state array not 1-D ``dtype`` or over ``most`` long."""
    from numpy.lib import format as npy
    with archive.open(name + ".npy") as member:
        version = npy.read_magic(member)
        reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, found = reader(member)
    if found != np.dtype(dtype) or len(shape) != 1:
        raise bad
    if shape[0] > most:
        raise HeatmapError("%s: declares %d pixels, more than a state file of its box holds "
                           "(at most %d)" % (path, shape[0], most))


def _state_number(value, whole: bool = False) -> bool:
    """True for a finite JSON number (not a bool) in a state file's metadata."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return False
    with contextlib.suppress(OverflowError):   # an int past float's range
        return math.isfinite(float(value))
    return False


def _render_loaded(config: Config) -> Tuple[np.ndarray, _CombinedValues]:
    meta, xs, ys, vs = _load_state(config.load)
    background, size = _background_scene(config)
    resized, out_w, out_h = _image_box(_Box(*meta["box"]), *size)
    if out_w * out_h > _max_pixels():
        raise HeatmapError("%s: %s" % (config.load, _too_big(out_w * out_h)))
    _check_output_size(config, out_w, out_h)
    origin = meta.get("origin", [0.0, 0.0])  # whole pixels taken off the saved coordinates
    if not (isinstance(origin, list) and len(origin) == 2 and all(map(_state_number, origin))):
        raise HeatmapError("%s: not a heatmap.py state file" % config.load)
    geometry = _PictureGeometry(float(meta["ppd"]), resized, out_w, out_h,
                                origin=(float(origin[0]), float(origin[1])),
                                projection=meta.get("projection", "mercator"))
    window = geometry.window()
    grid = np.zeros((window[3] - window[1], window[2] - window[0]))
    inside = (xs >= window[0]) & (xs < window[2]) & (ys >= window[1]) & (ys < window[3])
    grid[ys[inside] - window[1], xs[inside] - window[0]] = vs[inside]
    values = _image_values(geometry, grid, window)
    result = _CombinedValues(geometry, values, _peak(config, float(meta["max"]), values),
                             (xs, ys, vs))
    return _heat_picture(values, result.peak, _make_scene(config, geometry, background)), result


# ---- 12 Checks ----
# Every option and every output name is checked before any input is read or file written.
def _validate(config: Config, uses: Sequence[str] = ()) -> None:
    _check_settings(config)
    _validate_tiles(config)
    if config.radius > _env_limit("HEATMAP_MAX_RADIUS", _MAX_RADIUS):
        raise HeatmapError("-r/--radius %d is over the limit of %d; set HEATMAP_MAX_RADIUS to "
                           "allow more" % (config.radius, _env_limit("HEATMAP_MAX_RADIUS",
                                                                      _MAX_RADIUS)))
    if config.extent is not None:
        lat1, lon1, lat2, lon2 = config.extent
        if not all(map(math.isfinite, config.extent)) or lat1 == lat2 or lon1 == lon2:
            raise HeatmapError("--extent needs four finite numbers, lat1 != lat2 and lon1 != lon2")
        west, east = min(lon1, lon2), max(lon1, lon2)
        if east - west > 180 and not (west <= -180 and east >= 180):
            _LOG.warning("--extent spans %g degrees of longitude, from %g to %g, the long way "
                         "round: a box never crosses the antimeridian (180 degrees)"
                         % (east - west, west, east))
        _check_latitudes(config, _extent_box(config.extent))
    disabled, _LOG.disabled = _LOG.disabled, True  # its warnings come when it is used
    try:
        _colour_table(config)
    finally:
        _LOG.disabled = disabled
    if config.background:
        _parse_colour(config.background)
    if config.background_image:
        if not os.path.exists(config.background_image):
            raise HeatmapError("%s: no such background image" % config.background_image)
        _image_file(config.background_image, "background image", load=False)   # its header
    _validate_osm(config)
    _validate_time(config)
    _validate_files(config)
    if config.width and config.height:
        if config.width * config.height > _max_pixels():
            raise _too_big(config.width * config.height)
        _check_output_size(config, config.width, config.height)
    _warn_idle(config, uses)


# What a run leaves unused, by setting (one registry): each one given is warned of, not ignored.
_LOAD_IDLE = ("radius", "decay", "kernel", "scale", "projection", "extent", "margin", "dask",
              "jump_warning", "filetype", "csv_columns", "ignore_csv_header", "time_column",
              "weight_property", "time_property", "strict")


def _idle_settings(c: Config) -> List[Tuple[Tuple[str, ...], bool, str]]:
    """(settings, whether this run leaves them unused, why) for _warn_idle."""
    folder, image = bool(c.tiles) and not c.tiles.lower().endswith(".mbtiles"), c.background_image
    return [
        (("zoom", "osm_exact_size", "osm_cache", "osm_no_cache"), not c.osm, "without --osm"),
        (("osm_attribution",), not (c.osm or c.tiles), "without --osm or --tiles"),
        (("osm_base", "osm_path_template"), not (c.osm or folder),
         "without --osm or a --tiles folder (its viewer page)"),
        (("leaflet_url",), not folder, "without a --tiles folder (its viewer page)"),
        (("tile_zoom",), not c.tiles, "without --tiles"),
        (("margin",), bool(c.tiles), "with --tiles"),
        (("fps", "frequency", "straggler_threshold", "ffmpegopts", "keepframes"), not c.animate,
         "without -a/--animate"),
        (("frequency", "straggler_threshold"), c.frame_time is not None, "with --frame_time"),
        (("frame_label",), c.frame_time is None, "without --frame_time"),
        (("max_gap",), _track_rule(c) != "time", "without --track_weight time"),
        (("output_format",), not c.output, "without -o/--output"),
        (("background_brightness", "invert_background"), not (image or c.osm),
         "without -I/--background_image or --osm"),
        (("width", "height"), bool(image), "with -I/--background_image: it gives the size"),
        (("width", "height"), c.osm and not c.osm_exact_size and c.zoom, "with --osm and "
         "-z/--zoom: the data's box gives the size (unless --osm_exact_size)"),
        (("background",), bool(c.osm or image), "with --osm or -I/--background_image"),
        (("hsva_min", "hsva_max"), bool(c.gradient or c.colormap), "with -G/--gradient or "
         "--colormap"),
        (_LOAD_IDLE, bool(c.load), "with -L/--load: the state file holds the heat")]


def _warn_idle(config: Config, uses: Sequence[str]) -> None:
    """Warn of each setting given that this run leaves unused (``uses``: a library call's own)."""
    defaults, flags = Config(), None
    for names, idle, why in _idle_settings(config):
        for name in names if idle else ():
            if name not in uses and repr(getattr(config, name)) != repr(getattr(defaults, name)):
                flags = flags or {a.dest: "/".join(a.option_strings) for a in _parser()._actions}
                _LOG.warning("%s has no effect %s", flags[name], why)


def _check_settings(config: Config) -> None:
    """Each setting has its Config type, is one of its _CHOICES, or a number in its _RANGES."""
    for name, hint in _config_hints().items():
        value = getattr(config, name)
        timed = name in ("time_range", "frame_time", "fade", "max_gap")  # text too (_validate_time)
        if not timed and not _has_type(value, hint):
            raise HeatmapError("%s must be %s, not %s" % (
                name, Config.__dataclass_fields__[name].type, _shown(value)))
    for name, flag, choices in _CHOICES:
        if getattr(config, name) not in choices():
            raise HeatmapError("%s must be one of %s, not %s" % (
                flag, ", ".join(choices()), _shown(getattr(config, name))))
    for name, flag, low, high, above in _RANGES:
        value, number = getattr(config, name), math.nan
        with contextlib.suppress(TypeError, ValueError):
            number = float(value)
        if value is None or (math.isfinite(number) and (number > low if above else number >= low)
                             and (high is None or number <= high)):
            continue
        if high is not None:
            allowed = "between %g and %g" % (low, high)
        elif low == 0:
            allowed = ("positive" if isinstance(value, int) else "a positive number") if above \
                else "a non-negative number"
        else:
            allowed = "at least %g" % low
        shown = "%g" % number if not math.isnan(number) else _quoted(str(value).encode())
        raise HeatmapError("%s must be %s, not %s" % (flag, allowed, shown))


def _has_type(value: Any, hint: Any) -> bool:
    """``value`` has a Config field's type ``hint`` (numpy's numbers count; finiteness: _RANGES)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        return any(_has_type(value, arg) for arg in args)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and (origin is list or len(value) == len(args)) \
            and all(_has_type(v, args[0 if origin is list else i]) for i, v in enumerate(value))
    if hint in (int, float):
        return isinstance(value, (int, np.integer) if hint is int else
                          (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _validate_files(config: Config) -> None:
    """Inputs exist, a size is given, outputs are writable and clobber no input; warn of no-ops."""
    if config.load:
        if config.files:
            _LOG.warning("input files are ignored with -L/--load")
        if _needs_times(config) or config.max_jump or config.trim_ends or \
                config.track_weight != "segment":
            raise HeatmapError("-L/--load cannot apply the time and track options again")
        if config.animate:
            raise HeatmapError("-a/--animate cannot be used with -L/--load: a state file keeps "
                               "the heat, not the inputs to animate")
    else:
        for path in [] if config.dask else config.files:   # --dask: globs and URLs too
            _check_input_path(path)
        if config.csv_columns is not None:
            _csv_column_parts(config.csv_columns)
        if config.files.count("-") > 1:
            raise HeatmapError("-: standard input can be read only once")
        if config.files and not (config.osm or config.width or config.height or config.scale
                                 or config.background_image or config.tiles):
            raise HeatmapError(_NO_SIZE)
    outputs = _output_names(config)
    for i, (flag, path) in enumerate(outputs):
        _check_output(config, flag, path)
        for other_flag, other in outputs[:i]:
            if _same_file(path, other):
                raise HeatmapError("%s: %s and %s name the same file" % (path, other_flag, flag))
    if config.output and not config.animate:
        _check_image_type(config.output, config.output_format)
    if config.animate and config.output:
        _video_extension(config)
    if config.output and config.output_format:
        _check_format_agrees(config)


def _check_format_agrees(config: Config) -> None:
    """--output_format gives the type -o's name does not: a name of another type is refused."""
    extension = os.path.splitext(config.output)[1].lower()
    wanted = config.output_format.lower().lstrip(".")
    named = extension[1:] if extension[1:] in ("gif", "mp4", "m4v", "mov", "mkv", "webm") else \
        wanted
    if not config.animate:
        from PIL import Image
        wanted = _save_format(config.output, config.output_format)
        named = Image.registered_extensions().get(extension, wanted)
    if named != wanted:
        raise HeatmapError("%s: the name gives another type than --output_format %s"
                           % (config.output, config.output_format))


def _output_names(config: Config) -> List[Tuple[str, str]]:
    """(flag, path) of every file a run writes but tiles: -o, its world file and .aux.xml, -S."""
    beside = _world_file_names(config.output, config.output_format) if config.world_file else ()
    names = [("-o/--output", config.output)] + [("--world_file", n) for n in beside]
    return [(flag, path) for flag, path in names + [("-S/--save", config.save)] if path]


def _check_output(config: Config, flag: str, path: str) -> None:
    """Refuse an -o/-S target that cannot or must not be written, before any work."""
    if path == "-":  # standard output: never one of the input files
        if sys.stdout is not None and sys.stdout.isatty():
            raise HeatmapError("-: %s would write binary data to the terminal; redirect "
                               "standard output (> file, or | program)" % flag)
        return
    if os.path.isdir(path):
        raise HeatmapError("%s: is a folder; %s needs a file name" % (path, flag))
    _output_kind(path)  # a block device, a socket, a read-only file
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise HeatmapError("%s: folder %s does not exist" % (path, folder))
    inputs = list(config.files) + _sidecar_files(config.files) + [config.background_image,
                                                             config.gradient, config.load]
    for other in inputs:
        if other and other != "-" and _same_file(path, other) and not (
                other == config.load and path == config.save):
            raise HeatmapError("%s: %s would overwrite an input file" % (path, flag))


# ---- 13 Pipeline and library API ----
# One run: read, shape (section 8), bin (3, 4), combine (5), colour (6, 7) and write (11),
# for the command line and the library alike (with Dask: read, shape and bin on the workers).
# The public functions take any input (2.7), a Config and/or its fields by name (refusing
# those they would ignore), and raise HeatmapError naming settings, not flags.
_LIBRARY_ROWS = 1 << 20   # rows of the library's arrays checked and binned at a time
_HELD_BYTES = 1 << 26     # bytes of input arrays held for several passes, at most
_DASK_CLIENTS: dict = {}   # --dask ADDRESS: its Client, made once a process


@dataclass
class _CombinedValues:
    """A finished accumulation: values over the image, the maximum, the geometry."""
    geometry: _PictureGeometry
    values: np.ndarray
    peak: float
    sparse: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None


def _input_batches(config: Config, batches: Optional[Iterable[object]] = None) -> Iterable[object]:
    """The input of every output: the files' batches (read anew each pass) or the library's, checked
    and shaped by the track and time options; with --dask, or dask DataFrames, a cluster's parts."""
    if batches is None and not config.dask:
        return _Files(config)
    batches = _DaskParts() if batches is None else batches
    if isinstance(batches, _DaskParts):
        return batches.on(config)
    if config.dask is not None:
        raise HeatmapError("--dask runs files and dask DataFrames on a cluster, not data in memory")
    batches = (type(b)(*(None if a is None else a[i:i + _LIBRARY_ROWS] for a in b))   # views
               for b in batches for i in range(0, max(len(b[0]), 1), _LIBRARY_ROWS))
    return _apply_track_time_options(config, (_check_batch(config, b) for b in batches))


@dataclass
class _Files:
    """The input files' batches, checked (by read()) and shaped; each pass reads them anew."""
    config: Config

    def __iter__(self) -> Iterator[object]:
        config = self.config
        return iter(_apply_track_time_options(config, _read_files(config, lenient=False)))


def _held(config: Config, batches: Iterable[object]) -> Iterable[object]:
    """The input for several passes: in a list (a pipe, and -v says so), unless each pass reads it
    anew: a cluster's, or files whose arrays pass _HELD_BYTES (found by reading until they do)."""
    pipe = isinstance(batches, _Files) and not all(map(os.path.isfile, config.files))
    if pipe:
        _LOG.info("the input is held in memory (a pipe is read once; --extent streams a picture)")
    if isinstance(batches, _DaskParts):
        return batches
    held, size = [], 0
    for batch in batches:
        held.append(batch)
        size += sum(a.nbytes for a in batch if a is not None)
        if size > _HELD_BYTES and isinstance(batches, _Files) and not pipe:
            return batches
    return held


class _DaskParts:
    """The input on a Dask cluster, a task each: files (paths, absolute as the workers' folder is
    not ours, globs or URLs) or a DataFrame's partitions (``columns``: render()'s spec)."""
    def __init__(self, parts: Optional[list] = None, columns: Optional[tuple] = None):
        self.parts, self.columns = parts, columns

    def on(self, config: Config) -> "_DaskParts":
        scheduler = _dask_client(config)   # first: it says how to install what is missing
        self.compute = functools.partial(__import__("dask").compute, scheduler=scheduler)
        if self.parts is None:
            found = [__import__("fsspec").open_files(path, "rb") for path in config.files]
            for pattern in (p for p, more in zip(config.files, found) if not more):
                raise HeatmapError("%s: no such file" % pattern)
            self.parts = [f.path if "file" in f.fs.protocol else f for more in found for f in more]
        self.config = dataclasses.replace(config, dask=None)
        return self

    def _pass(self, how) -> list:
        work = functools.partial(_dask_part, config=self.config, columns=self.columns, how=how)
        return [__import__("dask").delayed(work, pure=False)(part) for part in self.parts]

    def __iter__(self) -> Iterator[object]:   # each part's batches, fetched here
        for part in self._pass(None):
            yield from self.compute(part)[0]

    def box(self) -> _Box:
        return _data_box(box for box in self.compute(*self._pass("box")) if box is not None)

    def binned(self, acc: _Accumulator, ppd: float, origin) -> _Accumulator:
        level = self._pass((acc.grid.region, acc.sums, ppd, origin))
        while len(level) > 1:   # merged in pairs on the workers, in input order
            pairs = [__import__("dask").delayed(_Accumulator.merge)(a, b)
                     for a, b in zip(level[::2], level[1::2])]
            level = pairs + level[2 * len(pairs):]
        return acc.merge(self.compute(level[0])[0])


def _dask_part(part, config: Config, columns: Optional[tuple], how):
    """A partition's work on a Dask worker: its batches (``how`` None), its box or None ("box"), or
    its accumulation on the grid of ``how`` (region, sums, ppd, origin), which never grows."""
    batches = _input_batches(config, _read_files(_config_with(config, {"files": [part]}), True)
                             if columns is None
                             else _library_batches(config, part, *columns))
    if how is None or how == "box":
        return _data_box(batches, empty=True) if how else list(batches)
    acc = _Accumulator(how[0], sums=how[1])
    acc.grid.limit = _rect_area(how[0])
    _binned(config, batches, acc, *how[2:]).result()   # (sent smaller: nothing left waiting)
    return acc


def _dask_client(config: Config) -> object:
    """config.dask's scheduler: None (dask's) or a Client (address, local:N) sent this file."""
    where = config.dask
    if config.animate:
        raise HeatmapError("--dask cannot be used with -a/--animate")
    if isinstance(where, str) and where not in _DASK_CLIENTS:
        distributed = _import_extra("distributed", "dask[distributed]", "dask", "--dask")
        local = re.fullmatch(r"local:([1-9]\d*)", where)
        try:
            _DASK_CLIENTS[where] = distributed.Client(
                n_workers=int(local.group(1)), threads_per_worker=1, dashboard_address=None,
                silence_logs=logging.CRITICAL) if local else distributed.Client(where, timeout=10)
        except (OSError, ValueError, TimeoutError) as exc:
            raise HeatmapError("--dask %s: %s" % (where, _one_line(exc))) from None
        _DASK_CLIENTS[where].upload_file(__file__, load=False)   # imported as the workers need
    return _DASK_CLIENTS.get(where, where)


def _read_and_bin(config: Config, batches: Iterable[object], record: bool = False,
                  size: Optional[Tuple[Optional[int], Optional[int]]] = None
                  ) -> Tuple[_PictureGeometry, "_Accumulator"]:
    """Project and bin :func:`_input_batches`, streaming when --extent fixes the geometry, else
    after a pass for the data's box (_held); ``record``: keep input order (-a); ``size``: -I's."""
    if size is None:
        _, size = _background_scene(config)
    box_ll = _extent_box(config.extent) if config.extent else None
    if not (config.extent and (config.scale or size[0] or size[1])):
        batches = _held(config, batches)
        box_ll = box_ll or _data_box(batches)
    _check_latitudes(config, box_ll)
    geometry = _picture_geometry(config, box_ll, size)
    _check_output_size(config, geometry.width, geometry.height)
    _LOG.info("scale %.6g pixels/degree; image %d x %d", geometry.ppd, geometry.width,
              geometry.height)
    acc = _Accumulator(_grown_rect(geometry.window(), config.radius), record, config.decay == 1.0)
    acc = _binned(config, batches, acc, geometry.ppd, geometry.origin)
    _LOG.info("%d inputs read and binned", acc.inputs)
    if not acc.inputs:
        raise HeatmapError("no data points in the input")
    return geometry, acc


def _combine_values(config: Config, geometry: _PictureGeometry, acc: "_Accumulator",
                    keep_all: bool = False) -> _CombinedValues:
    """Decay-combine everything accumulated into the image's values."""
    entries, segments, counts = acc.result()
    window = geometry.window()
    grid, largest, kept = _Engine(config).run(entries, segments, window, keep_all, counts)
    _LOG.info("values combined (decay %g); largest %g", config.decay, largest)
    values = _image_values(geometry, grid, window)
    if config.extent and not values.any():
        _LOG.warning("no input lies inside --extent %s (lat1,lon1,lat2,lon2: GeoPandas' "
                     "total_bounds are lon,lat)" % ",".join("%g" % v for v in config.extent))
    return _CombinedValues(geometry, values, _peak(config, largest, values),
                           tuple(kept) if keep_all else None)


def _config_with(config: Optional[Config], settings: dict) -> Config:
    """``config`` (or defaults) with ``settings``; paths as text, a file a list, a zoom a pair."""
    if not isinstance(config, (Config, type(None))):
        raise HeatmapError("config must be a heatmap.Config, not %s" % type(config).__name__)
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        raise HeatmapError("unknown setting %s (the fields of heatmap.Config are the settings)"
                           % ", ".join(unknown))
    config = dataclasses.replace(config or Config(), **settings)
    paths = {k: os.fspath(v) for k, v in vars(config).items() if isinstance(v, os.PathLike)}
    files, zoom = paths.pop("files", config.files), config.tile_zoom
    if isinstance(files, Iterable) and not isinstance(files, str):
        files = [os.fspath(f) if isinstance(f, os.PathLike) else f for f in files]
    if isinstance(zoom, (int, np.integer)) and not isinstance(zoom, bool):
        zoom = (int(zoom), int(zoom))
    return dataclasses.replace(config, **paths, tile_zoom=zoom,
                               files=[files] if isinstance(files, str) else files)


# What each library function uses, by command-line group or setting ("-name": not that one):
# any other setting given (not at its default) is an error, as the function would ignore it.
_USES = {"render": ("input", "size and projection", "heat", "colour", "background and map"),
         "render_frames": ("input", "size and projection", "heat", "colour", "background and map",
                           "animation", "-ffmpegopts", "-keepframes", "-fps"),
         "render_grid": ("input", "size and projection", "heat", "background and map",
                         "-background", "-background_brightness", "-invert_background",
                         "-osm_attribution"),
         "render_tiles": ("input", "size and projection", "heat", "colour", "tile_zoom"),
         "colour": ("colour", "background")}


def _library_input(function: Optional[str], config: Optional[Config], settings: dict,
                   data: Any = None, lon: Any = None, weight: Any = None, lat: Any = None,
                   time: Any = None, skip_invalid: bool = False) -> Tuple[Config, Any]:
    """The settings (a Config in ``lon``'s place moves), checked, those ``function`` leaves unused
    refused (None: none, "run": files), and the batches of ``data`` (see :func:`render`) or None."""
    if isinstance(lon, Config) and config is None:  # render(data, config)
        lon, config = None, lon
    config = _config_with(config, settings)
    _check_settings(config)
    groups, defaults = _settings_by_flag()[1], Config()
    uses = _USES.get(function or "", ())
    for name, value in vars(config).items():
        used = function is None or name != "files" and (function == "run" or (
            groups.get(name) in uses or name in uses) and "-" + name not in uses)
        if not used and repr(value) != repr(getattr(defaults, name)):
            animates = ", render_frames() animates" * (groups.get(name) == "animation")
            raise HeatmapError("%s() has no use for the setting %s%s" % (function, name, (
                " with data" if function == "run" else " (run() takes them all%s)" % animates)))
    _validate(config, uses)
    if data is None and lat is None:
        return config, None
    spec = {"lat": lat, "lon": lon, "weight": weight, "time": time}
    return config, _library_batches(config, data, spec, skip_invalid)


@_setting_errors
def render(data: Any = None, lon: Any = None, config: Optional[Config] = None, weight: Any = None,
           *, lat: Any = None, time: Any = None, skip_invalid: bool = False,
           **settings: Any) -> Image.Image:
    """Render points or tracks to a Pillow image.

    ``data`` (also of render_grid, render_tiles, render_frames, run, tracks): latitudes with ``lon``
    (``weight``, ``time``) array-likes in degrees; a table (pandas, polars, a dict of arrays) with
    columns ``lat``/``lon``/``weight``/``time`` (else lat and lon found by name); GeoPandas data or
    ``__geo_interface__`` of points and lines (any CRS); Points/Segments batches (or one); or a path
    or list of paths.  Times: datetime64 of any unit, time-zone aware (naive: UTC), ISO 8601 text or
    Unix seconds.  ``config`` and ``settings`` (Config fields by name) give size, kernel, colours
    and background; an unused one is an error.  A bad row (missing, non-finite, out of range) is an
    error naming it, or skipped with ``skip_invalid``.

    ``decay`` (0.95) combines what lands on a pixel: its contributions, largest first, weigh 1,
    decay, decay**2, ..., so a pixel saturates near 1 / (1 - decay) = 20 contributions; ``decay=1``
    is a plain kernel-weighted sum (and about 10x faster for weighted points)."""
    config, batches = _library_input("render", config, settings, data, lon, weight, lat, time,
                                     skip_invalid)
    background, size = _background_scene(config)
    result = _combine_values(config, *_read_and_bin(config, _input_batches(config, batches),
                                                    size=size))
    scene = _make_scene(config, result.geometry, background)
    return _pil_image(_heat_picture(result.values, result.peak, scene))


render_data = render   # its name in 2.0, for Points and Segments batches


@_setting_errors
def render_grid(data: Any = None, lon: Any = None, config: Optional[Config] = None,
                weight: Any = None, *, lat: Any = None, time: Any = None,
                skip_invalid: bool = False, **settings: Any) -> Grid:
    """The values of the picture :func:`render` draws, placed on Earth: a :class:`Grid` (for
    folium, matplotlib, xarray, rasterio); :func:`colour` paints it."""
    config, batches = _library_input("render_grid", config, settings, data, lon, weight, lat, time,
                                     skip_invalid)
    result = _combine_values(config, *_read_and_bin(config, _input_batches(config, batches),
                                                    size=_background_scene(config)[1]))
    return Grid(result.values, *_grid_transform(result.geometry), float(result.peak))


@_setting_errors
def colour(grid: Grid, config: Optional[Config] = None, **settings: Any) -> Image.Image:
    """The picture of a :class:`Grid`: ``colour(render_grid(data, **s), **c)`` is ``render(data,
    **s, **c)`` for colour settings ``c`` (hsva_min, hsva_max, gradient, colormap, colour_scale,
    colour_max, background)."""
    config = _library_input("colour", config, settings)[0]
    if not isinstance(grid, Grid):
        raise HeatmapError("colour() paints a Grid (of render_grid), not %s" % type(grid).__name__)
    scene = _Scene(None, _colour_table(config), None,
                   _parse_colour(config.background) if config.background else None)
    return _pil_image(_heat_picture(grid.values, _peak(config, grid.peak, grid.values), scene))


@_setting_errors
def render_tiles(data: Any = None, lon: Any = None, config: Optional[Config] = None,
                 weight: Any = None, *, lat: Any = None, time: Any = None,
                 skip_invalid: bool = False, **settings: Any
                 ) -> Iterator[Tuple[int, int, int, bytes]]:
    """``(zoom, x, y, png)`` of each Web Mercator XYZ tile (256x256 RGBA, ``y`` from the north) with
    heat, the input (as for :func:`render`) read now; ``tile_zoom``: a zoom, (first, last) or None
    (from the data); each zoom coloured as one picture (``colour_max``: all alike)."""
    config, batches = _library_input("render_tiles", config, settings, data, lon, weight, lat, time,
                                     skip_invalid)
    _tile_options(config)
    held = _held(config, _input_batches(config, batches))
    return _tile_stream(config, held, _tile_plan(config, held), None)


@_setting_errors
def render_frames(data: Any = None, lon: Any = None, config: Optional[Config] = None,
                  weight: Any = None, *, lat: Any = None, time: Any = None,
                  skip_invalid: bool = False, **settings: Any) -> Iterator[Image.Image]:
    """The frames of the animation of the input (as for :func:`render`, read now) as Pillow
    images: paced by ``frame_time`` (``fade``) or ``frequency``, as run(animate=True) draws."""
    config, batches = _library_input("render_frames", config, dict(settings, animate=True),
                                     data, lon, weight, lat, time, skip_invalid)
    background, size = _background_scene(config)
    geometry, acc = _read_and_bin(config, _input_batches(config, batches), record=True, size=size)
    frames = _frame_pictures(config, geometry, acc, _make_scene(config, geometry, background),
                             _frame_plan(config, acc))
    return (_pil_image(picture) for picture, _ in frames)


@_setting_errors
def run(data: Any = None, lon: Any = None, config: Optional[Config] = None, weight: Any = None,
        *, lat: Any = None, time: Any = None, skip_invalid: bool = False,
        **settings: Any) -> None:
    """Do what the settings ask (a picture, video, tiles, state file) as the command line does, of
    ``files`` or ``data`` (as for :func:`render`): ``run(df, time="t", animate=True, width=800,
    frame_time="1h", output="a.mp4")``."""
    if isinstance(data, Config) and config is None:   # run(config)
        data, config = None, data
    _run_config(*_library_input(None if data is None and lat is None else "run", config,
                                settings, data, lon, weight, lat, time, skip_invalid))


def _run_config(config: Config, batches: Optional[Iterable[object]] = None) -> None:
    """run() of the files or the library's ``batches``; for main(), errors name flags."""
    _validate(config)
    if not (config.files or config.load or batches is not None):
        raise HeatmapError("no input files")
    if config.load and batches is not None:
        raise HeatmapError("-L/--load draws the state file: it takes no data")
    if not (config.output or config.save or config.tiles):
        raise HeatmapError("nothing would be written: give -o/--output, -S/--save or --tiles")
    if not config.load and (config.animate or config.tiles):
        return (_run_animation if config.animate else _run_tiles)(config, batches)
    if config.load:
        image, result = _render_loaded(config)
        colour = _parse_colour(config.background) if config.background else None
    else:
        background, size = _background_scene(config)  # -I is read once, before the input
        result = _combine_values(config, *_read_and_bin(config, _input_batches(config, batches),
                                                        size=size), keep_all=bool(config.save))
        if result.geometry.width * result.geometry.height > _max_pixels():
            raise _too_big(result.geometry.width * result.geometry.height)
        if config.output:
            scene = _make_scene(config, result.geometry, background)
            image, colour = _heat_picture(result.values, result.peak, scene), scene.colour
    if config.output:
        _save_output(config, image, result.geometry, colour)
    if config.save:
        _save_state(config.save, config, result)


def _run_animation(config: Config, batches: Optional[Iterable[object]]) -> None:
    """-a: frames and a video, then -S of the final state if asked."""
    if not config.output:
        raise HeatmapError("--animate needs -o/--output for the video")
    import shlex
    try:
        shlex.split(config.ffmpegopts or "")
    except ValueError as exc:
        raise HeatmapError("-F/--ffmpegopts: %s" % exc) from None
    ffmpeg = _find_ffmpeg()
    background, size = _background_scene(config)
    geometry, acc = _read_and_bin(config, _input_batches(config, batches), record=True, size=size)
    _animate(ffmpeg, config, geometry, acc, _make_scene(config, geometry, background))
    if config.save:
        _save_state(config.save, config, _combine_values(config, geometry, acc, keep_all=True))


def _run_tiles(config: Config, batches: Optional[Iterable[object]]) -> None:
    """--tiles: read the input, then write the tiles as a folder or an MBTiles file."""
    held = _held(config, _input_batches(config, batches))
    plan = _tile_plan(config, held)
    _LOG.info("tiles at zooms %d-%d", plan.zooms[0], plan.zooms[-1])
    write = _write_mbtiles if config.tiles.lower().endswith(".mbtiles") else _write_tile_folder
    count = write(config, plan, functools.partial(
        _tile_stream, config, held, plan, os.path.dirname(os.path.realpath(config.tiles))))
    _LOG.info("wrote %d tiles to %s", count, config.tiles)


# ---- 14 Command line ----
# argparse from the option groups below (defaults from Config); messages as one line on stderr
# (warnings of one kind counted after the first few); Ctrl-C and SIGTERM leave nothing half-written.
def _extent_arg(text: str) -> Tuple[float, float, float, float]:
    values = ()
    with contextlib.suppress(ValueError):
        values = tuple(float(p) for p in text.split(","))
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError("expected four numbers lat1,lon1,lat2,lon2, got %r" % text)
    return values


_HELP_DESCRIPTION = """\
Plot a heat map from coordinate data: every point, or track segment, adds a
blob of heat around it; where blobs pile up the colour runs from -m/--hsva_min
to -M/--hsva_max.  Writes an image (the type follows the extension of -o) or,
with -a, a video.

input formats (--filetype; "auto" goes by the extension, also under .gz, else
by the content):
%s
  A weight multiplies a point's heat (default 1).  Files of different types
  can be mixed; "-" is standard input; .gz, .bz2 and .xz are decompressed."""


_HELP_EPILOG = """\
examples:
  heatmap.py -W 800 -o photos.png photos.txt
      800 pixels wide, the height follows the data; transparent background
  heatmap.py -r 3 -d 0.8 -b black -W 1000 -o rides.png rides/*.gpx
      GPS tracks as lines of heat, on black
  heatmap.py --osm -W 800 --osm_attribution -o map.png trip.gpx
      on OpenStreetMap tiles, credited in the corner

environment:
  HEATMAP_MAX_PIXELS  largest image drawn (default %d pixels)
  HEATMAP_MAX_RADIUS  largest -r/--radius (default %d)
  HEATMAP_MAX_TILES   most tiles --tiles writes (default %d)
  HEATMAP_MAX_RATIO   most times its size a .gz, .zip or .kmz input unpacks to (default %d)
  HEATMAP_USER_AGENT  User-Agent sent to tile servers (add your contact)
  XDG_CACHE_HOME      the map tile cache is heatmap.py/tiles in it (default
                      ~/.cache)
  COLUMNS             width of this help (default: the terminal's)

exit status:
  0    done
  2    an error, told in one line on stderr: a bad option or input file,
       nothing written
  130  interrupted (Ctrl-C), nothing written
  143  stopped by SIGTERM (129: SIGHUP), nothing written""" % (_MAX_PIXELS, _MAX_RADIUS,
                                                                _MAX_TILES, _MAX_RATIO)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help: "(default: X)" only where worth naming; description and epilog keep their breaks."""
    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _terminal_columns() -> int:
    """$COLUMNS, else the width of the terminal on stdout, else 80 (shutil's rules)."""
    columns = 0
    with contextlib.suppress(ValueError):
        columns = int(os.environ.get("COLUMNS", ""))
    if columns <= 0:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
    return columns if columns > 0 else 80


def _parser() -> argparse.ArgumentParser:
    import textwrap
    width = max(40, min(_terminal_columns(), 100) - 2)   # the input formats: a paragraph a row
    formats = "\n".join(textwrap.fill(
        "(%s) %s" % (", ".join(row.extensions), row.help), width, initial_indent="  %-9s" % kind,
        subsequent_indent=" " * 11) for kind, row in _FORMATS.items())
    # a formatter per option argparse adds: given no width, each imports shutil (bz2, lzma: 3 ms)
    formatter = functools.partial(_HelpFormatter, width=_terminal_columns() - 2)
    p = argparse.ArgumentParser(prog="heatmap.py", description=_HELP_DESCRIPTION % formats,
                                epilog=_HELP_EPILOG, formatter_class=formatter)
    defaults = Config()
    for title, options in _OPTION_GROUPS:
        options(p.add_argument_group(title).add_argument, defaults)
    return p


def _input_options(add, d: Config) -> None:
    add("files", nargs="*", metavar="FILE", help="input files (formats: see above)")
    for flags, kind in _LEGACY_INPUTS:
        add(*flags, dest="legacy_" + kind, metavar="FILE", help=argparse.SUPPRESS)
    add("--filetype", choices=["auto"] + list(READERS), default=d.filetype, metavar="TYPE",
        help="treat all inputs as this type (auto: by the extension, else the content): "
             + ", ".join(READERS))
    add("--ignore_csv_header", action="store_true", help="ignore the first line of CSV files")
    add("--csv_columns", metavar="LAT,LON[,WEIGHT[,TIME]]", default=d.csv_columns,
        help="CSV columns by header name (the header is skipped) or number; WEIGHT may be empty")
    add("--weight_property", metavar="NAME", default=d.weight_property,
        help="GeoJSON: the feature property that holds a point's weight")
    add("--time_property", metavar="NAME", default=d.time_property,
        help='GeoJSON: the feature property that holds the time (default: "time", "timestamp")')
    add("--dask", metavar="ADDRESS", default=d.dask, help="read and bin the input files (paths, "
        "globs or URLs fsspec reads; a task each) on a Dask cluster: its scheduler's address, or "
        "local:N for N local worker processes (needs the dask extra)")
    add("--time_column", action="store_true", default=d.time_column,
        help="plain text: a 4th field on a line is its time (ISO 8601 or Unix seconds)")
    add("--time_range", metavar="START,END", type=_time_range_arg, default=d.time_range,
        help="keep only inputs whose times lie from START to END, both included: ISO 8601 "
             "times, dates (a whole day) or Unix seconds; either may be empty")
    add("--max_jump", metavar="METRES", type=float, default=d.max_jump,
        help="drop track segments longer than this (GPS glitches, tunnels)")
    add("--trim_ends", metavar="METRES", type=float, default=d.trim_ends,
        help="take this much off the start and the end of every track (privacy)")
    add("--jump_warning", metavar="METRES", type=float, default=d.jump_warning,
        help="warn of a file with a longer track segment (a GPS jump?); 0: never")
    add("--strict", action="store_true", default=d.strict,
        help="of several input files, one that cannot be read is an error, not skipped")


def _size_options(add, d: Config) -> None:
    add("-s", "--scale", type=float, default=d.scale, help="metres per pixel, approximate")
    add("-W", "--width", type=int, default=d.width, help="width of output image")
    add("-H", "--height", type=int, default=d.height, help="height of output image")
    add("-P", "--projection", metavar="NAME", choices=list(PROJECTIONS), default=d.projection,
        help="map projection: " + ", ".join(PROJECTIONS))
    add("-e", "--extent", metavar="RANGE", type=_extent_arg, default=d.extent,
        help="clip to lat1,lon1,lat2,lon2 (square mercator: -85.0511,-180,85.0511,180)")
    add("-R", "--margin", type=int, default=d.margin,
        help="keep data at least this many pixels from the border")


def _heat_options(add, d: Config) -> None:
    add("-r", "--radius", type=int, default=d.radius, help="pixel radius of point blobs")
    add("-d", "--decay", type=float, default=d.decay,
        help="in [0,1]: 1 sums the contributions to a pixel, 0 takes their maximum")
    add("-k", "--kernel", choices=list(KERNELS), default=d.kernel, help="falloff function")
    add("--track_weight", choices=("segment", "length", "time"), default=d.track_weight,
        help="a track's heat per segment logged (the original's), per metre, or per second")
    add("--weight_by_time", action="store_true", default=d.weight_by_time,
        help="short for --track_weight time: time spent there glows")
    add("--max_gap", metavar="DURATION", type=_duration_arg, default=_duration_text(d.max_gap),
        help="with --track_weight time, a segment that lasts longer weighs nothing (a pause)")


def _colour_options(add, d: Config) -> None:
    add("-m", "--hsva_min", metavar="HEX", default=d.hsva_min,
        help="hhhssvvaa hex colour for the lowest values")
    add("-M", "--hsva_max", metavar="HEX", default=d.hsva_max,
        help="hhhssvvaa hex colour for the highest values")
    add("-G", "--gradient", metavar="FILE",
        help="the colours of this image's first column (RGBA or RGB, bottom: lowest), not -m, -M")
    add("--colormap", metavar="NAME", help="take the colours from this matplotlib colormap ("
        "%s need no matplotlib); overrides -m and -M" % ", ".join(_COLORMAPS))
    add("--colour_scale", choices=_COLOUR_SCALES, default=d.colour_scale,
        help="heat to colour: linear (value / top), log, sqrt, or eq_hist (histogram-equalised:"
             " each colour covers as many pixels)")
    add("--colour_max", metavar="VALUE", type=float, default=d.colour_max,
        help="the heat that gets the top colour, larger is clipped (default: the largest): one "
             "scale for every frame of -a, zoom of --tiles, or picture to compare (eq_hist: a "
             "cap only, each picture ranks its own heat)")


def _map_options(add, d: Config) -> None:
    add("-b", "--background", metavar="COLOR", help="composite onto this colour (name or #rrggbb)")
    add("-I", "--background_image", metavar="FILE", help="composite onto this image")
    add("-B", "--background_brightness", metavar="F", type=float,
        help="multiply background pixels by this")
    add("-N", "--invert_background", action="store_true",
        help="value-invert the background image (wins over -B)")
    add("--osm", action="store_true", default=d.osm,
        help="composite onto OpenStreetMap tiles (the map around the data, at the zoom's scale)")
    add("--osm_base", metavar="URL", default=d.osm_base, help="base URL for map tiles")
    add("--osm_path_template", metavar="TEMPLATE", default=d.osm_path_template,
        help="URL path template for map tiles, with {z}, {x} and {y}")
    add("-z", "--zoom", type=int, default=d.zoom,
        help="OSM zoom level; 0 chooses the largest at which the data fits -W/-H")
    add("--osm_cache", metavar="DIR", default=d.osm_cache,
        help="map tile cache folder (default: heatmap.py/tiles in $XDG_CACHE_HOME or ~/.cache)")
    add("--osm_no_cache", action="store_true", default=d.osm_no_cache,
        help="neither read nor write the map tile cache")
    add("--osm_exact_size", action="store_true", default=d.osm_exact_size,
        help="make the map exactly -W x -H pixels, centred on the data, not cropped to it")
    add("--osm_attribution", metavar="TEXT", nargs="?", const=_OSM_ATTRIBUTION,
        default=d.osm_attribution,
        help='write "%s" (or TEXT) in the bottom-right corner of the map' % _OSM_ATTRIBUTION)


def _output_options(add, d: Config) -> None:
    add("-o", "--output", metavar="FILE",
        help="output file (image or video); - writes the picture to standard output")
    add("-S", "--save", metavar="FILE", help="save processed data to FILE")
    add("-L", "--load", metavar="FILE", help="load processed data from FILE")
    add("--output_format", metavar="TYPE", default=d.output_format,
        help="type of the -o output when its name does not give it, as an extension: png "
             "(the default for -o -), jpg, webp, ...; for -a, the video type (mp4, gif, ...)")


def _animation_options(add, d: Config) -> None:
    add("-a", "--animate", action="store_true", help="make an animation instead of an image")
    add("--frequency", metavar="N", type=int, default=d.frequency,
        help="input points per animation frame")
    add("--straggler_threshold", metavar="N", type=int, default=d.straggler_threshold,
        help="add one more frame if at least this many inputs remain")
    add("-F", "--ffmpegopts", metavar="STR", help="extra options for ffmpeg, split like a shell")
    add("-K", "--keepframes", action="store_true", help="keep the frames of an animation")
    add("--frame_time", metavar="DURATION", type=_duration_arg, default=d.frame_time,
        help="each frame covers this much of the data's time (90s, 15m, 1h), not --frequency")
    add("--fade", metavar="DURATION", type=_duration_arg, default=d.fade,
        help="with --frame_time, an input leaves the frames this long after its time")
    add("--fps", metavar="N", type=float, default=d.fps,
        help="frames per second of the video (default: ffmpeg's, 25)")
    add("--frame_label", action="store_true", default=d.frame_label,
        help="write each frame's time (UTC) in the corner with the least data")


def _tiles_options(add, d: Config) -> None:
    add("--tiles", metavar="OUT",
        help="write Web Mercator map tiles, not a picture: the folder OUT ({z}/{x}/{y}.png, "
             "index.html, a Leaflet map, metadata.json), or an MBTiles file OUT.mbtiles")
    add("--tile_zoom", metavar="ZOOMS", type=_zoom_range_arg,
        help="zoom levels of --tiles, MIN-MAX or one (default: from the data's zoom in one tile "
             "to where it is 4096 pixels wide, or tracks 16 within 4096 tiles; see README)")
    add("--leaflet_url", metavar="URL",
        help="where index.html loads Leaflet from: a folder URL with leaflet.js and leaflet.css, "
             "e.g. a local copy for offline use (default: %s)" % _LEAFLET_URL)
    add("--world_file", action="store_true",
        help="write a world file (.pgw, .jgw, .tfw) and a .aux.xml naming the CRS beside "
             "-o, so GIS tools place the picture (for -o .tif with rasterio: a GeoTIFF)")


def _message_options(add, d: Config) -> None:
    add("-v", "--verbose", action="store_true", help="log each phase with its time")
    add("--debug", action="store_true", help="show tracebacks and debug logging")
    add("--version", action="version", version="%(prog)s " + __version__)


_OPTION_GROUPS = (("input", _input_options), ("size and projection", _size_options),
                  ("heat", _heat_options), ("colour", _colour_options),
                  ("background and map", _map_options), ("output", _output_options),
                  ("animation", _animation_options), ("tiles", _tiles_options),
                  ("messages", _message_options))
_LEGACY_INPUTS = ((("-p", "--points"), "plain"), (("--csv",), "csv"), (("-g", "--gpx"), "gpx"),
                  (("--shp_file",), "shp"))
# What would steer a terminal from names or data in messages (C0, DEL, C1, bidi; not a tab):
_CONTROL = _Regex("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ALIKE_SHOWN = 5       # warnings of one kind shown before the rest are only counted


def _config_from_args(args: argparse.Namespace) -> Config:
    names = {f.name for f in dataclasses.fields(Config)}
    config = Config(**{k: v for k, v in vars(args).items() if k in names})
    for _, kind in _LEGACY_INPUTS:  # the original's deprecated one-file options
        path = getattr(args, "legacy_" + kind, None)
        if path:
            _LOG.warning("the option for a %s file is deprecated: give the file as an "
                         "argument", kind)
            config.files, config.filetype = [path], kind
    return config


def _one_line(text: str) -> str:
    """``text`` on one line, control characters escaped (``\x1b``): harmless to a terminal."""
    line = " ".join(str(text).splitlines())
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], line)   # repr escapes it: \x1b, \u202e


def _print_line(line: str) -> None:
    """A line to ``sys.stderr`` if there is one (none after ``2>&-``); a closed pipe drops it."""
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr is not None:
            sys.stderr.write(line + "\n")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """warnings.showwarning for main(): our log line (not Pillow's bomb warning: we check sizes)."""
    if category.__name__ != "DecompressionBombWarning":
        _LOG.warning("%s", message)


class _LogHandler(logging.Handler):
    """Records to the current ``sys.stderr``, a line each (``heatmap.py: warning: ...``; -v lines
    after the ms since start); past _ALIKE_SHOWN warnings of one template, counted for summary()."""
    def __init__(self):
        super().__init__()
        self.summarise, self.alike = True, {}   # alike: message template -> [count, first text]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = _one_line(record.getMessage())
            if record.levelno >= logging.WARNING:
                kind = text if record.msg == "%s" else str(record.msg)  # its template
                if self.summarise:
                    seen = self.alike.setdefault(kind, [0, text])
                    seen[0] += 1
                    if seen[0] > _ALIKE_SHOWN:
                        return
                line = "heatmap.py: %s: %s" % (record.levelname.lower(), text)
            else:
                line = "%8d ms  %s" % (record.relativeCreated, text)
            _print_line(line)
        except Exception:
            self.handleError(record)

    def summary(self) -> None:
        """One line per kind of warning that was cut short."""
        for count, first in self.alike.values():
            if count > _ALIKE_SHOWN:
                _print_line("heatmap.py: warning: %d more warnings like this one (-v shows "
                            "them): %s" % (count - _ALIKE_SHOWN, first))
        self.alike.clear()


def _argument_error(message: str) -> None:
    """argparse's error(): our one line instead of usage + line; still SystemExit(2)."""
    flag = re.match(r"argument (?:-\w/)?(--\w+): expected one argument", message)
    if flag:   # argparse took a value such as -23.5,... for an option
        message += "; a value that starts with - goes after =: %s=-..." % flag.group(1)
    _print_line("heatmap.py: error: %s (see --help)" % _one_line(message))
    raise SystemExit(2)


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (args[0]: its number), handled as Ctrl-C: every temp file removed."""


def _raise_stopped(signum: int, frame) -> None:
    raise _Stopped(signum)


def _catch_stop_signals() -> dict:
    """SIGTERM, SIGHUP raise _Stopped (not in a thread, nor if ignored: nohup); the old handlers."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in (getattr(signal, name, None) for name in ("SIGTERM", "SIGHUP")):
            if number is not None and signal.getsignal(number) == signal.SIG_DFL:
                previous[number] = signal.signal(number, _raise_stopped)
    return previous


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (2: a user error, 130: Ctrl-C, 128 + the number
    of SIGTERM, SIGHUP).  --help, --version: SystemExit(0); a bad option: one error line and
    SystemExit(2), as argparse.  Only ``-o -`` writes to standard output."""
    parser = _parser()
    parser.error = _argument_error  # type: ignore[assignment]
    handler, level = _LogHandler(), _LOG.level
    _LOG.addHandler(handler)
    _LOG.removeHandler(_LIBRARY_WARNINGS)
    show, warnings.showwarning = warnings.showwarning, _show_warning
    signals, code, message, debug = _catch_stop_signals(), 0, None, False
    try:
        args = parser.parse_args(argv)
        if args.dask and __name__ == "__main__":   # Dask's workers find functions by module name
            _LOG.removeHandler(handler)
            return __import__("heatmap").main(argv)
        debug = args.debug
        handler.summarise = not (debug or args.verbose)   # -v shows every warning
        _LOG.setLevel(logging.DEBUG if debug else logging.INFO if args.verbose else logging.WARNING)
        _run_config(_config_from_args(args))
    except (HeatmapError, MemoryError) as exc:
        if debug:
            raise
        code, message = 2, "error: " + (_one_line(exc) if isinstance(exc, HeatmapError) else
                                        "out of memory: try a smaller image, a smaller "
                                        "-r/--radius or a larger -s/--scale")
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if isinstance(exc, _Stopped) else signal.SIGINT
        code = 128 + signum
        message = "interrupted" if signum == signal.SIGINT else \
            "stopped by %s" % signal.Signals(signum).name
    finally:
        for number, old in signals.items():
            signal.signal(number, old)
        warnings.showwarning = show
        while _DASK_CLIENTS:
            _DASK_CLIENTS.popitem()[1].close()
        handler.summary()
        _LOG.removeHandler(handler)
        _LOG.addHandler(_LIBRARY_WARNINGS)
        _LOG.setLevel(level)
    if message:
        _print_line("heatmap.py: " + message)
    return code


def _console() -> None:
    """The ``heatmap`` and ``heatmap.py`` commands: descriptors the shell closed (``2>&-``) opened
    on the null device (no file of ours takes their place); os._exit, teardown takes longer."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # takes the lowest free descriptor: this one
    code = main()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    _console()
