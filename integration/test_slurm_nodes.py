"""`proxx watch --executor slurm` on a multi-node cluster (integration/ns_cluster.py):
two heads and three nodes, each its own namespaces, one shared filesystem. Every
test ends with the exactly-once audit (MnRig.audit): each job once in completed/ or
failed/, results that match the files on disk, no process left on any host.

Jobs ask for `--cpus-per-task=2`, a whole node each, so a test knows where a job
runs alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.mn_rig import DEADLINE_S, MnRig
from integration.processes import wait_for
from proxx.content.spec import fingerprint
from testkit import run_cli

WHOLE_NODE = "--slurm-arg=--cpus-per-task=2"
# One clip of a multi-clip job: renders in a second or a few (load varies), so a job
# of CLIPS of them outlasts Slurm noticing a dead node (~18-20 s) with clips to go,
# even on an idle box (12 was not always enough). A fenced job stops early anyway.
CLIP = {"size": "640x360", "seconds": 30.0}
CLIPS = 48


@pytest.fixture
def part(clip: Callable[..., Path]) -> Path:
    return clip("part.mov", **CLIP)


def _node_of(mn: MnRig, name: str) -> str:
    node = wait_for(lambda: mn.running_on(name), f"{name} running", DEADLINE_S, 0.2, mn.log)
    assert node is not None
    return node


def _first_clip_published(mn: MnRig, name: str) -> None:
    wait_for(lambda: mn.published(name), f"a proxy of {name}", DEADLINE_S, 0.2, mn.log)


def _lost_on_a_live_node(mn: MnRig, res: dict[str, object], node: str) -> None:
    """The job Slurm gave up on a node that lived on: filed with Slurm's words."""
    assert res["status"] in ("PARTIAL", "FAILED"), res
    clips = res["clips"]
    assert isinstance(clips, list)
    done = [c for c in clips if c["status"] == "COMPLETED"]
    assert 1 <= len(done) < CLIPS, [c["status"] for c in clips]
    failed = [c for c in clips if c["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["failure_reason"] == "worker_crashed", failed
    assert "NODE_FAIL" in failed[0]["failure_detail"] and node in failed[0]["failure_detail"]


def test_a_node_whose_slurmd_crashed_stops_publishing_once_its_job_is_filed(
    mn: MnRig, part: Path
) -> None:
    mn.drop_job("lost", part, CLIPS)
    mn.drop_job("other", part, 2)
    mn.supervisor("head1", "--max-workers", "2", WHOLE_NODE)
    node = _node_of(mn, "lost")
    _first_clip_published(mn, "lost")
    mn.cluster.kill_slurmd(node)  # the steps live on; Slurm will call the node dead
    mn.wait_all_filed()
    results = mn.audit()  # fails if the orphaned step published after the filing
    _lost_on_a_live_node(mn, results["lost.json"], node)
    assert results["other.json"]["status"] == "COMPLETED"


def test_a_node_cut_off_from_the_controller_but_not_the_storage_stops_publishing(
    mn: MnRig, part: Path
) -> None:
    mn.drop_job("lost", part, CLIPS)
    mn.supervisor("head1", "--max-workers", "1", WHOLE_NODE)
    node = _node_of(mn, "lost")
    _first_clip_published(mn, "lost")
    mn.cluster.cut(node)  # the spool still reaches the head: storage is shared
    mn.wait_all_filed()
    results = mn.audit()
    _lost_on_a_live_node(mn, results["lost.json"], node)


def test_jobs_spread_over_every_node_and_each_is_filed_once(mn: MnRig, part: Path) -> None:
    for i in range(6):
        mn.drop_job(f"s{i}", part, 1)
    mn.supervisor("head1", "--max-workers", "6", "--slurm-arg=--cpus-per-task=1")
    mn.wait_all_filed()
    results = mn.audit()
    assert {r["status"] for r in results.values()} == {"COMPLETED"}
    nodes = [r["_metadata"]["executor"]["slurm_node"] for r in results.values()]
    assert set(nodes) == set(mn.cluster.nodes), nodes
    assert set(mn.slurm_jobs_per_name().values()) == {1}


def test_a_node_powered_off_mid_job_fails_only_its_own_job(mn: MnRig, part: Path) -> None:
    mn.drop_job("lost", part, CLIPS)
    mn.drop_job("other", part, 4)
    mn.supervisor("head1", "--max-workers", "2", WHOLE_NODE)
    node = _node_of(mn, "lost")
    _first_clip_published(mn, "lost")
    mn.cluster.power_off(node)  # slurmd, step, FFmpeg and munged at once; link gone
    mn.wait_all_filed()
    results = mn.audit()
    _lost_on_a_live_node(mn, results["lost.json"], node)
    assert results["other.json"]["status"] == "COMPLETED"
    assert results["other.json"]["_metadata"]["executor"]["slurm_node"] != node


def test_two_supervisors_on_two_heads_and_one_killed_9_each_job_once(mn: MnRig, part: Path) -> None:
    for i in range(4):
        mn.drop_job(f"t{i}", part, 2)
    first = mn.supervisor("head1", "--max-workers", "2", WHOLE_NODE)
    mn.supervisor("head2", "--max-workers", "2", WHOLE_NODE)
    wait_for(
        lambda: any(r["runner_host"] == "head1" and r["slurm_job_id"] for r in mn.records()),
        "a job of head1's supervisor in Slurm",
        DEADLINE_S,
        0.2,
        mn.log,
    )
    mn.kill9(first)  # head2's supervisor takes its claims over; nothing is resubmitted
    mn.wait_all_filed()
    results = mn.audit()
    assert {r["status"] for r in results.values()} == {"COMPLETED"}, mn.log()
    assert set(mn.slurm_jobs_per_name().values()) == {1}


def test_the_resolve_gres_keeps_one_such_job_per_node(mn: MnRig, part: Path) -> None:
    # Four one-CPU jobs fit the cluster's six CPUs; one `resolve` unit per node does not.
    for i in range(4):
        mn.drop_job(f"g{i}", part, 2)
    gres = ("--slurm-arg=--cpus-per-task=1", "--slurm-arg=--gres=resolve:1")
    mn.supervisor("head1", "--max-workers", "4", *gres)

    def three_running() -> list[str] | None:
        jobs = mn.cluster.jobs()
        running = [j.node or "?" for j in jobs if j.state == "RUNNING"]
        waiting = [j for j in jobs if j.state == "PENDING"]
        return running if len(running) == 3 and len(waiting) == 1 else None

    nodes = wait_for(three_running, "three jobs running, one waiting", DEADLINE_S, 0.2, mn.log)
    assert nodes is not None and sorted(nodes) == mn.cluster.nodes  # never two on one node
    mn.wait_all_filed()
    results = mn.audit()
    assert {r["status"] for r in results.values()} == {"COMPLETED"}


def test_a_job_requeued_at_launch_is_cancelled_filed_as_not_run_and_remainder_works(
    mn: MnRig, part: Path, tmp_path: Path
) -> None:
    cluster = mn.cluster
    cluster.run("scontrol", "update", "nodename=node1,node2", "state=drain", "reason=test")
    mn.supervisor("head1", "--max-workers", "1")
    cluster.power_off("node3")  # Slurm still calls it idle for ~10 s: it gets the job
    mn.drop_job("requeued", part, 2)
    mn.wait_all_filed()
    results = mn.audit()
    res = results["requeued.json"]
    assert mn.published("requeued") == [], res
    assert "failed at launch" in res["interrupted"] and "not run" in res["interrupted"], res
    # Its clips, listed by a short-lived worker on the head from the claimed JobSpec:
    # every one not started, under the JobSpec's own fingerprint.
    sources = [str(s) for s in mn.jobs["requeued.json"]]
    assert [c["source_path"] for c in res["clips"]] == sources, res
    for clip in res["clips"]:
        assert clip["status"] == "SKIPPED", clip
        detail = clip["failure_detail"]
        assert detail.startswith("not started: Slurm requeued job "), detail
        assert "after node node3 failed at launch" in detail and "not run" in detail, detail
    assert (res["total_clips"], res["skipped_clips"]) == (2, 2), res
    spec = json.loads((mn.root / "failed" / "requeued.json").read_bytes())
    assert res["jobspec_fingerprint"] == fingerprint(spec), res
    (job,) = cluster.jobs()
    assert job.restarts >= 1 and job.state == "CANCELLED"  # Slurm's requeue, then ours
    new = tmp_path / "rest.json"
    proc = run_cli("remainder", str(mn.root / "failed" / "requeued.result.json"), "-o", str(new))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(new.read_text())["sources"] == sources
