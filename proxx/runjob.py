"""`proxx run`: one JobSpec through a pool of one worker — the watch folder's own path."""

from __future__ import annotations

import logging
import os

from proxx.clock import utc_now
from proxx.jobs import Prepared, new_job_id, prepare, result_of
from proxx.pool import Pool
from proxx.results import JobResult, build_result
from proxx.signals import StopSignals

log = logging.getLogger("proxx.run")


def run_spec_file(path: str, pool: Pool | None = None) -> JobResult:
    started = utc_now()
    job_id = new_job_id()
    jobspec_path = os.path.abspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        msg = f"cannot read JobSpec {jobspec_path}: {exc.strerror or exc}"
        log.error(msg)
        return build_result(job_id=job_id, jobspec_version=None, started=started, clips=[],
                            fingerprint="sha256:" + "0" * 64, jobspec_path=jobspec_path,
                            validation_error=msg, total_clips=0)
    pool = pool or Pool(1)
    stops = StopSignals()

    def stop_reason() -> str | None:
        return f"proxx run received {stops.received[0]}" if stops.received else None

    try:
        try:
            # Blocks until the forkserver has imported its preload (~300 ms, measured);
            # only the worker's own boot (ffmpeg -version) overlaps validation.
            pool.start()
        except (OSError, EOFError) as exc:
            # A Ctrl-C can kill multiprocessing's forkserver while it starts (its
            # child unblocks signals before it can ignore SIGINT).
            reason = stop_reason()
            log.error("could not start a worker process: %r", exc)
            return build_result(
                job_id=job_id, jobspec_version=None, started=started, clips=[],
                fingerprint="sha256:" + "0" * 64, jobspec_path=jobspec_path,
                interrupted=f"{reason} while starting the worker; nothing was executed"
                if reason else None,
                system_error=None if reason else f"could not start a worker process: {exc!r}")
        prepared = prepare(data, base_dir=os.path.dirname(jobspec_path),
                           jobspec_path=jobspec_path, job_id=job_id, started=started,
                           stop=stop_reason)
        if not isinstance(prepared, Prepared):
            return prepared
        return _execute(pool, prepared, stops)
    finally:
        pool.shutdown()
        stops.close()


def _execute(pool: Pool, prepared: Prepared, stops: StopSignals) -> JobResult:
    plan = prepared.planned.plan
    log.info("job %s: %d clip(s) via %s (%s), fingerprint %s", plan.job_id, len(plan.clips),
             plan.engine.value, prepared.planned.routing_reason, prepared.fingerprint)
    slot = pool.slots[0]
    pool.submit(slot, plan, ticket=None)
    cancelled = False
    while True:
        outcomes = pool.wait(None, extra=[stops.fd])
        if outcomes:
            result = result_of(prepared, outcomes[0], "sequential")
            log.info("job %s: %s (%d/%d clips) in %.2f s", plan.job_id, result.status,
                     result.successful_clips, result.total_clips, result.duration_seconds)
            return result
        stops.drain()
        if stops.stop_requested and not cancelled:
            cancelled = True
            log.warning("received %s: stopping job %s", stops.received[0], plan.job_id)
            pool.cancel_all(f"proxx run received {stops.received[0]}")
