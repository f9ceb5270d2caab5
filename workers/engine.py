"""What every engine provides to the worker loop."""

from __future__ import annotations

import time
from typing import Protocol

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.clock import iso, utc_now
from proxx.contract.results import ClipResult

from .context import JobContext


class Engine(Protocol):
    name: str

    def versions(self) -> dict[str, str]:
        """Engine name → version string, for the result's `_metadata`."""
        ...

    def warm_up(self) -> None:
        """Start, while the worker is idle, what a first job would wait for."""
        ...

    def available(self, context: JobContext) -> str | None:
        """None when the engine can render on this host; otherwise why not (exit code 4)."""
        ...

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        """The copy-pasteable command that will run (None where there is none)."""
        ...

    def render(self, plan: JobPlan, clip: ClipPlan, context: JobContext) -> ClipResult:
        """Render, verify and publish one clip; never raises for a clip failure.

        A failed clip leaves nothing at `clip.output_path`. `context` is
        polled (or waited on) so a cancel stops the work promptly.
        """
        ...

    def finish_job(self, plan: JobPlan) -> None:
        """The job is over (done, failed or stopped): release what it held."""
        ...


class ClipRecord:
    """One clip's result as it forms, whichever engine renders it.

    Made when the clip's work starts; `fields` gathers what every outcome of
    the clip carries, and `result` stamps the end time and the duration.
    """

    def __init__(self, engine: str, clip: ClipPlan) -> None:
        started, self.t0 = utc_now(), time.monotonic()
        self.fields: dict[str, object] = {
            "source_path": clip.source_path,
            "output_path": clip.output_path,
            "engine": engine,
            "started_at": iso(started),
        }

    def result(self, **fields: object) -> ClipResult:
        return ClipResult.model_validate(
            {
                **self.fields,
                "ended_at": iso(utc_now()),
                "duration_seconds": round(time.monotonic() - self.t0, 3),
                **fields,
            }
        )
