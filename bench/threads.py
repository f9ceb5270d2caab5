"""Encoder threading per profile: speed at 1, 2, 4, 8 threads, and byte-stability.

Every argv starts from Proxx's own `ffmpeg_command` for the profile (a real
`proxx run` of a 2 s 1280×720 clip); only the encoder threading changes:
x264, ProRes and DNxHR through `-threads:v N`, x265 through
`-x265-params pools=N` (its frame threads as Proxx sets them).

- speed: each thread count, alone, `reps` runs in rotating order; wall time and
  CPU (user+sys) of the FFmpeg process, so cores used = CPU ÷ wall.
- determinism of Proxx's own argv: `runs` renders alone, `runs` more as pairs
  started together (two jobs at once on the shared cores), and a few pinned to
  one CPU (FFmpeg sizes its decoder and filter threads from the CPUs it may
  use: this shows those do not reach the bytes). One distinct hash = stable.
- for x264 and x265, each other thread count too (fewer runs): each count is
  stable on its own and gives its own bytes, which is why the count is fixed.
- then Proxx itself: `runs` JobSpecs per profile through one `proxx watch --once`
  at `--max-workers 1` and one at `2`; every proxy must have the bare argv's bytes.

`python -m bench.threads [--runs 20] [--reps 3] [--profiles a,b] [--skip-speed] [--watch-only]`
prints the tables on its own; `./dev bench --only threads` puts them in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    Ctx,
    commands_of,
    fmt_s,
    make_clip,
    median,
    proxx,
    run_proxx_job,
    spec_dict,
    spread_pct,
    timed,
    write_json,
)
from bench.report import Report
from bench.runner import (
    SIMD_LEVELS,
    BareRunner,
    digest_and_remove,
    encoder_of,
    threading_of,
    with_simd,
    with_threads,
)
from bench.threads_report import THREADS, ProfileResult, tables, watch_cell
from proxx.contract.profiles import CODEC_CONTAINERS, PROFILES, Engine


def clip(ctx: Ctx, size: str, seconds: float) -> Path:
    """A `seconds` long `size` 25 fps H.264 + PCM stereo clip (0.4 s with --quick)."""
    seconds = 0.4 if ctx.quick else seconds
    path = ctx.cache / f"threads_{size}_{seconds}s.mov"
    if not path.exists():
        ctx.log(f"making the {seconds} s {size} source")
        make_clip(path, size=size, seconds=seconds)
    return path


def profile_argvs(ctx: Ctx, src: Path, names: Sequence[str]) -> dict[str, list[str]]:
    """Proxx's own argv for each profile, from one real `proxx run` each."""
    argvs = {}
    for name in names:
        codec = PROFILES[name].codecs[0]
        d = ctx.fresh(f"threads-cmd-{name}")
        (d / "out").mkdir()
        spec = write_json(
            d / "job.json",
            spec_dict(
                [src],
                d / "out",
                codec=codec,
                container=CODEC_CONTAINERS[codec][0],
                proxy_profile=name,
            ),
        )
        _, result = run_proxx_job(spec, d / "proxx.log")
        argvs[name] = commands_of(result)[0]
    return argvs


def measure_speed(
    ctx: Ctx, runner: BareRunner, res: ProfileResult, argv: list[str], reps: int
) -> None:
    for r in range(reps):
        order = THREADS[r % len(THREADS) :] + THREADS[: r % len(THREADS)]  # rotate: drift is shared
        for n in order:
            wall, cpu, (out,) = runner.many([with_threads(argv, n)])
            res.speed.setdefault(n, []).append(wall)
            res.cpu.setdefault(n, []).append(cpu)
            res.sizes.setdefault(n, set()).add(out.size)
            res.speed_hashes.setdefault(n, set()).add(out.digest)


def measure_determinism(runner: BareRunner, res: ProfileResult, argv: list[str], runs: int) -> None:
    """`runs` alone, `runs` as pairs started together, a few pinned to one CPU."""
    for _ in range(runs):
        res.alone += [o.digest for o in runner.many([argv])[2]]
    for _ in range(runs // 2):
        res.paired += [o.digest for o in runner.many([argv, argv])[2]]
    for _ in range(max(2, runs // 5)):
        res.one_cpu += [o.digest for o in runner.many([argv], one_cpu=True)[2]]


def measure_simd(runner: BareRunner, res: ProfileResult, argv: list[str]) -> None:
    if os.uname().machine not in ("x86_64", "AMD64"):
        return
    for level in SIMD_LEVELS:
        res.simd[level] = runner.many([with_simd(argv, level)])[2][0].digest


def measure_watch(
    ctx: Ctx, results: list[ProfileResult], src: Path, runs: int, workers: int
) -> None:
    """`runs` JobSpecs per profile through one `proxx watch --once --max-workers N`."""
    root = ctx.fresh(f"threads-watch-{workers}")
    (root / "pending").mkdir()
    for r in range(runs):
        out = root / f"out{r:02d}"
        out.mkdir()
        for res in results:
            codec = PROFILES[res.profile].codecs[0]
            write_json(
                root / "pending" / f"{r:02d}-{res.profile}.json",
                spec_dict(
                    [src],
                    out,
                    codec=codec,
                    container=CODEC_CONTAINERS[codec][0],
                    proxy_profile=res.profile,
                    output_name_template="{source_name}_{profile}",
                ),
            )
    ctx.log(f"threads: {runs} JobSpecs per profile, proxx watch --max-workers {workers}")
    t = timed(
        proxx("watch", str(root), "--once", "--max-workers", str(workers)),
        stderr_path=root / "watch.log",
    )
    failed = list((root / "failed").glob("*.result.json"))
    if t.returncode != 0 or failed:
        raise RuntimeError(
            f"proxx watch: exit {t.returncode}, {len(failed)} failed job(s); "
            f"log {root / 'watch.log'}"
        )
    by_name = {r.profile: r for r in results}
    for path in (root / "completed").glob("*.result.json"):
        name = path.name.removesuffix(".result.json").split("-", 1)[1]
        (c,) = json.loads(path.read_text())["clips"]
        by_name[name].watch.setdefault(workers, []).append(
            digest_and_remove(Path(c["output_path"])).digest
        )


def measure_other_counts(
    runner: BareRunner, res: ProfileResult, argv: list[str], runs: int
) -> None:
    """x264/x265: every other thread count, half alone and half in pairs."""
    for n in THREADS:
        variant = with_threads(argv, n)
        if variant == argv:
            res.by_threads.setdefault(n, set()).update(res.alone + res.paired)
            continue
        for _ in range(max(1, runs // 4)):
            res.by_threads.setdefault(n, set()).update(
                o.digest for o in runner.many([variant])[2] + runner.many([variant, variant])[2]
            )


def run_profiles(
    ctx: Ctx,
    names: Sequence[str],
    runs: int,
    reps: int,
    speed: bool = True,
    determinism: bool = True,
    watch_only: bool = False,
) -> list[ProfileResult]:
    # Speed on a clip long and large enough for frame threads to fill their pipeline;
    # determinism on a small one, so that 40+ renders per profile take minutes.
    big = profile_argvs(ctx, clip(ctx, "1920x1080", 4), names) if speed else {}
    small = profile_argvs(ctx, clip(ctx, "1280x720", 2), names)
    runner = BareRunner(ctx.fresh("threads"))
    results = []
    for name in names:
        argv = small[name]
        res = ProfileResult(name, encoder_of(argv), threading_of(argv))
        if speed:
            ctx.log(f"threads: {name} ({res.encoder}) speed at {THREADS}, {reps} rep(s)")
            measure_speed(ctx, runner, res, big[name], reps)
        if watch_only:  # one bare render: the reference the watch renders must match
            res.alone += [o.digest for o in runner.many([argv])[2]]
        elif determinism:
            ctx.log(f"threads: {name} determinism of {res.chosen}, {runs} alone + {runs} paired")
            measure_determinism(runner, res, argv, runs)
            measure_simd(runner, res, argv)
            if res.encoder in ("libx264", "libx265"):
                measure_other_counts(runner, res, argv, runs)
        results.append(res)
    if determinism or watch_only:
        for workers in (1, 2):
            measure_watch(ctx, results, clip(ctx, "1280x720", 2), runs, workers)
    return results


def run(ctx: Ctx, rep: Report) -> None:
    names = [p.name for p in PROFILES.values() if p.engine is Engine.FFMPEG]
    if ctx.quick:
        names = ["proxy_h264_low", "proxy_prores_proxy"]
    results = run_profiles(ctx, names, runs=2 if ctx.quick else 20, reps=1 if ctx.quick else 3)
    for r in results:
        _report(rep, r)
    rep.raw["threads"] = [r.raw() for r in results]


def _report(rep: Report, r: ProfileResult) -> None:
    """One profile's row (byte-stable?) and its details: speed-ups, watch, SIMD."""
    one = median(r.speed[1])
    hashes = r.by_threads or r.speed_hashes
    rep.row(
        section="threads",
        name=f"{r.profile}: {r.chosen} byte-stable "
        f"({len(r.alone)} alone, {len(r.paired)} paired, {len(r.one_cpu)} on one CPU)",
        value="yes" if r.stable() else "NO",
        target="1 hash",
        met=r.stable(),
        proxx=" / ".join(fmt_s(median(r.speed[n])) for n in THREADS),
        bare="1/2/4/8 threads",
        noise=f"{spread_pct(r.speed[1]):.0f}%",
        n=str(len(r.speed[1])),
    )
    rep.detail(
        "threads",
        f"{r.profile}: speed-up at 2 / 4 / 8 threads",
        " / ".join(f"{one / median(r.speed[n]):.2f}×" for n in THREADS[1:]),
        f"distinct outputs per count 1/2/4/8: "
        f"{' / '.join(str(len(hashes.get(n, ()))) for n in THREADS)}",
    )
    if r.watch:
        rep.detail(
            "threads",
            f"{r.profile}: proxx watch -w 1 / -w 2, same bytes as bare",
            " / ".join(watch_cell(r, w) for w in (1, 2)),
            "",
        )
    if r.simd:
        rep.detail(
            "threads",
            f"{r.profile}: same bytes with only {', '.join(r.simd)} SIMD",
            "yes" if r.simd_stable() else "NO",
            "; ".join(f"{lv}: {h}" for lv, h in r.simd.items()),
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    p.add_argument("--profiles", default="", help="comma-separated (default: every FFmpeg one)")
    p.add_argument("--runs", type=int, default=20, help="determinism runs alone (and paired)")
    p.add_argument("--reps", type=int, default=3, help="speed repeats per thread count")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-determinism", action="store_true")
    p.add_argument(
        "--watch-only",
        action="store_true",
        help="only `proxx watch` at -w 1 and -w 2 against one bare render",
    )
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "proxx-bench-cache")
    p.add_argument("--json", dest="json_path", type=Path, default=None)
    args = p.parse_args(argv)
    names = [n for n in args.profiles.split(",") if n] or [
        q.name for q in PROFILES.values() if q.engine is Engine.FFMPEG
    ]
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="proxx-threads-") as work:
        ctx = Ctx(work=Path(work), cache=args.cache.resolve(), quick=False)
        t0 = time.monotonic()
        load0 = os.getloadavg()
        results = run_profiles(
            ctx,
            names,
            args.runs,
            args.reps,
            speed=not args.skip_speed,
            determinism=not args.skip_determinism,
            watch_only=args.watch_only,
        )
    print(
        f"load 1 min {load0[0]:.2f} → {os.getloadavg()[0]:.2f}; "
        f"{time.monotonic() - t0:.0f} s; nproc {os.cpu_count()}"
    )
    print(tables(results))
    if args.json_path:
        args.json_path.write_text(json.dumps([r.raw() for r in results], indent=1))
    return 0 if all(r.stable() and r.watch_stable() for r in results if r.alone) else 1


if __name__ == "__main__":
    sys.exit(main())
