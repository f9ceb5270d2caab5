"""The first code every worker process runs: `python -P -m proxx.runtime.child …`.

A trampoline in the spirit of uvicorn's `_subprocess.py`: it ties the child's
life to its parent's (PR_SET_PDEATHSIG), sets logging up in the child with the
values the parent passed, imports the worker entry point *by name* (so
`proxx/` never imports `workers/`), and turns an exception that would end the
worker into last words on the pipe, so the supervisor can say why it died.

`-P` and a working directory of `/` mean nothing in the directory the runner
was started from (a `proxx/` folder, a stray `.py`) can shadow the package.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection

from proxx.contract import logs
from proxx.contract.lifetime import die_with_parent
from proxx.contract.protocol import WorkerFailing, encode

log = logging.getLogger("proxx.runtime.child")


def last_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def main(argv: list[str]) -> None:
    target, fd, worker_id, parent_pid, level, fmt = argv
    die_with_parent(int(parent_pid))
    # Ctrl-C reaches a terminal's whole foreground group; the supervisor decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent holding its stop signals (proxx.runtime.signals.hold_stops) passed
    # that mask on: this process decides for itself.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    logs.setup(level, fmt)
    logs.set_context(worker_id=int(worker_id))
    conn = Connection(int(fd))
    module, _, name = target.partition(":")
    try:
        entry = getattr(importlib.import_module(module), name)
        entry(conn)
    except SystemExit:
        raise
    except BaseException as exc:
        words = last_line(exc)
        # One line at ERROR (the pool says once why workers keep dying); the whole
        # traceback at DEBUG, so a worker that cannot boot does not flood the log.
        log.error("worker %s is dying: %s", worker_id, words)
        log.debug("worker %s traceback:\n%s", worker_id, traceback.format_exc())
        with contextlib.suppress(OSError):
            conn.send_bytes(encode(WorkerFailing(error=words[:2000])))
        os._exit(1)
    # Done (the pipe closed): skip the interpreter's teardown of PyAV and friends,
    # ~0.1 s that `proxx run` would otherwise wait for. Logs are flushed first.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
