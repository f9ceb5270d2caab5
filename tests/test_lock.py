"""The environment is the lock: what `./dev` installed is exactly what requirements/*.lock
pins for this interpreter, and pyproject's ranges end at what the lock pins."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(lock: Path) -> dict[str, list[tuple[Version, str | None]]]:
    """Every pin of a lock: name → [(version, marker or None)]."""
    found: dict[str, list[tuple[Version, str | None]]] = {}
    for line in lock.read_text().splitlines():
        m = PIN.match(line)
        if m:
            found.setdefault(canonicalize_name(m[1]), []).append((Version(m[2]), m[3]))
    return found


def for_here(lock: Path) -> dict[str, Version]:
    return {
        name: version
        for name, options in pins(lock).items()
        for version, marker in options
        if marker is None or Marker(marker).evaluate()
    }


def installed() -> dict[str, Version]:
    return {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }


def test_every_pin_carries_hashes() -> None:
    for lock in ("runtime.lock", "dev.lock", "lock-tool.txt"):
        lines = (REPO / "requirements" / lock).read_text().splitlines()
        pinned = [i for i, line in enumerate(lines) if PIN.match(line)]
        assert pinned, lock
        for i in pinned:
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock}: {lines[i]}"


@pytest.mark.skipif(
    not sys.prefix.startswith(str(REPO)), reason="not a venv that ./dev made in this checkout"
)
def test_the_venv_holds_exactly_what_the_lock_pins() -> None:
    # ./dev installs with --require-hashes --no-deps: nothing resolved, nothing extra.
    have = installed()
    want = for_here(REPO / "requirements" / "dev.lock")
    extra = set(have) - set(want) - {"proxx", "pip"}
    assert extra == set(), f"installed but not locked: {sorted(extra)}"
    differ = {n: (str(have.get(n)), str(v)) for n, v in want.items() if have.get(n) != v}
    assert differ == {}, f"installed vs locked: {differ}"


def test_pyproject_ranges_end_at_what_the_lock_pins() -> None:
    # "The upper bound is the newest version the suite ran on": the lock's newest pin.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = pins(REPO / "requirements" / "dev.lock")
    extras = project["optional-dependencies"].values()
    declared = [*project["dependencies"], *(r for extra in extras for r in extra)]
    for text in declared:
        req = Requirement(text)
        if req.name == "proxx":  # an extra naming another (test includes deliver)
            continue
        newest = max(v for v, _ in locked[canonicalize_name(req.name)])
        assert newest in req.specifier, f"{text}: the lock pins {newest}"
        uppers = [Version(s.version) for s in req.specifier if s.operator in ("<=", "==")]
        assert uppers and max(uppers) == newest, f"{text}: its upper bound is not {newest}"


def test_the_runtime_lock_is_the_dev_locks_runtime_part() -> None:
    dev = pins(REPO / "requirements" / "dev.lock")
    runtime = pins(REPO / "requirements" / "runtime.lock")
    assert {n: sorted(map(str, v)) for n, v in runtime.items()} == {
        n: sorted(map(str, dev[n])) for n in runtime
    }
    assert {"av", "pydantic", "click", "setuptools"} <= set(runtime)
    assert "pytest" not in runtime
