"""Submitting a claim as a Slurm batch job: its sbatch command, the sidecar record
around it, what a failed sbatch means, and the controller outage it may reveal."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from proxx.contract import logs
from proxx.contract.clock import iso, utc_now
from proxx.contract.deadlines import Deadlines
from proxx.slurm import sidecar
from proxx.slurm.client import SlurmClient, SlurmUnavailable, Submission, controller_down
from proxx.slurm.states import RESOLVE_GRES
from proxx.slurm.task import SlurmTask, new_task

log = logging.getLogger("proxx.slurm")

STEP_MODULE = "proxx_workers.slurm_step"  # by name: proxx/ never imports workers/


@dataclass
class Launcher:
    client: SlurmClient
    root: str  # the watch root: the jobs' logs live under it
    deadlines: Deadlines
    extra_args: Sequence[str]
    python: str
    log_level: str | None
    log_format: str | None
    ping_s: float
    _down_since: float | None = None  # sbatch found the controller gone (monotonic time)
    _next_ping: float = 0.0

    def launch(self, task: SlurmTask, record: sidecar.Sidecar) -> None:
        """Sets the task's `slurm_id`, or its `unavailable` when nothing was queued."""
        # Written before sbatch: a runner that dies during sbatch leaves a trace that
        # makes its successor ask Slurm (by name) instead of submitting again.
        sidecar.write(task.claim_path, record)
        try:
            task.slurm_id = self.client.submit(self.submission(task))
        except SlurmUnavailable as exc:
            self._not_submitted(task, exc)
        if task.slurm_id is not None:
            sidecar.write(
                task.claim_path, record.model_copy(update={"slurm_job_id": task.slurm_id})
            )
            log.info(
                "job %s submitted as Slurm job %s (%s%s)",
                task.tracker.job_id,
                task.slurm_id,
                task.job_name,
                f", --gres={task.gres}" if task.gres else "",
            )

    def resolve_pass(self, task: SlurmTask) -> SlurmTask:
        """The job routes to Resolve and its first Slurm job did not hold the `resolve`
        GRES: that job only read and routed (it wrote no JobPlanned, rendered nothing,
        and exited EXIT_NEEDS_RESOLVE). Run it again as a batch job that holds one unit,
        so Slurm places at most one Resolve job per node. A continuation, not a retry:
        nothing of the job ran. Returns the new task, launched."""
        req = task.tracker.request
        with contextlib.suppress(FileNotFoundError):
            os.unlink(task.spool.path)  # phases of the routing pass only; the new step's own
        again = new_task(req, self.deadlines, self.root, task.worker_id, gres=RESOLVE_GRES)
        record = sidecar.read(task.claim_path) or sidecar.new(
            req.job_id, again.job_name, None, iso(utc_now())
        )
        log.info(
            "job %s routes to DaVinci Resolve: Slurm job %s ended after routing; "
            "submitting it with --gres=%s",
            req.job_id,
            task.slurm_id,
            RESOLVE_GRES,
        )
        update = {"job_name": again.job_name, "slurm_job_id": None, "gres": RESOLVE_GRES}
        self.launch(again, record.model_copy(update=update))
        return again

    def controller_back(self) -> bool | None:
        """None: no outage known. While one is, ask `scontrol ping` every `ping_s`."""
        if self._down_since is None:
            return None
        now = time.monotonic()
        if now < self._next_ping:
            return False
        self._next_ping = now + self.ping_s
        try:
            self.client.check()
        except SlurmUnavailable:
            return False
        log.warning(
            "the Slurm controller answers again after %.0f s; claiming resumes",
            now - self._down_since,
        )
        self._down_since = None
        return True

    def submission(self, task: SlurmTask) -> Submission:
        req = task.tracker.request
        command = [self.python, "-P", "-X", "utf8", "-m", STEP_MODULE]
        command += ["--spool", task.spool.path]
        command += ["--record", sidecar.sidecar_path(task.claim_path)]
        command += ["--job-id", req.job_id, "--kind", req.kind]
        command += ["--jobspec", req.jobspec_path, "--base-dir", req.base_dir]
        for flag, roots in (
            ("--source-root", req.source_roots),
            ("--output-root", req.output_roots),
        ):
            command += [a for root in roots or () for a in (flag, root)]
        command += ["--worker-id", str(task.worker_id)]
        command += ["--log-level", self.log_level or logs.level_name()]
        command += ["--log-format", self.log_format or logs.format_name()]
        if task.gres:
            command.append("--holds-resolve")
        return Submission(
            job_name=task.job_name,
            command=command,
            workdir="/",
            stdout=task.stdout,
            stderr=task.stderr,
            gres=task.gres,
            extra_args=self.extra_args,
        )

    def _not_submitted(self, task: SlurmTask, exc: SlurmUnavailable) -> None:
        # "connect failure": sbatch never reached the controller, nothing was queued
        # (and asking again would only block the loop for another timeout).
        if "connect failure" not in str(exc):
            task.slurm_id = self._submitted_anyway(task)
        if task.slurm_id is not None:
            return
        if controller_down(exc):
            self._outage_began()
        hint = (
            (
                f"; RAW jobs ask for --gres={RESOLVE_GRES}: configure that GRES on the "
                "nodes that have DaVinci Resolve (docs/SLURM.md)"
            )
            if task.gres
            else ""
        )
        task.unavailable = f"{exc}{hint}"
        log.error("job %s: %s", task.tracker.job_id, task.unavailable)
        sidecar.remove(task.claim_path)

    def _outage_began(self) -> None:
        if self._down_since is not None:
            return  # said once per outage
        log.error(
            "the Slurm controller does not answer; no more jobs are claimed "
            "until it does (checked every %g s)",
            self.ping_s,
        )
        self._down_since = self._next_ping = time.monotonic()
        self._next_ping += self.ping_s

    def _submitted_anyway(self, task: SlurmTask) -> str | None:
        """sbatch failed or timed out: a timeout may still have queued the job. Find it
        by its unique name and keep it; if Slurm cannot even be asked, cancel by name so
        no job runs that this runner has given up on."""
        try:
            found = self.client.find_by_name(task.job_name)
        except SlurmUnavailable:
            found = None
            try:
                self.client.cancel_by_name(task.job_name)
            except SlurmUnavailable as exc:
                log.error(
                    "job %s: could not make sure Slurm job %s does not run: %s",
                    task.tracker.job_id,
                    task.job_name,
                    exc,
                )
        if found is not None:
            log.warning(
                "job %s: sbatch reported a failure, but Slurm job %s exists; keeping it",
                task.tracker.job_id,
                found,
            )
        return found
