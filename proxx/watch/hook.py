"""`proxx watch --on-job-end PROGRAM`: a program run once a job's pair is filed.

PROGRAM runs without a shell, with the filed result's path as its last
argument and `PROXX_JOB_ID`, `PROXX_JOB_STATUS`, `PROXX_JOBSPEC_PATH` in its
environment, in its own process group, under a deadline (HOOK_TIMEOUT_S);
the loop never waits for it. Its output goes to the log when it ends; a
failure or a timeout is logged and never changes the job.

At least once per filed job: before a job is filed, an IOU is written beside
the claim (`running/.JOBID.hook`, atomically); it is removed only when the
program has ended. A runner killed in between finds the IOU when it starts,
looks up the filed result by job id, and runs the program again, so a
notifier should key on `PROXX_JOB_ID`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import IO

from proxx.contract.fsutil import write_atomic
from proxx.contract.lifetime import die_with_parent
from proxx.contract.results import JobResult
from proxx.watch.filing import find_filed
from proxx.watch.folder import Layout, result_beside

log = logging.getLogger("proxx.watch.hook")
HOOK_TIMEOUT_S = 60.0
OUTPUT_MAX_BYTES = 16 * 1024  # what of its output reaches the log
_SUFFIX = ".hook"


@dataclass
class _Run:
    job_id: str
    proc: subprocess.Popen[bytes]
    output: IO[bytes]
    deadline: float


class JobEndHook:
    def __init__(self, program: str, layout: Layout, timeout_s: float = HOOK_TIMEOUT_S) -> None:
        self.program, self.layout, self.timeout_s = program, layout, timeout_s
        self.runs: list[_Run] = []

    def iou(self, job_id: str) -> str:
        return os.path.join(self.layout.running, f".{job_id}{_SUFFIX}")

    # -- filing ------------------------------------------------------------------------
    def owe(self, result: JobResult, name: str) -> None:
        """Before the pair is filed: remember that the program is owed for this job."""
        info = {"job_id": result.job_id, "jobspec": name}
        write_atomic(self.iou(result.job_id), json.dumps(info).encode())

    def filed(self, result: JobResult, jobspec_path: str) -> None:
        """The pair is filed (the JobSpec at `jobspec_path`): start the program (the loop
        collects it)."""
        result_path = result_beside(jobspec_path)
        env = {
            **os.environ,
            "PROXX_JOB_ID": result.job_id,
            "PROXX_JOB_STATUS": result.status,
            "PROXX_JOBSPEC_PATH": jobspec_path,
        }
        output = tempfile.TemporaryFile()  # noqa: SIM115  # closed when the run is collected
        parent = os.getpid()
        try:
            proc = subprocess.Popen(
                [self.program, result_path],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
                preexec_fn=lambda: die_with_parent(parent),
            )
        except OSError as exc:
            output.close()
            log.error(
                "job %s: --on-job-end %s could not start: %s", result.job_id, self.program, exc
            )
            self._paid(result.job_id)
            return
        self.runs.append(_Run(result.job_id, proc, output, time.monotonic() + self.timeout_s))

    # -- each loop ----------------------------------------------------------------------
    def collect(self) -> None:
        """Log and forget each run that ended; kill the group of one past its deadline."""
        now = time.monotonic()
        for run in list(self.runs):
            code = run.proc.poll()
            if code is None and now < run.deadline:
                continue
            if code is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()
                how = f"did not finish within {self.timeout_s:g} s; killed"
            else:
                how = "succeeded" if code == 0 else f"failed (exit code {code})"
            self._report(run, how, code == 0)
            self.runs.remove(run)
            self._paid(run.job_id)

    def resume(self) -> None:
        """At start: run the program for each job filed by a runner that died before it
        could (an IOU whose result is filed); an IOU whose job is not filed yet waits."""
        with os.scandir(self.layout.running) as it:
            ious = [e.path for e in it if e.name.startswith(".") and e.name.endswith(_SUFFIX)]
        for path in ious:
            try:
                with open(path, "rb", opener=_no_follow) as fh:
                    info = json.loads(fh.read(65536))
                job_id, name = str(info["job_id"]), str(info["jobspec"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found = self._find_filed(job_id, name)
            if found is not None:
                log.warning("job %s: running --on-job-end it was owed (runner died)", job_id)
                result, result_path = found
                self.filed(result, result_path.removesuffix(".result.json") + ".json")

    def _find_filed(self, job_id: str, name: str) -> tuple[JobResult, str] | None:
        return find_filed(self.layout, job_id, name)

    def _report(self, run: _Run, how: str, ok: bool) -> None:
        run.output.seek(0)
        text = run.output.read(OUTPUT_MAX_BYTES).decode("utf-8", "replace").strip()
        run.output.close()
        folded = " | ".join(line.strip() for line in text.splitlines() if line.strip())
        level = logging.INFO if ok else logging.WARNING
        log.log(
            level,
            "job %s: --on-job-end %s %s%s",
            run.job_id,
            self.program,
            how,
            f": {folded}" if folded else "",
            extra={"job_id": run.job_id},
        )

    def _paid(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.iou(job_id))


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
