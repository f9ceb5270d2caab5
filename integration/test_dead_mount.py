"""A source on a dead mount (a real FUSE mount that never answers) costs one job or one row.

Processes that touch it block in the kernel, deaf even to SIGKILL, until the
mount's daemon goes away: the runner must neither hang with them nor wait for
them forever. Needs root and /dev/fuse; skipped, saying so, without them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.watch_folder import drop, result, spec, specs_in
from integration.watch_helpers import REPO, Launcher
from proxx.contract.deadlines import Deadlines
from proxx.runtime.probing import probe_files
from proxx.runtime.runjob import run_one
from testkit import run_cli

SHORT = Deadlines(accept=20.0, probe=lambda _n: 3.0)


@pytest.fixture
def dead(tmp_path: Path) -> Iterator[Path]:
    """A mount point whose every lookup hangs; torn down by the daemon's PID."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("a real dead mount needs root and /dev/fuse")
    mnt = tmp_path / "dead"
    mnt.mkdir()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "integration.dead_mount", str(mnt)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert daemon.stdout is not None
    line = daemon.stdout.readline().strip()
    if line != "mounted":
        daemon.wait(10)
        pytest.skip(f"cannot mount FUSE here: {line}")
    try:
        yield mnt
    finally:
        daemon.kill()  # aborts the connection: every blocked call fails and returns
        daemon.wait(10)
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def test_proxx_probe_answers_after_the_limit_and_goes_on(dead: Path, tiny: Path) -> None:
    started = time.monotonic()

    rows = probe_files([str(dead / "A001.mov"), str(tiny)], deadlines=SHORT)

    assert rows[0].engine is None and "no answer within 3 s" in rows[0].reason
    assert rows[1].engine == "ffmpeg"
    assert time.monotonic() - started < 20  # the limit, a restart, a bounded reap


def test_a_job_whose_source_is_on_a_dead_mount_fails_and_the_runner_goes_on(
    launcher: Launcher, dead: Path, root: Path, out: Path, tiny: Path
) -> None:
    # `launcher` first: its clean-up runs after the mount's daemon is gone.
    drop(root, "a_dead.json", spec([str(dead / "A001.mov")], out))
    drop(root, "b_good.json", spec([tiny], out, output_name_template="good"))
    watch = launcher.driver(
        root, "proxx_workers.main:worker_main", "--max-workers", "1", "--probe-timeout", "3"
    )

    wait_for(
        lambda: (
            specs_in(root, "failed") == ["a_dead.json"]
            and specs_in(root, "completed") == ["b_good.json"]
        ),
        "the dead job to fail and the good one to complete",
        timeout=90,
        on_fail=watch.log,
    )
    res = result(root, "failed", "a_dead")
    assert res["status"] == "FAILED"
    why = res["system_error"] or ""
    assert why.startswith("timeout: probe phase exceeded its 3 s limit"), why
    assert "did not die 5 s after SIGKILL: stuck in the kernel" in why, why
    # One worker: the good job ran on the replacement of the stuck one.
    assert result(root, "completed", "b_good")["status"] == "COMPLETED"
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()


def test_proxx_run_of_a_source_on_a_dead_mount_returns_with_a_timeout(
    dead: Path, tmp_path: Path, out: Path
) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec([str(dead / "A001.mov")], out)))
    started = time.monotonic()

    ran = run_one(str(job), deadlines=SHORT)

    res = ran.result
    assert res.status == "FAILED" and res.exit_code() == 4, res
    assert res.system_error is not None and "stuck in the kernel" in res.system_error
    # The limit, the wait for SIGKILL to take, the shutdown's bounded wait: no more.
    assert time.monotonic() - started < 30


def test_proxx_status_reports_a_dead_output_folder_and_lists_the_others(
    dead: Path, root: Path, tmp_path: Path
) -> None:
    healthy = tmp_path / "healthy"
    healthy.mkdir()
    partial = healthy / ".a.mov.aaaaaaaaaaaa.partial"
    partial.write_bytes(b"x" * 7)
    # Finished jobs whose outputs went to the dead mount (sorted first) and to `healthy`.
    (root / "failed" / "dead.result.json").write_text(
        _result("bbbbbbbbbbbb", str(Path("/") / dead / "A001.mov"))
    )
    (root / "failed" / "ok.result.json").write_text(_result("aaaaaaaaaaaa", str(healthy / "a.mov")))
    started = time.monotonic()

    proc = run_cli("status", "--json", str(root), timeout=60)

    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert [p["path"] for p in status["partials"]] == [str(partial)]
    [unknown] = status["partials_unknown"]
    assert unknown["folder"] == str(dead) and "did not answer within 5 s" in unknown["reason"]
    assert time.monotonic() - started < 30
    text = run_cli("status", str(root), timeout=60).stdout
    assert f"output folder {dead}: did not answer within 5 s (a dead mount?)" in text


def _result(job_id: str, output: str) -> str:
    from datetime import UTC, datetime

    from proxx.contract.results import NO_FINGERPRINT, ClipResult, build_result

    clip = ClipResult(source_path="/s.mov", output_path=output, status="FAILED", engine="ffmpeg")
    res = build_result(
        job_id=job_id,
        jobspec_version="1.0.0",
        started=datetime.now(UTC),
        clips=[clip],
        fingerprint=NO_FINGERPRINT,
        jobspec_path=None,
    )
    return res.model_dump_json(by_alias=True)


def test_a_stuck_worker_does_not_hold_the_callers_pipes(
    dead: Path, tmp_path: Path, out: Path
) -> None:
    """`proxx run … 2>&1 | tee`: the pipes close when Proxx exits, stuck worker or not."""
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec([str(dead / "A001.mov")], out)))
    script = (
        "import sys; from proxx.contract import logs; from proxx.contract.deadlines import "
        "Deadlines; from proxx.runtime.runjob import run_one; logs.setup(); "
        "r = run_one(sys.argv[1], deadlines=Deadlines(probe=lambda _n: 3.0)).result; "
        "print(r.status)"
    )
    started = time.monotonic()

    proc = subprocess.run(
        [sys.executable, "-c", script, str(job)], capture_output=True, text=True, timeout=60
    )

    assert proc.stdout.strip() == "FAILED", proc.stderr
    assert "stuck in the kernel" in proc.stderr  # the worker's and the pool's lines came through
    assert time.monotonic() - started < 30
