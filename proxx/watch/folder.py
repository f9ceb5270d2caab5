"""The watch folder on disk: every path convention, intake of pending/, and finishing.

pending/ → running/ → completed/ | failed/. Every move is one atomic rename
that never replaces a file. `Layout` owns every name the runner derives (the
owner sidecar, the staged result, the final pair), and keeps each within the
255 bytes a file system allows, however long the JobSpec's own name is.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field

from proxx.contract.errors import ProxxError
from proxx.contract.fsutil import (
    fit_name,
    read_regular,
)

log = logging.getLogger("proxx.watch")
STATES = ("pending", "running", "completed", "failed")
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
    # Each state folder's (st_dev, st_ino) when the runner made sure of it: a folder
    # replaced since (by a link to another folder, say) is fatal, never followed.
    pinned: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

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
            st = _real_folder(self.dir(state), "is")
            if not os.access(self.dir(state), os.W_OK | os.X_OK):
                raise FatalWatchError(f"{self.dir(state)} is not writable by this user")
            self.pinned[state] = (st.st_dev, st.st_ino)

    def check(self) -> None:
        """Each loop: the folders still exist (a deleted or unmounted root is fatal) and
        are the ones the runner started with (one replaced is fatal: the runner would
        otherwise take, or file, another folder's files)."""
        for state in STATES:
            path = self.dir(state)
            try:
                st = _real_folder(path, "has become")
            except FileNotFoundError:
                raise FatalWatchError(
                    f"{path} has disappeared (watch folder deleted or unmounted?)"
                ) from None
            if state in self.pinned and self.pinned[state] != (st.st_dev, st.st_ino):
                raise FatalWatchError(
                    f"{path} was replaced by another folder since the runner started; "
                    "it stops rather than take or file JobSpecs elsewhere"
                )

    def open_pending(self) -> int:
        """pending/ opened once, never through a link: intake takes files from it by name."""
        fd = os.open(self.pending, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        st = os.fstat(fd)
        if self.pinned.get("pending", (st.st_dev, st.st_ino)) != (st.st_dev, st.st_ino):
            os.close(fd)
            raise FatalWatchError(f"{self.pending} was replaced since the runner started")
        return fd


def _real_folder(path: str, verb: str) -> os.stat_result:
    """lstat of a state folder that must be a folder itself, never a link to one."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise FatalWatchError(
            f"{path} {verb} a symbolic link (to {os.readlink(path)}), not a folder: the runner "
            "takes and files JobSpecs only in its own folders; make it a real folder"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise FatalWatchError(f"{path} {verb} not a folder")
    return st


def is_candidate(name: str) -> bool:
    """Intake rule: `*.json` only; dot-files, temp files and results are not JobSpecs."""
    return name.endswith(".json") and not name.startswith(".") and not name.endswith(".result.json")


def read_sidecar(layout: Layout, name: str) -> dict[str, object]:
    try:  # a FIFO or link planted at the name is refused, never waited on
        info = json.loads(read_regular(layout.sidecar(name)))
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}
