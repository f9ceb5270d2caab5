"""Standard streams that may be closed or broken: what a job did never depends on them.

`proxx run … 2>&-`, `proxx watch` started by a service manager without a stderr,
`proxx run ok.json | true`: a stream that is closed at start, or whose reader goes
away, loses what would have been said on it, never the job or its exit code.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from typing import Any


def ensure_std_fds() -> None:
    """Put /dev/null on any of fds 0–2 that is closed, before anything else opens a file.

    Otherwise the first socket or pipe this process opens takes the free number, and
    whatever is written to "stderr" lands in it (a worker's pipe, a lock file).
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    # Python sets sys.stdout / sys.stderr to None for a stream closed at start.
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=True)  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = io.TextIOWrapper(
            open(2, "wb", closefd=False),  # noqa: SIM115 (fd 2 lives as long as we do)
            errors="backslashreplace",
            write_through=True,
        )


def write_stdout(text: str) -> bool:
    """Write and flush `text` on stdout; False if its reader is gone (EPIPE) or it fails.

    After a failure stdout points at /dev/null, so the interpreter's own flush at exit
    cannot fail again and change the exit code.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError:
        _silence(1)
        return False
    return True


def say(text: str) -> None:
    """A line on stderr for the user; lost, not raised, when stderr is broken."""
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except OSError:
        _silence(2)


def tell(text: str, level: str = "INFO", **fields: Any) -> None:
    """`say` a line for the user: as it is, or under the JSON format a JSON object
    (`user_line`) naming the job where one is involved."""
    from proxx.contract.logs import format_name, user_line

    say(user_line(text, level=level, **fields) if format_name() == "json" else text)


def _silence(fd: int) -> None:
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
