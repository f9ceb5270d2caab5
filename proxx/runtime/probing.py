"""`proxx probe` in a worker under a deadline: the command never reads media itself.

The worker (`workers.probe:probe_main`, named by string) answers one file at a
time. A file whose answer does not come within the probe limit (a hung mount,
a FIFO behind a concat list) or that ends the worker (a libav crash) gets a
row saying so; a fresh worker takes the files after it. Each file costs at
most its own limit: the rest are still answered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Annotated

import pydantic

from proxx.contract import logs
from proxx.contract.deadlines import Deadlines
from proxx.contract.fsutil import is_utf8
from proxx.contract.protocol import (
    MAX_MESSAGE_BYTES,
    ProbeDecision,
    ProbeFiles,
    WorkerFailing,
    WorkerReady,
    encode,
)
from proxx.runtime.procs import describe_exit, first_error
from proxx.runtime.spawn import Spawned, spawn

PROBE_TARGET = "workers.probe:probe_main"
_reply: pydantic.TypeAdapter[ProbeDecision | WorkerFailing] = pydantic.TypeAdapter(
    Annotated[ProbeDecision | WorkerFailing, pydantic.Field(discriminator="type")]
)
REJECTED = "not probed"
BATCH = 100  # files per worker request: a request stays far below the pipe's frame cap
NOT_UTF8 = "its name is not valid UTF-8, which JobSpecs and results (JSON) cannot carry; rename it"


def probe_files(
    paths: list[str], *, deadlines: Deadlines | None = None, target: str = PROBE_TARGET
) -> list[ProbeDecision]:
    """One decision per path, in order, whatever the files do to the workers probing them."""
    deadlines = deadlines or Deadlines()
    rows: list[ProbeDecision] = []
    for batch in _batches(paths):
        if not is_utf8(batch[0]):
            rows.append(_failed(batch[0], NOT_UTF8))
            continue
        done = 0
        while done < len(batch):
            answered = _one_worker(batch[done:], deadlines, target)
            rows += answered
            done += len(answered)
    return rows


def _batches(paths: list[str]) -> list[list[str]]:
    """Runs of at most BATCH names a worker can be sent; a name JSON cannot carry, alone."""
    out: list[list[str]] = []
    for path in paths:
        if not is_utf8(path):
            out.append([path])
        elif out and is_utf8(out[-1][0]) and len(out[-1]) < BATCH:
            out[-1].append(path)
        else:
            out.append([path])
    return out


def _one_worker(paths: list[str], deadlines: Deadlines, target: str) -> list[ProbeDecision]:
    """Decisions from one worker until it is done, hangs or dies (then: that file's row)."""
    try:
        child = spawn(target, 0, logs.level_name(), logs.format_name())
    except OSError as exc:  # out of processes or memory: say so for each file, loudly
        return [_failed(p, f"could not start a probe worker: {exc}") for p in paths]
    conn = Connection(child.sock.detach())
    rows: list[ProbeDecision] = []
    try:
        _ready(conn, deadlines.accept)
        conn.send_bytes(encode(ProbeFiles(paths=paths)))
        for row in _answers(conn, paths, deadlines.limit("probe", 1)):
            rows.append(row)
    except TimeoutError as exc:  # before OSError: it is one
        why = f"no answer within {exc.args[0]:g} s (a hung mount, a FIFO?); the probe was killed"
        rows.append(_failed(paths[len(rows)], why))
    except (OSError, EOFError, pydantic.ValidationError) as exc:
        rows.append(_failed(paths[len(rows)], _why_ended(child, exc)))
    finally:
        conn.close()
        _stop(child, done=len(rows) == len(paths))
    return rows


def _ready(conn: Connection, limit: float) -> None:
    """The worker's first word: it has started (an interpreter, PyAV) within `limit`."""
    if not conn.poll(limit):
        raise OSError(f"it did not start within {limit:g} s")
    WorkerReady.model_validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))


def _answers(conn: Connection, paths: list[str], limit: float) -> Iterator[ProbeDecision]:
    """Each file's decision, within `limit` of the one before (or of the request)."""
    for path in paths:
        if not conn.poll(limit):
            raise TimeoutError(limit)
        row = _reply.validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
        if isinstance(row, WorkerFailing):  # an exception ended it: its last words
            raise OSError(f"failed on this file: {row.error}")
        if row.path != path:
            raise OSError(f"it answered for {row.path!r}, not {path!r}")
        yield row


def _why_ended(child: Spawned, exc: BaseException) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return f"the probe worker sent an invalid message ({first_error(exc)})"
    if isinstance(exc, EOFError):
        code = child.proc.wait()  # its pipe closed: it is ending, or has
        return f"the probe worker {describe_exit(code)} while probing this file"
    return f"the probe worker failed: {exc}"  # did not start, or answered out of turn


def _failed(path: str, why: str) -> ProbeDecision:
    return ProbeDecision(path=path, engine=None, reason=f"{REJECTED}: {why}")


def _stop(child: Spawned, *, done: bool) -> None:
    """A worker that answered everything exits by itself; any other loses its whole group."""
    if done:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=2.0)
    if child.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
