"""What Slurm says about a job, parsed; and what each way of ending means for Proxx."""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxx.contract.errors import FailureReason
from proxx.contract.step import EXIT_NEEDS_RESOLVE

# States in which a job still holds (or will hold) resources and may still run
# or report. COMPLETING: the batch step ended, Slurm is still cleaning up.
ALIVE = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
# A requeued job is a second run of the same JobSpec: Proxx never allows it.
REQUEUED = frozenset({"REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT"})

_END_REASON: dict[str, FailureReason] = {
    "CANCELLED": FailureReason.INTERRUPTED,
    "PREEMPTED": FailureReason.INTERRUPTED,
    "TIMEOUT": FailureReason.TIMEOUT,
    "DEADLINE": FailureReason.TIMEOUT,
    "FAILED": FailureReason.WORKER_CRASHED,
    "NODE_FAIL": FailureReason.WORKER_CRASHED,
    "BOOT_FAIL": FailureReason.WORKER_CRASHED,
    "OUT_OF_MEMORY": FailureReason.WORKER_CRASHED,
    # The step exited 0 without having reported the job's end: still a crash.
    "COMPLETED": FailureReason.WORKER_CRASHED,
}

RESOLVE_GRES = "resolve:1"

# squeue output format: reason last, so a reason containing the separator survives.
SQUEUE_FORMAT = "%i|%T|%N|%l|%r"
_KEY = re.compile(r" (?=[A-Za-z][A-Za-z0-9_:/]*=)")


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    state: str  # JobState without flags, upper case: RUNNING, CANCELLED, …
    reason: str
    node: str | None
    time_limit: str | None
    exit_code: str | None = None  # "exit:signal" as scontrol prints it
    restarts: int = 0

    @property
    def alive(self) -> bool:
        return self.state in ALIVE

    @property
    def requeued(self) -> bool:
        return self.state in REQUEUED or self.restarts > 0

    def exited(self, status: int) -> bool:
        """Whether the batch step exited with `status` ("5:0" is exit 5, no signal)."""
        return (self.exit_code or "").split(":", 1)[0] == str(status)

    def describe(self) -> str:
        where = f" on node {self.node}" if self.node else ""
        code = f", exit code {self.exit_code}" if self.exit_code else ""
        return f"Slurm job {self.job_id} {self.state} (reason: {self.reason}{code}){where}"


def _clean_state(raw: str) -> str:
    # squeue may print "CANCELLED by 0"; scontrol never adds words, but be strict.
    return raw.strip().split(" ")[0].upper()


def _none(value: str | None) -> str | None:
    if value is None or value.strip() in ("", "(null)", "None", "n/a", "N/A"):
        return None
    return value.strip()


def parse_squeue(text: str) -> dict[str, SlurmJob]:
    """Parse `squeue -h -t all -o SQUEUE_FORMAT` output; lines that do not fit are skipped."""
    jobs: dict[str, SlurmJob] = {}
    for line in text.splitlines():
        parts = line.split("|", 4)
        if len(parts) != 5 or not parts[0].strip():
            continue
        job_id, state, node, limit, reason = (p.strip() for p in parts)
        jobs[job_id] = SlurmJob(
            job_id=job_id,
            state=_clean_state(state),
            reason=reason or "None",
            node=_none(node),
            time_limit=_none(limit),
        )
    return jobs


def parse_scontrol(line: str) -> SlurmJob | None:
    """Parse one `scontrol show job -o ID` line (space-separated Key=Value pairs)."""
    fields: dict[str, str] = {}
    for part in _KEY.split(line.strip()):
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
    if "JobId" not in fields or "JobState" not in fields:
        return None
    try:
        restarts = int(fields.get("Restarts", "0"))
    except ValueError:
        restarts = 0
    return SlurmJob(
        job_id=fields["JobId"],
        state=_clean_state(fields["JobState"]),
        reason=fields.get("Reason", "None") or "None",
        node=_none(fields.get("NodeList")),
        time_limit=_none(fields.get("TimeLimit")),
        exit_code=_none(fields.get("ExitCode")),
        restarts=restarts,
    )


def end_failure(job: SlurmJob) -> tuple[FailureReason, str]:
    """Why a job that ended without reporting its own end failed, in the result's words."""
    reason = _END_REASON.get(job.state, FailureReason.WORKER_CRASHED)
    if job.requeued:
        return FailureReason.WORKER_CRASHED, (
            f"{job.describe()}: Slurm requeued the job (restarts: {job.restarts}); "
            "Proxx never runs a job twice"
        )
    if job.state == "COMPLETED":
        return reason, f"{job.describe()}: the step ended without reporting the job's end"
    return reason, job.describe()


def needs_resolve(job: SlurmJob) -> bool:
    """The step stopped after routing because the job needs the `resolve` GRES."""
    return not job.alive and job.exited(EXIT_NEEDS_RESOLVE)
