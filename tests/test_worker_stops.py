"""A stop that reaches a worker between two clips, seen by the worker alone.

Slurm signals the worker itself (a time limit, a scancel), and so may a process
manager: the supervisor never asked for that stop. The worker's last message must say
why it ended the job early, or the job's result would read as if nothing stopped it
(`PARTIAL`, no failed clip, the rest SKIPPED with no reason; found by a Slurm time-limit
test whose SIGTERM landed between two clips).

The real worker code (`run_request`) in this process, real FFmpeg on tiny clips, and a
real SIGTERM to this process at the moment the first clip's result goes out.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    ClipFinished,
    ClipStarted,
    FromWorker,
    JobFinished,
    JobRejected,
    PhaseStarted,
    StartJob,
)
from proxx.contract.results import JobResult
from proxx.runtime.tracker import JobTracker
from proxx.runtime.verdict import result_of
from workers.context import JobContext
from workers.jobrun import run_request


def _request(spec: Path) -> StartJob:
    return StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(spec.parent), worker_id=0
    )


def _ffmpeg_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """An `ffmpeg` first on PATH (the engine looks it up when it is made, in the test)."""
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/bash\n{script}\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")


def _run(
    req: StartJob,
    context: JobContext,
    when: Callable[[FromWorker], bool] = lambda _msg: False,
    delay: float = 0.0,
) -> list[FromWorker]:
    """Run the request; SIGTERM to this process `delay` s after the first message `when`
    picks (it reaches the worker's JobContext, as Slurm's would). Every message sent."""
    sent: list[FromWorker] = []
    timers: list[threading.Timer] = []

    def emit(msg: FromWorker) -> None:
        sent.append(msg)
        if not timers and when(msg):
            timers.append(threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM)))
            timers[0].start()

    run_request(req, emit, context)
    for timer in timers:
        timer.join()
    return sent


def _result(req: StartJob, sent: list[FromWorker]) -> JobResult:
    """The result JSON the supervisor writes from these messages (as the pool or Slurm)."""
    tracker = JobTracker(req, Deadlines(), time.monotonic(), worker_id=0)
    for msg in sent:
        tracker.on_message(msg, time.monotonic())
    return result_of(
        tracker.outcome(),
        started=datetime.now(UTC),
        jobspec_path=req.jobspec_path,
        mode="sequential",
    )


def test_a_sigterm_between_clips_is_named_in_the_workers_last_message(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    req = _request(job([clip("a.mov"), clip("b.mov")]))

    sent = _run(req, stop_pipe[0], lambda m: isinstance(m, ClipFinished) and m.index == 0)

    last = sent[-1]
    assert isinstance(last, JobFinished) and last.stopped == "worker received SIGTERM"
    assert [m.index for m in sent if isinstance(m, ClipStarted)] == [0]  # b never started
    assert (tmp_path / "out" / "a_proxy.mov").is_file()
    assert not (tmp_path / "out" / "b_proxy.mov").exists()
    # What the user reads: b was stopped, not skipped as if nothing had happened.
    res = _result(req, sent)
    assert [(c.status, c.failure_reason) for c in res.clips] == [
        ("COMPLETED", None),
        ("FAILED", FailureReason.INTERRUPTED),
    ]
    assert (res.interrupted, res.exit_code()) == ("worker received SIGTERM", 5)


def test_control_a_job_nobody_stops_ends_with_no_stop_named(
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    sent = _run(_request(job([clip("a.mov"), clip("b.mov")])), stop_pipe[0])

    last = sent[-1]
    assert isinstance(last, JobFinished) and last.stopped is None
    assert [m.index for m in sent if isinstance(m, ClipFinished)] == [0, 1]


def test_an_encoder_that_fails_just_before_the_workers_own_stop_is_an_interrupted_clip(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Slurm signals every process of a job: FFmpeg, signalled while it opens its input,
    # exits 1 like any read error, and the worker's own SIGTERM comes a moment later.
    _ffmpeg_stand_in(
        tmp_path, monkeypatch, '[ "$1" = -version ] && exec /usr/bin/ffmpeg "$@"\nexit 1'
    )
    spec = job([clip("a.mov")])

    # The stand-in exits 1 within milliseconds of the clip's start.
    sent = _run(_request(spec), stop_pipe[0], lambda m: isinstance(m, ClipStarted), 0.25)

    (finished,) = [m for m in sent if isinstance(m, ClipFinished)]
    assert finished.clip.failure_reason is FailureReason.INTERRUPTED
    assert finished.clip.failure_detail == "stopped: worker received SIGTERM; FFmpeg exit code 1"


def test_a_version_check_that_fails_just_before_the_workers_own_stop_is_a_stop(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same race at the engine check: not "engine unusable" (exit 4) but a stop (5).
    _ffmpeg_stand_in(tmp_path, monkeypatch, "exit 1")
    spec = job([clip("a.mov")])

    sent = _run(
        _request(spec),
        stop_pipe[0],
        lambda m: isinstance(m, PhaseStarted) and m.phase == "engine_check",
        0.25,
    )

    (rejected,) = [m for m in sent if isinstance(m, JobRejected)]
    assert rejected.interrupted == (
        "worker received SIGTERM while checking the engine; nothing was executed"
    )
    assert not any(isinstance(m, ClipFinished) for m in sent)  # no engine_unavailable clip
