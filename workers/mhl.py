"""`python -P -m proxx_workers.mhl ROOT [--job JOBID] SHA256 FILE…`: one ASC MHL generation.

Run by `proxx report --mhl` as a process of its own under a deadline (hashing reads
every proxy: content). It uses the ASC's `ascmhl` package directly, not its
`ascmhl` executable, whose start-up asks GitHub for a newer release: a report is
made offline and its MHL must not depend on a network. It records only the files
it is given, hashed as xxh64, and appends to the folder's history
(`ROOT/ascmhl/`), which keeps earlier generations.

Each file must still have the SHA-256 the job's result gives it. One read (of a
regular file, no link followed) computes that and the file's xxh64, and the
generation records that xxh64: so it seals exactly the bytes Proxx verified.

`ascmhl` opens its files by name and follows links, so it works on a private
copy of the history, and Proxx publishes the new generation and chain through a
descriptor of `ROOT/ascmhl` without following a link (workers/mhlfolder.py); a
link or anything unexpected there is refused, and nothing is written. With
`--job`, the append is idempotent per job (workers/mhlappend.py): a job whose
generation is already in the history gets that one back, not a second.

One at a time per folder: the new generation is numbered from the history read,
so two appends at once (two jobs filed into one output folder) would give two
generations one number, or a chain that lists only one of them. The append
therefore runs under an flock on `ROOT/.proxx-mhl.lock`, created here without
following a link (anything but a regular file there is refused) and removed by
its holder before it lets go; a second writer waits, under the deadline of
whoever started this process.

On stdout, one JSON object: the generation (its path, sequence number, and
whether it was there already).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from typing import Any

from proxx.contract.naming import MHL_LOCK

from .mhlappend import Hashed, HistoryRefused, append

_CHUNK = 1 << 20
EXIT_REFUSED, EXIT_MISSING = 2, 3
LOCK_NAME = MHL_LOCK
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def main(argv: list[str]) -> int:
    root, rest = argv[0], argv[1:]
    job_id = None
    if rest[:1] == ["--job"]:
        job_id, rest = rest[1], rest[2:]
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    try:
        import ascmhl  # noqa: F401  # the extra `proxx[deliver]`
        import xxhash
    except ImportError:
        print("the ascmhl package is not installed (pip install 'proxx[deliver]')", file=sys.stderr)
        return EXIT_MISSING
    files: dict[str, Hashed] = {}
    for expected, path in pairs:
        try:
            sha, files[os.path.relpath(path, root)] = _hashes(path, xxhash)
        except OSError as exc:
            print(f"{path} cannot be read as a regular file ({exc}): not sealed", file=sys.stderr)
            return EXIT_REFUSED
        if sha != expected:
            print(f"{path} no longer has the result's output_sha256: not sealed", file=sys.stderr)
            return EXIT_REFUSED
    try:
        with folder_locked(root):
            generation = append(root, files, job_id)
    except HistoryRefused as exc:  # a link or a stranger's file in ROOT/ascmhl: nothing written
        print(f"ascmhl history refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:  # ascmhl's own errors, the lock's: said, no generation reported
        print(f"ascmhl create failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(generation))
    return 0


@contextlib.contextmanager
def folder_locked(root: str) -> Iterator[None]:
    """Hold ROOT's MHL lock (an flock, waited for) while the history is appended to.

    The lock file exists only meanwhile (a file left in ROOT would be a new file to
    `ascmhl verify`): its holder removes it before letting go, so a waiter that then
    gets the lock on a name removed (or made anew) since it opened it tries again.
    """
    path = os.path.join(root, LOCK_NAME)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    while True:
        fd = os.open(path, flags, 0o644)
        try:
            held = os.fstat(fd)
            if not stat.S_ISREG(held.st_mode):
                raise OSError(f"{path} is not a regular file: not used as the MHL lock")
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _names(path, held):
                try:
                    yield
                finally:
                    os.unlink(path)
                return
        finally:
            os.close(fd)


def _names(path: str, held: os.stat_result) -> bool:
    """Whether `path` still names the file `held` describes."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _hashes(path: str, xxhash: Any) -> tuple[str, Hashed]:
    """SHA-256 (hex) and what the generation records (size, mtime, xxh64) of `path`, in
    one read of the regular file at `path` (a link there is not followed)."""
    sha, xxh = hashlib.sha256(), xxhash.xxh64()
    fd = os.open(path, _READ)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"it is not a regular file (mode {stat.filemode(st.st_mode)})")
        while chunk := os.read(fd, _CHUNK):
            sha.update(chunk)
            xxh.update(chunk)
    finally:
        os.close(fd)
    return sha.hexdigest(), Hashed(st.st_size, st.st_mtime, str(xxh.hexdigest()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
