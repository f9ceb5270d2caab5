"""Listing output folders for `proxx status`, in a child process under a deadline.

Output folders live on other volumes than the watch folder, often network
mounts. A dead one blocks any process that lists it in the kernel, deaf even to
SIGKILL: `proxx status` would hang with it, when it is what an operator runs
to see what is wrong. So the listing runs in a child (`python -P -m
proxx.watch.outscan`, one JSON line per folder as it is listed); a folder that
does not answer within the limit is reported as such, and a fresh child lists
the folders after it. The child only lists names and sizes: which partial
belongs to a finished job is decided by `proxx.watch.status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import subprocess
import sys
import time

from proxx.contract.lifetime import die_with_parent
from proxx.contract.naming import MHL_LOCK, is_mhl_private

FOLDER_S = 5.0  # a local or healthy network folder lists in milliseconds

# (name, size) of each `.*.partial` file in a folder, and of an idle MHL private folder
Listing = list[tuple[str, int]]


def scan(folders: list[str], limit: float = FOLDER_S) -> tuple[dict[str, Listing], list[str]]:
    """Each folder's partial files, and the folders that did not answer within `limit`."""
    listed: dict[str, Listing] = {}
    silent: list[str] = []
    left = list(folders)
    while left:
        listed |= _one_child(left, limit)
        left = [f for f in left if f not in listed]
        if left:
            silent.append(left.pop(0))  # the child was stuck on this one
    return listed, silent


def _one_child(folders: list[str], limit: float) -> dict[str, Listing]:
    child = subprocess.Popen(
        [sys.executable, "-P", "-m", "proxx.watch.outscan", str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # Not our stderr: a child stuck in the kernel would hold it open, and whoever
        # reads `proxx status 2>&1` would wait with it.
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,
    )
    assert child.stdin is not None and child.stdout is not None
    listed: dict[str, Listing] = {}
    try:
        child.stdin.write(json.dumps(folders).encode())
        child.stdin.close()
        for line in _lines(child.stdout.fileno(), limit):
            folder, entries = json.loads(line)
            listed[folder] = [(name, size) for name, size in entries]
    finally:
        _stop(child)
    return listed


def _lines(fd: int, limit: float) -> list[bytes]:
    """Complete lines from `fd` until EOF, or until none came for `limit` seconds."""
    lines: list[bytes] = []
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + limit
        while sel.select(max(0.0, deadline - time.monotonic())):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            if done:
                lines += done
                deadline = time.monotonic() + limit  # each folder gets its own limit
    return lines


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Done or stuck, the child goes; one stuck in the kernel is left behind, not awaited."""
    from proxx.runtime.procs import end_group  # the parent's side only: the child stays light

    end_group(child, "the output-folder lister")
    if child.stdout is not None:
        child.stdout.close()


def _partials(folder: str) -> Listing:
    try:
        with os.scandir(folder) as it:
            # Files only: a job's private folder (`.proxx.JOBID.partial/`) is listed
            # itself when a result names a partial in it. An ASC MHL append's private
            # folder is listed when no append holds the folder's lock (its own died).
            entries = [
                e
                for e in it
                if e.name.startswith(".")
                and e.name.endswith(".partial")
                and (not e.is_dir(follow_symlinks=False) or is_mhl_private(e.name))
            ]
        if any(is_mhl_private(e.name) for e in entries) and not _mhl_idle(folder):
            entries = [e for e in entries if not is_mhl_private(e.name)]
    except OSError:
        return []
    out = []
    for e in sorted(entries, key=lambda e: e.name):
        with contextlib.suppress(OSError):
            size = _bytes_in(e.path) if e.is_dir(follow_symlinks=False) else None
            out.append((e.name, e.stat(follow_symlinks=False).st_size if size is None else size))
    return out


def _bytes_in(folder: str) -> int:
    """The bytes of the files under `folder` (an MHL private folder: a few small ones)."""
    total = 0
    for top, _dirs, files in os.walk(folder):  # links are not followed
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(top, name)).st_size
    return total


def _mhl_idle(folder: str) -> bool:
    """Whether no ASC MHL append is under way in `folder`: its lock file is absent,
    or nobody holds its flock (the holder removes it when done; a killed one leaves
    it unlocked)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(os.path.join(folder, MHL_LOCK), flags)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # a link or worse: not ours to judge, nothing listed
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # a lock taken goes with its descriptor
    return True


def main(parent_pid: int) -> None:
    die_with_parent(parent_pid)  # `proxx status` interrupted: nothing left listing
    for folder in json.load(sys.stdin):
        sys.stdout.write(json.dumps([folder, _partials(folder)]) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]))
