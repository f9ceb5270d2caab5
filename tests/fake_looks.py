"""A `proxx report` worker that misbehaves on cue, for tests/test_report.py.

Started by name like the real one (`tests.fake_looks:misbehave`, with the checkout on
PYTHONPATH): it answers as workers/looks.py does, except that it hangs on a file
whose name contains HANG and kills itself with SIGSEGV on one whose name has CRASH.
"""

from __future__ import annotations

import os
import signal
import time
from multiprocessing.connection import Connection

from proxx.contract.deliverables import LookFiles
from proxx.contract.protocol import MAX_MESSAGE_BYTES, WorkerReady, encode
from workers.looks import look


def misbehave(conn: Connection) -> None:
    conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    request = LookFiles.model_validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
    for ask in request.asks:
        if "HANG" in ask.path:
            while True:
                time.sleep(3600)
        if "CRASH" in ask.path:
            os.kill(os.getpid(), signal.SIGSEGV)
        conn.send_bytes(look(ask).model_dump_json().encode())
