"""One Slurm job of the executor: its record, from the claim it runs to the node it ran on."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from proxx.contract.clock import iso, utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import FromWorker, StartJob, decode_for_supervisor
from proxx.runtime.tracker import JobTracker
from proxx.slurm.spool import SpoolReader, spool_path
from proxx.slurm.states import SlurmJob

LOG_DIR = "slurm"  # under the watch root: the batch jobs' stdout/stderr


@dataclass
class SlurmTask:
    tracker: JobTracker
    worker_id: int
    job_name: str
    spool: SpoolReader[FromWorker]
    stdout: str
    stderr: str
    slurm_id: str | None = None
    last: SlurmJob | None = None
    seen_running: bool = False
    ended_at: float | None = None  # monotonic time Slurm's end state was first seen
    done_at: float | None = None  # monotonic time the worker reported its end
    cancelled_at: float | None = None
    unavailable: str | None = None  # sbatch failed: why
    gres: str | None = None  # asked of Slurm for this job (RAW: the resolve GRES)
    not_run: str | None = None  # Slurm requeued it before its step started: why

    @property
    def claim_path(self) -> str:
        return self.tracker.request.jobspec_path

    def started(self, now: float, accept_s: float) -> None:
        """It left the queue: Slurm runs it on a node, or its worker spoke."""
        self.seen_running = True
        self.tracker.worker_started_at = iso(utc_now())

        # Queue time is not a hang: the accept deadline runs from the start on a node.
        self.tracker.phase_deadline = now + accept_s


def new_task(
    req: StartJob, deadlines: Deadlines, root: str, worker_id: int, gres: str | None = None
) -> SlurmTask:
    """The record of a job about to be submitted (or re-attached), its logs under `root`."""
    name = os.path.basename(req.jobspec_path)
    logdir = os.path.join(root, LOG_DIR)
    tracker = JobTracker(
        req, deadlines, time.monotonic(), worker_id=worker_id, worker_started_at=None
    )
    tracker.phase_deadline = None  # until the job leaves the queue (see SlurmTask.started)
    return SlurmTask(
        tracker=tracker,
        worker_id=worker_id,
        gres=gres,
        # A Resolve job gets its own name, so a lookup by name finds the right one.
        job_name=f"proxx-{req.job_id}-{'resolve-' if gres else ''}{name}",
        spool=SpoolReader(spool_path(req.jobspec_path), decode_for_supervisor),
        stdout=os.path.join(logdir, f"{name}.{req.job_id}.out"),
        stderr=os.path.join(logdir, f"{name}.{req.job_id}.err"),
    )
