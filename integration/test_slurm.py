"""`proxx watch --executor slurm` against a real one-node Slurm cluster, real FFmpeg.

The cluster (integration/slurm_cluster.py) is private to the test session:
its own munge key, config, ports, state and spool folders under a temp
folder, its daemons children of the test process, stopped by PID.
"""

from __future__ import annotations

import os
import signal
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.slurm_cluster import SlurmCluster, missing_tools
from integration.watch_helpers import (
    Launcher,
    Watch,
    assert_no_ffmpeg,
    done_count,
    drop,
    failed_clip,
    listing,
    make_root,
    partials,
    prores,
    result,
    results,
    spec,
    specs_in,
    wait_for,
)
from proxx.contract.errors import FailureReason
from proxx.slurm.client import SlurmClient, SlurmUnavailable, Submission
from proxx.slurm.states import SlurmJob, end_failure
from testkit import noise, run_cli

DEADLINE_S = 120.0  # a test deadline only, never a claim about speed


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
def client(slurm: SlurmCluster) -> SlurmClient:
    return SlurmClient(env=slurm.env())


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


# -- proxx watch --executor slurm, end to end ----------------------------------------------


@pytest.fixture
def cluster(idle_node: SlurmCluster) -> Iterator[SlurmCluster]:
    """The shared cluster, with no job of an earlier test left in its queue."""
    yield idle_node
    idle_node.run("scancel", "--full", check=False)
    wait_for(lambda: not idle_node.queue_ids(), "an empty queue", timeout=60)


@dataclass
class SlurmRig:
    """One test's watch folder and output folder, and the runners it starts on the
    shared cluster."""

    cluster: SlurmCluster
    launcher: Launcher
    root: Path
    out: Path

    def watch(self, *args: str, env: dict[str, str] | None = None) -> Watch:
        """`proxx watch ROOT --executor slurm ARGS…` on the cluster, polling quickly."""
        env = {"SLURM_CONF": str(self.cluster.conf), **(env or {})}
        return self.launcher.cli(
            self.root, "--executor", "slurm", "--poll-seconds", "0.2", *args, env=env
        )

    def drop_long(self, long_clip: Path, *stems: str) -> None:
        """One long ProRes job STEM.json (its proxy: out/STEM.mov) for each stem."""
        for stem in stems:
            drop(
                self.root, f"{stem}.json", prores([long_clip], self.out, output_name_template=stem)
            )

    def rendering(self, *stems: str) -> bool:
        """FFmpeg has started writing each of these jobs' proxies (the temporary names exist)."""
        names = os.listdir(self.out)
        return all(
            any(n.startswith(f".{stem}") and n.endswith(".partial") for n in names)
            for stem in stems
        )

    def wait_rendering(self, w: Watch, *stems: str) -> None:
        wait_for(lambda: self.rendering(*stems), f"{' and '.join(stems)} rendering", on_fail=w.log)

    def render_long(self, long_clip: Path, stem: str, *args: str) -> Watch:
        """A long job STEM.json, and a runner (`args`) that is rendering it on a node."""
        self.drop_long(long_clip, stem)
        w = self.watch(*args)
        self.wait_rendering(w, stem)
        return w


@pytest.fixture
def rig(cluster: SlurmCluster, launcher: Launcher, root: Path, out: Path) -> SlurmRig:
    return SlurmRig(cluster, launcher, root, out)


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
    assert [j.state for j in rig.cluster.jobs_named("st_c.json")] == ["CANCELLED"]
    # the log said where the jobs ran (why one waited depends on when Slurm's
    # scheduler last looked at it: tests/test_slurm_executor.py covers that note)
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
