"""The pictures, frame sizes and hashes of a result's files, read in a worker.

`proxx report` never opens media itself: a worker (`proxx_workers.looks:looks_main`,
named by string) answers one file at a time, each within its own limit (the verify
limit for the clip's length: it may hash the whole proxy). A file that hangs or ends
the worker gets a look saying so, and a fresh worker takes the files after it, as in
`proxx probe` (proxx/runtime/probing.py). A worker that cannot start fails the rest.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection

import pydantic

from proxx.contract import logs
from proxx.contract.deadlines import Deadlines
from proxx.contract.deliverables import FileLook, LookAsk, LookFiles
from proxx.contract.protocol import MAX_MESSAGE_BYTES, WorkerFailing, WorkerReady
from proxx.runtime.probing import wire
from proxx.runtime.procs import describe_exit, end_group
from proxx.runtime.spawn import spawn

LOOKS_TARGET = "proxx_workers.looks:looks_main"
_hello: pydantic.TypeAdapter[WorkerReady | WorkerFailing] = pydantic.TypeAdapter(
    WorkerReady | WorkerFailing
)
_reply: pydantic.TypeAdapter[FileLook | WorkerFailing] = pydantic.TypeAdapter(
    FileLook | WorkerFailing
)
EXIT_S = 2.0


@dataclass(frozen=True)
class Ask:
    path: str
    at: str  # seconds, "num/den"
    seconds: float | None  # the clip's length: scales this file's limit
    sha256: bool = False


class _NoWorker(Exception):
    pass


def look_at(
    asks: list[Ask], *, deadlines: Deadlines | None = None, target: str = LOOKS_TARGET
) -> list[FileLook]:
    """One look per ask, in order, whatever the files do to the workers reading them."""
    deadlines = deadlines or Deadlines()
    looks: list[FileLook] = []
    try:
        while len(looks) < len(asks):
            looks += _one_worker(asks[len(looks) :], deadlines, target)
    except _NoWorker as exc:
        looks += [FileLook(path=a.path, error=str(exc)) for a in asks[len(looks) :]]
    return looks


def _one_worker(asks: list[Ask], deadlines: Deadlines, target: str) -> list[FileLook]:
    """Looks from one worker until it is done, hangs or dies (then: that file's look)."""
    # Its log goes to a file we drop: a worker stuck in the kernel must not hold our
    # stderr, and a look says itself what went wrong.
    with tempfile.TemporaryFile() as errlog:
        try:
            child = spawn(target, 0, logs.level_name(), logs.format_name(), errlog.fileno())
        except OSError as exc:
            raise _NoWorker(f"could not start a worker: {exc}") from None
    conn = Connection(child.sock.detach())
    looks: list[FileLook] = []
    try:
        _ready(conn, deadlines.accept)
        wired = [LookAsk(path=wire(a.path), at=a.at, sha256=a.sha256) for a in asks]
        conn.send_bytes(LookFiles(asks=wired).model_dump_json().encode())
        for ask in asks:
            limit = deadlines.limit("verify", ask.seconds)
            if not conn.poll(limit):
                why = f"no answer within {limit:g} s (a hung mount, a FIFO?); the worker was killed"
                looks.append(FileLook(path=ask.path, error=why))
                break
            reply = _reply.validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
            if isinstance(reply, WorkerFailing):
                looks.append(FileLook(path=ask.path, error=f"the worker failed: {reply.error}"))
                break
            if reply.path != wire(ask.path):
                raise OSError(f"it answered for {reply.path!r}, not {wire(ask.path)!r}")
            looks.append(reply.model_copy(update={"path": ask.path}))
    except (OSError, EOFError, pydantic.ValidationError) as exc:
        if len(looks) < len(asks):
            looks.append(FileLook(path=asks[len(looks)].path, error=_why_ended(child.proc, exc)))
    finally:
        conn.close()
        if len(looks) == len(asks):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=EXIT_S)
        end_group(child.proc, "report worker")
    return looks


def _ready(conn: Connection, limit: float) -> None:
    try:
        if not conn.poll(limit):
            raise _NoWorker(f"the worker did not start within {limit:g} s")
        hello = _hello.validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
    except (EOFError, OSError, pydantic.ValidationError) as exc:
        raise _NoWorker(f"the worker did not start: {exc or type(exc).__name__}") from None
    if isinstance(hello, WorkerFailing):
        raise _NoWorker(f"the worker could not start: {hello.error}")


def _why_ended(proc: subprocess.Popen[bytes], exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        try:
            return f"the worker {describe_exit(proc.wait(timeout=EXIT_S))} on this file"
        except subprocess.TimeoutExpired:
            return "the worker closed its pipe on this file"
    return f"the worker failed on this file: {exc}"
