"""The result JSON (one schema for `run` and `watch`) and how its status is derived."""

from __future__ import annotations

import platform
from datetime import datetime
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from proxx import __version__
from proxx.contract.clock import elapsed, iso, utc_now
from proxx.contract.errors import ExitCode, FailureReason

RESULT_VERSION = "1.0.0"
# The fingerprint of a job whose JobSpec was never read (no worker got that far).
NO_FINGERPRINT = "sha256:" + "0" * 64
# A result is a few kB per clip and a JobSpec names at most 10 000 sources: no
# result Proxx writes comes near this; a larger file is not one of its results.
MAX_RESULT_BYTES = 64 * 1024 * 1024
Status = Literal["COMPLETED", "FAILED", "PARTIAL"]
ClipStatus = Literal["COMPLETED", "FAILED", "SKIPPED"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MediaFacts(_Model):
    """What relinking depends on, as probed from one file (source or proxy)."""

    frames: int | None = None  # as a player shows them (edit list applied)
    frame_rate: str | None = None  # exact "num/den" or integer
    average_frame_rate: str | None = None  # set for a variable-frame-rate file only
    field_order: str | None = None
    timecode: str | None = None
    reel_name: str | None = None
    audio_channels: list[int] = Field(default_factory=list)  # per audio stream
    # Colour as FFmpeg names it (ffprobe's spelling); null when the file states none.
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_space: str | None = None  # the YUV matrix
    color_range: str | None = None  # "tv" (limited) or "pc" (full)


class Fidelity(_Model):
    """Source vs proxy, compared by verification; `notes` say what differs on purpose."""

    source: MediaFacts
    proxy: MediaFacts | None = None
    notes: list[str] = Field(default_factory=list)


class ClipResult(_Model):
    source_path: str
    output_path: str | None
    status: ClipStatus
    engine: str | None
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    ffmpeg_command: str | None = None
    exit_code: int | None = None
    output_size_bytes: int | None = None
    failure_reason: FailureReason | None = None
    failure_detail: str | None = None
    # Environmental failure (disk full, permission denied): exit code 4, not 2.
    system_error: bool = False
    partial_output_path: str | None = None
    fidelity: Fidelity | None = None  # compared facts, when the output was verified
    output_sha256: str | None = None  # hex SHA-256 of the published proxy's bytes
    # The render's pace (FFmpeg: output media seconds and frames per wall second of
    # the encode; Resolve: media seconds per second of its render job).
    render_speed: float | None = None  # × real time
    average_fps: float | None = None


class Metadata(_Model):
    jobspec_path: str | None
    result_written_at: str | None = None
    host: str = Field(default_factory=platform.node)
    proxx_version: str = __version__
    engine_versions: dict[str, str] = Field(default_factory=dict)
    final_jobspec_path: str | None = None  # where the JobSpec landed, if renamed
    # Why no JobSpec is filed beside this result: the one the job claimed was replaced
    # in running/ (a file renamed over it) while the job ran, and is gone.
    jobspec_replaced: str | None = None
    # Where the job ran when not in a local worker: for Slurm, the job id, node, state.
    executor: dict[str, str] | None = None


class Recovery(_Model):
    reason: str
    recovered_at: str
    original_path: str


class JobResult(_Model):
    result_version: str = RESULT_VERSION
    job_id: str
    jobspec_version: str | None
    status: Status
    started_at: str
    ended_at: str
    duration_seconds: float
    total_clips: int
    successful_clips: int
    failed_clips: int
    skipped_clips: int
    clips: list[ClipResult]
    validation_error: str | None
    system_error: str | None = None
    interrupted: str | None = None  # stopped before any clip ran (exit code 5)
    jobspec_fingerprint: str
    execution_engine: str | None
    engine_routing_reason: str | None
    worker_id: int | None
    worker_started_at: str | None
    concurrency_mode: Literal["sequential", "parallel"]
    metadata: Metadata = Field(alias="_metadata")
    recovery: Recovery | None = Field(default=None, alias="_recovery")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    def exit_code(self) -> ExitCode:
        if self.validation_error is not None:
            return ExitCode.VALIDATION
        reasons = {c.failure_reason for c in self.clips}
        if self.interrupted or reasons & {FailureReason.INTERRUPTED, FailureReason.CANCELLED}:
            return ExitCode.INTERRUPTED
        if (
            self.system_error
            or FailureReason.ENGINE_UNAVAILABLE in reasons
            or any(c.system_error for c in self.clips)
        ):
            return ExitCode.SYSTEM
        return {"COMPLETED": ExitCode.COMPLETED, "PARTIAL": ExitCode.PARTIAL}.get(
            self.status, ExitCode.EXECUTION
        )


def job_status(clips: list[ClipResult]) -> Status:
    done = sum(c.status == "COMPLETED" for c in clips)
    if clips and done == len(clips):
        return "COMPLETED"
    return "PARTIAL" if done else "FAILED"


def build_result(  # noqa: PLR0913 -- keyword-only, one per field of the result
    *,
    job_id: str,
    jobspec_version: str | None,
    started: datetime,
    clips: list[ClipResult],
    fingerprint: str,
    jobspec_path: str | None,
    validation_error: str | None = None,
    system_error: str | None = None,
    interrupted: str | None = None,
    total_clips: int | None = None,
    engine: str | None = None,
    routing_reason: str | None = None,
    worker_id: int | None = None,
    worker_started_at: str | None = None,
    concurrency_mode: Literal["sequential", "parallel"] = "sequential",
    engine_versions: dict[str, str] | None = None,
    recovery: Recovery | None = None,
    executor: dict[str, str] | None = None,
) -> JobResult:
    ended = utc_now()
    # Interrupted mid-job, the clips tell the status (PARTIAL if some completed).
    stopped_early = validation_error or system_error or (interrupted and not clips)
    status: Status = "FAILED" if stopped_early else job_status(clips)
    return JobResult(
        job_id=job_id,
        jobspec_version=jobspec_version,
        status=status,
        started_at=iso(started),
        ended_at=iso(ended),
        duration_seconds=round(elapsed(started, ended), 3),
        total_clips=len(clips) if total_clips is None else total_clips,
        successful_clips=sum(c.status == "COMPLETED" for c in clips),
        failed_clips=sum(c.status == "FAILED" for c in clips),
        skipped_clips=sum(c.status == "SKIPPED" for c in clips),
        clips=clips,
        validation_error=validation_error,
        system_error=system_error,
        interrupted=interrupted,
        jobspec_fingerprint=fingerprint,
        execution_engine=engine,
        engine_routing_reason=routing_reason,
        worker_id=worker_id,
        worker_started_at=worker_started_at,
        concurrency_mode=concurrency_mode,
        metadata=Metadata(
            jobspec_path=jobspec_path,
            engine_versions=engine_versions or {},
            executor=executor or None,
        ),
        recovery=recovery,
    )


def stamp_written(result: JobResult) -> JobResult:
    result.metadata.result_written_at = iso(utc_now())
    return result


def not_started(
    job_id: str,
    jobspec_path: str | None,
    started: datetime,
    *,
    validation_error: str | None = None,
    system_error: str | None = None,
    interrupted: str | None = None,
) -> JobResult:
    """A job that never reached a worker: refused by name, or stopped before it began."""
    return build_result(
        job_id=job_id,
        jobspec_version=None,
        started=started,
        clips=[],
        fingerprint=NO_FINGERPRINT,
        jobspec_path=jobspec_path,
        validation_error=validation_error,
        system_error=system_error,
        interrupted=interrupted,
        total_clips=0,
    )


def clip_seconds(clip: ClipResult) -> float | None:
    """The clip's source length in seconds (its verified frames at its rate), if known."""
    facts = clip.fidelity.source if clip.fidelity else None
    if facts is None or not facts.frames or not facts.frame_rate:
        return None
    return float(facts.frames / Fraction(facts.frame_rate))
