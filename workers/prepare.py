"""From a JobSpec path to an executable plan, inside the worker, phase by phase.

Reading (bounded), parsing, validating, probing and routing all happen here,
never in the supervisor: whatever a hostile JobSpec or source does to this
process costs its one job. Each phase is announced to the supervisor, which
holds it to a deadline (proxx.contract.deadlines).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from proxx.content.jobplan import JobPlan
from proxx.content.plan import output_names, plan_job, resolve_sources
from proxx.content.spec import (
    JobSpec,
    fingerprint,
    fingerprint_bytes,
    parse_json_object,
    validate_model,
)
from proxx.contract.errors import Interrupted, ProxxError, SystemError_, ValidationError
from proxx.contract.protocol import MAX_SPEC_BYTES, JobRejected, PlannedClip, StartJob

from . import confine
from .context import JobContext

log = logging.getLogger("workers.prepare")


@dataclass
class Prepared:
    """A job that passed validation and is ready for its engine."""

    spec: JobSpec
    plan: JobPlan
    routing_reason: str
    fingerprint: str

    def summary(self) -> list[PlannedClip]:
        return [
            PlannedClip(
                index=c.index,
                source_path=c.source_path,
                output_path=c.output_path,
                duration=_duration(c.source.duration, c.source.video),
            )
            for c in self.plan.clips
        ]


def _duration(fmt: float | None, video: Any) -> float | None:
    return getattr(video, "duration", None) or fmt


def named_clips(spec: JobSpec, base_dir: str) -> list[PlannedClip]:
    """The job's clips as its run names them, from the JobSpec alone (nothing probed):
    what recovery and the lister account for."""
    sources = resolve_sources(spec, base_dir)
    outputs = [os.path.join(spec.output_dir, n) for n in output_names(spec, sources)]
    return [
        PlannedClip(index=i, source_path=s, output_path=o)
        for i, (s, o) in enumerate(zip(sources, outputs, strict=True))
    ]


def read_spec(path: str, inode: str | None = None) -> bytes:
    """At most MAX_SPEC_BYTES + 1 bytes (so an oversize file is detectable), never a FIFO,
    and only from the file claimed as `inode` when one is given."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if inode is not None and f"{st.st_dev}:{st.st_ino}" != inode:
            raise OSError(
                "another file was put in its place after it was claimed; it was not run "
                "(submit it again through pending/)"
            )
        chunks, size = [], 0
        while size <= MAX_SPEC_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_SPEC_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class _Reading:
    """What is known of the JobSpec so far, for a rejection at any step."""

    def __init__(self, req: StartJob) -> None:
        self.req = req
        self.fingerprint: str | None = None
        self.version: str | None = None
        self.total = 0

    def reject(self, **reason: str) -> JobRejected:
        return JobRejected(
            job_id=self.req.job_id,
            jobspec_version=self.version,
            fingerprint=self.fingerprint,
            total_clips=self.total,
            **reason,
        )


def prepare(req: StartJob, context: JobContext) -> Prepared | JobRejected:
    """Read, validate and plan `req`'s JobSpec; a JobRejected says why it cannot run."""
    reading = _Reading(req)
    context.phase("read")
    try:
        data = read_spec(req.jobspec_path, req.jobspec_inode)
    except OSError as exc:
        return reading.reject(
            validation_error=f"cannot read JobSpec {req.jobspec_path}: {exc.strerror or exc}"
        )
    reading.fingerprint = fingerprint_bytes(data)
    context.phase("validate")
    try:
        return _validated(reading, data, context)
    except Interrupted as exc:
        return reading.reject(interrupted=str(exc))
    except ValidationError as exc:
        return reading.reject(validation_error=str(exc))
    except RecursionError:
        return reading.reject(
            validation_error="JobSpec is nested too deeply to be a JobSpec "
            "(a JobSpec is a flat object with a list of sources)"
        )
    except (SystemError_, OSError, ProxxError) as exc:
        return reading.reject(system_error=str(exc))


def _validated(reading: _Reading, data: bytes, context: JobContext) -> Prepared:
    obj = parse_json_object(data)
    reading.fingerprint = fingerprint(obj)
    version, sources = obj.get("jobspec_version"), obj.get("sources")
    reading.version = version if isinstance(version, str) else None
    # The README promises the number of sources even when a field is invalid.
    reading.total = len(sources) if isinstance(sources, list) else 0
    spec = validate_model(obj)
    req = reading.req

    def next_source() -> str | None:
        # Asked before each source: a fresh probe deadline for each one, so one that
        # blocks (a FIFO, a dead mount) is caught in its own 40 s, not the job's total.
        context.phase("probe", 1.0)
        return context.check()

    context.phase("probe", 1.0)  # the filesystem checks before the first probe
    confine.check(req, resolve_sources(spec, req.base_dir), spec.output_dir)
    planned = plan_job(spec, req.base_dir, req.job_id, next_source)
    return Prepared(spec, planned.plan, planned.routing_reason, reading.fingerprint)
