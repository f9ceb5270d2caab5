"""`proxx probe` in a worker under a deadline: the command never reads media itself.

The worker (`workers.probe:probe_main`, named by string) answers one file at a
time. A file whose answer does not come within the probe limit (a hung mount,
a FIFO behind a concat list) or that ends the worker (a libav crash) gets a
row saying so; a fresh worker takes the files after it. Each file costs at
most its own limit: the rest are still answered. A worker that cannot start at
all (or say it has) fails the files left at once: another would fare no better.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import IO, Annotated

import pydantic

from proxx.contract import logs
from proxx.contract.deadlines import Deadlines
from proxx.contract.protocol import (
    MAX_MESSAGE_BYTES,
    ProbeDecision,
    ProbeFiles,
    WorkerFailing,
    WorkerReady,
    encode,
)
from proxx.runtime.procs import describe_exit, end_group, first_error
from proxx.runtime.spawn import Spawned, spawn

PROBE_TARGET = "proxx_workers.probe:probe_main"
_hello: pydantic.TypeAdapter[WorkerReady | WorkerFailing] = pydantic.TypeAdapter(
    Annotated[WorkerReady | WorkerFailing, pydantic.Field(discriminator="type")]
)
_reply: pydantic.TypeAdapter[ProbeDecision | WorkerFailing] = pydantic.TypeAdapter(
    Annotated[ProbeDecision | WorkerFailing, pydantic.Field(discriminator="type")]
)
REJECTED = "not probed"
BATCH_FILES = 100  # files per worker request
BATCH_BYTES = 256 * 1024  # a request's encoded paths: far below the pipe's frame cap
PATH_MAX = 4096  # Linux: no longer path can be opened, so none is sent
EXIT_S = 2.0  # a worker that has answered everything exits within this
log = logging.getLogger("proxx.probe")


class _NoWorker(Exception):
    """No probe worker could start (or say it had): every file left is told why."""


def probe_files(
    paths: list[str], *, deadlines: Deadlines | None = None, target: str = PROBE_TARGET
) -> list[ProbeDecision]:
    """One decision per path, in order, whatever the files do to the workers probing them."""
    deadlines = deadlines or Deadlines()
    rows: list[ProbeDecision] = []
    try:
        for batch in _batches(paths):
            if _too_long(batch[0]):  # such a path is a batch of its own
                rows.append(_failed(batch[0], f"the path is longer than {PATH_MAX} bytes"))
                continue
            while batch:
                answered = _one_worker(batch, deadlines, target)
                rows += answered
                batch = batch[len(answered) :]
    except _NoWorker as exc:  # the next worker would fare no better: say so for the rest
        rows += [_failed(p, str(exc)) for p in paths[len(rows) :]]
    return rows


def wire(path: str) -> str:
    """A path as the pipe carries it: its bytes as Latin-1 text, lossless for any name."""
    return os.fsencode(path).decode("latin-1")


def _batches(paths: list[str]) -> list[list[str]]:
    """Runs of paths one request carries (by count and encoded size); an over-long path
    stands alone."""
    out: list[list[str]] = []
    size = 0
    for path in paths:
        cost = len(json.dumps(wire(path)))
        full = not out or len(out[-1]) >= BATCH_FILES or size + cost > BATCH_BYTES
        if full or _too_long(path) or _too_long(out[-1][0]):
            out.append([path])
            size = cost
        else:
            out[-1].append(path)
            size += cost
    return out


def _too_long(path: str) -> bool:
    return len(os.fsencode(path)) > PATH_MAX


def _one_worker(paths: list[str], deadlines: Deadlines, target: str) -> list[ProbeDecision]:
    """Decisions from one worker until it is done, hangs or dies (then: that file's row)."""
    # Its log lines go through a file, copied to our stderr when it is done: a worker
    # stuck in the kernel must not hold our stderr open (a pipe reading `proxx probe
    # 2>&1` would wait with it).
    with tempfile.TemporaryFile() as errlog:
        try:
            return _converse(paths, deadlines, target, errlog.fileno())
        finally:
            _copy_to_stderr(errlog)


def _converse(
    paths: list[str], deadlines: Deadlines, target: str, stderr: int
) -> list[ProbeDecision]:
    try:
        child = spawn(target, 0, logs.level_name(), logs.format_name(), stderr)
    except OSError as exc:  # out of processes or memory
        raise _NoWorker(f"could not start a probe worker: {exc}") from None
    conn = Connection(child.sock.detach())
    rows: list[ProbeDecision] = []
    try:
        _ready(conn, deadlines.accept, child)
        conn.send_bytes(encode(ProbeFiles(paths=[wire(p) for p in paths])))
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


def _copy_to_stderr(errlog: IO[bytes]) -> None:
    errlog.seek(0)
    if data := errlog.read():
        sys.stderr.flush()
        data = logs.as_records(data, logger="proxx.probe")
        with contextlib.suppress(OSError):  # a closed stderr loses the lines, not the probe
            while data:
                data = data[os.write(2, data) :]


def _ready(conn: Connection, limit: float, child: Spawned) -> None:
    """The worker's first word, within `limit`: ready, or why it could not start."""
    try:
        if not conn.poll(limit):
            raise _NoWorker(f"the probe worker did not start within {limit:g} s")
        hello = _hello.validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
    except EOFError:
        raise _NoWorker(f"the probe worker {_ended(child)} while starting") from None
    except (OSError, pydantic.ValidationError) as exc:
        raise _NoWorker(f"the probe worker did not start: {exc}") from None
    if isinstance(hello, WorkerFailing):
        raise _NoWorker(f"the probe worker could not start: {hello.error}")


def _answers(conn: Connection, paths: list[str], limit: float) -> Iterator[ProbeDecision]:
    """Each file's decision, within `limit` of the one before (or of the request)."""
    for path in paths:
        if not conn.poll(limit):
            raise TimeoutError(limit)
        row = _reply.validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
        if isinstance(row, WorkerFailing):  # an exception ended it: its last words
            raise OSError(f"failed on this file: {row.error}")
        if row.path != wire(path):
            raise OSError(f"it answered for {row.path!r}, not {wire(path)!r}")
        yield row.model_copy(update={"path": path})


def _why_ended(child: Spawned, exc: BaseException) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return f"the probe worker sent an invalid message ({first_error(exc)})"
    if isinstance(exc, EOFError):  # its pipe closed: it is ending, or has
        return f"the probe worker {_ended(child)} while probing this file"
    return f"the probe worker failed: {exc}"  # answered out of turn, or its last words


def _ended(child: Spawned) -> str:
    try:
        return describe_exit(child.proc.wait(timeout=EXIT_S))
    except subprocess.TimeoutExpired:
        return "closed its pipe"


def _failed(path: str, why: str) -> ProbeDecision:
    return ProbeDecision(path=path, engine=None, reason=f"{REJECTED}: {why}")


def _stop(child: Spawned, *, done: bool) -> None:
    """A worker that answered everything exits by itself; any other loses its group."""
    if done:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=EXIT_S)
    end_group(child.proc, "probe worker")
