"""`proxx status` shows a running job's progress, read from the folder (issue 19, point 3).

The runner writes each job's progress record into the small status file beside
its claim (atomically, when it moves); `proxx status` reads it from disk in
another process, as it would on another host sharing the folder. The metrics
file written meanwhile carries the job's progress and passes `promtool check
metrics` (Debian's prometheus package).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from integration.processes import wait_for
from integration.watch_folder import drop, prores
from integration.watch_helpers import Launcher
from testkit import PROGRESS_KEYS, run_cli


def _rendering(root: Path) -> dict[str, Any] | None:
    """The running job once its record says it is rendering, part way."""
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    for job in status["running"]:
        p = job.get("progress")
        if p and p["phase"] == "render" and 0 < (p["clip_fraction"] or 0) < 1:
            return dict(job)
    return None


def _with_progress(prom: Path) -> str | None:
    text = prom.read_text() if prom.exists() else ""
    return text if 'phase="render"' in text else None


def test_status_json_gives_a_running_job_its_progress_record(
    root: Path, out: Path, long_clip: Path, launcher: Launcher, tmp_path: Path
) -> None:
    drop(root, "job.json", prores([long_clip, long_clip], out, output_name_template="{index}"))
    prom = tmp_path / "proxx.prom"
    watch = launcher.cli(root, "--poll-seconds", "0.2", "--metrics-file", str(prom))

    job = wait_for(lambda: _rendering(root), "progress part way into a render", on_fail=watch.log)
    assert job is not None

    progress = job["progress"]
    assert set(progress) == PROGRESS_KEYS
    assert (progress["clip"], progress["clips"]) == (1, 2)
    assert 0 < progress["job_fraction"] < 0.5  # the first of two equal clips
    assert progress["seconds_since_progress"] >= 0
    text = run_cli("status", str(root)).stdout
    assert f"running job.json: job {job['job_id']}" in text and "clip 1/2" in text
    metrics = wait_for(lambda: _with_progress(prom), "the job's progress in the metrics file")
    assert metrics is not None
    assert f'job_id="{job["job_id"]}",phase="render"' in metrics
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install prometheus (requirements/apt-test.txt)"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=metrics, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    assert json.loads(run_cli("status", "--json", str(root)).stdout)["running"] == []
