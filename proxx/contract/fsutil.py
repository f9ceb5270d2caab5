"""Filesystem primitives with the guarantees the contract needs.

Writes are atomic (temp, fsync, rename); moves and publications never
replace an existing name (renameat2 RENAME_NOREPLACE, or link+unlink where
the kernel or filesystem lacks it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Callable

log = logging.getLogger("proxx.fsutil")
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
NAME_MAX = 255  # bytes in one path component on every file system Proxx writes


def is_utf8(name: str) -> bool:
    """A name a result can carry (JSON is UTF-8); Linux allows any bytes in a name."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """`path` with bytes that are not UTF-8 replaced by U+FFFD: what results and the
    final names carry (e.g. a Latin-1 `café.json` copied from an old share)."""
    return os.fsencode(path).decode("utf-8", "replace")


def fit_name(stem: str, suffix: str) -> str:
    """`stem + suffix`, with the stem shortened (and made unique by a hash) to fit 255 bytes."""
    name = stem + suffix
    if len(name.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return name
    digest = hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    room = NAME_MAX - len(suffix.encode()) - len(digest) - 1
    cut = stem.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f"{cut}~{digest}{suffix}"


def _temp_prefix(path: str) -> str:
    """Where `write_atomic(path)` writes first: this prefix, the writer's PID, `.tmp`."""
    prefix = f".{os.path.basename(path)}."
    # A long name still gets a temp name that fits 255 bytes, whatever the PID (≤ 7 digits).
    if len(os.fsencode(prefix)) > 255 - len("4194304.tmp"):
        prefix = f".{hashlib.sha256(os.fsencode(path)).hexdigest()[:16]}."
    return prefix


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the whole new one."""
    _write_via_temp(path, data, os.replace)


def write_new(path: str, data: bytes) -> None:
    """Create `path` with `data`, whole or not at all; FileExistsError if anything is
    there (a file, a link, a folder). Never replaces, never follows a link: what plan,
    remainder and the deliverables write beside a user's files."""
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
    _write_via_temp(path, data, move_no_replace)


def _write_via_temp(path: str, data: bytes, rename: Callable[[str, str], None]) -> None:
    """Write a synced temp beside `path`, then `rename` it to `path`."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f"{_temp_prefix(path)}{os.getpid()}.tmp")
    # Created exclusively: a name already there (a link someone planted to have its
    # target overwritten, or a dead writer's temp with this PID) is removed, not
    # followed; unlink takes the name itself, never what a link points to.
    _unlink_quiet(tmp)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        rename(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    fsync_dir(directory)


class NotRegularFile(OSError):
    """A name in Proxx's own folders that is a FIFO, device, socket or link: refused."""


_refused: set[str] = set()  # said once per name: a poll loop must not repeat it forever


def read_regular(
    path: str, limit: int = 65536, offset: int = 0, *, dir_fd: int | None = None
) -> bytes:
    """At most `limit` bytes from `offset` of the regular file `path`, opened without
    blocking or following a link: a FIFO there cannot hang the reader, a link cannot
    redirect it. With `dir_fd`, the file is `path`'s name in that folder (whatever
    `path`'s folder names now).

    Anything else raises NotRegularFile (logged once per name); a missing file, the
    usual FileNotFoundError.
    """
    name = os.path.basename(path) if dir_fd is not None else path
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink: O_NOFOLLOW refused it
            raise _refuse(path, "a symbolic link") from exc
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, f"not a regular file ({stat.filemode(mode)})")
        return os.pread(fd, limit, offset)
    finally:
        os.close(fd)


def _refuse(path: str, what: str) -> NotRegularFile:
    if path not in _refused:
        _refused.add(path)
        log.warning("refused %s: %s; it is neither read nor waited on", shown(path), what)
    return NotRegularFile(errno.EINVAL, f"refused: {what}", path)


def remove_temps_of(path: str) -> None:
    """Remove what `write_atomic(path)` left behind when its writer was killed mid-write.

    Only for a caller that knows nobody is writing `path` now (it holds the lock that
    writing it takes): any temp of `path` is then a dead writer's.
    """
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(os.path.dirname(path) or ".")
    except OSError:
        return  # best effort: an age-based sweep removes them later
    for name in names:
        pid = name[len(prefix) : -len(".tmp")]
        if name.startswith(prefix) and name.endswith(".tmp") and pid.isdigit():
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(os.path.dirname(path), name))


def move_no_replace(src: str, dst: str, *, src_dir_fd: int | None = None) -> None:
    """Atomically rename `src` to `dst`; FileExistsError if `dst` exists.

    With `src_dir_fd`, `src` is a name in that folder (whatever its path names now)."""
    if _renameat2 is not None:
        src_at = _AT_FDCWD if src_dir_fd is None else src_dir_fd
        rc = _renameat2(src_at, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), src, None, dst)
    # No RENAME_NOREPLACE here (old kernel, some network filesystems): a hard
    # link fails with EEXIST instead of replacing, which keeps the promise.
    os.link(src, dst, src_dir_fd=src_dir_fd, follow_symlinks=False)
    os.unlink(src, dir_fd=src_dir_fd)


def fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quiet(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
