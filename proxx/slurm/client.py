"""The Slurm commands Proxx uses, each with a timeout and a clear error.

Only the command-line clients are used (no libslurm binding): they are what an
operator can run by hand to see what Proxx saw, and their output is stable.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from proxx.contract.errors import ProxxError
from proxx.slurm.states import SQUEUE_FORMAT, SlurmJob, parse_scontrol, parse_squeue

TOOLS = ("sbatch", "squeue", "scontrol", "scancel")
CALL_TIMEOUT_S = 30.0
_GONE = "Invalid job id specified"


class SlurmUnavailable(ProxxError):
    """The Slurm clients are missing, or the controller does not answer."""


# How sbatch/squeue say the controller itself is unreachable (as opposed to refusing a
# request): slurm-wlm 22.05 wording, plus our own timeout.
_DOWN = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "did not answer within",
    "Connection refused",
    "controller does not answer",
)


def controller_down(error: BaseException | str) -> bool:
    return any(text in str(error) for text in _DOWN)


@dataclass(frozen=True)
class Submission:
    """One claimed job as a batch job."""

    job_name: str
    command: Sequence[str]  # the step, run with `exec` so Slurm signals it directly
    workdir: str
    stdout: str
    stderr: str
    gres: str | None = None  # e.g. "resolve:1"
    extra_args: Sequence[str] = ()


# sbatch options an operator may not pass through --slurm-arg: each would break a
# promise (one run per claim, a job id to watch, the log files, the name lookup) or make
# sbatch block the supervisor.
RESERVED = {
    "--array": "one claim is one job (an array would run it several times)",
    "-a": "one claim is one job (an array would run it several times)",
    "--requeue": "Proxx never lets Slurm run a job twice",
    "--wrap": "the step is Proxx's own",
    "--job-name": "the job name is how a restarted supervisor finds the job",
    "-J": "the job name is how a restarted supervisor finds the job",
    "--output": "the step's output file is Proxx's (under the watch root)",
    "-o": "the step's output file is Proxx's (under the watch root)",
    "--error": "the step's error file is Proxx's (results quote it)",
    "-e": "the step's error file is Proxx's (results quote it)",
    "--parsable": "Proxx reads sbatch's answer itself",
    "--wait": "sbatch would block the supervisor until the job ends",
    "-W": "sbatch would block the supervisor until the job ends",
    "--test-only": "no job would be submitted",
}


def reserved_args(args: Sequence[str]) -> list[str]:
    """`ARG: why` for each operator argument Proxx cannot pass to sbatch."""
    out = []
    for arg in args:
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
        if name in RESERVED:
            out.append(f"{arg}: {RESERVED[name]}")
    return out


def sbatch_argv(sub: Submission) -> list[str]:
    """The exact sbatch command line (kept pure so tests and logs can show it)."""
    argv = [
        "sbatch",
        "--parsable",
        "--no-requeue",
        f"--job-name={sub.job_name}",
        f"--chdir={sub.workdir}",
        f"--output={sub.stdout}",
        f"--error={sub.stderr}",
    ]
    if sub.gres:
        argv.append(f"--gres={sub.gres}")
    # Operator arguments go after ours, so a partition/time/account choice wins,
    # but --no-requeue is re-asserted last: no argument may turn retries on.
    argv += [*sub.extra_args, "--no-requeue", "--wrap", "exec " + shlex.join(sub.command)]
    return argv


def parse_parsable(out: str) -> str:
    """`sbatch --parsable` prints `jobid` or `jobid;cluster`."""
    job_id = out.strip().split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise SlurmUnavailable(f"sbatch printed {out.strip()!r}, not a job id")
    return job_id


@dataclass
class SlurmClient:
    env: Mapping[str, str] | None = None  # None: inherit (SLURM_CONF etc. from the service)
    timeout: float = CALL_TIMEOUT_S
    _paths: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Fail at start, not at the first job: clients present, controller answering."""
        missing = [tool for tool in TOOLS if self._which(tool) is None]
        if missing:
            raise SlurmUnavailable(
                "--executor slurm needs the Slurm clients; not found on PATH: " + ", ".join(missing)
            )
        proc = self._run(["scontrol", "ping"])
        if proc.returncode != 0 or " UP" not in proc.stdout:
            text = (proc.stdout + proc.stderr).strip() or f"exit {proc.returncode}"
            raise SlurmUnavailable(f"the Slurm controller does not answer (scontrol ping): {text}")

    def submit(self, sub: Submission) -> str:
        proc = self._run(sbatch_argv(sub))
        if proc.returncode != 0:
            raise SlurmUnavailable(
                f"sbatch failed (exit {proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return parse_parsable(proc.stdout)

    def poll(self, job_ids: Sequence[str]) -> dict[str, SlurmJob]:
        """State of each job Slurm still knows; a missing id means Slurm forgot it."""
        if not job_ids:
            return {}
        proc = self._run(
            ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", SQUEUE_FORMAT]
        )
        if proc.returncode != 0:
            if _GONE in proc.stderr:  # squeue's answer when none of the ids is known
                return {}
            raise SlurmUnavailable(f"squeue failed (exit {proc.returncode}): {proc.stderr.strip()}")
        return parse_squeue(proc.stdout)

    def show(self, job_id: str) -> SlurmJob | None:
        """Full detail (exit code, restarts) of one job; None when Slurm forgot it."""
        proc = self._run(["scontrol", "show", "job", "-o", job_id])
        if proc.returncode != 0:
            if _GONE in proc.stderr:
                return None
            raise SlurmUnavailable(f"scontrol show job {job_id} failed: {proc.stderr.strip()}")
        for line in proc.stdout.splitlines():
            job = parse_scontrol(line)
            if job is not None and job.job_id == job_id:
                return job
        return None

    def find_by_name(self, job_name: str) -> str | None:
        """The newest job Slurm knows by this exact name (for a sidecar without an id)."""
        proc = self._run(["squeue", "-h", "-t", "all", f"--name={job_name}", "-o", "%i"])
        if proc.returncode != 0:
            raise SlurmUnavailable(f"squeue --name failed: {proc.stderr.strip()}")
        ids = [i for i in proc.stdout.split() if i.isdigit()]
        return max(ids, key=int) if ids else None

    def cancel_by_name(self, job_name: str) -> None:
        proc = self._run(["scancel", f"--name={job_name}"])
        if proc.returncode != 0:
            raise SlurmUnavailable(f"scancel --name={job_name} failed: {proc.stderr.strip()}")

    def cancel(self, job_id: str, *, kill: bool = False) -> None:
        """scancel: SIGTERM to the step (the worker writes its interrupted result), then KILL
        after the cluster's KillWait; `kill` sends KILL at once."""
        argv = ["scancel", "--signal=KILL", "--full", job_id] if kill else ["scancel", job_id]
        proc = self._run(argv)
        if proc.returncode != 0 and _GONE not in proc.stderr:
            raise SlurmUnavailable(f"scancel {job_id} failed: {proc.stderr.strip()}")

    def _which(self, tool: str) -> str | None:
        path = (self.env if self.env is not None else os.environ).get("PATH", os.defpath)
        return shutil.which(tool, path=path)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        exe = self._paths.get(argv[0]) or self._which(argv[0])
        if exe is None:
            raise SlurmUnavailable(f"{argv[0]} is not on PATH")
        self._paths[argv[0]] = exe
        try:
            return subprocess.run(
                [exe, *argv[1:]],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=self.env,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SlurmUnavailable(
                f"{argv[0]} did not answer within {self.timeout:.0f} s"
            ) from None
