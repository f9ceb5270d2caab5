"""A worker's stderr, relayed to ours in whole lines as it comes, never blocking.

Workers do not write to our stderr directly: one stuck in the kernel (I/O on a
dead mount, deaf to SIGKILL) would hold it open after we are gone, and
whoever reads `proxx run … 2>&1` through a pipe would wait with it. Through a
pipe of its own, a stuck worker holds only that.
"""

from __future__ import annotations

import contextlib
import os
import sys

from proxx.contract.logs import as_records

MAX_LINE = 1 << 16  # a longer line is passed on in pieces rather than buffered


class LogRelay:
    def __init__(self, fd: int, worker_id: int | None = None) -> None:
        self.fd = fd
        self.worker_id = worker_id  # named on its stray lines, under the JSON format
        os.set_blocking(fd, False)
        self._partial = b""

    def pump(self) -> None:
        """Pass on every complete line that has arrived; at EOF, the rest too, and close."""
        while self.fd >= 0:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                return
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            if lines:
                self._write(b"\n".join(lines) + b"\n")
            if len(self._partial) > MAX_LINE:
                self._write(self._partial + b"\n")
                self._partial = b""

    def close(self) -> None:
        """Pass on what is left (a last line without its newline), and let go of the pipe."""
        if self._partial:
            self._write(self._partial + b"\n")
            self._partial = b""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _write(self, data: bytes) -> None:
        # Under the JSON format every line: a worker's own records pass, stray output
        # (a warning, a traceback) is wrapped, naming the worker.
        _write(as_records(data, logger="proxx.worker", worker_id=self.worker_id))


def _write(data: bytes) -> None:
    with contextlib.suppress(OSError, AttributeError):  # a broken or absent stderr
        sys.stderr.flush()  # our own lines first, in the order they were logged
    with contextlib.suppress(OSError):  # a closed stderr loses the lines, not the job
        while data:
            data = data[os.write(2, data) :]
