"""A job's private folder inside an output folder, and the records of what it published.

Whoever can write an output folder shares it with the runner. A partial beside
its final name, under a name anyone could predict, let such a user plant a
symlink there: FFmpeg followed it and created a file wherever the runner could,
and the link itself was published as a proxy (issue 18, finding 2). So each job
renders into a folder of its own (`proxx.contract.naming.private_dir`), mode 0700,
which Proxx creates and then only uses through a descriptor opened without
following links: FFmpeg is handed `/dev/fd/N/NAME` (the folder's inode, whatever
its name points to by then), and nobody but the runner can add a name inside.

A publication record (`.NAME.JOBID.record`, JSON) is written in the same folder
just before the no-replace rename: it names the inode and size about to become
the proxy and its sha256. Recovery counts a clip as published only when the
final name is a regular file with that inode (finding 6: a stranger's file, or a
link, at the output name is not this job's proxy).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
RECORD_MAX_BYTES = 1 << 16


class PrivateDirError(Exception):
    """The private folder cannot be made or is not the runner's alone (the clip fails)."""


def open_private(path: str, *, create: bool = True) -> int:
    """A descriptor of the private folder at `path`, made (0700) when `create` and absent.

    A folder of that name that is a link, or belongs to someone else, or that
    others may write, is refused: that is someone's attempt to redirect the render.
    """
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # the job's earlier clip made it (or someone else: checked below)
        except OSError as exc:  # EACCES, EROFS, ENOSPC: the cause says whose fault
            raise PrivateDirError(f"cannot make the job's private folder {path}: {exc}") from exc
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        raise PrivateDirError(f"cannot open the job's private folder {path}: {exc}") from exc
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        os.close(fd)
        raise PrivateDirError(
            f"the job's private folder {path} is not the runner's alone (owner uid "
            f"{st.st_uid}, mode {stat.filemode(st.st_mode)}); someone else made it: refused"
        )
    return fd


def fd_path(fd: int, name: str) -> str:
    """`name` inside the folder `fd` refers to, for a process that inherits `fd`."""
    return f"/dev/fd/{fd}/{name}"


@dataclass(frozen=True)
class Record:
    output_path: str
    sha256: str | None
    size: int
    dev: int
    ino: int

    def matches(self, st: os.stat_result) -> bool:
        """Whether `st` (an lstat of the final name) is the file this record published."""
        return (
            stat.S_ISREG(st.st_mode)
            and (st.st_dev, st.st_ino) == (self.dev, self.ino)
            and st.st_size == self.size
        )


def write_record(dir_fd: int, name: str, record: Record) -> None:
    """Create the record `name` in the private folder: exclusive, no link followed, synced."""
    data = json.dumps(record.__dict__).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_record(dir_fd: int, name: str) -> Record | None:
    """The record `name`, or None when there is none or it is not one Proxx wrote."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = json.loads(os.read(fd, RECORD_MAX_BYTES))
        return Record(
            output_path=str(raw["output_path"]),
            sha256=None if raw["sha256"] is None else str(raw["sha256"]),
            size=int(raw["size"]),
            dev=int(raw["dev"]),
            ino=int(raw["ino"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        os.close(fd)


def tidy(path: str, records: list[str]) -> None:
    """At the end of a job: its records go, and the folder if nothing else is left in it
    (a failed clip's partial stays there for diagnosis, and the result names it)."""
    try:
        fd = open_private(path, create=False)
    except PrivateDirError:
        return
    try:
        for name in records:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # not empty, or already gone
        os.rmdir(path)
