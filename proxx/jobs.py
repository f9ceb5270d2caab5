"""One job's journey shared by `run` and `watch`: bytes → plan → result.

Both modes call the same functions, so a JobSpec behaves the same way
whether it was passed on the command line or dropped in a folder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from proxx.clock import utc_now
from proxx.errors import Interrupted, ProxxError, SystemError_, ValidationError
from proxx.plan import Planned, plan_job
from proxx.pool import JobOutcome
from proxx.results import JobResult, build_result
from proxx.spec import JobSpec, fingerprint, fingerprint_bytes, parse_json_object, validate_model

log = logging.getLogger("proxx.jobs")


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Prepared:
    """A job that passed validation and is ready for a worker."""

    job_id: str
    spec: JobSpec
    planned: Planned
    fingerprint: str
    jobspec_path: str
    started: datetime


def prepare(
    data: bytes, *, base_dir: str, jobspec_path: str, job_id: str,
    started: datetime | None = None, stop: Callable[[], str | None] = lambda: None,
) -> Prepared | JobResult:
    """Validate and plan; on any problem return the FAILED result instead."""
    started = started or utc_now()
    fp = fingerprint_bytes(data)
    version: str | None = None
    total: int | None = None
    try:
        obj = parse_json_object(data)
        fp = fingerprint(obj)
        raw_version = obj.get("jobspec_version")
        version = raw_version if isinstance(raw_version, str) else None
        spec = validate_model(obj)
        total = len(spec.sources)
        planned = plan_job(spec, base_dir, job_id, stop)
    except Interrupted as exc:
        log.warning("job %s (%s): %s", job_id, jobspec_path, exc)
        return build_result(job_id=job_id, jobspec_version=version, started=started, clips=[],
                            fingerprint=fp, jobspec_path=jobspec_path, interrupted=str(exc),
                            total_clips=total or 0)
    except ValidationError as exc:
        log.error("job %s (%s): invalid JobSpec: %s", job_id, jobspec_path, exc)
        return build_result(job_id=job_id, jobspec_version=version, started=started, clips=[],
                            fingerprint=fp, jobspec_path=jobspec_path,
                            validation_error=str(exc), total_clips=total or 0)
    except (SystemError_, OSError, ProxxError) as exc:
        log.error("job %s (%s): system error: %s", job_id, jobspec_path, exc)
        return build_result(job_id=job_id, jobspec_version=version, started=started, clips=[],
                            fingerprint=fp, jobspec_path=jobspec_path,
                            system_error=str(exc), total_clips=total or 0)
    return Prepared(job_id, spec, planned, fp, jobspec_path, started)


def result_of(
    prepared: Prepared, outcome: JobOutcome,
    concurrency_mode: Literal["sequential", "parallel"],
) -> JobResult:
    return build_result(
        job_id=prepared.job_id, jobspec_version=prepared.spec.jobspec_version,
        started=prepared.started, clips=outcome.clips, fingerprint=prepared.fingerprint,
        jobspec_path=prepared.jobspec_path, engine=prepared.planned.plan.engine.value,
        routing_reason=prepared.planned.routing_reason, worker_id=outcome.worker_id,
        worker_started_at=outcome.worker_started_at, concurrency_mode=concurrency_mode,
        engine_versions=outcome.engine_versions,
    )

