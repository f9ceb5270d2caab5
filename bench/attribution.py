"""Diagnosis: split each measured gap (Proxx − bare) into its measured pieces, and
estimate what named changes would save. Runs after the benchmarks, from their figures.

Every number here is a median measured in this run (overhead timelines from the
result timestamps, component costs from `breakdown`); the estimates only add and
subtract them. Nothing here is a target.
"""

from __future__ import annotations

import os

from bench.common import Ctx, fmt_ms
from bench.report import Report

PARSE_MOV_S = 0.002  # an in-process moov-box parse, generous


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}% of the gap" if whole > 0 else ""


def _run_job(ctx: Ctx, rep: Report, short: str, probe_src: str, probe_out: str) -> None:
    """Split `proxx run`'s gap with the timers of the run anatomy (same process, same run)."""
    f = ctx.figures
    a = f"run[{short}] "
    if any(k not in f for k in (f"{short}.bare", f"{a}wall", "worker: verify_output()")):
        return
    n = f[f"{short}.n"]
    bare = f[f"{a}bare"]  # the same commands, run right after each timed run
    gap = f[f"{a}wall"] - bare
    py = f.get("python -c pass", 0.0)
    verify = n * (f["worker: verify_output()"] if short == "tiny"
                  else f.get(probe_out, f["worker: verify_output()"]))
    worker_rest = n * (f.get("worker: render() of 1 tiny clip", 0.0)
                       - f.get("worker: subprocess.run(argv), same argv", 0.0)
                       - f["worker: verify_output()"])
    sec = "diagnosis"
    label = f"{short} `proxx run`"
    rep.detail(sec, f"{label}: gap, timed run − bare", fmt_ms(gap),
               f"{fmt_ms(gap / n)} per clip; timed run {fmt_ms(f[f'{a}wall'])} vs bare "
               f"{fmt_ms(bare)} (untimed: {fmt_ms(f[f'{short}.proxx'])} vs "
               f"{fmt_ms(f[f'{short}.bare'])})")
    overlap = f[f"{a}probe calls, summed"] > 1.3 * f[f"{a}plan_job (probing)"]
    parts = (
        ("interpreter start", py, "`python -c pass`"),
        ("imports + CLI", f[f"{a}startup"] - py, "pydantic, click, proxx (models built at import)"),
        ("Pool.start(): forkserver boot, blocking", f[f"{a}Pool.start"],
         "waits for the forkserver's preload before validation starts"),
        (f"plan_job(): {n:.0f} source ffprobe(s)", f[f"{a}plan_job (probing)"],
         f"validation, wall time; probe calls summed {fmt_ms(f[f'{a}probe calls, summed'])}"
         f"{' (they overlap)' if overlap else ' (serial)'}"),
        ("rest of prepare()", f[f"{a}prepare rest"], "parse, pydantic, stat, naming"),
        (f"{n:.0f} × output ffprobe (verify)", verify, "in the worker, after each FFmpeg"),
        ("rest of render()", worker_rest, "Popen w/ preexec_fn, publish, ClipResult"),
        ("messages around clips", f[f"{a}execute − clips"], "submit, ClipStarted/Finished"),
        ("Pool.shutdown()", f[f"{a}Pool.shutdown"], ""),
        ("exit", f[f"{a}exit"], "result JSON out, interpreter teardown"),
    )
    for name, v, why in parts:
        rep.detail(sec, f"{label}: {name}", fmt_ms(v), f"{_pct(v, gap)}; {why}")
    rest = gap - sum(v for _, v, _ in parts)
    rep.detail(sec, f"{label}: unattributed", fmt_ms(rest),
               f"{_pct(rest, gap)}; in-worker clip time − bare was "
               f"{fmt_ms(f[f'{a}clips − bare'])}; the rest is contention and noise")
    w_f, w_p = f[f"{a}Pool.start"], f[f"{a}plan_job (probing)"]
    cpus = float(os.cpu_count() or 1)
    par = min(n, cpus)
    p_cpu = f[f"{a}probe calls, summed"]  # ≈ the probes' CPU: each is one busy process
    gains = {
        "A: don't wait for the forkserver (boot it, validate, then Process.start)":
            max(0.0, w_f + w_p - max(w_f, w_p, (w_f + p_cpu) / cpus)),
        "B: probe sources concurrently (cpu_count threads)":
            0.0 if overlap else w_p - w_p / par,
        "C: verify MOV/MP4 in-process (read moov), ffprobe only for MXF":
            verify - n * PARSE_MOV_S,
    }
    # A and B together: the forkserver boot and the probes share the cores.
    if overlap:  # B is in the tree already: the probes' wall time is what overlaps
        par = 1.0
    ab = w_f + w_p - max(w_f, w_p / par, (w_f + p_cpu) / cpus)
    bare = f[f"{short}.bare"]  # projections start from the table's ratio and bare median
    now = f[f"{short}.ratio"]
    for name, g in gains.items():
        done = " (already in the tree: probes overlap)" if overlap and name.startswith("B") else ""
        rep.detail(sec, f"{label}: fix {name}", f"−{fmt_ms(g)}",
                   f"{now:.2f}× → {now - g / bare:.2f}× alone{done}")
    c_gain = gains["C: verify MOV/MP4 in-process (read moov), ffprobe only for MXF"]
    left = now - (ab + c_gain) / bare
    floor = 1 + (f[f"{a}startup"] + f.get(probe_src, 0.0)) / bare
    rep.detail(sec, f"{label}: with A+B+C", f"{left:.2f}×",
               f"target ≤ {f[f'{short}.target']:.2f}×; A+B together save {fmt_ms(ab)}; "
               f"floor keeping today's start-up and one source ffprobe: {floor:.2f}×")


def _watch(ctx: Ctx, rep: Report) -> None:
    f = ctx.figures
    need = ("tput.prep", "tput1.proxx", "worker: verify_output()",
            "worker: render() of 1 tiny clip", "worker: subprocess.run(argv), same argv")
    if any(k not in f for k in need):
        return
    sec = "diagnosis"
    n = f["tput.n"]
    per = f["tput1.proxx"] - f["tput1.xargs"]
    fixed = (f["tput.startup"] + f["tput.exit"]) / n
    verify = f["worker: verify_output()"]
    worker_rest = (f["worker: render() of 1 tiny clip"]
                   - f["worker: subprocess.run(argv), same argv"] - verify)
    parts = (
        ("claim → clip start", f["tput.prep"],
         "source ffprobe in prepare(), while the worker idles"),
        ("output ffprobe (verify)", verify, "worker (render anatomy)"),
        ("rest of render()", worker_rest, "Popen w/ preexec_fn, publish, ClipResult"),
        ("between jobs", f["tput.between"] + f["tput.post"], "result write, fsyncs, moves, scan"),
        (f"start-up + exit ÷ {n:.0f}", fixed, "imports, forkserver, worker boot"),
    )
    rep.detail(sec, "watch -w 1: gap per job", fmt_ms(per),
               f"Proxx {fmt_ms(f['tput1.proxx'])} vs xargs {fmt_ms(f['tput1.xargs'])} per job")
    for name, v, why in parts:
        rep.detail(sec, f"watch -w 1: {name}", fmt_ms(v), f"{_pct(v, per)}; {why}")
    rest = per - sum(v for _, v, _ in parts)
    rep.detail(sec, "watch -w 1: unattributed", fmt_ms(rest),
               f"{_pct(rest, per)}; contention, xargs' own `sh -c`, noise")
    ahead = max(0.0, f["tput.prep"] - PARSE_MOV_S)
    ver = verify - PARSE_MOV_S
    after = f["tput1.xargs"] / (f["tput1.proxx"] - ahead - ver)
    rep.detail(sec, "watch -w 1: fix D: prepare the next pending job while workers are busy",
               f"−{fmt_ms(ahead)}", "probe ahead; re-check (ino, size, mtime) at claim")
    rep.detail(sec, "watch -w 1: fix C: verify MOV/MP4 in-process", f"−{fmt_ms(ver)}", "")
    rep.detail(sec, "watch -w 1: throughput with C+D", f"{after:.2f}× xargs",
               f"now {f['tput1.xargs'] / f['tput1.proxx']:.2f}×; target ≥ 0.90×")
    probe_cpu = f.get("ffprobe tiny source, CPU user+sys")
    if "tput2.cpu_proxx" in f and probe_cpu is not None:
        pc, xc = f["tput2.cpu_proxx"], f["tput2.cpu_xargs"]
        now = f["tput2.xargs"] / f["tput2.proxx"]
        rep.detail(sec, "watch -w 2: CPU per job, Proxx vs xargs", f"{fmt_ms(pc)} vs {fmt_ms(xc)}",
                   f"2 ffprobes ≈ {fmt_ms(2 * probe_cpu)} of the {fmt_ms(pc - xc)} extra; "
                   "2 workers on 2 cores: throughput is bounded by CPU per job")
        rep.detail(sec, "watch -w 2: throughput with C (one ffprobe's CPU less)",
                   f"≈ {min(1.0, now * pc / (pc - probe_cpu)):.2f}× xargs",
                   f"now {now:.2f}×; with the source probe in-process too (MOV/MP4): "
                   f"≈ {min(1.0, now * pc / (pc - 2 * probe_cpu)):.2f}×")


def run(ctx: Ctx, rep: Report) -> None:
    _run_job(ctx, rep, "tiny", "ffprobe tiny source (validate)", "ffprobe tiny output (verify)")
    _run_job(ctx, rep, "1080p", "ffprobe 1080p source", "ffprobe 1080p output (verify)")
    _watch(ctx, rep)
