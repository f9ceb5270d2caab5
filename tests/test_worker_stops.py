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
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

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
from workers.interrupts import Interrupts
from workers.jobrun import run_request


def test_a_sigterm_between_clips_is_named_in_the_workers_last_message(
    tmp_path: Path,
    stop_pipe: tuple[Interrupts, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    spec = job([clip("a.mov"), clip("b.mov")])
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(tmp_path), worker_id=0
    )
    sent: list[FromWorker] = []

    def emit(msg: FromWorker) -> None:
        sent.append(msg)
        if isinstance(msg, ClipFinished) and msg.index == 0:
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the worker's Interrupts

    run_request(req, emit, stop_pipe[0])

    last = sent[-1]
    assert isinstance(last, JobFinished) and last.stopped == "worker received SIGTERM"
    assert [m.index for m in sent if isinstance(m, ClipStarted)] == [0]  # b never started
    assert (tmp_path / "out" / "a_proxy.mov").is_file()
    assert not (tmp_path / "out" / "b_proxy.mov").exists()


def test_control_a_job_nobody_stops_ends_with_no_stop_named(
    tmp_path: Path,
    stop_pipe: tuple[Interrupts, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    spec = job([clip("a.mov"), clip("b.mov")])
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(tmp_path), worker_id=0
    )
    sent: list[FromWorker] = []

    run_request(req, sent.append, stop_pipe[0])

    last = sent[-1]
    assert isinstance(last, JobFinished) and last.stopped is None
    assert [m.index for m in sent if isinstance(m, ClipFinished)] == [0, 1]


def test_an_encoder_that_fails_just_before_the_workers_own_stop_is_an_interrupted_clip(
    tmp_path: Path,
    stop_pipe: tuple[Interrupts, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Slurm signals every process of a job: FFmpeg, signalled while it opens its input,
    # exits 1 like any read error, and the worker's own SIGTERM comes a moment later.
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text('#!/bin/bash\n[ "$1" = -version ] && exec /usr/bin/ffmpeg -version\nexit 1\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    spec = job([clip("a.mov")])
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(tmp_path), worker_id=0
    )
    sent: list[FromWorker] = []
    timers: list[threading.Timer] = []

    def emit(msg: FromWorker) -> None:
        sent.append(msg)
        if isinstance(msg, ClipStarted):  # the stand-in exits 1 within milliseconds
            timers.append(threading.Timer(0.25, os.kill, (os.getpid(), signal.SIGTERM)))
            timers[-1].start()

    run_request(req, emit, stop_pipe[0])
    timers[0].join()

    (finished,) = [m for m in sent if isinstance(m, ClipFinished)]
    assert finished.clip.failure_reason is FailureReason.INTERRUPTED
    assert finished.clip.failure_detail == "stopped: worker received SIGTERM; FFmpeg exit code 1"


def test_a_version_check_that_fails_just_before_the_workers_own_stop_is_a_stop(
    tmp_path: Path,
    stop_pipe: tuple[Interrupts, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same race at the engine check: not "engine unusable" (exit 4) but a stop (5).
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text("#!/bin/bash\nexit 1\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    spec = job([clip("a.mov")])
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(tmp_path), worker_id=0
    )
    sent: list[FromWorker] = []
    timers: list[threading.Timer] = []

    def emit(msg: FromWorker) -> None:
        sent.append(msg)
        if isinstance(msg, PhaseStarted) and msg.phase == "engine_check":
            timers.append(threading.Timer(0.25, os.kill, (os.getpid(), signal.SIGTERM)))
            timers[-1].start()

    run_request(req, emit, stop_pipe[0])
    timers[0].join()

    (rejected,) = [m for m in sent if isinstance(m, JobRejected)]
    assert rejected.interrupted == (
        "worker received SIGTERM while checking the engine; nothing was executed"
    )
    assert not any(isinstance(m, ClipFinished) for m in sent)  # no engine_unavailable clip
