"""One generation appended to OUTPUT/ascmhl by the ASC's `ascmhl` package, on a private copy.

`ascmhl` reads and writes the copy (workers/mhlfolder.py); Proxx publishes what it
made. The files are recorded with the xxh64 Proxx computed in the same read that
checked their SHA-256 against the result, so a generation seals exactly the bytes
Proxx verified; `ascmhl` still checks each against the history's earlier records
(a file whose xxh64 differs from an earlier generation's is refused, not sealed).

Idempotent per job: the generation's creator comment names the job
(`Proxx job JOBID`). An append for a job whose generation is already in the
history, listing exactly these files with these hashes, writes nothing and
answers that generation: a runner killed after the generation was written but
before it knew (the job-end IOU still there) does not add a second one at
restart. A generation written but not yet in the chain (a kill between the two
publications) is added to the chain then.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .mhlfolder import (
    ASCMHL,
    HistoryRefused,
    Private,
    copy_history,
    open_history,
    private_folder,
    publish,
    publish_new,
    sweep,
)

HASH_FORMAT = "xxh64"  # ASC MHL has no SHA-256; xxh64 is the format DITs' tools read
_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS = _ROOT_FLAGS | os.O_NOFOLLOW


@dataclass(frozen=True)
class Hashed:
    size: int
    mtime: float
    xxh64: str


def job_comment(job_id: str) -> str:
    return f"Proxx job {job_id}"


def append(root: str, files: dict[str, Hashed], job_id: str | None) -> dict[str, object]:
    """Append (under the folder's lock, held by the caller) one generation listing
    `files` (names in ROOT); its path, sequence number and whether it existed."""
    root_fd = os.open(root, _ROOT_FLAGS)
    try:
        sweep(root_fd)  # under the lock: whatever private folder is there, its append died
        hist_fd = open_history(root_fd, root)
        try:
            with private_folder(root_fd) as private:
                name, number, existed = _append_privately(
                    root, root_fd, hist_fd, private, files, job_id
                )
        finally:
            if hist_fd is not None:
                os.close(hist_fd)
    finally:
        os.close(root_fd)
    path = os.path.join(root, ASCMHL, name)
    return {"generation": path, "sequence": number, "existing": existed is not False}


def _append_privately(
    root: str,
    root_fd: int,
    hist_fd: int | None,
    private: Private,
    files: dict[str, Hashed],
    job_id: str | None,
) -> tuple[str, int, bool | None]:
    # ascmhl names a generation after its root folder: the copy's root has ROOT's name.
    base = os.path.basename(os.path.normpath(root))
    copied = os.path.join(base, ASCMHL)
    os.mkdir(base, 0o700, dir_fd=private.fd)
    if hist_fd is not None:
        os.mkdir(copied, 0o700, dir_fd=private.fd)
        with _opened(private.fd, copied) as copy_fd:
            copy_history(hist_fd, copy_fd, root)
    name, number, existed = _generate(private.path(base), files, job_id)
    if existed is None:  # in the history and its chain already: nothing to publish
        return name, number, existed
    if hist_fd is None:
        publish_new(root_fd, private.fd, copied, root)
    else:
        with _opened(private.fd, copied) as made_fd:
            publish(hist_fd, made_fd, None if existed else name, root)
    return name, number, existed


@contextlib.contextmanager
def _opened(dir_fd: int, name: str) -> Iterator[int]:
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _generate(
    private_root: str, files: dict[str, Hashed], job_id: str | None
) -> tuple[str, int, bool | None]:
    """The generation's name and number, and: False when `ascmhl` made it now; True
    when this job's was found but its chain lacked it (the chain is made again);
    None when it is in the history and its chain already."""
    from ascmhl import chain_xml_parser, commands, errors
    from ascmhl.generator import MHLGenerationCreationSession
    from ascmhl.history import MHLHistory

    history = MHLHistory.load_from_path(private_root)
    if job_id is not None and (found := _job_generation(history, job_id, files)) is not None:
        name = os.path.basename(found.file_path)
        chained = {g.ascmhl_filename: int(g.generation_number) for g in history.chain.generations}
        # Mended only when it is the newest: the chain lists generations in order.
        if name in chained or found.generation_number <= max(chained.values(), default=0):
            return name, found.generation_number, None
        chain_xml_parser.write_chain(history.chain, found)
        return name, found.generation_number, True
    session = MHLGenerationCreationSession(history)
    failed = []
    for name, h in sorted(files.items()):
        when = datetime.datetime.fromtimestamp(h.mtime)
        path = os.path.join(private_root, name)
        if not session.append_file_hash(path, h.size, when, HASH_FORMAT, h.xxh64):
            failed.append(name)
    if failed:
        raise errors.VerificationFailedException(
            f"{', '.join(failed)}: xxh64 differs from an earlier generation's record"
        )
    comment = job_comment(job_id) if job_id is not None else None
    commands.commit_session(session, None, None, None, None, None, comment)
    made = history.hash_lists[-1]
    return os.path.basename(made.file_path), int(made.generation_number), False


def _job_generation(history: Any, job_id: str, files: dict[str, Hashed]) -> Any:
    """The newest generation this job wrote that lists exactly `files`, hashes and all."""
    wanted = {name: h.xxh64 for name, h in files.items()}
    for hash_list in reversed(history.hash_lists):
        info = hash_list.creator_info
        if info is None or info.comment != job_comment(job_id):
            continue
        listed = {
            m.path: e.hash_string
            for m in hash_list.media_hashes
            for e in m.hash_entries
            if e.hash_format == HASH_FORMAT
        }
        if listed == wanted:
            return hash_list
    return None


__all__ = ["HASH_FORMAT", "Hashed", "HistoryRefused", "append"]
