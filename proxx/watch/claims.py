"""Ownership of claimed JobSpecs: an exclusive flock taken before the claim rename.

The lock follows the inode through renames, lives exactly as long as the
runner that holds it, and is visible to every other runner on the folder
(flock is shared across hosts on NFSv4/Linux). A `running/` file whose lock
can be taken therefore belongs to a dead runner.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass

from proxx.contract.fsutil import move_no_replace


@dataclass
class Claim:
    """A JobSpec this runner owns: its current path and the fd holding the lock."""

    name: str
    path: str
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only fd drops the flock
            self.fd = -1


def try_lock(path: str, *, dir_fd: int | None = None) -> int | None:
    """Open and exclusively lock a regular file; None if it is gone or someone holds it.

    With `dir_fd`, `path` is a name in that folder, whatever its path names now."""
    try:
        fd = os.open(
            path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    if not same_inode(fd, path, dir_fd=dir_fd):  # moved on between our open and our lock
        os.close(fd)
        return None
    return fd


def same_inode(fd: int, path: str, *, dir_fd: int | None = None) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def claim(pending_path: str, running_dir: str, *, dir_fd: int | None = None) -> Claim | None:
    """Lock, then rename into `running/`. None means another runner got it: normal flow.

    With `dir_fd` (the runner's own pending/, opened once), the JobSpec is taken from
    that folder by name: a pending/ replaced by a link to another folder between two
    looks cannot make the runner take that folder's files."""
    name = os.path.basename(pending_path)
    src = name if dir_fd is not None else pending_path
    fd = try_lock(src, dir_fd=dir_fd)
    if fd is None:
        return None
    target = os.path.join(running_dir, name)
    try:
        move_no_replace(src, target, src_dir_fd=dir_fd)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ENOENT, errno.EEXIST):
            return None  # lost the race, or a same-named job is still running
        raise
    return Claim(name=name, path=target, fd=fd)
