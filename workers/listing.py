"""The short-lived worker that lists a job's clips for a job that never ran.

A job can end before any worker read its JobSpec (Slurm requeued it at launch,
it was cancelled in Slurm's queue, its pool worker died before it spoke). Its
result should still list every clip, as not started, with the JobSpec's real
fingerprint, so `proxx remainder` and a resubmission work as for any other job.
The supervisor cannot read the JobSpec: this process does, once, for one
`StartJob(kind="list")` (`proxx.runtime.listing` starts it by name), and answers
as a job's worker would, with the same messages: its phases (each under the
supervisor's deadline), then the clips as a `JobPlanned` (in parts when large)
or a `JobRejected` saying why they cannot be listed, then `JobFinished`.

It reads the claimed file only (the inode in the request), and never opens a
source or the output folder: names come from the JobSpec alone, as
`workers/recover.py` derives them (`prepare.named_clips`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from multiprocessing.connection import Connection

from proxx.content.spec import fingerprint, fingerprint_bytes, parse_json_object, validate_model
from proxx.contract.errors import ProxxError
from proxx.contract.protocol import (
    MAX_MESSAGE_BYTES,
    FromWorker,
    JobFinished,
    JobPlanned,
    JobRejected,
    PhaseStarted,
    StartJob,
    WorkerReady,
    decode_for_worker,
    encode,
    in_parts,
)

from .prepare import named_clips, read_spec


def list_main(conn: Connection) -> None:
    """Say ready, take one listing request, answer it, exit (the trampoline's EOF path)."""
    conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    req = decode_for_worker(conn.recv_bytes(MAX_MESSAGE_BYTES))
    if not isinstance(req, StartJob):
        return  # a cancel: there is nothing to stop
    for msg in listing(req):
        conn.send_bytes(encode(msg))


def listing(req: StartJob) -> Iterator[FromWorker]:
    """The messages that list `req`'s clips (or say why they cannot be listed)."""
    yield PhaseStarted(job_id=req.job_id, phase="read")
    known: dict[str, str] = {}  # what was learnt before a failure: its fingerprint, version
    try:
        data = read_spec(req.jobspec_path, req.jobspec_inode)
        known["fingerprint"] = fingerprint_bytes(data)
        yield PhaseStarted(job_id=req.job_id, phase="validate")
        plan = _plan(req, data, known)
    except (ProxxError, OSError, RecursionError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        yield JobRejected(
            job_id=req.job_id,
            jobspec_version=known.get("version"),
            fingerprint=known.get("fingerprint"),
            total_clips=0,
            validation_error=f"the JobSpec cannot be read as one ({why or type(exc).__name__})",
        )
    else:
        yield from in_parts(plan)
    yield JobFinished(job_id=req.job_id, engine_versions={})


def _plan(req: StartJob, data: bytes, known: dict[str, str]) -> JobPlanned:
    """The job's clips, named as its run would name them (nothing probed or routed)."""
    obj = parse_json_object(data)
    known["fingerprint"] = fp = fingerprint(obj)
    spec = validate_model(obj)
    known["version"] = spec.jobspec_version
    return JobPlanned(
        job_id=req.job_id,
        jobspec_version=spec.jobspec_version,
        fingerprint=fp,
        engine=None,
        routing_reason=None,
        clips=named_clips(spec, req.base_dir),
    )
