"""`proxx drain FOLDER`: every runner on the folder finishes what it runs, claims
nothing more, and exits 0.

The request is a file in the watch root (`.proxx-drain`), so it reaches every
runner on the folder, on any host sharing it, and survives their restarts
until `proxx drain FOLDER --off` removes it. Runners only look whether the name
exists (`lstat`): they never open it, so nothing put there can block or
redirect them. It is created exclusively and without following links; its text
(who asked, when) is for the person who finds it and is not JSON, so the
misplaced-file check never takes it for a JobSpec.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import platform

from proxx.contract.clock import iso, utc_now

MARKER = ".proxx-drain"


def marker(root: str) -> str:
    return os.path.join(root, MARKER)


def in_force(root: str) -> float | None:
    """When the drain was asked for (the marker's mtime, Unix time), or None."""
    try:
        return os.lstat(marker(root)).st_mtime
    except FileNotFoundError:
        return None


def request(root: str) -> bool:
    """Put the drain in force; False if it already was."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(marker(root), flags, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        who = "unknown"
        with contextlib.suppress(OSError, KeyError):
            who = getpass.getuser()
        fh.write(
            f"drain asked for by {who}@{platform.node()} at {iso(utc_now())}: runners finish "
            "what they run, claim nothing more and exit 0; `proxx drain FOLDER --off` lifts it\n"
        )
    return True


def lift(root: str) -> bool:
    """Lift the drain; False if none was in force."""
    try:
        os.unlink(marker(root))
    except FileNotFoundError:
        return False
    return True
