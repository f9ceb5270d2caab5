"""SlurmExecutor: submitting, re-attaching and cancelling Slurm jobs.

sbatch failing, timing out after queueing, or finding the controller gone; the
record written before sbatch; the second batch job a Resolve job needs; re-attaching
after a restart; cancelling on shutdown. Slurm is played by an in-memory double
(tests/slurm_double.py); the real cluster is exercised in integration/test_slurm_*.py.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proxx.contract.errors import FailureReason
from proxx.contract.protocol import JobFinished
from proxx.runtime.executor import Adopted
from proxx.runtime.tracker import JobOutcome
from proxx.slurm import sidecar
from proxx.slurm.client import SlurmUnavailable, Submission
from proxx.slurm.spool import spool_path
from tests.slurm_double import FakeSlurm, make, planned, run_until, spool_write


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
    assert ex.adopt(req) == "absent"  # no record beside the claim: nothing was submitted
    nameless = sidecar.new("j0", "proxx-j0-job.json", None, "2026-01-01T00:00:00Z")
    sidecar.write(req.jobspec_path, nameless)
    # never submitted (died before sbatch ran): the caller recovers it
    assert ex.adopt(req) == "absent"
    slurm.unreachable = True
    assert ex.adopt(req) == "retry"  # cannot tell: touch nothing
    slurm.unreachable = False
    slurm.set("55", "RUNNING")
    sidecar.write(req.jobspec_path, nameless.model_copy(update={"slurm_job_id": "55"}))
    assert ex.adopt(req) == Adopted("j0", datetime(2026, 1, 1, tzinfo=UTC))
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


def test_a_filed_job_takes_the_record_temp_a_killed_runner_left_with_it(tmp_path: Path) -> None:
    # kill -9 of a runner while it rewrote the record leaves write_atomic's temp file;
    # the runner that took the claim over files the job, and running/ must end empty.
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm)
    ex.submit(req)
    (job_id,) = slurm.states
    running = tmp_path / "running"
    (running / "..job.json.slurm.30.tmp").write_text("{")  # the dead runner's
    (running / "..other.json.slurm.31.tmp").write_text("{")  # another claim's: kept
    slurm.set(job_id, "RUNNING")
    spool_write(req, *planned(req, tmp_path), JobFinished(job_id=req.job_id, engine_versions={}))
    slurm.set(job_id, "COMPLETED", exit_code="0:0")
    run_until(ex)
    assert sorted(os.listdir(running)) == ["..other.json.slurm.31.tmp", "job.json"]
