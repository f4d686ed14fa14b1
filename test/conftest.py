"""Shared fixtures for the heatmap.py test suite.

* ``import heatmap`` works without installing: the repository root is put
  on ``sys.path``.
* ``run(*args)`` calls ``heatmap.main([...])`` in ``tmp_path`` and returns
  ``(exit code, stderr + log text)``.
* ``write(name, text)`` writes a file into ``tmp_path``; ``pixels(name)``
  loads an image as a NumPy array.
* the differential cases of ``../shared/reference`` start in the background
  as soon as collection ends (see ``test_reference.py``).
* ``pytest --regen-golden`` rewrites the golden images in ``test/golden/``
  instead of comparing against them (see ``test_cli.py``).
"""
import os
import random
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import heatmap  # noqa: E402  (needs the path above)

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite test/golden/*.png from the current heatmap.py "
                          "instead of comparing with them")


def pytest_collection_finish(session):
    """Start the reference cases (test_reference.py) in the background right away."""
    try:
        import test_reference
    except ImportError:         # e.g. --import-mode=importlib: the items start lazily
        return
    test_reference.start(session.items)


def pytest_sessionfinish(session):
    module = sys.modules.get("test_reference")
    if module is not None:
        module.stop()


@pytest.fixture
def regen_golden(request):
    return request.config.getoption("--regen-golden")


@pytest.fixture
def run(tmp_path, monkeypatch, capsys, caplog):
    """Run the command line in tmp_path: run("-W", 40, "-o", "out.png", "in.txt")."""
    monkeypatch.chdir(tmp_path)
    caplog.set_level("WARNING", logger="heatmap")

    def _run(*args):
        capsys.readouterr()
        caplog.clear()
        code = heatmap.main([str(a) for a in args])
        return code, capsys.readouterr().err + caplog.text
    return _run


@pytest.fixture
def write(tmp_path):
    def _write(name, text):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path
    return _write


@pytest.fixture
def pixels(tmp_path):
    """Load tmp_path/name as (mode, numpy array)."""
    def _pixels(name):
        with Image.open(tmp_path / name) as image:
            image.load()
            return image.mode, np.asarray(image)
    return _pixels


def cluster(seed, n, lat0, lon0, spread=0.01):
    """n reproducible (lat, lon) pairs around (lat0, lon0) (random.random is stable)."""
    rng = random.Random(seed)
    return [(round(lat0 + spread * (rng.random() - 0.5), 6),
             round(lon0 + spread * (rng.random() - 0.5), 6)) for _ in range(n)]


SEATTLE = cluster(1, 40, 47.61, -122.33) + cluster(2, 15, 47.615, -122.322, 0.002)


def plain_text(points, weights=None):
    if weights is None:
        return "".join("%.6f %.6f\n" % p for p in points)
    return "".join("%.6f %.6f %g\n" % (p + (w,)) for p, w in zip(points, weights))


@pytest.fixture
def seattle(write):
    """A plain file of clustered Seattle points; returns its name."""
    write("seattle.txt", plain_text(SEATTLE))
    return "seattle.txt"


def gpx_text(segments, namespace="http://www.topografix.com/GPX/1/1"):
    """A GPX file with one <trkseg> per list of (lat, lon)."""
    ns = ' xmlns="%s"' % namespace if namespace else ""
    body = "".join(
        "<trkseg>%s</trkseg>\n" % "".join('<trkpt lat="%r" lon="%r"/>' % p for p in seg)
        for seg in segments)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="test"%s>'
            "<trk><name>t</name>\n%s</trk></gpx>\n" % (ns, body))
