"""A job's context inside a worker (`JobContext`): its pipe, its id, how it reports
(`emit`, `note()`, `phase()`, `progress()`) and what can stop it.

A worker is told to stop in three ways: a CancelJob message on its pipe, the
pipe closing (the supervisor died), or SIGTERM. Each wakes the same select()
that waits for the engine, so a stop is acted on within milliseconds. Engines
report through `note()` and `phase()`; they never touch the pipe.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from proxx.contract.protocol import (
    CancelJob,
    ClipProgress,
    FromWorker,
    JobNote,
    Phase,
    PhaseStarted,
    decode_for_worker,
)

log = logging.getLogger("proxx.worker")
# A program that just failed may have been signalled by whoever is stopping this job:
# Slurm signals every process of a job, FFmpeg as soon as the worker, and FFmpeg signalled
# while it opens its input exits 1 like any read error. Before a failure is blamed on the
# program, a stop gets this long to arrive (paid only by failures).
SETTLE_S = 0.5
# At most one progress report a second per job: the supervisor's view (and a
# Slurm step's spool file) needs no more, and a burst of engine reports costs
# the render nothing but a comparison.
PROGRESS_INTERVAL_S = 1.0


class JobContext:
    """The running job as its engine sees it: reports go out, stops come in."""

    def __init__(self, conn: Connection | None = None) -> None:
        self.conn = conn
        self.reason: str | None = None
        # The stop asks for the stopped clip's partial render to go (CancelJob).
        self.discard_partial = False
        self.parent_gone = False
        self.job_id = ""
        self._progress_sent = -PROGRESS_INTERVAL_S  # monotonic time of the last report
        # How the running job reports (the pipe, or a Slurm step's spool file).
        self.emit: Callable[[FromWorker], None] = lambda _msg: None
        # A Slurm step's fence (workers.fence): why it lost its job, or None. Asked
        # synchronously around each publication; `fenced` is set by its watch thread.
        self.fence: Callable[[], str | None] | None = None
        self.fenced: str | None = None
        self._sig_r, sig_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(sig_w, False)
        signal.set_wakeup_fd(sig_w, warn_on_full_buffer=False)
        # The handler only records; the select loop reads the wakeup byte.
        signal.signal(signal.SIGTERM, lambda *_: None)
        # Ctrl-C reaches the whole foreground group; the supervisor decides.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def fds(self) -> list[int]:
        conn = [] if self.conn is None or self.parent_gone else [self.conn.fileno()]
        return [*conn, self._sig_r]

    def idle(self) -> None:
        """Wait, with no job, until the pipe has the supervisor's next word (or its end).

        A SIGTERM meanwhile stops nothing (no job runs); it is said and dropped here,
        so it cannot interrupt the next job the moment that starts.
        """
        assert self.conn is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.conn.fileno(), selectors.EVENT_READ)
            sel.register(self._sig_r, selectors.EVENT_READ)
            while not self.conn.poll():
                sel.select()
                if signal.SIGTERM in self._drain():
                    log.warning("SIGTERM received while idle: no job is running, nothing stopped")

    def _drain(self) -> bytes:
        """Every signal byte pending on the wakeup pipe (it holds many)."""
        got = b""
        while True:
            try:
                chunk = os.read(self._sig_r, 512)
            except BlockingIOError:
                return got
            if not chunk:
                return got
            got += chunk

    def check(self) -> str | None:
        """Drain pending stop requests; return the reason once something asked to stop."""
        sigs = self._drain()
        if self.fenced is not None:  # before SIGTERM: the fence's wakeup is a SIGTERM
            self.reason = self.reason or self.fenced
        if signal.SIGTERM in sigs:
            self.reason = self.reason or "worker received SIGTERM"
        while (
            self.reason is None
            and self.conn is not None
            and not self.parent_gone
            and self.conn.poll()
        ):
            try:
                msg = decode_for_worker(self.conn.recv_bytes())
            except (EOFError, OSError):
                self.parent_gone = True
                self.reason = "supervisor process died"
                break
            if isinstance(msg, CancelJob):
                self.reason, self.discard_partial = msg.reason, msg.discard_partial
        return self.reason

    def before_publish(self) -> str | None:
        """The stop request, if any, including a fence lost just now: nothing may be
        published once the step's job was filed without it."""
        if self.fence is not None and self.fenced is None:
            self.fenced = self.fence()
        return self.check()

    def after_publish(self) -> str | None:
        """Why a proxy just published must be taken back (the fence was lost meanwhile)."""
        if self.fence is None:
            return None
        self.fenced = self.fenced or self.fence()
        return self.fenced

    def wait(self, timeout: float) -> str | None:
        """Sleep up to `timeout` seconds, waking at once on a stop request."""
        with selectors.DefaultSelector() as sel:
            for fd in self.fds():
                sel.register(fd, selectors.EVENT_READ)
            sel.select(timeout)
        return self.check()

    def settle(self) -> str | None:
        """After a failure: the stop behind it, if one arrives within SETTLE_S."""
        return self.check() or self.wait(SETTLE_S)

    def note(self, note: str, *, waiting: bool = False) -> None:
        """Tell the supervisor (and so the operator) something about the running job."""
        self.emit(JobNote(job_id=self.job_id, note=note, waiting=waiting))

    def progress(self, index: int, fraction: float, media_seconds: float | None = None) -> bool:
        """Report the running clip's progress, unless one went out less than
        PROGRESS_INTERVAL_S ago (then it is dropped: the next one says more). True if sent."""
        now = time.monotonic()
        if now - self._progress_sent < PROGRESS_INTERVAL_S:
            return False
        self._progress_sent = now
        fraction = min(1.0, max(0.0, fraction))
        media = None if media_seconds is None else max(0.0, media_seconds)
        self.emit(
            ClipProgress(job_id=self.job_id, index=index, fraction=fraction, media_seconds=media)
        )
        return True

    def phase(self, phase: Phase, basis: float | None = None) -> None:
        """The job enters `phase`: the supervisor's deadline for it starts now."""
        self.emit(PhaseStarted(job_id=self.job_id, phase=phase, basis=basis))
