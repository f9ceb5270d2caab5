"""A fixed pool of worker processes, one job each, watched over their pipes.

The pool knows nothing about folders: it takes JobPlans, and hands back a
JobOutcome for each — complete, crashed, cancelled or timed out — with every
clip accounted for. `proxx run` is a pool of one; `proxx watch` a pool of N.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import pydantic

from proxx.clock import iso, utc_now
from proxx.errors import FailureReason
from proxx.naming import partial_path
from proxx.protocol import (
    CancelJob,
    ClipFinished,
    ClipStarted,
    JobFinished,
    JobNote,
    JobPlan,
    RunJob,
    WorkerReady,
    decode_for_supervisor,
    encode,
)
from proxx.results import ClipResult
from workers.main import worker_main

log = logging.getLogger("proxx.pool")

CANCEL_GRACE_S = 8.0  # worker's own TERM→KILL grace for FFmpeg is 3 s
BOOT_BACKOFF_MAX_S = 60.0
MAX_MESSAGE_BYTES = 1 << 20  # worker messages are a few kB (stderr tails are capped)


def default_clip_timeout(duration_s: float | None) -> float:
    """Generous: a clip stuck at 20× its own length (plus 5 min) is hung, not slow."""
    return 300.0 + 20.0 * (duration_s or 60.0)


@dataclass
class ActiveJob:
    plan: JobPlan
    ticket: Any
    results: dict[int, ClipResult] = field(default_factory=dict)
    started: dict[int, ClipStarted] = field(default_factory=dict)
    current: int | None = None
    deadline: float | None = None
    cancel_reason: str | None = None
    cancel_failure: FailureReason = FailureReason.INTERRUPTED
    cancel_deadline: float | None = None
    engine_versions: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # latest JobNote, shown by `proxx status`


@dataclass
class JobOutcome:
    ticket: Any
    plan: JobPlan
    clips: list[ClipResult]
    worker_id: int
    worker_started_at: str
    engine_versions: dict[str, str]


@dataclass
class Slot:
    worker_id: int
    process: BaseProcess
    conn: Connection
    started_at: str
    ready: bool = False
    job: ActiveJob | None = None


class Pool:
    def __init__(
        self,
        size: int,
        target: Callable[[Connection], None] = worker_main,
        clip_timeout: Callable[[float | None], float] = default_clip_timeout,
        on_note: Callable[[Any, str], None] | None = None,
    ) -> None:
        self.size = size
        self.on_note = on_note
        self.target = target
        self.clip_timeout = clip_timeout
        # forkserver: workers fork from a clean single-threaded server, never
        # from this process, so they inherit no other worker's pipe end.
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(["workers.main", "proxx.protocol"])
        self.slots: dict[int, Slot] = {}
        self._boot_failures = 0
        self._respawn_at: dict[int, float] = {}

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        for worker_id in range(self.size):
            self._spawn(worker_id)

    def _spawn(self, worker_id: int) -> None:
        parent_end, child_end = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=self.target, args=(child_end,), name=f"proxx-worker-{worker_id}", daemon=False
        )
        # A terminal's Ctrl-C reaches the whole foreground group: a forkserver or
        # worker caught mid-start would die of it before it can ignore SIGINT.
        # Blocked here, the signal waits for this process's own handler instead.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        child_end.close()
        self.slots[worker_id] = Slot(worker_id, proc, parent_end, iso(utc_now()))
        log.debug("worker %d started (pid %s)", worker_id, proc.pid)

    def shutdown(self) -> None:
        """Close every pipe (idle workers exit on EOF); kill what does not.

        Jobs are drained before this; a worker still booting has nothing to
        lose, so it gets a short grace rather than the time its boot would take.
        """
        for slot in self.slots.values():
            slot.conn.close()
        deadline = time.monotonic() + 0.5
        for slot in self.slots.values():
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
        self.slots.clear()

    # -- jobs ----------------------------------------------------------------
    def idle(self) -> list[Slot]:
        # Not only ready workers: a job handed to a worker that dies at boot fails
        # with that worker's exit status, which tells the operator what is broken;
        # the respawn back-off paces how fast pending jobs meet that fate.
        return [s for s in self.slots.values() if s.job is None and s.process.is_alive()
                and s.worker_id not in self._respawn_at]

    def busy(self) -> list[Slot]:
        return [s for s in self.slots.values() if s.job is not None]

    def submit(self, slot: Slot, plan: JobPlan, ticket: Any) -> None:
        slot.job = ActiveJob(plan=plan, ticket=ticket)
        try:
            slot.conn.send_bytes(encode(RunJob(plan=plan)))
        except OSError as exc:
            log.warning("worker %d: could not send job: %s", slot.worker_id, exc)

    def cancel(self, slot: Slot, reason: str,
               failure: FailureReason = FailureReason.INTERRUPTED) -> None:
        job = slot.job
        if job is None or job.cancel_reason is not None:
            return
        job.cancel_reason, job.cancel_failure = reason, failure
        job.cancel_deadline = time.monotonic() + CANCEL_GRACE_S
        with contextlib.suppress(OSError):
            slot.conn.send_bytes(encode(CancelJob(job_id=job.plan.job_id, reason=reason)))

    def cancel_all(self, reason: str) -> None:
        for slot in self.busy():
            self.cancel(slot, reason)

    # -- the wait --------------------------------------------------------------
    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[JobOutcome]:
        """Block until a message, a worker death, a deadline, `extra` fd, or `timeout`."""
        now = time.monotonic()
        deadlines = [t for t in self._deadlines() if t is not None]
        if deadlines:
            soonest = max(0.0, min(deadlines) - now)
            timeout = soonest if timeout is None else min(timeout, soonest)
        # A slot waiting out its respawn back-off was buried: its pipe is closed.
        live = [s for s in self.slots.values() if s.worker_id not in self._respawn_at]
        waitables: list[Any] = [s.conn for s in live]
        waitables += [s.process.sentinel for s in live]
        waitables += extra or []
        ready = wait(waitables, timeout)
        outcomes: list[JobOutcome] = []
        for slot in live:
            if slot.conn in ready:
                outcomes += self._drain(slot)
        for slot in live:
            if not slot.process.is_alive() and slot.process.exitcode is not None:
                outcomes += self._drain(slot)  # last words before death
                outcomes += self._bury(slot)
        outcomes += self._enforce_deadlines()
        self._respawn_due()
        return outcomes

    def _deadlines(self) -> list[float | None]:
        out: list[float | None] = list(self._respawn_at.values())
        for slot in self.busy():
            assert slot.job is not None
            out += [slot.job.deadline, slot.job.cancel_deadline]
        return out

    def _drain(self, slot: Slot) -> list[JobOutcome]:
        outcomes = []
        while not slot.conn.closed:
            try:
                if not slot.conn.poll():
                    break
                # A length cap: stray bytes on the pipe must not read as a huge
                # frame the supervisor then blocks on forever.
                data = slot.conn.recv_bytes(MAX_MESSAGE_BYTES)
            except (EOFError, ConnectionResetError):  # it died (with our message unread)
                break
            except OSError as exc:  # "bad message length": the framing is broken
                if slot.process.is_alive():
                    self._kill(slot, f"worker's pipe is unreadable ({exc})")
                break
            try:
                msg = decode_for_supervisor(data)
            except pydantic.ValidationError as exc:
                self._kill(slot, f"worker sent an invalid message ({_first_error(exc)})")
                break
            done = self._handle(slot, msg)
            if done is not None:
                outcomes.append(done)
        return outcomes

    def _handle(self, slot: Slot, msg: Any) -> JobOutcome | None:
        if isinstance(msg, WorkerReady):
            slot.ready = True
            self._boot_failures = 0
            return None
        job = slot.job
        if job is None or getattr(msg, "job_id", None) != job.plan.job_id:
            self._kill(slot, f"worker sent {type(msg).__name__} for a job it does not hold")
            return None
        if isinstance(msg, ClipStarted):
            job.started[msg.index] = msg
            job.current = msg.index
            job.deadline = time.monotonic() + self.clip_timeout(
                job.plan.clips[msg.index].source.duration
            )
        elif isinstance(msg, ClipFinished):
            index = job.current if job.current is not None else len(job.results)
            clip = msg.clip
            if (clip.failure_reason is FailureReason.INTERRUPTED
                    and job.cancel_failure is FailureReason.TIMEOUT):
                clip = clip.model_copy(update={"failure_reason": FailureReason.TIMEOUT})
            job.results[index] = clip
            job.current, job.deadline = None, None
        elif isinstance(msg, JobNote):
            job.note = msg.note
            if msg.waiting:
                job.deadline = None
            elif job.current is not None and job.deadline is None:
                job.deadline = time.monotonic() + self.clip_timeout(
                    job.plan.clips[job.current].source.duration
                )
            log.info("job %s (worker %d): %s", job.plan.job_id, slot.worker_id, msg.note)
            if self.on_note is not None:
                self.on_note(job.ticket, msg.note)
        elif isinstance(msg, JobFinished):
            job.engine_versions = msg.engine_versions
            # Stopped between two clips: the next clip is the interrupted one.
            stopped = (job.cancel_failure, job.cancel_reason) if job.cancel_reason else None
            return self._finish(slot, stopped)
        return None

    def _bury(self, slot: Slot) -> list[JobOutcome]:
        code = slot.process.exitcode
        assert code is not None
        how = _describe_exit(code)
        outcomes = []
        if slot.job is not None:
            job = slot.job
            if job.cancel_failure is FailureReason.WORKER_CRASHED:  # killed by _kill
                detail = f"{job.cancel_reason}; worker process {how}"
                outcomes.append(self._finish(slot, (job.cancel_failure, detail)))
            elif job.cancel_reason is not None:
                detail = f"{job.cancel_reason}; worker did not stop in time and was killed ({how})"
                outcomes.append(self._finish(slot, (job.cancel_failure, detail)))
            else:
                log.error("worker %d died (%s) running job %s", slot.worker_id, how,
                          job.plan.job_id)
                outcomes.append(self._finish(slot, (FailureReason.WORKER_CRASHED,
                                                    f"worker process {how}")))
        if not slot.ready:
            self._boot_failures += 1
            delay = min(BOOT_BACKOFF_MAX_S, 0.5 * 2 ** (self._boot_failures - 1))
            log.error("worker %d died during start-up (%s); respawning in %.1f s",
                      slot.worker_id, how, delay)
        else:
            delay = 0.0
        slot.conn.close()
        slot.process.join()
        self._respawn_at[slot.worker_id] = time.monotonic() + delay
        return outcomes

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for worker_id, when in list(self._respawn_at.items()):
            if when <= now:
                del self._respawn_at[worker_id]
                self._spawn(worker_id)

    def _enforce_deadlines(self) -> list[JobOutcome]:
        now = time.monotonic()
        for slot in self.busy():
            job = slot.job
            assert job is not None
            if job.cancel_deadline is not None and now >= job.cancel_deadline:
                self._kill(slot, None)
            elif job.deadline is not None and now >= job.deadline and job.cancel_reason is None:
                limit = self.clip_timeout(job.plan.clips[job.current or 0].source.duration)
                self.cancel(slot, f"clip exceeded its {limit:g} s time limit",
                            FailureReason.TIMEOUT)
        return []

    def _kill(self, slot: Slot, why: str | None) -> None:
        """SIGKILL a worker; its sentinel fires and _bury accounts for the job."""
        if why and slot.job is not None and slot.job.cancel_reason is None:
            slot.job.cancel_reason, slot.job.cancel_failure = why, FailureReason.WORKER_CRASHED
        if why:
            log.error("worker %d: %s; killing it", slot.worker_id, why)
        if slot.job is not None:
            slot.job.cancel_deadline = None  # killed once: the sentinel reports the death
        # is_alive() stays True until the forkserver reports the exit status, after it
        # reaped the pid: Process.kill() tolerates the pid being gone already.
        slot.process.kill()

    def _finish(self, slot: Slot, failure: tuple[FailureReason, str] | None) -> JobOutcome:
        job = slot.job
        assert job is not None
        slot.job = None
        clips = _account_for_all(job, failure)
        return JobOutcome(job.ticket, job.plan, clips, slot.worker_id, slot.started_at,
                          job.engine_versions)


def _account_for_all(job: ActiveJob, failure: tuple[FailureReason, str] | None) -> list[ClipResult]:
    """Every clip of the plan gets a result: reported, failed here, or SKIPPED."""
    out: list[ClipResult] = []
    stopped = False
    for clip in job.plan.clips:
        if clip.index in job.results:
            out.append(job.results[clip.index])
            stopped = stopped or job.results[clip.index].status != "COMPLETED"
            continue
        if not stopped and failure is not None:
            # The clip the worker held when it died or was stopped — even one it had
            # not yet reported starting: the failure is this job's, and says why.
            partial = partial_path(clip.output_path, job.plan.job_id)
            started = job.started.get(clip.index)
            out.append(ClipResult(
                source_path=clip.source_path, output_path=clip.output_path, status="FAILED",
                engine=job.plan.engine.value, started_at=started.started_at if started else None,
                ended_at=iso(utc_now()), ffmpeg_command=started.ffmpeg_command if started else None,
                failure_reason=failure[0], failure_detail=failure[1],
                partial_output_path=partial if os.path.exists(partial) else None,
            ))
            stopped = True
            continue
        reason = "not run: an earlier clip failed (fail-fast)" if stopped else (
            f"not run: {failure[1]}" if failure else "not run: the job was stopped")
        out.append(ClipResult(source_path=clip.source_path, output_path=clip.output_path,
                              status="SKIPPED", engine=job.plan.engine.value,
                              failure_detail=reason))
        stopped = True
    return out


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
