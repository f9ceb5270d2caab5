"""The Slurm executor: each job is one `sbatch --no-requeue` job; its messages come by spool.

It drives the same `JobTracker` as the local pool. What differs is where the
messages and the deaths come from: the worker's messages are the spool file's
lines (`proxx.slurm.spool`), and its "process" is the Slurm job, whose end
state (`squeue`, then `scontrol show job` for the exit code) replaces the exit
status. Actions map to `scancel`: there is no pipe to a batch job, so a cancel
is SIGTERM to the step, and the worker reports its clip as interrupted.

This class keeps the jobs and the Executor protocol; the parts are its own modules:
`launch` submits, `poll` watches spools and Slurm, `finish` turns an end into an
outcome, `cancel` carries out the tracker's actions.
"""

from __future__ import annotations

import logging
import os
import selectors
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from proxx.contract.clock import iso, utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import StartJob
from proxx.runtime import listing
from proxx.runtime.executor import Adopted, Adoption, PoolEvent, bounded
from proxx.runtime.listing import Listings
from proxx.runtime.tracker import Action, JobOutcome
from proxx.slurm import finish, sidecar
from proxx.slurm.cancel import act
from proxx.slurm.client import SlurmClient, SlurmUnavailable
from proxx.slurm.launch import Launcher
from proxx.slurm.poll import Poller
from proxx.slurm.spool import revoked_path, spool_path
from proxx.slurm.states import SlurmJob
from proxx.slurm.task import LOG_DIR, SlurmTask, new_task

log = logging.getLogger("proxx.slurm")
POLL_S = 2.0  # squeue at most this often while jobs run
SPOOL_GRACE_S = 3.0  # a shared filesystem may show the last lines after Slurm's end state
PING_S = 5.0  # while the controller is gone: how often to ask whether it is back


@dataclass
class SlurmExecutor:
    # Settings are fixed once built: the launcher and the poller take their copies
    # in __post_init__ (nothing changes them later; a change would not reach them).
    size: int
    root: str  # the watch root (shared storage): spool, sidecar and logs live under it
    client: SlurmClient = field(default_factory=SlurmClient)
    extra_args: Sequence[str] = ()
    deadlines: Deadlines = field(default_factory=Deadlines)
    python: str = sys.executable
    log_level: str | None = None
    log_format: str | None = None
    poll_s: float = POLL_S
    spool_grace_s: float = SPOOL_GRACE_S
    ping_s: float = PING_S
    worker_restarts: int = 0  # the Executor protocol's counter; Slurm has no workers to restart
    tasks: dict[str, SlurmTask] = field(default_factory=dict)
    # Lists the clips of a job no step read (None: the real one, a local process per
    # job; the unit tests' Slurm double passes one that starts none).
    lister: Listings | None = None
    _launcher: Launcher = field(init=False)
    _poller: Poller = field(init=False)
    # Jobs Slurm ended before a step read the JobSpec (requeued at launch, cancelled in
    # the queue, sbatch failed), while a short-lived local worker lists their clips.
    _listings: Listings = field(init=False)

    def __post_init__(self) -> None:
        self._launcher = Launcher(
            client=self.client,
            root=self.root,
            deadlines=self.deadlines,
            extra_args=self.extra_args,
            python=self.python,
            log_level=self.log_level,
            log_format=self.log_format,
            ping_s=self.ping_s,
        )
        self._poller = Poller(client=self.client, deadlines=self.deadlines, poll_s=self.poll_s)
        self._listings = (
            Listings(self.deadlines, self.log_level, self.log_format)
            if self.lister is None
            else self.lister
        )

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Fatal at start (SlurmUnavailable) when the clients or the controller are missing."""
        self.client.check()
        os.makedirs(os.path.join(self.root, LOG_DIR), exist_ok=True)

    def shutdown(self) -> None:
        """Batch jobs are not our children (that is the point): only listers are."""
        self._listings.close()

    # -- jobs ------------------------------------------------------------------------
    def free_slots(self) -> int:
        if self._launcher.controller_back() is False:
            return 0  # pending jobs wait in pending/ rather than fail one by one
        return max(0, self.size - len(self.tasks))

    def busy(self) -> int:
        return len(self.tasks)

    def submit(self, req: StartJob) -> int:
        worker_id = min(self._free_worker_ids())
        req = req.model_copy(update={"worker_id": worker_id})
        task = new_task(req, self.deadlines, self.root, worker_id)
        self._launcher.launch(task, sidecar.new(req.job_id, task.job_name, None, iso(utc_now())))
        self._track(task)
        return worker_id

    def adopt(self, req: StartJob) -> Adoption:
        """Re-attach to a claim a previous runner submitted, from its `.slurm` record.

        "absent": no record, or it was never submitted (the runner died before sbatch
        ran), so the caller recovers it the usual way; "retry": Slurm cannot be asked
        right now, so the caller leaves the claim alone and asks again next loop.
        """
        record = sidecar.read(req.jobspec_path)
        if record is None:
            return "absent"
        slurm_id = record.slurm_job_id
        try:
            slurm_id = slurm_id or self.client.find_by_name(record.job_name)
        except SlurmUnavailable as exc:
            log.warning("%s: cannot ask Slurm about it yet: %s", req.jobspec_path, exc)
            return "retry"
        spool = spool_path(req.jobspec_path)
        if not os.path.exists(spool) and os.path.exists(revoked_path(req.jobspec_path)):
            # The previous runner had revoked it (Slurm ended the job) but not filed it.
            spool = revoked_path(req.jobspec_path)
        if slurm_id is None and not os.path.exists(spool):
            return "absent"
        free = self._free_worker_ids()
        worker_id = min(free) if free else self.size + len(self.tasks)
        req = req.model_copy(update={"job_id": record.job_id, "worker_id": worker_id})
        task = new_task(req, self.deadlines, self.root, worker_id, gres=record.gres)
        task.job_name, task.slurm_id = record.job_name, slurm_id
        task.spool.path = spool
        if slurm_id is None:
            # The step ran (its spool exists) but Slurm forgot the job: the spool is
            # all there is to go on.
            task.ended_at = time.monotonic()
            task.last = SlurmJob(
                "?", "UNKNOWN", f"Slurm no longer knows {record.job_name}", None, None
            )
        # The spool is re-read from its start: the tracker rebuilds the job's story.
        task.seen_running = os.path.exists(spool)
        self._track(task)
        log.info(
            "job %s: re-attached to Slurm job %s (%s)", req.job_id, slurm_id or "?", record.job_name
        )
        started = datetime.fromisoformat(record.submitted_at.replace("Z", "+00:00"))
        return Adopted(record.job_id, started)

    def cancel(
        self, job_id: str, reason: str, failure: FailureReason = FailureReason.INTERRUPTED
    ) -> None:
        task = self.tasks.get(job_id)
        if task is not None:
            self._act(task, task.tracker.cancel(reason, time.monotonic(), failure))

    def cancel_all(self, reason: str) -> None:
        # Queued jobs first: cancelling a running one frees its CPUs, and Slurm would
        # start a queued job of ours there just before its own cancel arrives.
        for task in sorted(self.tasks.values(), key=lambda t: t.seen_running):
            self.cancel(task.tracker.job_id, reason)

    def progress(self, now: float, wall: datetime) -> dict[str, ProgressRecord]:
        # Read from the job's spool (its worker's own reports), like everything else.
        return {
            job_id: task.tracker.progress_record(now, wall)
            for job_id, task in self.tasks.items()
            if not task.tracker.finished
        }

    def planned(self) -> dict[str, list[str]]:
        return {
            job_id: outputs
            for job_id, task in self.tasks.items()
            if (outputs := task.tracker.outputs()) is not None
        }

    # -- the wait --------------------------------------------------------------------
    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[PoolEvent]:
        """Sleep until an `extra` fd is readable, a deadline, the next poll or `timeout`."""
        self._sleep(self._bounded(timeout), extra)
        events: list[PoolEvent] = []
        for task in list(self.tasks.values()):
            events += self._poller.read(task)
        events += self._poller.poll(self.tasks.values())
        for task in list(self.tasks.values()):
            outcome = self._service(task)
            if outcome is not None:
                events.append(outcome)
        events += self._listings.collect(time.monotonic())
        return events

    def _sleep(self, sleep: float | None, extra: list[int] | None) -> None:
        # A lister runs on this host, and its pipe is waited for in this one select,
        # beside the stop signals' fd. Not in `finish` with a bounded wait of its own:
        # that wait (up to accept + read + validate, per job) would hold every other
        # job's spool, deadlines and squeue poll, and the supervisor's loop with them.
        fds = [*self._listings.fds(), *(extra or [])]
        if fds:
            with selectors.DefaultSelector() as sel:
                for fd in fds:
                    sel.register(fd, selectors.EVENT_READ)
                sel.select(sleep)
        elif sleep is None or sleep > 0:
            time.sleep(self.poll_s if sleep is None else sleep)

    def _bounded(self, timeout: float | None) -> float | None:
        times = [t.tracker.next_deadline() for t in self.tasks.values()]
        times.append(self._listings.next_deadline())
        if self.tasks:
            times.append(self._poller.next_poll)
        return bounded(timeout, times, time.monotonic())

    def _service(self, task: SlurmTask) -> JobOutcome | None:
        """A job's turn in each wait: its deadlines while Slurm runs it, its outcome
        once Slurm has ended it and its last spool lines had time to arrive."""
        now = time.monotonic()
        if task.unavailable is not None:
            why = task.unavailable
            return self._done(task, finish.failed(task, FailureReason.ENGINE_UNAVAILABLE, why))
        if task.ended_at is None:
            actions = finish.overdue(task, now)
            self._act(task, task.tracker.due(now) if actions is None else actions)
            if task.ended_at is None:
                return None
        if not task.tracker.done and now - task.ended_at < self.spool_grace_s:
            self._poller.settle(now)
            return None  # the last lines may still be on their way over the shared fs
        if finish.routed_to_resolve(task):
            self._track(self._launcher.resolve_pass(task))
            return None
        return self._done(task, finish.outcome(task))

    # -- helpers ------------------------------------------------------------------------
    def _free_worker_ids(self) -> set[int]:
        return set(range(self.size)) - {t.worker_id for t in self.tasks.values()}

    def _track(self, task: SlurmTask) -> None:
        """Keeps a task just launched or adopted (in place of the job's earlier one)."""
        self.tasks[task.tracker.job_id] = task
        self._poller.soon(0.0)  # ask Slurm about it at the next wait

    def _done(self, task: SlurmTask, outcome: JobOutcome) -> JobOutcome | None:
        """The job's outcome, its files cleared from running/; a job no step ever read
        comes back from the listings once its clips are listed (`listing.wanted`)."""
        del self.tasks[task.tracker.job_id]
        outcome = finish.close(task, outcome)
        if not listing.wanted(outcome):
            return outcome
        return self._listings.start(outcome, time.monotonic())

    def _act(self, task: SlurmTask, actions: list[Action]) -> None:
        act(self.client, task, actions)
