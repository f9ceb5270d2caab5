"""`--log-format json` (or PROXX_LOG_FORMAT=json): every stderr line of every command is
a JSON object (issue 19, point 7), through the real CLI.

Each command is run so that it writes to stderr — its normal messages, an error of
its own, and click's usage errors (a missing argument, an unknown command) — and
every line is parsed. Records about a job name its job_id, and worker_id once a
worker ran it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxx.contract import logs
from proxx.runtime.relay import LogRelay
from testkit import ANY_ROOT, run_cli, spec_dict

JSON = {"PROXX_LOG_FORMAT": "json"}


def _records(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """Every stderr line, parsed: each must be a JSON object (and there must be some)."""
    lines = proc.stderr.splitlines()
    assert lines, f"{proc.args}: nothing on stderr"
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{proc.args[2:]}: not JSON on stderr: {line!r}") from None
        assert isinstance(record, dict) and {"ts", "level", "msg"} <= record.keys(), line
        records.append(record)
    return records


def _names_job(records: list[dict[str, Any]], job_id: str, worker: bool) -> None:
    """Every record that mentions the job carries its id (and its worker's)."""
    about = [r for r in records if job_id in str(r.get("msg"))]
    assert about, f"no record mentions job {job_id}"
    for r in about:
        assert r.get("job_id") == job_id, r
        if worker:
            assert "worker_id" in r, r


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "watch"
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    return root


def test_every_command_writes_only_json_lines_on_stderr(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    root, out, spec = _folder(tmp_path), tmp_path / "out", job([clip("a.mov")])
    (root / "pending" / "w.json").write_text(
        json.dumps(spec_dict([str(clip("a.mov"))], out, output_name_template="w_x"))
    )
    (root / "pending" / "c.json").write_text("{}")  # cancelled before it starts
    missing = str(tmp_path / "missing.json")

    ran = run_cli("run", str(spec), env=JSON)
    result = json.loads(ran.stdout)
    _names_job(_records(ran), result["job_id"], worker=True)
    cancelled = run_cli("cancel", str(root), "c.json", env=JSON)
    watched = run_cli("watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT, env=JSON)
    assert watched.returncode == 0, watched.stderr
    filed = json.loads((root / "completed" / "w.result.json").read_text())
    _names_job(_records(watched), filed["job_id"], worker=True)
    (c,) = [r for r in _records(cancelled) if "before it started" in r["msg"]]
    assert c["job_id"] == json.loads((root / "failed" / "c.result.json").read_text())["job_id"]

    runs: list[tuple[str, ...]] = [
        ("run", missing),  # the job's closing lines and its error
        ("validate", str(spec)),
        ("validate", missing),
        ("validate", "--preset", missing),
        ("watch", str(tmp_path / "nowhere"), "--once"),
        ("status", str(tmp_path / "nowhere")),  # click's usage error
        ("drain", str(root)),
        ("drain", str(root), "--off"),
        ("cancel", str(root), "nope.json"),
        ("cancel", str(root)),  # a missing argument
        ("remainder", str(root / "completed" / "w.result.json")),  # nothing to resubmit
        ("remainder", missing),
        ("plan", str(tmp_path)),  # no profile
        ("plan", str(clip("a.mov")), "--profile", "proxy_prores_proxy", "--dry-run"),
        ("probe",),  # a missing argument
        ("report", missing),
        ("nosuchcommand",),
    ]
    for args in runs:
        _records(run_cli(*args, env=JSON))
    # The group option says the same as the environment variable, before a command too.
    for args in (("--log-format", "json", "nosuchcommand"), ("--log-format=json", "status")):
        _records(run_cli(*args))
    errors = _records(run_cli("cancel", str(root), env=JSON))
    assert [r["level"] for r in errors] == ["ERROR"] * 3, errors
    assert errors[-1]["msg"] == "Error: Missing argument 'NAME'."


def test_a_workers_stray_output_is_relayed_as_json_lines(capfd: pytest.CaptureFixture[str]) -> None:
    record = json.dumps({"ts": "t", "level": "INFO", "msg": "a record", "worker_id": 3})
    r, w = os.pipe()
    os.write(w, f"Traceback (most recent call last):\n{record}\nlast words".encode())
    os.close(w)
    logs.setup(fmt="json")
    try:
        LogRelay(r, worker_id=3).pump()  # to EOF: the last line without its newline too
    finally:
        logs.setup(fmt="text")
    lines = capfd.readouterr().err.splitlines()
    stray, kept, last = (json.loads(line) for line in lines)
    assert (stray["level"], stray["worker_id"], stray["logger"]) == ("ERROR", 3, "proxx.worker")
    assert stray["msg"] == "Traceback (most recent call last):"
    assert kept == json.loads(record)  # a record passes as it is
    assert (last["msg"], last["worker_id"]) == ("last words", 3)
