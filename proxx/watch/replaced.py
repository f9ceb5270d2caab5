"""A JobSpec replaced in running/ while its job ran: both files are accounted for.

`mv new.json running/x.json` (an operator "fixing" a running job, an editor's
save) puts another inode at a claimed name. The runner holding the claim still
holds the claimed inode (its lock fd), and the worker read that one: the job's
result is filed under the name, alone, saying the JobSpec it ran was replaced.
The file put in its place was never run: it is filed in failed/ with a result
that says so, by whichever runner finds it first — the claim's holder when it
files, or any runner that sees a `running/` file whose inode is not the one the
owner sidecar names.
"""

from __future__ import annotations

import contextlib
import errno
import os

from proxx.contract.fsutil import fsync_dir, move_no_replace, shown, write_atomic
from proxx.contract.results import JobResult, stamp_written
from proxx.watch.folder import Layout

_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV)


def gone_note(name: str) -> str:
    return (
        f"running/{name} was replaced by another file (renamed over it) while this job "
        "ran; the JobSpec this job ran is gone, so this result is filed alone. The file "
        "put in its place was not run: it is filed in failed/ with a result saying so"
    )


def replacement_error(name: str, claimed_job_id: str | None) -> str:
    job = f"job {claimed_job_id}" if claimed_job_id else "a running job"
    return (
        f"this file was renamed over running/{name} while {job} ran it: it was never "
        "run (the running job read the JobSpec it had claimed, and its result is filed "
        "under that name). To run this file, put it in pending/ under its own name"
    )


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
    try:
        os.link(staged, final_result, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        try:
            move_no_replace(staged, final_result)
        except FileExistsError:
            return False
        return True
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    return True
