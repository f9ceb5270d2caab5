"""Accounting for a job whose runner died, inside a worker (it reads the JobSpec).

Output names are deterministic from the JobSpec, so the recovered result
lists every clip: proxies already published (they were verified before
publication) are COMPLETED, the interrupted clip names its partial file if
one is left, the rest are SKIPPED for resubmission.
"""

from __future__ import annotations

import logging
import os

from proxx.content.plan import output_names, resolve_sources
from proxx.content.spec import fingerprint, fingerprint_bytes, parse_json_object, validate_model
from proxx.contract.accounting import account
from proxx.contract.errors import FailureReason, ProxxError
from proxx.contract.naming import partial_path
from proxx.contract.protocol import PlannedClip, RecoveryAccounted, StartJob
from proxx.contract.results import ClipResult

from .interrupts import Interrupts
from .prepare import read_spec

log = logging.getLogger("workers.recover")
PUBLISHED = "published (verified) before the runner was interrupted"


def recover(req: StartJob, interrupts: Interrupts) -> RecoveryAccounted:
    interrupts.phase("recover")
    fp: str | None = None
    version: str | None = None
    try:
        data = read_spec(req.jobspec_path, req.jobspec_inode)
        fp = fingerprint_bytes(data)
        obj = parse_json_object(data)
        fp = fingerprint(obj)
        spec = validate_model(obj)
        version = spec.jobspec_version
        sources = resolve_sources(spec, req.base_dir)
        outputs = [os.path.join(spec.output_dir, n) for n in output_names(spec, sources)]
    except (ProxxError, OSError, RecursionError) as exc:
        why = f"the JobSpec does not validate ({exc}); no clips can be listed"
        log.info("recovered %s: %s", req.jobspec_path, why)
        return RecoveryAccounted(
            job_id=req.job_id, jobspec_version=version, fingerprint=fp, clips=[], note=why
        )
    clips = [
        PlannedClip(index=i, source_path=s, output_path=o)
        for i, (s, o) in enumerate(zip(sources, outputs, strict=True))
    ]
    return RecoveryAccounted(
        job_id=req.job_id,
        jobspec_version=version,
        fingerprint=fp,
        clips=_account(clips, spec.output_dir, req.job_id),
    )


def _account(clips: list[PlannedClip], output_dir: str, job_id: str) -> list[ClipResult]:
    try:
        partials = [n for n in os.listdir(output_dir) if n.endswith(".partial")]
    except OSError:
        partials = []
    published: dict[int, ClipResult] = {}
    for clip in clips:
        if not os.path.isfile(clip.output_path):
            break
        published[clip.index] = ClipResult(
            source_path=clip.source_path,
            output_path=clip.output_path,
            status="COMPLETED",
            engine=None,
            output_size_bytes=os.path.getsize(clip.output_path),
            failure_detail=PUBLISHED,
        )

    def partial(clip: PlannedClip) -> str | None:
        # This job's own temporary render (its job id survives recovery); another
        # job's partial of the same name only if this one left none.
        own = os.path.basename(partial_path(clip.output_path, job_id))
        if own in partials:
            return os.path.join(output_dir, own)
        prefix = f".{os.path.basename(clip.output_path)}."
        left = sorted(os.path.join(output_dir, p) for p in partials if p.startswith(prefix))
        return left[0] if left else None

    failure = (FailureReason.INTERRUPTED, "runner interrupted before this clip was published")
    return account(
        clips,
        published,
        failure,
        engine=None,
        partial=partial,
        skipped_detail="not run: the runner was interrupted",
    )
