"""`python -m bench [--only a,b] [--quick] [--json FILE]`: run benchmarks, print the table."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    attribution,
    breakdown,
    encoders,
    latency,
    memory,
    overhead,
    scale,
    threads,
    throughput,
    uhd,
)
from bench.common import Ctx, become_subreaper, load
from bench.report import Report, git_state, machine, render

BENCHMARKS: dict[str, Callable[[Ctx, Report], None]] = {
    "overhead": overhead.run,  # 1. proxx run vs the same commands
    "uhd": uhd.run,  # 4K ProRes HQ → H.264: vs its own argv and vs the editor's command
    "breakdown": breakdown.run,  # the pieces: imports, ffprobe, worker boot, fsync …
    "throughput": throughput.run,  # 2. proxx watch --once vs xargs -P
    "latency": latency.run,  # 3. pickup latency
    "scale": scale.run,  # 4. 10 000 pending, 1 000 quick jobs
    "memory": memory.run,  # 5. peak RSS
    "encoders": encoders.run,  # prores_ks vs prores_aw
    "threads": threads.run,  # encoder threads per profile: speed at 1/2/4/8, byte-stability
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Proxx against bare FFmpeg running the identical commands. "
        "Prints ratios and targets first, absolute times second.",
    )
    p.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {','.join(BENCHMARKS)} (default: all)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny sizes, one repeat (numbers are not meaningful)",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch folder (default: a new temp folder, removed afterwards)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "proxx-bench-cache",
        help="where generated source clips are kept between runs (default: %(default)s)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument(
        "--json",
        dest="json_path",
        type=Path,
        default=None,
        help="also write every raw sample to this JSON file",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for random drop offsets")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    if refused := _refusal(names):
        print(refused, file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="proxx-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(
        work=work.resolve(),
        cache=args.cache.resolve(),
        quick=args.quick,
        seed=args.seed,
        verbose=not args.quiet,
    )
    rep = Report()
    header = machine()
    if not become_subreaper():
        ctx.log("could not become a child subreaper: CPU totals may miss the forkserver")
    load_before = load()
    t0 = time.monotonic()
    try:
        _run_all(ctx, rep, names)
    finally:
        if not (args.keep or args.work):
            shutil.rmtree(work, ignore_errors=True)
    _finish_header(header, load_before, t0, args.quick)
    sys.stdout.write(render(rep, header))
    sys.stdout.flush()
    if args.json_path:
        raw = {"machine": header, "raw": rep.raw, "errors": rep.errors}
        args.json_path.write_text(json.dumps(raw, indent=2, default=str))
    return 1 if rep.errors else 0


def _refusal(names: list[str]) -> str | None:
    """Why the benchmarks cannot run as asked, if they cannot."""
    if unknown := [n for n in names if n not in BENCHMARKS]:
        return f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        return "ffmpeg/ffprobe not found on PATH"
    return None


def _run_all(ctx: Ctx, rep: Report, names: list[str]) -> None:
    """Each benchmark, with the load it ran under; then the diagnosis of what they found."""
    for name in names:
        before, t_start = load(), time.monotonic()
        try:
            BENCHMARKS[name](ctx, rep)
        except Exception as exc:  # one broken benchmark must not hide the others
            ctx.log(traceback.format_exc())
            rep.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        rep.detail(
            "machine",
            f"load average 1/5 min during {name}",
            f"{before} → {load()}",
            f"{time.monotonic() - t_start:.0f} s; 2 cores: > 2 means waiting",
        )
    try:
        attribution.run(ctx, rep)
    except Exception as exc:
        ctx.log(traceback.format_exc())
        rep.errors.append(f"diagnosis: {type(exc).__name__}: {exc}")


def _finish_header(header: dict[str, str], load_before: str, t0: float, quick: bool) -> None:
    header["load 1/5 min"] = f"{load_before} → {load()}"
    if git_state() != header["proxx"]:
        header["proxx"] += f" → {git_state()} (the tree changed during the run)"
    header["run"] = f"{time.monotonic() - t0:.0f} s{' (--quick)' if quick else ''}"
