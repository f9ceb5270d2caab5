"""What every engine provides to the worker loop."""

from __future__ import annotations

from typing import Protocol

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.results import ClipResult
from workers.interrupts import Interrupts


class Engine(Protocol):
    name: str

    def versions(self) -> dict[str, str]:
        """Engine name → version string, for the result's `_metadata`."""
        ...

    def warm_up(self) -> None:
        """Start, while the worker is idle, what a first job would wait for."""
        ...

    def available(self, interrupts: Interrupts) -> str | None:
        """None when the engine can render on this host; otherwise why not (exit code 4)."""
        ...

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        """The copy-pasteable command that will run (None where there is none)."""
        ...

    def render(self, plan: JobPlan, clip: ClipPlan, interrupts: Interrupts) -> ClipResult:
        """Render, verify and publish one clip; never raises for a clip failure.

        A failed clip leaves nothing at `clip.output_path`. `interrupts` is
        polled (or waited on) so a cancel stops the work promptly.
        """
        ...

    def finish_job(self, plan: JobPlan) -> None:
        """The job is over (done, failed or stopped): release what it held."""
        ...
