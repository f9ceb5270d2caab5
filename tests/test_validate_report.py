"""What `proxx validate` and `proxx run` report through the real CLI: a valid JobSpec
(nothing written), the reason once, the fingerprint, odd JobSpec paths, a missing engine.

Invalid JobSpecs, case by case: test_validate_cli.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit import run_cli, snapshot

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def test_valid_spec_validates_without_writing(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    spec = job([clip(), clip("b.mov")], output_name_template="日本語_{index}_{source_name}")
    before = snapshot(tmp_path)
    plain = run_cli("validate", str(spec))
    assert (plain.returncode, plain.stdout) == (0, "")
    assert "valid: 2 clip(s) via ffmpeg" in plain.stderr
    report = json.loads(run_cli("validate", "--json", str(spec)).stdout)
    assert report["valid"] is True and report["validation_error"] is None
    assert report["execution_engine"] == "ffmpeg"
    assert [c["output_path"] for c in report["clips"]] == [
        str(tmp_path / "out" / "日本語_001_clip.mov"),
        str(tmp_path / "out" / "日本語_002_b.mov"),
    ]
    assert snapshot(tmp_path) == before


def test_plain_validate_prints_only_the_reason_on_stderr(
    tmp_path: Path, job: Callable[..., Path]
) -> None:
    spec = job([tmp_path / "gone.mov"])
    plain = run_cli("validate", str(spec))
    assert (plain.returncode, plain.stdout) == (1, "")
    reason = f"source missing: {tmp_path / 'gone.mov'}"
    # Once, naming the JobSpec: no log line repeats it.
    assert plain.stderr.strip() == f"invalid: {spec}: {reason}"
    assert "Traceback" not in plain.stderr


def test_run_of_an_invalid_spec_prints_no_traceback(
    tmp_path: Path, job: Callable[..., Path]
) -> None:
    spec = job([tmp_path / "gone.mov"])
    for _ in range(3):  # the race is lost most of the time; three tries make it certain
        run = run_cli("run", str(spec))
        assert run.returncode == 1
        assert "Traceback" not in run.stderr, run.stderr


def test_validate_and_run_agree_on_the_fingerprint(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    spec = job([clip()], name="a.json")
    same = json.loads(spec.read_text())
    (tmp_path / "b.json").write_text(json.dumps(dict(reversed(same.items())), indent=4))
    fa = json.loads(run_cli("validate", "--json", str(spec)).stdout)["jobspec_fingerprint"]
    fb = json.loads(run_cli("validate", "--json", str(tmp_path / "b.json")).stdout)[
        "jobspec_fingerprint"
    ]
    assert fa == fb and fa.startswith("sha256:")


def test_missing_jobspec_file(tmp_path: Path) -> None:
    spec = tmp_path / "nope.json"
    plain = run_cli("validate", str(spec))
    assert plain.returncode == 1 and "cannot read JobSpec" in plain.stderr
    run = run_cli("run", str(spec))
    assert run.returncode == 1
    result = json.loads(run.stdout)
    assert result["status"] == "FAILED" and "cannot read JobSpec" in result["validation_error"]
    assert str(spec) in result["validation_error"]


def test_jobspec_path_that_is_a_directory(tmp_path: Path) -> None:
    run = run_cli("run", str(tmp_path))
    assert run.returncode == 1
    assert "cannot read JobSpec" in json.loads(run.stdout)["validation_error"]


def test_validate_exits_4_when_ffmpeg_is_missing(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    # Probing needs no ffprobe (PyAV, in-process); the routed engine's binary is
    # what must be usable.
    spec = job([clip()])
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    plain = run_cli("validate", "--json", str(spec), env={"PATH": str(empty)})
    assert plain.returncode == 4
    assert "ffmpeg not found" in json.loads(plain.stdout)["system_error"]
    run = run_cli("run", str(spec), env={"PATH": str(empty)})
    assert run.returncode == 4
    result = json.loads(run.stdout)
    assert result["status"] == "FAILED" and result["validation_error"] is None
    assert [c["failure_reason"] for c in result["clips"]] == ["engine_unavailable"]
    assert "ffmpeg not found" in result["clips"][0]["failure_detail"]
    assert os.listdir(tmp_path / "out") == []
