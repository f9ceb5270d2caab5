"""SlurmExecutor: how a Slurm job's life becomes the job's outcome.

Time in the queue against silence on a node, Slurm's end states and reasons on
the clips, a requeue, a garbled spool, and the notes on why a job waits and where
it runs. Slurm is played by an in-memory double (tests/slurm_double.py) with a real
spool file; the real cluster is exercised in integration/test_slurm_*.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import ClipFinished, JobFinished, encode
from proxx.contract.results import ClipResult
from proxx.runtime.executor import JobNoted
from proxx.slurm.spool import revoked_path, spool_path
from tests.slurm_double import (
    FakeSlurm,
    interrupted_clip,
    make,
    nothing_for,
    planned,
    run_until,
    spool_write,
    submitted,
    until_cancelled,
)

SHORT = Deadlines(accept=0.3)


def test_time_in_the_queue_is_not_a_hang_but_silence_on_a_node_is(tmp_path: Path) -> None:
    slurm, ex, _, job_id = submitted(tmp_path, deadlines=SHORT)
    nothing_for(ex, 0.8)  # PENDING for longer than the accept deadline: fine
    assert slurm.cancels == []
    slurm.set(job_id, "RUNNING")
    nothing_for(ex, 0.1)
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]  # silent on the node past the deadline: killed
    slurm.set(job_id, "FAILED", "NonZeroExitCode")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.TIMEOUT
    assert "accept phase exceeded" in outcome.early_stop[1]


# The expected reason is written out, not asked of the code under test: a wrong
# mapping, or the wrong job's record overlaid, must fail here.
@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("TIMEOUT", "TimeLimit", FailureReason.TIMEOUT),
        ("NODE_FAIL", "NodeDown", FailureReason.WORKER_CRASHED),
        ("CANCELLED", "None", FailureReason.INTERRUPTED),
    ],
)
def test_a_clip_stopped_by_slurms_sigterm_takes_slurms_reason(
    tmp_path: Path, state: str, reason: str, expected: FailureReason
) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    spool_write(
        req,
        *planned(req, tmp_path),
        ClipFinished(job_id=req.job_id, clip=interrupted_clip(tmp_path)),
        JobFinished(job_id=req.job_id, engine_versions={"ffmpeg": "5.1"}),
    )
    nothing_for(ex, 0.2)  # reported its end, but Slurm has not ended the job yet
    slurm.set(job_id, state, reason)
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert clip.failure_reason is expected
    assert clip.failure_detail is not None
    assert "worker received SIGTERM" in clip.failure_detail
    assert f"Slurm job {job_id} {state} (reason: {reason}" in clip.failure_detail
    assert outcome.executor_info["slurm_job_id"] == job_id
    assert outcome.executor_info["slurm_node"] == "node7"
    # running/ is left empty: spool and record go with the outcome
    assert sorted(os.listdir(tmp_path / "running")) == ["job.json"]


def test_a_time_limit_between_clips_fails_the_next_clip_as_timeout(tmp_path: Path) -> None:
    # Slurm's SIGTERM reached the worker after one clip and before the next: only the
    # worker saw the stop, and says so in its last message.
    slurm, ex, req, job_id = submitted(tmp_path)
    spool_write(
        req,
        planned(req, tmp_path)[0],  # the plan; its clip never started
        JobFinished(job_id=req.job_id, engine_versions={}, stopped="worker received SIGTERM"),
    )
    slurm.set(job_id, "TIMEOUT", "TimeLimit")
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert (clip.status, clip.failure_reason) == ("FAILED", FailureReason.TIMEOUT)
    assert clip.failure_detail is not None
    assert clip.failure_detail.startswith("worker received SIGTERM; ")
    assert f"Slurm job {job_id} TIMEOUT (reason: TimeLimit" in clip.failure_detail


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [("5:0", FailureReason.INTERRUPTED), ("1:0", FailureReason.WORKER_CRASHED)],
    ids=["step-says-stopped", "control-step-crashed"],
)
def test_a_sigterm_to_the_step_alone_stays_interrupted(
    tmp_path: Path, exit_code: str, expected: FailureReason
) -> None:
    # `scancel --signal=TERM` or `--signal=B:TERM@60` reach the step, not Slurm's end of
    # the job: the step exits 5 and Slurm calls the job FAILED. That is not a crash.
    slurm, ex, req, job_id = submitted(tmp_path)
    spool_write(
        req,
        *planned(req, tmp_path),
        ClipFinished(job_id=req.job_id, clip=interrupted_clip(tmp_path)),
        JobFinished(job_id=req.job_id, engine_versions={}),
    )
    slurm.set(job_id, "FAILED", "NonZeroExitCode", exit_code=exit_code)
    (clip,) = run_until(ex).clips
    assert clip.failure_reason is expected


def test_a_completed_job_keeps_its_clips_as_reported(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    done = interrupted_clip(tmp_path).model_copy(
        update={"status": "COMPLETED", "failure_reason": None, "failure_detail": None}
    )
    spool_write(
        req,
        *planned(req, tmp_path),
        ClipFinished(job_id=req.job_id, clip=done),
        JobFinished(job_id=req.job_id, engine_versions={}),
    )
    slurm.set(job_id, "COMPLETED")
    outcome = run_until(ex)
    assert [c.status for c in outcome.clips] == ["COMPLETED"]
    assert outcome.clips[0].failure_detail is None


def test_a_step_that_ends_without_a_word_is_a_crash_with_slurms_state(tmp_path: Path) -> None:
    slurm, ex, _, job_id = submitted(tmp_path)
    slurm.set(job_id, "FAILED", "NonZeroExitCode")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    failure, detail = outcome.early_stop
    assert failure is FailureReason.WORKER_CRASHED
    assert "FAILED" in detail and "NonZeroExitCode" in detail
    assert "the step wrote no spool" in detail  # the shared-storage hint


def test_a_requeued_job_is_cancelled_and_failed_never_run_twice(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    spool_write(req, *planned(req, tmp_path))
    nothing_for(ex, 0.1)
    slurm.set(job_id, "PENDING", "BeginTime", restarts=1)  # an administrator's requeue
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]
    slurm.set(job_id, "CANCELLED", restarts=1)
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert clip.failure_reason is FailureReason.WORKER_CRASHED
    assert clip.failure_detail is not None and "requeued" in clip.failure_detail
    assert len(slurm.submitted) == 1


def test_a_job_requeued_at_launch_is_cancelled_and_filed_as_not_run(tmp_path: Path) -> None:
    # Its node died right after allocation: the launch failed and Slurm requeued it
    # (it does so even with --no-requeue); no step ever wrote to the spool.
    slurm, ex, _, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    nothing_for(ex, 0.1)
    slurm.set(job_id, "PENDING", "launch_failed_requeued_held", restarts=1)
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]
    slurm.set(job_id, "CANCELLED", restarts=1)
    outcome = run_until(ex)
    assert outcome.clips == [] and outcome.early_stop is not None
    reason, detail = outcome.early_stop
    assert reason is FailureReason.INTERRUPTED  # stopped before the start, not a crash
    assert "after node node7 failed at launch" in detail and "not run" in detail
    assert len(slurm.submitted) == 1


def test_an_ended_job_s_spool_is_revoked_and_what_its_step_writes_after_still_counts(
    tmp_path: Path,
) -> None:
    # NODE_FAIL while the node lives on: the spool is renamed away (the step's fence
    # sees that and stops), and a clip it finished meanwhile, written through its
    # open descriptor, is read from the revoked spool before the job is filed.
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    spool_write(req, *planned(req, tmp_path))
    step_fd = os.open(spool_path(req.jobspec_path), os.O_WRONLY | os.O_APPEND)
    nothing_for(ex, 0.1)
    slurm.set(job_id, "NODE_FAIL", "NodeDown")
    deadline = time.monotonic() + 5
    while os.path.exists(spool_path(req.jobspec_path)) and time.monotonic() < deadline:
        ex.wait(0.01)
    revoked = revoked_path(req.jobspec_path)
    assert not os.path.exists(spool_path(req.jobspec_path)) and os.path.exists(revoked)
    done = ClipResult(
        source_path="/src/a.mov",
        output_path=str(tmp_path / "a.mov"),
        status="COMPLETED",
        engine="ffmpeg",
    )
    os.write(step_fd, encode(ClipFinished(job_id=req.job_id, clip=done, index=0)) + b"\n")
    os.close(step_fd)
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert clip.status == "COMPLETED"  # accounted, not contradicted
    assert not os.path.exists(revoked)  # running/ ends empty
    assert os.listdir(tmp_path / "running") == ["job.json"]


def test_a_garbled_spool_kills_the_job_as_a_crash(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    with open(spool_path(req.jobspec_path), "ab") as fh:
        fh.write(b'{"type": "job_finished"}\n')  # not a valid message
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]
    slurm.set(job_id, "CANCELLED")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.WORKER_CRASHED
    assert "not a worker message" in outcome.early_stop[1]


def test_notes_say_why_a_job_waits_and_where_it_runs(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    notes: list[str] = []

    def pump(seconds: float = 0.1) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            notes.extend(e.note for e in ex.wait(0.01) if isinstance(e, JobNoted))

    pump()  # PENDING with reason None: Slurm has not looked yet, nothing to say
    slurm.set("101", "PENDING", "Resources")
    pump()
    slurm.set("101", "PENDING", "Resources")  # unchanged: said once
    pump()
    slurm.set("101", "RUNNING")
    pump()
    assert notes == ["Slurm job 101 pending (Resources)", "Slurm job 101 running on node node7"]
