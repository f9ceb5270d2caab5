"""Job-end actions: a command run once a job's pair is filed, at least once.

`proxx watch --on-job-end PROGRAM` is one (`Program`); `--mhl` is another
(proxx/watch/mhlwrite.py). Each action runs without a shell, with the filed
result's path as its last argument, in its own process group, under a deadline
(the program: HOOK_TIMEOUT_S); the loop never waits for it. Its output goes to
the log as one line when it ends; a failure or a timeout is logged and never
changes the job.

At least once per filed job and action: before a job is filed, an IOU is written
beside the claim (`running/.JOBID.hook` for the program, `.JOBID.mhl` for the MHL:
one per action, so each is owed and paid on its own), atomically; it is removed
only when that action has ended. A runner killed in between finds the IOU when
it starts, looks up the filed result by job id, and runs the action again, so a
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


class Action:
    """What a job-end action runs, for which jobs, how long, and what counts as done."""

    suffix = _SUFFIX  # its IOU: running/.JOBID{suffix}
    ok_codes: tuple[int, ...] = (0,)
    cwd: str | None = None  # None: the runner's own

    def wanted(self, result: JobResult) -> bool:
        return True

    def label(self, result: JobResult) -> str:
        raise NotImplementedError

    def argv(self, result_path: str) -> list[str]:
        raise NotImplementedError

    def env(self, result: JobResult, jobspec_path: str) -> dict[str, str]:
        return {}

    def timeout_s(self, result: JobResult) -> float:
        return HOOK_TIMEOUT_S


class Program(Action):
    """`--on-job-end PROGRAM`: the program, with the job's PROXX_* variables."""

    def __init__(self, program: str, timeout_s: float = HOOK_TIMEOUT_S) -> None:
        self.program, self.limit = program, timeout_s

    def label(self, result: JobResult) -> str:
        return f"--on-job-end {self.program}"

    def argv(self, result_path: str) -> list[str]:
        return [self.program, result_path]

    def env(self, result: JobResult, jobspec_path: str) -> dict[str, str]:
        return {
            "PROXX_JOB_ID": result.job_id,
            "PROXX_JOB_STATUS": result.status,
            "PROXX_JOBSPEC_PATH": jobspec_path,
        }

    def timeout_s(self, result: JobResult) -> float:
        return self.limit


@dataclass
class _Run:
    job_id: str
    label: str
    proc: subprocess.Popen[bytes]
    output: IO[bytes]
    deadline: float
    timeout_s: float


class JobEndHook:
    def __init__(self, action: Action | str, layout: Layout) -> None:
        self.action = Program(action) if isinstance(action, str) else action
        self.layout = layout
        self.runs: list[_Run] = []

    def iou(self, job_id: str) -> str:
        return os.path.join(self.layout.running, f".{job_id}{self.action.suffix}")

    # -- filing ------------------------------------------------------------------------
    def owe(self, result: JobResult, name: str) -> None:
        """Before the pair is filed: remember that the action is owed for this job."""
        if self.action.wanted(result):
            info = {"job_id": result.job_id, "jobspec": name}
            write_atomic(self.iou(result.job_id), json.dumps(info).encode())

    def filed(self, result: JobResult, jobspec_path: str) -> None:
        """The pair is filed (the JobSpec at `jobspec_path`): start the action (the loop
        collects it)."""
        if not self.action.wanted(result):
            return
        label = self.action.label(result)
        env = {**os.environ, **self.action.env(result, jobspec_path)}
        output = tempfile.TemporaryFile()  # noqa: SIM115  # closed when the run is collected
        parent = os.getpid()
        try:
            proc = subprocess.Popen(
                self.action.argv(result_beside(jobspec_path)),
                cwd=self.action.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
                preexec_fn=lambda: die_with_parent(parent),
            )
        except OSError as exc:
            output.close()
            log.error("job %s: %s could not start: %s", result.job_id, label, exc)
            self._paid(result.job_id)
            return
        limit = self.action.timeout_s(result)
        deadline = time.monotonic() + limit
        self.runs.append(_Run(result.job_id, label, proc, output, deadline, limit))

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
                how = f"did not finish within {run.timeout_s:g} s; killed"
            else:
                ok = code in self.action.ok_codes
                how = "succeeded" if ok else f"failed (exit code {code})"
            self._report(run, how, code in self.action.ok_codes)
            self.runs.remove(run)
            self._paid(run.job_id)

    def resume(self) -> None:
        """At start: run the action for each job filed by a runner that died before it
        could (an IOU whose result is filed); an IOU whose job is not filed yet waits."""
        suffix = self.action.suffix
        with os.scandir(self.layout.running) as it:
            ious = [e.path for e in it if e.name.startswith(".") and e.name.endswith(suffix)]
        for path in ious:
            try:
                with open(path, "rb", opener=_no_follow) as fh:
                    info = json.loads(fh.read(65536))
                job_id, name = str(info["job_id"]), str(info["jobspec"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found = self._find_filed(job_id, name)
            if found is not None:
                result, result_path = found
                label = self.action.label(result)
                log.warning("job %s: running %s it was owed (runner died)", job_id, label)
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
            "job %s: %s %s%s",
            run.job_id,
            run.label,
            how,
            f": {folded}" if folded else "",
            extra={"job_id": run.job_id},
        )

    def _paid(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.iou(job_id))


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
