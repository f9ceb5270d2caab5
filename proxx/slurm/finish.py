"""How a Slurm job's end becomes its outcome: when to stop waiting for Slurm, whose
reason wins, and what is left behind in `running/` (nothing).

Slurm's end state is the authority on *why* a job stopped. A clip the worker
reported as interrupted because Slurm sent SIGTERM gets Slurm's reason —
`timeout` for TIMEOUT/DEADLINE, `worker_crashed` for NODE_FAIL and the like —
with Slurm's state and reason in its failure_detail.
"""

from __future__ import annotations

import contextlib
import os

from proxx.contract.errors import FailureReason
from proxx.contract.results import ClipResult
from proxx.contract.step import EXIT_INTERRUPTED
from proxx.runtime.tracker import Action, JobOutcome, KillWorker, Stop
from proxx.slurm import sidecar
from proxx.slurm.spool import revoke
from proxx.slurm.states import SlurmJob, end_failure, needs_resolve
from proxx.slurm.task import SlurmTask

DONE_GRACE_S = 30.0  # reported its end, Slurm still says RUNNING: stop waiting, cancel
# Cancelled, and Slurm has not confirmed the end this long after (controller gone):
# the job is failed with what is known, so a shutdown never hangs.
GIVE_UP_S = 90.0


def overdue(task: SlurmTask, now: float) -> list[Action] | None:
    """None while Slurm's end is worth waiting for. Otherwise the job counts as ended
    from now (`ended_at` is set), and the actions returned are still to be taken."""
    tracker = task.tracker
    if task.cancelled_at is not None and now - task.cancelled_at > GIVE_UP_S:
        task.ended_at = now
        # The step may never have got the cancel: fence it off, as after NODE_FAIL.
        revoke(task.spool, task.claim_path)
        stop = tracker.stopping
        if stop is not None and not tracker.killed:
            tracker.stop = stop.killed(
                f"{stop.why}; Slurm did not confirm the end of job "
                f"{task.slurm_id} within {GIVE_UP_S:g} s"
            )
        return []
    if task.done_at is not None and now - task.done_at > DONE_GRACE_S:
        task.ended_at = now  # reported its end long ago; the step is being cleaned up
        return [KillWorker("finished job still held by Slurm")]
    return None


def routed_to_resolve(task: SlurmTask) -> bool:
    """The job's first Slurm job only read and routed it to Resolve (EXIT_NEEDS_RESOLVE)
    without holding the `resolve` GRES, and nobody stopped it: it is to run again."""
    tracker = task.tracker
    return (
        not tracker.done
        and task.last is not None
        and needs_resolve(task.last)
        and task.gres is None
        and tracker.stopping is None
    )


def outcome(task: SlurmTask) -> JobOutcome:
    """The outcome of a job Slurm has ended: the worker's story, with Slurm's reasons."""
    tracker, job = task.tracker, task.last
    if tracker.done:
        return overlay(tracker.outcome(), job)
    if task.not_run is not None and task.spool.lines == 0:
        # Requeued at launch and cancelled before any step ran: an interruption before
        # the start ("nothing was executed"), not a crash; resubmitting is safe.
        tracker.stop = Stop(task.not_run).killed(task.not_run)
        tracker.on_death("never started")
        return tracker.outcome()
    if job is None:
        return failed(task, FailureReason.WORKER_CRASHED, "Slurm job state unknown")
    reason, why = end_failure(job)
    why += hint(task)
    stop = tracker.stopping
    if stop is None:
        tracker.stop = Stop(why, reason).killed(why)
    elif not tracker.killed:
        tracker.stop = stop.killed(f"{stop.why}; {why}")
    tracker.on_death(f"ended ({job.state})")
    return overlay(tracker.outcome(), job)


def failed(task: SlurmTask, reason: FailureReason, why: str) -> JobOutcome:
    tracker = task.tracker
    tracker.stop = Stop(why, reason).killed(why)
    tracker.on_death("never started" if task.slurm_id is None else "lost")
    return tracker.outcome()


def close(task: SlurmTask, outcome: JobOutcome) -> JobOutcome:
    """Names the Slurm job in the outcome and clears the job's files from `running/`."""
    info = {"executor": "slurm", "slurm_job_name": task.job_name}
    if task.slurm_id:
        info["slurm_job_id"] = task.slurm_id
    if task.last is not None:
        info["slurm_state"] = task.last.state
        if task.last.node:
            info["slurm_node"] = task.last.node
    for log_path in (task.stdout, task.stderr):
        # Kept only when the step said something: the folder must not fill with
        # thousands of empty files.
        with contextlib.suppress(OSError):
            if os.stat(log_path).st_size == 0:
                os.unlink(log_path)
    if os.path.exists(task.stderr):
        info["slurm_stderr"] = task.stderr
    outcome.executor_info.update(info)
    # The result carries the story now; running/ must end up empty.
    sidecar.remove(task.claim_path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(task.spool.path)
    return outcome


def overlay(outcome: JobOutcome, job: SlurmJob | None) -> JobOutcome:
    """A clip stopped by Slurm's SIGTERM says `interrupted`; Slurm's state says why."""
    if job is None or job.state == "COMPLETED" or job.alive or stopped_step_only(job):
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


def stopped_step_only(job: SlurmJob) -> bool:
    """FAILED only because the step exited EXIT_INTERRUPTED: a signal reached the step, not
    an end Slurm imposed. The worker's `interrupted` is the story, not a crash."""
    return job.state == "FAILED" and job.exited(EXIT_INTERRUPTED)


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
