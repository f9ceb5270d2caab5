"""Diagnosis: split each measured gap (Proxx − bare) into its measured pieces.

Runs after the benchmarks, from their figures. Every number is a median
measured in this run (the run anatomy's timers and result timestamps from
`breakdown`, the throughput's CPU accounting); nothing here is a target and
nothing is estimated.
"""

from __future__ import annotations

from bench.common import Ctx, fmt_ms
from bench.report import Report

SECTION = "diagnosis"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}% of the gap" if whole > 0 else ""


def _run_job(ctx: Ctx, rep: Report, short: str) -> None:
    """`proxx run`: CLI start-up, the worker's boot/preparation, per-clip cost, exit."""
    f = ctx.figures
    a = f"run[{short}] "
    if f"{a}wall" not in f:
        return
    gap = f[f"{a}wall"] - f[f"{a}bare"]
    label = f"{short} `proxx run`"
    rep.detail(SECTION, f"{label}: gap, timed run − bare", fmt_ms(gap), "")
    parts = [
        ("CLI start-up (interpreter, imports)", f[f"{a}startup"], "before the worker starts"),
        (
            "worker boot, preparation, finish",
            f[f"{a}job − clips (boot, prepare, finish)"],
            "interpreter + imports (PyAV) of the worker, read/validate/probe, result",
        ),
        (
            "clips − bare",
            f[f"{a}clips − bare"],
            "per clip: process group, verification, fsync before publication",
        ),
        ("pool shutdown", f[f"{a}Pool.shutdown"], "waiting for the worker to exit"),
        ("interpreter exit", f[f"{a}exit"], ""),
    ]
    for name, value, why in parts:
        rep.detail(
            SECTION,
            f"{label}: {name}",
            fmt_ms(value),
            f"{_pct(value, gap)}{'; ' if why else ''}{why}",
        )
    rest = gap - sum(v for _, v, _ in parts)
    rep.detail(SECTION, f"{label}: unattributed", fmt_ms(rest), f"{_pct(rest, gap)}; noise")


def _watch(ctx: Ctx, rep: Report) -> None:
    """`proxx watch`: CPU per job against xargs, which bounds throughput on a busy box."""
    f = ctx.figures
    for workers in (1, 2):
        key = f"tput{workers}"
        if f"{key}.cpu_proxx" not in f:
            continue
        pc, xc = f[f"{key}.cpu_proxx"], f[f"{key}.cpu_xargs"]
        rep.detail(
            SECTION,
            f"watch -w {workers}: CPU per job, Proxx vs xargs",
            f"{fmt_ms(pc)} vs {fmt_ms(xc)}",
            f"{fmt_ms(pc - xc)} extra: claim, worker messages, result filing (fsyncs)",
        )
        rep.detail(
            SECTION,
            f"watch -w {workers}: wall per job, Proxx vs xargs",
            f"{fmt_ms(f[f'{key}.proxx'])} vs {fmt_ms(f[f'{key}.xargs'])}",
            "",
        )


def run(ctx: Ctx, rep: Report) -> None:
    _run_job(ctx, rep, "tiny")
    _run_job(ctx, rep, "1080p")
    _watch(ctx, rep)
