"""`OUTPUT/ascmhl/` touched only through descriptors, never through a link (issue 18).

Whoever can write an output folder shares it with the runner. `ascmhl` itself
opens every file by name (`open(path, "wb")`), so a symlink at `OUTPUT/ascmhl`,
at its `ascmhl_chain.xml`, or at the next generation's predictable name made the
runner write through it, wherever its rights reach; and it rewrote the chain in
place, so a kill left a torn one. So `ascmhl` works on a private copy instead:

- a folder `OUTPUT/.proxx-mhl.RANDOM.partial`, made here (mode 0700, `mkdir` is
  exclusive) and used only through its descriptor (`/dev/fd/N/...`), so nobody
  else can add or swap a name where `ascmhl` writes;
- the history is copied in by reads that refuse links and anything but a regular
  file, through a descriptor of `OUTPUT/ascmhl` opened with O_NOFOLLOW, which must
  be a directory the runner owns;
- publication is a `link` of the new generation (which never replaces a name)
  and an atomic `rename` of the chain, both relative to that descriptor; a new
  history is the whole private `ascmhl/` renamed into place (a rename fails on a
  link or a non-empty folder, and follows neither).

The private folder is removed afterwards, whatever happened. One left by a kill
is removed by the next append to that folder: it runs under the folder's MHL
lock, so no other append can still be using it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from proxx.contract.naming import MHL_PRIVATE_PREFIX, MHL_PRIVATE_SUFFIX, is_mhl_private

ASCMHL, CHAIN = "ascmhl", "ascmhl_chain.xml"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class HistoryRefused(Exception):
    """Something in OUTPUT/ascmhl is not what Proxx may write through: nothing written."""


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ]
    return next((what for test, what in kinds if test(mode)), "a regular file")


def _described(dir_fd: int, name: str, shown: str) -> str:
    """What sits at `name`, said (a link with its target), for a refusal."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError as exc:
        return f"{shown} cannot be looked at ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return f"{shown} is a symbolic link (to {os.readlink(name, dir_fd=dir_fd)})"
    return f"{shown} is {_kind(st)}"


def open_history(root_fd: int, root: str) -> int | None:
    """A descriptor of OUTPUT/ascmhl, or None when there is none yet.

    It must be a folder the runner owns: a link, or a folder someone else made
    (who could then plant links in it), is refused."""
    shown = os.path.join(root, ASCMHL)
    try:
        fd = os.open(ASCMHL, _DIR, dir_fd=root_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise HistoryRefused(f"{_described(root_fd, ASCMHL, shown)}: refused") from None
        raise HistoryRefused(f"cannot open {shown}: {exc.strerror}") from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        os.close(fd)
        raise HistoryRefused(
            f"{shown} belongs to uid {st.st_uid}, not to the runner (uid {os.geteuid()}): "
            "whoever owns it could plant links in it; refused"
        )
    return fd


def _history_names(hist_fd: int) -> list[str]:
    """The names `ascmhl` reads in a history folder: the chain and the generations."""
    return sorted(
        n
        for n in os.listdir(hist_fd)
        if n == CHAIN or (n.endswith(".mhl") and not n.startswith("._"))
    )


def copy_history(hist_fd: int, into_fd: int, root: str) -> None:
    """Copy the chain and every generation of OUTPUT/ascmhl into the folder `into_fd`:
    each read without following a link, and only from a regular file."""
    for name in _history_names(hist_fd):
        shown = os.path.join(root, ASCMHL, name)
        try:
            src = os.open(name, _READ, dir_fd=hist_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise HistoryRefused(f"{_described(hist_fd, name, shown)}: refused") from None
            raise HistoryRefused(f"cannot read {shown}: {exc.strerror}") from None
        try:
            st = os.fstat(src)
            if not stat.S_ISREG(st.st_mode):
                raise HistoryRefused(f"{shown} is {_kind(st)}, not a regular file: refused")
            _copy(src, name, into_fd)
        finally:
            os.close(src)


def _copy(src: int, name: str, into_fd: int) -> None:
    dst = os.open(name, _NEW, 0o644, dir_fd=into_fd)
    try:
        while chunk := os.read(src, _CHUNK):
            os.write(dst, chunk)
    finally:
        os.close(dst)


def _fsync_named(dir_fd: int, name: str) -> None:
    fd = os.open(name, _READ, dir_fd=dir_fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(hist_fd: int, made_fd: int, generation: str | None, root: str) -> None:
    """Into an existing history: the new generation by `link` (a name already there,
    a planted link included, is refused and nothing is written), then the chain by
    an atomic `rename` (the old chain or the new one, never a torn one). Without
    `generation`, the chain only (the generation is published already)."""
    for name in (generation, CHAIN):
        if name is not None:
            _fsync_named(made_fd, name)
    if generation is not None:
        try:
            os.link(
                generation,
                generation,
                src_dir_fd=made_fd,
                dst_dir_fd=hist_fd,
                follow_symlinks=False,
            )
        except FileExistsError:
            shown = os.path.join(root, ASCMHL, generation)
            why = _described(hist_fd, generation, f"{shown} already exists:")
            raise HistoryRefused(f"{why}; the new generation is not written") from None
    os.rename(CHAIN, CHAIN, src_dir_fd=made_fd, dst_dir_fd=hist_fd)
    os.fsync(hist_fd)


def publish_new(root_fd: int, private_fd: int, made: str, root: str) -> None:
    """A first history: the private `ascmhl/` (chain and generation) renamed into
    place whole, so a kill leaves no history or a complete one. `rename` follows no
    link and fails on one (or on a folder with anything in it)."""
    made_fd = os.open(made, _DIR, dir_fd=private_fd)
    try:
        for name in os.listdir(made_fd):
            _fsync_named(made_fd, name)
        # The mode `ascmhl`'s own mkdir would give it: the operator's umask says who
        # may read the history (the private folder it was made in is 0700).
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(made_fd, 0o777 & ~mask)
        os.fsync(made_fd)
    finally:
        os.close(made_fd)
    try:
        os.rename(made, ASCMHL, src_dir_fd=private_fd, dst_dir_fd=root_fd)
    except OSError as exc:
        why = _described(root_fd, ASCMHL, os.path.join(root, ASCMHL))
        raise HistoryRefused(f"{why} ({exc.strerror}): the new history is not written") from None
    os.fsync(root_fd)


@dataclass(frozen=True)
class Private:
    fd: int  # the private folder, 0700
    name: str  # its name in OUTPUT

    def path(self, *parts: str) -> str:
        """A path inside it that resolves through the descriptor, whatever its name
        in OUTPUT points to by now."""
        return os.path.join(f"/dev/fd/{self.fd}", *parts)


@contextlib.contextmanager
def private_folder(root_fd: int) -> Iterator[Private]:
    """OUTPUT/.proxx-mhl.RANDOM.partial, made new (0700), removed afterwards always."""
    name = f"{MHL_PRIVATE_PREFIX}{secrets.token_hex(8)}{MHL_PRIVATE_SUFFIX}"
    os.mkdir(name, 0o700, dir_fd=root_fd)
    fd = os.open(name, _DIR, dir_fd=root_fd)
    try:
        yield Private(fd, name)
    finally:
        _remove(root_fd, name, fd)
        os.close(fd)


def sweep(root_fd: int) -> list[str]:
    """Remove the private folders earlier appends left (killed -9): only folders the
    runner owns, never through a link. Called under the folder's MHL lock."""
    gone = []
    for name in os.listdir(root_fd):
        if not is_mhl_private(name):
            continue
        try:
            fd = os.open(name, _DIR, dir_fd=root_fd)  # a link there: ELOOP, left alone
        except OSError:
            continue
        try:
            if os.fstat(fd).st_uid == os.geteuid():
                _remove(root_fd, name, fd)
                gone.append(name)
        finally:
            os.close(fd)
    return gone


def _remove(root_fd: int, name: str, fd: int) -> None:
    """Empty the private folder through its descriptor, then remove its name if that
    still names it (a user who can write OUTPUT can rename it; then a later sweep
    finds it). Best effort: what is left is swept by the next append."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(fd):
            if stat.S_ISDIR(os.lstat(entry, dir_fd=fd).st_mode):
                shutil.rmtree(entry, dir_fd=fd)  # descriptor-based: follows no link inside
            else:
                os.unlink(entry, dir_fd=fd)
        held, now = os.fstat(fd), os.lstat(name, dir_fd=root_fd)
        if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
            os.rmdir(name, dir_fd=root_fd)
