"""The jobs one runner holds, from claim to filed result.

Each is a claimed name in `running/` and the request it became: claimed from
`pending/` by the intake (`take`), taken over from a dead runner (`recover`), re-attached
to its Slurm job (through its executor), then filed when its executor reports an
outcome (`file`). Names, locks and results only: the JobSpec goes to a worker as a
path. Any exception while handling one job's files fails that job, never the
runner (`guarded`).
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
from proxx.contract.errors import FailureReason
from proxx.contract.fsutil import shown
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import JobKind, StartJob, new_job_id
from proxx.contract.results import JobResult, Recovery, not_started
from proxx.runtime.executor import Executor, JobNoted
from proxx.runtime.tracker import JobOutcome
from proxx.runtime.verdict import result_of
from proxx.slurm import sidecar as slurm_record
from proxx.watch.claims import Claim
from proxx.watch.clerk import Clerk, state_of
from proxx.watch.filing import read_result, resume
from proxx.watch.folder import FatalWatchError, Layout, read_sidecar
from proxx.watch.intake import not_a_jobspec_file
from proxx.watch.outputs import OutputNames
from proxx.watch.recovery import REASON

log = logging.getLogger("proxx.watch")
CANCELLED = FailureReason.CANCELLED


@dataclass
class Running:
    claim: Claim
    kind: JobKind
    job_id: str  # the result's job id (a recovered job keeps its original one)
    started: datetime
    recovery: Recovery | None = None
    worker_id: int = 0
    note: str | None = None  # the last one, kept when the status file is rewritten
    progress: dict[str, object] | None = None  # what the status file says now
    cancel_asked: bool = False  # `proxx cancel` asked for it, and the executor was told
    outputs_held: bool = False  # its output names are held (proxx.watch.outputs)


class Jobs:
    def __init__(
        self,
        layout: Layout,
        clerk: Clerk,
        executor: Executor,
        mode: Literal["sequential", "parallel"],
        roots: tuple[list[str] | None, list[str] | None] = (None, None),
    ) -> None:
        self.layout = layout
        self.roots = roots  # allowed (source, output) roots, for the worker to check
        self.clerk = clerk
        self.executor = executor
        self.mode = mode
        self.running: dict[str, Running] = {}  # by the request's job id
        self._not_ours: set[str] = set()  # Slurm claims a local runner must leave alone
        self.outputs = OutputNames(layout)

    def __len__(self) -> int:
        return len(self.running)

    def names(self) -> set[str]:
        """JobSpec names this runner holds in running/ (never recovered as orphans)."""
        return {r.claim.name for r in self.running.values()} | self.clerk.held()

    # -- in --------------------------------------------------------------------------------
    def take(self, got: Claim) -> None:
        """Hand a JobSpec the intake claimed to a worker."""
        with self.guarded(got.name, got):  # once claimed, a failure files the job
            self._submit(got, "run", new_job_id())

    def recover(self, orphan: Claim) -> None:
        """A dead runner's job: file its staged result, re-attach to Slurm, or resubmit."""
        why = not_a_jobspec_file(orphan.path)  # a name no result can carry, for one
        if why is not None:
            result = not_started(new_job_id(), shown(orphan.path), utc_now(), validation_error=why)
            self.clerk.file(orphan, result, "failed")
            return
        if self._replacement(orphan) or self._file_staged(orphan) or self._reattach(orphan):
            return
        if self.executor.free_slots() == 0:
            orphan.release()  # picked up again once a worker is free
            return
        job_id = str(read_sidecar(self.layout, orphan.name).get("job_id") or new_job_id())
        log.warning(
            "recovered %s from a dead runner (%s); a worker accounts for its clips",
            orphan.name,
            REASON,
            extra={"job_id": job_id, "state": "recovering"},
        )
        self.clerk.recovered()
        recovery = Recovery(reason=REASON, recovered_at=iso(utc_now()), original_path=orphan.path)
        self._submit(orphan, "recover", job_id, recovery)

    def _reattach(self, orphan: Claim) -> bool:
        """A claim a previous runner submitted to Slurm (it has a `.slurm` record) may
        still run there: its executor re-attaches to it, or says to leave it alone."""
        if slurm_record.read(orphan.path) is None:
            return False  # never submitted: recovered as any other
        answer = self.executor.adopt(self._request(orphan, "run", new_job_id()))
        if answer == "absent":
            return False
        if answer == "foreign":
            self._leave_to_slurm(orphan)
        elif answer == "retry":
            orphan.release()  # Slurm did not answer: ask again next loop, touch nothing
        else:
            self.running[answer.job_id] = Running(orphan, "run", answer.job_id, answer.started)
            self.clerk.write_sidecar(orphan, answer.job_id, 0, "re-attached to its Slurm job")
        return True

    # -- out -------------------------------------------------------------------------------
    def file(self, outcome: JobOutcome) -> None:
        """File the result of a job the executor reports done (a job no longer held: ignored)."""
        job = self.running.pop(outcome.request.job_id, None)
        if job is None:
            return
        with self.guarded(job.claim.name, job.claim):
            result = result_of(
                outcome,
                started=job.started,
                jobspec_path=job.claim.path,
                mode=self.mode,
                job_id=job.job_id,
                recovery=job.recovery,
            )
            if job.kind == "recover" and outcome.recovered and outcome.recovered.note:
                log.info("recovered %s: %s", job.claim.name, outcome.recovered.note)
            self.clerk.file(job.claim, result, state_of(result))
        # Best effort, like the output locks: a request left behind (a read-only root)
        # names this job's id, so it never matches the next job of that name.
        with contextlib.suppress(OSError):
            os.unlink(self.layout.cancel_request(job.claim.name, job.job_id))
        self.outputs.release(outcome.request.job_id)

    def hold_outputs(self) -> None:
        """Hold the output names of each job whose plan just became known; a job whose
        name another job holds (on any runner of the folder) fails at once."""
        for request_id, outputs in self.executor.planned().items():
            job = self.running.get(request_id)
            if job is None or job.outputs_held or job.cancel_asked:
                continue
            job.outputs_held = True
            try:
                why = self.outputs.reserve(request_id, job.claim.name, outputs)
            except OSError as exc:  # a full disk: the job goes on, unguarded, and says so
                log.error(
                    "job %s (%s): cannot hold its output names in running/ (%s); a second "
                    "job writing them would fail only at publication",
                    job.job_id,
                    job.claim.name,
                    exc.strerror,
                )
                continue
            if why is not None:
                job.cancel_asked = True
                log.error("job %s (%s): %s; failing it", job.job_id, job.claim.name, why)
                self.executor.cancel(request_id, why, FailureReason.VALIDATION_ERROR)

    def cancel_requested(self) -> None:
        """Cancel each job `proxx cancel` asked for (a request file beside its claim,
        looked for by name: it is never opened)."""
        for request_id, job in self.running.items():
            if job.cancel_asked:
                continue
            if os.path.lexists(self.layout.cancel_request(job.claim.name, job.job_id)):
                job.cancel_asked = True
                log.warning("job %s (%s): cancelled by proxx cancel", job.job_id, job.claim.name)
                self.executor.cancel(request_id, "cancelled by proxx cancel", CANCELLED)

    def noted(self, event: JobNoted) -> None:
        job = self.running.get(event.job_id)
        if job is not None:
            log.info("job %s (worker %d): %s", job.job_id, event.worker_id, event.note)
            job.note, job.worker_id = event.note, event.worker_id
            self.clerk.write_sidecar(
                job.claim, job.job_id, event.worker_id, event.note, job.progress
            )

    def progressed(self, records: dict[str, ProgressRecord]) -> None:
        """Put each job's progress in its status file beside the claim, when it moved.

        The file's `seconds_since_progress` is 0 as written: `proxx status` counts it
        from `updated_at`, so a record that only ages is never rewritten."""
        for request_id, record in records.items():
            job = self.running.get(request_id)
            info = record.model_copy(update={"seconds_since_progress": 0.0}).model_dump()
            if job is None or info == job.progress:
                continue
            job.progress = info
            self.clerk.write_sidecar(job.claim, job.job_id, job.worker_id, job.note, info)

    def abandon(self, why: str, wait_s: int) -> None:
        """A fatal error: stop every job; their results cannot be filed, so say so."""
        log.error("%s; interrupting %d running job(s)", why, len(self.running))
        self.executor.cancel_all(f"proxx watch stopped: {why}")
        for _ in range(wait_s):
            if not self.running:
                return
            for event in self.executor.wait(1.0):
                if isinstance(event, JobOutcome):
                    self._lost(event)

    def _lost(self, outcome: JobOutcome) -> None:
        job = self.running.pop(outcome.request.job_id, None)
        if job is not None:
            job.claim.release()
            log.error(
                "job %s (%s): interrupted; its result could not be filed",
                job.job_id,
                job.claim.name,
            )

    @contextlib.contextmanager
    def guarded(self, name: str, got: Claim | None = None) -> Iterator[None]:
        """Any fault while handling one job's files fails that job; a fatal one stops all."""
        try:
            yield
        except FatalWatchError:
            raise
        except Exception as exc:
            self.layout.check()  # a vanished root is fatal, not one job's problem
            self._fail_unhandled(name, got, exc)

    # -- steps -----------------------------------------------------------------------------
    def _request(self, got: Claim, kind: JobKind, job_id: str) -> StartJob:
        st = os.fstat(got.fd)  # the locked file: the worker reads it or nothing
        return StartJob(
            job_id=job_id,
            kind=kind,
            jobspec_path=got.path,
            base_dir=self.layout.root,
            worker_id=0,
            jobspec_inode=f"{st.st_dev}:{st.st_ino}",
            source_roots=self.roots[0],
            output_roots=self.roots[1],
        )

    def _submit(
        self, got: Claim, kind: JobKind, job_id: str, recovery: Recovery | None = None
    ) -> None:
        self.running[job_id] = Running(got, kind, job_id, utc_now(), recovery)
        worker = self.executor.submit(self._request(got, kind, job_id))
        self.running[job_id].worker_id = worker
        self.clerk.write_sidecar(got, job_id, worker)
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

    def _replacement(self, orphan: Claim) -> bool:
        """A file renamed over a JobSpec a runner claimed (its sidecar names another inode):
        filed as a replacement that never ran, whether that runner lives or not."""
        info = read_sidecar(self.layout, orphan.name)
        claimed = info.get("inode")
        if not isinstance(claimed, int) or claimed == os.fstat(orphan.fd).st_ino:
            return False
        job_id = info.get("job_id")
        self.clerk.file_replacement(orphan, job_id if isinstance(job_id, str) else None)
        return True

    def _file_staged(self, orphan: Claim) -> bool:
        """The dead runner had written the result already: finish filing it as it was."""
        staged, result = self._staged(orphan)
        if result is None:
            return False
        log.warning(
            "recovered %s from a dead runner (result was already written)",
            orphan.name,
            extra={"job_id": result.job_id, "state": "recovered"},
        )
        self.clerk.recovered()
        if resume(self.layout, orphan.path, staged, result) is None:
            self.clerk.file(orphan, result, state_of(result))
            return True
        self.clerk.remove_sidecar(orphan.name)
        orphan.release()
        self.clerk.count(result)
        return True

    def _staged(self, orphan: Claim) -> tuple[str, JobResult | None]:
        """The result staged for this claimed inode; else one an earlier Proxx staged by
        name alone, if it names this JobSpec (two long names could share that name)."""
        staged = self.layout.staged_result(orphan.name, os.fstat(orphan.fd).st_ino)
        result = read_result(staged)
        if result is not None:
            return staged, result
        legacy = self.layout.legacy_staged_result(orphan.name)
        result = read_result(legacy)
        if result is None or result.metadata.jobspec_path != shown(orphan.path):
            return staged, None
        return legacy, result

    def _leave_to_slurm(self, orphan: Claim) -> None:
        if orphan.name not in self._not_ours:
            log.warning(
                "%s was submitted to Slurm by a runner that is gone; only a "
                "`--executor slurm` runner can collect it",
                orphan.name,
            )
            self._not_ours.add(orphan.name)
        orphan.release()

    def _fail_unhandled(self, name: str, got: Claim | None, exc: BaseException) -> None:
        """The last resort of `guarded`: file the job as failed, with what went wrong.

        Said once per name (a file that keeps failing must not flood the log).
        """
        first = self.clerk.first_report(name)
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
