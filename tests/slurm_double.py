"""Slurm played by an in-memory double, and helpers that drive a SlurmExecutor.

FakeSlurm answers like squeue/scontrol would; the test moves jobs between states,
writes the job's spool file (a real one) and pumps the executor until it decides.
Used by tests/test_slurm_executor_*.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import ClipStarted, JobPlanned, PlannedClip, StartJob, encode
from proxx.contract.results import ClipResult
from proxx.runtime.listing import Listings, listed
from proxx.runtime.tracker import JobOutcome
from proxx.slurm.client import SlurmUnavailable, Submission
from proxx.slurm.executor import SlurmExecutor
from proxx.slurm.spool import spool_path
from proxx.slurm.states import SlurmJob


@dataclass
class FakeSlurm:
    """Answers like squeue/scontrol would; the test moves jobs between states."""

    states: dict[str, SlurmJob] = field(default_factory=dict)
    submitted: list[Submission] = field(default_factory=list)
    cancels: list[tuple[str, bool]] = field(default_factory=list)
    fail_submit: str | None = None
    unreachable: bool = False

    def check(self) -> None:
        if self.unreachable:
            raise SlurmUnavailable("the Slurm controller does not answer")

    def submit(self, sub: Submission) -> str:
        if self.fail_submit:
            raise SlurmUnavailable(self.fail_submit)
        self.submitted.append(sub)
        job_id = str(100 + len(self.submitted))
        self.set(job_id, "PENDING")
        return job_id

    def set(
        self,
        job_id: str,
        state: str,
        reason: str = "None",
        restarts: int = 0,
        exit_code: str = "0:0",
    ) -> None:
        self.states[job_id] = SlurmJob(job_id, state, reason, "node7", "1:00", exit_code, restarts)

    def poll(self, ids: list[str]) -> dict[str, SlurmJob]:
        if self.unreachable:
            raise SlurmUnavailable("squeue failed")
        return {i: self.states[i] for i in ids if i in self.states}

    def show(self, job_id: str) -> SlurmJob | None:
        return self.states.get(job_id)

    def find_by_name(self, name: str) -> str | None:
        if self.unreachable:
            raise SlurmUnavailable("squeue failed")
        for sub, job_id in zip(self.submitted, self.states, strict=False):
            if sub.job_name == name:
                return job_id
        return None

    def cancel(self, job_id: str, *, kill: bool = False) -> None:
        self.cancels.append((job_id, kill))

    def cancel_by_name(self, name: str) -> None:
        self.cancels.append((name, False))


class NoLister(Listings):
    """Lists no job's clips, and starts no process: the unit tier is in-process (the
    real lister is exercised in tests/test_listing.py)."""

    def start(self, outcome: JobOutcome, now: float) -> JobOutcome | None:
        return listed(outcome, None, "not listed: the unit tier starts no lister")


def make(tmp_path: Path, slurm: FakeSlurm, **kw: object) -> tuple[SlurmExecutor, StartJob]:
    """An executor over `slurm`, and a request for `running/job.json` (`kw`: the
    executor's settings; `lister` defaults to NoLister)."""
    kw.setdefault("lister", NoLister(Deadlines()))
    running = tmp_path / "running"
    running.mkdir(exist_ok=True)
    claim = running / "job.json"
    claim.write_text("{}")
    ex = SlurmExecutor(
        size=2,
        root=str(tmp_path),
        client=slurm,  # type: ignore[arg-type]
        poll_s=0.01,
        spool_grace_s=0.2,
        **kw,  # type: ignore[arg-type]
    )
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(claim), base_dir=str(tmp_path), worker_id=0
    )
    return ex, req


def submitted(tmp_path: Path, **kw: object) -> tuple[FakeSlurm, SlurmExecutor, StartJob, str]:
    """One job submitted through `make`: the double, the executor, the request, the Slurm id."""
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm, **kw)
    ex.submit(req)
    (job_id,) = slurm.states
    return slurm, ex, req, job_id


def spool_write(req: StartJob, *msgs: object) -> None:
    with open(spool_path(req.jobspec_path), "ab") as fh:
        for msg in msgs:
            fh.write(encode(msg) + b"\n")  # type: ignore[arg-type]


def run_until(ex: SlurmExecutor, seconds: float = 10.0) -> JobOutcome:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for event in ex.wait(0.01):
            if isinstance(event, JobOutcome):
                return event
    raise AssertionError("no outcome")


def until_cancelled(ex: SlurmExecutor, slurm: FakeSlurm, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not slurm.cancels and time.monotonic() < deadline:
        ex.wait(0.01)


def nothing_for(ex: SlurmExecutor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not [e for e in ex.wait(0.01) if isinstance(e, JobOutcome)]


def planned(req: StartJob, tmp_path: Path) -> list[object]:
    clip = PlannedClip(index=0, source_path="/src/a.mov", output_path=str(tmp_path / "a.mov"))
    return [
        JobPlanned(
            job_id=req.job_id,
            jobspec_version="1.0.0",
            fingerprint="sha256:x",
            engine="ffmpeg",
            routing_reason="test",
            clips=[clip],
        ),
        ClipStarted(
            job_id=req.job_id, index=0, started_at="2026-01-01T00:00:00Z", ffmpeg_command="ffmpeg …"
        ),
    ]


def interrupted_clip(tmp_path: Path) -> ClipResult:
    return ClipResult(
        source_path="/src/a.mov",
        output_path=str(tmp_path / "a.mov"),
        status="FAILED",
        engine="ffmpeg",
        failure_reason=FailureReason.INTERRUPTED,
        failure_detail="worker received SIGTERM",
    )
