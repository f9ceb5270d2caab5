"""The DaVinci Resolve engine: camera RAW through Resolve's scripting API.

Each clip gets a throw-away project, renders to the same hidden partial name
the FFmpeg engine uses, is verified by probing like any FFmpeg output, and is
published without replacing anything (the clip's steps: workers/resolve/clip.py).
This module holds what outlives a clip: the connection, the versions, and the
one-Resolve-per-host lock held for a whole job.
Resolve missing or unreachable is `engine_unavailable`: never a fallback to
FFmpeg, which cannot decode these formats.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.errors import FailureReason
from proxx.contract.results import ClipResult

from ..context import JobContext
from ..engine import ClipRecord
from . import api
from .clip import ClipRun
from .facts import Failed
from .lock import ResolveLock, acquire

log = logging.getLogger("proxx.resolve")

CONNECT_TIMEOUT_S = 20.0  # Resolve answers scripting only once fully started
ACCEPT_TIMEOUT_S = 5.0
POLL_S = 0.5


def default_render_timeout(duration_s: float | None) -> float:
    """A render stuck at 18× the clip's own length (plus 4 min) is hung, not slow."""
    return 240.0 + 18.0 * (duration_s or 60.0)


class ResolveEngine:
    name = "resolve"

    def __init__(
        self,
        connect: Callable[[], api.Resolve | None] = api.scriptapp,
        *,
        lock: ResolveLock | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
        render_timeout: Callable[[float | None], float] = default_render_timeout,
        poll_s: float = POLL_S,
    ) -> None:
        self._connect = connect
        self._lock = lock or ResolveLock()
        self._lock_job: str | None = None
        self.connect_timeout_s = connect_timeout_s
        self.accept_timeout_s = accept_timeout_s
        self.render_timeout = render_timeout
        self.poll_s = poll_s
        self._versions: dict[str, str] = {}

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def warm_up(self) -> None:
        """Nothing: connecting to Resolve is worth doing only for a RAW job."""

    def available(self, context: JobContext) -> str | None:
        """Connect once before any clip: `validate` and `run` refuse with the same words."""
        try:
            self.connect_app(context)
        except Failed as failed:
            return failed.detail if failed.reason is FailureReason.ENGINE_UNAVAILABLE else None
        return None

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        return None  # Resolve runs no command line; the result carries the API calls' outcome

    def render(self, plan: JobPlan, clip: ClipPlan, context: JobContext) -> ClipResult:
        record = ClipRecord(self.name, clip)
        stop = self._hold_lock(plan, context)
        if stop is not None:
            return record.result(
                status="FAILED",
                failure_reason=FailureReason.INTERRUPTED,
                failure_detail=f"stopped while waiting for DaVinci Resolve: {stop}",
            )
        run = ClipRun(self, plan, clip, context)
        outcome = self._outcome(run)
        result = record.result(fidelity=run.fidelity, **outcome)
        self._release_after(plan, clip, result, context)
        return result

    def _outcome(self, run: ClipRun) -> dict[str, object]:
        """Run the clip; the result's fields, cleanup notes included."""
        try:
            published = run.execute()
        except Failed as failed:
            detail = failed.detail + run.cleanup()
            return {
                "status": "FAILED",
                "failure_reason": failed.reason,
                "failure_detail": detail,
                "system_error": failed.system,
                "partial_output_path": run.leftover(),
            }
        except Exception as exc:  # the native module can raise once Resolve goes away
            return {
                "status": "FAILED",
                "failure_reason": FailureReason.EXECUTION_ERROR,
                "failure_detail": f"a DaVinci Resolve scripting call raised "
                f"{type(exc).__name__}: {exc} (last good step: {run.last_step})" + run.cleanup(),
                "partial_output_path": run.leftover(),
            }
        if note := run.cleanup():
            log.warning("job %s clip %d:%s", run.plan.job_id, run.clip.index, note)
        return {
            "status": "COMPLETED",
            "output_size_bytes": published.size,
            "output_sha256": published.sha256,
        }

    # -- the one-Resolve-per-host lock, held for a whole job ------------------------
    def _hold_lock(self, plan: JobPlan, context: JobContext) -> str | None:
        if self._lock_job == plan.job_id and self._lock.held:
            return None
        self._lock.release()  # held for an earlier job that never got to its last clip
        owner = f"pid {os.getpid()}, job {plan.job_id}"
        stop = acquire(self._lock, owner, plan.job_id, context)
        self._lock_job = plan.job_id if stop is None else None
        return stop

    def finish_job(self, plan: JobPlan) -> None:
        """End of this job's turn with Resolve, however it ended."""
        if self._lock_job == plan.job_id:
            self._lock.release()
            self._lock_job = None

    def _release_after(
        self, plan: JobPlan, clip: ClipPlan, result: ClipResult, context: JobContext
    ) -> None:
        # The worker loop stops a job after a failed clip, after its last clip,
        # or on a stop request; each is the end of this job's turn with Resolve.
        last = clip.index == plan.clips[-1].index
        if last or result.status != "COMPLETED" or context.check() is not None:
            self._lock.release()
            self._lock_job = None

    def connect_app(self, context: JobContext) -> api.Resolve:
        try:
            app = api.connect(self._connect, self.connect_timeout_s, context.wait)
            self._versions = {"resolve": api.product(app)}
            log.info("connected to %s", self._versions["resolve"])
            api.require_studio(app)
        except api.ResolveUnavailable as exc:
            raise Failed(FailureReason.ENGINE_UNAVAILABLE, str(exc), system=True) from exc
        except api.Stopped as exc:
            raise Failed(
                FailureReason.INTERRUPTED, f"stopped while connecting to Resolve: {exc}"
            ) from exc
        return app
