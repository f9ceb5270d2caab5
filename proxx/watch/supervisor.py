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
from typing import Literal

from proxx.contract.deadlines import Deadlines
from proxx.runtime.dispatch import Dispatcher
from proxx.runtime.executor import Executor, JobNoted, PoolEvent
from proxx.runtime.pool import LocalPool
from proxx.runtime.spawn import WORKER_TARGET
from proxx.watch.filing import Clerk
from proxx.watch.folder import FatalWatchError, Intake, Layout
from proxx.watch.jobs import Jobs
from proxx.watch.metrics import MetricsFile
from proxx.watch.misplaced import MisplacedWarner
from proxx.watch.recovery import file_stranded, orphans, remove_stale_temps, stranded_results

log = logging.getLogger("proxx.watch")
HALT_WAIT_S = 20  # after a fatal error: how long running jobs get to report


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
        roots: tuple[list[str] | None, list[str] | None] = (None, None),
    ) -> None:
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
        mode: Literal["sequential", "parallel"] = "sequential" if max_workers == 1 else "parallel"
        self.jobs = Jobs(self.layout, self.clerk, self.executor, mode, roots)
        self._pending_left = True

    # -- start / run / halt ----------------------------------------------------------------
    def start(self) -> None:
        self.layout.ensure()
        self.dispatch.start()
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
                self.react_to_signals()
            self.drain_on_shutdown()
            self.write_metrics(force=True)
        except FatalWatchError as exc:
            self.jobs.abandon(str(exc), HALT_WAIT_S)
            raise
        finally:
            self.halt()

    def halt(self) -> None:
        self.dispatch.close()
        c = self.clerk.counts
        log.info(
            "stopped: %d completed, %d failed, %d recovered", c.completed, c.failed, c.recovered
        )

    # -- steps -----------------------------------------------------------------------------
    def should_stop(self) -> bool:
        if self.dispatch.stop_requested:
            return True
        idle = not self._pending_left and not self.jobs and not self.clerk.unfinished
        return self.once and idle

    def recover_orphans(self) -> None:
        """What dead runners left in running/: results to file, jobs to take over, and
        temp files nothing will rename."""
        for name in remove_stale_temps(self.layout):
            log.info("removed %s from running/: a temp file a killed runner left", name)
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
        names = self.intake.scan()
        self.misplaced.check()
        self._pending_left = bool(names)
        for i, name in enumerate(names):
            # A stop can arrive at any moment: claiming on would fail every pending
            # job in turn, each interrupted at once.
            if self.executor.free_slots() == 0 or self.dispatch.stop_requested:
                return
            self._pending_left = i + 1 < len(names)
            if not self.intake.ready(name):
                self._pending_left = True
                continue
            with self.jobs.guarded(name):
                self.jobs.claim(os.path.join(self.layout.pending, name))

    def write_metrics(self, force: bool = False) -> None:
        counts = self.clerk.counts
        self.metrics.update(
            counts.completed, counts.failed_by_reason, self.executor.worker_restarts, force=force
        )

    def wait_timeout(self) -> float:
        if self.once and self._pending_left and self.executor.free_slots():
            return min(self.poll_seconds, 0.25)  # a file is settling: look again soon
        return self.poll_seconds

    def handle(self, events: list[PoolEvent]) -> None:
        for event in events:
            if isinstance(event, JobNoted):
                self.jobs.noted(event)
            else:
                self.jobs.finished(event)

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


__all__ = ["FatalWatchError", "Supervisor"]
