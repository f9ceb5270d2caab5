"""Encoder trade-offs on the 1080p source, starting from Proxx's own argv.

- `prores_ks` (what Proxx uses) against `prores_aw`, ProRes Proxy 960×540:
  speed with default threads (3 runs each, interleaved), and whether each is
  byte-stable across those 3 runs and across encoder thread counts 1 and 2.
- libx264 with Proxx's encoder `-threads:v 1` against FFmpeg's default
  threading, one job alone and two jobs at once (2 cores), and whether the
  bytes repeat.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from bench.common import (
    Ctx,
    bare,
    commands_of,
    fmt_s,
    hd_clip,
    median,
    run_proxx_job,
    spec_dict,
    spread_pct,
    write_json,
)
from bench.report import Report


def proxx_argv(ctx: Ctx, key: str, source: Path, **overrides: str) -> list[str]:
    """Proxx's argv for one clip (from a real `proxx run` result), cached by key."""
    if key not in ctx.commands:
        d = ctx.fresh(f"cmd-{key}")
        (d / "out").mkdir()
        spec = write_json(d / "job.json", spec_dict([source], d / "out", **overrides))
        _, result = run_proxx_job(spec, d / "proxx.log")
        ctx.commands[key] = commands_of(result)[0]
    return ctx.commands[key]


SIZES: dict[str, int] = {}  # digest → bytes, for the size of each distinct output


def _digest(path: Path) -> str:
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    os.unlink(path)
    SIZES[h.hexdigest()[:16]] = size
    return h.hexdigest()[:16]


def _with_threads(argv: list[str], threads: int | None) -> list[str]:
    """Encoder threads as an output option just before `-f` (None: FFmpeg's default)."""
    i = len(argv) - 1 - argv[::-1].index("-f")
    out = list(argv)
    if "-threads:v" in out:
        j = out.index("-threads:v")
        del out[j:j + 2]
        i -= 2
    return out if threads is None else [*out[:i], "-threads:v", str(threads), *out[i:]]


class Runner:
    def __init__(self, d: Path) -> None:
        self.d = d
        self.k = 0

    def many(self, argvs: list[list[str]]) -> tuple[float, list[str]]:
        """Run argvs at once; wall seconds and each output's hash."""
        outs = []
        procs = []
        t0 = time.perf_counter()
        for argv in argvs:
            self.k += 1
            cmd = bare(argv, self.d, tag=f"-{self.k}")
            outs.append(Path(cmd[-1]))
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        errs = [p.communicate()[1] for p in procs]
        dt = time.perf_counter() - t0
        for p, e in zip(procs, errs, strict=True):
            if p.returncode != 0:
                raise RuntimeError(f"ffmpeg failed: {e.decode(errors='replace')[-1000:]}")
        return dt, [_digest(o) for o in outs]


def prores(ctx: Ctx, rep: Report, src: Path, runner: Runner) -> None:
    base = proxx_argv(ctx, "hd_prores_proxy", src, codec="prores_proxy",
                      proxy_profile="proxy_prores_proxy")
    used = next((a for a in base if a in ("prores_ks", "prores_aw")), None)
    if used is None:
        raise RuntimeError("Proxx's ProRes Proxy argv uses neither prores_ks nor prores_aw")
    argv = {enc: [(enc if a == used else a) for a in base] for enc in ("prores_ks", "prores_aw")}
    reps = 1 if ctx.quick else 3
    times: dict[str, list[float]] = {e: [] for e in argv}
    hashes: dict[str, dict[str, list[str]]] = {e: {} for e in argv}
    ctx.log(f"encoders: prores_ks vs prores_aw, {reps}× default threads + threads 1, 2")
    order = [("prores_ks", "prores_aw"), ("prores_aw", "prores_ks")]
    for r in range(reps):
        for enc in order[r % 2]:
            dt, (h,) = runner.many([argv[enc]])
            times[enc].append(dt)
            hashes[enc].setdefault("default", []).append(h)
    for threads in (1, 2):
        for enc in argv:
            _, (h,) = runner.many([_with_threads(argv[enc], threads)])
            hashes[enc].setdefault(f"threads {threads}", []).append(h)
    ratio = median(times["prores_ks"]) / median(times["prores_aw"])
    rep.row(section="encoders",
            name=f"ProRes Proxy 540p: prores_aw speed ÷ prores_ks (Proxx uses {used})",
            value=f"{ratio:.2f}×", target="(trade-off)",
            proxx=f"ks {fmt_s(median(times['prores_ks']))}",
            bare=f"aw {fmt_s(median(times['prores_aw']))}",
            noise=f"{spread_pct(times['prores_ks']):.0f}% / {spread_pct(times['prores_aw']):.0f}%",
            n=str(reps))
    for enc, by in hashes.items():
        runs = set(by["default"])
        every = {h for hs in by.values() for h in hs}
        rep.detail("encoders", f"{enc}: byte-stable, {reps} run(s) / threads 1, 2, default",
                   f"{'yes' if len(runs) == 1 else 'NO'} / {'yes' if len(every) == 1 else 'NO'}",
                   f"{len(every)} distinct output(s): "
                   f"{', '.join(f'{h} ({SIZES[h] / 1e6:.2f} MB)' for h in sorted(every))}")
    rep.raw["encoders/prores"] = {"times": times, "hashes": hashes}


def x264(ctx: Ctx, rep: Report, src: Path, runner: Runner) -> None:
    t1 = proxx_argv(ctx, "hd_h264", src)
    if t1[t1.index("-threads:v") + 1] != "1":
        raise RuntimeError("Proxx's H.264 argv no longer sets -threads:v 1")
    argv = {"threads 1": t1, "default threads": _with_threads(t1, None)}
    rounds = 1 if ctx.quick else 3
    times: dict[tuple[str, int], list[float]] = {}
    hashes: dict[str, set[str]] = {k: set() for k in argv}
    ctx.log(f"encoders: x264 -threads:v 1 vs default, 1 and 2 concurrent, {rounds} round(s)")
    for r in range(rounds):
        for conc in (1, 2):
            keys = list(argv) if r % 2 == 0 else list(argv)[::-1]
            for key in keys:
                dt, hs = runner.many([argv[key]] * conc)
                times.setdefault((key, conc), []).append(dt)
                hashes[key].update(hs)
    for conc in (1, 2):
        a, b = median(times[("threads 1", conc)]), median(times[("default threads", conc)])
        rep.row(section="encoders",
                name=f"x264 1080p→540p, {conc} job(s) at once: -threads:v 1 speed ÷ default",
                value=f"{b / a:.2f}×", target="(trade-off)", proxx=f"threads 1: {fmt_s(a)}",
                bare=f"default: {fmt_s(b)}",
                noise=f"{spread_pct(times[('threads 1', conc)]):.0f}% / "
                      f"{spread_pct(times[('default threads', conc)]):.0f}%", n=str(rounds))
    n_runs = 3 * rounds
    for key, seen in hashes.items():
        rep.detail("encoders", f"x264 {key}: distinct outputs over {n_runs} runs", str(len(seen)),
                   "1 = byte-stable")
    rep.raw["encoders/x264"] = {f"{k}/{c}": v for (k, c), v in times.items()}


def run(ctx: Ctx, rep: Report) -> None:
    src = hd_clip(ctx)
    runner = Runner(ctx.fresh("encoders"))
    prores(ctx, rep, src, runner)
    x264(ctx, rep, src, runner)
