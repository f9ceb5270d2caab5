"""What `proxx run` shows of a job's progress on stderr (issue 19, point 3).

`--progress jsonl`: one JSON object per update, each with the job's record;
`--progress line`: one line redrawn in place, ended before the closing log line;
the default on a pipe: nothing (a log file wants no redraws). stdout carries
the result and nothing else in every mode.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit import PROGRESS_KEYS, PROXX, run_cli


def _two_clips(clip: Callable[..., Path], job: Callable[..., Path]) -> Path:
    return job([clip("a.mov", seconds=2.0), clip("b.mov", seconds=1.0)])


def _progress_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_jsonl_gives_one_record_per_update_with_exactly_the_keys(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    proc = run_cli("run", str(_two_clips(clip, job)), "--progress", "jsonl")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "COMPLETED"  # stdout: the result alone
    lines = _progress_lines(proc.stderr)
    assert lines and all(set(x) == {"event", "job_id", "progress"} for x in lines)
    records = [x["progress"] for x in lines]
    assert all(set(r) == PROGRESS_KEYS for r in records)
    assert {r["clips"] for r in records if r["clips"] is not None} == {2}
    assert {(r["phase"], r["clip"]) for r in records} >= {("render", 1), ("render", 2)}
    fractions = [r["job_fraction"] for r in records if r["job_fraction"] is not None]
    assert fractions == sorted(fractions) and max(fractions) <= 1.0
    # Clip 1 is 2 of the job's 3 media seconds: once it is published, two thirds.
    assert any(r["clip"] == 2 and r["job_fraction"] >= 0.66 for r in records)


def test_the_line_is_redrawn_in_place_and_ended_before_the_closing_line(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    proc = subprocess.run(
        [*PROXX, "run", str(_two_clips(clip, job)), "--progress", "line"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )

    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "\r\x1b[Kclip 2/2 " in stderr
    last = stderr.rsplit("\r\x1b[K", 1)[1]
    drawn, end, closing = last.partition("\r\n")  # back to the start, then a new line
    assert drawn.startswith("clip 2/2 ") and end == "\r\n", last
    assert "COMPLETED (2/2 clips)" in closing
    json.loads(proc.stdout)


def test_on_a_pipe_by_default_no_progress_is_shown(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    proc = run_cli("run", str(_two_clips(clip, job)))

    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and not _progress_lines(proc.stderr)
    assert "COMPLETED (2/2 clips)" in proc.stderr
