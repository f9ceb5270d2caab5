"""4. Scale: a pending/ folder of 10 000 JobSpecs, and 1 000 quick jobs in one `--once` run.

- `Intake(Layout(root)).scan()` timed directly at 100, 1 000 and 10 000 entries
  (the supervisor calls it once per loop iteration, i.e. after every finished job).
- Time from launching `proxx watch` to its first claim with 10 000 pending
  against 1 pending (distinct hard-linked sources, so every job is valid).
- 1 000 quick jobs (missing source: they fail in the supervisor, no worker):
  supervisor VmRSS sampled from /proc every 20 ms, and the per-job time of the
  first 100 against the last 100 from the results' `result_written_at`.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import (
    Ctx,
    clear_dir,
    copies,
    fmt_ms,
    median,
    proc_status,
    proxx,
    ratio_columns,
    spec_dict,
    spread_pct,
    stop_process,
    tiny_clip,
    ts,
    wait_until,
)
from bench.report import Report


def _fill(pending: Path, start: int, stop: int, make: dict[int, bytes] | bytes) -> None:
    for i in range(start, stop):
        body = make if isinstance(make, bytes) else make[i]
        (pending / f"job_{i:05d}.json").write_bytes(body)


def _watch_root(root: Path) -> Path:
    """`root` with the four state folders of a watch folder, made here."""
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    return root


def scan_cost(ctx: Ctx, rep: Report, sizes: tuple[int, ...]) -> None:
    from proxx.watch.folder import Layout
    from proxx.watch.intake import Intake

    d = _watch_root(ctx.fresh("scale-scan"))
    body = json.dumps(spec_dict([d / "missing.mov"], d)).encode()
    have = 0
    repeats = 3 if ctx.quick else 15
    for size in sizes:
        _fill(d / "pending", have, size, body)
        have = size
        intake = Intake(Layout(str(d)))
        intake.scan()
        xs = [_seconds(intake.scan) for _ in range(repeats)]
        names = intake.scan()
        assert len(names) == size
        ready = _seconds(partial(intake.ready, names[0]))
        rep.detail(
            "scale",
            f"Intake.scan() of {size} pending",
            fmt_ms(median(xs)),
            f"{median(xs) / size * 1e6:.1f} µs/entry; noise {spread_pct(xs):.0f}%; "
            f"ready(first) {fmt_ms(ready)}",
        )
        rep.raw[f"scale/scan/{size}"] = xs
        ctx.figures[f"scan_{size}"] = median(xs)
    big = sizes[-1]
    rep.row(
        section="scale",
        name=f"Intake.scan() with {big} JobSpecs pending",
        value=fmt_ms(ctx.figures[f"scan_{big}"]),
        target="(none set)",
        proxx=fmt_ms(ctx.figures[f"scan_{big}"]),
        n=str(repeats),
    )


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class _ClaimTrials:
    """`proxx watch` launched on a folder of 1 or of `big` valid JobSpecs, stopped at its
    first claim: the seconds to that claim, and what stopping it right then cost."""

    def __init__(self, ctx: Ctx, big: int) -> None:
        self.d = ctx.fresh("scale-claim")
        self.out = self.d / "out"
        sources = copies(tiny_clip(ctx), self.d / "sources", big, stem="s")
        self.bodies = {
            i: json.dumps(spec_dict([s], self.out)).encode() for i, s in enumerate(sources)
        }
        self.roots = {1: _watch_root(self.d / "one"), big: _watch_root(self.d / "many")}
        for n, root in self.roots.items():
            _fill(root / "pending", 0, n, self.bodies)
        self.stops: list[tuple[int, float, int]] = []  # (pending, seconds to stop, in failed/)

    def trial(self, n: int) -> float:
        root = self.roots[n]
        for state in ("running", "completed", "failed"):
            clear_dir(root / state)
        clear_dir(self.out)
        have = set(os.listdir(root / "pending"))
        for i in range(n):  # put back what the last trial claimed (or failed on stopping)
            if f"job_{i:05d}.json" not in have:
                _fill(root / "pending", i, i + 1, self.bodies)
        first = root / "pending" / "job_00000.json"
        with open(self.d / f"watch-{n}.log", "ab") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                proxx("watch", str(root)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                t1 = wait_until(lambda: not first.exists(), 120)
            finally:
                t2 = time.perf_counter()
                stop_process(proc, grace=15)
                failed = len(list((root / "failed").glob("*.result.json")))
                self.stops.append((n, time.perf_counter() - t2, failed))
        if t1 is None:
            raise RuntimeError(f"no claim within 120 s with {n} pending")
        return t1 - t0


def first_claim(ctx: Ctx, rep: Report, big: int, rounds: int) -> None:
    trials = _ClaimTrials(ctx, big)
    ctx.log(f"scale: time to first claim, 1 vs {big} pending, {rounds} round(s)")
    trials.trial(1)  # warm-up
    ones, bigs = [], []
    for r in range(rounds):
        if r % 2 == 0:
            ones.append(trials.trial(1))
            bigs.append(trials.trial(big))
        else:
            bigs.append(trials.trial(big))
            ones.append(trials.trial(1))
    ratios = [b / o for o, b in zip(ones, bigs, strict=True)]
    rep.row(
        section="scale",
        name=f"launch → first claim, {big} pending vs 1",
        **ratio_columns(ratios, bigs, ones),
        target="(none set)",
        proxx=f"{fmt_ms(median(bigs))} vs {fmt_ms(median(ones))}",
        n=str(rounds),
    )
    rep.detail(
        "scale",
        f"first claim: extra with {big} pending",
        fmt_ms(median(bigs) - median(ones)),
        "one scan + sort of the names, "
        "recovery pass; the rest is start-up (imports, forkserver, worker)",
    )
    worst = max(trials.stops, key=lambda x: x[2])
    rep.detail(
        "scale",
        f"SIGTERM right after the first claim, {big} pending",
        f"{worst[2]} job(s) failed",
        f"worst of {len(trials.stops)} stops; took {worst[1]:.1f} s "
        "(15 s grace, then SIGKILL); expected: 1 (the claimed job, interrupted)",
    )
    rep.raw["scale/first_claim"] = {"one": ones, "big": bigs, "stops": trials.stops}


def many_quick_jobs(ctx: Ctx, rep: Report, n: int) -> None:
    d = ctx.fresh("scale-many")
    root = _watch_root(d / "watch")
    _fill(root / "pending", 0, n, json.dumps(spec_dict([d / "missing.mov"], d)).encode())
    ctx.log(f"scale: {n} quick jobs through one --once run")
    samples, peak, wall = _rss_sampled(proxx("watch", str(root), "--once"), d / "watch.log")
    done = sorted(
        ts(json.loads(p.read_text())["_metadata"]["result_written_at"])
        for p in (root / "failed").glob("*.result.json")
    )
    if len(done) != n:
        raise RuntimeError(f"{len(done)}/{n} quick jobs finished; log {d / 'watch.log'}")
    k = min(100, n // 5)
    first = (done[k - 1] - done[0]) / (k - 1)
    last = (done[-1] - done[-k]) / (k - 1)
    at_first = next((kb for t, kb in samples if t >= done[0]), samples[-1][1])
    at_end = next((kb for t, kb in reversed(samples) if t <= done[-1]), samples[-1][1])
    rep.row(
        section="scale",
        name=f"{n} quick jobs: per-job time, last {k} ÷ first {k}",
        value=f"{last / first:.2f}×",
        target="(none set; ≈ 1× expected)",
        proxx=f"{fmt_ms(first)} → {fmt_ms(last)} per job; {wall:.1f} s total",
        n="1",
    )
    rep.row(
        section="scale",
        name=f"{n} quick jobs: supervisor RSS growth",
        value=f"{(at_end - at_first) / 1024:+.1f} MB",
        target="(none set; bounded)",
        proxx=f"{at_first / 1024:.1f} MB at job 1 → {at_end / 1024:.1f} MB at job {n}, "
        f"peak {peak / 1024:.1f} MB",
        n=str(len(samples)),
    )
    growth = f"{(at_end - at_first) / max(1, n - 1):.1f} kB"
    rep.detail("scale", f"{n} quick jobs: growth per job", growth, "VmRSS sampled every 20 ms")
    rep.raw["scale/many"] = {"written_at": done, "rss": samples, "wall": wall}


def _rss_sampled(argv: list[str], log_path: Path) -> tuple[list[tuple[float, int]], int, float]:
    """Run `argv` to its end, its VmRSS sampled every 20 ms: (time, kB) samples, VmHWM, wall."""
    samples: list[tuple[float, int]] = []
    peak = 0
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
        )
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                st = proc_status(proc.pid)
                if st:
                    samples.append((time.time(), st.get("VmRSS", 0)))
                    peak = max(peak, st.get("VmHWM", 0))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            proc.wait(600)
        finally:
            stop.set()
            sampler.join()
            stop_process(proc)
        return samples, peak, time.perf_counter() - t0


def run(ctx: Ctx, rep: Report) -> None:
    sizes = (100, 1000) if ctx.quick else (100, 1000, 10000)
    ctx.log(f"scale: Intake.scan() at {', '.join(map(str, sizes))} pending")
    scan_cost(ctx, rep, sizes)
    first_claim(ctx, rep, sizes[-1], 1 if ctx.quick else 3)
    many_quick_jobs(ctx, rep, 100 if ctx.quick else 1000)
