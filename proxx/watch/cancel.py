"""`proxx cancel FOLDER NAME`: stop one job, on whichever runner holds it.

A pending job is claimed here, as a runner would claim it (lock, then rename
into running/), and filed in failed/ at once with a result saying it was
cancelled: it never starts, and no runner can take it meanwhile. A running job
gets a request file beside its claim, named for its job id
(`running/.NAME.JOBID.cancel`, created exclusively without following links);
the runner that holds it looks for that name (`lstat`, never opening it) at each
loop, on any host sharing the folder, and cancels the job: its clip fails as
`cancelled`, the rest are SKIPPED, and the pair is filed in failed/.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from proxx.contract.clock import utc_now
from proxx.contract.errors import ProxxError
from proxx.contract.protocol import new_job_id
from proxx.contract.results import not_started
from proxx.watch.claims import claim
from proxx.watch.clerk import Clerk
from proxx.watch.folder import Layout, is_candidate, read_sidecar

CANCELLED_BY = "cancelled by proxx cancel"


class NoSuchJob(ProxxError):
    """Nothing pending or running goes by that name or job id."""


@dataclass(frozen=True)
class Asked:
    name: str
    job_id: str | None
    state: str  # "pending": cancelled and filed here; "running": its runner was asked
    where: str  # who holds it (running), or where it was filed (pending)


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
    result = not_started(
        job_id, got.path, utc_now(), interrupted=f"{CANCELLED_BY} before it started"
    )
    clerk = Clerk(layout)
    clerk.file(got, result, "failed")
    return Asked(name, job_id, "pending", layout.dir("failed"))


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
    return Asked(name, job_id, "running", f"runner pid {owner.get('pid')} on {owner.get('host')}")
