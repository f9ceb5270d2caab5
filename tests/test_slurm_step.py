"""workers.slurm_step run directly (no Slurm): the spool it writes, and when it refuses to run."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from proxx.contract.protocol import JobPlanned, decode_for_supervisor
from proxx.slurm.spool import spool_path
from testkit import noise, spec_dict

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def step(
    claim: Path, base: Path, env: dict[str, str] | None = None, record: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-P",
        "-m",
        "proxx_workers.slurm_step",
        "--spool",
        spool_path(str(claim)),
        "--job-id",
        "abc",
        "--kind",
        "run",
        "--jobspec",
        str(claim),
        "--base-dir",
        str(base),
    ]
    if record is not None:
        argv += ["--record", str(record)]
    full = {k: v for k, v in os.environ.items() if k != "SLURM_RESTART_COUNT"}
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={**full, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def claimed(tmp_path: Path, clip: Callable[..., Path]) -> Path:
    src = clip("step.mov")
    (tmp_path / "out").mkdir()
    running = tmp_path / "running"
    running.mkdir()
    claim = running / "job.json"
    claim.write_text(json.dumps(spec_dict([str(src)], tmp_path / "out")))
    return claim


def test_the_step_runs_the_job_and_spools_every_message(
    tmp_path: Path,
    clip: Callable[..., Path],
) -> None:
    claim = claimed(tmp_path, clip)
    proc = step(claim, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = Path(spool_path(str(claim))).read_bytes().splitlines()
    kinds = [decode_for_supervisor(line).type for line in lines]
    assert kinds[0] == "phase_started" and kinds[-1] == "job_finished"
    assert "job_planned" in kinds and "clip_finished" in kinds
    assert (tmp_path / "out" / "step_proxy.mov").stat().st_size > 0


def test_a_restarted_step_refuses_and_touches_nothing(
    tmp_path: Path,
    clip: Callable[..., Path],
) -> None:
    claim = claimed(tmp_path, clip)
    proc = step(claim, tmp_path, {"SLURM_RESTART_COUNT": "1"})
    assert proc.returncode == 3
    assert "never runs a job twice" in proc.stderr
    assert not os.path.exists(spool_path(str(claim)))
    assert os.listdir(tmp_path / "out") == []
    # control: a first run (count 0, as Slurm sets it on no restart) does run
    assert step(claim, tmp_path, {"SLURM_RESTART_COUNT": "0"}).returncode == 0


def test_a_second_run_of_one_claim_refuses_because_its_spool_exists(
    tmp_path: Path,
    clip: Callable[..., Path],
) -> None:
    claim = claimed(tmp_path, clip)
    Path(spool_path(str(claim))).write_bytes(b"")  # the first run's spool
    proc = step(claim, tmp_path)
    assert proc.returncode == 3 and "already ran" in proc.stderr
    assert os.listdir(tmp_path / "out") == []


def test_a_step_that_cannot_see_the_watch_folder_says_so(tmp_path: Path) -> None:
    claim = tmp_path / "not-mounted" / "running" / "job.json"
    proc = step(claim, tmp_path)
    assert proc.returncode == 2
    assert "storage every node shares" in proc.stderr


def test_a_step_runs_only_the_claim_its_record_names(
    tmp_path: Path,
    clip: Callable[..., Path],
) -> None:
    claim = claimed(tmp_path, clip)
    record = tmp_path / "running" / ".job.json.slurm"
    # A late step whose job was filed (record gone), or whose name a later job took.
    for content in (None, '{"job_id": "someone-else"}'):
        if content is not None:
            record.write_text(content)
        proc = step(claim, tmp_path, record=record)
        assert proc.returncode == 3, proc.stderr
        assert not os.path.exists(spool_path(str(claim)))
    record.write_text('{"job_id": "abc"}')  # control: its own record
    assert step(claim, tmp_path, record=record).returncode == 0
    assert os.listdir(tmp_path / "out") == ["step_proxy.mov"]


def test_a_raw_job_stops_after_routing_unless_its_batch_job_holds_the_resolve_gres(
    tmp_path: Path,
) -> None:
    r3d = tmp_path / "A001_C001_0101AB_001.R3D"
    r3d.write_bytes(struct.pack(">I", 300) + b"RED2" + noise(292))
    (tmp_path / "out").mkdir()
    (tmp_path / "running").mkdir()
    claim = tmp_path / "running" / "raw.json"
    claim.write_text(
        json.dumps(
            spec_dict(
                [str(r3d)],
                tmp_path / "out",
                codec="prores_proxy",
                proxy_profile="proxy_prores_proxy_resolve",
            )
        )
    )
    spool = Path(spool_path(str(claim)))
    proc = step(claim, tmp_path, {"RESOLVE_SCRIPT_LIB": ""})
    assert proc.returncode == 7, proc.stderr
    kinds = [decode_for_supervisor(line).type for line in spool.read_bytes().splitlines()]
    assert "job_planned" not in kinds and "clip_started" not in kinds
    spool.unlink()  # as the supervisor does before the second batch job
    argv_env = {"RESOLVE_SCRIPT_LIB": ""}
    held = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "proxx_workers.slurm_step",
            "--spool",
            str(spool),
            "--job-id",
            "abc",
            "--jobspec",
            str(claim),
            "--base-dir",
            str(tmp_path),
            "--holds-resolve",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        stdin=subprocess.DEVNULL,
        env={**os.environ, **argv_env},
    )
    assert held.returncode == 0, held.stderr
    msgs = [decode_for_supervisor(line) for line in spool.read_bytes().splitlines()]
    planned = [m for m in msgs if isinstance(m, JobPlanned)]
    assert len(planned) == 1 and planned[0].engine == "resolve"
    assert os.listdir(tmp_path / "out") == []  # no Resolve on this host: nothing rendered
