"""Filing: a JobSpec and its result moved together into completed/ or failed/.

The one module that moves a finished job's files, kill -9 safe at every step: the
result is staged in running/, linked to its final name, the JobSpec renamed beside
it, the staged link removed (`finish`); a dead runner's interrupted move is
completed (`resume`); a result whose JobSpec was replaced while it ran is filed
alone (`finish_alone`); a filed pair is found again by name and job id
(`find_filed`: `proxx cancel` and the job-end actions). Names are never
replaced: a taken pair of names becomes `NAME-1`. `after_step` is the fault point
the tests kill the runner at. The clerk (`proxx.watch.clerk`) decides what to file
and keeps the books.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from typing import Literal

from proxx.contract.fsutil import (
    fit_name,
    fsync_dir,
    move_no_replace,
    remove_temps_of,
    shown,
    write_atomic,
)
from proxx.contract.results import MAX_RESULT_BYTES, JobResult, stamp_written
from proxx.watch.folder import Layout, result_beside, stem_of
from proxx.watch.replaced import gone_note

log = logging.getLogger("proxx.watch")


def finish(
    layout: Layout, spec_path: str, result: JobResult, *, state: str, staged: str | None = None
) -> str:
    """Write the result, then file the JobSpec and its result together in `state`.

    Ordered so that a kill -9 at any instant leaves either everything in
    running/ (recovered on restart, with the result already written) or the
    pair together in completed/ or failed/:
    1. the result is staged atomically in running/ (it names the final paths);
    2. it is hard-linked to its final name (no replace: a taken name is skipped);
    3. the JobSpec is renamed beside it (no replace);
    4. the staged link is removed.
    Recovery completes an interrupted 2–4 (`resume`). A name already taken is
    never overwritten: the pair becomes `JOB-1.json`/`JOB-1.result.json`, and
    the result records where the JobSpec landed. Returns that path.
    `staged`: where a claimed job's result is staged (`Layout.staged_result`).
    """
    name = shown(os.path.basename(spec_path))
    staged = staged or _staging_path(spec_path, result)
    n = 0
    while True:
        final_spec, final_result = layout.final_pair(state, name, n)
        n += 1
        if os.path.lexists(final_spec) or os.path.lexists(final_result):
            continue
        result.metadata.final_jobspec_path = final_spec
        write_atomic(staged, stamp_written(result).to_json().encode("utf-8"))
        if _file_pair(spec_path, staged, final_spec, final_result):
            # A runner killed while staging this job's result left its temp: the job is
            # filed now, and only its holder stages it.
            remove_temps_of(staged)
            return final_spec


def _staging_path(spec_path: str, result: JobResult) -> str:
    """For an entry refused straight from pending/, unlocked: another runner may race us."""
    name = os.path.basename(spec_path)
    return os.path.join(
        os.path.dirname(spec_path), fit_name(f".{stem_of(name)}.{result.job_id}", ".result.json")
    )


def _no_fault(step: str) -> None:
    """A fault-injection point between the final moves: tests replace it (a kill -9
    at each step), production never does."""


after_step = _no_fault


def _file_pair(spec_path: str, staged: str, final_spec: str, final_result: str) -> bool:
    """Steps 2–4; False when another runner took one of the names a moment ago."""
    after_step("staged")
    linked = _link(staged, final_result)
    if linked == "taken":
        return False
    if linked == "no links":
        return _file_pair_by_renames(spec_path, staged, final_spec, final_result)
    after_step("linked")
    try:
        move_no_replace(spec_path, final_spec)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(final_result)
        if exc.errno == errno.EEXIST:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        raise
    after_step("moved")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    fsync_dir(os.path.dirname(final_spec))
    fsync_dir(os.path.dirname(staged))
    return True


_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV)
_said_no_links: list[bool] = []


def _link(staged: str, final_result: str) -> Literal["linked", "taken", "no links"]:
    """Hard-link the staged result to its final name: never replacing, never following
    a link; "no links" on a filesystem without them (vfat, some FUSE/SMB mounts)."""
    try:
        os.link(staged, final_result, follow_symlinks=False)
    except FileExistsError:
        return "taken"
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        return "no links"
    return "linked"


def _file_pair_by_renames(spec_path: str, staged: str, final_spec: str, final_result: str) -> bool:
    """For a filesystem without hard links (vfat, some FUSE/SMB mounts): two renames.

    A kill -9 between them leaves the result filed and the JobSpec in running/,
    which recovery then files again as `NAME-1` (nothing is lost, one pair is
    split). Said once in the log.
    """
    if not _said_no_links:
        _said_no_links.append(True)
        log.warning(
            "the watch folder's filesystem has no hard links: results are filed by "
            "two renames (a kill -9 between them can split a JobSpec from its result)"
        )
    try:
        move_no_replace(staged, final_result)
    except FileExistsError:
        return False
    try:
        move_no_replace(spec_path, final_spec)
    except FileExistsError:
        os.rename(final_result, staged)  # ours a moment ago: take it back, try other names
        return False
    fsync_dir(os.path.dirname(final_spec))
    return True


def resume(layout: Layout, spec_path: str, staged: str, result: JobResult) -> str | None:
    """Finish a move a dead runner began (steps 3–4); None if it must start over."""
    final = result.metadata.final_jobspec_path
    if final is None or os.path.dirname(final) not in (
        layout.dir("completed"),
        layout.dir("failed"),
    ):
        return None  # a staged result only ever names completed/ or failed/
    final_result = result_beside(final)
    if not _same(staged, final_result):
        return None
    try:
        move_no_replace(spec_path, final)
    except FileExistsError:
        return None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    fsync_dir(os.path.dirname(final))
    return final


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_result(path: str, limit: int = MAX_RESULT_BYTES) -> JobResult | None:
    """A result file Proxx wrote (at most `limit` bytes read); None if it is missing,
    larger, or not a result."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None
        return JobResult.model_validate_json(b"".join(chunks))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)


def finish_alone(layout: Layout, name: str, result: JobResult, *, state: str, staged: str) -> str:
    """File `result` under the claimed name in `state`, with no JobSpec beside it.

    Staged first like any result (a kill -9 leaves it in running/), then linked to
    the first free pair of names (never replacing). Returns the result's path.
    """
    result.metadata.jobspec_replaced = gone_note(name)
    result.metadata.final_jobspec_path = None
    write_atomic(staged, stamp_written(result).to_json().encode("utf-8"))
    n = 0
    while True:
        final_spec, final_result = layout.final_pair(state, shown(name), n)
        n += 1
        if os.path.lexists(final_spec) or os.path.lexists(final_result):
            continue
        if _place(staged, final_result):
            fsync_dir(os.path.dirname(final_result))
            fsync_dir(os.path.dirname(staged))
            return final_result


def _place(staged: str, final_result: str) -> bool:
    """Link (else rename) the staged result to its final name; False if that is taken."""
    linked = _link(staged, final_result)
    if linked == "taken":
        return False
    if linked == "no links":
        try:
            move_no_replace(staged, final_result)
        except FileExistsError:
            return False
        return True
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    return True


# -- finding a filed pair ------------------------------------------------------------------
FINISHED = ("completed", "failed")


def find_filed(layout: Layout, job_id: str, name: str) -> tuple[JobResult, str] | None:
    """The result of job `job_id` (JobSpec `name`) and its path, if the pair is filed."""
    stem = stem_of(name)[:40]  # a long name is filed shortened (fit_name), or with -N
    for state in FINISHED:
        try:
            with os.scandir(layout.dir(state)) as it:
                paths = [
                    e.path
                    for e in it
                    if e.name.startswith(stem)
                    and e.name.endswith(".result.json")
                    and e.is_file(follow_symlinks=False)
                ]
        except OSError:
            continue
        for path in sorted(paths):
            result = read_result(path)
            if result is not None and result.job_id == job_id:
                return result, path
    return None
