"""A shim for tools that still call setup.py: the packaging is in pyproject.toml."""

from setuptools import setup

setup()
