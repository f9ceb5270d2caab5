"""`proxx watch`: the supervisor loop over a watch folder and an executor.

**The supervisor moves names; workers handle content.** This loop handles
names, locks, renames and results only: a claimed JobSpec goes to a worker as
a path, and everything derived from its bytes or from media (parsing,
validation, probing, routing, rendering, verifying, recovery accounting) runs
in that worker under a deadline. What happens to one job is `proxx.watch.jobs`;
a fault there fails that job, never the loop.

Shaped like gunicorn's Arbiter: `start`, a `run` loop that reads as a list of
named steps, `halt`. Signal handlers only record; the loop acts.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Literal

from proxx.contract.clock import utc_now
from proxx.contract.deadlines import Deadlines
from proxx.runtime.dispatch import Dispatcher
from proxx.runtime.executor import Executor, JobNoted, PoolEvent
from proxx.runtime.pool import LocalPool
from proxx.runtime.spawn import WORKER_TARGET
from proxx.runtime.tracker import JobOutcome
from proxx.watch import drain
from proxx.watch.clerk import Clerk
from proxx.watch.fdlimit import fd_limit_problem
from proxx.watch.folder import FatalWatchError, Layout
from proxx.watch.hook import JobEndHook, Program
from proxx.watch.intake import Intake, Refusal
from proxx.watch.jobs import Jobs
from proxx.watch.metrics import MetricsFile
from proxx.watch.mhlwrite import MhlAction
from proxx.watch.misplaced import MisplacedWarner
from proxx.watch.recovery import (
    file_stranded,
    orphans,
    remove_lone_job_files,
    remove_stale_temps,
    stranded_results,
)

log = logging.getLogger("proxx.watch")
HALT_WAIT_S = 20  # after a fatal error: how long running jobs get to report
# Status files are rewritten at most this often (and only when a record moved).
PROGRESS_WRITE_S = 1.0
HOOK_HALT_WAITS = 50  # × 0.1 s: how long a signalled runner waits for job-end actions


class Supervisor:
    def __init__(
        self,
        root: str,
        *,
        max_workers: int = 1,
        poll_seconds: float = 2.0,
        once: bool = False,
        worker_target: str = WORKER_TARGET,
        deadlines: Deadlines | None = None,
        executor: Executor | None = None,
        metrics_file: str | None = None,
        on_job_end: str | None = None,
        mhl: bool = False,
        roots: tuple[list[str] | None, list[str] | None] = (None, None),
    ) -> None:
        if (problem := fd_limit_problem(max_workers)) is not None:
            raise FatalWatchError(problem)  # before any worker or file is opened
        self.layout = Layout(os.path.abspath(root))
        self.max_workers = max_workers
        self.poll_seconds = poll_seconds
        self.once = once
        self.intake = Intake(self.layout)
        self.misplaced = MisplacedWarner(self.layout.root)
        self.metrics = MetricsFile(self.layout.root, metrics_file)
        self.executor: Executor = executor or LocalPool(
            max_workers, target=worker_target, deadlines=deadlines
        )
        self.dispatch = Dispatcher(self.executor, "proxx watch")
        self.clerk = Clerk(self.layout)
        # Job-end actions, each with its own IOU: the MHL first, so a notifier started
        # beside it is not first in line for the disk.
        actions = ([MhlAction()] if mhl else []) + ([Program(on_job_end)] if on_job_end else [])
        self.hooks = [JobEndHook(a, self.layout) for a in actions]
        self.clerk.hooks = self.hooks
        mode: Literal["sequential", "parallel"] = "sequential" if max_workers == 1 else "parallel"
        self.jobs = Jobs(self.layout, self.clerk, self.executor, mode, roots)
        self._progress_written = -PROGRESS_WRITE_S
        self._media_seconds = 0.0  # of the clips this runner published (a metric)
        self._draining = False  # `proxx drain` in force, as last looked

    # -- start / run / halt ----------------------------------------------------------------
    def start(self) -> None:
        self.layout.ensure()
        self.dispatch.start()
        for hook in self.hooks:
            hook.resume()  # what a runner killed after filing still owed
        log.info(
            "watching %s with %d worker(s), polling every %g s%s",
            self.layout.root,
            self.max_workers,
            self.poll_seconds,
            " (once)" if self.once else "",
        )

    def run(self) -> None:
        try:
            self.start()
            while not self.should_stop():
                self.layout.check()
                self.clerk.retry_unfinished()
                self.recover_orphans()
                self.claim_jobs()
                self.write_metrics()
                self.handle(self.dispatch.wait(self.wait_timeout()))
                self.jobs.hold_outputs()
                self.jobs.cancel_requested()
                self.collect_hooks()
                self.write_progress()
                self.react_to_signals()
            self.drain_on_shutdown()
            self.write_metrics(force=True)
        except FatalWatchError as exc:
            self.jobs.abandon(str(exc), HALT_WAIT_S)
            raise
        finally:
            self.halt()

    def halt(self) -> None:
        self.wait_for_hooks()  # first: a stop signal meanwhile is still only recorded
        self.dispatch.close()
        self.intake.close()
        c = self.clerk.counts
        log.info(
            "stopped: %d completed, %d failed, %d recovered", c.completed, c.failed, c.recovered
        )

    # -- steps -----------------------------------------------------------------------------
    def should_stop(self) -> bool:
        if self.dispatch.stop_requested:
            return True
        finished = not self.jobs and not self.clerk.unfinished
        if self.draining():
            return finished  # what it runs is done: exit 0
        return self.once and finished and not self.intake.pending_left

    def draining(self) -> bool:
        """Whether `proxx drain` is in force on the folder (said once as it changes)."""
        now_draining = drain.in_force(self.layout.root) is not None
        if now_draining != self._draining:
            self._draining = now_draining
            if now_draining:
                log.warning(
                    "drain in force (%s): claiming nothing more; exiting once %d running "
                    "job(s) finish",
                    drain.marker(self.layout.root),
                    len(self.jobs),
                )
            else:
                log.info("drain lifted: claiming again")
        return now_draining

    def recover_orphans(self) -> None:
        """What dead runners left in running/: results to file, jobs to take over, and
        temp files nothing will rename."""
        for name in remove_stale_temps(self.layout):
            log.info("removed %s from running/: a temp file a killed runner left", name)
        for name in self.jobs.outputs.sweep():
            log.info("removed %s from running/: an output lock a dead runner left", name)
        for name in remove_lone_job_files(self.layout):
            log.info("removed %s from running/: its job was filed by a runner killed since", name)
        for path in stranded_results(self.layout):
            with self.jobs.guarded(f"stranded result {os.path.basename(path)}"):
                if (filed := file_stranded(self.layout, path)) is not None:
                    self.clerk.remove_sidecar(filed[1])
                    log.warning("filed a result a dead runner left in running/: %s", filed[0])
        for orphan in orphans(self.layout, self.jobs.names()):
            with self.jobs.guarded(orphan.name, orphan):
                self.jobs.recover(orphan)

    def claim_jobs(self) -> None:
        """Claim pending JobSpecs in the intake's order while a worker is free."""
        if self.draining():  # looked at again: a drain asked for since should_stop
            return
        self.misplaced.check()
        # A stop can arrive at any moment: claiming on would fail every pending job in
        # turn, each interrupted at once.
        for name in self.intake.ready_names(self._room):
            with self.jobs.guarded(name):
                taken = self.intake.take(name)
                if isinstance(taken, Refusal):
                    self.clerk.refuse(taken.path, taken.why)
                elif taken is not None:
                    self.jobs.take(taken)

    def _room(self) -> bool:
        return self.executor.free_slots() > 0 and not self.dispatch.stop_requested

    def write_metrics(self, force: bool = False) -> None:
        counts = self.clerk.counts
        self.metrics.update(
            counts.completed,
            counts.failed_by_reason,
            self.executor.worker_restarts,
            running=self.executor.progress(time.monotonic(), utc_now()),
            media_seconds=self._media_seconds,
            force=force,
        )

    def collect_hooks(self) -> None:
        for hook in self.hooks:
            hook.collect()

    def wait_for_hooks(self) -> None:
        """After `--once` or a drain, job-end actions get their own deadlines (each is
        killed at its own); after a stop signal (one while waiting too), a moment. One
        cut short runs again at the next start (its IOU stays)."""
        waits = 0
        while any(hook.runs for hook in self.hooks):
            if self.dispatch.stop_requested and waits >= HOOK_HALT_WAITS:
                return
            self.collect_hooks()
            time.sleep(0.1)
            waits += 1

    def write_progress(self) -> None:
        """Each running job's progress into its status file, at most once a second."""
        now = time.monotonic()
        if now - self._progress_written < PROGRESS_WRITE_S:
            return
        self._progress_written = now
        self.jobs.progressed(self.executor.progress(now, utc_now()))

    def wait_timeout(self) -> float:
        if self.once and self.intake.pending_left and self.executor.free_slots():
            return min(self.poll_seconds, 0.25)  # a file is settling: look again soon
        return self.poll_seconds

    def handle(self, events: list[PoolEvent]) -> None:
        for event in events:
            if isinstance(event, JobNoted):
                self.jobs.noted(event)
            else:
                self._media_seconds += media_seconds_published(event)
                self.jobs.file(event)

    def react_to_signals(self) -> None:
        if self.dispatch.stop_requested and self.dispatch.interrupt_all():
            log.warning(
                "%s: stop claiming, interrupting %d running job(s)",
                self.dispatch.stop_reason(),
                len(self.jobs),
            )

    def drain_on_shutdown(self) -> None:
        """Interrupt running jobs and wait for their results: nothing stays in running/."""
        self.dispatch.interrupt_all()
        while self.jobs:
            self.handle(self.dispatch.wait(1.0))
        self.clerk.retry_unfinished()


def media_seconds_published(outcome: JobOutcome) -> float:
    """Media seconds of the clips a finished job published (their probed durations)."""
    if outcome.planned is None:
        return 0.0
    done = {c.output_path for c in outcome.clips if c.status == "COMPLETED"}
    return sum(c.duration or 0.0 for c in outcome.planned.clips if c.output_path in done)


__all__ = ["FatalWatchError", "Supervisor"]
