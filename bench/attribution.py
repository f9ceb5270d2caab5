"""Diagnosis: split each measured gap (Proxx − bare) into its measured pieces, and
estimate what named changes would save. Runs after the benchmarks, from their figures.

Every number here is a median measured in this run (overhead timelines from the
result timestamps, component costs from `breakdown`); the estimates only add and
subtract them. Nothing here is a target.
"""

from __future__ import annotations

from bench.common import Ctx, fmt_ms
from bench.report import Report

PARSE_MOV_S = 0.002  # an in-process moov-box parse, generous


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}% of the gap" if whole > 0 else ""


def _run_job(ctx: Ctx, rep: Report, short: str, probe_src: str, probe_out: str) -> None:
    f = ctx.figures
    need = [f"{short}.proxx", "python -c pass", "Pool(1).start(), cold forkserver", probe_src,
            "worker: verify_output()"]
    if any(k not in f for k in need):
        return
    n = f[f"{short}.n"]
    gap = f[f"{short}.proxx"] - f[f"{short}.bare"]
    py = f["python -c pass"]
    imports = f[f"{short}.startup"] - py
    fork = min(f["Pool(1).start(), cold forkserver"], f[f"{short}.validate"])
    probes = n * f[probe_src]
    other_validate = f[f"{short}.validate"] - fork - probes
    verify = n * f.get(probe_out, f["worker: verify_output()"])
    in_worker_other = n * f[f"{short}.clip_excess"] - verify
    between = (n - 1) * f[f"{short}.gap"] + f[f"{short}.after_last"]
    exit_ = f[f"{short}.exit"]
    sec = "diagnosis"
    label = f"{short} `proxx run`"
    rep.detail(sec, f"{label}: gap Proxx − bare", fmt_ms(gap), f"{fmt_ms(gap / n)} per clip")
    for name, v, why in (
        ("interpreter start", py, "`python -c pass`"),
        ("imports + CLI", imports, "pydantic, click, proxx modules (models built at import)"),
        ("forkserver boot, blocking", fork, "Pool.start() waits for the forkserver's preload"),
        (f"{n:.0f} × source ffprobe, serial", probes, "validation; ~all of it is exec'ing ffprobe"),
        ("rest of validate/plan", other_validate, "pydantic, stat, naming, submit"),
        (f"{n:.0f} × output ffprobe (verify)", verify, "worker, after each FFmpeg"),
        ("rest in worker", in_worker_other, "Popen w/ preexec_fn, publish, ClipResult"),
        ("between clips + JobFinished", between, "pipe messages"),
        ("exit", exit_, "result out, shutdown, interpreter teardown"),
    ):
        rep.detail(sec, f"{label}: {name}", fmt_ms(v), f"{_pct(v, gap)}; {why}")
    cores = max(1.0, min(2.0, n))
    gains = {
        "A: start the forkserver without waiting (before validation; submit after)": fork,
        "B: probe sources concurrently (cpu_count threads)": probes * (1 - 1 / cores),
        "C: verify MOV/MP4 in-process (read moov), ffprobe only for MXF":
            verify - n * PARSE_MOV_S,
    }
    left = f[f"{short}.proxx"]
    for name, g in gains.items():
        rep.detail(sec, f"{label}: fix {name}", f"−{fmt_ms(g)}",
                   f"ratio {f[f'{short}.ratio']:.2f}× → "
                   f"{(f[f'{short}.proxx'] - g) / f[f'{short}.bare']:.2f}× alone")
        left -= g
    ratio = left / f[f"{short}.bare"]
    floor = (f[f"{short}.bare"] + py + f[probe_src]) / f[f"{short}.bare"]
    rep.detail(sec, f"{label}: with A+B+C", f"{ratio:.2f}×",
               f"target ≤ {f[f'{short}.target']:.2f}×; floor with an interpreter and one "
               f"source ffprobe kept: {floor:.3f}×")


def _watch(ctx: Ctx, rep: Report) -> None:
    f = ctx.figures
    if "tput.prep" not in f or "worker: verify_output()" not in f:
        return
    sec = "diagnosis"
    n = f["tput.n"]
    per = f["tput1.proxx"] - f["tput1.xargs"]
    fixed = (f["tput.startup"] + f["tput.exit"]) / n
    verify = f["worker: verify_output()"]
    rep.detail(sec, "watch -w 1: gap per job", fmt_ms(per),
               f"Proxx {fmt_ms(f['tput1.proxx'])} vs xargs {fmt_ms(f['tput1.xargs'])} per job")
    for name, v, why in (
        ("claim → clip start", f["tput.prep"],
         "source ffprobe in prepare(), while the worker idles"),
        ("output ffprobe (verify)", verify, "worker"),
        ("rest of clip vs bare", f["tput.clip_excess"] - verify, "Popen, publish, ClipResult"),
        ("between jobs", f["tput.between"] + f["tput.post"], "result write, fsyncs, moves, scan"),
        (f"start-up + exit ÷ {n:.0f}", fixed, "imports, forkserver, worker boot"),
    ):
        rep.detail(sec, f"watch -w 1: {name}", fmt_ms(v), f"{_pct(v, per)}; {why}")
    ahead = max(0.0, f["tput.prep"] - 0.002)
    ver = verify - PARSE_MOV_S
    after = f["tput1.xargs"] / (f["tput1.proxx"] - ahead - ver)
    rep.detail(sec, "watch -w 1: fix D: prepare the next pending job while workers are busy",
               f"−{fmt_ms(ahead)}", "probe ahead, re-check identity (ino, size, mtime) at claim")
    rep.detail(sec, "watch -w 1: fix C (verify in-process)", f"−{fmt_ms(ver)}", "")
    rep.detail(sec, "watch -w 1: throughput with C+D", f"{after:.2f}× xargs", "target ≥ 0.90×")
    if "tput2.cpu_proxx" in f and "ffprobe tiny source, CPU user+sys" in f:
        pc, xc = f["tput2.cpu_proxx"], f["tput2.cpu_xargs"]
        probe_cpu = f["ffprobe tiny source, CPU user+sys"]
        rep.detail(sec, "watch -w 2: CPU per job Proxx vs xargs",
                   f"{fmt_ms(pc)} vs {fmt_ms(xc)}",
                   f"2 ffprobes ≈ {fmt_ms(2 * probe_cpu)} of the {fmt_ms(pc - xc)} extra; "
                   "at 2 workers on 2 cores throughput is CPU-bound")
        rep.detail(sec, "watch -w 2: throughput if C removes one ffprobe's CPU",
                   f"≈ {xc / (pc - probe_cpu):.2f}× xargs",
                   f"both probes in-process for MOV/MP4: ≈ {xc / (pc - 2 * probe_cpu):.2f}×")


def run(ctx: Ctx, rep: Report) -> None:
    _run_job(ctx, rep, "tiny", "ffprobe tiny source (validate)", "ffprobe tiny output (verify)")
    _run_job(ctx, rep, "1080p", "ffprobe 1080p source", "ffprobe 1080p output (verify)")
    _watch(ctx, rep)
