"""Writing a deliverable: created exclusively, never over an existing file or a link."""

from __future__ import annotations

import os


def write_new(path: str, data: bytes) -> None:
    """Write `data` to a new file at `path`; FileExistsError if anything is there.

    O_EXCL with O_CREAT never follows a symlink at `path` (it fails instead), so a
    link planted where the report goes cannot redirect it. A write that fails part
    way removes the file it created.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(path)
        raise
