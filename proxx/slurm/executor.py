"""The Slurm executor: each job is one `sbatch --no-requeue` job; its messages come by spool.

It drives the same `JobTracker` as the local pool. What differs is where the
messages and the deaths come from: the worker's messages are the spool file's
lines (`proxx.slurm.spool`), and its "process" is the Slurm job, whose end
state (`squeue`, then `scontrol show job` for the exit code) replaces the exit
status. Actions map to `scancel`: there is no pipe to a batch job, so a cancel
is SIGTERM to the step, and the worker reports its clip as interrupted.

A job is over when Slurm says so (or forgot it), never on the spool alone:
Slurm's end state is the authority on *why* a job stopped. A clip the worker
reported as interrupted because Slurm sent SIGTERM gets Slurm's reason —
`timeout` for TIMEOUT/DEADLINE, `worker_crashed` for NODE_FAIL and the like —
with Slurm's state and reason in its failure_detail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from proxx.contract import logs
from proxx.contract.clock import iso, utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    JobNote,
    StartJob,
    WorkerFailing,
    decode_for_supervisor,
)
from proxx.runtime.executor import JobNoted, PoolEvent, bounded
from proxx.runtime.tracker import Action, JobOutcome, JobTracker, KillWorker, SendCancel
from proxx.slurm import sidecar
from proxx.slurm.client import SlurmClient, SlurmUnavailable, Submission, controller_down
from proxx.slurm.spool import SpoolGarbage, SpoolReader, spool_path
from proxx.slurm.states import RESOLVE_GRES, SlurmJob, end_failure, needs_resolve
from proxx.slurm.task import SlurmTask, hint, overlay

log = logging.getLogger("proxx.slurm")
Adoption = Literal["adopted", "absent", "retry"]

STEP_MODULE = "workers.slurm_step"  # by name: proxx/ never imports workers/
POLL_S = 2.0  # squeue at most this often while jobs run
SETTLE_POLL_S = 0.25  # faster while a job has reported its end and Slurm has not yet
SPOOL_GRACE_S = 3.0  # a shared filesystem may show the last lines after Slurm's end state
PING_S = 5.0  # while the controller is gone: how often to ask whether it is back
DONE_GRACE_S = 30.0  # reported its end, Slurm still says RUNNING: stop waiting, cancel
# Cancelled, and Slurm has not confirmed the end this long after (controller gone):
# the job is failed with what is known, so a shutdown never hangs.
GIVE_UP_S = 90.0
LOG_DIR = "slurm"  # under the watch root: the batch jobs' stdout/stderr


@dataclass
class SlurmExecutor:
    size: int
    root: str  # the watch root (shared storage): spool, sidecar and logs live under it
    client: SlurmClient = field(default_factory=SlurmClient)
    extra_args: Sequence[str] = ()
    deadlines: Deadlines = field(default_factory=Deadlines)
    python: str = sys.executable
    log_level: str | None = None
    log_format: str | None = None
    poll_s: float = POLL_S
    spool_grace_s: float = SPOOL_GRACE_S
    ping_s: float = PING_S
    worker_restarts: int = 0  # the Executor protocol's counter; Slurm has no workers to restart
    tasks: dict[str, SlurmTask] = field(default_factory=dict)
    _next_poll: float = 0.0
    _notes: list[PoolEvent] = field(default_factory=list)
    _poll_failing: bool = False
    _down_since: float | None = None  # sbatch found the controller gone (monotonic time)
    _next_ping: float = 0.0

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Fatal at start (SlurmUnavailable) when the clients or the controller are missing."""
        self.client.check()
        os.makedirs(os.path.join(self.root, LOG_DIR), exist_ok=True)

    def shutdown(self) -> None:
        """Nothing to close: batch jobs are not our children (that is the point)."""

    # -- jobs ------------------------------------------------------------------------
    def free_slots(self) -> int:
        if self._controller_back() is False:
            return 0  # pending jobs wait in pending/ rather than fail one by one
        return max(0, self.size - len(self.tasks))

    def _controller_back(self) -> bool | None:
        """None: no outage known. While one is, ask `scontrol ping` every PING_S."""
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

    def busy(self) -> int:
        return len(self.tasks)

    def submit(self, req: StartJob) -> int:
        worker_id = min(set(range(self.size)) - {t.worker_id for t in self.tasks.values()})
        req = req.model_copy(update={"worker_id": worker_id})
        task = self._task(req, worker_id)
        self._launch(task, sidecar.new(req.job_id, task.job_name, None, iso(utc_now())))
        return worker_id

    def _launch(self, task: SlurmTask, record: sidecar.Sidecar) -> None:
        req = task.tracker.request
        # Written before sbatch: a runner that dies during sbatch leaves a trace that
        # makes its successor ask Slurm (by name) instead of submitting again.
        sidecar.write(task.claim_path, record)
        try:
            task.slurm_id = self.client.submit(self._submission(task))
        except SlurmUnavailable as exc:
            # "connect failure": sbatch never reached the controller, nothing was queued
            # (and asking again would only block the loop for another timeout).
            if "connect failure" not in str(exc):
                task.slurm_id = self._submitted_anyway(task)
            if task.slurm_id is None and controller_down(exc) and self._down_since is None:
                log.error(
                    "the Slurm controller does not answer; no more jobs are claimed "
                    "until it does (checked every %g s)",
                    self.ping_s,
                )
                self._down_since = self._next_ping = time.monotonic()
                self._next_ping += self.ping_s
            if task.slurm_id is None:
                hint = (
                    (
                        f"; RAW jobs ask for --gres={RESOLVE_GRES}: configure that GRES on the "
                        "nodes that have DaVinci Resolve (docs/SLURM.md)"
                    )
                    if task.gres
                    else ""
                )
                task.unavailable = f"{exc}{hint}"
                log.error("job %s: %s", req.job_id, task.unavailable)
                sidecar.remove(task.claim_path)
        if task.slurm_id is not None:
            sidecar.write(
                task.claim_path, record.model_copy(update={"slurm_job_id": task.slurm_id})
            )
            log.info(
                "job %s submitted as Slurm job %s (%s%s)",
                req.job_id,
                task.slurm_id,
                task.job_name,
                f", --gres={task.gres}" if task.gres else "",
            )
        self.tasks[req.job_id] = task
        self._next_poll = 0.0

    def _resubmit_for_resolve(self, task: SlurmTask) -> None:
        """The job routes to Resolve and its first Slurm job did not hold the `resolve`
        GRES: that job only read and routed (it wrote no JobPlanned, rendered nothing,
        and exited EXIT_NEEDS_RESOLVE). Run it again as a batch job that holds one unit,
        so Slurm places at most one Resolve job per node. A continuation, not a retry:
        nothing of the job ran."""
        req = task.tracker.request
        with contextlib.suppress(FileNotFoundError):
            os.unlink(task.spool.path)  # phases of the routing pass only; the new step's own
        again = self._task(req, task.worker_id, gres=RESOLVE_GRES)
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
        self._launch(
            again,
            record.model_copy(
                update={"job_name": again.job_name, "slurm_job_id": None, "gres": RESOLVE_GRES}
            ),
        )

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

    def adopt(self, req: StartJob, record: sidecar.Sidecar) -> Adoption:
        """Re-attach to a claim a previous runner submitted.

        "absent": it was never submitted (the runner died before sbatch ran), so the
        caller recovers it the usual way; "retry": Slurm cannot be asked right now, so
        the caller leaves the claim alone and asks again next loop.
        """
        slurm_id = record.slurm_job_id
        try:
            slurm_id = slurm_id or self.client.find_by_name(record.job_name)
        except SlurmUnavailable as exc:
            log.warning("%s: cannot ask Slurm about it yet: %s", req.jobspec_path, exc)
            return "retry"
        spool = spool_path(req.jobspec_path)
        if slurm_id is None and not os.path.exists(spool):
            return "absent"
        free = set(range(self.size)) - {t.worker_id for t in self.tasks.values()}
        worker_id = min(free) if free else self.size + len(self.tasks)
        req = req.model_copy(update={"job_id": record.job_id, "worker_id": worker_id})
        task = self._task(req, worker_id, gres=record.gres)
        task.job_name, task.slurm_id = record.job_name, slurm_id
        if slurm_id is None:
            # The step ran (its spool exists) but Slurm forgot the job: the spool is
            # all there is to go on.
            task.ended_at = time.monotonic()
            task.last = SlurmJob(
                "?", "UNKNOWN", f"Slurm no longer knows {record.job_name}", None, None
            )
        # The spool is re-read from its start: the tracker rebuilds the job's story.
        task.seen_running = os.path.exists(spool)
        self.tasks[req.job_id] = task
        self._next_poll = 0.0
        log.info(
            "job %s: re-attached to Slurm job %s (%s)", req.job_id, slurm_id or "?", record.job_name
        )
        return "adopted"

    def cancel(self, job_id: str, reason: str) -> None:
        task = self.tasks.get(job_id)
        if task is not None:
            self._act(task, task.tracker.cancel(reason, time.monotonic()))

    def cancel_all(self, reason: str) -> None:
        # Queued jobs first: cancelling a running one frees its CPUs, and Slurm would
        # start a queued job of ours there just before its own cancel arrives.
        for task in sorted(self.tasks.values(), key=lambda t: t.seen_running):
            self.cancel(task.tracker.job_id, reason)

    # -- the wait --------------------------------------------------------------------
    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[PoolEvent]:
        """Sleep until an `extra` fd is readable, a deadline, the next poll or `timeout`."""
        sleep = self._bounded(timeout)
        if extra:
            with selectors.DefaultSelector() as sel:
                for fd in extra:
                    sel.register(fd, selectors.EVENT_READ)
                sel.select(sleep)
        elif sleep is None or sleep > 0:
            time.sleep(self.poll_s if sleep is None else sleep)
        events: list[PoolEvent] = []
        for task in list(self.tasks.values()):
            events += self._read(task)
        self._poll()
        events += self._notes
        self._notes = []
        for task in list(self.tasks.values()):
            outcome = self._service(task)
            if outcome is not None:
                events.append(outcome)
        return events

    def _bounded(self, timeout: float | None) -> float | None:
        times = [t.tracker.next_deadline() for t in self.tasks.values()]
        if self.tasks:
            times.append(self._next_poll)
        return bounded(timeout, times, time.monotonic())

    def _read(self, task: SlurmTask) -> list[PoolEvent]:
        try:
            messages = task.spool.read_all_new()
        except SpoolGarbage as exc:
            task.seen_running = True  # something on a node wrote it
            if task.tracker.killed_for is None:
                log.error("job %s: %s; cancelling its Slurm job", task.tracker.job_id, exc)
                task.tracker.on_message(WorkerFailing(error=str(exc)), time.monotonic())
                self._act(task, task.tracker.kill(str(exc)))
            return []
        events: list[PoolEvent] = []
        now = time.monotonic()
        for msg in messages:
            if not task.seen_running:
                self._started(task, now)
                self._next_poll = now  # the worker spoke first: ask Slurm where it runs
            self._act(task, task.tracker.on_message(msg, now))
            if isinstance(msg, JobNote):
                events.append(JobNoted(task.tracker.job_id, task.worker_id, msg.note))
        if task.tracker.done and task.done_at is None:
            task.done_at = now
            self._next_poll = min(self._next_poll, now + SETTLE_POLL_S)
        return events

    def _poll(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        ids = [t.slurm_id for t in self.tasks.values() if t.slurm_id and t.ended_at is None]
        settling = any(t.done_at is not None or t.ended_at is not None for t in self.tasks.values())
        self._next_poll = now + (SETTLE_POLL_S if settling else self.poll_s)
        try:
            states = self.client.poll(ids)
        except SlurmUnavailable as exc:
            # The controller may be restarting; jobs keep running and the spool keeps
            # the story. Deadlines still apply through the trackers. Said once per outage.
            if not self._poll_failing:
                log.warning(
                    "cannot poll Slurm (jobs carry on; asking again every %g s): %s",
                    self.poll_s,
                    exc,
                )
            self._poll_failing = True
            return
        if self._poll_failing:
            log.warning("Slurm answers again")
        self._poll_failing = False
        for task in self.tasks.values():
            if task.slurm_id is None or task.ended_at is not None:
                continue
            job = states.get(task.slurm_id)
            if job is not None and job.alive and not job.requeued:
                before, task.last = task.last, job
                if job.state == "RUNNING" and (before is None or before.state != "RUNNING"):
                    # Shown by the supervisor's log and `proxx status`: where it runs.
                    self._notes.append(
                        JobNoted(
                            task.tracker.job_id,
                            task.worker_id,
                            f"Slurm job {job.job_id} running on node {job.node or '?'}",
                        )
                    )
                if job.state != "PENDING" and not task.seen_running:
                    self._started(task, now)
                elif job.state == "PENDING" and task.seen_running:
                    self._requeued(task, job)
                elif (
                    job.state == "PENDING"
                    and job.reason != "None"
                    and (before is None or before.reason != job.reason)
                ):
                    # Why it waits (Resources, Priority, PartitionDown …): for the log
                    # and `proxx status`, since queue time is not limited by Proxx.
                    self._notes.append(
                        JobNoted(
                            task.tracker.job_id,
                            task.worker_id,
                            f"Slurm job {job.job_id} pending ({job.reason})",
                        )
                    )
                continue
            if job is not None and job.requeued:
                self._requeued(task, job)
            self._ended(task, now)

    def _started(self, task: SlurmTask, now: float) -> None:
        task.seen_running = True
        task.tracker.worker_started_at = iso(utc_now())

        # Queue time is not a hang: the accept deadline runs from the start on a node.
        task.tracker.phase_deadline = now + self.deadlines.accept

    def _requeued(self, task: SlurmTask, job: SlurmJob) -> None:
        why = f"Slurm requeued job {job.job_id} ({job.state}); Proxx never runs a job twice"
        if task.tracker.killed_for is None:
            log.error("job %s: %s; cancelling it", task.tracker.job_id, why)
            self._act(task, task.tracker.kill(why))

    def _ended(self, task: SlurmTask, now: float) -> None:
        task.ended_at = now
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

    def _service(self, task: SlurmTask) -> JobOutcome | None:
        now = time.monotonic()
        tracker = task.tracker
        if task.unavailable is not None:
            return self._fail(task, FailureReason.ENGINE_UNAVAILABLE, task.unavailable)
        if task.ended_at is None:
            if task.cancelled_at is not None and now - task.cancelled_at > GIVE_UP_S:
                task.ended_at = now
                tracker.killed_for = tracker.killed_for or (
                    f"{tracker.cancel_reason}; Slurm did not confirm the end of job "
                    f"{task.slurm_id} within {GIVE_UP_S:g} s"
                )
            elif task.done_at is not None and now - task.done_at > DONE_GRACE_S:
                task.ended_at = now  # reported its end long ago; the step is being cleaned up
                self._act(task, [KillWorker("finished job still held by Slurm")])
            else:
                self._act(task, tracker.due(now))
                return None
        if not tracker.done and now - task.ended_at < self.spool_grace_s:
            self._next_poll = min(self._next_poll, now + SETTLE_POLL_S)
            return None  # the last lines may still be on their way over the shared fs
        job = task.last
        if tracker.done:
            return self._finish(task, overlay(tracker.outcome(), job))
        if job is None:
            return self._fail(task, FailureReason.WORKER_CRASHED, "Slurm job state unknown")
        if (
            needs_resolve(job)
            and task.gres is None
            and tracker.cancel_reason is None
            and tracker.killed_for is None
        ):
            self._resubmit_for_resolve(task)
            return None
        reason, why = end_failure(job)
        why += hint(task)
        if tracker.killed_for is None and tracker.cancel_reason is None:
            tracker.killed_for, tracker.cancel_reason = why, why
            tracker.cancel_failure = reason
        elif tracker.cancel_reason is not None and tracker.killed_for is None:
            tracker.killed_for = f"{tracker.cancel_reason}; {why}"
        tracker.on_death(f"ended ({job.state})")
        return self._finish(task, overlay(tracker.outcome(), job))

    def _fail(self, task: SlurmTask, reason: FailureReason, why: str) -> JobOutcome:
        tracker = task.tracker
        tracker.killed_for, tracker.cancel_reason, tracker.cancel_failure = why, why, reason
        tracker.on_death("never started" if task.slurm_id is None else "lost")
        return self._finish(task, tracker.outcome())

    def _finish(self, task: SlurmTask, outcome: JobOutcome) -> JobOutcome:
        del self.tasks[task.tracker.job_id]
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

    # -- helpers ------------------------------------------------------------------------
    def _task(self, req: StartJob, worker_id: int, gres: str | None = None) -> SlurmTask:
        name = os.path.basename(req.jobspec_path)
        logdir = os.path.join(self.root, LOG_DIR)
        tracker = JobTracker(
            req, self.deadlines, time.monotonic(), worker_id=worker_id, worker_started_at=None
        )
        tracker.phase_deadline = None  # until the job leaves the queue (see _started)
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

    def _submission(self, task: SlurmTask) -> Submission:
        req = task.tracker.request
        command = [
            self.python,
            "-P",
            "-m",
            STEP_MODULE,
            "--spool",
            task.spool.path,
            "--record",
            sidecar.sidecar_path(task.claim_path),
            "--job-id",
            req.job_id,
            "--kind",
            req.kind,
            "--jobspec",
            req.jobspec_path,
            "--base-dir",
            req.base_dir,
            "--worker-id",
            str(task.worker_id),
            "--log-level",
            self.log_level or logs.level_name(),
            "--log-format",
            self.log_format or logs.format_name(),
        ]
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

    def _act(self, task: SlurmTask, actions: list[Action]) -> None:
        for action in actions:
            if not isinstance(action, SendCancel | KillWorker) or task.slurm_id is None:
                continue
            if isinstance(action, KillWorker):
                log.error(
                    "job %s: %s; cancelling Slurm job %s",
                    task.tracker.job_id,
                    action.why,
                    task.slurm_id,
                )
            elif task.cancelled_at is not None:
                continue  # one SIGTERM is enough; KillWait escalates to KILL on the node
            task.cancelled_at = task.cancelled_at or time.monotonic()
            try:
                # KILL reaches only processes: a job still queued is cancelled instead
                kill = isinstance(action, KillWorker) and task.seen_running
                self.client.cancel(task.slurm_id, kill=kill)
            except SlurmUnavailable as exc:
                log.error("job %s: %s", task.tracker.job_id, exc)
