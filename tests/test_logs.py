"""Logs from every process: the same format, the same level, job and worker ids on each line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from testkit import run_cli


def test_json_logs_from_the_cli_and_its_worker_carry_job_and_worker_ids(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    spec = job([clip()])
    proc = run_cli("--log-format", "json", "run", str(spec))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]  # every line is JSON
    result = json.loads(proc.stdout)
    planned = [r for r in lines if r.get("state") == "planned"]
    assert len(planned) == 1, lines
    # Logged by the worker process, set up in the child from the parent's choice.
    assert planned[0]["job_id"] == result["job_id"] and planned[0]["worker_id"] == 0
    assert planned[0]["jobspec"] == spec.name and planned[0]["logger"] == "workers.job"
    [summary] = [r for r in lines if r["logger"] == "proxx.run"]  # the CLI's own line
    assert summary["pid"] != planned[0]["pid"]


def test_the_log_level_reaches_the_workers(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    loud = run_cli("run", str(job([clip()], name="loud.json", output_name_template="loud")))
    assert loud.returncode == 0 and "workers.job" in loud.stderr  # control: INFO shows it
    quiet = run_cli(
        "run",
        str(job([clip()], name="quiet.json", output_name_template="quiet")),
        env={"PROXX_LOG_LEVEL": "WARNING"},
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "workers.job" not in quiet.stderr  # the worker's INFO line is below WARNING
