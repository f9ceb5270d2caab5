"""Logging to stderr; PROXX_LOG_LEVEL sets verbosity and nothing else."""

from __future__ import annotations

import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setup() -> None:
    raw = os.environ.get("PROXX_LOG_LEVEL", "INFO").upper()
    level = raw if raw in LEVELS else "INFO"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger("proxx")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if raw != level:
        root.warning("PROXX_LOG_LEVEL=%r is not one of %s; using INFO", raw, ", ".join(LEVELS))
