"""Accounting for a job whose runner died, inside a worker (it reads the JobSpec).

Output names are deterministic from the JobSpec, so the recovered result
lists every clip: proxies already published (they were verified before
publication) are COMPLETED, the interrupted clip names its partial file if
one is left, the rest are SKIPPED for resubmission.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat

from proxx.content.spec import fingerprint, fingerprint_bytes, parse_json_object, validate_model
from proxx.contract.accounting import account
from proxx.contract.errors import FailureReason, ProxxError
from proxx.contract.naming import partial_path, private_dir, record_path
from proxx.contract.protocol import PlannedClip, RecoveryAccounted, StartJob
from proxx.contract.results import ClipResult

from .context import JobContext
from .prepare import named_clips, read_spec
from .private import PrivateDirError, open_private, read_record

log = logging.getLogger("workers.recover")
PUBLISHED = "published (verified) before the runner was interrupted"
NOT_OURS = "a file sits at the output name that this job did not publish"


def recover(req: StartJob, context: JobContext) -> RecoveryAccounted:
    context.phase("recover")
    fp: str | None = None
    version: str | None = None
    try:
        data = read_spec(req.jobspec_path, req.jobspec_inode)
        fp = fingerprint_bytes(data)
        obj = parse_json_object(data)
        fp = fingerprint(obj)
        spec = validate_model(obj)
        version = spec.jobspec_version
        clips = named_clips(spec, req.base_dir)
    except (ProxxError, OSError, RecursionError) as exc:
        why = f"the JobSpec does not validate ({exc}); no clips can be listed"
        log.info("recovered %s: %s", req.jobspec_path, why)
        return RecoveryAccounted(
            job_id=req.job_id, jobspec_version=version, fingerprint=fp, clips=[], note=why
        )
    return RecoveryAccounted(
        job_id=req.job_id,
        jobspec_version=version,
        fingerprint=fp,
        clips=_account(clips, spec.output_dir, req.job_id),
    )


def _account(clips: list[PlannedClip], output_dir: str, job_id: str) -> list[ClipResult]:
    folder = private_dir(output_dir, job_id)
    try:
        dir_fd: int | None = open_private(folder, create=False)
    except PrivateDirError:
        dir_fd = None  # nothing rendered yet, or the folder is not ours: no records
    partials: list[str] = []
    try:
        published = _published(clips, dir_fd, job_id)
        if dir_fd is not None:
            with contextlib.suppress(OSError):
                partials = os.listdir(dir_fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)

    def partial(clip: PlannedClip) -> str | None:
        # This job's own temporary render, in its private folder (its job id survives
        # recovery); another job's partials are that job's to report.
        own = partial_path(clip.output_path, job_id)
        return own if os.path.basename(own) in partials else None

    failure = (FailureReason.INTERRUPTED, "runner interrupted before this clip was published")
    return account(
        clips,
        published,
        failure,
        engine=None,
        partial=partial,
        skipped_detail="not run: the runner was interrupted",
    )


def _published(clips: list[PlannedClip], dir_fd: int | None, job_id: str) -> dict[int, ClipResult]:
    """The clips this job published, in order, up to the first that it did not.

    A file at a clip's output name counts only when this job's publication record
    names it (the same inode, a regular file): a stranger's file there, or a link,
    is not this job's proxy, and the clip fails saying so (issue 18, finding 6).
    """
    out: dict[int, ClipResult] = {}
    for clip in clips:
        try:
            st = os.lstat(clip.output_path)
        except OSError:
            break  # not published: this clip is where the job stopped
        name = os.path.basename(record_path(partial_path(clip.output_path, job_id)))
        record = read_record(dir_fd, name) if dir_fd is not None else None
        if record is None or record.output_path != clip.output_path or not record.matches(st):
            why = f"{NOT_OURS} ({_kind(st)}); it is left as it is, not counted as this job's proxy"
            out[clip.index] = _found(clip, why, failure=FailureReason.VALIDATION_ERROR)
            break
        out[clip.index] = _found(clip, PUBLISHED, size=st.st_size, sha256=record.sha256)
    return out


def _found(
    clip: PlannedClip,
    detail: str,
    *,
    failure: FailureReason | None = None,
    size: int | None = None,
    sha256: str | None = None,
) -> ClipResult:
    """What recovery found at a clip's output name: this job's proxy (COMPLETED), or,
    with a `failure`, something else (FAILED). No engine ran: recovery only looks."""
    return ClipResult(
        source_path=clip.source_path,
        output_path=clip.output_path,
        status="COMPLETED" if failure is None else "FAILED",
        engine=None,
        failure_reason=failure,
        failure_detail=detail,
        output_size_bytes=size,
        output_sha256=sha256,
    )


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISREG(st.st_mode):
        return f"a regular file of {st.st_size} bytes that no publication record of this job names"
    return f"not a regular file: {stat.filemode(st.st_mode)}"
