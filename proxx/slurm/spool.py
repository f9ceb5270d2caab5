"""The per-job spool file: the worker's protocol messages as JSON lines.

The step appends (and fsyncs) one line per message (`workers.slurm_step`); the supervisor reads what
was added since its last look. Only complete lines count, so a reader never
sees half a message; a line longer than MAX_LINE, or one that does not decode,
is garbage and fails the job (as a garbled pipe would).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from proxx.contract.errors import ProxxError
from proxx.contract.fsutil import NotRegularFile, fit_name, read_regular

MAX_LINE = 1 << 20  # the largest message (a job's planned clips) is far below this
T = TypeVar("T")


class SpoolGarbage(ProxxError):
    """The spool holds something that is not a message: the worker is not to be trusted."""


def spool_path(claim_path: str) -> str:
    """Beside the claim: `running/NAME.json` → `running/.NAME.json.spool` (a dot-file: intake
    and status ignore it; shortened like every name the watch folder derives)."""
    folder, name = os.path.split(claim_path)
    return os.path.join(folder, fit_name(f".{name}", ".spool"))


def revoked_path(claim_path: str) -> str:
    """Where a revoked spool goes: `running/.NAME.json.revoked` (see `revoke`)."""
    folder, name = os.path.split(claim_path)
    return os.path.join(folder, fit_name(f".{name}", ".revoked"))


def revoke(reader: SpoolReader[T], claim_path: str) -> bool:
    """Take the claim away from its step: rename its spool, and keep reading it there.

    A step checks that its spool's path still names the file it writes to (the fence,
    `workers.fence`) before each clip and around each publication; after this it stops
    and publishes nothing more. Lines it wrote before it noticed are still read here.
    Returns False when there was no spool to revoke (the step never wrote one)."""
    target = revoked_path(claim_path)
    if reader.path == target:
        return True
    try:
        os.rename(reader.path, target)
    except FileNotFoundError:
        return False
    reader.path = target
    return True


@dataclass
class SpoolReader(Generic[T]):
    path: str
    decode: Callable[[bytes], T]
    max_line: int = MAX_LINE
    offset: int = 0
    lines: int = 0
    _partial: bytes = field(default=b"", repr=False)

    def read_new(self) -> list[T]:
        """Messages completed since the last call; [] when the file does not exist yet."""
        try:
            # Reopened each time: on NFS a fresh open revalidates the cached size.
            # Without blocking or following a link: a FIFO planted here is refused.
            chunk = read_regular(self.path, self.max_line + 1, self.offset)
        except (FileNotFoundError, NotRegularFile):
            return []
        self.offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > self.max_line:
            raise SpoolGarbage(f"{self.path}: a line longer than {self.max_line} bytes")
        out: list[T] = []
        for raw in complete:
            self.lines += 1
            if len(raw) > self.max_line:
                raise SpoolGarbage(
                    f"{self.path}: line {self.lines} is longer than {self.max_line} bytes"
                )
            try:
                out.append(self.decode(raw))
            except ValueError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SpoolGarbage(
                    f"{self.path}: line {self.lines} is not a worker message: {first}"
                ) from None
        return out

    def read_all_new(self) -> list[T]:
        """Drain: keep reading until the file has nothing more (a burst can exceed one read)."""
        out: list[T] = []
        while True:
            before = self.offset
            out += self.read_new()
            if self.offset == before:
                return out
