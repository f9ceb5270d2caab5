"""Real finished jobs for the `proxx report` tests, and the report command itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testkit import make_clip, run_cli, spec_in, truncated_copy


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`proxx demo`'s job (three camera-like clips, two frame rates), rendered for real."""
    root = tmp_path_factory.mktemp("demo")
    proc = run_cli("demo", "--dir", str(root), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root / "run-1" / "demo_job.result.json"


def run_job(folder: Path, sources: list[Path], **spec: object) -> Path:
    """`proxx run` of a JobSpec of `sources` (outputs in folder/out); its result in a file."""
    spec_path, _ = spec_in(folder, [str(s) for s in sources], **spec)
    proc = run_cli("run", str(spec_path), timeout=300)
    assert proc.stdout, proc.stderr
    result = folder / "job.result.json"
    result.write_text(proc.stdout)
    return result


@pytest.fixture(scope="module")
def partial_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PARTIAL job: a.mov rendered, b.mov (cut short) failed, c.mov skipped."""
    folder = tmp_path_factory.mktemp("partial")
    whole = make_clip(folder / "whole.mov", extra=["-movflags", "+faststart"])
    bad = truncated_copy(whole, folder / "b.mov")
    sources = [make_clip(folder / "a.mov"), bad, make_clip(folder / "c.mov")]
    result = run_job(folder, sources, output_name_template="{source_name}_proxy")
    assert json.loads(result.read_text())["status"] == "PARTIAL"
    return result


def report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *(str(a) for a in args), timeout=300)
