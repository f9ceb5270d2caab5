"""`proxx cancel FOLDER NAME`: stop one job, on whichever runner holds it.

A pending job is claimed here, as a runner would claim it (lock, then rename
into running/), and filed in failed/ at once with a result saying it was
cancelled: it never starts, and no runner can take it meanwhile. A running job
gets a request file beside its claim, named for its job id
(`running/.NAME.JOBID.cancel`, created exclusively without following links);
the runner that holds it looks for that name (`lstat`, never opening it) at each
loop, on any host sharing the folder, and cancels the job: its clip fails as
`cancelled`, the rest are SKIPPED, and the pair is filed in failed/.

`wait_filed` then watches completed/ and failed/ for that job's pair: names are
listed, and the one file opened is a result of that name, which a runner wrote
(`proxx.watch.filing.find_filed`). Whether the cancel took is read from the result: a job
that ended on its own first (completed, say) is told apart.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxx.contract.clock import utc_now
from proxx.contract.errors import FailureReason, ProxxError
from proxx.contract.protocol import StartJob, new_job_id
from proxx.contract.results import JobResult, build_result, not_started
from proxx.runtime.listing import list_now
from proxx.runtime.tracker import JobOutcome
from proxx.watch.claims import Claim, claim
from proxx.watch.clerk import Clerk
from proxx.watch.filing import find_filed
from proxx.watch.folder import Layout, is_candidate, read_sidecar

CANCELLED_BY = "cancelled by proxx cancel"
CANCELLED = FailureReason.CANCELLED


class NoSuchJob(ProxxError):
    """Nothing pending or running goes by that name or job id."""


@dataclass(frozen=True)
class Asked:
    name: str
    job_id: str | None
    state: str  # "pending": cancelled and filed here; "running": its runner was asked
    where: str  # who holds it (running), or where it was filed (pending)
    request: str | None = None  # the request file left beside the claim (running)


@dataclass(frozen=True)
class Filed:
    """A cancelled job's pair, once its runner filed it."""

    result_path: str
    status: str  # the result's: FAILED (cancelled), or how the job ended on its own
    cancelled: bool  # the cancel took; False: the job ended before the request was seen


def cancel(root: str, name_or_id: str) -> Asked:
    layout = Layout(os.path.abspath(root))
    if is_candidate(name_or_id) and os.path.basename(name_or_id) == name_or_id:
        filed = _cancel_pending(layout, name_or_id)
        if filed is not None:
            return filed
    return _ask_runner(layout, _running_name(layout, name_or_id))


def _cancel_pending(layout: Layout, name: str) -> Asked | None:
    """Claim it before any runner does and file it; None if it is not pending (any more)."""
    got = claim(os.path.join(layout.pending, name), layout.running)
    if got is None:
        return None  # not there, or a runner just claimed it: it is running now
    job_id = new_job_id()
    result = _never_started(layout, got, job_id)
    clerk = Clerk(layout)
    clerk.file(got, result, "failed")
    return Asked(name, job_id, "pending", layout.dir("failed"))


def _never_started(layout: Layout, got: Claim, job_id: str) -> JobResult:
    """The result of a pending job cancelled here: nothing ran, and its clips, listed by a
    short-lived worker from the claimed file (this command never reads it), are each
    "not started"; if they cannot be listed, none, and the reason says why."""
    started, why = utc_now(), f"{CANCELLED_BY} before it started"
    st = os.fstat(got.fd)  # the locked file: the lister reads it or nothing
    req = StartJob(
        job_id=job_id,
        kind="run",
        jobspec_path=got.path,
        base_dir=layout.root,
        worker_id=0,
        jobspec_inode=f"{st.st_dev}:{st.st_ino}",
    )
    outcome = list_now(
        JobOutcome(
            request=req,
            planned=None,
            rejected=None,
            recovered=None,
            clips=[],
            early_stop=(FailureReason.INTERRUPTED, why),
            worker_id=None,
            worker_started_at=None,
            engine_versions={},
        )
    )
    if outcome.listed is None:
        note = f"{why}; its clips could not be listed ({outcome.unlisted})"
        return not_started(job_id, got.path, started, interrupted=note)
    return build_result(
        job_id=job_id,
        jobspec_version=outcome.listed.jobspec_version,
        started=started,
        clips=outcome.clips,
        fingerprint=outcome.listed.fingerprint,
        jobspec_path=got.path,
        interrupted=why,
    )


def _running_name(layout: Layout, name_or_id: str) -> str:
    try:
        names = sorted(n for n in os.listdir(layout.running) if is_candidate(n))
    except FileNotFoundError:
        names = []
    if name_or_id in names:
        return name_or_id
    for name in names:
        if read_sidecar(layout, name).get("job_id") == name_or_id:
            return name
    raise NoSuchJob(f"no pending or running job named {name_or_id!r} in {layout.root}")


def _ask_runner(layout: Layout, name: str) -> Asked:
    owner = read_sidecar(layout, name)
    job_id = owner.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise NoSuchJob(f"{name} is claimed but its runner has not said which job it is yet")
    path = layout.cancel_request(name, job_id)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with contextlib.suppress(FileExistsError):  # asked already: once is enough
        os.close(os.open(path, flags, 0o644))
    who = f"runner pid {owner.get('pid')} on {owner.get('host')}"
    return Asked(name, job_id, "running", who, path)


def wait_filed(
    root: str,
    asked: Asked,
    seconds: float,
    *,
    poll_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
) -> Filed | None:
    """The job's pair once it is filed in completed/ or failed/; None if `seconds` ran out."""
    if asked.job_id is None:
        return None
    layout = Layout(os.path.abspath(root))
    end = clock() + seconds
    while True:
        found = find_filed(layout, asked.job_id, asked.name)
        if found is not None:
            result, path = found
            return Filed(path, result.status, took(result))
        if clock() >= end:
            return None
        time.sleep(max(0.0, min(poll_s, end - clock())))


def took(result: JobResult) -> bool:
    """Whether this result is the one a cancel gave (not a job that ended on its own)."""
    said = [
        result.interrupted or "",
        result.system_error or "",
        *(c.failure_detail or "" for c in result.clips),
    ]
    return any(c.failure_reason == CANCELLED for c in result.clips) or any(
        CANCELLED_BY in text for text in said
    )
