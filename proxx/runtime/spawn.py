"""Starting a worker process, with the standard library only.

Kept free of heavy imports so that `proxx run` and `proxx validate` can start
their one worker before the CLI has imported pydantic and the rest: the
worker's own start-up (an interpreter, its imports) then overlaps the CLI's
(`prespawn`, called from `proxx.cli.main`). The pool adopts that process when
it asks for the same worker (`take`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Spawned:
    target: str
    worker_id: int
    log_level: str
    log_format: str
    proc: subprocess.Popen[bytes]
    sock: socket.socket


WORKER_TARGET = "proxx_workers.main:worker_main"  # by name: proxx/ never imports workers/
_early: Spawned | None = None


def spawn(
    target: str, worker_id: int, log_level: str, log_format: str, stderr: int | None = None
) -> Spawned:
    """`python -P -m proxx.runtime.child …` with its end of a socket pair.

    `-X utf8`: names are read as UTF-8 even under `LC_ALL=C`, as the supervisor reads
    them. `-P` and a working directory of `/`: nothing in the directory the runner
    was started from can shadow the package. Its own process group: a
    terminal's Ctrl-C is the supervisor's to act on, and a deadline can kill
    the worker's whole group at once.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    argv = [
        sys.executable,
        "-P",
        "-X",
        "utf8",  # file names as UTF-8 whatever the locale (proxx.cli.main says why)
        "-m",
        "proxx.runtime.child",
        target,
        str(theirs.fileno()),
        str(worker_id),
        str(os.getpid()),
        log_level,
        log_format,
    ]
    try:
        proc = subprocess.Popen(
            argv,
            pass_fds=(theirs.fileno(),),
            cwd="/",
            stdin=subprocess.DEVNULL,
            # Never our stdout (a worker prints nothing; result JSON is ours to print),
            # so a worker stuck in the kernel cannot hold a pipe reading it open.
            stdout=subprocess.DEVNULL,
            stderr=stderr,  # None: ours (its log lines go where this process's go)
            process_group=0,
        )
    finally:
        theirs.close()
    return Spawned(target, worker_id, log_level, log_format, proc, ours)


def prespawn(target: str, log_level: str, log_format: str) -> None:
    """Start worker 0 now, for a pool of one that will ask for it shortly."""
    global _early
    _early = spawn(target, 0, log_level, log_format, stderr=subprocess.PIPE)


def take(target: str, worker_id: int, log_level: str, log_format: str) -> Spawned | None:
    """The prespawned worker if it is the one asked for (else it is let go)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if (early.target, early.worker_id, early.log_level, early.log_format) == (
        target,
        worker_id,
        log_level,
        log_format,
    ) and early.proc.poll() is None:
        return early
    early.sock.close()  # not what is wanted: it exits on EOF (or with us)
    return None
