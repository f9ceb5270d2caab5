"""How long a half-dead or dead node takes to be noticed, and how long its step runs on.

    .venv/bin/python -m bench.node_failures [--runs N] [--faults slurmd,cut,power]

On the multi-node namespace cluster (integration/ns_cluster.py; root needed), each
run starts a cluster, one supervisor on head1 and one long job (48 clips) on a node;
once its first proxy is published the fault is applied, and these moments are
recorded, in seconds after the fault:

- `node_fail`: Slurm's state for the job is NODE_FAIL (scontrol, polled every 0.2 s)
- `revoked`: the supervisor revoked the claim (`running/.NAME.json.revoked` exists)
- `step_gone`: no process of the job is left on the node (the fence stopped it)
- `filed`: the result is in failed/
- `last_publish`: the newest proxy's mtime (before `revoked`: nothing published after)

Timings are observations on this machine, never assertions (the tests assert none).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from integration.mn_rig import MnRig
from integration.ns_cluster import NsCluster, unavailable
from testkit import make_clip

FAULTS = ("slurmd", "cut", "power")


def _until(cond: Callable[[], bool], limit: float = 240.0) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > limit:
            raise TimeoutError("gave up waiting")
        time.sleep(0.2)
    return time.monotonic()


def one_run(fault: str, clip: Path) -> dict[str, float]:
    shared = Path(tempfile.mkdtemp(prefix="proxx-bench-nodes-", dir="/var/tmp"))
    cluster = NsCluster.start(shared)
    try:
        rig = MnRig.make(cluster)
        rig.drop_job("lost", clip, 48)
        rig.supervisor("head1", "--max-workers", "1", "--slurm-arg=--cpus-per-task=2")
        _until(lambda: bool(rig.published("lost")) and rig.running_on("lost") is not None)
        node = rig.running_on("lost")
        assert node is not None
        t0 = time.monotonic()
        {"slurmd": cluster.kill_slurmd, "cut": cluster.cut, "power": cluster.power_off}[fault](node)
        revoked = rig.root / "running" / ".lost.json.revoked"
        seen: dict[str, float] = {}
        while "filed" not in seen or "step_gone" not in seen:
            now = time.monotonic() - t0
            if "node_fail" not in seen and any(j.state == "NODE_FAIL" for j in cluster.jobs()):
                seen["node_fail"] = now
            if "revoked" not in seen and revoked.exists():
                seen["revoked"] = now
            if "filed" not in seen and (rig.root / "failed" / "lost.result.json").exists():
                seen["filed"] = now
            if "step_gone" not in seen and not cluster.job_procs().get(node):
                seen["step_gone"] = now
            if now > 240:
                raise TimeoutError(f"{fault}: only saw {seen}")
            time.sleep(0.2)
        newest = max((rig.out / n).stat().st_mtime for n in rig.published("lost"))
        seen["last_publish"] = newest - (time.time() - (time.monotonic() - t0))
        rig.stop_supervisors()
        return seen
    finally:
        cluster.stop()
        shutil.rmtree(shared, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.node_failures")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--faults", default=",".join(FAULTS))
    args = p.parse_args(argv)
    why = unavailable()
    if why is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="proxx-bench-clip-", dir="/var/tmp"))
    try:
        clip = work / "part.mov"
        make_clip(clip, size="640x360", seconds=30.0)
        table: dict[str, list[dict[str, float]]] = {}
        for fault in args.faults.split(","):
            for _ in range(args.runs):
                run = one_run(fault, clip)
                print(fault, json.dumps({k: round(v, 1) for k, v in run.items()}), flush=True)
                table.setdefault(fault, []).append(run)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}; seconds after the fault (min-max):")
    for fault, runs in table.items():
        cells = []
        for key in ("node_fail", "revoked", "step_gone", "filed", "last_publish"):
            vals = [r[key] for r in runs if key in r]
            lo, hi = min(vals), max(vals)
            cells.append(f"{key} {lo:.1f}-{hi:.1f} (median {statistics.median(vals):.1f})")
        print(f"{fault:7} " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
