"""The watch folder on disk: layout, intake of pending/, and the final move of each job.

pending/ → running/ → completed/ | failed/. Every move is one atomic rename
that never replaces a file; every result is written before its JobSpec moves.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from dataclasses import dataclass, field

from proxx.errors import ProxxError
from proxx.fsutil import fsync_dir, move_no_replace, write_atomic
from proxx.results import JobResult, stamp_written

STATES = ("pending", "running", "completed", "failed")
SETTLE_S = 2.0  # a JobSpec copied in place must sit unchanged this long before we take it


class FatalWatchError(ProxxError):
    """The watch root itself is unusable: the runner cannot work at all."""


@dataclass(frozen=True)
class Layout:
    root: str

    def dir(self, state: str) -> str:
        return os.path.join(self.root, state)

    def ensure(self) -> None:
        if not os.path.isdir(self.root):
            raise FatalWatchError(f"watch folder {self.root} does not exist or is not a folder")
        for state in STATES:
            try:
                os.makedirs(self.dir(state), exist_ok=True)
            except OSError as exc:
                raise FatalWatchError(f"cannot create {self.dir(state)}: {exc.strerror}") from None
            if not os.access(self.dir(state), os.W_OK | os.X_OK):
                raise FatalWatchError(f"{self.dir(state)} is not writable by this user")


def is_candidate(name: str) -> bool:
    """Intake rule: `*.json` only; dot-files, temp files and results are not JobSpecs."""
    return (name.endswith(".json") and not name.startswith(".")
            and not name.endswith(".result.json"))


@dataclass
class Intake:
    """Chooses which pending files are ready, in sorted order, without parsing the rest."""

    layout: Layout
    settle_s: float = SETTLE_S
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def scan(self) -> list[str]:
        with os.scandir(self.layout.dir("pending")) as it:
            names = sorted(e.name for e in it if is_candidate(e.name))
        live = set(names)
        for gone in [n for n in self._seen if n not in live]:
            del self._seen[gone]
        return names

    def ready(self, name: str) -> bool:
        """A file is taken once it parses as a JSON object, or has sat unchanged long enough.

        A partly written JSON object never parses (its closing brace comes
        last), so a complete one can be taken at once; anything else waits
        for the settle interval and then fails with its parse error.
        """
        path = os.path.join(self.layout.dir("pending"), name)
        try:
            st = os.lstat(path)
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
            return _parses_as_object(path, st.st_size)
        return now - seen[2] >= self.settle_s or _parses_as_object(path, st.st_size)


def _parses_as_object(path: str, size: int) -> bool:
    if size == 0 or size > 1024 * 1024:
        return False
    try:
        with open(path, "rb") as fh:
            return isinstance(json.loads(fh.read()), dict)
    except (OSError, ValueError):
        return False


def finish(layout: Layout, spec_path: str, result: JobResult, *, failed: bool) -> str:
    """Write the result beside the JobSpec, then move both to completed/ or failed/.

    A name already taken there is kept: the pair gets a `-N` suffix, which the
    result records. Returns where the JobSpec ended up.
    """
    dest_dir = layout.dir("failed" if failed else "completed")
    name = os.path.basename(spec_path)
    stem = name[: -len(".json")] if name.endswith(".json") else name
    src_dir = os.path.dirname(spec_path)
    n = 0
    while True:
        final_stem = stem if n == 0 else f"{stem}-{n}"
        final_spec = os.path.join(dest_dir, f"{final_stem}.json")
        final_result = os.path.join(dest_dir, f"{final_stem}.result.json")
        n += 1
        if os.path.lexists(final_spec) or os.path.lexists(final_result):
            continue
        result.metadata.final_jobspec_path = final_spec
        if src_dir == layout.dir("running"):  # claimed and locked: recovery looks here
            staged = os.path.join(src_dir, f"{stem}.result.json")
        else:  # refused straight from pending/, unlocked: another runner may race us
            staged = os.path.join(src_dir, f".{stem}.{result.job_id}.result.json")
        write_atomic(staged, stamp_written(result).to_json().encode("utf-8"))
        try:
            move_no_replace(spec_path, final_spec)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue  # another runner took that name a moment ago
            os.unlink(staged)
            raise
        try:
            move_no_replace(staged, final_result)
        except FileExistsError:
            # The JobSpec is already in place; its result goes beside it under a
            # name derived from the JobSpec's, never over someone else's.
            os.rename(staged, os.path.join(dest_dir, f"{final_stem}.{result.job_id}.result.json"))
        fsync_dir(dest_dir)
        return final_spec
