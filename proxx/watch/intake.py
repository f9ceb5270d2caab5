"""Intake: which JobSpecs in pending/ are ready, and claiming them.

A file copied into pending/ is taken once it is complete (a JSON object whose braces
close at its end) or has sat unchanged for the settle interval: the intake looks at
its last bytes only, never parses it. Ready names are claimed in sorted order with
the lock-then-rename of `proxx.watch.claims`; an entry that cannot be a JobSpec file
(a link, a FIFO, a name that is not UTF-8) becomes a refusal the clerk files.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from proxx.contract.fsutil import is_utf8, read_regular
from proxx.watch.claims import Claim, claim
from proxx.watch.folder import Layout, is_candidate

SETTLE_S = 2.0  # a JobSpec copied in place must sit unchanged this long before we take it
# The most intake looks at to see whether a copy is complete (a JobSpec is ~1 kB);
# a larger file is taken once its size and mtime have been stable for SETTLE_S.
PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Refusal:
    """A pending entry no result can be filed for as a JobSpec (a link, a FIFO, …)."""

    path: str
    why: str


@dataclass
class Intake:
    """pending/ → running/: what is ready, in sorted order, claimed or refused.

    Owns the one fact the loop's `--once` and drain decisions need: whether anything
    is still pending after a pass (`pending_left`), however the pass ended.
    """

    layout: Layout
    settle_s: float = SETTLE_S
    pending_left: bool = True  # until the first pass has looked
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    # pending/ opened once (Layout.open_pending): every look and claim is by name in
    # it, so a pending/ swapped for a link between two loops is never read through.
    _dir_fd: int | None = None

    @property
    def dir_fd(self) -> int:
        if self._dir_fd is None:
            self._dir_fd = self.layout.open_pending()
        return self._dir_fd

    def close(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def ready_names(self, room: Callable[[], bool]) -> Iterator[str]:
        """Pending names ready to be taken, in order, while `room()` says so.

        A name not ready yet, or left because there was no room, keeps `pending_left`
        true for the loop's `--once` decision, however many names after it are taken.
        """
        names = self.scan()
        self.pending_left = bool(names)
        waiting = False
        for name in names:
            if not room():
                return  # pending_left stays true: this name and any after it remain
            if self.ready(name):
                yield name
            else:
                waiting = True
        self.pending_left = waiting

    def take(self, name: str) -> Claim | Refusal | None:
        """Claim `name` (lock, then rename into running/), or refuse an entry that cannot
        be a JobSpec file; None when another runner claimed it first."""
        path = os.path.join(self.layout.pending, name)
        why = not_a_jobspec_file(path, dir_fd=self.dir_fd)
        if why is not None:
            return Refusal(path, why)
        return claim(path, self.layout.running, dir_fd=self.dir_fd)

    def scan(self) -> list[str]:
        with os.scandir(self.dir_fd) as it:
            names = sorted(e.name for e in it if is_candidate(e.name))
        live = set(names)
        for gone in [n for n in self._seen if n not in live]:
            del self._seen[gone]
        return names

    def ready(self, name: str) -> bool:
        """A file is taken once it is a complete JSON object, or has sat unchanged long enough.

        A partly written JSON object never ends in `}` after its last byte of
        whitespace, so a complete-looking one can be taken at once; anything
        else waits for the settle interval. Parsing is the worker's: this only
        looks at the file's last bytes.
        """
        path = os.path.join(self.layout.pending, name)  # as logged; read by name in dir_fd
        try:
            st = os.lstat(name, dir_fd=self.dir_fd)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(st.st_mode):
            return True  # a directory, symlink or FIFO: refuse it now, it won't improve
        now = time.monotonic()
        key = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(name)
        if seen is None or seen[:2] != key:
            self._seen[name] = (*key, now)
            if time.time() - st.st_mtime >= self.settle_s:
                return True
            return _looks_complete(path, st.st_size, self.dir_fd)
        return now - seen[2] >= self.settle_s or _looks_complete(path, st.st_size, self.dir_fd)


def _looks_complete(path: str, size: int, dir_fd: int) -> bool:
    """A JSON object whose braces close exactly at its end: a copy that has finished.

    A bounded, non-recursive scan of at most PEEK_BYTES that cannot raise or hang
    on any bytes; it decides only *when* to hand the file on. Whether it is a
    valid JobSpec is the worker's question.
    """
    if size < 2 or size > PEEK_BYTES:
        return False  # larger ones wait for the settle interval
    try:
        return balanced_object(read_regular(path, PEEK_BYTES, dir_fd=dir_fd))
    except OSError:
        return False


def balanced_object(data: bytes) -> bool:
    body = data.strip()
    if not body.startswith(b"{"):
        return False
    depth, in_string, escaped = 0, False, False
    for i, byte in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
            if depth == 0:
                return i == len(body) - 1
    return False


def not_a_jobspec_file(path: str, *, dir_fd: int | None = None) -> str | None:
    """Why the entry at `path` (with `dir_fd`: its name in that folder) is no JobSpec file."""
    if not is_utf8(os.path.basename(path)):
        return (
            f"the file name is not UTF-8 text ({os.fsencode(os.path.basename(path))!r}); "
            "it was filed under a name with the undecodable bytes replaced"
        )
    try:
        st = os.lstat(os.path.basename(path) if dir_fd is not None else path, dir_fd=dir_fd)
    except FileNotFoundError:
        return None  # gone: the claim will notice
    if stat.S_ISLNK(st.st_mode):
        return (
            "a symlink is not accepted as a JobSpec (its target could change under the "
            "runner); copy the file into pending/ instead"
        )
    if stat.S_ISDIR(st.st_mode):
        return "a directory is not a JobSpec"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, socket or device); a JobSpec is a regular JSON file"
    return None
