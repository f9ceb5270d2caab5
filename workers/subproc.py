"""Run an external program in its own process group, stoppable at any moment.

The child gets its own process group (so stopping it stops everything it
started) and PR_SET_PDEATHSIG=SIGKILL (so a worker killed with SIGKILL takes
its encoder with it: no orphan survives any kill).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass

from proxx.contract.errors import signal_name
from workers.interrupts import Interrupts

TERM_GRACE_S = 3.0
STDERR_TAIL_BYTES = 4000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@dataclass(frozen=True)
class RunOutcome:
    returncode: int
    stderr_tail: str
    interrupted: str | None  # why it was stopped, if it was
    pgid: int
    stdout: bytes = b""  # only with capture_stdout (at most STDOUT_MAX_BYTES)


STDOUT_MAX_BYTES = 1 << 16


def _die_with_parent(parent_pid: int) -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(137)


def run_in_group(
    argv: list[str],
    interrupts: Interrupts,
    timeout_s: float | None = None,
    *,
    capture_stdout: bool = False,
) -> RunOutcome:
    return collect(start_in_group(argv, capture_stdout=capture_stdout), interrupts, timeout_s)


def start_in_group(argv: list[str], *, capture_stdout: bool = False) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group, dying with this process."""
    parent = os.getpid()
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        process_group=0,
        preexec_fn=lambda: _die_with_parent(parent),  # worker is single-threaded
    )


def collect(
    proc: subprocess.Popen[bytes], interrupts: Interrupts, timeout_s: float | None = None
) -> RunOutcome:
    """Wait for a started process (stoppable, under `timeout_s`), keeping its stderr tail."""
    assert proc.stderr is not None
    out = bytearray()
    tail: deque[bytes] = deque()
    tail_len = 0
    interrupted: str | None = None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    pidfd = os.pidfd_open(proc.pid)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pidfd, selectors.EVENT_READ, "exit")
            sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
            if proc.stdout is not None:
                sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
            for fd in interrupts.fds():
                sel.register(fd, selectors.EVENT_READ, "stop")
            exited = False
            while not exited:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                events = sel.select(wait)
                if deadline is not None and not events and time.monotonic() >= deadline:
                    interrupted = f"timed out after {timeout_s:g} s"
                    _stop_group(proc)
                    exited = True
                for key, _ in events:
                    if key.data == "stdout":
                        assert proc.stdout is not None
                        got = os.read(proc.stdout.fileno(), 65536)
                        if not got:
                            sel.unregister(proc.stdout)
                        out += got[: max(0, STDOUT_MAX_BYTES - len(out))]
                    elif key.data == "stderr":
                        chunk = os.read(proc.stderr.fileno(), 65536)
                        if not chunk:
                            sel.unregister(proc.stderr)
                            continue
                        tail.append(chunk)
                        tail_len += len(chunk)
                        while tail_len - len(tail[0]) > STDERR_TAIL_BYTES:
                            tail_len -= len(tail.popleft())
                    elif key.data == "exit":
                        exited = True
                    elif interrupted is None and interrupts.check() is not None:
                        interrupted = interrupts.reason
                        _stop_group(proc)
                        exited = True
            proc.wait()
            # What is left in the pipes, without waiting for a grandchild that
            # may still hold them open.
            tail.append(_read_available(proc.stderr.fileno()))
            if proc.stdout is not None:
                out += _read_available(proc.stdout.fileno())[: max(0, STDOUT_MAX_BYTES - len(out))]
    finally:
        os.close(pidfd)
        proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()
        _kill_group(proc.pid, signal.SIGKILL)
    text = b"".join(tail).decode("utf-8", "replace")[-STDERR_TAIL_BYTES:].strip()
    return RunOutcome(proc.returncode, text, interrupted, proc.pid, bytes(out))


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
