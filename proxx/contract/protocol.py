"""The pipe protocol between supervisor and worker: validated pydantic messages as JSON.

Pickle is never used on the pipe: a worker that writes garbage produces a
decode error the supervisor can attribute, not arbitrary objects.

The supervisor hands a worker a JobSpec *path* (`StartJob`); the worker reads,
parses, validates, probes and routes it, and reports what it found
(`JobPlanned` or `JobRejected`) before it renders. The supervisor never sees
the JobSpec's bytes: a hostile JobSpec costs one worker, never the runner.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from proxx.contract.results import ClipResult

# "list": only list a job's clips from its JobSpec (no probe, no render), for a job that
# ended before any worker read it (proxx.runtime.listing, workers/listing.py).
JobKind = Literal["run", "validate", "recover", "list"]
# The phases of a job, each under its own deadline (proxx.contract.deadlines).
Phase = Literal[
    "accept",
    "read",
    "validate",
    "probe",
    "engine_check",
    "render",
    "verify",
    "publish",
    "finish",
    "recover",
]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# supervisor → worker -----------------------------------------------------------------
class StartJob(_Msg):
    """A claimed JobSpec, by name only: the worker does everything that reads it."""

    type: Literal["start_job"] = "start_job"
    job_id: str
    kind: JobKind
    jobspec_path: str  # absolute
    base_dir: str  # relative sources resolve against it
    worker_id: int
    # "st_dev:st_ino" of the file the supervisor claimed (and holds locked): the worker
    # reads that file or none, never one put in its place since. None: no claim (`run`).
    jobspec_inode: str | None = None
    # Allowed roots (workers/confine.py): every source, and the output folder, must be
    # inside one once links and `..` are resolved. None: not confined (`run`'s default).
    source_roots: list[str] | None = None
    output_roots: list[str] | None = None


class CancelJob(_Msg):
    type: Literal["cancel_job"] = "cancel_job"
    job_id: str
    reason: str
    # The stopped clip's temporary render is removed, not kept for diagnosis: the
    # job was cancelled, or stopped for a stall or a time limit (a shutdown keeps it).
    discard_partial: bool = False


# worker → supervisor -----------------------------------------------------------------
class WorkerReady(_Msg):
    type: Literal["worker_ready"] = "worker_ready"
    pid: int


class PhaseStarted(_Msg):
    """The job entered `phase`; the supervisor's deadline for it starts now.

    `basis` scales the limit (number of sources to probe, seconds of source to
    render); the supervisor caps what it derives from it.
    """

    type: Literal["phase_started"] = "phase_started"
    job_id: str
    phase: Phase
    basis: float | None = None


class PlannedClip(_Msg):
    index: int
    source_path: str
    output_path: str
    duration: float | None = None  # seconds of source: scales the render deadline


class JobPlanned(_Msg):
    """The JobSpec is valid and routed: what the result will say about the job."""

    type: Literal["job_planned"] = "job_planned"
    job_id: str
    jobspec_version: str
    fingerprint: str
    # None for a listing ("list"): its clips are named from the JobSpec, never probed
    # or routed, since the job never ran.
    engine: str | None
    routing_reason: str | None
    clips: list[PlannedClip]


class PlannedClips(_Msg):
    """Clips of a plan too large for one message, sent ahead of its `JobPlanned`.

    10 000 sources (the documented maximum) with long paths make a plan of
    megabytes: it crosses the pipe (or a Slurm spool line) in parts of at most
    CHUNK_BYTES, joined in order by the supervisor; `JobPlanned` carries the last.
    """

    type: Literal["planned_clips"] = "planned_clips"
    job_id: str
    clips: list[PlannedClip]


class AccountedClips(_Msg):
    """Clips of a recovery's accounting sent ahead of its `RecoveryAccounted` (as above)."""

    type: Literal["accounted_clips"] = "accounted_clips"
    job_id: str
    clips: list[ClipResult]


class JobRejected(_Msg):
    """The job cannot run: exactly one of the three reasons is set."""

    type: Literal["job_rejected"] = "job_rejected"
    job_id: str
    jobspec_version: str | None
    fingerprint: str | None
    total_clips: int
    validation_error: str | None = None
    system_error: str | None = None
    interrupted: str | None = None


class ClipStarted(_Msg):
    type: Literal["clip_started"] = "clip_started"
    job_id: str
    index: int
    started_at: str
    ffmpeg_command: str | None
    # The temporary name it renders to: reported if the worker dies mid-render.
    partial_path: str | None = None


class ClipProgress(_Msg):
    """How far the running clip's render has got (at most one a second per job).

    `fraction` is output media time over the output's expected duration (FFmpeg) or
    the render job's completion percentage (Resolve), 0–1; `media_seconds` is the
    output media time rendered so far, where the engine knows it.
    """

    type: Literal["clip_progress"] = "clip_progress"
    job_id: str
    index: int
    fraction: float = Field(ge=0.0, le=1.0)
    media_seconds: float | None = Field(default=None, ge=0.0)


class ClipFinished(_Msg):
    type: Literal["clip_finished"] = "clip_finished"
    job_id: str
    clip: ClipResult
    index: int | None = None  # the clip's position in the JobSpec (a repeat overwrites)


class JobNote(_Msg):
    """Something an operator should see while the job runs (e.g. waiting for Resolve)."""

    type: Literal["job_note"] = "job_note"
    job_id: str
    note: str
    # While a job waits for a shared engine (Resolve), its clock is paused:
    # waiting in line is not a hung render.
    waiting: bool = False


class RecoveryAccounted(_Msg):
    """For a job whose runner died: which of its proxies were published."""

    type: Literal["recovery_accounted"] = "recovery_accounted"
    job_id: str
    jobspec_version: str | None
    fingerprint: str | None
    clips: list[ClipResult]
    note: str | None = None  # why no clips could be listed


class JobFinished(_Msg):
    type: Literal["job_finished"] = "job_finished"
    job_id: str
    engine_versions: dict[str, str]
    # Why the worker ended the job before its next clip, when a stop reached it between
    # two clips: the supervisor may not know (Slurm signals the worker itself; so may a
    # process manager). That clip then fails with it; the rest are SKIPPED.
    stopped: str | None = None


class WorkerFailing(_Msg):
    """A worker's last words: the exception that is about to end it."""

    type: Literal["worker_failing"] = "worker_failing"
    error: str


# `proxx probe`: a conversation of its own with a worker that only probes ------------
class ProbeFiles(_Msg):
    """Route these files as a job would (the reply: one ProbeDecision each, in order)."""

    type: Literal["probe_files"] = "probe_files"
    # Absolute paths, each as its bytes read as Latin-1: lossless for any name
    # (JSON cannot carry a name that is not UTF-8 as text).
    paths: list[str]


class ProbeDecision(_Msg):
    type: Literal["probe_decision"] = "probe_decision"
    path: str  # as the request carried it
    engine: str | None  # None: rejected
    reason: str


ToWorker = Annotated[StartJob | CancelJob, Field(discriminator="type")]
FromWorker = (
    WorkerReady
    | PhaseStarted
    | PlannedClips
    | JobPlanned
    | AccountedClips
    | JobRejected
    | ClipStarted
    | ClipProgress
    | ClipFinished
    | JobNote
    | RecoveryAccounted
    | JobFinished
    | WorkerFailing
)
ToSupervisor = Annotated[FromWorker, Field(discriminator="type")]
_to_worker: TypeAdapter[StartJob | CancelJob] = TypeAdapter(ToWorker)
_to_supervisor: TypeAdapter[FromWorker] = TypeAdapter(ToSupervisor)
MAX_MESSAGE_BYTES = 1 << 20  # messages are a few kB (stderr tails are capped)
# The most clip data one message carries: a larger plan or accounting is sent in parts
# (`in_parts`), each far below MAX_MESSAGE_BYTES whatever one clip's paths are.
CHUNK_BYTES = 256 * 1024
# The largest JobSpec a worker reads (`StartJob.jobspec_path`): room for the most
# sources a JobSpec may list (10 000) at the longest path Linux opens (4 096 bytes),
# with JSON's escapes; 1 MiB refused 10 000 sources of 200 bytes. Intake peeks at
# the first 64 KiB only (proxx.watch.folder.PEEK_BYTES).
MAX_SPEC_BYTES = 64 * 1024 * 1024


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def encode(msg: _Msg) -> bytes:
    return msg.model_dump_json().encode("utf-8")


def in_parts(msg: JobPlanned | RecoveryAccounted) -> list[FromWorker]:
    """`msg` as messages that each fit the pipe: parts of its clips, then `msg` itself
    with the last part (`[msg]` as it is when it is small)."""
    ahead: list[FromWorker]
    if isinstance(msg, JobPlanned):
        chunks = _chunks(msg.clips)
        ahead = [PlannedClips(job_id=msg.job_id, clips=c) for c in chunks[:-1]]
    else:
        accounted = _chunks(msg.clips)
        ahead = [AccountedClips(job_id=msg.job_id, clips=c) for c in accounted[:-1]]
    if not ahead:
        return [msg]
    last = chunks[-1] if isinstance(msg, JobPlanned) else accounted[-1]
    return [*ahead, msg.model_copy(update={"clips": last})]


_Clip = TypeVar("_Clip", PlannedClip, ClipResult)


def _chunks(clips: list[_Clip]) -> list[list[_Clip]]:
    """`clips` in order, in lists of at most CHUNK_BYTES of JSON (at least one clip each)."""
    chunks: list[list[_Clip]] = [[]]
    size = 0
    for clip in clips:
        one = len(clip.model_dump_json())
        if chunks[-1] and size + one > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(clip)
        size += one
    return chunks


def decode_for_worker(data: bytes) -> StartJob | CancelJob:
    return _to_worker.validate_json(data)


def decode_for_supervisor(data: bytes) -> FromWorker:
    return _to_supervisor.validate_json(data)
