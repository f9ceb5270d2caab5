"""Fixtures shared by tests/ and integration/ (helpers live in testkit.py)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from testkit import make_clip, spec_dict

# No per-example time limit: on a loaded 2-core CI box a slow example is not a bug
# (speed lives in bench/, never in the test suite). Under CI the examples are derived from
# each test's name, not drawn afresh: the gate that lands a commit gives the same verdict
# on every run of it, while `./dev test` on a desk keeps exploring new examples.
settings.register_profile("proxx", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("proxx")


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture
def clip(clip_cache: Path) -> Callable[..., Path]:
    """clip(name, **make_clip kwargs) → a cached tiny clip (copy it before damaging it)."""

    def factory(name: str = "clip.mov", **kwargs: Any) -> Path:
        # Keyed by every argument, not the name alone: one name may be asked for with
        # different content, and the file name itself matters (outputs derive from it).
        key = hashlib.sha256(json.dumps(kwargs, sort_keys=True, default=str).encode())
        path = clip_cache / key.hexdigest()[:12] / name
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            make_clip(path, **kwargs)
        return path

    return factory


@pytest.fixture
def job(tmp_path: Path) -> Callable[..., Path]:
    """job(sources, **overrides) → path of a JobSpec in tmp_path (outputs in tmp_path/out)."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)

    def factory(sources: list[str | Path], name: str = "job.json", **overrides: Any) -> Path:
        spec = spec_dict([str(s) for s in sources], out, **overrides)
        path = tmp_path / name
        path.write_text(json.dumps(spec))
        return path

    return factory


# -- tiers ------------------------------------------------------------------------------
# `./dev unit` runs what is in-process (`-m "not e2e"`, PROXX_TIER=unit); CI runs all.
# A test is end-to-end when it lives in integration/, uses a fixture that makes media
# or starts processes, or its module says so (`pytestmark = pytest.mark.e2e`). The
# guard below keeps the tier honest: a unit test that starts a process fails, naming
# itself, instead of quietly making the fast lane slow.
E2E_FIXTURES = frozenset({"clip", "clip_cache", "launcher", "tiny", "long_clip", "root", "out"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    integration = Path(__file__).parent / "integration"
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.path.is_relative_to(integration) or fixtures & E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)


def _no_processes(*_: object, **__: object) -> None:
    raise AssertionError(
        "this test starts a process, and the unit tier (./dev unit) is in-process: "
        "mark its module `pytestmark = pytest.mark.e2e`, or use a fixture that does"
    )


@pytest.fixture(autouse=True)
def _unit_tier_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("PROXX_TIER") != "unit":
        return
    import subprocess

    for owner, name in ((subprocess.Popen, "__init__"), (os, "fork"), (os, "posix_spawn")):
        monkeypatch.setattr(owner, name, _no_processes)
