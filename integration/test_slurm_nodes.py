"""`proxx watch --executor slurm` on a multi-node cluster (integration/ns_cluster.py):
two heads and three nodes, each its own namespaces, one shared filesystem. Every
test ends with the exactly-once audit (MnRig.audit): each job once in completed/ or
failed/, results that match the files on disk, no process left on any host.

Jobs ask for `--cpus-per-task=2`, a whole node each, so a test knows where a job
runs alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from integration.mn_rig import DEADLINE_S, MnRig
from integration.processes import wait_for

WHOLE_NODE = "--slurm-arg=--cpus-per-task=2"
# One clip of a multi-clip job: renders in a few seconds, so a job of CLIPS of them
# outlasts Slurm noticing a dead node (~15-20 s) with clips still to go.
CLIP = {"size": "640x360", "seconds": 30.0}
CLIPS = 12


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
