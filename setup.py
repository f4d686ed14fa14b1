"""Packaging is in pyproject.toml; this shim serves tools that still run setup.py, and puts the
type hints in the wheel: PEP 561 has no py.typed for a single module, so the module is also
installed as the stub package heatmap-stubs (type checkers read its inline hints)."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        folder = os.path.join(self.build_lib, "heatmap-stubs")
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "heatmap.py"),
                        os.path.join(folder, "__init__.pyi"))


setup(cmdclass={"build_py": BuildWithStubs})
