"""Encoder trade-offs on the 1080p source, starting from Proxx's own argv.

- `prores_ks` against `prores_aw` (Proxx's choice for Proxy and LT), ProRes Proxy 960×540:
  speed with default threads (3 runs each, interleaved), and whether each is
  byte-stable across those 3 runs and across encoder thread counts 1 and 2.

Encoder threading (x264, x265, ProRes, DNxHR at 1/2/4/8 threads) is `bench/threads.py`.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import (
    Ctx,
    commands_of,
    fmt_s,
    hd_clip,
    median,
    noise,
    run_proxx_job,
    spec_dict,
    write_json,
)
from bench.report import Report
from bench.runner import BareRunner


def proxx_argv(ctx: Ctx, key: str, source: Path, **overrides: str) -> list[str]:
    """Proxx's argv for one clip (from a real `proxx run` result), cached by key."""
    if key not in ctx.commands:
        d = ctx.fresh(f"cmd-{key}")
        (d / "out").mkdir()
        spec = write_json(d / "job.json", spec_dict([source], d / "out", **overrides))
        _, result = run_proxx_job(spec, d / "proxx.log")
        ctx.commands[key] = commands_of(result)[0]
    return ctx.commands[key]


def _with_threads(argv: list[str], threads: int | None) -> list[str]:
    """Encoder threads as an output option just before `-f` (None: FFmpeg's default)."""
    out = list(argv)
    if "-threads:v" in out:
        j = out.index("-threads:v")
        del out[j : j + 2]
    i = len(out) - 1 - out[::-1].index("-f")
    return out if threads is None else [*out[:i], "-threads:v", str(threads), *out[i:]]


def prores(ctx: Ctx, rep: Report, src: Path, runner: BareRunner) -> None:
    base = proxx_argv(
        ctx, "hd_prores_proxy", src, codec="prores_proxy", proxy_profile="proxy_prores_proxy"
    )
    used = next((a for a in base if a in ("prores_ks", "prores_aw")), None)
    if used is None:
        raise RuntimeError("Proxx's ProRes Proxy argv uses neither prores_ks nor prores_aw")
    argv = {enc: [(enc if a == used else a) for a in base] for enc in ("prores_ks", "prores_aw")}
    reps = 1 if ctx.quick else 3
    ctx.log(f"encoders: prores_ks vs prores_aw, {reps}× default threads + threads 1, 2")
    times, hashes, sizes = _measure(runner, argv, reps)
    ratio = median(times["prores_ks"]) / median(times["prores_aw"])
    rep.row(
        section="encoders",
        name=f"ProRes Proxy 540p: prores_aw speed ÷ prores_ks (Proxx uses {used})",
        value=f"{ratio:.2f}×",
        target="(trade-off)",
        proxx=f"ks {fmt_s(median(times['prores_ks']))}",
        bare=f"aw {fmt_s(median(times['prores_aw']))}",
        noise=noise(times["prores_ks"], times["prores_aw"]),
        n=str(reps),
    )
    for enc, by in hashes.items():
        runs = set(by["default"])
        every = {h for hs in by.values() for h in hs}
        rep.detail(
            "encoders",
            f"{enc}: byte-stable, {reps} run(s) / threads 1, 2, default",
            f"{'yes' if len(runs) == 1 else 'NO'} / {'yes' if len(every) == 1 else 'NO'}",
            f"{len(every)} distinct output(s): "
            f"{', '.join(f'{h} ({sizes[h] / 1e6:.2f} MB)' for h in sorted(every))}",
        )
    rep.raw["encoders/prores"] = {"times": times, "hashes": hashes}


def _measure(
    runner: BareRunner, argv: dict[str, list[str]], reps: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[str]]], dict[str, int]]:
    """Each encoder's wall seconds (default threads, interleaved), and the hash of every
    output by thread setting, with each distinct output's size."""
    times: dict[str, list[float]] = {e: [] for e in argv}
    hashes: dict[str, dict[str, list[str]]] = {e: {} for e in argv}
    sizes: dict[str, int] = {}  # digest → bytes, for the size of each distinct output
    order = [("prores_ks", "prores_aw"), ("prores_aw", "prores_ks")]
    for r in range(reps):
        for enc in order[r % 2]:
            dt, _, (out,) = runner.many([argv[enc]])
            times[enc].append(dt)
            hashes[enc].setdefault("default", []).append(out.digest)
            sizes[out.digest] = out.size
    for threads in (1, 2):
        for enc in argv:
            _, _, (out,) = runner.many([_with_threads(argv[enc], threads)])
            hashes[enc].setdefault(f"threads {threads}", []).append(out.digest)
            sizes[out.digest] = out.size
    return times, hashes, sizes


def run(ctx: Ctx, rep: Report) -> None:
    src = hd_clip(ctx)
    runner = BareRunner(ctx.fresh("encoders"))
    prores(ctx, rep, src, runner)
