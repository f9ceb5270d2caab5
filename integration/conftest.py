"""Fixtures for the integration tests.

The `proxx watch` ones (see watch_helpers.py, watch_folder.py and processes.py),
and the private Slurm cluster the test_slurm_*.py modules share (slurm_cluster.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.mn_rig import MnRig, leftovers
from integration.ns_cluster import NsCluster, pid_ns
from integration.ns_cluster import unavailable as ns_unavailable
from integration.processes import wait_for
from integration.slurm_cluster import SlurmCluster, missing_tools
from integration.slurm_rig import SlurmRig
from integration.watch_folder import make_root
from integration.watch_helpers import Launcher

# A long clip must still be rendering when a test acts on it, and for a good
# while after: rendering 180 s of 640x360 as ProRes Proxy took ~8 s of wall time
# here (measured 2026-12, under load), so an FFmpeg that is gone within
# DEATH_NOTICE_S of a kill was stopped, not finished. A test that needs the
# render to outlast several CLI calls freezes FFmpeg instead (test_cancel_watch).
# (Making it costs ~4 s, once per xdist worker; the tests that use it stop it early.)
LONG = {"size": "640x360", "seconds": 180.0}
MEDIUM = {"size": "640x360", "seconds": 12.0}  # renders in a couple of seconds


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    """Starts supervisors; kills every process of their sessions at teardown."""
    logs = tmp_path / "logs"
    logs.mkdir()
    launch = Launcher(logs)
    yield launch
    killed = launch.cleanup()
    if killed:  # shown with the test's report; the tests themselves assert a clean exit
        print("teardown killed what was left:\n  " + "\n  ".join(killed))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty watch folder with its four state folders."""
    return make_root(tmp_path)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def tiny(clip: Callable[..., Path]) -> Path:
    """64x36, 1 s, H.264 + PCM: renders in a fraction of a second."""
    return clip("tiny.mov")


@pytest.fixture
def long_clip(clip: Callable[..., Path]) -> Path:
    return clip("long.mov", **LONG)


@pytest.fixture
def medium_clip(clip: Callable[..., Path]) -> Path:
    return clip("medium.mov", **MEDIUM)


# -- the private Slurm cluster (integration/test_slurm_*.py) ---------------------------
# Private to the test session: its own munge key, config, ports, state and spool
# folders under a temp folder, its daemons children of the test process, stopped by
# PID. Session-scoped: started at most once per xdist worker, by the first test that
# asks for it.


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    missing = missing_tools()
    if missing:
        pytest.skip(
            f"Slurm is not installed here (missing: {', '.join(missing)}); "
            "`./dev test` installs slurm-wlm and munge with apt-get"
        )
    if os.geteuid() != 0:
        pytest.skip("the private Slurm cluster needs root: slurmd starts jobs as their user")
    cluster = SlurmCluster.start(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def idle_node(slurm: SlurmCluster) -> Iterator[SlurmCluster]:
    """The node is idle before and after the test (tests that take it down put it back)."""
    slurm.wait_node_state("idle")
    yield slurm
    if slurm.node_state().rstrip("*~#!%$@^-") in ("down", "drained", "draining"):
        # ReturnToService=2 may bring it back between the look and the resume: then
        # Slurm calls "resume" an invalid state change, which is fine.
        slurm.call("scontrol", "update", f"nodename={slurm.node}", "state=resume")
    slurm.wait_node_state("idle")


# -- proxx watch --executor slurm, end to end ----------------------------------------------


@pytest.fixture
def cluster(idle_node: SlurmCluster) -> Iterator[SlurmCluster]:
    """The shared cluster, with no job of an earlier test left in its queue."""
    yield idle_node
    idle_node.run("scancel", "--full", check=False)
    wait_for(lambda: not idle_node.queue_ids(), "an empty queue", timeout=60)


@pytest.fixture
def rig(cluster: SlurmCluster, launcher: Launcher, root: Path, out: Path) -> SlurmRig:
    return SlurmRig(cluster, launcher, root, out)


# -- the multi-node namespace cluster (integration/test_slurm_nodes.py) ----------------
# One per test: two heads and three nodes, each host its own namespaces (ns_cluster.py),
# on a shared folder outside /tmp (every host has its own /tmp). Teardown powers every
# host off by PID and checks that no process of any host is left.


@pytest.fixture
def nodes() -> Iterator[NsCluster]:
    why = ns_unavailable()
    if why is not None:
        pytest.skip(f"no multi-node namespace cluster here: {why}")
    shared = Path(tempfile.mkdtemp(prefix="proxx-nodes-", dir="/var/tmp"))
    try:
        cluster = NsCluster.start(shared)
        namespaces = [ns for h in cluster.hosts.values() if (ns := pid_ns(h.init))]
        try:
            yield cluster
        finally:
            cluster.stop()
        # SIGKILL of a host's PID 1 has the kernel kill the rest; they may take a
        # moment to be reaped. Any still there after that was not stopped.
        wait_for(
            lambda: not leftovers(namespaces),
            "no process left on the cluster's hosts",
            30.0,
            0.1,
            lambda: repr(leftovers(namespaces)),
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def mn(nodes: NsCluster) -> MnRig:
    return MnRig.make(nodes)
