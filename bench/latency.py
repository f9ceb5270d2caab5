"""3. Pickup latency: from a JobSpec renamed into pending/ to its claim.

A long-running `proxx watch FOLDER --poll-seconds S` gets one JobSpec at a
time (a missing source, so it fails in the supervisor at once and no worker
is busy). Each is written under a dot-name in the watch root, then renamed
into pending/; the claim is seen as the file leaving pending/ (polled every
1 ms). Drops are spread over the poll cycle at stratified random offsets
after the previous claim (each of n equal slices of [0, S) gets one uniform
draw, shuffled), so the median is not at the mercy of a few lucky draws.

Model: the supervisor scans S seconds after it finished the previous job,
so latency ≈ S − offset + excess; `excess` (median of latency + offset − S)
is the loop's own cost per cycle: finishing the last job, scan, claim.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    Ctx,
    fmt_ms,
    median,
    proxx,
    spec_dict,
    stop_process,
    wait_until,
)
from bench.report import Report


def measure(
    ctx: Ctx, interval: float, samples: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    d = ctx.fresh(f"latency-{interval:g}")
    root = d / "watch"
    root.mkdir()
    pending = root / "pending"
    body = json.dumps(spec_dict([d / "missing.mov"], d)).encode()
    latencies: list[float] = []
    offsets: list[float] = []
    with open(d / "watch.log", "wb") as log:
        proc = subprocess.Popen(
            proxx("watch", str(root), "--poll-seconds", f"{interval:g}"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            if wait_until(pending.is_dir, 30) is None:
                raise RuntimeError(f"proxx watch did not create {pending}")
            _drop(root, "warmup.json", body)
            if wait_until(_gone(pending / "warmup.json"), 30 + 3 * interval) is None:
                raise RuntimeError("proxx watch did not claim the warm-up job")
            slices = rng.sample(range(samples), samples)
            for k, s in enumerate(slices):
                offset = (s + rng.random()) / samples * interval
                time.sleep(offset)
                target = pending / f"job-{k:03d}.json"
                t0 = _drop(root, target.name, body)
                t1 = wait_until(_gone(target), 10 + 5 * interval)
                if t1 is None:
                    raise RuntimeError(f"{target.name} not claimed within {10 + 5 * interval:g} s")
                latencies.append(t1 - t0)
                offsets.append(offset)
        finally:
            stop_process(proc)
    return latencies, offsets


def _gone(path: Path) -> Callable[[], bool]:
    return lambda: not path.exists()


def _drop(root: Path, name: str, body: bytes) -> float:
    """Write under a dot-name beside pending/, rename in; perf_counter just before the rename."""
    stage = root / f".stage-{name}"
    stage.write_bytes(body)
    t0 = time.perf_counter()
    os.rename(stage, root / "pending" / name)
    return t0


def run(ctx: Ctx, rep: Report) -> None:
    rng = random.Random(ctx.seed)
    plan = ((0.2, 4), (2.0, 2)) if ctx.quick else ((0.2, 30), (2.0, 12))
    for interval, samples in plan:
        ctx.log(f"latency: --poll-seconds {interval:g}, {samples} drops")
        lat, offs = measure(ctx, interval, samples, rng)
        med, worst = median(lat), max(lat)
        excess = [x + o - interval for x, o in zip(lat, offs, strict=True)]
        med_target, max_target = interval / 2 + 0.050, interval + 0.100
        p90 = sorted(lat)[max(0, round(0.9 * len(lat)) - 1)]
        name = f"--poll-seconds {interval:g}"
        rep.row(
            section="latency",
            name=f"{name}: median pickup",
            value=fmt_ms(med),
            pairs=f"{fmt_ms(min(lat))}–{fmt_ms(worst)}",
            target=f"≤ {fmt_ms(med_target)}",
            met=med <= med_target,
            proxx=f"median {fmt_ms(med)}, p90 {fmt_ms(p90)}, max {fmt_ms(worst)}",
            bare="(ideal median S/2)",
            n=str(len(lat)),
        )
        rep.row(
            section="latency",
            name=f"{name}: max pickup",
            value=fmt_ms(worst),
            target=f"≤ {fmt_ms(max_target)}",
            met=worst <= max_target,
        )
        rep.detail(
            "latency",
            f"{name}: excess per poll cycle",
            fmt_ms(median(excess)),
            "median of latency + offset − S: previous job's finish + scan + claim; "
            f"range {fmt_ms(min(excess))}–{fmt_ms(max(excess))}",
        )
        rep.raw[f"latency/{interval:g}"] = {"latency": lat, "offset": offs}
