"""`proxx run` and `proxx validate`: one JobSpec through a pool of one worker.

The watch folder's own path without the folder: the CLI never reads, parses
or probes the JobSpec itself; it hands the worker a path and turns what comes
back (or how the worker died) into the result.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxx.contract.clock import utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import JobKind, StartJob, new_job_id
from proxx.contract.results import JobResult, not_started
from proxx.runtime.dispatch import Dispatcher
from proxx.runtime.pool import LocalPool
from proxx.runtime.spawn import WORKER_TARGET
from proxx.runtime.tracker import JobOutcome
from proxx.runtime.verdict import result_of

log = logging.getLogger("proxx.run")
# Told each time the job's progress record moves (and at most about once a second).
OnProgress = Callable[[str, ProgressRecord], None]
PROGRESS_POLL_S = 1.0


# (source roots, output roots), absolute; None: not confined (workers/confine.py).
Roots = tuple[list[str] | None, list[str] | None]


@dataclass
class Ran:
    result: JobResult
    outcome: JobOutcome | None  # None when no worker could be started


def run_one(
    path: str,
    kind: JobKind = "run",
    *,
    base_dir: str | None = None,
    target: str = WORKER_TARGET,
    deadlines: Deadlines | None = None,
    on_progress: OnProgress | None = None,
    log_end: bool = True,
    roots: Roots = (None, None),
) -> Ran:
    started = utc_now()
    jobspec_path = os.path.abspath(path)
    req = StartJob(
        job_id=new_job_id(),
        kind=kind,
        jobspec_path=jobspec_path,
        base_dir=os.path.abspath(base_dir or os.path.dirname(jobspec_path)),
        worker_id=0,
        source_roots=roots[0],
        output_roots=roots[1],
    )
    dispatch = Dispatcher(LocalPool(1, target=target, deadlines=deadlines), f"proxx {kind}")
    try:
        # First thing: the worker's start-up (an interpreter, imports) overlaps
        # everything this process still does.
        dispatch.start()
    except OSError as exc:
        dispatch.close()
        log.error("could not start a worker process: %s", exc)
        why = f"could not start a worker process: {exc}"
        return Ran(not_started(req.job_id, jobspec_path, started, system_error=why), None)
    try:
        dispatch.executor.submit(req)
        outcome = _wait(dispatch, on_progress)
    finally:
        dispatch.close()
    result = result_of(outcome, started=started, jobspec_path=jobspec_path, mode="sequential")
    if kind == "run" and log_end:
        log_finished(result)
    return Ran(result, outcome)


def log_finished(result: JobResult) -> None:
    """The job's closing line (the CLI says it itself once its progress line is ended)."""
    log.info(
        "job %s: %s (%d/%d clips) in %.2f s",
        result.job_id,
        result.status,
        result.successful_clips,
        result.total_clips,
        result.duration_seconds,
        extra={"job_id": result.job_id, "worker_id": result.worker_id},
    )


def _wait(dispatch: Dispatcher, on_progress: OnProgress | None = None) -> JobOutcome:
    shown: dict[str, object] = {}
    while True:
        for event in dispatch.wait(None if on_progress is None else PROGRESS_POLL_S):
            if isinstance(event, JobOutcome):
                return event
        if on_progress is not None:
            _report(dispatch, on_progress, shown)
        if dispatch.stop_requested and dispatch.interrupt_all():
            log.warning("%s: stopping the job", dispatch.stop_reason())


def _report(dispatch: Dispatcher, on_progress: OnProgress, shown: dict[str, object]) -> None:
    """Pass on each job's record when it moved (a clock that only ticks is no update)."""
    records = dispatch.executor.progress(time.monotonic(), utc_now())
    for job_id, record in records.items():
        key = record.model_dump(exclude={"seconds_since_progress", "speed", "eta_seconds"})
        if shown.get(job_id) != key:
            shown[job_id] = key
            on_progress(job_id, record)


def run_spec_file(path: str, roots: Roots = (None, None)) -> JobResult:
    return run_one(path, roots=roots).result
