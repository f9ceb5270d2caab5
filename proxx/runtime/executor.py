"""What the supervisor needs from whatever runs its jobs: the local pool or Slurm.

An executor takes `StartJob` requests (a JobSpec by name, never its bytes),
runs each in a worker under the phase deadlines, and hands back events: a
job's note, or its outcome with every clip accounted for. It never touches a
watch folder; the supervisor never touches a JobSpec's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from proxx.contract.errors import FailureReason
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import StartJob
from proxx.runtime.tracker import JobOutcome


@dataclass(frozen=True)
class JobNoted:
    """Something an operator should see while a job runs (`proxx status` shows it)."""

    job_id: str
    worker_id: int
    note: str


PoolEvent = JobOutcome | JobNoted


@dataclass(frozen=True)
class Adopted:
    """A claim a previous runner submitted, re-attached: its job runs on, as `job_id`."""

    job_id: str
    started: datetime  # when it was first submitted


# What an executor says of a claim a dead runner left with an executor's record beside
# it: Adopted (it runs on, here), "absent" (nothing runs it: recover it the usual way),
# "retry" (cannot be told now: touch nothing, ask next loop), "foreign" (it went to an
# executor this one cannot reach: leave it to a runner that can).
Adoption = Adopted | Literal["absent", "retry", "foreign"]


def bounded(timeout: float | None, times: list[float | None], now: float) -> float | None:
    """`timeout`, shortened so a wait wakes for the soonest of `times` (monotonic)."""
    due = [t for t in times if t is not None]
    if not due:
        return timeout
    soonest = max(0.0, min(due) - now)
    return soonest if timeout is None else min(timeout, soonest)


class Executor(Protocol):
    worker_restarts: int

    def start(self) -> None: ...

    def free_slots(self) -> int: ...

    def busy(self) -> int: ...

    def submit(self, req: StartJob) -> int:
        """Start `req` (its worker_id is filled in); returns the worker id."""
        ...

    def cancel(
        self, job_id: str, reason: str, failure: FailureReason = FailureReason.INTERRUPTED
    ) -> None: ...

    def cancel_all(self, reason: str) -> None: ...

    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[PoolEvent]:
        """Block until something happened (or `timeout`, or an `extra` fd is readable)."""
        ...

    def progress(self, now: float, wall: datetime) -> dict[str, ProgressRecord]:
        """Each running job's progress record (by job id) as of `now` (monotonic) = `wall`."""
        ...

    def planned(self) -> dict[str, list[str]]:
        """Each running job whose plan is known: its output paths (by job id)."""
        ...

    def adopt(self, req: StartJob) -> Adoption:
        """Re-attach to the claim `req` names, which a previous runner submitted."""
        ...

    def shutdown(self) -> None: ...
