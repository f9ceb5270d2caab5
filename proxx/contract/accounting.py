"""Every clip of a job gets a result: reported, failed where the job stopped, or SKIPPED.

One function for the three places a job can end without its worker having
reported every clip: the supervisor when a worker dies or is stopped
(`proxx.runtime.tracker`), and a worker accounting for a dead runner's job
(`workers.recover`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar

from proxx.contract.clock import iso, utc_now
from proxx.contract.errors import FailureReason
from proxx.contract.results import ClipResult


class ClipRef(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def source_path(self) -> str: ...
    @property
    def output_path(self) -> str: ...


C = TypeVar("C", bound=ClipRef)


def account(
    clips: Sequence[C],
    known: Mapping[int, ClipResult],
    failure: tuple[FailureReason, str] | None,
    *,
    engine: str | None,
    started_at: Mapping[int, str] | None = None,
    commands: Mapping[int, str | None] | None = None,
    partial: Callable[[C], str | None] = lambda _clip: None,
    skipped_detail: str | None = None,
    partial_note: str = "partial render left at",
) -> list[ClipResult]:
    """Fail-fast accounting: clips after the first one that did not complete are SKIPPED.

    `failure` is why the job stopped when the clip it held has no result of its
    own (the worker died, was stopped, or the runner was interrupted): that clip
    gets it, even one whose start was never reported.
    """
    out: list[ClipResult] = []
    stopped: str | None = None  # why the clips after the one that ended the job did not run
    for clip in clips:
        if clip.index in known:
            out.append(known[clip.index])
        elif stopped is None and failure is not None:
            left = partial(clip)
            out.append(
                _clip(
                    clip,
                    "FAILED",
                    engine,
                    failure[1] + (f"; {partial_note} {left}" if left else ""),
                    failure_reason=failure[0],
                    partial_output_path=left,
                    started_at=(started_at or {}).get(clip.index),
                    ended_at=iso(utc_now()),
                    ffmpeg_command=(commands or {}).get(clip.index),
                )
            )
        else:
            why = skipped_detail or stopped or _why_skipped(failure)
            out.append(_clip(clip, "SKIPPED", engine, why))
        if stopped is None and out[-1].status != "COMPLETED":
            stopped = _why_the_rest_did_not_run(out[-1])
    return out


def _why_the_rest_did_not_run(ended: ClipResult) -> str:
    """Fail-fast after a failed clip; after a skipped one (a stop), its reason: none failed."""
    if ended.status == "FAILED":
        return "not run: an earlier clip failed (fail-fast)"
    return ended.failure_detail or "not run: the job was stopped"


def _why_skipped(failure: tuple[FailureReason, str] | None) -> str:
    return f"not run: {failure[1]}" if failure else "not run: the job was stopped"


def _clip(
    clip: ClipRef,
    status: Literal["FAILED", "SKIPPED"],
    engine: str | None,
    detail: str,
    **more: Any,
) -> ClipResult:
    """A clip the job ended without a report on (`more`: what is known of its attempt)."""
    return ClipResult(
        source_path=clip.source_path,
        output_path=clip.output_path,
        status=status,
        engine=engine,
        failure_detail=detail,
        **more,
    )
