"""Processes and polling for the integration tests.

Each supervisor is started in a new session (integration/watch_helpers.py), so
every process it ever started — even one orphaned by a kill -9 — is found by
its session id in /proc, and nothing is looked up by name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

DEADLINE_S = 90.0  # a test deadline only, never a claim about speed
# How long a worker may take to notice its supervisor died and stop its FFmpeg
# (it wakes on the pipe's EOF at once; FFmpeg gets TERM, then KILL after 3 s).
# Generous, yet well below the time FFmpeg needs to finish a long clip on its own.
DEATH_NOTICE_S = 15.0
T = TypeVar("T")


# -- /proc ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    sid: int
    state: str
    argv: list[str]


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    argv = [_through_fd(pid, a.decode(errors="replace")) for a in raw.split(b"\0") if a]
    return ProcInfo(pid, int(fields[1]), int(fields[3]), fields[0], argv)


def _through_fd(pid: int, arg: str) -> str:
    """`/dev/fd/N/NAME` (how FFmpeg is told where to write) as the path it reaches."""
    if not arg.startswith("/dev/fd/"):
        return arg
    fd, _, rest = arg.removeprefix("/dev/fd/").partition("/")
    try:
        folder = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return arg
    return os.path.join(folder, rest) if rest else folder


def all_procs() -> list[ProcInfo]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None and info.state != "Z":
                out.append(info)
    return out


def session_procs(sid: int) -> list[ProcInfo]:
    """Live (non-zombie) processes of session `sid`, the supervisor's own included."""
    return [p for p in all_procs() if p.sid == sid]


def ffmpeg_procs(fragment: str) -> list[ProcInfo]:
    """Live FFmpeg processes whose command line mentions `fragment` (e.g. a tmp path)."""
    return [
        p
        for p in all_procs()
        if p.argv
        and os.path.basename(p.argv[0]) in ("ffmpeg", "ffprobe")
        and any(fragment in a for a in p.argv)
    ]


def is_python(info: ProcInfo) -> bool:
    return bool(info.argv) and "python" in os.path.basename(info.argv[0])


# -- polling --------------------------------------------------------------------------
def wait_for(
    predicate: Callable[[], T],
    what: str,
    timeout: float = DEADLINE_S,
    interval: float = 0.05,
    on_fail: Callable[[], str] | None = None,
) -> T:
    """Poll until `predicate()` is truthy; fail the test (saying `what`) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{on_fail()}" if on_fail else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def assert_no_ffmpeg(fragment: str, timeout: float = 30.0) -> None:
    """No FFmpeg mentioning `fragment` survives (given time to notice a death)."""
    wait_for(
        lambda: not ffmpeg_procs(fragment),
        f"no FFmpeg running on {fragment}",
        timeout=timeout,
        on_fail=lambda: "\n".join(" ".join(p.argv) for p in ffmpeg_procs(fragment)),
    )


def assert_gone(pids: list[int], what: str, timeout: float = DEATH_NOTICE_S) -> None:
    """Each of `pids` has exited (or is a zombie) within `timeout`."""

    def alive() -> list[ProcInfo]:
        return [p for p in map(proc_info, pids) if p is not None and p.state != "Z"]

    wait_for(
        lambda: not alive(),
        what,
        timeout=timeout,
        on_fail=lambda: "\n".join(f"{p.pid} {' '.join(p.argv)[:150]}" for p in alive()),
    )
