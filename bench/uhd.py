"""One 4 s 4K ProRes 422 HQ clip → `proxy_h264_low` (1920×1080), three ways, interleaved.

- `proxx run` of a one-clip JobSpec;
- its own argv (the result's `ffmpeg_command`, output beside it);
- the command an editor would type, FFmpeg's default threads:
  `ffmpeg -i SRC -vf scale=1920:1080 -c:v libx264 -preset veryfast -crf 23 -c:a aac OUT.mov`
  (plus `-nostdin -y`, which only make it run unattended).

Rounds rotate the order (P O E, E O P, …) so drift in the machine's load hits all three
alike. Proxx ÷ own argv is the runner's overhead; Proxx ÷ editor is what a user
compares; own ÷ editor is the price of Proxx's argv itself (fixed encoder threads,
accurate scaler, bitexact, timecode and audio mapping).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    Ctx,
    bare,
    clear_dir,
    commands_of,
    cpu_now,
    fmt_s,
    make_clip,
    median,
    run_ok,
    run_proxx_job,
    spec_dict,
    spread_pct,
    write_json,
)
from bench.report import Report

TARGET_OWN = 1.03
TARGET_EDITOR = 1.00


def uhd_clip(ctx: Ctx) -> Path:
    """3840×2160 25 fps ProRes 422 HQ + PCM 24-bit stereo, 4 s (0.4 s with --quick)."""
    seconds = 0.4 if ctx.quick else 4
    path = ctx.cache / f"uhd_3840x2160_{seconds}s.mov"
    if not path.exists():
        ctx.log(f"making the {seconds} s 4K ProRes 422 HQ source (prores_aw, to save time)")
        make_clip(
            path,
            size="3840x2160",
            seconds=seconds,
            vcodec=("-c:v", "prores_aw", "-profile:v", "3", "-pix_fmt", "yuv422p10le"),
            acodec="pcm_s24le",
        )
    return path


def editor_command(src: Path, out: Path) -> list[str]:
    return [
        "ffmpeg",
        "-nostdin",
        "-y",
        "-i",
        str(src),
        "-vf",
        "scale=1920:1080",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-c:a",
        "aac",
        str(out),
    ]


def run(ctx: Ctx, rep: Report) -> None:
    src = uhd_clip(ctx)
    d = ctx.fresh("uhd")
    out, bare_dir = d / "out", d / "bare"
    out.mkdir()
    bare_dir.mkdir()
    spec = write_json(
        d / "job.json", spec_dict([src], out, container="mov", proxy_profile="proxy_h264_low")
    )
    log = d / "proxx.log"
    times: dict[str, list[float]] = {"proxx": [], "own": [], "editor": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}

    def proxx_trial() -> float:
        clear_dir(out)
        t, result = run_proxx_job(spec, log)
        ctx.commands["uhd_h264"] = commands_of(result)[0]
        cpu["proxx"].append(t.cpu)
        return t.seconds

    def bare_trial(side: str, argv: list[str]) -> float:
        clear_dir(bare_dir)
        c0 = cpu_now()
        t0 = time.perf_counter()
        run_ok(argv)
        dt = time.perf_counter() - t0
        cpu[side].append(cpu_now() - c0)
        return dt

    ctx.log("uhd: warm-up (also yields Proxx's own argv)")
    proxx_trial()
    own = bare(ctx.commands["uhd_h264"], bare_dir)
    editor = editor_command(src, bare_dir / "editor.mov")
    trials: dict[str, Callable[[], float]] = {
        "proxx": proxx_trial,
        "own": lambda: bare_trial("own", own),
        "editor": lambda: bare_trial("editor", editor),
    }
    if not ctx.quick:
        trials["own"]()
        trials["editor"]()
    for side in cpu:
        cpu[side].clear()
    rounds = 1 if ctx.quick else 5
    ctx.log(f"uhd: {rounds} interleaved rounds of Proxx / own argv / editor command")
    for r in range(rounds):
        order = ["proxx", "own", "editor"] if r % 2 == 0 else ["editor", "own", "proxx"]
        for side in order:
            times[side].append(trials[side]())

    def ratios(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(times[a], times[b], strict=True)]

    for other, target in (("own", TARGET_OWN), ("editor", TARGET_EDITOR)):
        rs = ratios("proxx", other)
        what = "its own ffmpeg_command" if other == "own" else "the editor's command"
        rep.row(
            section="4K",
            name=f"proxx run, 4 s 4K ProRes HQ → H.264 1080p, vs {what}",
            value=f"{median(rs):.2f}×",
            pairs=f"{min(rs):.2f}–{max(rs):.2f}×",
            target=f"≤ {target:.2f}×",
            met=median(rs) <= target,
            proxx=fmt_s(median(times["proxx"])),
            bare=fmt_s(median(times[other])),
            noise=f"{spread_pct(times['proxx']):.0f}% / {spread_pct(times[other]):.0f}%",
            n=str(rounds),
        )
    rs = ratios("own", "editor")
    rep.detail(
        "4K",
        "Proxx's argv ÷ the editor's command (bare, both)",
        f"{median(rs):.2f}× ({min(rs):.2f}–{max(rs):.2f}×)",
        "the price of the argv itself: fixed encoder threads, accurate scaler, audio",
    )
    rep.detail(
        "4K",
        "CPU user+sys per run: Proxx / own argv / editor",
        " / ".join(fmt_s(median(cpu[k])) for k in ("proxx", "own", "editor")),
        "whole process tree (RUSAGE_CHILDREN)",
    )
    rep.raw["uhd"] = {"times": times, "cpu": cpu, "own": own, "editor": editor}
