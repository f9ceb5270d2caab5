"""Issue 18, finding 4: planted names in running/, or pending/ swapped for a link.

A FIFO at a sidecar's name blocked the supervisor in open() for good (and
`proxx status` with it); a symlink at the runner's temp name had its target
overwritten. The run must go on, say what it refused, and leave the target alone.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop, put, result, spec, specs_in
from integration.watch_helpers import Launcher
from testkit import PROXX


def test_a_fifo_at_a_sidecars_name_is_refused_not_waited_on(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    # A dead runner's claim whose owner sidecar someone replaced by a FIFO.
    put(root / "running", "x.json", json.dumps(spec([str(tiny)], out)).encode())
    os.mkfifo(root / "running" / ".x.json.owner")

    # `timeout` only bounds a hang (it fails the test); it does not measure speed.
    status = subprocess.run(
        [*PROXX, "status", "--json", str(root)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    (job,) = json.loads(status.stdout)["running"]
    assert job["jobspec"] == "x.json"

    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()
    assert "refused" in watch.log() and ".x.json.owner: not a regular file" in watch.log()
    assert specs_in(root, "failed") == ["x.json"]  # recovered and filed all the same
    assert result(root, "failed", "x")["_recovery"]["reason"] == "runner interrupted"


def test_a_link_at_the_runners_temp_name_is_not_written_through(
    tmp_path: Path, root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("the runner must not overwrite this\n")
    watch = launcher.cli(root, "--poll-seconds", "0.2")
    # The runner's temp names are predictable: the target's name, its PID, `.tmp` (the
    # staged result's carries the claimed inode too, unknown before the claim).
    running = root / "running"
    links = [running / f"..job.json.owner.{watch.pid}.tmp"]
    for link in links:
        link.symlink_to(victim)
    drop(root, "job.json", spec([str(tiny)], out))
    wait_for(
        lambda: specs_in(root, "completed") == ["job.json"], "the job filed", on_fail=watch.log
    )

    assert victim.read_text() == "the runner must not overwrite this\n"
    assert not any(os.path.lexists(link) for link in links)  # removed, never followed
    assert result(root, "completed", "job")["status"] == "COMPLETED"
    watch.send(15)
    assert watch.wait() == 0, watch.log()


def test_a_pending_folder_replaced_by_a_link_stops_the_runner_and_takes_nothing(
    tmp_path: Path, root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    """Someone with write access to the watch root swaps pending/ for a link to another
    folder: its `*.json` were claimed and filed into failed/. Now the runner stops, says
    why (exit 1), and the other folder keeps its files."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "victim.json").write_text('{"theirs": true}\n')
    watch = launcher.cli(root, "--poll-seconds", "0.2")
    drop(root, "mine.json", spec([str(tiny)], out))
    wait_for(lambda: specs_in(root, "completed") == ["mine.json"], "mine filed", on_fail=watch.log)
    os.rename(root / "pending", root / "pending.old")
    (root / "pending").symlink_to(other)

    assert watch.wait() == 1, watch.log()
    assert f"{root / 'pending'} has become a symbolic link (to {other})" in watch.log()
    assert os.listdir(other) == ["victim.json"]
    assert (other / "victim.json").read_text() == '{"theirs": true}\n'
    assert specs_in(root, "failed") == [] and specs_in(root, "running") == []
    again = launcher.cli(root, "--once")  # and it will not start on such a folder
    assert again.wait() == 1, again.log()
    assert f"{root / 'pending'} is a symbolic link (to {other}), not a folder" in again.log()
    assert os.listdir(other) == ["victim.json"]
