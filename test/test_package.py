"""Packaging: the sdist carries its tests, the wheel installs into a fresh venv and
both commands (``heatmap`` and ``heatmap.py``) run the installed, byte-compiled module.

The sdist and the wheel are built with setuptools' PEP 517 backend (the wheel from
the unpacked sdist, as ``python -m build`` does) without network access.  The fresh
venv has no packages of its own (and no pip, where this environment's pip can install
into it with ``--python``); NumPy and Pillow are borrowed from this environment
through a ``.pth`` line.
"""
import os
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what the sdist must hold besides the module, whether or not git is at hand
NEEDED = ["heatmap.py", "bin/heatmap.py", "README.md", "LICENSE", "pyproject.toml", "setup.py",
          "MANIFEST.in", "test/conftest.py", "test/tileserver.py", "test/test_cli.py",
          "test/golden/points_default.png", "test/golden/help.txt", "examples/points.txt",
          "examples/ride.gpx"]


def _python(*args, cwd=None, env=None, python=sys.executable):
    done = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _build(kind: str, source: str, out: str) -> str:
    code = ("import sys, setuptools.build_meta as backend; "
            "print(backend.build_%s(sys.argv[1]))" % kind)
    name = _python("-c", code, out, cwd=source).stdout.strip().splitlines()[-1]
    return os.path.join(out, name)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist path, its member names, wheel path, unpacked sdist folder): the wheel is
    built from the unpacked sdist."""
    pytest.importorskip("setuptools", minversion="77")  # SPDX license = "MIT"
    tmp = tmp_path_factory.mktemp("package")
    out = str(tmp / "dist")
    sdist = _build("sdist", ROOT, out)
    with tarfile.open(sdist) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp / "src", **safe)
    source = os.path.join(tmp / "src", os.path.basename(sdist)[:-len(".tar.gz")])
    return sdist, names, _build("wheel", source, out), source


def _tracked(*paths):
    """Files git tracks under ``paths`` (None outside a git checkout)."""
    try:
        done = subprocess.run(["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    except OSError:
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return [line for line in done.stdout.splitlines() if os.path.isfile(os.path.join(ROOT, line))]


def test_sdist_carries_what_its_tests_need(built):
    names = built[1]
    missing = [name for name in NEEDED if name not in names]
    assert not missing
    tracked = _tracked("test", "examples", "bin", ".ci")
    if tracked is not None:
        assert sorted(set(tracked) - set(names)) == []


def test_wheel_holds_the_module_and_the_launcher(built):
    with zipfile.ZipFile(built[2]) as wheel:
        names = wheel.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = wheel.read(metadata).decode()
    assert "heatmap.py" in names and any(n.endswith(".data/scripts/heatmap.py") for n in names)
    assert "\nName: heatmap.py\n" in text and "\nLicense-Expression: MIT\n" in text
    for extra in ("shp", "animate", "test"):
        assert "\nProvides-Extra: %s\n" % extra in text


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory):
    """bin folder of a fresh venv with the wheel installed."""
    import PIL
    from importlib.metadata import version
    home = tmp_path_factory.mktemp("venv")
    python = str(home / "bin" / "python")
    install = ["install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
               built[2]]
    if tuple(int(p) for p in version("pip").split(".")[:2]) >= (22, 3):  # pip --python
        _python("-m", "venv", "--without-pip", str(home))
        _python("-m", "pip", "--python", python, *install)
    else:
        _python("-m", "venv", str(home))
        _python("-m", "pip", *install, python=python)
    site = _python("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                   python=python).stdout.strip()
    borrowed = {os.path.dirname(os.path.dirname(m.__file__)) for m in (np, PIL)}
    with open(os.path.join(site, "borrowed.pth"), "w") as pth:
        pth.write("\n".join(sorted(borrowed)) + "\n")
    return home / "bin", site


@pytest.mark.parametrize("command", ["heatmap", "heatmap.py"])
def test_installed_commands_run_the_compiled_module(venv, command, tmp_path):
    bin_dir, site = venv
    env = dict(os.environ, PYTHONVERBOSE="1")
    env.pop("PYTHONPATH", None)
    out = str(tmp_path / "out.png")
    done = subprocess.run([str(bin_dir / command), "-W", "60", "-o", out,
                           os.path.join(ROOT, "examples", "points.txt")],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    compiled = os.path.join(site, "__pycache__", "heatmap.")
    assert "code object from '%s" % compiled in done.stderr   # not compiled from source
    with Image.open(out) as image:
        assert image.size[0] == 60
    version = subprocess.run([str(bin_dir / command), "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.startswith("heatmap.py 2.")


def test_installed_metadata(venv):
    bin_dir, _ = venv
    code = "import importlib.metadata as m; d = m.distribution('heatmap.py'); print(d.metadata['Name'])"
    done = _python("-c", code, python=str(bin_dir / "python"))
    assert done.stdout.strip() == "heatmap.py"


def test_unpacked_sdist_passes_its_own_tests(built):
    """A sample that needs conftest.py, the golden files, tileserver.py and the examples
    (the whole suite in the sdist passes too, but doubles the run time)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test/test_help.py", "test/test_cli.py", "test/test_osmviz.py",
                           "-k", "golden or help or mosaic"],
                          cwd=built[3], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


USER_SCRIPT = '''\
import numpy as np
import heatmap

lat, lon = np.array([47.60, 47.61]), np.array([-122.33, -122.32])
grid = heatmap.render_grid(lat, lon, width=64)
(south, west), (north, east) = grid.bounds
frames = list(heatmap.render_frames(lat, lon, width=64))
reveal_type(heatmap.render(lat, lon, width=64))
reveal_type(heatmap.tracks(lat, lon).lat1)
reveal_type(frames)
reveal_type(heatmap.Config(width=64).width)
width: int = heatmap.colour(grid).size[0] + "x"
'''


def test_mypy_strict_finds_the_types_of_the_installed_module(venv, tmp_path):
    """The wheel installs the module a second time as the stub package heatmap-stubs."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--python-executable",
                           str(venv[0] / "python"), "--cache-dir", str(tmp_path / "cache"),
                           "user.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300)
    lines = done.stdout.splitlines()
    revealed = [line.split('Revealed type is "')[1] for line in lines if "Revealed" in line]
    assert len(revealed) == 4 and revealed[0] == 'PIL.Image.Image"'
    assert revealed[1].startswith("numpy.ndarray[") and revealed[2] == 'list[PIL.Image.Image]"'
    assert revealed[3] in ('int | None"', 'Union[int, None]"')
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and 'Unsupported operand types for + ("int" and "str")' in errors[0]
