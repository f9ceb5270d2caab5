"""`proxx drain FOLDER` on a folder with two live runners (issue 19, point 5).

Every runner finishes what it runs, claims nothing more and exits 0; a JobSpec
dropped meanwhile stays in pending/; `proxx status` shows the drain, and
`proxx drain --off` lifts it (a runner started then takes the job).
"""

from __future__ import annotations

import json
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop, partials, prores, specs_in
from integration.watch_helpers import Launcher
from testkit import run_cli


def test_drain_lets_running_work_finish_and_every_runner_exit_0(
    root: Path, out: Path, medium_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a.json", prores([medium_clip], out, output_name_template="a_{source_name}"))
    first = launcher.cli(root, "--poll-seconds", "0.2")
    wait_for(lambda: partials(out), "job a to be rendering", on_fail=first.log)
    second = launcher.cli(root, "--poll-seconds", "0.2")  # idle: a is taken

    asked = run_cli("drain", str(root))
    drop(root, "b.json", prores([medium_clip], out, output_name_template="b_{source_name}"))

    assert asked.returncode == 0 and "drain in force" in asked.stderr
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert status["drain"] is not None
    assert status["misplaced"] == []  # the marker is not taken for a JobSpec
    assert "drain in force since" in run_cli("status", str(root)).stdout
    assert first.wait(timeout=120) == 0, first.log()
    assert second.wait(timeout=60) == 0, second.log()
    assert specs_in(root, "completed") == ["a.json"]  # finished, not interrupted
    assert specs_in(root, "pending") == ["b.json"]  # never claimed
    assert "drain in force" in second.log()

    lifted = run_cli("drain", str(root), "--off")
    assert lifted.returncode == 0 and "drain lifted" in lifted.stderr
    assert json.loads(run_cli("status", "--json", str(root)).stdout)["drain"] is None
    third = launcher.cli(root, "--once")
    assert third.wait(timeout=120) == 0, third.log()
    assert specs_in(root, "completed") == ["a.json", "b.json"]
