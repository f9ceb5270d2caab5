"""Temp files a runner killed mid-write left in running/: removed once an hour old, or
at once with the job they belong to when it is filed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from proxx.watch.folder import Layout
from proxx.watch.recovery import STALE_TEMP_S, remove_stale_temps
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
