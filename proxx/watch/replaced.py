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

import errno

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
