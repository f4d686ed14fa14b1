"""Packaging for heatmap.py: one module, NumPy and Pillow required."""
import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "heatmap.py").read_text(), re.M).group(1)

setup(
    name="heatmap",
    version=VERSION,
    description="Heat map images and animations from coordinate data (GPS tracks, CSV, shapefiles)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    py_modules=["heatmap"],
    python_requires=">=3.9",
    install_requires=["numpy>=1.26", "Pillow>=9.5"],  # tested: NumPy 1.26 and 2.4, Pillow 9.5 and 13
    extras_require={
        "osm": [],  # kept for old install lines: tiles are fetched with the standard library
        "shp": ["pyshp>=2.3"],
        "animate": ["imageio-ffmpeg>=0.4"],
        "test": ["pytest>=7", "hypothesis>=6", "pyshp>=2.3"],
    },
    # "heatmap.py" is the module itself installed as a script: a generated wrapper of that
    # name would import itself instead of the module.
    scripts=["heatmap.py"],
    entry_points={"console_scripts": ["heatmap=heatmap:_console"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
        "Topic :: Scientific/Engineering :: GIS",
        "Environment :: Console",
    ],
)
