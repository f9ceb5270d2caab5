"""Publishing a verified render: the one routine both engines use.

COMPLETED must survive a power cut: the bytes reach the disk before the name
does, and the name before the result says so. The rename never replaces a
file (Proxx never overwrites). What is published is a regular file from the
job's private folder (workers/private.py), never a link, and a record of it is
written there first, so recovery can tell this job's proxy from a stranger's file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from proxx.contract.errors import FailureReason
from proxx.contract.fsutil import fsync_dir, move_no_replace
from proxx.contract.naming import record_path

from .private import PrivateDirError, Record, open_private, write_record

# The environment's fault (exit code 4), not the clip's.
SYSTEM_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO)


class PublishError(Exception):
    def __init__(self, reason: FailureReason, detail: str, system: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.system = reason, detail, system


def publish(
    partial: str, final: str, sha256: str | None = None, *, dir_fd: int | None = None
) -> int:
    """Record, then rename `partial` (in its private folder) to `final` without
    replacing; fsync the folder; the proxy's size. `dir_fd`: that folder, already open
    (what the render wrote into, whatever its name points to now)."""
    if dir_fd is not None:
        return _publish_in(dir_fd, os.path.basename(partial), final, sha256)
    try:
        dir_fd = open_private(os.path.dirname(partial), create=False)
    except PrivateDirError as exc:
        raise PublishError(FailureReason.EXECUTION_ERROR, f"not published: {exc}") from exc
    try:
        return _publish_in(dir_fd, os.path.basename(partial), final, sha256)
    finally:
        os.close(dir_fd)


def _publish_in(dir_fd: int, name: str, final: str, sha256: str | None) -> int:
    record_name = os.path.basename(record_path(name))
    try:
        st = _sync_regular(dir_fd, name)
        record = Record(final, sha256, st.st_size, st.st_dev, st.st_ino)
        write_record(dir_fd, record_name, record)
        try:
            move_no_replace(name, final, src_dir_fd=dir_fd)
        except OSError:
            with contextlib.suppress(OSError):  # nothing was published: no record of it
                os.unlink(record_name, dir_fd=dir_fd)
            raise
    except FileExistsError as exc:
        raise PublishError(
            FailureReason.VALIDATION_ERROR,
            "output appeared at the final name "
            "while rendering; not overwritten. The verified render is kept at "
            "the partial name.",
        ) from exc
    except OSError as exc:
        raise PublishError(
            FailureReason.EXECUTION_ERROR,
            f"could not publish the output: {exc}",
            system=exc.errno in SYSTEM_ERRNOS,
        ) from exc
    fsync_dir(os.path.dirname(final))
    return st.st_size


def _sync_regular(dir_fd: int, name: str) -> os.stat_result:
    """fsync the render `name`; its stat. Anything but a regular file is refused."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PublishError(
                FailureReason.EXECUTION_ERROR,
                f"not published: the render is not a regular file ({stat.filemode(st.st_mode)})",
            )
        os.fsync(fd)
        return st
    finally:
        os.close(fd)
