"""`proxx status --json` shows a Slurm job's progress (issue 19, point 3).

The worker runs as a Slurm batch job on the node and reports into its spool
file; the runner's tracker reads it from there and writes the record into the
status file beside the claim, where `proxx status` reads it, as for a local job.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from integration.processes import wait_for
from integration.slurm_rig import SlurmRig
from testkit import PROGRESS_KEYS, run_cli


def _rendering(root: Path) -> dict[str, Any] | None:
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    for job in status["running"]:
        p = job.get("progress")
        if p and p["phase"] == "render" and 0 < (p["clip_fraction"] or 0) < 1:
            return dict(job)
    return None


def test_status_json_gives_a_slurm_job_its_progress_record(rig: SlurmRig, long_clip: Path) -> None:
    w = rig.render_long(long_clip, "sp")

    job = wait_for(lambda: _rendering(rig.root), "a Slurm job's progress", on_fail=w.log)

    assert job is not None and job["slurm_job_id"]
    assert set(job["progress"]) == PROGRESS_KEYS
    assert (job["progress"]["clip"], job["progress"]["clips"]) == (1, 1)
    w.send(signal.SIGTERM)
    assert w.wait(timeout=120) == 0, w.log()
