"""Output names held by the jobs that will write them: a duplicate fails at once.

Two jobs that would write the same proxy must never both render (before, both
rendered in full and the loser failed only at publication, keeping a full-size
partial). As soon as a job's plan names its outputs, its runner takes an
exclusive flock on one lock file per output path, in running/ (shared by every
runner on the folder, on any host, like the claims' locks):
`running/.out-<sha256 of the path>.lock`, holding "JOBID NAME". A job that
finds a name held fails at once, naming the job that holds it. A lock dies with
its runner, so a name is never held by a dead job.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat

from proxx.watch.claims import same_inode
from proxx.watch.folder import Layout

# Held read-only: a lock needs no write access, and a runner holding files open for
# writing in the watch root would keep it from being remounted read-only (EBUSY).
_FLAGS = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TRIES = 3  # a lock file unlinked under us by its releasing holder: open it again


class OutputNames:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.held: dict[str, list[tuple[str, int]]] = {}  # job id → (lock path, fd)

    def lock_path(self, output_path: str) -> str:
        digest = hashlib.sha256(output_path.encode("utf-8", "surrogateescape")).hexdigest()
        return os.path.join(self.layout.running, f".out-{digest[:40]}.lock")

    def reserve(self, job_id: str, name: str, outputs: list[str]) -> str | None:
        """Hold every output of the job; None, or why not (and then it holds none)."""
        taken: list[tuple[str, int]] = []
        for output in outputs:
            path = self.lock_path(output)
            got = _lock(path)
            if isinstance(got, str):
                for held_path, fd in taken:
                    _drop(held_path, fd)
                holder = got or "another job"
                return f"output {output} is already being rendered by {holder}"
            taken.append((path, got))
            _say_holder(path, f"job {job_id} ({name})")
        self.held[job_id] = taken
        return None

    def release(self, job_id: str) -> None:
        for path, fd in self.held.pop(job_id, []):
            _drop(path, fd)

    def sweep(self) -> list[str]:
        """Remove the lock files of dead runners (their flock is free); their names.
        A name this runner holds stays: its flock refuses us too (another fd)."""
        with os.scandir(self.layout.running) as it:
            locks = [e.path for e in it if e.name.startswith(".out-") and e.name.endswith(".lock")]
        removed = []
        for path in locks:
            try:
                got = _lock(path, create=False)
            except OSError:
                continue
            if isinstance(got, int):
                _drop(path, got)
                removed.append(os.path.basename(path))
        return removed


def _lock(path: str, *, create: bool = True) -> int | str:
    """The fd holding `path`'s lock, or who holds it (as its file says; "" if unknown)."""
    for _ in range(_TRIES):
        fd = os.open(path, _FLAGS if create else _FLAGS & ~os.O_CREAT, 0o644)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return f"something that is not a lock file at {path}"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            return holder
        if same_inode(fd, path):
            return fd
        os.close(fd)  # released and unlinked meanwhile: take the name afresh
    return ""


def _say_holder(path: str, who: str) -> None:
    """Who holds the lock, written through a short-lived fd of its own (the lock's is
    read-only). Informational: a runner refused the name reads it to say who has it."""
    fd = os.open(path, _WRITE)
    try:
        os.write(fd, who.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _drop(path: str, fd: int) -> None:
    """Unlink while still holding the lock, then let go: whoever opened the old file
    meanwhile sees it is no longer at `path` and opens the new one."""
    try:
        # A read-only root (EROFS) keeps the file but the lock still goes with the fd;
        # a later sweep removes a lock file whose flock is free.
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)
