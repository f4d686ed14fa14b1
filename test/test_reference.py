"""The differential cases of ../shared/reference, one pytest item per case.

Runs ``check.py --cmd "<python> <repo>/heatmap.py" -k <case> --json`` when
``<repo>/../shared/reference/check.py`` exists (skipped otherwise), so CI
compares every picture with the one the original heatmap.py 1.14 made.

``-k`` matches substrings (``decay_0`` would also run ``decay_0_3``), so
each run gets ``--cases`` pointing at a folder holding only its own case
(a symlink), and the named result is picked out of the JSON report.  The
selected cases are started on a small thread pool as soon as collection
ends (``conftest.pytest_collection_finish`` calls :func:`start`), so they
run in the background while the rest of the suite runs; each item then
waits for its own result.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference")
CHECK = os.path.join(REFERENCE, "check.py")
CASES = os.path.join(REFERENCE, "cases")


def case_names():
    if not os.path.isfile(CHECK) or not os.path.isdir(CASES):
        return []
    return sorted(name for name in os.listdir(CASES)
                  if os.path.isfile(os.path.join(CASES, name, "case.json")))


def case_params():
    names = case_names()
    if not names:
        return [pytest.param(None, id="no_reference",
                             marks=pytest.mark.skip(reason="%s is missing" % CHECK))]
    return [pytest.param(name, id=name) for name in names]


def run_check(case, folder, env):
    """Run check.py on the one case from ``folder``; returns the CompletedProcess."""
    cases = os.path.join(folder, "cases")
    os.makedirs(cases)
    try:
        os.symlink(os.path.join(CASES, case), os.path.join(cases, case))
    except OSError:
        shutil.copytree(os.path.join(CASES, case), os.path.join(cases, case))
    cmd = " ".join(shlex.quote(p) for p in (sys.executable, os.path.join(ROOT, "heatmap.py")))
    return subprocess.run([sys.executable, CHECK, "--cmd", cmd, "--cases", cases, "-k", case,
                           "--json", "--timeout", "120"],
                          cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=600)


_RUNS = {}          # case -> Future
_POOL = []          # [(executor, temporary folder)]


def start(items):
    """Start check.py for every selected reference item (called once after collection)."""
    cases = [item.callspec.params["case"] for item in items
             if getattr(item, "originalname", None) == "test_reference_case"
             and item.callspec.params.get("case") and item.callspec.params["case"] not in _RUNS]
    if not cases:
        return
    base = tempfile.mkdtemp(prefix="heatmap-reference-")
    pool = ThreadPoolExecutor(max_workers=min(4, max(2, os.cpu_count() or 1)))
    _POOL.append((pool, base))
    env = dict(os.environ)      # as it is now: tests may monkeypatch the environment later
    env["XDG_CACHE_HOME"] = os.path.join(base, "cache")   # map tiles never reach ~/.cache
    for case in cases:
        _RUNS[case] = pool.submit(run_check, case, os.path.join(base, case), env)


def stop():
    """Wait for the pool and remove its folders (called when the session ends)."""
    while _POOL:
        pool, base = _POOL.pop()
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(base, ignore_errors=True)
    _RUNS.clear()


@pytest.fixture
def reference_run(request):
    case = request.node.callspec.params["case"]
    if case not in _RUNS:        # not started by the conftest hook (e.g. run standalone)
        start([request.node])
    return _RUNS[case].result()


@pytest.mark.parametrize("case", case_params())
def test_reference_case(case, reference_run):
    proc = reference_run
    assert proc.stdout, "check.py printed nothing (exit %d): %s" % (
        proc.returncode, proc.stderr.decode("utf-8", "replace")[-2000:])
    report = json.loads(proc.stdout.decode("utf-8"))
    results = {r["name"]: r for r in report["cases"]}
    assert list(results) == [case], "check.py ran %s, not just %s" % (list(results), case)
    result = results[case]
    assert result["ok"], "%s: %s\n%s" % (case, result.get("reason"),
                                         result.get("stderr_tail", "")[-1500:])
    assert proc.returncode == 0
