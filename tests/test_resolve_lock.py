"""One Resolve job per host: two processes never drive Resolve at once (with its
control), the lock spans a whole job, and a job waiting for Resolve says so."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from proxx.contract.errors import FailureReason
from proxx.contract.protocol import ClipFinished, JobNote
from proxx.contract.protocol import decode_for_supervisor as decode
from testkit import redcode
from tests.resolve_double import Behaviour, run_engine
from tests.resolve_jobs import plan_for, render_cancelled
from workers.context import JobContext
from workers.resolve import lock as resolve_lock
from workers.resolve.engine import ResolveEngine
from workers.resolve.lock import ResolveLock


# -- one Resolve job per host ------------------------------------------------------------
def _max_concurrent(events: list[tuple[str, int, float]]) -> int:
    depth = deepest = 0
    for event, _, _ in events:
        depth += 1 if event == "open" else -1
        deepest = max(deepest, depth)
    return deepest


def _run_two_jobs(
    tmp_path: Path, shared_lock: bool
) -> tuple[list[tuple[str, int, float]], dict[str, list[Any]]]:
    """Two worker-like processes, one 2-clip RAW job each, let loose on Resolve together.

    The test holds their lock(s) until both report waiting, so both really
    contend however slowly each process starts.
    """
    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "sessions.log"
    behaviour = Behaviour(render_seconds=0.5, session_log=str(log))
    locks = {
        job: tmp_path / ("resolve.lock" if shared_lock else f"{job}.lock")
        for job in ("jobA", "jobB")
    }
    held = [ResolveLock(str(p)) for p in set(locks.values())]
    assert all(lock.try_acquire("the test, holding the start") for lock in held)
    procs: list[Any] = []
    parents: dict[str, Connection] = {}
    messages: dict[str, list[Any]] = {}
    for job, lock_path in locks.items():
        srcs = [redcode(tmp_path / f"{job}_{n}.R3D") for n in (1, 2)]
        plan = plan_for(srcs, tmp_path / f"out_{job}", job_id=job)
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=run_engine, args=(child, plan.model_dump_json(), behaviour, str(lock_path))
        )
        proc.start()
        child.close()
        procs.append(proc)
        parents[job], messages[job] = parent, []

    def collect(job: str, until: Callable[[list[Any]], bool]) -> None:
        while not until(messages[job]):
            assert parents[job].poll(60), f"{job} sent nothing for 60 s"
            messages[job].append(decode(parents[job].recv_bytes()))

    for job in locks:
        collect(job, lambda ms: any(isinstance(m, JobNote) for m in ms))
    for lock in held:
        lock.release()
    for job in locks:
        collect(job, lambda ms: sum(isinstance(m, ClipFinished) for m in ms) == 2)
    for proc in procs:
        proc.join(10)
    events = [
        (e, int(pid), float(t))
        for e, pid, t in (line.split() for line in log.read_text().splitlines())
    ]
    return sorted(events, key=lambda e: e[2]), messages


def test_two_processes_never_drive_resolve_at_once(tmp_path: Path) -> None:
    events, messages = _run_two_jobs(tmp_path, shared_lock=True)

    results = [m.clip for ms in messages.values() for m in ms if isinstance(m, ClipFinished)]
    assert [r.status for r in results] == ["COMPLETED"] * 4
    assert _max_concurrent(events) == 1
    owners = [pid for event, pid, _ in events if event == "open"]
    assert owners[0] == owners[1] != owners[2] == owners[3]  # a whole job, then the other
    notes = {job: [m.note for m in ms if isinstance(m, JobNote)] for job, ms in messages.items()}
    for job_notes in notes.values():
        assert job_notes[0].startswith("waiting for DaVinci Resolve, which is in use by ")
    # Each job says when it finally got Resolve.
    freed = [
        m.note
        for ms in messages.values()
        for m in ms
        if isinstance(m, JobNote) and m.note.startswith("DaVinci Resolve is free after waiting")
    ]
    assert len(freed) == 2


def test_without_the_shared_lock_the_same_jobs_would_overlap(tmp_path: Path) -> None:
    # The control for the test above: it shows the double and the log can see
    # two processes inside Resolve at once, so "never at once" is measured.
    events, _ = _run_two_jobs(tmp_path, shared_lock=False)

    assert _max_concurrent(events) == 2


@pytest.mark.e2e
def test_the_lock_is_held_for_the_whole_job_and_released_after_its_last_clip(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    plan = plan_for([redcode(tmp_path / "C1.R3D"), redcode(tmp_path / "C2.R3D")], tmp_path / "out")
    engine = make_engine()
    other = ResolveLock(str(tmp_path / "resolve.lock"))

    first = engine.render(plan, plan.clips[0], stop_pipe[0])
    held_between_clips = not other.try_acquire("another job")
    second = engine.render(plan, plan.clips[1], stop_pipe[0])

    assert (first.status, second.status) == ("COMPLETED", "COMPLETED")
    assert held_between_clips
    assert other.try_acquire("another job")
    other.release()


def test_a_job_waiting_for_resolve_says_so_and_can_be_cancelled(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resolve_lock, "NOTE_EVERY_S", 0.4)  # 30 s in production
    holder = ResolveLock(str(tmp_path / "resolve.lock"))
    assert holder.try_acquire("pid 4242, job nightly-dailies")

    result, took = render_cancelled(
        make_engine(), stop_pipe, tmp_path, after_s=1.2, reason="proxx run received SIGINT"
    )
    holder.release()

    assert took < 2.5
    assert (result.failure_reason, result.failure_detail) == (
        FailureReason.INTERRUPTED,
        "stopped while waiting for DaVinci Resolve: proxx run received SIGINT",
    )
    notes = []
    parent = stop_pipe[1]
    while parent.poll():
        msg = decode(parent.recv_bytes())
        assert isinstance(msg, JobNote) and msg.job_id == "job1"
        notes.append(msg.note)
    holder_text = "for DaVinci Resolve, which is in use by pid 4242, job nightly-dailies, since "
    assert notes[0].startswith(f"waiting {holder_text}")
    assert len(notes) >= 2
    assert all(n.startswith("still waiting after ") and holder_text in n for n in notes[1:])
