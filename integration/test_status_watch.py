"""`proxx status` on a live watch folder: the running job with its owner, from disk alone."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop, partial_paths, partials, prores
from integration.watch_helpers import Launcher
from testkit import run_cli


def test_status_shows_the_running_job_and_its_live_runner(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    name = "a" * 245 + ".json"  # too long for ".NAME.owner": the sidecar gets a shortened name
    drop(root, name, prores([long_clip], out, output_name_template="x_{source_name}"))
    watch = launcher.cli(root, "--poll-seconds", "0.2")
    wait_for(lambda: partials(out), "the job to be rendering", on_fail=watch.log)
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    (job,) = status["running"]
    assert job["jobspec"] == name and job["runner_alive"] is True
    assert job["runner_pid"] == watch.pid and job["job_id"] and job["worker_id"] is not None
    assert status["counts"]["running"] == 1 and status["partials"] == []  # a live job's partial
    text = run_cli("status", str(root)).stdout
    assert f"running {name}: job {job['job_id']}" in text and "runner dead" not in text
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    after = json.loads(run_cli("status", "--json", str(root)).stdout)
    assert after["running"] == [] and after["counts"]["failed"] == 1
    # Now finished, its partial is a leftover (unless the interrupted render left none).
    assert [p["path"] for p in after["partials"]] == partial_paths(out) and os.path.isdir(out)
