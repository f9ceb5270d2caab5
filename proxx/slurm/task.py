"""One Slurm job of the executor: its record, and what its end adds to the outcome."""

from __future__ import annotations

import os
from dataclasses import dataclass

from proxx.contract.errors import FailureReason
from proxx.contract.protocol import FromWorker
from proxx.contract.results import ClipResult
from proxx.runtime.tracker import JobOutcome, JobTracker
from proxx.slurm.spool import SpoolReader
from proxx.slurm.states import SlurmJob, end_failure


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

    @property
    def claim_path(self) -> str:
        return self.tracker.request.jobspec_path


def overlay(outcome: JobOutcome, job: SlurmJob | None) -> JobOutcome:
    """A clip stopped by Slurm's SIGTERM says `interrupted`; Slurm's state says why."""
    if job is None or job.state == "COMPLETED" or job.alive:
        return outcome
    reason, why = end_failure(job)
    clips: list[ClipResult] = []
    for clip in outcome.clips:
        if clip.failure_reason is FailureReason.INTERRUPTED:
            clip = clip.model_copy(
                update={
                    "failure_reason": reason,
                    "failure_detail": f"{clip.failure_detail}; {why}"
                    if clip.failure_detail
                    else why,
                }
            )
        clips.append(clip)
    outcome.clips = clips
    if outcome.early_stop is not None and outcome.early_stop[0] is FailureReason.INTERRUPTED:
        outcome.early_stop = (reason, f"{outcome.early_stop[1]}; {why}")
    if outcome.rejected is not None and outcome.rejected.interrupted:
        # stopped before its first clip (reading, probing): the result's `interrupted`
        outcome.rejected = outcome.rejected.model_copy(
            update={"interrupted": f"{outcome.rejected.interrupted}; {why}"}
        )
    return outcome


def hint(task: SlurmTask) -> str:
    """What the step's stderr and a missing spool say, for a job that ended silently."""
    tail = _tail(task.stderr)
    text = f"; step stderr: {tail}" if tail else ""
    if task.spool.lines == 0 and not os.path.exists(task.spool.path):
        text += (
            "; the step wrote no spool: is the watch folder on storage every node "
            "shares, and Proxx installed at the same path there?"
        )
    return text


def _tail(path: str, limit: int = 400) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            data = fh.read()
    except OSError:
        return ""
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return " | ".join(lines[-3:])
