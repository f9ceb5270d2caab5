"""1. Per-clip overhead of `proxx run` against the same FFmpeg commands run one after another.

A job of 10 tiny clips (2 s, 640×360) and a job of one 10 s 1080p clip; each
Proxx run is paired with a bare run of the exact argv from its result JSON
(only the output path differs: a file beside it on the same filesystem).
The result timestamps split Proxx's wall time into start-up, validation,
clips, gaps and exit, which is where the per-clip overhead is attributed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    Ctx,
    Timed,
    bare,
    clear_dir,
    commands_of,
    copies,
    cpu_now,
    fmt_ms,
    fmt_s,
    hd_clip,
    interleave,
    median,
    run_ok,
    run_proxx_job,
    spec_dict,
    spread_pct,
    tiny_clip,
    ts,
    write_json,
)
from bench.report import Report


@dataclass
class Paired:
    """The outcome of one Proxx-vs-bare comparison."""

    proxx: list[float]
    bare: list[float]
    results: list[tuple[Timed, dict[str, Any]]]
    per_cmd: list[list[float]]  # bare seconds of each command, over the bare trials
    commands: list[list[str]] = field(default_factory=list)
    proxx_cpu: list[float] = field(default_factory=list)  # user+sys of the whole tree
    bare_cpu: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [p / b for p, b in zip(self.proxx, self.bare, strict=True)]


def compare_run(ctx: Ctx, label: str, sources: list[Path], pairs: int) -> Paired:
    """`proxx run` on a job of `sources` against its own commands, `pairs` times, interleaved."""
    d = ctx.fresh(f"overhead-{label}")
    out, bare_dir = d / "out", d / "bare"
    out.mkdir()
    bare_dir.mkdir()
    spec = write_json(d / "job.json", spec_dict(sources, out))
    log = d / "proxx.log"
    results: list[tuple[Timed, dict[str, Any]]] = []

    def proxx_trial() -> float:
        clear_dir(out)
        t, res = run_proxx_job(spec, log)
        results.append((t, res))
        return t.seconds

    first = proxx_trial()  # also yields the commands
    cmds = [bare(c, bare_dir) for c in commands_of(results[0][1])]
    per_cmd: list[list[float]] = [[] for _ in cmds]

    bare_cpu: list[float] = []

    def bare_trial() -> float:
        clear_dir(bare_dir)
        c0 = cpu_now()
        t0 = time.perf_counter()
        for i, argv in enumerate(cmds):
            per_cmd[i].append(run_ok(argv))
        dt = time.perf_counter() - t0
        bare_cpu.append(cpu_now() - c0)
        return dt

    if ctx.quick:
        xs, ys = [first], [bare_trial()]
    else:
        bare_trial()  # warm-up of the bare side too
        results.clear()
        bare_cpu.clear()
        for times in per_cmd:
            times.clear()
        ctx.log(f"overhead/{label}: {pairs} interleaved pairs")
        xs, ys = interleave(proxx_trial, bare_trial, pairs)
    return Paired(xs, ys, results, per_cmd, cmds, [t.cpu for t, _ in results], bare_cpu)


def timeline(p: Paired) -> dict[str, float]:
    """Median seconds of each phase of a `proxx run`, from its result timestamps."""
    phases: dict[str, list[float]] = {
        k: [] for k in ("startup", "validate", "clip_excess", "gap", "after_last", "exit", "clips")
    }
    bare_med = [median(t) for t in p.per_cmd]
    for t, res in p.results:
        clips = res["clips"]
        start = ts(res["started_at"])
        c0 = ts(clips[0]["started_at"])
        phases["startup"].append(start - t.launched_at)
        phases["validate"].append(c0 - start)
        excess = [
            ts(c["ended_at"]) - ts(c["started_at"]) - b
            for c, b in zip(clips, bare_med, strict=True)
        ]
        phases["clip_excess"].append(sum(excess) / len(excess))
        phases["clips"].append(sum(ts(c["ended_at"]) - ts(c["started_at"]) for c in clips))
        gaps = [ts(b["started_at"]) - ts(a["ended_at"]) for a, b in itertools.pairwise(clips)]
        phases["gap"].append(sum(gaps) / len(gaps) if gaps else 0.0)
        phases["after_last"].append(ts(res["ended_at"]) - ts(clips[-1]["ended_at"]))
        phases["exit"].append(t.launched_at + t.seconds - ts(res["ended_at"]))
    return {k: median(v) for k, v in phases.items()}


def _report(ctx: Ctx, rep: Report, label: str, p: Paired, target: float, n_clips: int) -> None:
    ratio = median(p.ratios)
    rep.row(
        section="overhead",
        name=label,
        value=f"{ratio:.2f}×",
        pairs=f"{min(p.ratios):.2f}–{max(p.ratios):.2f}×",
        target=f"≤ {target:.2f}×",
        met=ratio <= target,
        proxx=fmt_s(median(p.proxx)),
        bare=fmt_s(median(p.bare)),
        noise=f"{spread_pct(p.proxx):.0f}% / {spread_pct(p.bare):.0f}%",
        n=str(len(p.proxx)),
    )
    tl = timeline(p)
    extra = median(p.proxx) - median(p.bare)
    short = label.split(" ")[0]
    rep.detail(
        "overhead",
        f"{short}: Proxx − bare, per clip",
        fmt_ms(extra / n_clips),
        f"{fmt_ms(extra)} per job of {n_clips} clip(s)",
    )
    rep.detail(
        "overhead",
        f"{short}: start-up (exec → started_at)",
        fmt_ms(tl["startup"]),
        "interpreter, imports (pydantic, click), CLI",
    )
    rep.detail(
        "overhead",
        f"{short}: validate+plan (→ clip 1 starts)",
        fmt_ms(tl["validate"]),
        f"worker start, then in the worker: JobSpec read, {n_clips} source probe(s), validation",
    )
    rep.detail(
        "overhead",
        f"{short}: in-worker clip time − bare, per clip",
        fmt_ms(tl["clip_excess"]),
        "verification probe, Popen+pgid, fsync, publish rename",
    )
    if n_clips > 1:
        rep.detail(
            "overhead",
            f"{short}: gap between clips",
            fmt_ms(tl["gap"]),
            "pipe messages, argv build",
        )
    rep.detail(
        "overhead",
        f"{short}: last clip → ended_at",
        fmt_ms(tl["after_last"]),
        "JobFinished message (engine versions), result_of",
    )
    rep.detail(
        "overhead",
        f"{short}: ended_at → process gone",
        fmt_ms(tl["exit"]),
        "result JSON out, worker shutdown, interpreter exit",
    )
    rep.detail(
        "overhead",
        f"{short}: CPU user+sys, whole tree, per job",
        f"{fmt_ms(median(p.proxx_cpu))} vs {fmt_ms(median(p.bare_cpu))}",
        "Proxx vs bare (RUSAGE_CHILDREN, orphans adopted and reaped)",
    )
    rep.raw[f"overhead/{label}"] = {
        "proxx": p.proxx,
        "bare": p.bare,
        "per_cmd": p.per_cmd,
        "timeline": tl,
        "proxx_cpu": p.proxx_cpu,
        "bare_cpu": p.bare_cpu,
    }
    ctx.figures.update({f"{short}.{k}": v for k, v in tl.items()})
    ctx.figures.update(
        {
            f"{short}.proxx": median(p.proxx),
            f"{short}.bare": median(p.bare),
            f"{short}.n": float(n_clips),
            f"{short}.ratio": ratio,
            f"{short}.target": target,
            f"{short}.cpu_proxx": median(p.proxx_cpu),
            f"{short}.cpu_bare": median(p.bare_cpu),
        }
    )


def run(ctx: Ctx, rep: Report) -> None:
    n_clips = 3 if ctx.quick else 10
    pairs = 1 if ctx.quick else 5
    sources = copies(tiny_clip(ctx), ctx.work / "tiny-sources", n_clips, stem="tiny")
    ctx.log(f"overhead: {n_clips} tiny clips, proxx run vs the same commands")
    tiny = compare_run(ctx, "tiny", sources, pairs)
    _report(ctx, rep, f"tiny job ({n_clips} × 2 s 640×360)", tiny, 1.10, n_clips)
    ctx.commands["tiny_h264"] = tiny.commands[0]

    hd = hd_clip(ctx)
    ctx.log("overhead: one 1080p clip, proxx run vs its command")
    one = compare_run(ctx, "hd", [hd], pairs)
    secs = "1 s" if ctx.quick else "10 s"
    _report(ctx, rep, f"1080p job (1 × {secs} ProRes HQ → H.264 540p)", one, 1.02, 1)
    ctx.commands["hd_h264"] = one.commands[0]
