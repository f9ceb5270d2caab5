"""The watch folder's clerk: files results, refuses what is no JobSpec, keeps the books.

Everything here is about names and result files the runner itself wrote:
filing a job (proxx.watch.folder.finish, kill -9 safe), holding a job claimed
while its result cannot be written (a full disk), the owner sidecars that
`proxx status` reads, the counts the metrics report, and one log line per
finished job.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxx.contract.clock import iso, utc_now
from proxx.contract.fsutil import remove_temps_of, shown, write_atomic
from proxx.contract.protocol import new_job_id
from proxx.contract.results import JobResult, not_started
from proxx.watch.claims import Claim, same_inode, try_lock
from proxx.watch.filing import finish, finish_alone
from proxx.watch.folder import Layout
from proxx.watch.replaced import replacement_error

if TYPE_CHECKING:
    from proxx.watch.hook import JobEndHook

log = logging.getLogger("proxx.watch")
# Full disk, quota, a failing device, a folder remounted read-only or made unwritable,
# a stale NFS handle: wait for the operator, keep the claim (filing it as failed could
# only fail the same way, and would release the claim to be recovered in a loop).
STALL_ERRNOS = (
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EIO,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ESTALE,
)


@dataclass
class Unfinished:
    """A job whose result could not be written yet (disk full): retried each loop."""

    claim: Claim
    result: JobResult
    state: str
    replacement: bool = False


@dataclass
class Counts:
    completed: int = 0
    failed: int = 0
    recovered: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)


class Clerk:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.counts = Counts()
        self.unfinished: list[Unfinished] = []
        self._reported: set[str] = set()  # names whose trouble was logged once already
        self.hooks: list[JobEndHook] = []  # `--mhl`, `--on-job-end`: run once a pair is filed

    def first_report(self, name: str) -> bool:
        """True the first time trouble with `name` is to be logged: said once per name."""
        if name in self._reported:
            return False
        self._reported.add(name)
        return True

    def recovered(self) -> None:
        """A dead runner's job was taken over (the metrics count them)."""
        self.counts.recovered += 1

    def held(self) -> set[str]:
        """JobSpec names this runner holds while their results wait for space."""
        return {u.claim.name for u in self.unfinished}

    def file(self, got: Claim, result: JobResult, state: str, replacement: bool = False) -> None:
        """Write the result and move the pair; on a full disk keep the claim and retry.

        Only the claimed inode is filed as this job's JobSpec. When another file was
        renamed over it, the result is filed alone and that file separately, as a
        replacement that never ran. The owner sidecar goes first (a kill -9 after it
        leaves a claim that recovery files all the same, never a sidecar for good);
        a replacement's filing leaves it, since it names the claim's holder.
        """
        for hook in self.hooks:
            hook.owe(result, got.name)
        claimed = same_inode(got.fd, got.path)
        if not replacement:
            self.remove_sidecar(got.name)
        staged = self.layout.staged_result(got.name, os.fstat(got.fd).st_ino)
        try:
            if claimed:
                final = finish(self.layout, got.path, result, state=state, staged=staged)
            else:
                final = finish_alone(self.layout, got.name, result, state=state, staged=staged)
        except OSError as exc:
            if exc.errno not in STALL_ERRNOS:
                raise
            self._stalled(got, result, exc)
            self.unfinished.append(Unfinished(got, result, state, replacement))
            return
        got.release()
        self.count(result)
        self.log_finished(got.name, result, final)
        for hook in self.hooks:
            hook.filed(result, final)
        if not claimed:
            self._file_replacement_at(got, result.job_id)

    def file_replacement(self, got: Claim, claimed_job_id: str | None) -> None:
        """`got` is a file renamed over a JobSpec another job claimed: filed, never run."""
        why = replacement_error(got.name, claimed_job_id)
        log.warning(
            "%s in running/ is not the JobSpec that was claimed under that name: filing it "
            "as a replacement that was not run",
            got.name,
            extra={"jobspec": got.name, "state": "replaced"},
        )
        result = not_started(new_job_id(), shown(got.path), utc_now(), validation_error=why)
        self.file(got, result, "failed", replacement=True)

    def _file_replacement_at(self, claimed: Claim, job_id: str) -> None:
        fd = try_lock(claimed.path)
        if fd is not None:  # else gone already, or another runner is filing it
            self.file_replacement(Claim(claimed.name, claimed.path, fd), job_id)

    def _stalled(self, got: Claim, result: JobResult, exc: OSError) -> None:
        if not self.first_report(got.name):
            return
        log.error(
            "job %s (%s): cannot write its result (%s); it stays claimed in "
            "running/ and is filed once the watch folder is writable again",
            result.job_id,
            got.name,
            exc.strerror,
            extra={"job_id": result.job_id, "state": "stalled"},
        )

    def retry_unfinished(self) -> None:
        for job in list(self.unfinished):
            self.unfinished.remove(job)
            self.file(job.claim, job.result, job.state, job.replacement)

    def refuse(self, path: str, why: str) -> None:
        """Move a pending entry that is no JobSpec file straight to failed/, with a result.

        Such an entry (a directory, a symlink, a FIFO) cannot be locked like a claim, so
        runners sharing the folder take turns on pending/ itself: without that, two of
        them filing the same entry at once could file it as NAME-1 (nothing lost, but
        not under its name).
        """
        with _turn_on(self.layout.pending):
            if not os.path.lexists(path):
                return  # another runner refused it first
            self._refuse(path, why)

    def _refuse(self, path: str, why: str) -> None:
        result = not_started(new_job_id(), shown(path), utc_now(), validation_error=why)
        try:
            final = finish(self.layout, path, result, state="failed")
        except FileNotFoundError:
            return  # another runner refused it first
        except OSError as exc:  # a full disk: it stays in pending/ for the next look
            if self.first_report(path):
                log.error("cannot refuse %s yet: %s", path, exc.strerror)
            return
        self.count(result)
        self.log_finished(os.path.basename(path), result, final)

    def count(self, result: JobResult) -> None:
        if result.status == "COMPLETED":
            self.counts.completed += 1
            return
        self.counts.failed += 1
        reason = failure_reason(result)
        self.counts.failed_by_reason[reason] = self.counts.failed_by_reason.get(reason, 0) + 1

    def log_finished(self, name: str, result: JobResult, final: str) -> None:
        clip_errors = [
            f"{c.failure_reason}: {c.failure_detail}" for c in result.clips if c.status == "FAILED"
        ]
        reason = (
            result.validation_error
            or result.system_error
            or (clip_errors[0] if clip_errors else "")
        )
        log.info(
            "job %s (%s): %s on worker %s in %.2f s → %s%s",
            result.job_id,
            name,
            result.status,
            result.worker_id,
            result.duration_seconds,
            os.path.relpath(final, self.layout.root),
            f" ({reason})" if reason else "",
            extra={
                "job_id": result.job_id,
                "worker_id": result.worker_id,
                "jobspec": name,
                "state": result.status,
                "reason": reason or None,
            },
        )

    def write_sidecar(
        self,
        got: Claim,
        job_id: str,
        worker_id: int,
        note: str | None = None,
        progress: dict[str, object] | None = None,
    ) -> None:
        """Who runs this job (and how far it has got), for `proxx status`; informational,
        so a full disk is no error.

        It names the claimed inode: a `running/` file with another inode under that name
        is a file put in the claim's place, never the claimed job (`file_replacement`)."""
        name = got.name
        info = {
            "inode": os.fstat(got.fd).st_ino,
            "job_id": job_id,
            "worker_id": worker_id,
            "pid": os.getpid(),
            "host": platform.node(),
            "claimed_at": iso(utc_now()),
            "note": note,
            "progress": progress,
        }
        try:
            write_atomic(self.layout.sidecar(name), json.dumps(info).encode())
        except OSError as exc:
            log.warning("could not write %s: %s", self.layout.sidecar(name), exc.strerror)

    def remove_sidecar(self, name: str) -> None:
        """The job's sidecar goes with it, and so do the temp files of a runner killed while
        writing it (only the claim's holder writes it, and that is us now)."""
        sidecar = self.layout.sidecar(name)
        with contextlib.suppress(OSError):  # informational: a read-only folder is no error
            os.unlink(sidecar)
        remove_temps_of(sidecar)


@contextlib.contextmanager
def _turn_on(directory: str) -> Iterator[None]:
    """An exclusive flock on `directory` for the duration (released by a kill -9 too)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def state_of(result: JobResult) -> str:
    return "completed" if result.status == "COMPLETED" else "failed"


def failure_reason(result: JobResult) -> str:
    if result.validation_error:
        return "validation_error"
    if result.interrupted:
        return "interrupted"
    for clip in result.clips:
        if clip.status == "FAILED" and clip.failure_reason is not None:
            return clip.failure_reason.value
    return "system_error" if result.system_error else "unknown"
