"""`proxx status` lists partial renders left by finished jobs, and never a running job's.

The real case (SIGTERM mid-clip under `proxx watch`) is in
integration/test_remainder_watch.py; here the folder is laid out by hand to
cover each attribution rule.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from proxx.contract.results import NO_FINGERPRINT, ClipResult, build_result
from testkit import run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def result(job_id: str, out: Path, *clips: dict[str, Any]) -> str:
    """A failed job's result as Proxx writes it, with one FAILED clip per `clips` entry."""
    res = build_result(
        job_id=job_id,
        jobspec_version="1.0.0",
        started=datetime.now(UTC),
        clips=[
            ClipResult(
                source_path="/s.mov",
                output_path=str(out / "a.mov"),
                status="FAILED",
                engine="ffmpeg",
                **c,
            )
            for c in clips
        ],
        fingerprint=NO_FINGERPRINT,
        jobspec_path=None,
    )
    return res.model_dump_json(by_alias=True)


def test_partials_of_finished_jobs_are_listed_with_size_and_job(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed", "out"):
        (root / d if d != "out" else out).mkdir(parents=True)
    (root / "failed" / "j1.result.json").write_text(result("aaaaaaaaaaaa", out, {}))
    # A recovered job names its dead runner's partial, whose job id is another one.
    recovered = out / ".b.mov.cccccccccccc.partial"
    (root / "failed" / "j2.result.json").write_text(
        result("bbbbbbbbbbbb", out, {"partial_output_path": str(recovered)})
    )
    finished = out / ".a.mov.aaaaaaaaaaaa.partial"
    finished.write_bytes(b"x" * 1000)
    recovered.write_bytes(b"y" * 10)
    live = out / ".z.mov.dddddddddddd.partial"  # a job still running: not a leftover
    live.write_bytes(b"z")
    (out / "a.mov").write_bytes(b"published")

    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert status["partials"] == [
        {
            "path": str(finished),
            "size_bytes": 1000,
            "job_id": "aaaaaaaaaaaa",
            "result": str(root / "failed" / "j1.result.json"),
        },
        {
            "path": str(recovered),
            "size_bytes": 10,
            "job_id": "cccccccccccc",
            "result": str(root / "failed" / "j2.result.json"),
        },
    ]
    text = run_cli("status", str(root)).stdout
    assert "leftover partial renders of finished jobs: 2, 1010 bytes" in text
    assert f"{finished}: 1000 bytes, job aaaaaaaaaaaa" in text
    assert str(live) not in text


def test_no_results_no_partials_listed(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    (root / "pending").mkdir(parents=True)
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert status["partials"] == [] and status["misplaced"] == []
    assert "leftover partial" not in run_cli("status", str(root)).stdout


def test_recent_failures_are_read_through_the_result_model(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    good = root / "failed" / "good.result.json"
    good.write_text(
        result("aaaaaaaaaaaa", out, {"failure_reason": "timeout", "failure_detail": "1 s limit"})
    )
    # JSON, but not a Proxx result (a field no result has): never shown as one.
    odd = root / "failed" / "odd.result.json"
    odd.write_text(json.dumps({"job_id": "x", "status": "FAILED", "surprise": 1}))
    os.utime(odd, (1, 1))  # older: listed after the good one

    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert status["recent_failures"] == [
        {
            "result": str(good),
            "job_id": "aaaaaaaaaaaa",
            "status": "FAILED",
            "ended_at": json.loads(good.read_text())["ended_at"],
            "reason": "timeout: 1 s limit",
        },
        {"result": str(odd), "status": None, "reason": "unreadable result file"},
    ]


def test_an_oversized_newest_result_does_not_hide_older_jobs_partials(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out.mkdir()
    older = root / "failed" / "j1.result.json"
    older.write_text(result("aaaaaaaaaaaa", out, {}))
    os.utime(older, (1, 1))
    partial = out / ".a.mov.aaaaaaaaaaaa.partial"
    partial.write_bytes(b"x")
    # Newest, and larger than everything status reads together (sparse: no disk used).
    with open(root / "completed" / "big.result.json", "wb") as fh:
        fh.truncate(65 * 1024 * 1024)

    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert [p["path"] for p in status["partials"]] == [str(partial)]
