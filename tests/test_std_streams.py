"""Closed or broken stdout/stderr never change what a job did (finding 10 of issue 18).

The real CLI with fd 2 closed at start (`2>&-`), with the reader of its stderr or
stdout gone before it writes (a pipe whose only reading end the test closes), and
`proxx watch` with no stderr: the proxy is published, the exit code is the result's.
Before, `run` exited 1 with nothing on stdout, `watch` died at the first worker log
line, and a gone stdout reader turned a COMPLETED job into exit 1. And the other
plumbing of finding 11: an open-file limit too low for the workers asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from testkit import ANY_ROOT, PROXX, make_clip, spec_in, visible, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def _close_stderr() -> None:
    os.close(2)


def _job(tmp_path: Path) -> tuple[Path, Path]:
    return spec_in(tmp_path, [make_clip(tmp_path / "a.mov")])


def test_run_with_stderr_closed_prints_the_result_and_exits_by_it(tmp_path: Path) -> None:
    spec, out = _job(tmp_path)
    proc = subprocess.run(
        [*PROXX, "run", str(spec)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=_close_stderr,
        timeout=120,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "COMPLETED"
    assert visible(out) == ["a_proxy.mov"]


def test_run_whose_stderr_reader_is_gone_still_prints_and_exits_by_the_result(
    tmp_path: Path,
) -> None:
    spec, out = _job(tmp_path)
    proc = subprocess.Popen(
        [*PROXX, "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    proc.stderr.close()  # the only reader: every write to its stderr is EPIPE now
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert json.loads(stdout)["status"] == "COMPLETED"
    assert visible(out) == ["a_proxy.mov"]


def test_run_whose_stdout_reader_is_gone_exits_by_the_result_and_says_so(
    tmp_path: Path,
) -> None:
    spec, out = _job(tmp_path)
    proc = subprocess.Popen(
        [*PROXX, "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # `proxx run ok.json | true`, without the race
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stdout was closed before the result could be printed" in stderr
    assert "ended COMPLETED all the same (exit code 0)" in stderr
    assert "Traceback" not in stderr and "validation error" not in stderr
    assert visible(out) == ["a_proxy.mov"]


def test_control_a_failed_job_keeps_its_exit_code_with_stdout_gone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spec = write_spec(tmp_path / "job.json", [tmp_path / "missing.mov"], out)
    proc = subprocess.Popen(
        [*PROXX, "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr  # a validation error, as the result says
    assert "ended FAILED all the same (exit code 1)" in stderr


def test_watch_with_stderr_closed_runs_its_jobs(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    write_spec(root / "pending" / "x.json", [make_clip(tmp_path / "a.mov")], out)
    proc = subprocess.run(
        [*PROXX, "watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT],
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        preexec_fn=_close_stderr,
        timeout=120,
    )
    assert proc.returncode == 0
    assert visible(root / "completed") == ["x.json", "x.result.json"]
    assert json.loads((root / "completed" / "x.result.json").read_text())["status"] == "COMPLETED"
    assert visible(out) == ["a_proxy.mov"]


def _fd_limit(n: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def test_a_low_fd_limit_is_a_clear_start_up_error(tmp_path: Path) -> None:
    # Before: `ulimit -n 22` with 4 workers died of EMFILE in selectors, mid-run.
    root = tmp_path / "watch"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    clip = make_clip(tmp_path / "a.mov")
    for i in range(4):
        write_spec(
            root / "pending" / f"x{i}.json",
            [clip],
            out,
            output_name_template=f"{i}_{{source_name}}",
        )
    argv = [*PROXX, "watch", str(root), "--once", "--max-workers", "4", "--poll-seconds", "0.1"]
    argv += ANY_ROOT
    proc = subprocess.run(
        argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _fd_limit(22), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "the open-file limit (ulimit -n) is 22; 4 worker(s) need at least 64" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert visible(root / "pending") == [f"x{i}.json" for i in range(4)]  # nothing taken
    # Control: at the limit it names, the same runner runs all four.
    ok = subprocess.run(
        argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _fd_limit(64), timeout=300,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert len(visible(root / "completed")) == 8 and len(visible(out)) == 4


def test_validate_json_whose_stdout_reader_is_gone_keeps_its_verdict(tmp_path: Path) -> None:
    spec, _out = _job(tmp_path)
    proc = subprocess.Popen(
        [*PROXX, "validate", "--json", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr  # valid; before, click's EPIPE exit 1 read "invalid"
    assert "stdout was closed before the report could be printed" in stderr
    assert "valid: 1 clip(s) via ffmpeg" in stderr
