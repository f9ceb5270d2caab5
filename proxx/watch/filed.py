"""Where a finished job's pair was filed: found by its name, told apart by its job id.

Only names are listed; the one file opened is a result the runner wrote itself
(`read_result`: no link followed, never waited on), and only a regular file.
"""

from __future__ import annotations

import os

from proxx.contract.results import JobResult
from proxx.watch.folder import Layout, read_result, stem_of

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
