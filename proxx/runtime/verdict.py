"""A job's outcome (what its worker reported, or how it died) as its result JSON.

The one place the supervisor side turns an executor's `JobOutcome` into a
`JobResult`, for `proxx run`, `proxx validate` and `proxx watch` alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from proxx.contract.errors import FailureReason
from proxx.contract.protocol import JobPlanned, JobRejected, RecoveryAccounted
from proxx.contract.results import NO_FINGERPRINT, JobResult, Recovery, build_result
from proxx.runtime.tracker import JobOutcome


def result_of(
    outcome: JobOutcome,
    *,
    started: datetime,
    jobspec_path: str,
    mode: Literal["sequential", "parallel"],
    job_id: str | None = None,
    recovery: Recovery | None = None,
) -> JobResult:
    """The result of a job, by how far it got: recovered, rejected, planned, or not started."""
    common: dict[str, Any] = {
        "job_id": job_id or outcome.request.job_id,
        "started": started,
        "jobspec_path": jobspec_path,
        "worker_id": outcome.worker_id,
        "worker_started_at": outcome.worker_started_at,
        "concurrency_mode": mode,
        "engine_versions": outcome.engine_versions,
        "recovery": recovery,
        "executor": outcome.executor_info,
    }
    if outcome.recovered is not None:
        return _recovered(outcome.recovered, common)
    if outcome.planned is not None:
        planned = outcome.planned
        common.update(engine=planned.engine, routing_reason=planned.routing_reason)
    if outcome.rejected is not None:
        return _rejected(outcome.rejected, common)
    if outcome.planned is not None:
        return _planned(outcome, outcome.planned, common)
    return _not_started(outcome, common)


def _recovered(rec: RecoveryAccounted, common: dict[str, Any]) -> JobResult:
    """A dead runner's job, accounted for by a worker (a note alone: it could not be)."""
    return build_result(
        jobspec_version=rec.jobspec_version,
        clips=rec.clips,
        fingerprint=rec.fingerprint or NO_FINGERPRINT,
        validation_error=rec.note if not rec.clips else None,
        **common,
    )


def _rejected(rejected: JobRejected, common: dict[str, Any]) -> JobResult:
    return build_result(
        jobspec_version=rejected.jobspec_version,
        clips=[],
        fingerprint=rejected.fingerprint or NO_FINGERPRINT,
        validation_error=rejected.validation_error,
        system_error=rejected.system_error,
        interrupted=rejected.interrupted,
        total_clips=rejected.total_clips,
        **common,
    )


def _planned(outcome: JobOutcome, planned: JobPlanned, common: dict[str, Any]) -> JobResult:
    return build_result(
        jobspec_version=planned.jobspec_version,
        clips=outcome.clips,
        fingerprint=planned.fingerprint,
        interrupted=_interrupted(outcome),
        **common,
    )


def _not_started(outcome: JobOutcome, common: dict[str, Any]) -> JobResult:
    """The worker never said what the job is: stopped before it began, or it died."""
    reason, detail = outcome.early_stop or (
        FailureReason.WORKER_CRASHED,
        "the worker ended without reporting on the job",
    )
    stopped = reason is FailureReason.INTERRUPTED
    if outcome.unlisted is not None:
        detail = f"{detail}; its clips could not be listed ({outcome.unlisted})"
    # Listed by a short-lived worker (proxx.runtime.listing): every clip not started,
    # under the JobSpec's own fingerprint, so the result reads like any other's.
    listed = outcome.listed
    return build_result(
        jobspec_version=None if listed is None else listed.jobspec_version,
        clips=outcome.clips if listed is not None else [],
        fingerprint=NO_FINGERPRINT if listed is None else listed.fingerprint,
        interrupted=f"{detail}; nothing was executed" if stopped else None,
        system_error=None if stopped else f"{reason.value}: {detail}",
        total_clips=len(outcome.clips) if listed is not None else 0,
        **common,
    )


def _interrupted(outcome: JobOutcome) -> str | None:
    """Why the job was stopped (SIGINT/SIGTERM), if a clip says it was."""
    for clip in outcome.clips:
        if clip.failure_reason is FailureReason.INTERRUPTED:
            return clip.failure_detail
    return None
