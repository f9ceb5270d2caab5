"""SlurmExecutor's decisions, with Slurm played by an in-memory double and a real spool file.

The real cluster is exercised in integration/test_slurm.py; here each ordering
that is hard to provoke there (requeue, a garbled spool, a controller that
stops answering, time in the queue) is fed directly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    ClipFinished,
    ClipStarted,
    JobFinished,
    JobPlanned,
    PlannedClip,
    StartJob,
    encode,
)
from proxx.contract.results import ClipResult
from proxx.runtime.executor import JobNoted
from proxx.runtime.tracker import JobOutcome
from proxx.slurm import sidecar
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


def make(tmp_path: Path, slurm: FakeSlurm, **kw: object) -> tuple[SlurmExecutor, StartJob]:
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


SHORT = Deadlines(accept=0.3)


def test_time_in_the_queue_is_not_a_hang_but_silence_on_a_node_is(tmp_path: Path) -> None:
    slurm, ex, _, job_id = submitted(tmp_path, deadlines=SHORT)
    nothing_for(ex, 0.8)  # PENDING for longer than the accept deadline: fine
    assert slurm.cancels == []
    slurm.set(job_id, "RUNNING")
    nothing_for(ex, 0.1)
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]  # silent on the node past the deadline: killed
    slurm.set(job_id, "FAILED", "NonZeroExitCode")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.TIMEOUT
    assert "accept phase exceeded" in outcome.early_stop[1]


# The expected reason is written out, not asked of the code under test: a wrong
# mapping, or the wrong job's record overlaid, must fail here.
@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("TIMEOUT", "TimeLimit", FailureReason.TIMEOUT),
        ("NODE_FAIL", "NodeDown", FailureReason.WORKER_CRASHED),
        ("CANCELLED", "None", FailureReason.INTERRUPTED),
    ],
)
def test_a_clip_stopped_by_slurms_sigterm_takes_slurms_reason(
    tmp_path: Path, state: str, reason: str, expected: FailureReason
) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    spool_write(
        req,
        *planned(req, tmp_path),
        ClipFinished(job_id=req.job_id, clip=interrupted_clip(tmp_path)),
        JobFinished(job_id=req.job_id, engine_versions={"ffmpeg": "5.1"}),
    )
    nothing_for(ex, 0.2)  # reported its end, but Slurm has not ended the job yet
    slurm.set(job_id, state, reason)
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert clip.failure_reason is expected
    assert clip.failure_detail is not None
    assert "worker received SIGTERM" in clip.failure_detail
    assert f"Slurm job {job_id} {state} (reason: {reason}" in clip.failure_detail
    assert outcome.executor_info["slurm_job_id"] == job_id
    assert outcome.executor_info["slurm_node"] == "node7"
    # running/ is left empty: spool and record go with the outcome
    assert sorted(os.listdir(tmp_path / "running")) == ["job.json"]


def test_a_completed_job_keeps_its_clips_as_reported(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    done = interrupted_clip(tmp_path).model_copy(
        update={"status": "COMPLETED", "failure_reason": None, "failure_detail": None}
    )
    spool_write(
        req,
        *planned(req, tmp_path),
        ClipFinished(job_id=req.job_id, clip=done),
        JobFinished(job_id=req.job_id, engine_versions={}),
    )
    slurm.set(job_id, "COMPLETED")
    outcome = run_until(ex)
    assert [c.status for c in outcome.clips] == ["COMPLETED"]
    assert outcome.clips[0].failure_detail is None


def test_a_step_that_ends_without_a_word_is_a_crash_with_slurms_state(tmp_path: Path) -> None:
    slurm, ex, _, job_id = submitted(tmp_path)
    slurm.set(job_id, "FAILED", "NonZeroExitCode")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    failure, detail = outcome.early_stop
    assert failure is FailureReason.WORKER_CRASHED
    assert "FAILED" in detail and "NonZeroExitCode" in detail
    assert "the step wrote no spool" in detail  # the shared-storage hint


def test_a_requeued_job_is_cancelled_and_failed_never_run_twice(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    spool_write(req, *planned(req, tmp_path))
    nothing_for(ex, 0.1)
    slurm.set(job_id, "PENDING", "BeginTime", restarts=1)  # an administrator's requeue
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]
    slurm.set(job_id, "CANCELLED", restarts=1)
    outcome = run_until(ex)
    (clip,) = outcome.clips
    assert clip.failure_reason is FailureReason.WORKER_CRASHED
    assert clip.failure_detail is not None and "requeued" in clip.failure_detail
    assert len(slurm.submitted) == 1


def test_a_garbled_spool_kills_the_job_as_a_crash(tmp_path: Path) -> None:
    slurm, ex, req, job_id = submitted(tmp_path)
    slurm.set(job_id, "RUNNING")
    with open(spool_path(req.jobspec_path), "ab") as fh:
        fh.write(b'{"type": "job_finished"}\n')  # not a valid message
    until_cancelled(ex, slurm)
    assert slurm.cancels == [(job_id, True)]
    slurm.set(job_id, "CANCELLED")
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.WORKER_CRASHED
    assert "not a worker message" in outcome.early_stop[1]


def test_sbatch_failing_later_fails_that_job_as_engine_unavailable(tmp_path: Path) -> None:
    slurm = FakeSlurm(fail_submit="sbatch failed (exit 1): invalid partition specified")
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.ENGINE_UNAVAILABLE
    assert "invalid partition" in outcome.early_stop[1]
    assert sidecar.read(req.jobspec_path) is None
    assert ex.free_slots() == 2  # the runner carries on


def test_the_record_is_written_before_sbatch_and_names_the_slurm_job(tmp_path: Path) -> None:
    seen: list[sidecar.Sidecar | None] = []

    class Watching(FakeSlurm):
        def submit(self, sub: Submission) -> str:
            seen.append(sidecar.read(req.jobspec_path))
            return super().submit(sub)

    slurm = Watching()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    assert seen[0] is not None and seen[0].slurm_job_id is None
    record = sidecar.read(req.jobspec_path)
    assert record is not None and record.slurm_job_id == "101"
    assert record.job_name == slurm.submitted[0].job_name == "proxx-j1-job.json"


def test_adopt_reattaches_retries_or_declines(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    nameless = sidecar.new("j0", "proxx-j0-job.json", None, "2026-01-01T00:00:00Z")
    # never submitted (died before sbatch ran): the caller recovers it
    assert ex.adopt(req, nameless) == "absent"
    slurm.unreachable = True
    assert ex.adopt(req, nameless) == "retry"  # cannot tell: touch nothing
    slurm.unreachable = False
    slurm.set("55", "RUNNING")
    record = nameless.model_copy(update={"slurm_job_id": "55"})
    assert ex.adopt(req, record) == "adopted"
    adopted = req.model_copy(update={"job_id": "j0"})
    spool_write(adopted, *planned(adopted, tmp_path), JobFinished(job_id="j0", engine_versions={}))
    slurm.set("55", "COMPLETED")
    outcome = run_until(ex)
    assert outcome.request.job_id == "j0"  # the original job id, not a new one
    assert outcome.executor_info["slurm_job_id"] == "55"
    assert slurm.submitted == []  # re-attached, never resubmitted


def test_start_fails_clearly_when_slurm_does_not_answer(tmp_path: Path) -> None:
    ex, _ = make(tmp_path, FakeSlurm(unreachable=True))
    with pytest.raises(SlurmUnavailable, match="does not answer"):
        ex.start()


def test_an_sbatch_that_timed_out_but_queued_the_job_keeps_that_job(tmp_path: Path) -> None:
    class Slow(FakeSlurm):
        def submit(self, sub: Submission) -> str:
            super().submit(sub)  # Slurm queued it …
            raise SlurmUnavailable("sbatch did not answer within 30 s")  # … we never heard

    slurm = Slow()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    record = sidecar.read(req.jobspec_path)
    assert record is not None and record.slurm_job_id == "101"
    slurm.set("101", "COMPLETED")
    spool_write(req, *planned(req, tmp_path), JobFinished(job_id=req.job_id, engine_versions={}))
    outcome = run_until(ex)
    assert outcome.early_stop is None and outcome.executor_info["slurm_job_id"] == "101"
    assert len(slurm.submitted) == 1


def test_an_sbatch_failure_slurm_cannot_confirm_cancels_by_name(tmp_path: Path) -> None:
    class Gone(FakeSlurm):
        def submit(self, sub: Submission) -> str:
            self.unreachable = True
            raise SlurmUnavailable("sbatch did not answer within 30 s")

    slurm = Gone()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    assert slurm.cancels == [("proxx-j1-job.json", False)]  # whatever Slurm did, undone
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.ENGINE_UNAVAILABLE


def test_a_job_that_routes_to_resolve_runs_again_holding_the_resolve_gres(
    tmp_path: Path,
) -> None:
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    assert slurm.submitted[0].gres is None
    spool_write(req)  # the routing pass's spool (its phases only)
    slurm.set("101", "FAILED", "NonZeroExitCode", exit_code="7:0")
    deadline = time.monotonic() + 5
    while len(slurm.submitted) < 2 and time.monotonic() < deadline:
        assert not [e for e in ex.wait(0.01) if isinstance(e, JobOutcome)]
    second = slurm.submitted[1]
    assert second.gres == "resolve:1" and "--holds-resolve" in second.command
    assert second.job_name == "proxx-j1-resolve-job.json"
    assert not os.path.exists(spool_path(req.jobspec_path))  # the new step starts afresh
    record = sidecar.read(req.jobspec_path)
    assert record is not None and (record.slurm_job_id, record.gres) == ("102", "resolve:1")
    spool_write(req, *planned(req, tmp_path), JobFinished(job_id=req.job_id, engine_versions={}))
    slurm.set("102", "COMPLETED")
    outcome = run_until(ex)
    assert outcome.executor_info["slurm_job_id"] == "102"
    assert len(slurm.submitted) == 2  # and never a third time


def test_notes_say_why_a_job_waits_and_where_it_runs(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    notes: list[str] = []

    def pump(seconds: float = 0.1) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            notes.extend(e.note for e in ex.wait(0.01) if isinstance(e, JobNoted))

    pump()  # PENDING with reason None: Slurm has not looked yet, nothing to say
    slurm.set("101", "PENDING", "Resources")
    pump()
    slurm.set("101", "PENDING", "Resources")  # unchanged: said once
    pump()
    slurm.set("101", "RUNNING")
    pump()
    assert notes == ["Slurm job 101 pending (Resources)", "Slurm job 101 running on node node7"]


def test_a_controller_gone_at_submit_fails_that_job_and_pauses_claiming_until_it_answers(
    tmp_path: Path,
) -> None:
    class Down(FakeSlurm):
        def submit(self, sub: Submission) -> str:
            if self.unreachable:
                raise SlurmUnavailable(
                    "sbatch failed (exit 1): sbatch: error: Batch job "
                    "submission failed: Unable to contact slurm controller "
                    "(connect failure)"
                )
            return super().submit(sub)

    slurm = Down(unreachable=True)
    ex, req = make(tmp_path, slurm, ping_s=0.05)
    ex.submit(req)
    outcome = run_until(ex)
    assert outcome.early_stop is not None
    assert outcome.early_stop[0] is FailureReason.ENGINE_UNAVAILABLE
    assert slurm.cancels == []  # a connect failure queued nothing: no lookup, no cancel
    time.sleep(0.1)
    assert ex.free_slots() == 0  # still down: the next pending job is not claimed
    slurm.unreachable = False
    time.sleep(0.1)
    assert ex.free_slots() == 2  # answered a ping: claiming resumes


def test_a_shutdown_cancels_queued_jobs_before_running_ones(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    second = tmp_path / "running" / "later.json"
    second.write_text("{}")
    ex.submit(req.model_copy(update={"job_id": "j2", "jobspec_path": str(second)}))
    slurm.set("101", "RUNNING")
    ex.wait(0.01)  # sees 101 running; 102 stays queued
    ex.cancel_all("proxx watch received SIGTERM")
    assert slurm.cancels == [("102", False), ("101", False)]
