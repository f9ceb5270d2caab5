"""Filing a job's JobSpec and result together, on filesystems with and without hard links."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proxx.contract.results import JobResult, not_started
from proxx.watch.filing import finish
from proxx.watch.folder import Layout


def _claimed(tmp_path: Path) -> tuple[Layout, str]:
    layout = Layout(str(tmp_path))
    for state in ("pending", "running", "completed", "failed"):
        os.makedirs(layout.dir(state))
    spec = Path(layout.running) / "a.json"
    spec.write_text("{}")
    return layout, str(spec)


def _result(path: str) -> JobResult:
    return not_started("job1", path, datetime(2026, 1, 1, tzinfo=UTC), validation_error="x")


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_the_pair_lands_together_and_nothing_stays_in_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: bool
) -> None:
    layout, spec = _claimed(tmp_path)
    if not links:  # vfat, some FUSE/SMB mounts

        def no_link(*_a: object, **_k: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    (Path(layout.dir("failed")) / "a.json").write_text("an earlier job's")  # name taken
    final = finish(layout, spec, _result(spec), state="failed")
    assert final == os.path.join(layout.dir("failed"), "a-1.json")
    assert sorted(os.listdir(layout.dir("failed"))) == ["a-1.json", "a-1.result.json", "a.json"]
    assert os.listdir(layout.running) == []
    assert (Path(layout.dir("failed")) / "a.json").read_text() == "an earlier job's"


_REFUSE = """
import sys, time
from proxx.watch import filing
from proxx.watch.clerk import Clerk
from proxx.watch.folder import Layout
def pause(step: str) -> None:  # between linking the result and moving the entry
    if step == "linked":
        open(sys.argv[4], "w").close()  # the test starts the fast one now
        time.sleep(3.0)
if sys.argv[3] == "slow":
    filing.after_step = pause
Clerk(Layout(sys.argv[1])).refuse(sys.argv[2], "a directory, not a JobSpec file")
"""


@pytest.mark.e2e
def test_two_runners_refusing_one_entry_at_once_file_it_once_under_its_name(
    tmp_path: Path,
) -> None:
    layout = Layout(str(tmp_path))
    for state in ("pending", "running", "completed", "failed"):
        os.makedirs(layout.dir(state))
    entry = Path(layout.pending) / "x.json"
    entry.mkdir()
    # The first is caught mid-filing (result linked, entry not yet moved) when the
    # second looks: without turns on pending/, the second filed it again as x-1.
    marker = tmp_path / "slow-is-mid-filing"
    argv = [sys.executable, "-c", _REFUSE, layout.root, str(entry)]
    slow = subprocess.Popen([*argv, "slow", str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists() and slow.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the slow runner never reached the middle of its filing"
    fast = subprocess.run([*argv, "fast", str(marker)])
    assert slow.wait(30) == 0 and fast.returncode == 0
    assert sorted(os.listdir(layout.dir("failed"))) == ["x.json", "x.result.json"]
