"""Worker targets for tests/test_listing.py (named `tests.listing_workers:NAME`; the test
puts the repository on PYTHONPATH so the trampoline can import them)."""

from __future__ import annotations

import os
import signal
import time
from multiprocessing.connection import Connection

from proxx.contract.protocol import WorkerReady, encode


def die_on_job(conn: Connection) -> None:
    """A pool worker that is killed (SIGKILL) the moment it takes a job, before a word."""
    conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    conn.recv_bytes()
    os.kill(os.getpid(), signal.SIGKILL)


def hang(conn: Connection) -> None:
    """A lister that never answers (a JobSpec on a hung mount looks like this)."""
    conn.recv_bytes()
    time.sleep(3600)
