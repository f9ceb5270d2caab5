"""The Slurm layer on its own (proxx.slurm.client) against a real one-node cluster.

sbatch, squeue, scontrol and scancel of the session's private cluster
(integration/slurm_cluster.py; the `slurm` fixture, integration/conftest.py): a live
and a dead controller, jobs ended by scancel and by a downed node, unknown jobs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.slurm_cluster import SlurmCluster
from proxx.contract.errors import FailureReason
from proxx.slurm.client import SlurmClient, SlurmUnavailable, Submission
from proxx.slurm.states import SlurmJob, end_failure


@pytest.fixture
def client(slurm: SlurmCluster) -> SlurmClient:
    return SlurmClient(env=slurm.env())


def _sleep_job(tmp_path: Path, name: str, seconds: int = 300) -> Submission:
    return Submission(
        job_name=name,
        command=["sleep", str(seconds)],
        workdir=str(tmp_path),
        stdout=str(tmp_path / f"{name}.out"),
        stderr=str(tmp_path / f"{name}.err"),
    )


def _ended(client: SlurmClient, job_id: str) -> SlurmJob | None:
    job = client.poll([job_id]).get(job_id)
    if job is None or job.alive:
        return None
    return client.show(job_id)


# -- the Slurm layer on its own --------------------------------------------------------


def test_client_sees_a_live_controller_and_a_dead_one_fails_clearly(
    slurm: SlurmCluster,
    client: SlurmClient,
    tmp_path: Path,
) -> None:
    client.check()  # control: the live cluster passes
    dead = slurm.dead_conf(tmp_path / "dead.conf")
    with pytest.raises(SlurmUnavailable, match="controller does not answer"):
        SlurmClient(env={**slurm.env(), "SLURM_CONF": str(dead)}).check()
    with pytest.raises(SlurmUnavailable, match="not found on PATH: sbatch"):
        SlurmClient(env={**slurm.env(), "PATH": str(tmp_path)}).check()


def test_scancel_and_a_downed_node_end_as_slurm_says_with_state_and_reason(
    idle_node: SlurmCluster,
    client: SlurmClient,
    tmp_path: Path,
) -> None:
    a = client.submit(_sleep_job(tmp_path, "proxx-test-cancel"))
    b = client.submit(_sleep_job(tmp_path, "proxx-test-node"))
    wait_for(
        lambda: [j.state for j in client.poll([a, b]).values()] == ["RUNNING", "RUNNING"],
        "both running",
    )
    assert client.find_by_name("proxx-test-cancel") == a
    client.cancel(a)
    cancelled = wait_for(lambda: _ended(client, a), "the cancel")
    assert cancelled is not None and cancelled.state == "CANCELLED"
    assert end_failure(cancelled)[0] is FailureReason.INTERRUPTED
    assert client.poll([b])[b].alive  # control: only the cancelled job ended
    idle_node.set_node("down", "proxx test")
    failed = wait_for(lambda: _ended(client, b), "the node failure")
    assert failed is not None
    reason, detail = end_failure(failed)
    assert (failed.state, reason) == ("NODE_FAIL", FailureReason.WORKER_CRASHED)
    assert "NODE_FAIL" in detail and "NodeDown" in detail and failed.restarts == 0


def test_a_job_slurm_forgot_or_never_had_polls_as_absent(client: SlurmClient) -> None:
    assert client.poll(["999999"]) == {}
    assert client.show("999999") is None
    assert client.find_by_name("proxx-no-such-job") is None
