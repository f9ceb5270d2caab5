"""Recovery of jobs whose runner died: `running/` files whose lock is free.

Output names are deterministic from the JobSpec, so the recovered result
accounts for every clip: proxies already published (they were verified
before publication) are COMPLETED, the interrupted clip names its partial
file if one is left, the rest are SKIPPED for resubmission.
"""

from __future__ import annotations

import logging
import os

from proxx.claims import Claim, try_lock
from proxx.clock import iso, utc_now
from proxx.errors import FailureReason, ProxxError
from proxx.jobs import new_job_id
from proxx.plan import output_names, resolve_sources
from proxx.results import ClipResult, JobResult, Recovery, build_result
from proxx.spec import (
    MAX_SPEC_BYTES,
    fingerprint,
    fingerprint_bytes,
    parse_json_object,
    validate_model,
)
from proxx.watchfolder import Layout, is_candidate

log = logging.getLogger("proxx.recovery")
REASON = "runner interrupted"


def orphans(layout: Layout, own: set[str]) -> list[Claim]:
    """Lock every `running/` JobSpec not ours whose lock is free: their runner is dead."""
    found = []
    with os.scandir(layout.dir("running")) as it:
        names = sorted(e.name for e in it if is_candidate(e.name) and e.name not in own)
    for name in names:
        path = os.path.join(layout.dir("running"), name)
        fd = try_lock(path)
        if fd is not None:
            found.append(Claim(name=name, path=path, fd=fd))
    return found


def staged_result(claim: Claim) -> JobResult | None:
    """A result written just before the runner died: authoritative, finish its move."""
    path = claim.path[: -len(".json")] + ".result.json"
    try:
        with open(path, "rb") as fh:
            result = JobResult.model_validate_json(fh.read())
    except (OSError, ValueError):
        return None
    os.unlink(path)
    return result


def recovered_result(claim: Claim, watch_root: str) -> JobResult:
    now = utc_now()
    data = claim.read(MAX_SPEC_BYTES)
    recovery = Recovery(reason=REASON, recovered_at=iso(now), original_path=claim.path)
    fp, version, clips = fingerprint_bytes(data), None, []
    try:
        obj = parse_json_object(data)
        fp = fingerprint(obj)
        spec = validate_model(obj)
        version = spec.jobspec_version
        sources = resolve_sources(spec, watch_root)
        outputs = [os.path.join(spec.output_dir, n) for n in output_names(spec, sources)]
        clips = _account(sources, outputs, spec.output_dir)
    except ProxxError as exc:
        log.info("recovered %s does not validate (%s); listing no clips", claim.path, exc)
    return build_result(job_id=new_job_id(), jobspec_version=version, started=now, clips=clips,
                        fingerprint=fp, jobspec_path=claim.path, recovery=recovery)


def _account(sources: list[str], outputs: list[str], output_dir: str) -> list[ClipResult]:
    clips: list[ClipResult] = []
    stopped = False
    try:
        partials = [n for n in os.listdir(output_dir) if n.endswith(".partial")]
    except OSError:
        partials = []
    for src, out in zip(sources, outputs, strict=True):
        if not stopped and os.path.isfile(out):
            clips.append(ClipResult(
                source_path=src, output_path=out, status="COMPLETED", engine=None,
                output_size_bytes=os.path.getsize(out),
                failure_detail="published (verified) before the runner was interrupted",
            ))
            continue
        if not stopped:
            prefix = f".{os.path.basename(out)}."
            left = [os.path.join(output_dir, p) for p in partials if p.startswith(prefix)]
            clips.append(ClipResult(
                source_path=src, output_path=out, status="FAILED", engine=None,
                failure_reason=FailureReason.INTERRUPTED,
                failure_detail="runner interrupted before this clip was published"
                + (f"; partial render left at {left[0]}" if left else ""),
                partial_output_path=left[0] if left else None,
            ))
            stopped = True
            continue
        clips.append(ClipResult(source_path=src, output_path=out, status="SKIPPED", engine=None,
                                failure_detail="not run: the runner was interrupted"))
    return clips
