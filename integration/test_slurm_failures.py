"""`proxx watch --executor slurm`, end to end: jobs Slurm ends, and a Slurm that fails.

scancel, a downed node and a time limit fail only the job concerned, with Slurm's
state; an unreachable controller, a refused sbatch, and a controller that goes away
mid-run. On the session's private one-node cluster (integration/slurm_cluster.py;
the `rig` fixture, integration/conftest.py), real FFmpeg.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.slurm_rig import SlurmRig
from integration.watch_folder import (
    done_count,
    drop,
    failed_clip,
    listing,
    partials,
    result,
    spec,
    specs_in,
)


def test_scancel_of_one_job_fails_only_that_one_with_slurms_state(
    rig: SlurmRig,
    long_clip: Path,
    tiny: Path,
) -> None:
    root, out = rig.root, rig.out
    w = rig.render_long(long_clip, "sc_long", "--max-workers", "2")
    job = rig.cluster.running_job("sc_long.json")
    assert job is not None
    drop(root, "sc_tiny.json", spec([tiny], out, output_name_template="sc_tiny"))
    rig.cluster.run("scancel", job.job_id)
    wait_for(lambda: done_count(root) == 2, "both jobs to end", on_fail=w.log)
    failed = result(root, "failed", "sc_long")
    clip = failed_clip(failed)
    assert clip["failure_reason"] == "interrupted"
    assert f"Slurm job {job.job_id} CANCELLED" in clip["failure_detail"]
    assert specs_in(root, "completed") == ["sc_tiny.json"]  # control: the other job is fine
    assert w.alive()  # a cancelled job is that job's problem, not the runner's
    w.send(signal.SIGTERM)
    assert w.wait() == 0
    assert listing(root)["running"] == []
    # no proxy under its final name; what FFmpeg had written is kept and reported
    assert not (out / "sc_long.mov").exists()
    assert [os.path.basename(clip["partial_output_path"])] == partials(out)


def test_a_node_taken_down_mid_job_fails_that_job_once(rig: SlurmRig, long_clip: Path) -> None:
    w = rig.render_long(long_clip, "nd")
    rig.cluster.set_node("down", "proxx test")
    wait_for(lambda: done_count(rig.root) == 1, "the job to end", on_fail=w.log)
    clip = failed_clip(result(rig.root, "failed", "nd"))
    assert clip["failure_reason"] == "worker_crashed"
    assert "NODE_FAIL" in clip["failure_detail"] and "NodeDown" in clip["failure_detail"]
    # ReturnToService=2 brings the node back as soon as its slurmd registers again
    rig.cluster.wait_node_state("idle")
    time.sleep(3)  # a requeue, if Slurm did one, would show within a scheduling cycle
    ran = rig.cluster.jobs_named("nd.json")
    assert [(j.state, j.restarts) for j in ran] == [("NODE_FAIL", 0)]
    w.send(signal.SIGTERM)
    assert w.wait() == 0
    assert listing(rig.root)["running"] == [] and not (rig.out / "nd.mov").exists()


@pytest.mark.slow
def test_a_job_over_its_slurm_time_limit_ends_as_timeout(rig: SlurmRig, long_clip: Path) -> None:
    # Slurm's limits are whole minutes, checked about every 30 s: the job must keep
    # rendering for well over 90 s, so it gets many long clips (each ~3 s of one core
    # as single-threaded H.264; the limit ends it long before the last).
    drop(rig.root, "tl.json", spec([long_clip] * 60, rig.out, output_name_template="tl_{index}"))
    w = rig.watch("--slurm-arg=--time=1")
    wait_for(
        lambda: done_count(rig.root) == 1, "the job to hit its limit", timeout=240, on_fail=w.log
    )
    res = result(rig.root, "failed", "tl")
    clip = failed_clip(res)
    assert clip["failure_reason"] == "timeout", clip
    assert "TIMEOUT" in clip["failure_detail"] and "TimeLimit" in clip["failure_detail"]
    assert res["clips"][-1]["status"] == "SKIPPED"
    w.send(signal.SIGTERM)
    assert w.wait() == 0
    assert listing(rig.root)["running"] == []


def test_slurm_unreachable_at_start_is_exit_1_and_sbatch_failing_later_fails_one_job(
    rig: SlurmRig,
    tiny: Path,
    tmp_path: Path,
) -> None:
    root = rig.root
    dead = rig.cluster.dead_conf(tmp_path / "dead.conf")
    drop(root, "un.json", spec([tiny], rig.out, output_name_template="un"))
    w = rig.launcher.cli(root, "--executor", "slurm", "--once", env={"SLURM_CONF": str(dead)})
    assert w.wait() == 1
    assert "controller does not answer" in w.log()
    assert specs_in(root, "pending") == ["un.json"]  # nothing was claimed
    # A live controller that refuses the submission: that one job fails, the runner goes on.
    w = rig.watch("--once", "--slurm-arg=--partition=nosuch")
    assert w.wait() == 0, w.log()
    res = result(root, "failed", "un")
    assert "engine_unavailable" in (res["system_error"] or ""), res
    assert "nosuch" in res["system_error"] or "partition" in res["system_error"]
    assert listing(root)["running"] == []


def test_a_controller_that_goes_away_fails_one_job_and_holds_the_rest_until_it_is_back(
    rig: SlurmRig,
    tiny: Path,
) -> None:
    root, out = rig.root, rig.out
    w = rig.watch()
    wait_for(lambda: "watching" in w.log(), "the runner to start", on_fail=w.log)
    rig.cluster.stop_controller()
    try:
        drop(root, "gone.json", spec([tiny], out, output_name_template="gone"))
        wait_for(lambda: done_count(root) == 1, "the job to fail", on_fail=w.log)
        drop(root, "waits.json", spec([tiny], out, output_name_template="waits"))
        time.sleep(3)  # several loops and pings: not claimed while Slurm is gone
        assert specs_in(root, "pending") == ["waits.json"], w.log()
    finally:
        rig.cluster.start_controller()
    res = result(root, "failed", "gone")
    assert (res["system_error"] or "").startswith("engine_unavailable: "), res
    assert "Unable to contact slurm controller" in res["system_error"]
    # the control: once the controller answers, the held job runs
    wait_for(lambda: done_count(root) == 2, "the held job", on_fail=w.log)
    assert specs_in(root, "completed") == ["waits.json"]
    assert "claiming resumes" in w.log()
    w.send(signal.SIGTERM)
    assert w.wait() == 0
    assert listing(root)["running"] == []
