"""Big jobs cross the pipe (finding 8 of issue 18).

A plan larger than the pipe's 1 MiB frame cap is sent in parts and joined in
order; 10 000 missing sources are one readable validation error (exit 1), not a
worker crash (exit 4). The documented maximum itself — 10 000 sources of 200
bytes — is run by integration/test_big_jobs.py (it probes 10 000 files).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import (
    MAX_MESSAGE_BYTES,
    AccountedClips,
    JobPlanned,
    PlannedClip,
    PlannedClips,
    RecoveryAccounted,
    StartJob,
    encode,
    in_parts,
)
from proxx.contract.results import ClipResult
from proxx.runtime.tracker import JobTracker
from testkit import make_clip, run_cli, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def _deep(base: Path, total: int) -> Path:
    """A folder whose absolute path is `total` bytes long (made of 200-byte parts)."""
    path = base
    while len(str(path)) + 201 < total:
        path = path / ("p" * 200)
    path = path / ("q" * (total - len(str(path)) - 1))
    path.mkdir(parents=True)
    return path


def test_a_plan_larger_than_a_frame_is_sent_in_parts_and_joined_in_order(
    tmp_path: Path,
) -> None:
    # 400 clips of a 1 000-byte source and a 3 000-byte output folder: a 1.6 MB plan
    # from a 0.4 MB JobSpec. Before, the worker's one JobPlanned broke the frame cap.
    clip = make_clip(tmp_path / "a.mov")
    folder = _deep(tmp_path / "src", 985)
    sources = []
    for i in range(400):
        sources.append(folder / f"s{i:04d}.mov")
        os.link(clip, sources[-1])
    out = _deep(tmp_path / "out", 3000)
    spec = write_spec(tmp_path / "job.json", sources, out)

    proc = run_cli("validate", "--json", str(spec), timeout=300)

    assert proc.returncode == 0, proc.stderr[-2000:]
    clips = json.loads(proc.stdout)["clips"]
    assert [c["source_path"] for c in clips] == [str(s) for s in sources]
    assert [c["output_path"] for c in clips] == [str(out / f"{s.stem}_proxy.mov") for s in sources]


def test_a_recovery_accounting_larger_than_a_frame_is_sent_in_parts(tmp_path: Path) -> None:
    # A dead runner's job of 400 such clips: the worker's accounting is 1.6 MB. Before,
    # it broke the frame cap and the recovered job failed as worker_crashed.
    clip = make_clip(tmp_path / "a.mov")
    folder = _deep(tmp_path / "src", 985)
    sources = [folder / f"s{i:04d}.mov" for i in range(400)]
    for source in sources:
        os.link(clip, source)
    out = _deep(tmp_path / "out", 3000)
    root = tmp_path / "watch"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    write_spec(root / "running" / "big.json", sources, out)  # its runner is gone

    proc = run_cli("watch", str(root), "--once", "--poll-seconds", "0.1", timeout=300)

    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((root / "failed" / "big.result.json").read_text())
    assert result["_recovery"]["reason"] == "runner interrupted"
    assert [c["source_path"] for c in result["clips"]] == [str(s) for s in sources]
    assert {c["failure_reason"] for c in result["clips"]} != {"worker_crashed"}


def test_ten_thousand_missing_sources_are_one_validation_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sources = [tmp_path / ("m" * 150) / f"missing{i:05d}.mov" for i in range(10_000)]
    spec = write_spec(tmp_path / "job.json", sources, out)

    checked = run_cli("validate", str(spec), timeout=300)
    ran = run_cli("run", str(spec), timeout=300)

    assert checked.returncode == 1, checked.stderr[-2000:]
    assert "source missing: " in checked.stderr
    assert "and 9980 more (10000 in all)" in checked.stderr
    assert ran.returncode == 1, ran.stderr[-2000:]
    result = json.loads(ran.stdout)
    assert result["status"] == "FAILED" and result["total_clips"] == 10_000
    assert result["validation_error"].startswith(f"source missing: {sources[0]}, {sources[1]}")
    assert str(sources[20]) not in result["validation_error"]  # the 21st is counted, not named


def test_control_a_few_missing_sources_are_each_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sources = [tmp_path / f"missing{i}.mov" for i in range(20)]
    proc = run_cli("validate", str(write_spec(tmp_path / "job.json", sources, out)))
    assert proc.returncode == 1
    assert all(str(s) in proc.stderr for s in sources) and "more" not in proc.stderr


def _tracker() -> JobTracker:
    req = StartJob(job_id="j", kind="run", jobspec_path="/x.json", base_dir="/", worker_id=0)
    return JobTracker(req, Deadlines(), 0.0)


def test_parts_of_a_plan_each_fit_a_frame_and_join_to_the_whole() -> None:
    clips = [
        PlannedClip(index=i, source_path="/s" * 2000, output_path=f"/o{i}") for i in range(900)
    ]
    plan = JobPlanned(
        job_id="j", jobspec_version="1.0.0", fingerprint="f", engine="ffmpeg",
        routing_reason="r", clips=clips,
    )  # fmt: skip
    parts = in_parts(plan)
    assert len(encode(plan)) > MAX_MESSAGE_BYTES  # the one message would not cross
    assert len(parts) > 1 and all(len(encode(p)) < MAX_MESSAGE_BYTES for p in parts)
    assert all(isinstance(p, PlannedClips) for p in parts[:-1])
    tracker = _tracker()
    for part in parts:
        tracker.on_message(part, 0.0)
    assert tracker.planned is not None and tracker.planned.clips == clips
    assert in_parts(plan.model_copy(update={"clips": clips[:3]})) == [
        plan.model_copy(update={"clips": clips[:3]})
    ]


def test_parts_of_a_recovery_accounting_join_to_the_whole() -> None:
    clips = [
        ClipResult(source_path="/s" * 2000, output_path=f"/o{i}", status="COMPLETED", engine=None)
        for i in range(900)
    ]
    accounted = RecoveryAccounted(job_id="j", jobspec_version="1.0.0", fingerprint="f", clips=clips)
    parts = in_parts(accounted)
    assert len(parts) > 1 and all(len(encode(p)) < MAX_MESSAGE_BYTES for p in parts)
    assert all(isinstance(p, AccountedClips) for p in parts[:-1])
    tracker = _tracker()
    for part in parts:
        tracker.on_message(part, 0.0)
    assert tracker.recovered is not None and tracker.recovered.clips == clips
