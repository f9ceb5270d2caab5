"""One object per worker process: start, send, read framed messages, kill, describe its exit.

The model is uvicorn's `_subprocess.py`/`Process`: the entry point is passed
in by name, the child is started through a trampoline (`proxx.runtime.child`) that
sets logging up there. The child is a plain `subprocess` of this process
(not a multiprocessing forkserver child) so that PR_SET_PDEATHSIG ties it to
us: no worker, forkserver or resource tracker outlives a `proxx run` or
`proxx watch`, however it ends (SIGKILL included).

Reading never blocks: bytes are read as they come and only complete frames
are decoded, so a worker writing garbage can stall nothing but its own job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import time

import pydantic

from proxx.contract.clock import iso, utc_now
from proxx.contract.errors import signal_name
from proxx.contract.protocol import MAX_MESSAGE_BYTES, FromWorker, decode_for_supervisor, encode
from proxx.runtime.relay import LogRelay
from proxx.runtime.spawn import spawn, take

log = logging.getLogger("proxx.runtime.procs")
# After SIGKILL a process ends within milliseconds, unless it is blocked in the
# kernel (uninterruptible I/O: a dead NFS or FUSE mount); then nothing ends it.
UNKILLABLE_S = 5.0
_HEADER = struct.Struct("!i")  # multiprocessing.connection's framing, as the child writes it


class WorkerProcess:
    def __init__(self, worker_id: int, target: str, log_level: str, log_format: str) -> None:
        self.worker_id = worker_id
        self.target = target
        self.log_level = log_level
        self.log_format = log_format
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.pidfd = -1
        self.started_at = ""
        self.ready = False
        self.eof = False
        self.broken: str | None = None  # why its stream can no longer be trusted
        self.killed_at: float | None = None  # monotonic time of our SIGKILL
        self.relay: LogRelay | None = None  # its stderr, passed on to ours
        self._buf = bytearray()

    # -- life ------------------------------------------------------------------------
    def start(self) -> None:
        args = (self.target, self.worker_id, self.log_level, self.log_format)
        child = take(*args) or spawn(*args, stderr=subprocess.PIPE)
        self.proc, self.sock = child.proc, child.sock
        err = self.proc.stderr
        self.relay = LogRelay(os.dup(err.fileno()), self.worker_id) if err is not None else None
        if err is not None:
            err.close()  # the relay holds its own descriptor
        self.sock.setblocking(False)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.started_at = iso(utc_now())
        self.ready = self.eof = False
        self.broken = None
        self.killed_at = None
        self._buf.clear()
        log.debug("worker %d started (pid %d)", self.worker_id, self.proc.pid)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def fds(self) -> list[int]:
        """What a wait() should watch: the socket (until EOF) and the exit."""
        out = [self.pidfd] if self.pidfd >= 0 else []
        if self.sock is not None and not self.eof:
            out.append(self.sock.fileno())
        if self.relay is not None and self.relay.fd >= 0:
            out.append(self.relay.fd)
        return out

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def describe_exit(self) -> str:
        code = self.exit_code()
        if code is None:
            return "is still running"
        return describe_exit(code)

    def kill(self) -> None:
        """SIGKILL the worker's process group; its own children die by PDEATHSIG."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.killed_at = self.killed_at or time.monotonic()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def unkillable(self, now: float) -> bool:
        """Still alive UNKILLABLE_S after our SIGKILL: stuck in the kernel (a dead mount)."""
        return (
            self.killed_at is not None
            and now - self.killed_at > UNKILLABLE_S
            and self.exit_code() is None
        )

    def close(self, grace: float = 0.5) -> None:
        """Close the pipe (an idle worker exits on EOF), then kill what is left.

        A worker SIGKILL cannot end (stuck in the kernel) is left behind after
        UNKILLABLE_S, said once: waiting for it could take forever.
        """
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
                end_group(self.proc, f"worker {self.worker_id}")
        if self.relay is not None:
            self.relay.pump()  # its last lines (to EOF, if it has ended)
            self.relay.close()
            self.relay = None
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def detach(self) -> subprocess.Popen[bytes] | None:
        """Let go of a worker that cannot be ended: its pipe and pidfd close, and the
        caller keeps the process to reap once its I/O returns."""
        proc, self.proc = self.proc, None
        self.close(grace=0)
        return proc

    def reap(self) -> None:
        """After death: release the pipe and the pidfd (the exit code stays readable)."""
        if self.proc is not None:
            self.proc.wait()  # it has exited (exit_code() said so): this returns at once
        self.close(grace=0)

    # -- messages ----------------------------------------------------------------------
    def send(self, msg: pydantic.BaseModel) -> bool:
        if self.sock is None:
            return False
        data = encode(msg)  # type: ignore[arg-type]
        try:
            # Small messages into an empty socket buffer: this does not block.
            self.sock.setblocking(True)
            self.sock.settimeout(5.0)
            self.sock.sendall(_HEADER.pack(len(data)) + data)
            return True
        except OSError as exc:
            log.warning("worker %d: could not send %s: %s", self.worker_id, type(msg).__name__, exc)
            return False
        finally:
            if self.sock is not None:
                self.sock.setblocking(False)

    def read(self) -> list[FromWorker]:
        """Every complete message that has arrived, up to a broken frame if any.

        After a broken frame `broken` says what was wrong; the messages before
        it still count (a job's last good words are kept).
        """
        if self.relay is not None:
            self.relay.pump()
        if self.sock is None or self.eof or self.broken is not None:
            return []
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # reset by a dying worker
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self._buf += chunk
            if len(self._buf) > 4 * MAX_MESSAGE_BYTES:
                break  # decode what is there first; the rest next time
        return self._frames()

    def _frames(self) -> list[FromWorker]:
        out: list[FromWorker] = []
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if size < 0 or size > MAX_MESSAGE_BYTES:
                self.broken = f"worker's pipe is unreadable (a frame of {size} bytes)"
                break
            if len(self._buf) < _HEADER.size + size:
                break
            data = bytes(self._buf[_HEADER.size : _HEADER.size + size])
            del self._buf[: _HEADER.size + size]
            try:
                out.append(decode_for_supervisor(data))
            except pydantic.ValidationError as exc:
                self.broken = f"worker sent an invalid message ({first_error(exc)})"
                break
        return out


def end_group(proc: subprocess.Popen[bytes], what: str) -> bool:
    """SIGKILL `proc`'s process group and wait for it, UNKILLABLE_S at most.

    False (and said once) when it is stuck in the kernel: waiting could take
    forever, so it is left behind; it goes when its I/O returns.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(UNKILLABLE_S)
        return True
    except subprocess.TimeoutExpired:
        log.error(
            "%s (pid %d) did not die %g s after SIGKILL: it is stuck in the kernel "
            "(I/O on a dead mount?); left behind",
            what,
            proc.pid,
            UNKILLABLE_S,
        )
        return False


def describe_exit(code: int) -> str:
    return f"was killed by {signal_name(-code)}" if code < 0 else f"exited with code {code}"


def first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
