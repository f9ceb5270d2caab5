"""2. Watch-folder throughput: 40 tiny single-clip jobs through `proxx watch --once`
with 1 and 2 workers, against `xargs -P 1` / `-P 2` over the same 40 commands.

The result timestamps of the 1-worker runs split each job's cost into
prepare (claim, validation ffprobe, dispatch), clip, and the bookkeeping
between one job's end and the next one's start.
"""

from __future__ import annotations

import json
import shlex
import shutil
from functools import partial
from typing import Any

from bench.common import (
    Ctx,
    bare,
    clear_dir,
    commands_of,
    copies,
    fmt_ms,
    fmt_s,
    interleave,
    median,
    proxx,
    ratio_columns,
    spec_dict,
    timed,
    tiny_clip,
    ts,
    write_json,
)
from bench.report import Report

TARGET = 0.95  # issue 10


class Bench:
    def __init__(self, ctx: Ctx, n_jobs: int) -> None:
        self.ctx = ctx
        self.n = n_jobs
        self.dir = ctx.fresh("throughput")
        self.sources = copies(tiny_clip(ctx), ctx.work / "throughput-sources", n_jobs, stem="job")
        self.out = self.dir / "out"
        self.bare_dir = self.dir / "bare"
        self.cmds_file = self.dir / "commands.txt"
        self.results: dict[int, list[dict[str, Any]]] = {}
        self.launched: dict[int, tuple[float, float]] = {}  # workers → (launch wall, seconds)
        self.cpu: dict[tuple[str, int], list[float]] = {}  # (side, workers) → tree CPU seconds

    def proxx_trial(self, workers: int) -> float:
        root = self.dir / "watch"
        if root.exists():
            shutil.rmtree(root)
        (root / "pending").mkdir(parents=True)
        clear_dir(self.out)
        for i, src in enumerate(self.sources):
            write_json(root / "pending" / f"job_{i:03d}.json", spec_dict([src], self.out))
        t = timed(
            proxx("watch", str(root), "--once", "--max-workers", str(workers)),
            stderr_path=self.dir / "watch.log",
        )
        done = sorted((root / "completed").glob("*.result.json"))
        if t.returncode != 0 or len(done) != self.n:
            raise RuntimeError(
                f"proxx watch exited {t.returncode} with {len(done)}/{self.n} "
                f"completed; log: {self.dir / 'watch.log'}"
            )
        self.results[workers] = [json.loads(p.read_text()) for p in done]
        self.launched[workers] = (t.launched_at, t.seconds)
        self.cpu.setdefault(("proxx", workers), []).append(t.cpu)
        return t.seconds

    def write_commands(self) -> None:
        argvs = [bare(commands_of(r)[0], self.bare_dir) for r in self.results[1]]
        self.cmds_file.write_text("".join(shlex.join(a) + "\n" for a in argvs))

    def xargs_trial(self, workers: int) -> float:
        clear_dir(self.bare_dir)
        t = timed(
            [
                "xargs",
                "-a",
                str(self.cmds_file),
                "-d",
                "\n",
                "-n",
                "1",
                "-P",
                str(workers),
                "sh",
                "-c",
            ],
            stderr_path=self.dir / "xargs.log",
        )
        if t.returncode != 0:
            raise RuntimeError(f"xargs exited {t.returncode}; log: {self.dir / 'xargs.log'}")
        self.cpu.setdefault(("xargs", workers), []).append(t.cpu)
        return t.seconds


def job_timeline(
    results: list[dict[str, Any]], launch: tuple[float, float], bare_per_job: float
) -> dict[str, float]:
    """Median per-job phases of a 1-worker run (seconds)."""
    jobs = sorted(results, key=lambda r: ts(r["started_at"]))
    prep, clip, post, between = [], [], [], []
    for a, b in zip(jobs, [*jobs[1:], None], strict=True):
        c = a["clips"][0]
        prep.append(ts(c["started_at"]) - ts(a["started_at"]))
        clip.append(ts(c["ended_at"]) - ts(c["started_at"]))
        post.append(ts(a["ended_at"]) - ts(c["ended_at"]))
        if b is not None:
            between.append(ts(b["started_at"]) - ts(a["ended_at"]))
    wall0, secs = launch
    return {
        "startup": ts(jobs[0]["started_at"]) - wall0,
        "prep": median(prep),
        "clip": median(clip),
        "clip_excess": median(clip) - bare_per_job,
        "post": median(post),
        "between": median(between),
        "exit": wall0 + secs - ts(jobs[-1]["_metadata"]["result_written_at"]),
    }


# Where a job's time goes beyond the bare command: (row, job_timeline key, what it covers).
TIMELINE_ROWS = (
    ("start-up (exec → job 1 started_at)", "startup", "imports, folders, worker start, first scan"),
    (
        "claim → clip starts, per job",
        "prep",
        "in the worker: JobSpec read, source probe, validation",
    ),
    (
        "clip − bare command, per job",
        "clip_excess",
        "verification probe of the output, fsync, publish",
    ),
    ("clip ended → job ended_at", "post", "ClipFinished/JobFinished messages, result_of"),
    (
        "job ended_at → next started_at",
        "between",
        "write result + 3 fsyncs, 2 moves, loop, scan, claim (flock+rename)",
    ),
    ("last result written → exit", "exit", "pool shutdown, interpreter exit"),
)


def run(ctx: Ctx, rep: Report) -> None:
    n_jobs = 6 if ctx.quick else 40
    rounds = 1 if ctx.quick else 3
    b = Bench(ctx, n_jobs)
    ctx.log(f"throughput: {n_jobs} jobs, proxx watch --once vs xargs, {rounds} round(s)")
    b.proxx_trial(1)  # warm-up, and the commands
    b.write_commands()
    if not ctx.quick:
        b.xargs_trial(1)
    b.cpu.clear()
    per: dict[int, tuple[list[float], list[float]]] = {}
    for workers in (1, 2):
        ctx.log(f"throughput: --max-workers {workers} vs xargs -P {workers}")
        per[workers] = interleave(
            partial(b.proxx_trial, workers), partial(b.xargs_trial, workers), rounds
        )
    _rows(rep, per, n_jobs)
    bare_per_job = median(per[1][1]) / n_jobs
    tl = job_timeline(b.results[1], b.launched[1], bare_per_job)
    extra = (median(per[1][0]) - median(per[1][1])) / n_jobs
    rep.detail(
        "throughput",
        "1 worker: Proxx − xargs, per job",
        fmt_ms(extra),
        f"xargs: {fmt_ms(bare_per_job)} per job",
    )
    for name, key, note in TIMELINE_ROWS:
        rep.detail("throughput", f"1 worker: {name}", fmt_ms(tl[key]), note)
    _cpu(ctx, rep, b, per, n_jobs)
    rep.raw["throughput"] = {str(w): {"proxx": xs, "xargs": ys} for w, (xs, ys) in per.items()}
    rep.raw["throughput_cpu"] = {f"{k[0]}/{k[1]}": v for k, v in b.cpu.items()}
    rep.raw["throughput_timeline"] = tl
    ctx.figures.update({f"tput.{k}": v for k, v in tl.items()})
    ctx.figures["tput.n"] = float(n_jobs)


def _rows(rep: Report, per: dict[int, tuple[list[float], list[float]]], n_jobs: int) -> None:
    """One row per worker count: Proxx's throughput as a share of xargs's."""
    for workers, (xs, ys) in per.items():
        ratios = [y / x for x, y in zip(xs, ys, strict=True)]  # throughput Proxx ÷ xargs
        r = median(ratios)
        rep.row(
            section="throughput",
            name=f"{n_jobs} tiny jobs, watch --max-workers {workers} vs xargs -P {workers}",
            **ratio_columns(ratios, xs, ys),
            target=f"≥ {TARGET:.2f}× xargs",
            met=r >= TARGET,
            proxx=f"{fmt_s(median(xs))} ({n_jobs / median(xs):.1f} jobs/s)",
            bare=f"{fmt_s(median(ys))} ({n_jobs / median(ys):.1f} jobs/s)",
            n=str(len(xs)),
        )


def _cpu(
    ctx: Ctx, rep: Report, b: Bench, per: dict[int, tuple[list[float], list[float]]], n_jobs: int
) -> None:
    """CPU per job of each side, and the per-job figures the diagnosis reads back."""
    for workers in (1, 2):
        pc, xc = median(b.cpu[("proxx", workers)]), median(b.cpu[("xargs", workers)])
        rep.detail(
            "throughput",
            f"{workers} worker(s): CPU user+sys per job",
            f"{fmt_ms(pc / n_jobs)} vs {fmt_ms(xc / n_jobs)}",
            "Proxx tree vs xargs tree; on 2 busy cores CPU is what throughput costs",
        )
        ctx.figures[f"tput{workers}.cpu_proxx"] = pc / n_jobs
        ctx.figures[f"tput{workers}.cpu_xargs"] = xc / n_jobs
        ctx.figures[f"tput{workers}.proxx"] = median(per[workers][0]) / n_jobs
        ctx.figures[f"tput{workers}.xargs"] = median(per[workers][1]) / n_jobs
