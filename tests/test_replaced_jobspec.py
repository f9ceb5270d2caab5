"""A JobSpec renamed over a claimed one in running/ (finding 5 of issue 18).

`mv new.json running/x.json` while x.json's job renders: the real `proxx watch`
files the job it ran with its COMPLETED result (alone: the JobSpec it ran is
gone) and the file put in its place separately, in failed/, as never run. Before,
one runner filed the stranger beside the old job's result in completed/, and a
second runner "recovered" the stranger as the live job and lost its result.

The render is held by an `ffmpeg` first on PATH that waits for the test's word
before it runs the real FFmpeg, so the rename lands while the job is running.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from testkit import ANY_ROOT, finish_cli, held_ffmpeg, make_clip, start_cli, visible, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 90
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize("runners", [1, 2], ids=["one-runner", "a-second-runner-looks"])
def test_a_jobspec_renamed_over_a_claimed_one_loses_no_result(tmp_path: Path, runners: int) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out.mkdir()
    clip = make_clip(tmp_path / "a.mov")
    write_spec(root / "pending" / "x.json", [clip], out)
    stranger = write_spec(tmp_path / "new.json", [clip], tmp_path / "elsewhere")

    first = start_cli(
        "watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT, env=held_ffmpeg(tmp_path)
    )
    _wait_for(tmp_path / "rendering")
    os.rename(stranger, root / "running" / "x.json")  # an operator "fixing" the running job
    if runners == 2:  # a second runner on the folder sees an unlocked running/x.json
        second = finish_cli(
            start_cli("watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT)
        )
        assert second.returncode == 0, second.stderr
        assert "not the JobSpec that was claimed" in second.stderr
    (tmp_path / "go").touch()
    done = finish_cli(first)
    assert done.returncode == 0, done.stderr

    # The job that ran: COMPLETED, its proxy named, filed alone under its name.
    assert visible(root / "completed") == ["x.result.json"]
    result = _read(root / "completed" / "x.result.json")
    assert result["status"] == "COMPLETED"
    assert result["_metadata"]["jobspec_replaced"].startswith("running/x.json was replaced")
    [proxy] = [c["output_path"] for c in result["clips"]]
    assert os.path.isfile(proxy) and os.path.dirname(proxy) == str(out)
    # The stranger: in failed/, its bytes untouched, with a result saying it never ran.
    assert visible(root / "failed") == ["x.json", "x.result.json"]
    assert json.loads((root / "failed" / "x.json").read_text())["output_dir"].endswith("elsewhere")
    refused = _read(root / "failed" / "x.result.json")
    assert refused["status"] == "FAILED" and refused["clips"] == []
    assert "renamed over running/x.json" in refused["validation_error"]
    assert result["job_id"] in refused["validation_error"]
    assert not (tmp_path / "elsewhere").exists()
    assert os.listdir(root / "running") == []  # no sidecar, no staged result left


def test_control_a_job_left_alone_is_filed_with_its_jobspec(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out.mkdir()
    write_spec(root / "pending" / "x.json", [make_clip(tmp_path / "a.mov")], out)
    (tmp_path / "go").touch()
    done = finish_cli(start_cli("watch", str(root), "--once", *ANY_ROOT, env=held_ffmpeg(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert visible(root / "completed") == ["x.json", "x.result.json"]
    result = _read(root / "completed" / "x.result.json")
    assert result["status"] == "COMPLETED"
    assert result["_metadata"].get("jobspec_replaced") is None
    assert visible(root / "failed") == []
