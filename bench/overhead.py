"""1. Per-clip overhead of `proxx run` against the same FFmpeg commands run one after another.

A job of 10 tiny clips (2 s, 640×360) and a job of one 10 s 1080p clip; each
Proxx run is paired with a bare run of the exact argv from its result JSON
(only the output path differs: a file beside it on the same filesystem).
The result timestamps split Proxx's wall time into start-up, validation,
clips, gaps and exit, which is where the per-clip overhead is attributed.
"""

from __future__ import annotations

import itertools
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
    fmt_ms,
    fmt_s,
    hd_clip,
    interleave,
    median,
    ratio_columns,
    run_proxx_job,
    spec_dict,
    tiny_clip,
    ts,
    write_json,
)
from bench.report import Report
from bench.runner import BareSide


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
    bare_side = BareSide(bare_dir, [bare(c, bare_dir) for c in commands_of(results[0][1])])
    if ctx.quick:
        xs, ys = [first], [bare_side.trial()]
    else:
        bare_side.trial()  # warm-up of the bare side too
        results.clear()
        bare_side.forget()
        ctx.log(f"overhead/{label}: {pairs} interleaved pairs")
        xs, ys = interleave(proxx_trial, bare_side.trial, pairs)
    return Paired(
        xs,
        ys,
        results,
        bare_side.per_cmd,
        bare_side.cmds,
        [t.cpu for t, _ in results],
        bare_side.cpu,
    )


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


# Where a job's time goes beyond the bare command: (row, timeline key, what it covers).
TIMELINE_ROWS = (
    ("start-up (exec → started_at)", "startup", "interpreter, imports (pydantic, click), CLI"),
    (
        "validate+plan (→ clip 1 starts)",
        "validate",
        "worker start, then in the worker: JobSpec read, {n} source probe(s), validation",
    ),
    (
        "in-worker clip time − bare, per clip",
        "clip_excess",
        "verification probe, Popen+pgid, fsync, publish rename",
    ),
    ("gap between clips", "gap", "pipe messages, argv build"),
    ("last clip → ended_at", "after_last", "JobFinished message (engine versions), result_of"),
    ("ended_at → process gone", "exit", "result JSON out, worker shutdown, interpreter exit"),
)


def _report(ctx: Ctx, rep: Report, label: str, p: Paired, target: float, n_clips: int) -> None:
    ratio = median(p.ratios)
    rep.row(
        section="overhead",
        name=label,
        **ratio_columns(p.ratios, p.proxx, p.bare),
        target=f"≤ {target:.2f}×",
        met=ratio <= target,
        proxx=fmt_s(median(p.proxx)),
        bare=fmt_s(median(p.bare)),
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
    for name, key, note in TIMELINE_ROWS:
        if key != "gap" or n_clips > 1:  # a one-clip job has no gap between clips
            rep.detail("overhead", f"{short}: {name}", fmt_ms(tl[key]), note.format(n=n_clips))
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
    _figures(ctx, short, p, tl, target, n_clips)


def _figures(
    ctx: Ctx, short: str, p: Paired, tl: dict[str, float], target: float, n_clips: int
) -> None:
    """The numbers the diagnosis (bench/attribution.py) reads back, under `short`."""
    ctx.figures.update({f"{short}.{k}": v for k, v in tl.items()})
    ctx.figures.update(
        {
            f"{short}.proxx": median(p.proxx),
            f"{short}.bare": median(p.bare),
            f"{short}.n": float(n_clips),
            f"{short}.ratio": median(p.ratios),
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
