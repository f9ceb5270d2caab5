"""Isolation: `proxx run` and `proxx watch` leave no process behind, whatever ends them.

SIGHUP as a graceful stop, a SIGKILL of `proxx run`, `proxx run` returning only once
everything it started has ended; and a `proxx` folder in the working directory (the
watch folder named like the package) shadows none of proxx's modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from integration.processes import assert_gone, ffmpeg_procs, session_procs, wait_for
from integration.watch_folder import drop, listing, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import ANY_ROOT, spec_dict


@pytest.mark.slow
def test_a_proxx_folder_in_the_working_directory_shadows_nothing(
    tmp_path: Path, tiny: Path, out: Path
) -> None:
    # `cd /srv && proxx watch proxx`: the watch folder is named like the package.
    cwd = tmp_path / "srv"
    root = cwd / "proxx"
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    (cwd / "workers").mkdir()
    (cwd / "workers" / "__init__.py").write_text("raise SystemExit('shadowed workers')\n")
    drop(root, "a.json", spec([tiny], out))
    console = Path(sys.executable).parent / "proxx"  # the installed entry point
    proc = subprocess.run(
        [str(console), "watch", "proxx", *ANY_ROOT, "--once"],
        cwd=cwd,
        timeout=120,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert specs_in(root, "completed") == ["a.json"], (listing(root), proc.stderr)


@pytest.mark.slow
def test_sighup_is_a_graceful_stop(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a.json", spec([long_clip], out, output_name_template="long"))
    watch = launcher.cli(root, "--poll-seconds", "0.1")
    wait_for(
        lambda: any(n.endswith(".partial") for n in os.listdir(out)),
        "the render",
        on_fail=watch.log,
    )
    watch.send(signal.SIGHUP)
    assert watch.wait(timeout=30) == 0, watch.log()
    res = result(root, "failed", "a")
    assert "SIGHUP" in res["clips"][0]["failure_detail"]
    assert specs_in(root, "running") == []
    assert_session_empty(watch)


def _run_in_own_session(job: Path) -> subprocess.Popen[bytes]:
    """`proxx run JOB` as the leader of a new session: every process it starts is in it."""
    return subprocess.Popen(
        [sys.executable, "-m", "proxx", "run", str(job)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_sigkill_of_proxx_run_leaves_no_process(tmp_path: Path, long_clip: Path, out: Path) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(long_clip)], out)))
    cli = _run_in_own_session(job)
    try:
        encoder = wait_for(lambda: ffmpeg_procs(str(out)), "the FFmpeg rendering")
        left = [p.pid for p in session_procs(cli.pid) if p.pid != cli.pid]
        assert encoder[0].pid in left and len(left) >= 2  # the worker and its FFmpeg
        cli.kill()
        cli.wait()
        assert_gone(left, "every process `proxx run` started")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cli.pid, signal.SIGKILL)


@pytest.mark.parametrize("valid", [True, False], ids=["completed", "invalid"])
def test_proxx_run_returns_only_when_every_process_it_started_has_ended(
    tmp_path: Path, tiny: Path, out: Path, valid: bool
) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out) if valid else {"sources": []}))
    cli = _run_in_own_session(job)
    assert cli.wait(timeout=120) == (0 if valid else 1)
    # Looked at the moment it returned: no worker, no FFmpeg, no `ffmpeg -version`.
    assert [p for p in session_procs(cli.pid) if p.state != "Z"] == []
