"""One Proxx job drives DaVinci Resolve at a time on a host, across every Proxx process.

Resolve is a single application instance with one current project, so two
jobs driving it at once would trample each other's projects and render
queues. An flock on a well-known file serialises them: it holds across
separate `proxx run` and `proxx watch` processes, and the kernel releases it
when the holder dies, so a crashed worker never leaves Resolve locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from proxx.contract.clock import iso, utc_now

from ..context import JobContext

DEFAULT_LOCK_PATH = "/tmp/proxx-resolve.lock"
POLL_S = 0.5
NOTE_EVERY_S = 30.0


class ResolveLock:
    def __init__(self, path: str = DEFAULT_LOCK_PATH) -> None:
        self.path = path
        self._fd: int | None = None
        self._writable = False
        self.held = False

    def try_acquire(self, owner: str) -> bool:
        """Take the lock without blocking; record who holds it for waiters to show."""
        if self.held:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        if self._writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{owner}, since {iso(utc_now())}\n".encode(), 0)
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        if self.held and self._writable:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
        # Closing drops the flock too; reopening per job keeps no stale fd.
        os.close(self._fd)
        self._fd = None
        self.held = False

    def holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                text = fh.read().strip()
        except OSError:
            text = ""
        return text or "another Proxx process"

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        while True:
            try:
                self._fd, self._writable = os.open(self.path, os.O_RDWR), True
            except FileNotFoundError:
                try:
                    # O_EXCL and no O_CREAT on an existing file: Linux's
                    # protected_regular refuses O_CREAT on another user's file in /tmp.
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    continue
                os.fchmod(fd, 0o666)  # every operator account on the host shares it
                self._fd, self._writable = fd, True
            except PermissionError:
                # Someone else's lock file we may not write: flock works read-only.
                self._fd, self._writable = os.open(self.path, os.O_RDONLY), False
            return self._fd


def send_note(context: JobContext, job_id: str, note: str, *, waiting: bool = False) -> None:
    """Tell the supervisor (and so the operator) something about the running job."""
    context.note(note, waiting=waiting)


def acquire(lock: ResolveLock, owner: str, job_id: str, context: JobContext) -> str | None:
    """Wait for the lock (cancellable); None once held, else why the wait was stopped."""
    if lock.try_acquire(owner):
        return None
    waited_from = time.monotonic()
    next_note = waited_from
    while True:
        now = time.monotonic()
        if now >= next_note:
            waiting = (
                "waiting"
                if next_note == waited_from
                else f"still waiting after {now - waited_from:.0f} s"
            )
            send_note(
                context,
                job_id,
                f"{waiting} for DaVinci Resolve, which is in use by "
                f"{lock.holder()} (one Resolve job per host)",
                waiting=True,
            )
            next_note = now + NOTE_EVERY_S
        stop = context.wait(POLL_S)
        if stop is not None:
            return stop
        if lock.try_acquire(owner):
            send_note(
                context,
                job_id,
                f"DaVinci Resolve is free after waiting "
                f"{time.monotonic() - waited_from:.0f} s; rendering",
            )
            return None
