"""`proxx watch --executor slurm`, end to end: the runner stops, dies and restarts.

SIGTERM cancels its Slurm jobs; after a kill -9 the next Slurm runner re-attaches
(nothing submitted twice) and a local runner leaves a live Slurm job alone. On the
session's private one-node cluster (integration/slurm_cluster.py; the `rig` fixture,
integration/conftest.py), real FFmpeg.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from integration.processes import assert_no_ffmpeg, wait_for
from integration.slurm_rig import SlurmRig
from integration.watch_folder import drop, failed_clip, listing, result, spec, specs_in
from testkit import run_cli


def test_sigterm_to_the_supervisor_cancels_its_slurm_jobs_and_leaves_running_empty(
    rig: SlurmRig,
    long_clip: Path,
) -> None:
    root, out = rig.root, rig.out
    # The node has 2 CPUs: st_a and st_b render, st_c waits in Slurm's queue.
    rig.drop_long(long_clip, "st_a", "st_b", "st_c")
    w = rig.watch("--max-workers", "3")
    rig.wait_rendering(w, "st_a", "st_b")
    wait_for(
        lambda: [j.state for j in rig.cluster.jobs_named("st_c.json")] == ["PENDING"],
        "the third job to wait in the queue",
        on_fail=w.log,
    )
    w.send(signal.SIGTERM)
    assert w.wait(timeout=60) == 0, w.log()
    assert listing(root)["running"] == []
    assert specs_in(root, "failed") == ["st_a.json", "st_b.json", "st_c.json"]
    queued = result(root, "failed", "st_c")  # cancelled before it ever ran
    assert queued["interrupted"] and "nothing was executed" in queued["interrupted"], queued
    # Its clip is listed (by a short-lived worker on the head) as not started.
    assert [c["status"] for c in queued["clips"]] == ["SKIPPED"], queued
    assert queued["clips"][0]["failure_detail"].startswith("not started: "), queued
    assert [j.state for j in rig.cluster.jobs_named("st_c.json")] == ["CANCELLED"]
    # the log said where the jobs ran (why one waited depends on when Slurm's
    # scheduler last looked at it: tests/test_slurm_executor_outcomes.py covers that note)
    assert f"running on node {rig.cluster.node}" in w.log()
    for name in ("st_a", "st_b"):
        clip = failed_clip(result(root, "failed", name))
        assert clip["failure_reason"] == "interrupted", clip
        assert "CANCELLED" in clip["failure_detail"]
        assert [j.state for j in rig.cluster.jobs_named(f"{name}.json")] == ["CANCELLED"]
    assert_no_ffmpeg(str(out))
    assert not (out / "st_a.mov").exists() and not (out / "st_b.mov").exists()


def test_kill_9_then_restart_reattaches_and_nothing_is_submitted_twice(
    rig: SlurmRig,
    long_clip: Path,
    tiny: Path,
) -> None:
    root, out = rig.root, rig.out
    rig.drop_long(long_clip, "k9_a", "k9_b")
    drop(root, "k9_c.json", spec([tiny], out, output_name_template="k9_c"))
    first = rig.watch("--max-workers", "2")
    rig.wait_rendering(first, "k9_a", "k9_b")
    first.send(signal.SIGKILL)
    first.wait()
    # The batch jobs are not the supervisor's children: they render on.
    assert rig.cluster.running_job("k9_a.json") and rig.cluster.running_job("k9_b.json")
    assert specs_in(root, "pending") == ["k9_c.json"]
    second = rig.watch("--max-workers", "2", "--once")
    assert second.wait(timeout=180) == 0, second.log()
    assert specs_in(root, "completed") == ["k9_a.json", "k9_b.json", "k9_c.json"], second.log()
    assert listing(root)["running"] == [] and listing(root)["failed"] == []
    for name in ("k9_a", "k9_b", "k9_c"):
        assert len(rig.cluster.jobs_named(f"{name}.json")) == 1, name
    assert sorted(os.listdir(out)) == ["k9_a.mov", "k9_b.mov", "k9_c.mov"]
    assert "re-attached" in second.log()


def test_a_local_runner_leaves_a_live_slurm_job_alone_and_a_slurm_runner_collects_it(
    rig: SlurmRig,
    long_clip: Path,
) -> None:
    root = rig.root
    first = rig.render_long(long_clip, "lo")
    first.send(signal.SIGKILL)
    first.wait()
    job = rig.cluster.running_job("lo.json")
    assert job is not None
    status = run_cli("status", str(root))
    assert f"[Slurm job {job.job_id}: runner dead; a --executor slurm runner re-attaches" in (
        status.stdout
    ), status.stdout
    # The claim's lock is free now; a runner without Slurm must not call it dead.
    local = rig.launcher.cli(root, "--once")
    assert local.wait() == 0, local.log()
    assert "only a `--executor slurm` runner can collect it" in local.log()
    assert specs_in(root, "running") == ["lo.json"] and listing(root)["failed"] == []
    second = rig.watch("--once")
    assert second.wait(timeout=180) == 0, second.log()
    assert specs_in(root, "completed") == ["lo.json"]
    assert len(rig.cluster.jobs_named("lo.json")) == 1
