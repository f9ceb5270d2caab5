"""After a worker's death: what a fresh worker found the job had published (pure).

A worker can die (an OOM kill, a kill -9) after it published a clip's proxy and
before its `ClipFinished` reached the supervisor. Accounting that clip as
crashed calls a verified proxy at its final name a failure, and `proxx
remainder` then asks for it again (issue 18, finding 7). So when a worker dies
with planned clips unreported, its executor hands the same claim to a fresh
worker as a recovery (`StartJob(kind="recover")`, the same job id:
workers/recover.py reads the job's publication records), and the job's tracker
waits for the answer under a deadline. This module is that wait and the merge:
no files, no processes, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    AccountedClips,
    FromWorker,
    JobFinished,
    JobPlanned,
    PhaseStarted,
    PlannedClip,
    RecoveryAccounted,
    StartJob,
    WorkerFailing,
    WorkerReady,
)
from proxx.contract.results import ClipResult


def published_detail(how: str) -> str:
    return (
        f"published (verified) before the worker process {how}; the worker's report "
        "of it was lost, its publication record names this file"
    )


def wanted(
    request: StartJob, planned: JobPlanned | None, reported: Mapping[int, ClipResult]
) -> bool:
    """Whether a job whose worker died may have published more than it reported: it was
    rendering (a `run` with a plan), some planned clips are unreported, and each one
    reported COMPLETED (after a failed clip the job had ended, fail-fast)."""
    return (
        request.kind == "run"
        and planned is not None
        and len(reported) < len(planned.clips)
        and all(r.status == "COMPLETED" for r in reported.values())
    )


@dataclass
class Postmortem:
    """The recovery look at a dead worker's job: sent, answered, failed, or timed out."""

    request: StartJob  # kind="recover", the job's own id and claim
    deadlines: Deadlines
    deadline: float | None = None  # None until the request is sent
    sent: bool = False
    found: RecoveryAccounted | None = None
    failed: str | None = None  # why its answer is not to be had
    over: bool = False
    _parts: list[ClipResult] = field(default_factory=list)

    def send(self, now: float) -> StartJob:
        """The request for a fresh worker; its first word is due within `accept`."""
        self.sent = True
        self.deadline = now + self.deadlines.accept
        return self.request

    def on_message(self, msg: FromWorker, now: float) -> str | None:
        """Takes the recovery worker's message; a reason to kill it, if it misbehaves."""
        if isinstance(msg, WorkerReady):
            return None
        if isinstance(msg, WorkerFailing):
            self.failed = f"the recovery worker failed: {msg.error}"
            return None
        if msg.job_id != self.request.job_id or not self.sent or self.over:
            return self.kill(f"recovery worker sent {type(msg).__name__} out of turn")
        if isinstance(msg, PhaseStarted) and msg.phase == "recover":
            self.deadline = now + self.deadlines.recover
        elif isinstance(msg, AccountedClips):
            self._parts.extend(msg.clips)
        elif isinstance(msg, RecoveryAccounted):
            self.found = msg.model_copy(update={"clips": [*self._parts, *msg.clips]})
            if msg.note:
                self.failed = f"the recovery could not list the clips ({msg.note})"
        elif isinstance(msg, JobFinished):
            if self.found is None and self.failed is None:
                self.failed = "the recovery worker ended without an accounting"
            self.over, self.deadline = True, None
        else:
            return self.kill(f"recovery worker sent {type(msg).__name__}")
        return None

    def on_death(self, how: str) -> None:
        if not self.over:
            self.failed = self.failed or f"the recovery worker process {how}"
            self.give_up(self.failed)

    def give_up(self, why: str) -> None:
        self.failed = self.failed or why
        self.found = None if self.found is None or self.found.note else self.found
        self.over, self.deadline = True, None

    def due(self, now: float) -> str | None:
        """A reason to kill the recovery worker when its deadline has passed."""
        if self.over or self.deadline is None or now < self.deadline:
            return None
        return self.kill(f"the recovery look exceeded its deadline ({self.deadlines.recover:g} s)")

    def kill(self, why: str) -> str:
        self.failed = self.failed or why
        self.found, self.deadline = None, None  # nothing it said is trusted
        return why

    def explained(
        self, failure: tuple[FailureReason, str] | None
    ) -> tuple[FailureReason, str] | None:
        """The death's failure, saying why the look could not be had, if it could not."""
        if self.failed is None or failure is None:
            return failure
        return failure[0], f"{failure[1]}; whether it was published could not be checked " + (
            f"({self.failed})"
        )

    def merged(
        self,
        clips: Sequence[PlannedClip],
        reported: Mapping[int, ClipResult],
        *,
        engine: str | None,
        how: str,
        started_at: Mapping[int, str],
        commands: Mapping[int, str | None],
    ) -> dict[int, ClipResult]:
        """`reported` as it is, plus what the recovery found of the clips after it.

        In plan order from the first unreported clip: each one this job published
        (its record names the file) is COMPLETED; the first that it did not publish
        ends the merge. A stranger's file or a link there is that clip's failure
        (`validation_error`, as recovery says); a clip with nothing there is left to
        the usual accounting (the death, its partial).
        """
        out = dict(reported)
        if self.found is None or self.found.note:
            return out
        by_output = {c.output_path: c for c in self.found.clips}
        for clip in clips:
            if clip.index in reported:
                continue
            seen = by_output.get(clip.output_path)
            if seen is None:
                break
            known = {
                "engine": engine,
                "started_at": started_at.get(clip.index),
                "ffmpeg_command": commands.get(clip.index),
            }
            if seen.status == "COMPLETED":
                out[clip.index] = seen.model_copy(
                    update={**known, "failure_detail": published_detail(how)}
                )
                continue
            if seen.failure_reason is FailureReason.VALIDATION_ERROR:
                out[clip.index] = seen.model_copy(update=known)
            break
        return out
