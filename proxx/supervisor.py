"""`proxx watch`: the supervisor loop over a watch folder and a fixed worker pool.

The loop is a short list of named steps (recover, claim, wait, collect,
react to signals). Signal handlers only record; the loop acts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Literal

from proxx import recovery
from proxx.claims import Claim, claim
from proxx.clock import iso, utc_now
from proxx.fsutil import write_atomic
from proxx.jobs import Prepared, new_job_id, prepare, result_of
from proxx.metrics import MetricsRecorder  # metrics-file
from proxx.misplaced import MisplacedWarner  # misplaced-files warning
from proxx.pool import JobOutcome, Pool, Slot, default_clip_timeout
from proxx.results import JobResult, build_result
from proxx.signals import StopSignals
from proxx.spec import MAX_SPEC_BYTES
from proxx.watchfolder import FatalWatchError, Intake, Layout, finish
from workers.main import worker_main

log = logging.getLogger("proxx.watch")


@dataclass
class Running:
    claim: Claim
    prepared: Prepared
    claimed_at: float


class Supervisor:
    def __init__(
        self, root: str, *, max_workers: int = 1, poll_seconds: float = 2.0, once: bool = False,
        worker_target: Callable[[Connection], None] = worker_main,
        clip_timeout: Callable[[float | None], float] = default_clip_timeout,
        metrics_file: str | None = None,  # metrics-file
    ) -> None:
        self.layout = Layout(os.path.abspath(root))
        self.max_workers = max_workers
        self.poll_seconds = poll_seconds
        self.once = once
        self.mode: Literal["sequential", "parallel"] = (
            "sequential" if max_workers == 1 else "parallel")
        self.intake = Intake(self.layout)
        self.misplaced = MisplacedWarner(self.layout.root)  # misplaced-files warning
        self.metrics = MetricsRecorder(self.layout.root, metrics_file)  # metrics-file
        self.pool = Pool(max_workers, target=worker_target, clip_timeout=clip_timeout,
                         on_note=self._note)
        self.running: dict[str, Running] = {}  # by job id
        self.counts = {"completed": 0, "failed": 0, "recovered": 0}
        self.stops: StopSignals | None = None
        self._pending_left = True

    # -- the loop: a table of contents -----------------------------------------
    def run(self) -> None:
        self.layout.ensure()
        self.stops = StopSignals()
        try:
            self.pool.start()
        except (OSError, EOFError) as exc:
            # A Ctrl-C can kill multiprocessing's forkserver while it starts.
            self.stops.close()
            if self.stops.stop_requested:
                log.warning("stopped by %s while starting workers", self.stops.received[0])
                return
            raise FatalWatchError(f"cannot start worker processes: {exc!r}") from exc
        log.info("watching %s with %d worker(s), polling every %g s%s", self.layout.root,
                 self.max_workers, self.poll_seconds, " (once)" if self.once else "")
        try:
            while not self.should_stop():
                self.recover_orphans()
                self.claim_jobs()
                self.metrics.scanned(self.pool.slots.values())  # metrics-file
                self.collect(self.pool.wait(self.wait_timeout(), extra=[self.stops.fd]))
                self.react_to_signals()
            self.drain_on_shutdown()
            self.metrics.scanned(self.pool.slots.values(), force=True)  # metrics-file
        finally:
            self.pool.shutdown()
            self.stops.close()
        log.info("stopped: %(completed)d completed, %(failed)d failed, %(recovered)d recovered",
                 self.counts)

    # -- steps ---------------------------------------------------------------------
    def should_stop(self) -> bool:
        assert self.stops is not None
        if self.stops.stop_requested:
            return True
        return self.once and not self._pending_left and not self.running

    def recover_orphans(self) -> None:
        own = {r.claim.name for r in self.running.values()}
        for orphan in recovery.orphans(self.layout, own):
            staged = recovery.staged_result(orphan)
            result = staged or recovery.recovered_result(orphan, self.layout.root)
            log.warning("recovered %s from a dead runner (%s)", orphan.name,
                        "result was already written" if staged else recovery.REASON)
            self._remove_sidecar(orphan.name)
            self._finish(orphan, result, failed=staged is None or staged.status != "COMPLETED")
            self.counts["recovered"] += 1

    def claim_jobs(self) -> None:
        idle = self.pool.idle()
        names = self.intake.scan()
        self.misplaced.check()  # misplaced-files warning
        self._pending_left = bool(names)
        for i, name in enumerate(names):
            # A stop can arrive while a claimed job's sources are probed: claiming
            # on would fail every pending job in turn, each interrupted at once.
            if not idle or self._stop_reason() is not None:
                return
            self._pending_left = i + 1 < len(names)
            if not self.intake.ready(name):
                self._pending_left = True
                continue
            path = os.path.join(self.layout.dir("pending"), name)
            why = not_a_jobspec_file(path)
            if why is not None:
                self._refuse(path, why)
                continue
            got = claim(os.path.join(self.layout.dir("pending"), name), self.layout.dir("running"))
            if got is None:
                continue
            if self._start(got, idle[0]):
                idle.pop(0)

    def wait_timeout(self) -> float:
        if self.once and self._pending_left and self.pool.idle():
            return min(self.poll_seconds, 0.25)  # a file is settling: look again soon
        return self.poll_seconds

    def collect(self, outcomes: list[JobOutcome]) -> None:
        for outcome in outcomes:
            job: Running = self.running.pop(outcome.plan.job_id)
            result = result_of(job.prepared, outcome, self.mode)
            self._remove_sidecar(job.claim.name)
            self._finish(job.claim, result, failed=result.status != "COMPLETED")

    def react_to_signals(self) -> None:
        assert self.stops is not None
        self.stops.drain()
        if self.stops.stop_requested:
            log.warning("received %s: stop claiming, interrupting %d running job(s)",
                        self.stops.received[0], len(self.running))

    def drain_on_shutdown(self) -> None:
        """Interrupt running jobs and wait for their results: nothing stays in running/."""
        assert self.stops is not None
        if self.running:
            self.pool.cancel_all(f"proxx watch received {self.stops.received[0]}"
                                 if self.stops.received else "proxx watch is stopping")
        while self.running:
            self.collect(self.pool.wait(1.0))

    # -- helpers -----------------------------------------------------------------------
    def _start(self, got: Claim, slot: Slot) -> bool:
        """Validate a claimed JobSpec; hand it to `slot` or fail it. True if a worker took it."""
        job_id = new_job_id()
        data = got.read(MAX_SPEC_BYTES)
        prepared = prepare(data, base_dir=self.layout.root, jobspec_path=got.path, job_id=job_id,
                           stop=self._stop_reason)
        if not isinstance(prepared, Prepared):
            self._finish(got, prepared, failed=True)
            return False
        self.running[job_id] = Running(got, prepared, time.monotonic())
        self.pool.submit(slot, prepared.planned.plan, ticket=job_id)
        self._write_sidecar(got.name, job_id, slot.worker_id)
        log.info("job %s (%s): claimed by worker %d, %d clip(s)", job_id, got.name,
                 slot.worker_id, len(prepared.planned.plan.clips))
        return True

    def _stop_reason(self) -> str | None:
        received = self.stops.received if self.stops else []
        return f"proxx watch received {received[0]}" if received else None

    def _finish(self, got: Claim, result: JobResult, *, failed: bool) -> None:
        try:
            final = finish(self.layout, got.path, result, failed=failed)
        finally:
            got.release()
        self.counts["failed" if failed else "completed"] += 1
        self.metrics.finished(result, failed=failed)  # metrics-file
        clip_errors = [f"{c.failure_reason}: {c.failure_detail}" for c in result.clips
                       if c.status == "FAILED"]
        reason = result.validation_error or result.system_error or (
            clip_errors[0] if clip_errors else "")
        log.info("job %s (%s): %s on worker %s in %.2f s → %s%s", result.job_id, got.name,
                 result.status, result.worker_id, result.duration_seconds,
                 os.path.relpath(final, self.layout.root), f" ({reason})" if reason else "")

    def _sidecar(self, name: str) -> str:
        return os.path.join(self.layout.dir("running"), f".{name}.owner")

    def _write_sidecar(self, name: str, job_id: str, worker_id: int,
                       note: str | None = None) -> None:
        """Who runs this job, for `proxx status` (a dot-file: intake ignores it)."""
        info = {"job_id": job_id, "worker_id": worker_id, "pid": os.getpid(),
                "host": platform.node(), "claimed_at": iso(utc_now()), "note": note}
        write_atomic(self._sidecar(name), json.dumps(info).encode())

    def _note(self, job_id: str, note: str) -> None:
        job = self.running.get(job_id)
        slot = next((s for s in self.pool.busy() if s.job and s.job.ticket == job_id), None)
        if job is not None and slot is not None:
            self._write_sidecar(job.claim.name, job_id, slot.worker_id, note)

    def _remove_sidecar(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._sidecar(name))


    def _refuse(self, path: str, why: str) -> None:
        """Move a pending entry that is no JobSpec file straight to failed/, with a result."""
        result = build_result(job_id=new_job_id(), jobspec_version=None, started=utc_now(),
                              clips=[], fingerprint="sha256:" + "0" * 64, jobspec_path=path,
                              validation_error=why)
        try:
            final = finish(self.layout, path, result, failed=True)
        except FileNotFoundError:
            return  # another runner refused it first
        self.counts["failed"] += 1
        self.metrics.finished(result, failed=True)  # metrics-file
        log.info("job %s (%s): FAILED → %s (%s)", result.job_id, os.path.basename(path),
                 os.path.relpath(final, self.layout.root), why)


def not_a_jobspec_file(path: str) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None  # gone: the claim will notice
    if stat.S_ISLNK(st.st_mode):
        return ("a symlink is not accepted as a JobSpec (its target could change under the "
                "runner); copy the file into pending/ instead")
    if stat.S_ISDIR(st.st_mode):
        return "a directory is not a JobSpec"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, socket or device); a JobSpec is a regular JSON file"
    return None
