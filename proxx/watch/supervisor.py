"""`proxx watch`: the supervisor loop over a watch folder and an executor.

**The supervisor moves names; workers handle content.** This module handles
names, locks, renames and results only: a claimed JobSpec goes to a worker as
a path, and everything derived from its bytes or from media (parsing,
validation, probing, routing, rendering, verifying, recovery accounting) runs
in that worker under a deadline. Any exception while handling one job's names
or files fails that job, never the loop (`_guarded`).

Shaped like gunicorn's Arbiter: `start`, a `run` loop that reads as a list of
named steps, `halt`. Signal handlers only record; the loop acts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from proxx.contract.clock import iso, utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import JobKind, StartJob, new_job_id
from proxx.contract.results import Recovery, not_started
from proxx.runtime.dispatch import Dispatcher
from proxx.runtime.executor import Executor, JobNoted, PoolEvent
from proxx.runtime.pool import LocalPool
from proxx.runtime.spawn import WORKER_TARGET
from proxx.runtime.tracker import JobOutcome
from proxx.runtime.verdict import result_of
from proxx.slurm import sidecar as slurm_record
from proxx.watch.claims import Claim, claim
from proxx.watch.filing import Clerk, not_a_jobspec_file, state_of
from proxx.watch.folder import (
    FatalWatchError,
    Intake,
    Layout,
    read_result,
    read_sidecar,
    resume,
    shown,
)
from proxx.watch.metrics import MetricsFile
from proxx.watch.misplaced import MisplacedWarner
from proxx.watch.recovery import REASON, file_stranded, orphans, stranded_results

log = logging.getLogger("proxx.watch")
HALT_WAIT_S = 20.0  # after a fatal error: how long running jobs get to report


@dataclass
class Running:
    claim: Claim
    kind: JobKind
    job_id: str  # the result's job id (a recovered job keeps its original one)
    started: datetime
    recovery: Recovery | None = None


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
    ) -> None:
        self.layout = Layout(os.path.abspath(root))
        self.max_workers = max_workers
        self.poll_seconds = poll_seconds
        self.once = once
        self.mode: Literal["sequential", "parallel"] = (
            "sequential" if max_workers == 1 else "parallel"
        )
        self.intake = Intake(self.layout)
        self.misplaced = MisplacedWarner(self.layout.root)
        self.metrics = MetricsFile(self.layout.root, metrics_file)
        self.executor: Executor = executor or LocalPool(
            max_workers, target=worker_target, deadlines=deadlines
        )
        self.dispatch = Dispatcher(self.executor, "proxx watch")
        self.running: dict[str, Running] = {}  # by the request's job id
        self.clerk = Clerk(self.layout)
        self._pending_left = True
        self._not_ours: set[str] = set()  # Slurm claims a local runner must leave alone

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
                self.retry_unfinished()
                self.recover_orphans()
                self.claim_jobs()
                self._write_metrics()
                self.handle(self.dispatch.wait(self.wait_timeout()))
                self.react_to_signals()
            self.drain_on_shutdown()
            self._write_metrics(force=True)
        except FatalWatchError as exc:
            self.abandon(str(exc))
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
        return (
            self.once and not self._pending_left and not self.running and not self.clerk.unfinished
        )

    def retry_unfinished(self) -> None:
        self.clerk.retry_unfinished()

    def recover_orphans(self) -> None:
        own = {r.claim.name for r in self.running.values()} | self.clerk.held()
        for path in stranded_results(self.layout):
            with self._guarded(f"stranded result {os.path.basename(path)}"):
                if (filed := file_stranded(self.layout, path)) is not None:
                    self.clerk.remove_sidecar(filed[1])
                    log.warning("filed a result a dead runner left in running/: %s", filed[0])
        for orphan in orphans(self.layout, own):
            with self._guarded(orphan.name, orphan):
                self._recover(orphan)

    def claim_jobs(self) -> None:
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
            with self._guarded(name):
                self._claim(os.path.join(self.layout.pending, name))

    def wait_timeout(self) -> float:
        if self.once and self._pending_left and self.executor.free_slots():
            return min(self.poll_seconds, 0.25)  # a file is settling: look again soon
        return self.poll_seconds

    def handle(self, events: list[PoolEvent]) -> None:
        for event in events:
            if isinstance(event, JobNoted):
                self._noted(event)
                continue
            job = self.running.pop(event.request.job_id, None)
            if job is None:
                continue
            with self._guarded(job.claim.name, job.claim):
                self._finished(job, event)

    def react_to_signals(self) -> None:
        if self.dispatch.stop_requested and self.dispatch.interrupt_all():
            log.warning(
                "%s: stop claiming, interrupting %d running job(s)",
                self.dispatch.stop_reason(),
                len(self.running),
            )

    def drain_on_shutdown(self) -> None:
        """Interrupt running jobs and wait for their results: nothing stays in running/."""
        self.dispatch.interrupt_all()
        while self.running:
            self.handle(self.dispatch.wait(1.0))
        self.clerk.retry_unfinished()

    def abandon(self, why: str) -> None:
        """A fatal error: stop every job; their results cannot be filed, so say so."""
        log.error("%s; interrupting %d running job(s)", why, len(self.running))
        self.executor.cancel_all(f"proxx watch stopped: {why}")
        budget = int(HALT_WAIT_S)
        while self.running and budget > 0:
            for event in self.executor.wait(1.0):
                if isinstance(event, JobOutcome) and event.request.job_id in self.running:
                    job = self.running.pop(event.request.job_id)
                    job.claim.release()
                    log.error(
                        "job %s (%s): interrupted; its result could not be filed",
                        job.job_id,
                        job.claim.name,
                    )
            budget -= 1

    # -- one job ---------------------------------------------------------------------------
    def _claim(self, path: str) -> None:
        why = not_a_jobspec_file(path)
        if why is not None:
            self.clerk.refuse(path, why)
            return
        got = claim(path, self.layout.running)
        if got is not None:
            with self._guarded(got.name, got):  # once claimed, a failure files the job
                self._submit(got, "run", new_job_id())

    def _submit(
        self, got: Claim, kind: JobKind, job_id: str, recovery: Recovery | None = None
    ) -> None:
        req = StartJob(
            job_id=job_id, kind=kind, jobspec_path=got.path, base_dir=self.layout.root, worker_id=0
        )
        self.running[req.job_id] = Running(got, kind, job_id, utc_now(), recovery)
        worker = self.executor.submit(req)
        self.clerk.write_sidecar(got.name, job_id, worker)
        if kind == "run":
            log.info(
                "job %s (%s): claimed by worker %d",
                job_id,
                got.name,
                worker,
                extra={
                    "job_id": job_id,
                    "jobspec": got.name,
                    "state": "claimed",
                    "worker_id": worker,
                },
            )

    def _recover(self, orphan: Claim) -> None:
        why = not_a_jobspec_file(orphan.path)  # a name no result can carry, for one
        if why is not None:
            self.clerk.file(
                orphan,
                not_started(new_job_id(), shown(orphan.path), utc_now(), validation_error=why),
                "failed",
            )
            return
        info = read_sidecar(self.layout, orphan.name)
        job_id = str(info.get("job_id") or new_job_id())
        staged = self.layout.staged_result(orphan.name)
        result = read_result(staged)
        if result is not None:
            log.warning(
                "recovered %s from a dead runner (result was already written)",
                orphan.name,
                extra={"job_id": result.job_id, "state": "recovered"},
            )
            self.clerk.counts.recovered += 1
            final = resume(self.layout, orphan.path, staged, result)
            if final is not None:
                self.clerk.remove_sidecar(orphan.name)
                orphan.release()
                self.clerk.count(result)
                return
            self.clerk.file(orphan, result, state_of(result))
            return
        if self._reattach(orphan):
            return
        if self.executor.free_slots() == 0:
            orphan.release()  # picked up again once a worker is free
            return
        recovery = Recovery(reason=REASON, recovered_at=iso(utc_now()), original_path=orphan.path)
        log.warning(
            "recovered %s from a dead runner (%s); a worker accounts for its clips",
            orphan.name,
            REASON,
            extra={"job_id": job_id, "state": "recovering"},
        )
        self.clerk.counts.recovered += 1
        self._submit(orphan, "recover", job_id, recovery)

    def _reattach(self, orphan: Claim) -> bool:
        """A claim submitted to Slurm (it has a `.slurm` record) may still be running there:
        a Slurm runner re-attaches to it; any other runner leaves it alone (never fails it)."""
        record = slurm_record.read(orphan.path)
        if record is None:
            return False
        adopt = getattr(self.executor, "adopt", None)
        req = StartJob(
            job_id=record.job_id,
            kind="run",
            jobspec_path=orphan.path,
            base_dir=self.layout.root,
            worker_id=0,
        )
        if adopt is None:
            if orphan.name not in self._not_ours:
                log.warning(
                    "%s was submitted to Slurm by a runner that is gone; only a "
                    "`--executor slurm` runner can collect it",
                    orphan.name,
                )
                self._not_ours.add(orphan.name)
            orphan.release()
            return True
        answer = adopt(req, record)
        if answer == "retry":
            orphan.release()  # Slurm did not answer: ask again next loop, touch nothing
            return True
        if answer == "absent":
            return False
        started = datetime.fromisoformat(record.submitted_at.replace("Z", "+00:00"))
        self.running[record.job_id] = Running(orphan, "run", record.job_id, started)
        self.clerk.write_sidecar(orphan.name, record.job_id, 0, "re-attached to its Slurm job")
        return True

    def _finished(self, job: Running, outcome: JobOutcome) -> None:
        result = result_of(
            outcome,
            started=job.started,
            jobspec_path=job.claim.path,
            mode=self.mode,
            job_id=job.job_id,
            recovery=job.recovery,
        )
        if job.kind == "recover" and outcome.recovered is not None and outcome.recovered.note:
            log.info("recovered %s: %s", job.claim.name, outcome.recovered.note)
        self.clerk.file(job.claim, result, state_of(result))

    def _fail_unhandled(self, name: str, got: Claim | None, exc: BaseException) -> None:
        """The last resort of `_guarded`: file the job as failed, with what went wrong.

        Said once per name (a file that keeps failing must not flood the log).
        """
        first = name not in self.clerk.reported
        self.clerk.reported.add(name)
        if first:
            log.exception("job %s: unexpected error while handling its files; failing it", name)
        why = f"the runner could not handle this job's files: {type(exc).__name__}: {exc}"
        if got is None or got.fd < 0:
            return
        for job_id, job in list(self.running.items()):
            if job.claim is got:
                del self.running[job_id]
                self.executor.cancel(job_id, why)  # its late outcome is ignored
        try:
            self.clerk.file(
                got,
                not_started(new_job_id(), shown(got.path), utc_now(), system_error=why),
                "failed",
            )
        except Exception:
            if first:
                log.exception("job %s: could not file it either; it stays in running/", name)
            got.release()

    @contextlib.contextmanager
    def _guarded(self, name: str, got: Claim | None = None) -> Iterator[None]:
        try:
            yield
        except FatalWatchError:
            raise
        except Exception as exc:
            self.layout.check()  # a vanished root is fatal, not one job's problem
            self._fail_unhandled(name, got, exc)

    # -- bookkeeping -----------------------------------------------------------------------
    def _write_metrics(self, force: bool = False) -> None:
        self.metrics.update(
            self.clerk.counts.completed,
            self.clerk.counts.failed_by_reason,
            self.executor.worker_restarts,
            force=force,
        )

    def _noted(self, event: JobNoted) -> None:
        job = self.running.get(event.job_id)
        if job is not None:
            log.info("job %s (worker %d): %s", job.job_id, event.worker_id, event.note)
            self.clerk.write_sidecar(job.claim.name, job.job_id, event.worker_id, event.note)


__all__ = ["FatalWatchError", "Supervisor"]
