"""What the executor learns about its running jobs: the worker's messages from each
spool, and each job's state from `squeue` (then `scontrol show job` once it ended).

A job is over when Slurm says so (or forgot it), never on the spool alone:
`proxx.slurm.finish` decides the outcome once `ended_at` is set here.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import JobNote, WorkerFailing
from proxx.runtime.executor import JobNoted
from proxx.slurm.cancel import act
from proxx.slurm.client import SlurmClient, SlurmUnavailable
from proxx.slurm.spool import SpoolGarbage, revoke
from proxx.slurm.states import SlurmJob
from proxx.slurm.task import SlurmTask

log = logging.getLogger("proxx.slurm")

SETTLE_POLL_S = 0.25  # faster while a job has reported its end and Slurm has not yet


@dataclass
class Poller:
    client: SlurmClient
    deadlines: Deadlines
    poll_s: float  # squeue at most this often while jobs run
    next_poll: float = 0.0  # monotonic time of the next squeue
    _failing: bool = False  # squeue failed last time (said once per outage)

    def soon(self, at: float) -> None:
        """Poll no later than `at`."""
        self.next_poll = min(self.next_poll, at)

    def settle(self, now: float) -> None:
        """A job's end is near: look again shortly."""
        self.soon(now + SETTLE_POLL_S)

    def read(self, task: SlurmTask) -> list[JobNoted]:
        """Feeds the task's tracker what its worker appended to the spool since last time."""
        try:
            messages = task.spool.read_all_new()
        except SpoolGarbage as exc:
            task.seen_running = True  # something on a node wrote it
            if not task.tracker.killed:
                log.error("job %s: %s; cancelling its Slurm job", task.tracker.job_id, exc)
                task.tracker.on_message(WorkerFailing(error=str(exc)), time.monotonic())
                act(self.client, task, task.tracker.kill(str(exc)))
            return []
        notes: list[JobNoted] = []
        now = time.monotonic()
        for msg in messages:
            if not task.seen_running:
                task.started(now, self.deadlines.accept)
                self.soon(now)  # the worker spoke first: ask Slurm where it runs
            act(self.client, task, task.tracker.on_message(msg, now))
            if isinstance(msg, JobNote):
                notes.append(JobNoted(task.tracker.job_id, task.worker_id, msg.note))
        if task.tracker.done and task.done_at is None:
            task.done_at = now
            self.settle(now)
        return notes

    def poll(self, tasks: Iterable[SlurmTask]) -> list[JobNoted]:
        """Asks Slurm about every job not known to have ended, when a poll is due."""
        now = time.monotonic()
        if now < self.next_poll:
            return []
        tasks = list(tasks)
        ids = [t.slurm_id for t in tasks if t.slurm_id and t.ended_at is None]
        settling = any(t.done_at is not None or t.ended_at is not None for t in tasks)
        self.next_poll = now + (SETTLE_POLL_S if settling else self.poll_s)
        states = self._states(ids)
        if states is None:
            return []
        notes: list[JobNoted] = []
        for task in tasks:
            if task.slurm_id is not None and task.ended_at is None:
                notes += self._update(task, states.get(task.slurm_id), now)
        return notes

    def _states(self, ids: list[str]) -> dict[str, SlurmJob] | None:
        try:
            states = self.client.poll(ids)
        except SlurmUnavailable as exc:
            # The controller may be restarting; jobs keep running and the spool keeps
            # the story. Deadlines still apply through the trackers. Said once per outage.
            if not self._failing:
                log.warning(
                    "cannot poll Slurm (jobs carry on; asking again every %g s): %s",
                    self.poll_s,
                    exc,
                )
            self._failing = True
            return None
        if self._failing:
            log.warning("Slurm answers again")
        self._failing = False
        return states

    def _update(self, task: SlurmTask, job: SlurmJob | None, now: float) -> list[JobNoted]:
        """`job`: what squeue says of the task's Slurm job; None when it no longer lists it."""
        if job is not None and job.alive and not job.requeued:
            return self._alive(task, job, now)
        if job is not None and job.requeued:
            self._requeued(task, job)
        self._ended(task, now)
        return []

    def _alive(self, task: SlurmTask, job: SlurmJob, now: float) -> list[JobNoted]:
        before, task.last = task.last, job
        notes: list[JobNoted] = []
        if job.state == "RUNNING" and (before is None or before.state != "RUNNING"):
            # Shown by the supervisor's log and `proxx status`: where it runs.
            notes.append(_noted(task, job, f"running on node {job.node or '?'}"))
        if job.state != "PENDING" and not task.seen_running:
            task.started(now, self.deadlines.accept)
        elif job.state == "PENDING" and task.seen_running:
            self._requeued(task, job)
        elif (
            job.state == "PENDING"
            and job.reason != "None"
            and (before is None or before.reason != job.reason)
        ):
            # Why it waits (Resources, Priority, PartitionDown …): for the log
            # and `proxx status`, since queue time is not limited by Proxx.
            notes.append(_noted(task, job, f"pending ({job.reason})"))
        return notes

    def _requeued(self, task: SlurmTask, job: SlurmJob) -> None:
        why = f"Slurm requeued job {job.job_id} ({job.state}); Proxx never runs a job twice"
        if task.spool.lines == 0 and not os.path.exists(task.spool.path):
            # Requeued before its step wrote a line: the launch failed (its node died
            # right after allocation, which Slurm requeues even with --no-requeue).
            # Nothing ran; the result must say so, so a resubmission is safe.
            node = job.node or (task.last.node if task.last else None) or "its node"
            task.not_run = (
                f"Slurm requeued job {job.job_id} after node {node} failed at launch "
                f"(restarts: {job.restarts}, reason: {job.reason}); cancelled, not run"
            )
            why = task.not_run
        if not task.tracker.killed:
            log.error("job %s: %s; cancelling it", task.tracker.job_id, why)
            act(self.client, task, task.tracker.kill(why))

    def _ended(self, task: SlurmTask, now: float) -> None:
        task.ended_at = now
        # Slurm gave the job up, but the step may live on (slurmd crashed, the node is
        # cut off from the controller yet still sees the storage): fence it off before
        # the spool grace runs, so whatever it publishes meanwhile is still read.
        if revoke(task.spool, task.claim_path) and not task.tracker.done:
            log.info("job %s: Slurm ended it; its spool is revoked", task.tracker.job_id)
        assert task.slurm_id is not None
        try:
            detail = self.client.show(task.slurm_id)
        except SlurmUnavailable as exc:
            log.warning("job %s: %s", task.tracker.job_id, exc)
            detail = None
        task.last = detail or task.last
        if detail is None and task.last is None:
            task.last = SlurmJob(
                task.slurm_id, "UNKNOWN", "Slurm no longer knows the job", None, None
            )


def _noted(task: SlurmTask, job: SlurmJob, what: str) -> JobNoted:
    return JobNoted(task.tracker.job_id, task.worker_id, f"Slurm job {job.job_id} {what}")
