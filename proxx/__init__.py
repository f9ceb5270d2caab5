"""Proxx: a deterministic proxy-transcoding job runner."""

# The one place the version is written: pyproject.toml reads it from here (setuptools'
# dynamic version), so the wheel, `proxx --version` and the results cannot disagree.
__version__ = "0.1.0"
