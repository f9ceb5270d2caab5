"""Run an external program in its own process group, stoppable at any moment.

The child gets its own process group (so stopping it stops everything it
started) and PR_SET_PDEATHSIG=SIGKILL (so a worker killed with SIGKILL takes
its encoder with it: no orphan survives any kill).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from proxx.contract.errors import signal_name
from proxx.contract.lifetime import die_with_parent

from .context import JobContext

TERM_GRACE_S = 3.0
STDERR_TAIL_BYTES = 4000


@dataclass(frozen=True)
class RunOutcome:
    returncode: int
    stderr_tail: str
    interrupted: str | None  # why it was stopped, if it was
    pgid: int
    stdout: bytes = b""  # only with capture_stdout (at most STDOUT_MAX_BYTES)


STDOUT_MAX_BYTES = 1 << 16


def run_in_group(
    argv: list[str],
    context: JobContext,
    timeout_s: float | None = None,
    *,
    capture_stdout: bool = False,
    on_stdout: Callable[[bytes], None] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> RunOutcome:
    """Run `argv` to its end; `on_stdout` gets its stdout as it comes (then none is kept)."""
    proc = start_in_group(
        argv, capture_stdout=capture_stdout or on_stdout is not None, pass_fds=pass_fds
    )
    return collect(proc, context, timeout_s, on_stdout=on_stdout)


def start_in_group(
    argv: list[str], *, capture_stdout: bool = False, pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group, dying with this process; `pass_fds` stay open
    in it at the same numbers (the job's private folder: workers/private.py)."""
    parent = os.getpid()
    return subprocess.Popen(
        argv,
        pass_fds=pass_fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        process_group=0,
        preexec_fn=lambda: die_with_parent(parent),  # worker is single-threaded
    )


def collect(
    proc: subprocess.Popen[bytes],
    context: JobContext,
    timeout_s: float | None = None,
    *,
    on_stdout: Callable[[bytes], None] | None = None,
) -> RunOutcome:
    """Wait for a started process (stoppable, under `timeout_s`), keeping its stderr tail."""
    assert proc.stderr is not None
    output = _Output(on_stdout)
    pidfd = os.pidfd_open(proc.pid)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pidfd, selectors.EVENT_READ, "exit")
            watch = _Watch(proc, sel, output, context)
            interrupted = watch.until_exit(timeout_s)
            proc.wait()
            output.drain(proc)
    finally:
        os.close(pidfd)
        proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()
        _kill_group(proc.pid, signal.SIGKILL)
    return RunOutcome(
        proc.returncode, output.stderr_text(), interrupted, proc.pid, bytes(output.out)
    )


class _Output:
    """What a child wrote: its stdout (up to STDOUT_MAX_BYTES) and the tail of its stderr."""

    def __init__(self, on_stdout: Callable[[bytes], None] | None = None) -> None:
        self.out = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.on_stdout = on_stdout

    def add_stdout(self, data: bytes) -> None:
        if self.on_stdout is not None:
            self.on_stdout(data)
        else:
            self.out += data[: max(0, STDOUT_MAX_BYTES - len(self.out))]

    def add_stderr(self, chunk: bytes) -> None:
        # Whole chunks are dropped from the front while the rest still holds a full tail.
        self.tail.append(chunk)
        self.tail_len += len(chunk)
        while self.tail_len - len(self.tail[0]) > STDERR_TAIL_BYTES:
            self.tail_len -= len(self.tail.popleft())

    def drain(self, proc: subprocess.Popen[bytes]) -> None:
        """What is left in the pipes, without waiting for a grandchild that may still
        hold them open."""
        assert proc.stderr is not None
        self.tail.append(_read_available(proc.stderr.fileno()))
        if proc.stdout is not None:
            self.add_stdout(_read_available(proc.stdout.fileno()))

    def stderr_text(self) -> str:
        return b"".join(self.tail).decode("utf-8", "replace")[-STDERR_TAIL_BYTES:].strip()


class _Watch:
    """One select loop over a child's exit, its pipes and the stop requests."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        sel: selectors.BaseSelector,
        output: _Output,
        context: JobContext,
    ) -> None:
        self.proc, self.sel, self.output, self.context = proc, sel, output, context
        assert proc.stderr is not None
        sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        if proc.stdout is not None:
            sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        for fd in context.fds():
            sel.register(fd, selectors.EVENT_READ, "stop")

    def until_exit(self, timeout_s: float | None) -> str | None:
        """Read the pipes until the child exits or is stopped; why it was stopped, if it was."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = self.sel.select(wait)
            if deadline is not None and not events and time.monotonic() >= deadline:
                _stop_group(self.proc)
                return f"timed out after {timeout_s:g} s"
            exited, interrupted = self.handle([key for key, _ in events])
            if exited:
                return interrupted

    def handle(self, keys: list[selectors.SelectorKey]) -> tuple[bool, str | None]:
        """Act on one select's events: (the child is gone, why it was stopped if it was)."""
        exited, interrupted = False, None
        for key in keys:
            if key.data == "exit":
                exited = True
            elif key.data == "stop":
                if interrupted is None and self.context.check() is not None:
                    interrupted = self.context.reason
                    _stop_group(self.proc)
                    exited = True
            else:
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    self.sel.unregister(key.fileobj)
                elif key.data == "stdout":
                    self.output.add_stdout(chunk)
                else:
                    self.output.add_stderr(chunk)
        return exited, interrupted


def _read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the group, give it a grace period, then KILL."""
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def describe_exit(returncode: int) -> str:
    return f"killed by {signal_name(-returncode)}" if returncode < 0 else f"exit code {returncode}"
