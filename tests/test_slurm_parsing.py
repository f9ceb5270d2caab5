"""The Slurm layer's pure parts: what Slurm prints, parsed; end states mapped; spool reading."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from proxx.contract.errors import FailureReason
from proxx.slurm import sidecar
from proxx.slurm.client import Submission, parse_parsable, reserved_args, sbatch_argv
from proxx.slurm.spool import SpoolGarbage, SpoolReader
from proxx.slurm.states import end_failure, parse_scontrol, parse_squeue
from testkit import run_cli
from workers.slurm_step import append_line

# Captured from slurm-wlm 22.05 on this machine kind (`scontrol show job -o 4` after
# `scontrol update nodename=vm state=down reason=test` mid-job).
SCONTROL_NODE_FAIL = (
    "JobId=4 JobName=proxx-a1-job 7.json UserId=root(0) GroupId=root(0) MCS_label=N/A "
    "Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=NODE_FAIL Reason=NodeDown "
    "Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=143:0 "
    "RunTime=00:00:02 TimeLimit=UNLIMITED TimeMin=N/A AllocNode:Sid=localhost:8436 "
    "ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 "
    "ReqB:S:C:T=0:0:*:* Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CPUs/Task=1 "
    "WorkDir=/srv/watch StdErr=/srv/watch/x.err StdIn=/dev/null Power= "
)


def test_scontrol_line_parses_state_reason_node_exit_code_and_names_with_spaces() -> None:
    job = parse_scontrol(SCONTROL_NODE_FAIL)
    assert job is not None
    assert (job.job_id, job.state, job.reason, job.node) == ("4", "NODE_FAIL", "NodeDown", "vm")
    assert (job.exit_code, job.time_limit, job.restarts) == ("143:0", "UNLIMITED", 0)
    assert not job.alive and not job.requeued


def test_scontrol_line_without_a_job_is_none() -> None:
    assert parse_scontrol("slurm_load_jobs error: Invalid job id specified") is None


def test_squeue_lines_parse_and_reasons_may_contain_the_separator() -> None:
    text = (
        "12|RUNNING|vm|1:00|None\n13|PENDING||UNLIMITED|Resources|odd\n"
        "14|CANCELLED by 0|vm|1:00|None\n\ngarbage\n"
    )
    jobs = parse_squeue(text)
    assert set(jobs) == {"12", "13", "14"}
    assert jobs["12"].alive and jobs["13"].alive and not jobs["14"].alive
    assert jobs["13"].node is None and jobs["13"].reason == "Resources|odd"
    assert jobs["14"].state == "CANCELLED"


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("CANCELLED", "None", FailureReason.INTERRUPTED),
        ("PREEMPTED", "None", FailureReason.INTERRUPTED),
        ("TIMEOUT", "TimeLimit", FailureReason.TIMEOUT),
        ("DEADLINE", "DeadLine", FailureReason.TIMEOUT),
        ("FAILED", "NonZeroExitCode", FailureReason.WORKER_CRASHED),
        ("NODE_FAIL", "NodeDown", FailureReason.WORKER_CRASHED),
        ("BOOT_FAIL", "None", FailureReason.WORKER_CRASHED),
        ("OUT_OF_MEMORY", "OutOfMemory", FailureReason.WORKER_CRASHED),
        ("COMPLETED", "None", FailureReason.WORKER_CRASHED),
    ],
)
def test_every_end_state_maps_to_a_reason_and_the_detail_names_state_and_reason(
    state: str,
    reason: str,
    expected: FailureReason,
) -> None:
    job = parse_squeue(f"7|{state}|vm|1:00|{reason}")["7"]
    failure, detail = end_failure(job)
    assert failure == expected
    assert state in detail and reason in detail and "7" in detail and "vm" in detail


def test_a_requeued_job_is_refused_whatever_its_state() -> None:
    line = SCONTROL_NODE_FAIL.replace("Restarts=0", "Restarts=1").replace(
        "JobState=NODE_FAIL", "JobState=PENDING"
    )
    job = parse_scontrol(line)
    assert job is not None and job.requeued
    failure, detail = end_failure(job)
    assert failure == FailureReason.WORKER_CRASHED and "requeued" in detail
    # control: the same job without a restart is not a requeue
    plain = parse_scontrol(SCONTROL_NODE_FAIL.replace("JobState=NODE_FAIL", "JobState=PENDING"))
    assert plain is not None and not plain.requeued and plain.alive


def test_sbatch_argv_never_allows_requeue_and_the_wrapped_command_round_trips() -> None:
    sub = Submission(
        job_name="proxx-x-a b.json",
        command=["/v env/python", "-P", "-m", "w", "it's"],
        workdir="/w",
        stdout="/w/o",
        stderr="/w/e",
        gres="resolve:1",
        extra_args=["--partition=gpu", "--requeue"],
    )
    argv = sbatch_argv(sub)
    assert argv[:3] == ["sbatch", "--parsable", "--no-requeue"]
    assert "--gres=resolve:1" in argv and "--partition=gpu" in argv
    # the operator's --requeue comes before our last --no-requeue: the last one wins in sbatch
    assert argv.index("--requeue") < len(argv) - 1 - argv[::-1].index("--no-requeue")
    wrapped = argv[argv.index("--wrap") + 1]
    assert wrapped.startswith("exec ") and shlex.split(wrapped[5:]) == list(sub.command)


def test_parsable_output() -> None:
    assert parse_parsable("42\n") == "42"
    assert parse_parsable("42;cluster1\n") == "42"
    with pytest.raises(Exception, match="not a job id"):
        parse_parsable("sbatch: error: Batch job submission failed\n")


def _reader(path: Path, max_line: int = 1 << 20) -> SpoolReader[dict[str, object]]:
    def decode(raw: bytes) -> dict[str, object]:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value

    return SpoolReader(str(path), decode, max_line=max_line)


def test_spool_reader_returns_only_complete_lines_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "j.json.spool"
    reader = _reader(path)
    assert reader.read_new() == []  # not created yet
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        append_line(fd, b'{"n": 1}')
        os.write(fd, b'{"n": 2')  # half a line: a writer caught mid-write
        assert reader.read_new() == [{"n": 1}]
        assert reader.read_new() == []
        os.write(fd, b"}\n")
        append_line(fd, b'{"n": 3}')
        assert reader.read_all_new() == [{"n": 2}, {"n": 3}]
    finally:
        os.close(fd)


def test_spool_garbage_and_oversized_lines_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.spool"
    bad.write_bytes(b'{"n": 1}\n[1, 2]\n')
    reader = _reader(bad)
    with pytest.raises(SpoolGarbage, match="line 2"):
        reader.read_new()
    big = tmp_path / "big.spool"
    big.write_bytes(b"x" * 200)  # no newline, longer than the bound: never a message
    with pytest.raises(SpoolGarbage, match="longer than 100"):
        _reader(big, max_line=100).read_new()
    # control: the same bytes under the bound are just an incomplete line
    assert _reader(big, max_line=1000).read_new() == []


def test_sidecar_round_trip_and_unreadable_is_none(tmp_path: Path) -> None:
    claim = str(tmp_path / "job.json")
    assert sidecar.read(claim) is None
    sidecar.write(claim, sidecar.new("j1", "proxx-j1-job.json", None, "2026-01-01T00:00:00Z"))
    first = sidecar.read(claim)
    assert first is not None and first.slurm_job_id is None and first.runner_pid == os.getpid()
    sidecar.write(claim, first.model_copy(update={"slurm_job_id": "77"}))
    again = sidecar.read(claim)
    assert again is not None and again.slurm_job_id == "77"
    Path(sidecar.sidecar_path(claim)).write_text("{not json")
    assert sidecar.read(claim) is None


def test_slurm_args_that_would_break_a_promise_are_refused_with_the_reason() -> None:
    refused = reserved_args(
        [
            "--partition=render",
            "--array=0-3",
            "-J",
            "x",
            "-o/tmp/o",
            "--requeue",
            "--time=10",
            "--wait",
        ]
    )
    assert [r.split(":", 1)[0] for r in refused] == [
        "--array=0-3",
        "-J",
        "-o/tmp/o",
        "--requeue",
        "--wait",
    ]
    assert "several times" in refused[0]
    assert reserved_args(["--partition=render", "--time=1", "--gres=gpu:1", "-p", "x"]) == []


@pytest.mark.e2e
def test_the_cli_refuses_a_reserved_slurm_arg_before_touching_anything(tmp_path: Path) -> None:
    proc = run_cli("watch", str(tmp_path), "--executor", "slurm", "--slurm-arg=--array=1-2")
    assert proc.returncode == 2
    assert "--slurm-arg cannot set --array=1-2" in proc.stderr
    assert os.listdir(tmp_path) == []  # not even the state folders
