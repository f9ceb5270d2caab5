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

from pathlib import Path

from bench.common import (
    Ctx,
    bare,
    clear_dir,
    commands_of,
    fmt_s,
    median,
    prores_hq_clip,
    ratio_columns,
    run_proxx_job,
    spec_dict,
    write_json,
)
from bench.report import Report
from bench.runner import BareSide

TARGET_OWN = 1.03
TARGET_EDITOR = 1.00


def uhd_clip(ctx: Ctx) -> Path:
    """3840×2160 25 fps ProRes 422 HQ + PCM 24-bit stereo, 4 s (0.4 s with --quick)."""
    return prores_hq_clip(ctx, "uhd", "3840x2160", 0.4 if ctx.quick else 4, "4K ProRes 422 HQ")


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
    proxx_cpu: list[float] = []

    def proxx_trial() -> float:
        clear_dir(out)
        t, result = run_proxx_job(spec, log)
        ctx.commands["uhd_h264"] = commands_of(result)[0]
        proxx_cpu.append(t.cpu)
        return t.seconds

    ctx.log("uhd: warm-up (also yields Proxx's own argv)")
    proxx_trial()
    own = BareSide(bare_dir, [bare(ctx.commands["uhd_h264"], bare_dir)])
    editor = BareSide(bare_dir, [editor_command(src, bare_dir / "editor.mov")])
    if not ctx.quick:
        own.trial()
        editor.trial()
    proxx_cpu.clear()
    own.forget()
    editor.forget()
    trials = {"proxx": proxx_trial, "own": own.trial, "editor": editor.trial}
    rounds = 1 if ctx.quick else 5
    ctx.log(f"uhd: {rounds} interleaved rounds of Proxx / own argv / editor command")
    times: dict[str, list[float]] = {k: [] for k in trials}
    for r in range(rounds):
        order = ["proxx", "own", "editor"] if r % 2 == 0 else ["editor", "own", "proxx"]
        for side in order:
            times[side].append(trials[side]())
    cpu = {"proxx": proxx_cpu, "own": own.cpu, "editor": editor.cpu}
    _report(rep, times, cpu, rounds)
    rep.raw["uhd"] = {"times": times, "cpu": cpu, "own": own.cmds[0], "editor": editor.cmds[0]}


def _report(
    rep: Report, times: dict[str, list[float]], cpu: dict[str, list[float]], rounds: int
) -> None:
    def ratios(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(times[a], times[b], strict=True)]

    for other, target in (("own", TARGET_OWN), ("editor", TARGET_EDITOR)):
        rs = ratios("proxx", other)
        what = "its own ffmpeg_command" if other == "own" else "the editor's command"
        rep.row(
            section="4K",
            name=f"proxx run, 4 s 4K ProRes HQ → H.264 1080p, vs {what}",
            **ratio_columns(rs, times["proxx"], times[other]),
            target=f"≤ {target:.2f}×",
            met=median(rs) <= target,
            proxx=fmt_s(median(times["proxx"])),
            bare=fmt_s(median(times[other])),
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
