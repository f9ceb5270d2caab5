"""The worker process's loop: take one job at a time from the pipe and run it.

Started by the supervisor's pool through `proxx.runtime.child` (which names this
module's `worker_main` by string); talks only through its own pipe.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

from proxx.contract.protocol import FromWorker, StartJob, WorkerReady, decode_for_worker, encode

from .context import JobContext
from .jobrun import Engines, run_request


def worker_main(conn: Connection) -> None:
    """Entry point of a worker process: the worker loop."""
    context = JobContext(conn)

    def emit(msg: FromWorker) -> None:
        if context.parent_gone:
            return
        try:
            conn.send_bytes(encode(msg))
        except OSError:  # BrokenPipe, reset: the supervisor is gone
            context.parent_gone = True

    engines = Engines()
    engines.warm_up()
    # Ready once warmed up: a worker that cannot even load its engine never says so,
    # and the pool paces its respawns (proxx.runtime.pool).
    emit(WorkerReady(pid=os.getpid()))
    while not context.parent_gone:
        context.idle()
        try:
            msg = decode_for_worker(conn.recv_bytes())
        except (EOFError, OSError):
            return  # supervisor gone: nothing to report to
        if isinstance(msg, StartJob):
            run_request(msg, emit, context, engines)
        # A CancelJob for a job that already finished needs no action.
