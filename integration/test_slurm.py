"""`proxx watch --executor slurm` against a real one-node Slurm cluster, real FFmpeg.

The cluster (integration/slurm_cluster.py) is private to the test session:
its own munge key, config, ports, state and spool folders under a temp
folder, its daemons children of the test process, stopped by PID.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from integration.slurm_cluster import SlurmCluster, missing_tools
from proxx.errors import FailureReason
from proxx.slurm.client import SlurmClient, SlurmUnavailable, Submission
from proxx.slurm.states import SlurmJob, end_failure

T = TypeVar("T")
DEADLINE_S = 120.0  # a test deadline only, never a claim about speed


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"Slurm is not installed here (missing: {', '.join(missing)}); "
                    "`./dev test` installs slurm-wlm and munge with apt-get")
    if os.geteuid() != 0:
        pytest.skip("the private Slurm cluster needs root: slurmd starts jobs as their user")
    cluster = SlurmCluster.start(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def client(slurm: SlurmCluster) -> SlurmClient:
    return SlurmClient(env=slurm.env())


@pytest.fixture
def idle_node(slurm: SlurmCluster) -> Iterator[SlurmCluster]:
    """The node is idle before and after the test (tests that take it down put it back)."""
    slurm.wait_node_state("idle")
    yield slurm
    if slurm.node_state().rstrip("*~#!%$@^-") != "idle":
        slurm.set_node("resume")
        slurm.wait_node_state("idle")


def wait_for(what: str, check: Callable[[], T | None], timeout: float = DEADLINE_S) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _sleep_job(tmp_path: Path, name: str, seconds: int = 300) -> Submission:
    return Submission(job_name=name, command=["sleep", str(seconds)], workdir=str(tmp_path),
                      stdout=str(tmp_path / f"{name}.out"), stderr=str(tmp_path / f"{name}.err"))


def _ended(client: SlurmClient, job_id: str) -> SlurmJob | None:
    job = client.poll([job_id]).get(job_id)
    if job is None or job.alive:
        return None
    return client.show(job_id)


# -- the Slurm layer on its own --------------------------------------------------------

def test_client_sees_a_live_controller_and_a_dead_one_fails_clearly(
    slurm: SlurmCluster, client: SlurmClient, tmp_path: Path,
) -> None:
    client.check()  # control: the live cluster passes
    dead = tmp_path / "dead.conf"
    # The same cluster's config, but a controller port nobody listens on.
    text = "\n".join(ln for ln in slurm.conf.read_text().splitlines()
                     if not ln.startswith(("SlurmctldPort=", "MessageTimeout=")))
    dead.write_text(text + "\nSlurmctldPort=9\nMessageTimeout=2\n")
    with pytest.raises(SlurmUnavailable, match="controller does not answer"):
        SlurmClient(env={**slurm.env(), "SLURM_CONF": str(dead)}).check()
    with pytest.raises(SlurmUnavailable, match="not found on PATH: sbatch"):
        SlurmClient(env={**slurm.env(), "PATH": str(tmp_path)}).check()


def test_scancel_and_a_downed_node_end_as_slurm_says_with_state_and_reason(
    idle_node: SlurmCluster, client: SlurmClient, tmp_path: Path,
) -> None:
    a = client.submit(_sleep_job(tmp_path, "proxx-test-cancel"))
    b = client.submit(_sleep_job(tmp_path, "proxx-test-node"))
    wait_for("both running", lambda: [j.state for j in client.poll([a, b]).values()]
             == ["RUNNING", "RUNNING"])
    assert client.find_by_name("proxx-test-cancel") == a
    client.cancel(a)
    cancelled = wait_for("cancel", lambda: _ended(client, a))
    assert cancelled.state == "CANCELLED"
    assert end_failure(cancelled)[0] is FailureReason.INTERRUPTED
    assert client.poll([b])[b].alive  # control: only the cancelled job ended
    idle_node.set_node("down", "proxx test")
    failed = wait_for("node failure", lambda: _ended(client, b))
    reason, detail = end_failure(failed)
    assert (failed.state, reason) == ("NODE_FAIL", FailureReason.WORKER_CRASHED)
    assert "NODE_FAIL" in detail and "NodeDown" in detail and failed.restarts == 0


def test_a_job_slurm_forgot_or_never_had_polls_as_absent(client: SlurmClient) -> None:
    assert client.poll(["999999"]) == {}
    assert client.show("999999") is None
    assert client.find_by_name("proxx-no-such-job") is None
