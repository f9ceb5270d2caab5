"""One job inside a worker, as named steps: prepare, check the engine, render clip by clip.

The same function runs a job for the local pool (reporting over the pipe)
and for a Slurm step (reporting into a spool file): `emit` is the only way
out. Fail-fast: the first failed clip ends the job (the supervisor lists the
rest as SKIPPED).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Callable

from proxx.content.jobplan import JobPlan
from proxx.contract import logs
from proxx.contract.clock import iso, utc_now
from proxx.contract.errors import FailureReason
from proxx.contract.naming import partial_path, record_path
from proxx.contract.profiles import Engine as EngineName
from proxx.contract.protocol import (
    ClipFinished,
    ClipStarted,
    FromWorker,
    JobFinished,
    JobPlanned,
    JobRejected,
    StartJob,
    in_parts,
)
from proxx.contract.results import ClipResult

from .context import JobContext
from .engine import Engine
from .listing import listing
from .prepare import Prepared, prepare
from .private import tidy
from .recover import recover

log = logging.getLogger("workers.job")


def _ffmpeg() -> Engine:
    from .ffmpeg.engine import FFmpegEngine

    return FFmpegEngine()


def _resolve() -> Engine:
    from .resolve.engine import ResolveEngine

    return ResolveEngine()


# Every engine a plan can name, and how to make it. The imports sit inside the
# makers so a worker loads only the engines its jobs use (a worker that never
# sees RAW never loads Resolve code).
ENGINES: dict[EngineName, Callable[[], Engine]] = {
    EngineName.FFMPEG: _ffmpeg,
    EngineName.RESOLVE: _resolve,
}


class Engines:
    """The engines this worker has made so far, each made on first use from `ENGINES`."""

    def __init__(self) -> None:
        self._loaded: dict[EngineName, Engine] = {}

    def warm_up(self) -> None:
        """While no job is here yet: load the FFmpeg engine (and the probing library
        behind it) and start its version check, so the first job does not wait."""
        self.get(EngineName.FFMPEG).warm_up()
        # PyAV (~0.2 s to import) is loaded now, not on the first job's clock; if it
        # cannot load, the first probe says why.
        with contextlib.suppress(ImportError):
            importlib.import_module("proxx.content.libav")

    def get(self, name: EngineName) -> Engine:
        if name not in self._loaded:
            if name not in ENGINES:
                raise ValueError(f"no engine named {name!r}")
            self._loaded[name] = ENGINES[name]()
        return self._loaded[name]


def run_request(
    req: StartJob,
    emit: Callable[[FromWorker], None],
    context: JobContext,
    engines: Engines | None = None,
) -> None:
    """Run one request start to finish; everything it learns goes out through `emit`."""
    engines = engines or Engines()
    context.reason, context.discard_partial = None, False
    context.job_id = req.job_id
    context.emit = emit
    with logs.job_context(job_id=req.job_id, jobspec=os.path.basename(req.jobspec_path)):
        finished = JobFinished(job_id=req.job_id, engine_versions={})
        if req.kind == "list":
            # Only the short-lived lister is asked to list; answered alike here, it is
            # never taken for a run (nothing rendered for it).
            for msg in listing(req):
                emit(msg)
            return
        if req.kind == "recover":
            for part in in_parts(recover(req, context)):
                emit(part)
        else:
            finished = _run(req, emit, context, engines)
        emit(finished)


def _run(
    req: StartJob,
    emit: Callable[[FromWorker], None],
    context: JobContext,
    engines: Engines,
) -> JobFinished:
    """Prepare, announce the plan, check the engine, render; the job's last message.

    Each step can end the job with the one message that says why (a rejection,
    an engine that cannot run here); a `validate` request stops before rendering.
    """
    prepared = prepare(req, context)
    if isinstance(prepared, JobRejected):
        log.debug("job %s rejected: %s", req.job_id, _reason(prepared))
        emit(prepared)
        return JobFinished(job_id=req.job_id, engine_versions={})
    for part in in_parts(_planned(req, prepared)):
        emit(part)
    engine = engines.get(prepared.plan.engine)
    refusal = _check_engine(req, prepared, engine, context)
    stopped = None
    if refusal is not None:
        emit(refusal)
    elif req.kind != "validate":
        stopped = render_clips(prepared, engine, emit, context)
    return JobFinished(job_id=req.job_id, engine_versions=engine.versions(), stopped=stopped)


def _planned(req: StartJob, prepared: Prepared) -> JobPlanned:
    log.info(
        "job %s: %d clip(s) via %s (%s), fingerprint %s",
        req.job_id,
        len(prepared.plan.clips),
        prepared.plan.engine.value,
        prepared.routing_reason,
        prepared.fingerprint,
        extra={"state": "planned"},
    )
    return JobPlanned(
        job_id=req.job_id,
        jobspec_version=prepared.spec.jobspec_version,
        fingerprint=prepared.fingerprint,
        engine=prepared.plan.engine.value,
        routing_reason=prepared.routing_reason,
        clips=prepared.summary(),
    )


def _check_engine(
    req: StartJob, prepared: Prepared, engine: Engine, context: JobContext
) -> FromWorker | None:
    """What ends the job at the engine check (a stop, an engine that cannot run here), if any."""
    context.phase("engine_check")
    problem = engine.available(context)
    stop = context.check() if problem is None else context.settle()
    if stop is not None:
        # A stop that cut the engine check short (`ffmpeg -version`) is an
        # interruption, not an unusable engine: exit 5, not 4. With in-process
        # probing, validation is quick enough that a signal often lands here.
        why = f"{stop} while checking the engine; nothing was executed"
        return _rejected(req, prepared, interrupted=why)
    if problem is None:
        return None
    if req.kind == "validate":
        return _rejected(req, prepared, system_error=problem)
    first = prepared.plan.clips[0].index
    return ClipFinished(
        job_id=req.job_id, clip=_unavailable(prepared, engine, problem), index=first
    )


def _rejected(
    req: StartJob,
    prepared: Prepared,
    *,
    interrupted: str | None = None,
    system_error: str | None = None,
) -> JobRejected:
    return JobRejected(
        job_id=req.job_id,
        jobspec_version=prepared.spec.jobspec_version,
        fingerprint=prepared.fingerprint,
        total_clips=len(prepared.plan.clips),
        interrupted=interrupted,
        system_error=system_error,
    )


def render_clips(
    prepared: Prepared, engine: Engine, emit: Callable[[FromWorker], None], context: JobContext
) -> str | None:
    """Clip by clip until one does not complete; the stop that came between two clips,
    if one did (the next clip fails with it)."""
    plan = prepared.plan
    try:
        for clip in plan.clips:
            if (stop := context.check()) is not None:
                return stop
            emit(
                ClipStarted(
                    job_id=plan.job_id,
                    index=clip.index,
                    started_at=iso(utc_now()),
                    ffmpeg_command=engine.command_for(plan, clip),
                    partial_path=partial_path(clip.output_path, plan.job_id),
                )
            )
            result = engine.render(plan, clip, context)
            emit(ClipFinished(job_id=plan.job_id, clip=result, index=clip.index))
            if result.status != "COMPLETED":
                break
    finally:
        engine.finish_job(plan)
        _tidy(plan)
    return None


def _tidy(plan: JobPlan) -> None:
    """The job's publication records go once its clips are reported (workers/private.py)."""
    if not plan.clips:
        return
    partials = [partial_path(c.output_path, plan.job_id) for c in plan.clips]
    tidy(os.path.dirname(partials[0]), [os.path.basename(record_path(p)) for p in partials])


def _unavailable(prepared: Prepared, engine: Engine, problem: str) -> ClipResult:
    first = prepared.plan.clips[0]
    now = iso(utc_now())
    return ClipResult(
        source_path=first.source_path,
        output_path=first.output_path,
        status="FAILED",
        engine=engine.name,
        started_at=now,
        ended_at=now,
        failure_reason=FailureReason.ENGINE_UNAVAILABLE,
        failure_detail=problem,
        system_error=True,
    )


def _reason(rejected: JobRejected) -> str:
    return rejected.validation_error or rejected.system_error or rejected.interrupted or "?"
