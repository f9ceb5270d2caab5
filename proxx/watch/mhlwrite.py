"""`proxx watch --mhl`: an ASC MHL generation for each filed job's proxies.

A job-end action (proxx/watch/hook.py: its own process group, a deadline, an IOU
`running/.JOBID.mhl` written before filing and replayed at start-up), so it runs
beside `--on-job-end PROGRAM` and on the same terms. The command is
`python -P -m proxx report RESULT --mhl`: this process never hashes a proxy; the
report hashes them in its worker, and the ASC's `ascmhl` appends the generation in
a process of its own (workers/mhl.py) that holds the output folder's lock
(`OUTPUT/.proxx-mhl.lock`) meanwhile, so two jobs into one folder append one after
the other. The action is at least once, the generation exactly once: it names its
job, so a replay (a runner killed after the generation, before its IOU went) finds
it and adds none.

Only a job with at least one COMPLETED clip gets a generation, listing only its
COMPLETED proxies: a PARTIAL job's report then exits 3 (written, the job marked),
which counts as done. It runs on the supervisor's host whatever the executor.
"""

from __future__ import annotations

import os
import sys

from proxx.contract.deadlines import Deadlines
from proxx.contract.results import JobResult, clip_seconds
from proxx.watch.hook import Action

START_S = 30.0  # the report command's own start-up, on a loaded box
UNKNOWN_S = 60.0  # a clip of unknown length, as `proxx report` counts it


class MhlAction(Action):
    suffix = ".mhl"
    ok_codes = (0, 3)  # 3: the generation is written; the job or a clip is marked
    cwd = "/"  # nothing where the runner started can shadow the package

    def __init__(self, deadlines: Deadlines | None = None) -> None:
        self.deadlines = deadlines or Deadlines()

    def wanted(self, result: JobResult) -> bool:
        return any(_published(result))

    def label(self, result: JobResult) -> str:
        folders = sorted({os.path.dirname(p) for p in _published(result)})
        return f"--mhl into {', '.join(folders)}"

    def argv(self, result_path: str) -> list[str]:
        return [sys.executable, "-P", "-m", "proxx", "report", result_path, "--mhl"]

    def timeout_s(self, result: JobResult) -> float:
        """The sum of the limits the report keeps inside: a look at each file (its
        verify limit), the MHL process's (the verify limit of all the proxies), and the
        start of its worker."""
        d = self.deadlines
        done = [c for c in result.clips if c.status == "COMPLETED" and c.output_path]
        looks = sum(d.limit("verify", clip_seconds(c)) for c in result.clips)
        looks += sum(d.limit("verify", clip_seconds(c)) for c in done)
        seconds = sum(clip_seconds(c) or UNKNOWN_S for c in done)
        return START_S + d.accept + looks + d.limit("verify", seconds)


def _published(result: JobResult) -> list[str]:
    return [c.output_path for c in result.clips if c.status == "COMPLETED" and c.output_path]
