"""One job's life as the supervisor sees it: a pure state machine.

No processes, no files, no clock of its own: it is fed the worker's messages,
a cancel, a death or the time, and answers with actions (send a cancel, kill
the worker) and, at the end, the job's outcome. Both executors (the local
pool and Slurm) drive it, and its every ordering is unit-tested in
milliseconds (tests/test_tracker.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from proxx.contract.accounting import account
from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.progress import JobProgress, ProgressRecord
from proxx.contract.protocol import (
    AccountedClips,
    ClipFinished,
    ClipProgress,
    ClipStarted,
    FromWorker,
    JobFinished,
    JobNote,
    JobPlanned,
    JobRejected,
    Phase,
    PhaseStarted,
    PlannedClip,
    PlannedClips,
    RecoveryAccounted,
    StartJob,
    WorkerFailing,
    WorkerReady,
)
from proxx.contract.results import ClipResult
from proxx.runtime.postmortem import Postmortem, wanted

CANCEL_GRACE_S = 8.0  # the worker's own TERM→KILL grace for FFmpeg is 3 s


@dataclass(frozen=True)
class SendCancel:
    reason: str
    discard_partial: bool = False  # see CancelJob


@dataclass(frozen=True)
class KillWorker:
    why: str


Action = SendCancel | KillWorker

How = Literal["asked", "overdue", "killed", "worker"]


@dataclass(frozen=True)
class Stop:
    """Why a job stops and how that is enforced: one value, replaced as the stop goes on.

    `how`: "asked", a SendCancel went out and the worker is killed at `kill_at` if it
    is still running then; "overdue", it was, and was killed; "killed", the supervisor
    (or Slurm) ended the worker outright, `detail` explaining its death; "worker", a
    stop only the worker met, between two clips (`JobFinished.stopped`).
    """

    why: str
    failure: FailureReason = FailureReason.INTERRUPTED
    how: How = "asked"
    kill_at: float | None = None
    detail: str | None = None

    @property
    def ours(self) -> bool:
        """Asked or enforced from outside the worker (the supervisor, Slurm)."""
        return self.how != "worker"

    def killed(self, detail: str) -> Stop:
        """The same stop, now enforced by ending the worker (`detail`: its death's story)."""
        return replace(self, how="killed", detail=detail)


@dataclass
class JobOutcome:
    """How a job ended, with every clip accounted for; the result is built from it."""

    request: StartJob
    planned: JobPlanned | None
    rejected: JobRejected | None
    recovered: RecoveryAccounted | None
    clips: list[ClipResult]
    # Why the job stopped before it had clips to blame (worker died while reading,
    # probing …): "interrupted" or a failure reason, with its detail.
    early_stop: tuple[FailureReason, str] | None
    worker_id: int | None
    worker_started_at: str | None
    engine_versions: dict[str, str]
    executor_info: dict[str, str] = field(default_factory=dict)
    # A job that ended before a worker read its JobSpec: its clips as a short-lived
    # lister named them (`clips` then lists each as not started), or why they could
    # not be listed (proxx.runtime.listing).
    listed: JobPlanned | None = None
    unlisted: str | None = None


@dataclass
class JobTracker:
    request: StartJob
    deadlines: Deadlines
    now: float
    worker_id: int | None = None
    worker_started_at: str | None = None
    phase: Phase = "accept"
    phase_basis: float | None = None
    phase_deadline: float | None = None
    planned: JobPlanned | None = None
    rejected: JobRejected | None = None
    recovered: RecoveryAccounted | None = None
    results: dict[int, ClipResult] = field(default_factory=dict)
    started: dict[int, ClipStarted] = field(default_factory=dict)
    current: int | None = None
    stop: Stop | None = None
    death: str | None = None
    last_words: str | None = None
    done: bool = False
    note: str | None = None
    engine_versions: dict[str, str] = field(default_factory=dict)
    # After a death with clips unreported: a fresh worker's look at what was published.
    postmortem: Postmortem | None = None
    # A plan or an accounting that came in parts (`protocol.in_parts`), joined in order.
    _parts: list[PlannedClip] = field(default_factory=list)
    _accounted: list[ClipResult] = field(default_factory=list)
    progress: JobProgress = field(init=False)

    def __post_init__(self) -> None:
        self.phase_deadline = self.now + self.deadlines.accept
        self.progress = JobProgress(self.now)

    def outputs(self) -> list[str] | None:
        """The paths this job will write, once its plan is known and while it runs."""
        if self.planned is None or self.rejected is not None or self.finished:
            return None
        return [c.output_path for c in self.planned.clips]

    def progress_record(self, now: float, wall: datetime) -> ProgressRecord:
        """The job's progress record as of `now` (monotonic) = `wall` (UTC)."""
        return self.progress.record(now, wall)

    @property
    def job_id(self) -> str:
        return self.request.job_id

    @property
    def stopping(self) -> Stop | None:
        """The stop asked or enforced from outside the worker, if there is one."""
        return self.stop if self.stop is not None and self.stop.ours else None

    @property
    def killed(self) -> bool:
        """Whether the worker was ended on purpose (its death is ours to explain)."""
        return self.stop is not None and self.stop.how == "killed"

    @property
    def finished(self) -> bool:
        if self.postmortem is not None:
            return self.postmortem.over
        return self.done or self.death is not None

    # -- inputs ------------------------------------------------------------------------
    def on_message(self, msg: FromWorker, now: float) -> list[Action]:
        if self.postmortem is not None:  # the recovery worker's, not the dead one's
            why = self.postmortem.on_message(msg, now)
            return [] if why is None else [KillWorker(why)]
        if isinstance(msg, WorkerFailing):
            self.last_words = msg.error
            return []
        if isinstance(msg, WorkerReady):
            return []
        if msg.job_id != self.job_id:
            return self.kill(f"worker sent {type(msg).__name__} for a job it does not hold")
        if isinstance(msg, ClipProgress | ClipStarted | ClipFinished | JobNote | JobFinished):
            self._on_clip_message(msg, now)
        else:
            self._on_plan_message(msg, now)
        return []

    def _on_plan_message(
        self,
        msg: PhaseStarted
        | PlannedClips
        | JobPlanned
        | JobRejected
        | AccountedClips
        | RecoveryAccounted,
        now: float,
    ) -> None:
        """What the job is: its phase, its plan (in parts), a refusal, an accounting."""
        if isinstance(msg, PhaseStarted):
            self._enter(msg.phase, msg.basis, now)
        elif isinstance(msg, PlannedClips):
            self._parts.extend(msg.clips)
        elif isinstance(msg, JobPlanned):
            self.planned = msg.model_copy(update={"clips": [*self._parts, *msg.clips]})
            self.progress.planned([c.duration for c in self.planned.clips])
        elif isinstance(msg, JobRejected):
            self.rejected = msg
            stop = self.stopping
            if msg.interrupted and stop and stop.failure is FailureReason.VALIDATION_ERROR:
                # Stopped before rendering because its output is another job's: what
                # the job is refused for, not an interruption.
                self.rejected = msg.model_copy(
                    update={"interrupted": None, "validation_error": stop.why}
                )
        elif isinstance(msg, AccountedClips):
            self._accounted.extend(msg.clips)
        else:
            self.recovered = msg.model_copy(update={"clips": [*self._accounted, *msg.clips]})

    def _on_clip_message(
        self, msg: ClipProgress | ClipStarted | ClipFinished | JobNote | JobFinished, now: float
    ) -> None:
        """How the job's clips go: started, moving, finished; a note; the end."""
        if isinstance(msg, ClipProgress):
            self.progress.advanced(self._position(msg.index), msg.fraction, msg.media_seconds, now)
        elif isinstance(msg, ClipStarted):
            self.started[msg.index] = msg
            self.current = msg.index
            self._enter("render", self._duration(msg.index), now)
            self.progress.clip_started(self._position(msg.index), now)
        elif isinstance(msg, ClipFinished):
            index = self._clip_finished(msg)
            self._enter("finish", None, now)
            completed = msg.clip.status == "COMPLETED"
            self.progress.clip_finished(self._position(index), completed, now)
        elif isinstance(msg, JobNote):
            self._note(msg, now)
        else:
            self.engine_versions = msg.engine_versions
            if self.stopping is None:
                self.stop = Stop(msg.stopped, how="worker") if msg.stopped else None
            else:
                self.stop = replace(self.stopping, kill_at=None)
            self.done = True
            self.phase_deadline = None

    def cancel(
        self, reason: str, now: float, failure: FailureReason = FailureReason.INTERRUPTED
    ) -> list[Action]:
        if self.finished or self.stopping is not None or self.postmortem is not None:
            return []  # a recovery look is not stopped: it is brief, and under a deadline
        self.stop = Stop(reason, failure, "asked", kill_at=now + CANCEL_GRACE_S)
        discard = failure in (FailureReason.CANCELLED, FailureReason.TIMEOUT)
        return [SendCancel(reason, discard_partial=discard)]

    def on_death(self, how: str) -> None:
        if self.postmortem is not None:
            self.postmortem.on_death(how)  # the recovery worker died: today's accounting
            return
        self.death = how
        self.phase_deadline = None
        if self.stop is not None:
            self.stop = replace(self.stop, kill_at=None)

    def await_postmortem(self) -> bool:
        """After a death: whether the job waits for a recovery look before it ends
        (`postmortem.wanted`); the executor then hands `postmortem_request` to a fresh
        worker and feeds its messages and its death here as usual."""
        if self.death is None or self.postmortem is not None or self.rejected is not None:
            return False
        if not wanted(self.request, self.planned, self.results):
            return False
        request = self.request.model_copy(update={"kind": "recover"})
        self.postmortem = Postmortem(request, self.deadlines)
        return True

    def postmortem_request(self, now: float) -> StartJob | None:
        """The recovery request for a fresh worker, once, when one is awaited."""
        pm = self.postmortem
        if pm is None or pm.sent or pm.over:
            return None
        return pm.send(now)

    def postmortem_failed(self, why: str) -> None:
        """No recovery look can be had (no worker could be started): today's accounting."""
        if self.postmortem is not None:
            self.postmortem.give_up(why)

    def due(self, now: float) -> list[Action]:
        """Actions whose time has come: a phase past its limit, a cancel not obeyed."""
        if self.postmortem is not None:
            why = self.postmortem.due(now)
            return [] if why is None else [KillWorker(why)]
        if self.finished:
            return []
        stop = self.stop
        if stop is not None and stop.kill_at is not None and now >= stop.kill_at:
            # Killed outright meanwhile, that death's story stays the one told.
            how: How = "overdue" if stop.how == "asked" else stop.how
            self.stop = replace(stop, kill_at=None, how=how)
            return [KillWorker(f"{stop.why}; the worker did not stop in time")]
        if self.stopping is not None:
            return []  # being stopped already: only the grace above still counts
        stall_at = self._stall_at()
        if stall_at is not None and now >= stall_at:
            # A render that is slow but moving is never stopped here: only one whose
            # progress stood still for the whole limit (the engine's report of the
            # clip names the last thing it printed).
            why = f"no progress for {self.deadlines.stall:g} s in phase render"
            return self.cancel(why, now, FailureReason.TIMEOUT)
        if self.phase_deadline is None or now < self.phase_deadline:
            return []
        limit = self.deadlines.limit(self.phase, self.phase_basis)
        why = f"{self.phase} phase exceeded its {limit:g} s limit"
        self.phase_deadline = None
        if self.phase == "render":
            # FFmpeg gets TERM then KILL from the worker, which reports the clip.
            return self.cancel(
                f"clip exceeded its {limit:g} s time limit", now, FailureReason.TIMEOUT
            )
        self.stop = Stop(why, FailureReason.TIMEOUT).killed(why)
        return [KillWorker(why)]

    def next_deadline(self) -> float | None:
        if self.postmortem is not None:
            return self.postmortem.deadline
        stall = self._stall_at() if self.stopping is None and not self.finished else None
        kill_at = None if self.stop is None else self.stop.kill_at
        times = [t for t in (self.phase_deadline, kill_at, stall) if t is not None]
        return min(times) if times else None

    # -- the end ------------------------------------------------------------------------
    def outcome(self) -> JobOutcome:
        failure = self._failure()
        clips: list[ClipResult] = []
        early: tuple[FailureReason, str] | None = None
        if self.planned is not None and self.rejected is None:
            started_at = {i: s.started_at for i, s in self.started.items()}
            commands = {i: s.ffmpeg_command for i, s in self.started.items()}
            known, failure = self._after_death(started_at, commands, failure)
            clips = account(
                self.planned.clips,
                known,
                failure,
                engine=self.planned.engine,
                started_at=started_at,
                commands=commands,
                # The temp name the worker said it renders to; the supervisor does not
                # look at the output volume (a hung mount must not hang it).
                partial=lambda c: (
                    self.started[c.index].partial_path
                    if c.index in self.started and self.death is not None
                    else None
                ),
                partial_note="its temporary render (if FFmpeg had begun writing) is",
            )
        elif self.rejected is None and self.recovered is None:
            early = failure  # it stopped before it knew its clips
        return JobOutcome(
            request=self.request,
            planned=self.planned,
            rejected=self.rejected,
            recovered=self.recovered,
            clips=clips,
            early_stop=early,
            worker_id=self.worker_id,
            worker_started_at=self.worker_started_at,
            engine_versions=self.engine_versions,
        )

    def _after_death(
        self,
        started_at: dict[int, str],
        commands: dict[int, str | None],
        failure: tuple[FailureReason, str] | None,
    ) -> tuple[dict[int, ClipResult], tuple[FailureReason, str] | None]:
        """The reported clips, with what a recovery look found published after them."""
        pm, planned = self.postmortem, self.planned
        if pm is None or planned is None or self.death is None:
            return self.results, failure
        known = pm.merged(
            planned.clips, self.results, engine=planned.engine, how=self.death,
            started_at=started_at, commands=commands,
        )  # fmt: skip
        return known, pm.explained(failure)

    def _failure(self) -> tuple[FailureReason, str] | None:
        stop = self.stop
        if self.death is None:
            # Finished normally; stopped between two clips, the next one is the
            # interrupted one: by our cancel, or by a stop only the worker saw.
            return None if stop is None else (stop.failure, stop.why)
        how = f"worker process {self.death}"
        words = f" ({self.last_words})" if self.last_words else ""
        if stop is None or not stop.ours:
            return FailureReason.WORKER_CRASHED, f"{how}{words} during the {self.phase} phase"
        if stop.how == "killed":
            return stop.failure, f"{stop.detail}; {how}{words}"
        if stop.how == "overdue":
            return stop.failure, f"{stop.why}; worker did not stop in time and was killed ({how})"
        return stop.failure, f"{stop.why}; {how}{words}"  # it died on its own while stopped

    # -- helpers ------------------------------------------------------------------------
    def _enter(self, phase: Phase, basis: float | None, now: float) -> None:
        self.phase, self.phase_basis = phase, basis
        self.phase_deadline = now + self.deadlines.limit(phase, basis)
        self.progress.entered(phase, now)

    def _stall_at(self) -> float | None:
        """When the render in progress counts as stalled, if one is in progress."""
        if self.phase != "render" or self.phase_deadline is None:
            return None  # not rendering, or waiting in line for Resolve (clock paused)
        return self.progress.moved_at + self.deadlines.stall

    def _position(self, index: int) -> int:
        """A clip's place in the job's plan (its JobSpec index may skip: `remainder`)."""
        if self.planned is None:
            return -1
        return next((i for i, c in enumerate(self.planned.clips) if c.index == index), -1)

    def _duration(self, index: int) -> float | None:
        if self.planned is None:
            return None
        return next((c.duration for c in self.planned.clips if c.index == index), None)

    def _clip_finished(self, msg: ClipFinished) -> int:
        index = (
            msg.index
            if msg.index is not None
            else (self.current if self.current is not None else len(self.results))
        )
        clip = msg.clip
        failure = FailureReason.INTERRUPTED if self.stop is None else self.stop.failure
        if clip.failure_reason is FailureReason.INTERRUPTED and failure in (
            FailureReason.TIMEOUT,
            FailureReason.CANCELLED,
            FailureReason.VALIDATION_ERROR,  # its output is another job's
        ):
            # The worker says it was stopped; we know why (a deadline, a stall, a cancel).
            clip = clip.model_copy(update={"failure_reason": failure})
        self.results[index] = clip
        self.current = None
        return index

    def _note(self, msg: JobNote, now: float) -> None:
        self.note = msg.note
        if msg.waiting:
            self.phase_deadline = None  # waiting in line for Resolve is not a hang
        elif self.phase_deadline is None and self.stopping is None:
            self._enter(self.phase, self.phase_basis, now)
            self.progress.moved_at = now  # the stall clock, too, starts after the wait

    def kill(self, why: str) -> list[Action]:
        if self.postmortem is not None:  # the recovery worker misbehaved
            return [KillWorker(self.postmortem.kill(why))]
        if not self.killed:  # a grace still running stays (its kill repeats this one)
            kill_at = None if self.stop is None else self.stop.kill_at
            self.stop = Stop(why, FailureReason.WORKER_CRASHED, kill_at=kill_at).killed(why)
        return [KillWorker(why)]
