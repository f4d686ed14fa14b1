"""Packaging is in pyproject.toml; this shim serves tools that still run setup.py."""
from setuptools import setup

setup()
