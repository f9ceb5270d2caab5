"""Publishing a verified render: the one routine both engines use.

COMPLETED must survive a power cut: the bytes reach the disk before the name
does, and the name before the result says so. The rename never replaces a
file (Proxx never overwrites).
"""

from __future__ import annotations

import errno
import os

from proxx.contract.errors import FailureReason
from proxx.contract.fsutil import fsync_dir, move_no_replace

# The environment's fault (exit code 4), not the clip's.
SYSTEM_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO)


class PublishError(Exception):
    def __init__(self, reason: FailureReason, detail: str, system: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.system = reason, detail, system


def publish(partial: str, final: str) -> int:
    """fsync `partial`, rename it to `final` without replacing, fsync the folder; its size."""
    try:
        size = os.stat(partial).st_size
        fd = os.open(partial, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        move_no_replace(partial, final)
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
    return size
