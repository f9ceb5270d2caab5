"""A worker's death with clips unreported: the tracker waits for a recovery look, then merges.

No processes and no files, as in tests/test_tracker.py: the recovery worker's
messages are fed by hand (issue 18, finding 7).
"""

from __future__ import annotations

from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    AccountedClips,
    JobFinished,
    JobRejected,
    PhaseStarted,
    RecoveryAccounted,
    StartJob,
)
from proxx.contract.results import ClipResult
from proxx.runtime.tracker import JobTracker, KillWorker
from tests.test_tracker import LIMITS, REQ, T0, done, planned, result, started, tracker

KILLED = "was killed by SIGKILL"


def recovered(index: int, status: str, reason: FailureReason | None = None) -> ClipResult:
    """A clip as workers/recover.py accounts it (no engine; COMPLETED with its hash)."""
    return ClipResult(
        source_path=f"/src/{index}.mov",
        output_path=f"/out/{index}.mov",
        status=status,
        engine=None,
        output_size_bytes=10 + index if status == "COMPLETED" else None,
        output_sha256=f"{index}" * 64 if status == "COMPLETED" else None,
        failure_reason=reason,
        failure_detail="published (verified) before the runner was interrupted"
        if status == "COMPLETED"
        else "recovery's words",
    )


def died_after_clip_0(now: float = T0 + 10) -> JobTracker:
    """Clip 0 reported, clip 1 started, then the worker died: a look is awaited."""
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3)
    started(t, 1, T0 + 3)
    t.on_message(PhaseStarted(job_id="j1", phase="publish", basis=2.0), T0 + 5)
    t.on_death(KILLED)
    assert t.await_postmortem()
    assert not t.finished and t.next_deadline() is None  # nothing sent yet
    req = t.postmortem_request(now)
    assert req is not None and req.kind == "recover"
    assert req.model_dump(exclude={"kind"}) == REQ.model_dump(exclude={"kind"})  # same claim
    assert t.postmortem_request(now) is None  # sent once
    return t


def answer(t: JobTracker, clips: list[ClipResult], now: float = T0 + 11) -> None:
    t.on_message(PhaseStarted(job_id="j1", phase="recover"), now)
    t.on_message(
        RecoveryAccounted(job_id="j1", jobspec_version="1.0.0", fingerprint="f", clips=clips), now
    )
    t.on_message(JobFinished(job_id="j1", engine_versions={}), now)


def test_a_clip_published_before_the_death_is_completed_and_reported_ones_are_kept() -> None:
    t = died_after_clip_0()
    reported = t.results[0]
    answer(
        t,
        [
            recovered(0, "COMPLETED"),
            recovered(1, "COMPLETED"),
            recovered(2, "FAILED", FailureReason.INTERRUPTED),
        ],
    )
    assert t.finished and t.next_deadline() is None
    res = result(t)
    assert res.clips[0] == reported  # exactly as the worker reported it
    one = res.clips[1]
    assert (one.status, one.output_sha256, one.output_size_bytes) == ("COMPLETED", "1" * 64, 11)
    assert (one.engine, one.started_at, one.ffmpeg_command) == ("ffmpeg", "x", "ff")
    assert one.failure_detail is not None
    assert one.failure_detail.startswith(f"published (verified) before the worker process {KILLED}")
    two = res.clips[2]
    assert two.status == "FAILED" and two.failure_reason is FailureReason.WORKER_CRASHED
    assert two.failure_detail == f"worker process {KILLED} during the publish phase"
    assert two.partial_output_path is None  # never started
    assert (res.status, res.exit_code(), res.successful_clips) == ("PARTIAL", 3, 2)
    assert res.worker_id == 0  # the worker that ran the job, not the one that looked


def test_every_clip_published_makes_the_job_completed() -> None:
    t = died_after_clip_0()
    answer(t, [recovered(i, "COMPLETED") for i in range(3)])
    res = result(t)
    assert (res.status, res.exit_code()) == ("COMPLETED", 0)


def test_the_first_unpublished_clip_keeps_the_death_and_its_partial() -> None:
    plain = tracker()
    planned(plain)
    started(plain, 0, T0 + 2)
    done(plain, 0, T0 + 3)
    started(plain, 1, T0 + 3)
    plain.on_message(PhaseStarted(job_id="j1", phase="publish", basis=2.0), T0 + 5)
    plain.on_death(KILLED)
    today = result(plain)

    t = died_after_clip_0()
    answer(t, [recovered(0, "COMPLETED"), recovered(1, "FAILED", FailureReason.INTERRUPTED)])
    res = result(t)
    drop = {"ended_at"}
    assert [c.model_dump(exclude=drop) for c in res.clips] == [
        c.model_dump(exclude=drop) for c in today.clips
    ]
    assert res.clips[1].partial_output_path == "/out/.1.mov.j1.partial"
    assert res.clips[2].status == "SKIPPED"


def test_a_strangers_file_at_the_name_is_a_validation_error_not_completed() -> None:
    t = died_after_clip_0()
    stranger = recovered(1, "FAILED", FailureReason.VALIDATION_ERROR)
    answer(t, [recovered(0, "COMPLETED"), stranger])
    res = result(t)
    assert res.clips[1].status == "FAILED"
    assert res.clips[1].failure_reason is FailureReason.VALIDATION_ERROR
    assert res.clips[1].failure_detail == "recovery's words"
    assert res.clips[2].status == "SKIPPED"
    assert (res.status, res.exit_code()) == ("PARTIAL", 3)  # clip 0 was reported


def test_an_accounting_in_parts_is_joined() -> None:
    t = died_after_clip_0()
    t.on_message(AccountedClips(job_id="j1", clips=[recovered(0, "COMPLETED")]), T0 + 11)
    answer(t, [recovered(1, "COMPLETED"), recovered(2, "COMPLETED")])
    assert result(t).status == "COMPLETED"


def test_a_silent_recovery_worker_is_killed_at_its_deadline_and_today_s_accounting_filed() -> None:
    t = died_after_clip_0(now=T0 + 10)
    assert t.next_deadline() == T0 + 10 + LIMITS.accept
    assert t.due(T0 + 10 + LIMITS.accept - 0.1) == []
    actions = t.due(T0 + 10 + LIMITS.accept)
    assert len(actions) == 1 and isinstance(actions[0], KillWorker)
    assert not t.finished  # until its death is seen
    t.on_death(KILLED)
    assert t.finished
    res = result(t)
    one = res.clips[1]
    assert one.failure_reason is FailureReason.WORKER_CRASHED
    assert one.failure_detail is not None
    assert one.failure_detail.startswith(f"worker process {KILLED} during the publish phase")
    assert "whether it was published could not be checked" in one.failure_detail
    assert res.status == "PARTIAL"


def test_the_recover_phase_has_its_own_deadline() -> None:
    t = died_after_clip_0(now=T0 + 10)
    t.on_message(PhaseStarted(job_id="j1", phase="recover"), T0 + 12)
    assert t.next_deadline() == T0 + 12 + LIMITS.recover
    assert isinstance(t.due(T0 + 12 + LIMITS.recover)[0], KillWorker)


def test_a_recovery_worker_that_dies_leaves_today_s_accounting() -> None:
    t = died_after_clip_0()
    t.on_message(PhaseStarted(job_id="j1", phase="recover"), T0 + 11)
    t.on_death("exited with code 1")
    assert t.finished
    res = result(t)
    detail = res.clips[1].failure_detail or ""
    assert detail.startswith(f"worker process {KILLED} during the publish phase")
    assert "the recovery worker process exited with code 1" in detail


def test_a_recovery_that_cannot_read_the_jobspec_leaves_today_s_accounting() -> None:
    t = died_after_clip_0()
    t.on_message(
        RecoveryAccounted(
            job_id="j1", jobspec_version=None, fingerprint=None, clips=[], note="gone"
        ),
        T0 + 11,
    )
    t.on_message(JobFinished(job_id="j1", engine_versions={}), T0 + 11)
    res = result(t)
    assert res.clips[1].failure_reason is FailureReason.WORKER_CRASHED
    assert "could not list the clips (gone)" in (res.clips[1].failure_detail or "")


def test_no_worker_to_look_files_today_s_accounting_at_once() -> None:
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    t.on_death(KILLED)
    assert t.await_postmortem()
    t.postmortem_failed("no worker could be started: EAGAIN")
    assert t.finished and t.postmortem_request(T0 + 5) is None
    assert result(t).clips[0].failure_reason is FailureReason.WORKER_CRASHED


def test_a_cancel_during_the_look_is_ignored_and_a_stray_message_kills_only_the_looker() -> None:
    t = died_after_clip_0()
    assert t.cancel("proxx watch received SIGTERM", T0 + 11) == []
    actions = t.on_message(PhaseStarted(job_id="other", phase="recover"), T0 + 11)
    assert len(actions) == 1 and isinstance(actions[0], KillWorker)
    assert t.stop is None  # the dead worker's story
    t.on_death(KILLED)
    res = result(t)
    detail = res.clips[1].failure_detail or ""
    assert res.clips[1].failure_reason is FailureReason.WORKER_CRASHED
    assert detail.startswith(f"worker process {KILLED} during the publish phase")


def test_no_look_when_nothing_is_left_to_find() -> None:
    # Every clip reported.
    t = tracker()
    planned(t)
    for i in range(3):
        started(t, i, T0 + 2 + i)
        done(t, i, T0 + 2.5 + i)
    t.on_death(KILLED)
    assert not t.await_postmortem() and t.finished
    # A reported clip failed: the job ended there (fail-fast).
    t = tracker()
    planned(t)
    started(t, 0, T0 + 2)
    done(t, 0, T0 + 3, "FAILED", FailureReason.EXECUTION_ERROR)
    t.on_death(KILLED)
    assert not t.await_postmortem()
    # Died before its plan, or was rejected, or was only validating.
    t = tracker()
    t.on_death(KILLED)
    assert not t.await_postmortem()
    t = tracker()
    planned(t)
    t.on_message(
        JobRejected(
            job_id="j1",
            jobspec_version="1.0.0",
            fingerprint="f",
            total_clips=3,
            validation_error="no",
        ),
        T0 + 2,
    )
    t.on_death(KILLED)
    assert not t.await_postmortem()
    t = JobTracker(StartJob(**{**REQ.model_dump(), "kind": "validate"}), LIMITS, T0)
    planned(t)
    t.on_death(KILLED)
    assert not t.await_postmortem()
    # Alive: nothing to look at.
    t = tracker()
    planned(t)
    assert not t.await_postmortem()
