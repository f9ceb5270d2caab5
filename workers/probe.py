"""The worker behind `proxx probe`: route each file exactly as a job would.

Started through the trampoline like any worker (`proxx.runtime.probing` names
it by string), so a file whose probe hangs (a FIFO, a dead mount) or crashes
libav costs this process, under a deadline, never the command that asked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.connection import Connection

from proxx.content.routing import RouteDecision, route_source
from proxx.contract.protocol import (
    MAX_MESSAGE_BYTES,
    ProbeDecision,
    ProbeFiles,
    WorkerReady,
    encode,
)


def probe_main(conn: Connection, route: Callable[[str], RouteDecision] = route_source) -> None:
    """Say ready, then answer one ProbeFiles with a ProbeDecision per file, each sent as
    soon as it is known (the asker's clock for a file starts at the answer before it)."""
    import proxx.content.libav  # noqa: F401  (PyAV loads before "ready": not on a file's clock)

    conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    request = ProbeFiles.model_validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
    for wired in request.paths:
        decision = route(os.fsdecode(wired.encode("latin-1")))  # any name, byte for byte
        engine = decision.engine.value if decision.engine is not None else None
        conn.send_bytes(encode(ProbeDecision(path=wired, engine=engine, reason=decision.reason)))
