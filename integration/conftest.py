"""Fixtures for the `proxx watch` integration tests (see watch_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.watch_helpers import Launcher, make_root

# A long clip must still be rendering when a test acts on it, and for a good
# while after: rendering 180 s of 640x360 as ProRes Proxy takes ~20 s of wall
# time on an idle 2-core box, so an FFmpeg that is gone within DEATH_NOTICE_S
# of a kill was stopped, not finished. (Making it costs ~4 s, once per xdist
# worker; the tests that use it stop it early.)
LONG = {"size": "640x360", "seconds": 180.0}
MEDIUM = {"size": "640x360", "seconds": 12.0}  # renders in a couple of seconds


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    """Starts supervisors; kills every process of their sessions at teardown."""
    logs = tmp_path / "logs"
    logs.mkdir()
    launch = Launcher(logs)
    yield launch
    killed = launch.cleanup()
    if killed:  # shown with the test's report; the tests themselves assert a clean exit
        print("teardown killed what was left:\n  " + "\n  ".join(killed))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty watch folder with its four state folders."""
    return make_root(tmp_path)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def tiny(clip: Callable[..., Path]) -> Path:
    """64x36, 1 s, H.264 + PCM: renders in a fraction of a second."""
    return clip("tiny.mov")


@pytest.fixture
def long_clip(clip: Callable[..., Path]) -> Path:
    return clip("long.mov", **LONG)


@pytest.fixture
def medium_clip(clip: Callable[..., Path]) -> Path:
    return clip("medium.mov", **MEDIUM)
