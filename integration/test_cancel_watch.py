"""`proxx cancel FOLDER NAME` on a folder with two live runners (issue 19, point 5).

Both runners busy with one job each; a third job waits in pending/. Cancelling
the pending one files it at once and it never starts; cancelling the running
ones (one by job id, one by name) stops each on the runner that holds it,
leaves no FFmpeg, files the pair in failed/ with the clip `cancelled`; the
runners carry on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from integration.processes import wait_for
from integration.watch_folder import drop, partials, prores, result, specs_in
from integration.watch_helpers import Launcher, Watch
from testkit import run_cli


def _running(root: Path) -> dict[str, dict[str, Any]]:
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    return {job["jobspec"]: job for job in status["running"] if job["job_id"]}


def _encoders(*watches: Watch) -> list[str]:
    return [" ".join(p.argv) for w in watches for p in w.procs() if "ffmpeg" in " ".join(p.argv)]


def test_cancel_a_pending_and_two_running_jobs_on_a_two_runner_folder(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    for name in ("a", "b"):
        drop(root, f"{name}.json", prores([long_clip], out, output_name_template=f"{name}_x"))
    runners = [launcher.cli(root, "--poll-seconds", "0.2") for _ in range(2)]
    wait_for(lambda: len(partials(out)) == 2, "both jobs rendering", on_fail=runners[0].log)
    drop(root, "c.json", prores([long_clip], out, output_name_template="c_x"))
    running = _running(root)
    assert set(running) == {"a.json", "b.json"}

    pending = run_cli("cancel", str(root), "c.json")
    by_id = run_cli("cancel", str(root), running["a.json"]["job_id"])
    by_name = run_cli("cancel", str(root), "b.json")

    assert pending.returncode == 0 and "before it started" in pending.stderr, pending.stderr
    assert by_id.returncode == 0 and by_name.returncode == 0, by_id.stderr + by_name.stderr
    wait_for(lambda: len(specs_in(root, "failed")) == 3, "three jobs filed in failed/")
    c = result(root, "failed", "c")
    assert c["interrupted"] == "cancelled by proxx cancel before it started"
    assert c["clips"] == [] and not (out / "c_x.mov").exists()
    for name in ("a", "b"):
        (clip,) = result(root, "failed", name)["clips"]
        assert (clip["status"], clip["failure_reason"]) == ("FAILED", "cancelled"), clip
        assert not (out / f"{name}_x.mov").exists()
    assert specs_in(root, "running") == [] and specs_in(root, "pending") == []
    wait_for(lambda: not _encoders(*runners), "no FFmpeg left")
    assert all(r.alive() for r in runners)  # one job stopped, not the runner
    missing = run_cli("cancel", str(root), "nope.json")
    assert missing.returncode == 1 and "no pending or running job named 'nope.json'" in (
        missing.stderr
    )
