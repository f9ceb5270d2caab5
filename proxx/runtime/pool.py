"""The local executor: a fixed pool of worker processes, one job each.

Each worker is a `WorkerProcess` (proxx.runtime.procs); each job it holds is a
`JobTracker` (proxx.runtime.tracker). The pool only wires the two together: it reads
messages into trackers, carries out their actions (cancel, kill), buries dead
workers, respawns them with back-off, and hands back events. It never touches
a JobSpec or an output folder. `proxx run` is a pool of one; `proxx watch` a
pool of N.
"""

from __future__ import annotations

import logging
import selectors
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime

from proxx.contract import logs
from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import CancelJob, JobNote, StartJob, WorkerFailing, WorkerReady, encode
from proxx.runtime import listing
from proxx.runtime.executor import Adoption, JobNoted, PoolEvent, bounded
from proxx.runtime.listing import Listings
from proxx.runtime.procs import UNKILLABLE_S, WorkerProcess
from proxx.runtime.spawn import WORKER_TARGET
from proxx.runtime.tracker import Action, JobOutcome, JobTracker, KillWorker, SendCancel

log = logging.getLogger("proxx.runtime.pool")

BOOT_BACKOFF_MAX_S = 60.0
# A worker that dies this soon after taking a job, before saying a word about
# it, is broken (not the job): it counts towards the respawn back-off.
EARLY_DEATH_S = 2.0


@dataclass
class Slot:
    proc: WorkerProcess
    tracker: JobTracker | None = None
    respawn_at: float | None = None
    job_sent_at: float = 0.0
    heard_from_job: bool = False
    proved: bool = False  # this process has taken up a job
    idle_words: str | None = None  # last words of a worker that died holding no job


class LocalPool:
    def __init__(
        self,
        size: int,
        *,
        target: str = WORKER_TARGET,
        deadlines: Deadlines | None = None,
        log_level: str | None = None,
        log_format: str | None = None,
    ) -> None:
        self.size = size
        self.deadlines = deadlines or Deadlines()
        level = log_level or logs.level_name()
        fmt = log_format or logs.format_name()
        self.slots = {i: Slot(WorkerProcess(i, target, level, fmt)) for i in range(size)}
        self.worker_restarts = 0
        self._stuck: list[subprocess.Popen[bytes]] = []  # left behind, reaped when they end
        self._boot_failures = 0
        self._last_boot_error: str | None = None
        # Jobs that ended before their worker read the JobSpec, while a short-lived
        # worker lists their clips (proxx.runtime.listing): their slots are free meanwhile.
        self.listings = Listings(self.deadlines, level, fmt)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        for slot in self.slots.values():
            slot.proc.start()

    def shutdown(self) -> None:
        """Close every pipe (idle workers exit on EOF); kill what does not exit at once."""
        for slot in self.slots.values():
            slot.proc.close(grace=0.5)
        self.listings.close()

    # -- jobs ------------------------------------------------------------------------
    def free_slots(self) -> int:
        return len(self._idle())

    def busy(self) -> int:
        return sum(s.tracker is not None for s in self.slots.values())

    def submit(self, req: StartJob) -> int:
        """Hand `req` to an idle worker; returns its worker id."""
        slot = self._idle()[0]
        req = req.model_copy(update={"worker_id": slot.proc.worker_id})
        encode(req)  # one that cannot be sent fails here, before a worker is tied up
        now = time.monotonic()
        slot.tracker = JobTracker(
            req,
            self.deadlines,
            now,
            worker_id=slot.proc.worker_id,
            worker_started_at=slot.proc.started_at,
        )
        slot.job_sent_at, slot.heard_from_job = now, False
        slot.proc.send(req)  # a failed send shows as the worker's death or the accept deadline
        return slot.proc.worker_id

    def cancel(
        self, job_id: str, reason: str, failure: FailureReason = FailureReason.INTERRUPTED
    ) -> None:
        for slot in self.slots.values():
            if slot.tracker is not None and slot.tracker.job_id == job_id:
                self._act(slot, slot.tracker.cancel(reason, time.monotonic(), failure))

    def cancel_all(self, reason: str) -> None:
        for slot in self.slots.values():
            if slot.tracker is not None:
                self._act(slot, slot.tracker.cancel(reason, time.monotonic()))

    def progress(self, now: float, wall: datetime) -> dict[str, ProgressRecord]:
        return {
            s.tracker.job_id: s.tracker.progress_record(now, wall)
            for s in self.slots.values()
            if s.tracker is not None and not s.tracker.finished
        }

    def planned(self) -> dict[str, list[str]]:
        return {
            s.tracker.job_id: outputs
            for s in self.slots.values()
            if s.tracker is not None and (outputs := s.tracker.outputs()) is not None
        }

    def adopt(self, req: StartJob) -> Adoption:
        """A claim a previous runner sent to another executor (Slurm) is not this pool's
        to take over: a runner on that executor re-attaches to it."""
        return "foreign"

    # -- the wait --------------------------------------------------------------------
    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[PoolEvent]:
        """Block until a message, a worker death, a deadline, an `extra` fd, or `timeout`."""
        timeout = self._bounded(timeout)
        with selectors.DefaultSelector() as sel:
            for slot in self.slots.values():
                for fd in slot.proc.fds():
                    sel.register(fd, selectors.EVENT_READ)
            # A lister's pipe is waited for here, with the workers' own: this select is
            # the supervisor's one blocking point, and a lister never blocks it.
            for fd in [*self.listings.fds(), *(extra or [])]:
                sel.register(fd, selectors.EVENT_READ)
            sel.select(timeout)
        events: list[PoolEvent] = []
        for slot in self.slots.values():
            events += self._service(slot)
        self._reap_stuck()
        events += self._respawn_due()
        events += self.listings.collect(time.monotonic())
        return events

    def _bounded(self, timeout: float | None) -> float | None:
        times = [s.tracker.next_deadline() for s in self.slots.values() if s.tracker]
        times += [s.respawn_at for s in self.slots.values()]
        times.append(self.listings.next_deadline())
        times += [  # when a killed worker that has not died counts as stuck
            s.proc.killed_at + UNKILLABLE_S + 0.01
            for s in self.slots.values()
            if s.proc.killed_at is not None and s.respawn_at is None
        ]
        return bounded(timeout, times, time.monotonic())

    def _service(self, slot: Slot) -> list[PoolEvent]:
        if slot.respawn_at is not None:
            return []
        events = self._read(slot)
        stuck = False
        if slot.proc.exit_code() is not None:
            events += self._read(slot)  # last words before death
            self._bury(slot)
        elif slot.proc.unkillable(time.monotonic()):
            self._abandon(slot)
            stuck = True  # no lister after it: its mount would hang the lister too
        elif slot.tracker is not None:
            self._act(slot, slot.tracker.due(time.monotonic()))
        if slot.tracker is not None and slot.tracker.finished:
            events += self._outcome(slot, listable=not stuck)
        return events

    def _read(self, slot: Slot) -> list[PoolEvent]:
        messages = slot.proc.read()
        events: list[PoolEvent] = []
        now = time.monotonic()
        for msg in messages:
            if isinstance(msg, WorkerReady):
                slot.proc.ready = True
            if isinstance(msg, WorkerFailing):
                self._last_words(slot, msg.error, idle=slot.tracker is None)
            if slot.tracker is None:
                if not isinstance(msg, WorkerReady | WorkerFailing):
                    self._protocol_violation(slot, f"worker sent {type(msg).__name__} while idle")
                continue
            if not isinstance(msg, WorkerReady | WorkerFailing):
                # A worker that took up a job is healthy: the back-off starts over.
                slot.heard_from_job = slot.proved = True
                self._boot_failures = 0
            self._act(slot, slot.tracker.on_message(msg, now))
            if isinstance(msg, JobNote):
                events.append(JobNoted(slot.tracker.job_id, slot.proc.worker_id, msg.note))
        if slot.proc.broken is not None and slot.proc.exit_code() is None:
            self._protocol_violation(slot, slot.proc.broken)
        return events

    def _last_words(self, slot: Slot, error: str, *, idle: bool) -> None:
        if slot.tracker is not None:
            if slot.tracker.postmortem is None:  # else the recovery worker's: not the job's
                slot.tracker.last_words = error
        elif idle:
            slot.idle_words = error

    def _protocol_violation(self, slot: Slot, why: str) -> None:
        log.error("worker %d: %s; killing it", slot.proc.worker_id, why)
        if slot.tracker is not None:
            slot.tracker.on_message(WorkerFailing(error=why), time.monotonic())
            self._act(slot, slot.tracker.kill(why))
        else:
            slot.proc.kill()

    def _act(self, slot: Slot, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendCancel) and slot.tracker is not None:
                slot.proc.send(
                    CancelJob(
                        job_id=slot.tracker.job_id,
                        reason=action.reason,
                        discard_partial=action.discard_partial,
                    )
                )
            elif isinstance(action, KillWorker):
                log.error("worker %d: %s; killing it", slot.proc.worker_id, action.why)
                slot.proc.kill()

    def _bury(self, slot: Slot) -> None:
        how = slot.proc.describe_exit()
        early = (
            slot.tracker is not None
            and not slot.heard_from_job
            and time.monotonic() - slot.job_sent_at < EARLY_DEATH_S
        )
        if slot.tracker is not None:
            if slot.tracker.stopping is None:
                log.error(
                    "worker %d died (%s) running job %s",
                    slot.proc.worker_id,
                    how,
                    slot.tracker.job_id,
                )
            slot.tracker.on_death(how)
            if slot.tracker.await_postmortem():
                log.warning(
                    "job %s: its worker died with clips unreported; a fresh worker looks "
                    "at what the job had published before it is filed",
                    slot.tracker.job_id,
                )
        delay = 0.0
        # Dying before it ever took up a job (at boot, while idle, or on receipt of
        # one) says the worker is broken, not a job: paced, never a tight loop.
        if not slot.proc.ready or early or (slot.tracker is None and not slot.proved):
            self._boot_failures += 1
            delay = min(BOOT_BACKOFF_MAX_S, 0.5 * 2 ** (self._boot_failures - 1))
            words = slot.tracker.last_words if slot.tracker else slot.idle_words
            self._log_boot_failure(slot, how, words, delay)
        slot.proved, slot.idle_words = False, None
        slot.proc.reap()
        slot.respawn_at = time.monotonic() + delay

    def _abandon(self, slot: Slot) -> None:
        """A worker SIGKILL did not end (stuck in the kernel, e.g. on a dead mount): its
        job ends now and a new worker takes its place; the process is reaped when its
        I/O returns (`_reap_stuck`), if ever."""
        how = (
            f"did not die {UNKILLABLE_S:g} s after SIGKILL: stuck in the kernel "
            "(I/O on a dead mount?); left behind"
        )
        log.error("worker %d (pid %s) %s", slot.proc.worker_id, slot.proc.pid, how)
        if slot.tracker is not None:
            slot.tracker.on_death(how)
        stuck = slot.proc.detach()
        if stuck is not None:
            self._stuck.append(stuck)
        slot.proved, slot.idle_words = False, None
        slot.respawn_at = time.monotonic()

    def _reap_stuck(self) -> None:
        """Reap left-behind workers whose I/O has returned (SIGKILL then takes effect)."""
        self._stuck = [p for p in self._stuck if p.poll() is None]

    def _log_boot_failure(self, slot: Slot, how: str, words: str | None, delay: float) -> None:
        what = f"{how}{f': {words}' if words else ''}"
        # Said once, clearly; a worker that keeps dying the same way is not news.
        level = logging.ERROR if what != self._last_boot_error else logging.DEBUG
        self._last_boot_error = what
        log.log(
            level,
            "worker %d died during start-up (%s); respawning in %.1f s "
            "(repeats of this message are logged at DEBUG)",
            slot.proc.worker_id,
            what,
            delay,
        )

    def _respawn_due(self) -> list[PoolEvent]:
        """Start the workers due; one whose job awaits a recovery look gets its request
        (a job whose look cannot be had, for want of a worker, ends here)."""
        now = time.monotonic()
        events: list[PoolEvent] = []
        for slot in self.slots.values():
            tracker = slot.tracker
            if slot.respawn_at is None or slot.respawn_at > now:
                continue
            if tracker is not None and tracker.postmortem is None:
                continue
            slot.respawn_at = None
            self.worker_restarts += 1
            try:
                slot.proc.start()
            except OSError as exc:  # out of processes, memory or fds: try again later
                self._boot_failures += 1
                delay = min(BOOT_BACKOFF_MAX_S, 0.5 * 2 ** (self._boot_failures - 1))
                log.error(
                    "worker %d could not be started (%s); trying again in %.1f s",
                    slot.proc.worker_id,
                    exc,
                    delay,
                )
                slot.respawn_at = now + delay
                if tracker is not None:
                    tracker.postmortem_failed(f"no worker could be started: {exc}")
                    events += self._outcome(slot)
                continue
            request = tracker.postmortem_request(now) if tracker is not None else None
            if request is not None:
                request = request.model_copy(update={"worker_id": slot.proc.worker_id})
                slot.job_sent_at, slot.heard_from_job = now, False
                slot.proc.send(request)
        return events

    def _outcome(self, slot: Slot, *, listable: bool = True) -> list[JobOutcome]:
        """The slot's job, ended: its outcome now, or once its clips are listed (a run
        whose worker never said what the job is: `listing.wanted`)."""
        tracker = slot.tracker
        assert tracker is not None
        slot.tracker = None
        outcome = tracker.outcome()
        if not listable or not listing.wanted(outcome):
            return [outcome]
        now_done = self.listings.start(outcome, time.monotonic())
        return [] if now_done is None else [now_done]

    def _idle(self) -> list[Slot]:
        # Not only ready workers: a job handed to a worker that dies at boot fails
        # with that worker's exit status and last words, which tell the operator
        # what is broken; the respawn back-off paces how fast jobs meet that fate.
        return [
            s
            for s in self.slots.values()
            if s.tracker is None and s.respawn_at is None and s.proc.exit_code() is None
        ]


__all__ = ["FailureReason", "JobOutcome", "LocalPool"]
