"""What a runner killed at the wrong moment left in running/: temp files (removed once an
hour old, or at once with their job when it is filed), and the sidecar and cancel request
of a job it had already filed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from proxx.watch.folder import Layout
from proxx.watch.recovery import (
    STALE_TEMP_S,
    STRANDED_AFTER_S,
    remove_lone_job_files,
    remove_stale_temps,
)
from testkit import run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def _layout(tmp_path: Path) -> Layout:
    (tmp_path / "watch").mkdir()
    layout = Layout(str(tmp_path / "watch"))
    layout.ensure()  # the states inside it (the root itself must exist)
    return layout


def _aged(path: Path, seconds: float, data: str = "{}") -> Path:
    path.write_text(data)
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_only_old_temp_files_go(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    running = Path(layout.running)
    old = _aged(running / ".a.json.result.json.4242.tmp", STALE_TEMP_S + 60)
    fresh = _aged(running / ".b.json.result.json.4243.tmp", 5)  # a write in progress
    sidecar = _aged(running / ".c.json.owner", STALE_TEMP_S + 60)  # not a temp file
    job = _aged(running / "d.json", STALE_TEMP_S + 60)
    (running / ".e.tmp").mkdir()  # not a file: left alone
    os.utime(running / ".e.tmp", (1, 1))

    assert remove_stale_temps(layout) == [old.name]
    assert not old.exists() and fresh.exists() and sidecar.exists() and job.exists()
    assert (running / ".e.tmp").is_dir()


def test_a_watch_scan_removes_them(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    old = _aged(Path(layout.running) / ".x.json.owner.999.tmp", STALE_TEMP_S + 60)

    proc = run_cli("watch", layout.root, "--once", "--poll-seconds", "0.1")

    assert proc.returncode == 0, proc.stderr
    assert not old.exists()
    assert f"removed {old.name} from running/" in proc.stderr


def test_a_filed_job_takes_the_temps_of_its_dead_runner_with_it(tmp_path: Path) -> None:
    # A runner killed -9 while writing x.json's owner sidecar and staging its result: the
    # temps are seconds old, too young for the hourly sweep, yet plainly the dead runner's
    # once the job is recovered and filed (only the claim's holder writes them).
    layout = _layout(tmp_path)
    running = Path(layout.running)
    (running / "x.json").write_text("{}")  # its claim: no lock held any more
    # write_atomic's names: "." + the file's name + "." + the writer's PID + ".tmp"
    sidecar_temp = _aged(running / "..x.json.owner.4242.tmp", 5)
    # The staged result is named by the claimed file's inode: `.x.INODE.staged.json`.
    ino = (running / "x.json").stat().st_ino
    staged_temp = _aged(running / f"..x.{ino}.staged.json.4242.tmp", 5)
    others = _aged(running / "..y.json.owner.4243.tmp", 5)  # another job's

    proc = run_cli("watch", layout.root, "--once", "--poll-seconds", "0.1")

    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(layout.dir("failed"))) == ["x.json", "x.result.json"]
    assert not sidecar_temp.exists() and not staged_temp.exists()
    assert sorted(os.listdir(running)) == [others.name]


def test_a_lone_sidecar_and_cancel_request_of_a_filed_job_go(tmp_path: Path) -> None:
    """A runner killed -9 after filing x.json but before removing its owner sidecar and
    its cancel request left both for good (issue 18, finding 11). Once their JobSpec has
    left running/ and they have sat STRANDED_AFTER_S, they go; a live job's stay, and so
    does a fresh one (a job of that name may just have been claimed again)."""
    layout = _layout(tmp_path)
    running = Path(layout.running)
    lone = _aged(running / ".x.json.owner", STRANDED_AFTER_S + 60, '{"job_id": "j1"}')
    lone_cancel = _aged(running / ".x.json.j1.cancel", STRANDED_AFTER_S + 60, "")
    fresh = _aged(running / ".y.json.owner", 1, '{"job_id": "j2"}')
    _aged(running / "z.json", STRANDED_AFTER_S + 60)  # a live claim, with its own
    live = _aged(running / ".z.json.owner", STRANDED_AFTER_S + 60, '{"job_id": "j3"}')
    live_cancel = _aged(running / ".z.json.j3.cancel", STRANDED_AFTER_S + 60, "")
    os.mkfifo(running / ".w.json.owner")  # not a regular file: never removed
    os.utime(running / ".w.json.owner", (1, 1))

    assert sorted(remove_lone_job_files(layout)) == sorted([lone.name, lone_cancel.name])
    assert not lone.exists() and not lone_cancel.exists()
    assert fresh.exists() and live.exists() and live_cancel.exists()
    assert (running / ".w.json.owner").exists()


def test_control_a_watch_pass_removes_a_lone_sidecar_and_says_so(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    lone = _aged(Path(layout.running) / ".x.json.owner", STRANDED_AFTER_S + 60)

    proc = run_cli("watch", layout.root, "--once", "--poll-seconds", "0.1")

    assert proc.returncode == 0, proc.stderr
    assert not lone.exists()
    assert f"removed {lone.name} from running/: its job was filed" in proc.stderr
