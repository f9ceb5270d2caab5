"""The job state machine alone: every cancel, deadline and death ordering, in milliseconds.

No processes and no files: the tracker is fed messages and times, and its
outcome is turned into the result a user would read (`proxx.runtime.verdict`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    ClipFinished,
    ClipStarted,
    JobFinished,
    JobNote,
    JobPlanned,
    JobRejected,
    PhaseStarted,
    PlannedClip,
    StartJob,
    WorkerFailing,
)
from proxx.contract.results import ClipResult, JobResult
from proxx.runtime.tracker import CANCEL_GRACE_S, JobTracker, KillWorker, SendCancel
from proxx.runtime.verdict import result_of

T0 = 1000.0
LIMITS = Deadlines(
    accept=5,
    read=5,
    validate=5,
    engine_check=5,
    finish=5,
    recover=5,
    probe=lambda n: 10.0,
    render=lambda d: 100.0,
    verify=lambda d: 20.0,
)
REQ = StartJob(
    job_id="j1", kind="run", jobspec_path="/w/running/a.json", base_dir="/w", worker_id=0
)
CLIPS = [
    PlannedClip(index=i, source_path=f"/src/{i}.mov", output_path=f"/out/{i}.mov", duration=2.0)
    for i in range(3)
]
PLANNED = JobPlanned(
    job_id="j1",
    jobspec_version="1.0.0",
    fingerprint="sha256:" + "1" * 64,
    engine="ffmpeg",
    routing_reason="codec h264: FFmpeg decodes it",
    clips=CLIPS,
)


def tracker() -> JobTracker:
    return JobTracker(REQ, LIMITS, T0, worker_id=0, worker_started_at="2026-01-01T00:00:00Z")


def started(t: JobTracker, index: int, now: float) -> None:
    t.on_message(
        ClipStarted(
            job_id="j1",
            index=index,
            started_at="x",
            ffmpeg_command="ff",
            partial_path=f"/out/.{index}.mov.j1.partial",
        ),
        now,
    )


def done(
    t: JobTracker,
    index: int,
    now: float,
    status: str = "COMPLETED",
    reason: FailureReason | None = None,
) -> None:
    clip = ClipResult(
        source_path=f"/src/{index}.mov",
        output_path=f"/out/{index}.mov",
        status=status,
        engine="ffmpeg",
        failure_reason=reason,
        failure_detail=None if reason is None else "stopped: x",
    )
    t.on_message(ClipFinished(job_id="j1", clip=clip), now)


def planned(t: JobTracker, now: float = T0 + 1) -> None:
    t.on_message(PhaseStarted(job_id="j1", phase="read"), now)
    t.on_message(JobPlanned.model_validate(PLANNED.model_dump()), now)


def result(t: JobTracker) -> JobResult:
    return result_of(
        t.outcome(),
        started=datetime(2026, 1, 1, tzinfo=UTC),
        jobspec_path=REQ.jobspec_path,
        mode="sequential",
    )


def test_a_job_that_finishes_is_completed_with_every_clip() -> None:
    t = tracker()
    planned(t)
    for i in range(3):
        started(t, i, T0 + 2 + i)
        done(t, i, T0 + 2.5 + i)
    t.on_message(JobFinished(job_id="j1", engine_versions={"ffmpeg": "5.1"}), T0 + 6)
    assert t.finished and t.next_deadline() is None
    res = result(t)
    assert (res.status, res.successful_clips, res.exit_code()) == ("COMPLETED", 3, 0)
    assert res.metadata.engine_versions == {"ffmpeg": "5.1"}


def test_no_word_from_the_worker_misses_the_accept_deadline_and_kills_it() -> None:
    t = tracker()
    assert t.due(T0 + 4.9) == []
    [action] = t.due(T0 + 5)
    assert isinstance(action, KillWorker) and "accept phase exceeded its 5 s limit" in action.why
    t.on_death("was killed by SIGKILL")
    res = result(t)
    assert res.status == "FAILED" and res.clips == []
    assert res.system_error == (
        "timeout: accept phase exceeded its 5 s limit; worker process was killed by SIGKILL"
    )
    assert res.exit_code() == 4


@pytest.mark.parametrize(
    ("phase", "limit"),
    [("read", 5), ("validate", 5), ("probe", 10), ("engine_check", 5), ("recover", 5)],
)
def test_each_preparation_phase_has_its_own_deadline(phase: str, limit: float) -> None:
    t = tracker()
    t.on_message(PhaseStarted(job_id="j1", phase=phase, basis=3.0), T0 + 1)
    assert t.next_deadline() == T0 + 1 + limit
    assert t.due(T0 + limit) == []
    [action] = t.due(T0 + 1 + limit)
    assert isinstance(action, KillWorker) and f"{phase} phase exceeded" in action.why


def test_a_render_past_its_limit_is_cancelled_then_killed_as_timeout() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    [cancel] = t.due(T0 + 102)
    assert isinstance(cancel, SendCancel) and "100 s time limit" in cancel.reason
    # The worker obeys: FFmpeg stopped, the clip reported as interrupted → timeout.
    done(t, 0, T0 + 103, "FAILED", FailureReason.INTERRUPTED)
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 103)
    res = result(t)
    assert [c.status for c in res.clips] == ["FAILED", "SKIPPED", "SKIPPED"]
    assert res.clips[0].failure_reason is FailureReason.TIMEOUT


def test_a_worker_deaf_to_the_cancel_is_killed_after_the_grace() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    assert isinstance(t.cancel("proxx watch received SIGTERM", T0 + 3)[0], SendCancel)
    assert t.cancel("again", T0 + 3.5) == []  # one cancel per job
    assert t.due(T0 + 3 + CANCEL_GRACE_S - 0.1) == []
    [kill] = t.due(T0 + 3 + CANCEL_GRACE_S)
    assert isinstance(kill, KillWorker)
    t.on_death("was killed by SIGKILL")
    res = result(t)
    clip = res.clips[0]
    assert clip.failure_reason is FailureReason.INTERRUPTED
    assert clip.failure_detail is not None and "did not stop in time" in clip.failure_detail
    assert clip.partial_output_path == "/out/.0.mov.j1.partial"
    assert res.interrupted is not None and res.exit_code() == 5


def test_a_cancel_between_clips_names_the_next_clip_interrupted() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3)
    t.cancel("proxx watch received SIGTERM", T0 + 3.1)
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 3.2)
    res = result(t)
    assert res.status == "PARTIAL" and res.interrupted == "proxx watch received SIGTERM"
    assert [c.status for c in res.clips] == ["COMPLETED", "FAILED", "SKIPPED"]
    assert res.clips[1].partial_output_path is None  # it never started


def test_a_stop_only_the_worker_saw_between_clips_names_the_next_clip_interrupted() -> None:
    # Slurm (or a process manager) signals the worker itself: no cancel of ours.
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3)
    stop = JobFinished(job_id="j1", engine_versions={}, stopped="worker received SIGTERM")
    t.on_message(stop, T0 + 3.2)
    res = result(t)
    assert [c.status for c in res.clips] == ["COMPLETED", "FAILED", "SKIPPED"]
    assert res.clips[1].failure_reason is FailureReason.INTERRUPTED
    assert res.clips[1].failure_detail == "worker received SIGTERM"
    assert res.clips[2].failure_detail == "not run: an earlier clip failed (fail-fast)"
    assert (res.status, res.interrupted, res.exit_code()) == (
        "PARTIAL",
        "worker received SIGTERM",
        5,
    )


def test_clips_after_a_skipped_one_are_skipped_for_its_reason_not_a_failure() -> None:
    # A worker that ended without naming a stop (an older worker, or one that broke off):
    # no clip failed, so none of the skipped ones may say an earlier clip failed.
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3)
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 3.2)
    res = result(t)
    assert [(c.status, c.failure_detail) for c in res.clips[1:]] == [
        ("SKIPPED", "not run: the job was stopped"),
        ("SKIPPED", "not run: the job was stopped"),
    ]


def test_a_stop_after_the_last_clip_changes_no_clip() -> None:
    t = tracker()
    planned(t)
    for i in range(3):
        started(t, i, T0 + 2 + i)
        done(t, i, T0 + 2.5 + i)
    stop = JobFinished(job_id="j1", engine_versions={}, stopped="worker received SIGTERM")
    t.on_message(stop, T0 + 6)
    res = result(t)
    assert (res.status, res.successful_clips, res.exit_code()) == ("COMPLETED", 3, 0)


def test_a_death_mid_clip_is_worker_crashed_with_its_last_words() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3)
    started(t, 1, T0 + 3)
    t.on_message(WorkerFailing(error="MemoryError"), T0 + 4)
    t.on_death("exited with code 1")
    res = result(t)
    assert res.status == "PARTIAL"
    assert res.clips[1].failure_reason is FailureReason.WORKER_CRASHED
    assert res.clips[1].failure_detail == (
        "worker process exited with code 1 (MemoryError) during the render phase; "
        "its temporary render (if FFmpeg had begun writing) is /out/.1.mov.j1.partial"
    )
    assert res.clips[2].status == "SKIPPED"


def test_a_death_before_planning_fails_the_job_naming_the_phase() -> None:
    t = tracker()
    t.on_message(PhaseStarted(job_id="j1", phase="probe", basis=1.0), T0 + 1)
    t.on_death("was killed by SIGSEGV")
    res = result(t)
    assert (res.status, res.total_clips, res.jobspec_fingerprint) == (
        "FAILED",
        0,
        "sha256:" + "0" * 64,
    )
    assert res.system_error == (
        "worker_crashed: worker process was killed by SIGSEGV during the probe phase"
    )


def test_a_stop_before_planning_is_interrupted_exit_5() -> None:
    t = tracker()
    t.on_message(PhaseStarted(job_id="j1", phase="probe"), T0 + 1)
    t.cancel("proxx run received SIGINT", T0 + 2)
    _rejected_as_interrupted(t, "proxx run received SIGINT", total_clips=3, at=T0 + 2.1)
    res = result(t)
    assert (res.status, res.total_clips, res.exit_code()) == ("FAILED", 3, 5)


def test_a_rejected_job_keeps_the_reason_and_the_source_count() -> None:
    t = tracker()
    t.on_message(
        JobRejected(
            job_id="j1",
            jobspec_version="1.0.0",
            fingerprint="sha256:ab",
            total_clips=2,
            validation_error="codec: 'x' is not allowed",
        ),
        T0 + 1,
    )
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 1)
    res = result(t)
    assert (res.validation_error, res.total_clips, res.exit_code()) == (
        "codec: 'x' is not allowed",
        2,
        1,
    )


def test_waiting_for_resolve_pauses_the_clock_and_resumes_it() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    t.on_message(JobNote(job_id="j1", note="waiting for DaVinci Resolve", waiting=True), T0 + 3)
    assert t.next_deadline() is None and t.due(T0 + 10_000) == []
    t.on_message(JobNote(job_id="j1", note="Resolve is free"), T0 + 10_000)
    assert t.next_deadline() == T0 + 10_000 + 100


def test_a_message_for_another_job_kills_the_worker_as_crashed() -> None:
    t = tracker()
    planned(t)
    [kill] = t.on_message(JobFinished(job_id="other", engine_versions={}), T0 + 2)
    assert isinstance(kill, KillWorker)
    t.on_death("was killed by SIGKILL")
    res = result(t)
    assert res.clips[0].failure_reason is FailureReason.WORKER_CRASHED
    assert "for a job it does not hold" in (res.clips[0].failure_detail or "")


def test_a_death_after_job_finished_changes_nothing() -> None:
    t = tracker()
    planned(t)
    for i in range(3):
        started(t, i, T0 + 2)
        done(t, i, T0 + 2)
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 3)
    assert t.due(T0 + 10_000) == [] and t.cancel("late", T0 + 10_000) == []
    assert result(t).status == "COMPLETED"


def test_a_phase_deadline_during_a_cancel_does_not_turn_the_stop_into_a_timeout() -> None:
    t = tracker()
    t.on_message(PhaseStarted(job_id="j1", phase="read"), T0 + 1)
    t.cancel("proxx watch received SIGTERM", T0 + 2)
    assert t.due(T0 + 7) == []  # the read limit (5 s) passed, within the cancel's grace
    _rejected_as_interrupted(t, "proxx watch received SIGTERM", total_clips=1, at=T0 + 3)
    res = result(t)
    assert res.interrupted is not None and res.exit_code() == 5


def test_a_worker_that_dies_by_itself_while_stopping_keeps_its_last_words() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    t.cancel("proxx run received SIGINT", T0 + 3)
    t.on_message(WorkerFailing(error="OSError: [Errno 5] Input/output error"), T0 + 3.5)
    t.on_death("exited with code 1")  # before the grace ran out: not our kill
    clip = result(t).clips[0]
    assert clip.failure_detail is not None
    assert "did not stop in time" not in clip.failure_detail
    assert "Input/output error" in clip.failure_detail


def test_a_repeated_clip_report_overwrites_its_own_clip_not_the_next() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    clip = ClipResult(
        source_path="/src/0.mov", output_path="/out/0.mov", status="COMPLETED", engine="ffmpeg"
    )
    for _ in range(2):
        t.on_message(ClipFinished(job_id="j1", clip=clip, index=0), T0 + 3)
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 4)
    assert [c.status for c in result(t).clips] == ["COMPLETED", "SKIPPED", "SKIPPED"]


def _rejected_as_interrupted(t: JobTracker, why: str, *, total_clips: int, at: float) -> None:
    """The worker's answer to a stop while it probed: rejected as interrupted, then done."""
    t.on_message(
        JobRejected(
            job_id="j1",
            jobspec_version="1.0.0",
            fingerprint=None,
            total_clips=total_clips,
            interrupted=f"{why} while probing sources; nothing was executed",
        ),
        at,
    )
    t.on_message(JobFinished(job_id="j1", engine_versions={}), at + 0.1)
