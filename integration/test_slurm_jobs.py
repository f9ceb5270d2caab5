"""`proxx watch --executor slurm`, end to end: jobs that run through Slurm.

Ten jobs byte-identical to the local pool, a RAW job run holding the resolve GRES,
and Slurm refusing to requeue a proxx job. On the session's private one-node cluster
(integration/slurm_cluster.py; the `rig` fixture, integration/conftest.py), real FFmpeg.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

from integration.slurm_rig import SlurmRig
from integration.watch_folder import (
    drop,
    failed_clip,
    listing,
    make_root,
    prores,
    result,
    results,
    spec,
    specs_in,
)
from testkit import noise


def test_ten_jobs_complete_through_slurm_byte_identical_to_the_local_pool(
    rig: SlurmRig,
    tmp_path: Path,
    clip: Callable[..., Path],
) -> None:
    src = clip("slurm-src.mov", size="320x180", seconds=2.0)
    roots = {"slurm": rig.root, "local": make_root(tmp_path, "watch-local")}
    outs = {"slurm": rig.out, "local": tmp_path / "out-local"}
    outs["local"].mkdir()
    for ex, root in roots.items():
        for i in range(10):
            kind = prores if i % 2 else spec  # ProRes and H.264 (fixed x264 threads)
            drop(
                root,
                f"ten{i:02d}.json",
                kind([src], outs[ex], output_name_template=f"ten{i:02d}_{{source_name}}"),
            )
    w = rig.watch("--once", "--max-workers", "3")
    assert w.wait() == 0, w.log()
    local = rig.launcher.cli(roots["local"], "--once", "--max-workers", "3")
    assert local.wait() == 0, local.log()
    for ex, root in roots.items():
        assert len(specs_in(root, "completed")) == 10, (ex, listing(root), w.log())
        assert listing(root)["running"] == [] and listing(root)["failed"] == []
    names = sorted(os.listdir(outs["slurm"]))
    assert len(names) == 10 and names == sorted(os.listdir(outs["local"]))
    for name in names:
        assert (outs["slurm"] / name).read_bytes() == (outs["local"] / name).read_bytes(), name
    # each job went through Slurm exactly once, and its result says where it ran
    for stem, res in results(roots["slurm"], "completed").items():
        ran = rig.cluster.jobs_named(f"{stem}.json")
        assert [j.state for j in ran] == ["COMPLETED"], stem
        assert res["_metadata"]["executor"]["slurm_job_id"] == ran[0].job_id
        assert res["_metadata"]["executor"]["slurm_node"] == rig.cluster.node
    assert all(
        res["_metadata"].get("executor") is None
        for res in results(roots["local"], "completed").values()
    )


def test_a_raw_job_runs_in_a_batch_job_holding_the_resolve_gres(rig: SlurmRig) -> None:
    root, out = rig.root, rig.out
    r3d = root / "A001_C001_0101AB_001.R3D"
    r3d.write_bytes(struct.pack(">I", 300) + b"RED2" + noise(292))
    drop(
        root,
        "raw.json",
        spec([r3d.name], out, codec="prores_proxy", proxy_profile="proxy_prores_proxy_resolve"),
    )
    w = rig.watch("--once", env={"RESOLVE_SCRIPT_LIB": ""})
    assert w.wait() == 0, w.log()
    res = result(root, "failed", "raw")
    # Routed to Resolve, which this host lacks: the ordinary engine_unavailable result …
    assert res["execution_engine"] == "resolve"
    assert failed_clip(res)["failure_reason"] == "engine_unavailable"
    # … from the second batch job, the one that held the node's resolve GRES.
    routing, render = sorted(rig.cluster.jobs_named("raw.json"), key=lambda j: int(j.job_id))
    assert (routing.state, routing.exit_code) == ("FAILED", "7:0")
    assert res["_metadata"]["executor"]["slurm_job_id"] == render.job_id
    show = rig.cluster.run("scontrol", "show", "job", "-o", render.job_id)
    gres = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in show.split() if "=" in line}
    assert gres.get("TresPerNode") == "gres:resolve:1", gres
    assert "TresPerNode" not in rig.cluster.run("scontrol", "show", "job", "-o", routing.job_id)
    assert listing(root)["running"] == [] and os.listdir(out) == []


def test_slurm_itself_refuses_to_requeue_a_proxx_job(rig: SlurmRig, long_clip: Path) -> None:
    w = rig.render_long(long_clip, "rq", "--once")
    job = rig.cluster.running_job("rq.json")
    assert job is not None
    refused = rig.cluster.call("scontrol", "requeue", job.job_id)
    assert refused.returncode != 0 and "disabled" in refused.stderr, refused
    assert w.wait(timeout=180) == 0, w.log()
    assert specs_in(rig.root, "completed") == ["rq.json"]
    ran = rig.cluster.jobs_named("rq.json")
    assert [(j.state, j.restarts) for j in ran] == [("COMPLETED", 0)]
