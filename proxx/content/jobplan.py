"""The executable plan of a validated job: what a worker's engine renders.

Built inside the worker (from the JobSpec and the probed sources) and used
only there; the supervisor sees the summary in `protocol.JobPlanned`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from proxx.content.media import ProbeFacts
from proxx.contract.profiles import Engine


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClipPlan(_Frozen):
    index: int  # 0-based position in the JobSpec's sources
    source_path: str
    output_path: str
    source: ProbeFacts


class JobPlan(_Frozen):
    """Everything a worker needs to execute a validated job; nothing left to guess."""

    job_id: str
    engine: Engine
    codec: str
    container: str
    fps_mode: str
    proxy_profile: str
    clips: list[ClipPlan]
