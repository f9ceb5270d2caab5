"""The watch folder for the integration tests: JobSpecs in, results out.

Writing JobSpecs into pending/ (or elsewhere) the Maildir way, and reading what
a runner filed in its four state folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testkit import spec_dict

STATES = ("pending", "running", "completed", "failed")


def spec(sources: Sequence[str | Path], output_dir: str | Path, **overrides: Any) -> dict[str, Any]:
    return spec_dict([str(s) for s in sources], output_dir, **overrides)


def prores(
    sources: Sequence[str | Path], output_dir: str | Path, **overrides: Any
) -> dict[str, Any]:
    return spec(
        sources, output_dir, codec="prores_proxy", proxy_profile="proxy_prores_proxy", **overrides
    )


def drop(root: Path, name: str, content: dict[str, Any] | bytes | str) -> Path:
    """Put a JobSpec into pending/ the Maildir way: write a dot-file, then rename in."""
    data = (
        json.dumps(content).encode()
        if isinstance(content, dict)
        else content.encode()
        if isinstance(content, str)
        else content
    )
    tmp = root / "pending" / f".{name}.tmp"
    tmp.write_bytes(data)
    final = root / "pending" / name
    os.rename(tmp, final)
    return final


def put(directory: Path, name: str, data: bytes) -> None:
    """Put raw bytes under NAME in any folder (a state folder, say), renamed in."""
    tmp = directory / f".{uuid.uuid4().hex}.tmp"  # a short temp name: NAME may be 250 bytes
    tmp.write_bytes(data)
    os.rename(tmp, directory / name)


def drop_named(root: Path, name: str, source: str | Path, out: Path) -> Path:
    """A one-clip H.264 job NAME.json whose proxy is out/NAME_<source name>.mov."""
    return drop(
        root, f"{name}.json", spec([source], out, output_name_template=f"{name}_{{source_name}}")
    )


def make_root(base: Path, name: str = "watch") -> Path:
    root = base / name
    for state in STATES:
        (root / state).mkdir(parents=True, exist_ok=True)
    return root


def listing(root: Path) -> dict[str, list[str]]:
    """Every entry of each state folder, dot-files included (sorted)."""
    return {s: sorted(os.listdir(root / s)) for s in STATES}


def specs_in(root: Path, state: str) -> list[str]:
    """JobSpec names in a state folder (results and dot-files left out)."""
    return sorted(
        n
        for n in os.listdir(root / state)
        if n.endswith(".json") and not n.endswith(".result.json") and not n.startswith(".")
    )


def result(root: Path, state: str, stem: str) -> dict[str, Any]:
    path = root / state / f"{stem}.result.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def results(root: Path, state: str) -> dict[str, dict[str, Any]]:
    return {
        n[: -len(".json")]: result(root, state, n[: -len(".json")]) for n in specs_in(root, state)
    }


def done_count(root: Path) -> int:
    return len(specs_in(root, "completed")) + len(specs_in(root, "failed"))


def partial_paths(out_dir: Path) -> list[str]:
    """The partial renders in `out_dir`: in each job's private folder (`.proxx.JOBID.partial/`)."""
    found = []
    for folder in os.listdir(out_dir):
        if folder.startswith(".proxx.") and folder.endswith(".partial"):
            with contextlib.suppress(OSError):  # the job just tidied it away
                found += [
                    os.path.join(out_dir, folder, n)
                    for n in os.listdir(out_dir / folder)
                    if n.endswith(".partial")
                ]
    return sorted(found)


def partials(out_dir: Path) -> list[str]:
    """The names of the partial renders in `out_dir` (see partial_paths)."""
    return sorted(os.path.basename(p) for p in partial_paths(out_dir))


def failed_clip(res: dict[str, Any]) -> dict[str, Any]:
    failed = [c for c in res["clips"] if c["status"] == "FAILED"]
    assert len(failed) == 1, f"expected exactly one FAILED clip in {json.dumps(res, indent=1)}"
    clip: dict[str, Any] = failed[0]
    return clip
