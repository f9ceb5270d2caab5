"""A job that ended before any worker read its JobSpec: its clips, listed by a short-lived
worker, so its result lists every clip as not started under the JobSpec's fingerprint.

Slurm requeued it at launch, it was cancelled in Slurm's queue, sbatch failed, its pool
worker died before it spoke: nothing ran, and the supervisor cannot read the JobSpec
(it moves names), so its result used to list no clips and a zero fingerprint. Here the
executor hands that ended job's claim (the same inode) to a fresh process of its own
(`workers/listing.py`, named by string) as `StartJob(kind="list")`. It answers as a
job's worker does (phases, then `JobPlanned` or `JobRejected`), and a `JobTracker` holds
it to the accept, read and validate deadlines. Its plan becomes the job's clips through
the tracker's own accounting (`account`): every one SKIPPED, "not started: WHY". A
lister that fails (a hostile JobSpec, a deadline, no process to be had) leaves the
result as it was, clips [] with its reason, plus a note of why they could not be listed.

The lister is never waited for: an executor puts `fds()` in the select of its one wait
(with its other pipes), wakes for `next_deadline()`, and takes the finished jobs from
`collect()`, so the supervisor's loop keeps its one blocking point.
"""

from __future__ import annotations

import logging
import selectors
import subprocess
import time
from dataclasses import dataclass

from proxx.contract import logs
from proxx.contract.accounting import account
from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import JobPlanned, WorkerFailing
from proxx.runtime.procs import UNKILLABLE_S, WorkerProcess
from proxx.runtime.tracker import Action, JobOutcome, JobTracker, KillWorker

log = logging.getLogger("proxx.runtime.listing")
LIST_TARGET = "proxx_workers.listing:list_main"  # by name: proxx/ never imports workers/


def wanted(outcome: JobOutcome) -> bool:
    """Whether `outcome` is a run that ended before any worker said what the job is."""
    return (
        outcome.request.kind == "run"
        and outcome.planned is None
        and outcome.rejected is None
        and outcome.recovered is None
        and outcome.early_stop is not None
    )


def listed(outcome: JobOutcome, plan: JobPlanned | None, unlisted: str | None) -> JobOutcome:
    """`outcome` with its clips as `plan` names them, each not started; or, without a
    plan, with `unlisted` saying why they could not be listed."""
    assert outcome.early_stop is not None
    if plan is None:
        outcome.unlisted = unlisted or "the lister ended without listing them"
        return outcome
    outcome.listed = plan
    outcome.clips = account(
        plan.clips, {}, None, engine=None, skipped_detail=f"not started: {outcome.early_stop[1]}"
    )
    return outcome


@dataclass
class _Look:
    outcome: JobOutcome  # the job's, as it ended
    proc: WorkerProcess  # the lister
    tracker: JobTracker  # the lister's conversation, under the phase deadlines


class Listings:
    """The listers running for an executor's ended jobs (none, nearly always)."""

    def __init__(
        self,
        deadlines: Deadlines,
        log_level: str | None = None,
        log_format: str | None = None,
        target: str = LIST_TARGET,
    ) -> None:
        self.deadlines = deadlines
        self.log_level = log_level or logs.level_name()
        self.log_format = log_format or logs.format_name()
        self.target = target
        self._looks: list[_Look] = []
        self._ending: list[WorkerProcess] = []  # listers done with, until they are reaped
        self._stuck: list[subprocess.Popen[bytes]] = []  # unkillable: reaped if ever

    def __len__(self) -> int:
        return len(self._looks)

    def start(self, outcome: JobOutcome, now: float) -> JobOutcome | None:
        """Start listing `outcome`'s clips (it comes back from `collect`); the outcome
        itself, with the reason, when no lister can be started."""
        req = outcome.request.model_copy(update={"kind": "list"})
        proc = WorkerProcess(req.worker_id, self.target, self.log_level, self.log_format)
        try:
            proc.start()
        except OSError as exc:  # out of processes, memory or fds
            return listed(outcome, None, f"no lister process could be started: {exc}")
        proc.send(req)  # a failed send shows as its death or the accept deadline
        self._looks.append(_Look(outcome, proc, JobTracker(req, self.deadlines, now)))
        log.debug("job %s: listing its clips in a short-lived worker", req.job_id)
        return None

    def fds(self) -> list[int]:
        """What the executor's wait watches for the listers: pipes, stderr, exits."""
        return [fd for look in self._looks for fd in look.proc.fds()] + [
            fd for proc in self._ending for fd in proc.fds()
        ]

    def next_deadline(self) -> float | None:
        times = [look.tracker.next_deadline() for look in self._looks]
        procs = [look.proc for look in self._looks] + self._ending
        times += [  # when a killed lister that has not died counts as stuck
            p.killed_at + UNKILLABLE_S + 0.01 for p in procs if p.killed_at is not None
        ]
        due = [t for t in times if t is not None]
        return min(due) if due else None

    def collect(self, now: float) -> list[JobOutcome]:
        """The jobs whose listing is over (listed, or why not); never blocks."""
        done: list[JobOutcome] = []
        for look in list(self._looks):
            self._service(look, now)
            if look.tracker.finished:
                self._looks.remove(look)
                done.append(self._result(look))
                look.proc.kill()  # it exits by itself once it answered; this makes sure
                self._ending.append(look.proc)
        self._reap(now)
        return done

    def close(self) -> None:
        """Executor shutdown: every lister is ended (its job is not filed by this runner)."""
        for proc in [look.proc for look in self._looks] + self._ending:
            proc.kill()
            proc.close(grace=0)
        self._looks, self._ending = [], []

    def _service(self, look: _Look, now: float) -> None:
        proc, tracker = look.proc, look.tracker
        for msg in proc.read():
            self._obey(proc, tracker.on_message(msg, now))
        if proc.broken is not None and proc.exit_code() is None and not tracker.finished:
            tracker.on_message(WorkerFailing(error=proc.broken), now)
            self._obey(proc, tracker.kill(proc.broken))
        if tracker.finished:
            return
        if proc.exit_code() is not None:
            for msg in proc.read():  # its last words, written just before it died
                tracker.on_message(msg, now)
            if not tracker.finished:
                tracker.on_death(proc.describe_exit())
        elif proc.unkillable(now):
            tracker.on_death(f"did not die {UNKILLABLE_S:g} s after SIGKILL: stuck in the kernel")
        else:
            self._obey(proc, tracker.due(now))

    @staticmethod
    def _obey(proc: WorkerProcess, actions: list[Action]) -> None:
        if any(isinstance(a, KillWorker) for a in actions):
            proc.kill()

    @staticmethod
    def _result(look: _Look) -> JobOutcome:
        tracker = look.tracker
        if tracker.planned is not None and tracker.rejected is None:
            return listed(look.outcome, tracker.planned, None)
        rejected = tracker.rejected
        if rejected is not None:
            why = rejected.validation_error or rejected.system_error or rejected.interrupted
            return listed(look.outcome, None, why)
        early = tracker.outcome().early_stop
        return listed(look.outcome, None, f"the lister: {early[1]}" if early else None)

    def _reap(self, now: float) -> None:
        for proc in list(self._ending):
            if proc.exit_code() is not None:
                proc.reap()
                self._ending.remove(proc)
            elif proc.unkillable(now):
                log.error("a lister (pid %s) is stuck in the kernel; left behind", proc.pid)
                stuck = proc.detach()
                if stuck is not None:
                    self._stuck.append(stuck)
                self._ending.remove(proc)
        self._stuck = [p for p in self._stuck if p.poll() is None]


def list_now(outcome: JobOutcome, deadlines: Deadlines | None = None) -> JobOutcome:
    """`outcome` with its clips listed, waited for here, within the lister's own deadlines:
    for a command that may wait (`proxx cancel` of a pending job), never a runner's loop."""
    listings = Listings(deadlines or Deadlines())
    try:
        done = listings.start(outcome, time.monotonic())
        while done is None:
            due = listings.next_deadline()
            with selectors.DefaultSelector() as sel:
                for fd in listings.fds():  # never empty while it runs: its exit's pidfd
                    sel.register(fd, selectors.EVENT_READ)
                sel.select(None if due is None else max(0.0, due - time.monotonic()))
            finished = listings.collect(time.monotonic())
            done = finished[0] if finished else None
        return done
    finally:
        listings.close()
