"""The watch folder on disk: every path convention, intake of pending/, and finishing.

pending/ → running/ → completed/ | failed/. Every move is one atomic rename
that never replaces a file. `Layout` owns every name the runner derives (the
owner sidecar, the staged result, the final pair), and keeps each within the
255 bytes a file system allows, however long the JobSpec's own name is.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field

from proxx.contract.errors import ProxxError
from proxx.contract.fsutil import (
    fit_name,
    fsync_dir,
    move_no_replace,
    read_regular,
    remove_temps_of,
    shown,
    write_atomic,
)
from proxx.contract.results import MAX_RESULT_BYTES, JobResult, stamp_written

log = logging.getLogger("proxx.watch")
STATES = ("pending", "running", "completed", "failed")
SETTLE_S = 2.0  # a JobSpec copied in place must sit unchanged this long before we take it
# The most intake looks at to see whether a copy is complete (a JobSpec is ~1 kB);
# a larger file is taken once its size and mtime have been stable for SETTLE_S.
PEEK_BYTES = 64 * 1024
STAGED = ".staged.json"  # a staged result's suffix: `.NAME.INODE.staged.json` in running/


class FatalWatchError(ProxxError):
    """The watch root itself is unusable: the runner cannot work at all."""


def stem_of(name: str) -> str:
    return name[: -len(".json")] if name.endswith(".json") else name


def result_beside(spec_path: str) -> str:
    """Where the result of the JobSpec at `spec_path` goes (its name shortened if need be)."""
    stem = stem_of(os.path.basename(spec_path))
    return os.path.join(os.path.dirname(spec_path), fit_name(stem, ".result.json"))


@dataclass(frozen=True)
class Layout:
    root: str

    def dir(self, state: str) -> str:
        return os.path.join(self.root, state)

    @property
    def pending(self) -> str:
        return self.dir("pending")

    @property
    def running(self) -> str:
        return self.dir("running")

    def sidecar(self, name: str) -> str:
        """Who runs a claimed job, for `proxx status` (a dot-file: intake ignores it)."""
        return os.path.join(self.running, fit_name(f".{name}", ".owner"))

    def cancel_request(self, name: str, job_id: str) -> str:
        """`proxx cancel`'s request for one job (by its id: a stale one never matches the
        next job of the same name)."""
        return os.path.join(self.running, fit_name(f".{name}.{job_id}", ".cancel"))

    def staged_result(self, name: str, ino: int) -> str:
        """A claimed job's result, written before anything moves (recovery looks here).

        Named by the claimed file's inode as well as its name, the inode kept whole
        after any shortening: unique per claimed JobSpec, so two names that shorten
        alike, or a file renamed over a claimed one, never share it. `st_ino` only:
        `st_dev` differs between the hosts of a shared folder.
        """
        return os.path.join(self.running, fit_name(f".{stem_of(name)}", f".{ino}{STAGED}"))

    def legacy_staged_result(self, name: str) -> str:
        """Where an earlier Proxx staged a claimed job's result (by a shortened name alone)."""
        return os.path.join(self.running, fit_name(stem_of(name), ".result.json"))

    def final_pair(self, state: str, name: str, n: int) -> tuple[str, str]:
        """The n-th choice of names for a finished JobSpec and its result in `state`."""
        stem = stem_of(name) if n == 0 else f"{stem_of(name)}-{n}"
        final_spec = os.path.join(self.dir(state), fit_name(stem, ".json"))
        return final_spec, result_beside(final_spec)

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

    def check(self) -> None:
        """Each loop: the folders still exist (a deleted or unmounted root is fatal)."""
        for state in STATES:
            if not os.path.isdir(self.dir(state)):
                raise FatalWatchError(
                    f"{self.dir(state)} has disappeared (watch folder deleted or unmounted?)"
                )


def is_candidate(name: str) -> bool:
    """Intake rule: `*.json` only; dot-files, temp files and results are not JobSpecs."""
    return name.endswith(".json") and not name.startswith(".") and not name.endswith(".result.json")


@dataclass
class Intake:
    """Chooses which pending files are ready, in sorted order, without parsing the rest."""

    layout: Layout
    settle_s: float = SETTLE_S
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def scan(self) -> list[str]:
        with os.scandir(self.layout.pending) as it:
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
        path = os.path.join(self.layout.pending, name)
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
            return _looks_complete(path, st.st_size)
        return now - seen[2] >= self.settle_s or _looks_complete(path, st.st_size)


def _looks_complete(path: str, size: int) -> bool:
    """A JSON object whose braces close exactly at its end: a copy that has finished.

    A bounded, non-recursive scan of at most PEEK_BYTES that cannot raise or hang
    on any bytes; it decides only *when* to hand the file on. Whether it is a
    valid JobSpec is the worker's question.
    """
    if size < 2 or size > PEEK_BYTES:
        return False  # larger ones wait for the settle interval
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        data = os.pread(fd, PEEK_BYTES, 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return balanced_object(data)


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


# -- finishing ---------------------------------------------------------------------------
def finish(
    layout: Layout, spec_path: str, result: JobResult, *, state: str, staged: str | None = None
) -> str:
    """Write the result, then file the JobSpec and its result together in `state`.

    Ordered so that a kill -9 at any instant leaves either everything in
    running/ (recovered on restart, with the result already written) or the
    pair together in completed/ or failed/:
    1. the result is staged atomically in running/ (it names the final paths);
    2. it is hard-linked to its final name (no replace: a taken name is skipped);
    3. the JobSpec is renamed beside it (no replace);
    4. the staged link is removed.
    Recovery completes an interrupted 2–4 (`resume`). A name already taken is
    never overwritten: the pair becomes `JOB-1.json`/`JOB-1.result.json`, and
    the result records where the JobSpec landed. Returns that path.
    `staged`: where a claimed job's result is staged (`Layout.staged_result`).
    """
    name = shown(os.path.basename(spec_path))
    staged = staged or _staging_path(spec_path, result)
    n = 0
    while True:
        final_spec, final_result = layout.final_pair(state, name, n)
        n += 1
        if os.path.lexists(final_spec) or os.path.lexists(final_result):
            continue
        result.metadata.final_jobspec_path = final_spec
        write_atomic(staged, stamp_written(result).to_json().encode("utf-8"))
        if _file_pair(spec_path, staged, final_spec, final_result):
            # A runner killed while staging this job's result left its temp: the job is
            # filed now, and only its holder stages it.
            remove_temps_of(staged)
            return final_spec


def _staging_path(spec_path: str, result: JobResult) -> str:
    """For an entry refused straight from pending/, unlocked: another runner may race us."""
    name = os.path.basename(spec_path)
    return os.path.join(
        os.path.dirname(spec_path), fit_name(f".{stem_of(name)}.{result.job_id}", ".result.json")
    )


def _no_fault(step: str) -> None:
    """A fault-injection point between the final moves: tests replace it (a kill -9
    at each step), production never does."""


after_step = _no_fault


def _file_pair(spec_path: str, staged: str, final_spec: str, final_result: str) -> bool:
    """Steps 2–4; False when another runner took one of the names a moment ago."""
    after_step("staged")
    try:
        os.link(staged, final_result, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        return _file_pair_by_renames(spec_path, staged, final_spec, final_result)
    after_step("linked")
    try:
        move_no_replace(spec_path, final_spec)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(final_result)
        if exc.errno == errno.EEXIST:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        raise
    after_step("moved")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    fsync_dir(os.path.dirname(final_spec))
    fsync_dir(os.path.dirname(staged))
    return True


_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV)
_said_no_links: list[bool] = []


def _file_pair_by_renames(spec_path: str, staged: str, final_spec: str, final_result: str) -> bool:
    """For a filesystem without hard links (vfat, some FUSE/SMB mounts): two renames.

    A kill -9 between them leaves the result filed and the JobSpec in running/,
    which recovery then files again as `NAME-1` (nothing is lost, one pair is
    split). Said once in the log.
    """
    if not _said_no_links:
        _said_no_links.append(True)
        log.warning(
            "the watch folder's filesystem has no hard links: results are filed by "
            "two renames (a kill -9 between them can split a JobSpec from its result)"
        )
    try:
        move_no_replace(staged, final_result)
    except FileExistsError:
        return False
    try:
        move_no_replace(spec_path, final_spec)
    except FileExistsError:
        os.rename(final_result, staged)  # ours a moment ago: take it back, try other names
        return False
    fsync_dir(os.path.dirname(final_spec))
    return True


def resume(layout: Layout, spec_path: str, staged: str, result: JobResult) -> str | None:
    """Finish a move a dead runner began (steps 3–4); None if it must start over."""
    final = result.metadata.final_jobspec_path
    if final is None or os.path.dirname(final) not in (
        layout.dir("completed"),
        layout.dir("failed"),
    ):
        return None  # a staged result only ever names completed/ or failed/
    final_result = result_beside(final)
    if not _same(staged, final_result):
        return None
    try:
        move_no_replace(spec_path, final)
    except FileExistsError:
        return None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    fsync_dir(os.path.dirname(final))
    return final


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_result(path: str, limit: int = MAX_RESULT_BYTES) -> JobResult | None:
    """A result file Proxx wrote (at most `limit` bytes read); None if it is missing,
    larger, or not a result."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None
        return JobResult.model_validate_json(b"".join(chunks))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)


def read_sidecar(layout: Layout, name: str) -> dict[str, object]:
    try:  # a FIFO or link planted at the name is refused, never waited on
        info = json.loads(read_regular(layout.sidecar(name)))
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}
