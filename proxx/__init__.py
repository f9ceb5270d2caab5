"""Proxx: a deterministic proxy-transcoding job runner."""

__version__ = "0.1.0"
