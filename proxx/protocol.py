"""The pipe protocol between supervisor and worker: validated pydantic messages as JSON.

Pickle is never used on the pipe: a worker that writes garbage produces a
decode error the supervisor can attribute, not arbitrary objects.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from proxx.media import ProbeFacts
from proxx.profiles import Engine
from proxx.results import ClipResult


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClipPlan(_Msg):
    index: int  # 0-based position in the JobSpec's sources
    source_path: str
    output_path: str
    source: ProbeFacts


class JobPlan(_Msg):
    """Everything a worker needs to execute a validated job; nothing left to guess."""

    job_id: str
    engine: Engine
    codec: str
    container: str
    fps_mode: str
    proxy_profile: str
    clips: list[ClipPlan]


# supervisor → worker
class RunJob(_Msg):
    type: Literal["run_job"] = "run_job"
    plan: JobPlan


class CancelJob(_Msg):
    type: Literal["cancel_job"] = "cancel_job"
    job_id: str
    reason: str


# worker → supervisor
class WorkerReady(_Msg):
    type: Literal["worker_ready"] = "worker_ready"
    pid: int


class ClipStarted(_Msg):
    type: Literal["clip_started"] = "clip_started"
    job_id: str
    index: int
    started_at: str
    ffmpeg_command: str | None


class ClipFinished(_Msg):
    type: Literal["clip_finished"] = "clip_finished"
    job_id: str
    clip: ClipResult


class JobNote(_Msg):
    """Something an operator should see while the job runs (e.g. waiting for Resolve)."""

    type: Literal["job_note"] = "job_note"
    job_id: str
    note: str
    # While a job waits for a shared engine (Resolve), its clip clock is paused:
    # waiting in line is not a hung render.
    waiting: bool = False


class JobFinished(_Msg):
    type: Literal["job_finished"] = "job_finished"
    job_id: str
    engine_versions: dict[str, str]


ToWorker = Annotated[RunJob | CancelJob, Field(discriminator="type")]
ToSupervisor = Annotated[
    WorkerReady | ClipStarted | ClipFinished | JobNote | JobFinished, Field(discriminator="type")
]
_to_worker: TypeAdapter[RunJob | CancelJob] = TypeAdapter(ToWorker)
FromWorker = WorkerReady | ClipStarted | ClipFinished | JobNote | JobFinished
_to_supervisor: TypeAdapter[FromWorker] = TypeAdapter(ToSupervisor)


def encode(msg: _Msg) -> bytes:
    return msg.model_dump_json().encode("utf-8")


def decode_for_worker(data: bytes) -> RunJob | CancelJob:
    return _to_worker.validate_json(data)


def decode_for_supervisor(data: bytes) -> FromWorker:
    return _to_supervisor.validate_json(data)
