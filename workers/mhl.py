"""`python -P -m proxx_workers.mhl ROOT SHA256 FILE [SHA256 FILE]…`: one ASC MHL generation.

Run by `proxx report --mhl` as a process of its own under a deadline (hashing reads
every proxy: content). It calls the `create` command of the ASC's `ascmhl` package
directly, not its `ascmhl` executable, whose start-up asks GitHub for a newer
release: a report is made offline and its MHL must not depend on a network. It
records only the files it is given (`--single_file`), hashed as xxh64, and appends
to the folder's history (`ROOT/ascmhl/`), which keeps earlier generations.

Each file must still have the SHA-256 the job's result gives it. One read computes
that and the file's xxh64 before `create`; after it, the xxh64 the new generation
records must be the same: so the generation seals exactly the bytes Proxx verified,
even if a file changed while it was being hashed (that is an error, said).

One at a time per folder: `ascmhl` numbers the new generation from the history it
read and then rewrites the chain file in place, so two appends at once (two jobs
filed into one output folder) would give two generations one number, or a chain
that lists only one of them. `create` and the reading of its generation therefore
run under an flock on `ROOT/.proxx-mhl.lock`, created here without following a
link (anything but a regular file there is refused) and removed by its holder
before it lets go; a second writer waits, under the deadline of whoever started
this process.

On stdout, one JSON object: the generation written (its path and sequence number).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

HASH_FORMAT = "xxh64"  # ASC MHL has no SHA-256; xxh64 is the format DITs' tools read
_CHAIN_NS = "{urn:ASC:MHL:DIRECTORY:v2.0}"
_MHL_NS = {"m": "urn:ASC:MHL:v2.0"}
_CHUNK = 1 << 20
EXIT_REFUSED, EXIT_MISSING = 2, 3
LOCK_NAME = ".proxx-mhl.lock"


def main(argv: list[str]) -> int:
    root, pairs = argv[0], list(zip(argv[1::2], argv[2::2], strict=True))
    try:
        import xxhash
        from ascmhl import commands  # the extra `proxx[deliver]`
    except ImportError:
        print("the ascmhl package is not installed (pip install 'proxx[deliver]')", file=sys.stderr)
        return EXIT_MISSING
    xxh64: dict[str, str] = {}
    for expected, path in pairs:
        sha, xxh64[path] = _hashes(path, xxhash)
        if sha != expected:
            print(f"{path} no longer has the result's output_sha256: not sealed", file=sys.stderr)
            return EXIT_REFUSED
    args = [root, "--hash_format", HASH_FORMAT, "--no_directory_hashes"]
    for _, path in pairs:
        args += ["--single_file", path]
    try:
        with folder_locked(root):
            commands.create.main(args=args, prog_name="ascmhl create", standalone_mode=False)
            generation = _last_generation(root)
    except Exception as exc:  # ascmhl's own errors, the lock's: said, no generation reported
        print(f"ascmhl create failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    recorded = _recorded(str(generation["generation"]))
    changed = [p for p in xxh64 if recorded.get(os.path.relpath(p, root)) != xxh64[p]]
    if changed:
        print(
            f"generation {generation['sequence']} records other bytes than Proxx verified for "
            f"{', '.join(changed)} (changed while hashed?): do not trust it",
            file=sys.stderr,
        )
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


def _hashes(path: str, xxhash: Any) -> tuple[str, str]:
    """SHA-256 and xxh64 of `path`, hex, in one read."""
    sha, xxh = hashlib.sha256(), xxhash.xxh64()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            xxh.update(chunk)
    return sha.hexdigest(), str(xxh.hexdigest())


def _last_generation(root: str) -> dict[str, object]:
    """The newest entry of ROOT/ascmhl/ascmhl_chain.xml: the generation just written."""
    chain = ET.parse(os.path.join(root, "ascmhl", "ascmhl_chain.xml")).getroot()
    last = chain.findall(f"{_CHAIN_NS}hashlist")[-1]
    name = last.findtext(f"{_CHAIN_NS}path") or ""
    path = os.path.join(root, "ascmhl", name)
    return {"generation": path, "sequence": int(last.get("sequencenr", "0"))}


def _recorded(generation: str) -> dict[str, str]:
    """Each file's xxh64 as the generation records it, by its path under ROOT."""
    hashes = ET.parse(generation).getroot().iterfind("m:hashes/m:hash", _MHL_NS)
    return {
        h.findtext("m:path", default="", namespaces=_MHL_NS): h.findtext(
            "m:xxh64", default="", namespaces=_MHL_NS
        )
        for h in hashes
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
