"""Issue 18, finding 3: a JobSpec may read and write only inside the allowed roots.

`proxx watch` is confined by default to its own tree (plus --source-root and
--output-root); `proxx run` only when given roots. Leaving a root directly, through
a symlink or through `..` fails validation naming the roots; nothing is rendered.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import run_cli, spec_dict, write_spec


@pytest.fixture
def layout(tmp_path: Path, clip: Callable[..., Path]) -> dict[str, Path]:
    """A watch root with a clip and an output folder inside it, and the same outside."""
    root = tmp_path / "watch"
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    (root / "media").mkdir()
    (root / "out").mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "out").mkdir(parents=True)
    shutil.copy(clip(), root / "media" / "in.mov")
    shutil.copy(clip(), elsewhere / "secret.mov")
    return {"root": root, "elsewhere": elsewhere}


def watch_once(root: Path, name: str, spec: dict[str, Any], *args: str) -> dict[str, Any]:
    (root / "pending" / name).write_text(json.dumps(spec))
    proc = run_cli("watch", str(root), "--once", "--poll-seconds", "0.1", *args)
    assert proc.returncode == 0, proc.stderr
    stem = name.removesuffix(".json")
    for state in ("completed", "failed"):
        path = root / state / f"{stem}.result.json"
        if path.exists():
            result: dict[str, Any] = json.loads(path.read_text())
            return result
    raise AssertionError(f"{name} was not filed:\n{proc.stderr}")


def test_watch_refuses_a_source_outside_its_tree(layout: dict[str, Path]) -> None:
    root, elsewhere = layout["root"], layout["elsewhere"]
    res = watch_once(root, "a.json", spec_dict([str(elsewhere / "secret.mov")], root / "out"))
    assert res["status"] == "FAILED"
    assert res["validation_error"].endswith(
        f"source {elsewhere / 'secret.mov'} is outside the allowed source roots {root}: "
        "confinement (README, 'Security')"
    )
    assert os.listdir(root / "out") == []


def test_watch_refuses_a_symlink_or_dotdot_that_leaves_its_tree(layout: dict[str, Path]) -> None:
    root, elsewhere = layout["root"], layout["elsewhere"]
    (root / "media" / "link.mov").symlink_to(elsewhere / "secret.mov")
    res = watch_once(root, "b.json", spec_dict(["media/link.mov"], root / "out"))
    assert f"(it resolves to {elsewhere / 'secret.mov'}) is outside" in res["validation_error"]
    res = watch_once(root, "c.json", spec_dict(["../elsewhere/secret.mov"], root / "out"))
    assert f"source {elsewhere / 'secret.mov'} is outside" in res["validation_error"]
    assert os.listdir(root / "out") == []


def test_watch_refuses_an_output_folder_outside_its_tree(layout: dict[str, Path]) -> None:
    root, elsewhere = layout["root"], layout["elsewhere"]
    res = watch_once(root, "d.json", spec_dict(["media/in.mov"], elsewhere / "out"))
    assert (
        f"output_dir {elsewhere / 'out'} is outside the allowed output roots {root}"
        in (res["validation_error"])
    )
    assert os.listdir(elsewhere / "out") == []


def test_control_inside_the_tree_or_a_named_root_the_job_runs(layout: dict[str, Path]) -> None:
    root, elsewhere = layout["root"], layout["elsewhere"]
    res = watch_once(root, "e.json", spec_dict(["media/in.mov"], root / "out"))
    assert res["status"] == "COMPLETED"
    roots = ("--source-root", str(elsewhere), "--output-root", str(elsewhere))
    res = watch_once(
        root, "f.json", spec_dict([str(elsewhere / "secret.mov")], elsewhere / "out"), *roots
    )
    assert res["status"] == "COMPLETED", res
    assert os.listdir(elsewhere / "out") == ["secret_proxy.mov"]


def test_run_is_confined_only_when_given_roots(layout: dict[str, Path]) -> None:
    root, elsewhere = layout["root"], layout["elsewhere"]
    job = write_spec(root / "job.json", [elsewhere / "secret.mov"], root / "out")
    refused = run_cli("run", str(job), "--source-root", str(root / "media"))
    assert refused.returncode == 1
    assert "outside the allowed source roots" in json.loads(refused.stdout)["validation_error"]
    assert "outside the allowed source roots" in refused.stderr
    ran = run_cli("run", str(job))  # the caller is the user: not confined
    assert ran.returncode == 0, ran.stderr
