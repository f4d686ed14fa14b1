"""--help: the whole screen is a golden file, so every change to it is reviewed.

After an intended change (a new option, a new help line) regenerate it with::

    python -m pytest test/test_help.py --regen-golden

and look at the diff of test/golden/help.txt.  argparse lays help out a little
differently from one Python version to the next (3.13 writes ``-s, --scale
SCALE``), so the file records the version it was made with and the comparison
is skipped on others.
"""
import os
import re
import shlex
import sys

import pytest

import heatmap as hm
from conftest import GOLDEN_DIR

GOLDEN = os.path.join(GOLDEN_DIR, "help.txt")
HEADER = "# heatmap.py --help, 80 columns, Python %d.%d (regenerate: pytest test --regen-golden)\n"


def _help_text(monkeypatch, capsys) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as info:
        hm.main(["--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_help_is_the_golden_file(monkeypatch, capsys, regen_golden):
    text = HEADER % sys.version_info[:2] + _help_text(monkeypatch, capsys)
    if regen_golden:
        with open(GOLDEN, "w", encoding="utf-8") as out:
            out.write(text)
        pytest.skip("regenerated %s" % GOLDEN)
    with open(GOLDEN, encoding="utf-8") as stream:
        want = stream.read()
    if want.splitlines()[0] != text.splitlines()[0]:
        pytest.skip("golden help is from another Python: " + want.splitlines()[0])
    assert text == want, "--help changed: check it, then regenerate (see this file's docstring)"


def test_help_keeps_every_option_and_default(monkeypatch, capsys):
    text = " ".join(_help_text(monkeypatch, capsys).split())  # line breaks fall anywhere
    assert "(default: None)" not in text
    for action in hm._parser()._actions:
        for flag in action.option_strings:
            assert flag in text or action.help == "==SUPPRESS==", flag
    for shown in ("(default: 5)", "(default: 0.95)", "(default: 000ffff00)",
                  "(default: https://tile.openstreetmap.org)"):
        assert shown in text


def _examples():
    lines = hm._HELP_EPILOG.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [shlex.split(line)[1:] for line in lines if line.startswith("  heatmap.py ")]


@pytest.mark.parametrize("argv", _examples())
def test_help_examples_parse(argv):
    assert len(_examples()) == 3
    args = hm._parser().parse_args(argv)
    assert args.output and args.files


def test_help_names_every_environment_variable_the_code_reads():
    with open(hm.__file__, encoding="utf-8") as stream:
        source = stream.read()
    read = set(re.findall(r"(?:environ\.get|getenv|_env_limit)\(\"([A-Z_]+)\"", source))
    assert read and all(name in hm._HELP_EPILOG for name in read), read


@pytest.mark.parametrize("columns,width", [("60", 60), ("", 80), ("wide", 80), ("0", 80)])
def test_terminal_columns_follow_shutil_rules(monkeypatch, columns, width):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(hm.os, "get_terminal_size", lambda fd: (_ for _ in ()).throw(OSError()))
    assert hm._terminal_columns() == width
