"""The Resolve double's renders: a queued render job, and the real file FFmpeg writes
for it with the codec, size, rate, frame count, audio and timecode the engine asked
for, so the engine's verification probes a real file (tests/resolve_double.py).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from tests.resolve_behaviour import Behaviour

if TYPE_CHECKING:  # only a type here: the double imports this module
    from tests.resolve_double import FakeTimeline

# What FFmpeg encodes for each Resolve codec name the double can "render".
_FFMPEG_VIDEO: dict[str, list[str]] = {
    "ProRes422P": ["-c:v", "prores_ks", "-profile:v", "0"],
    "ProRes422LT": ["-c:v", "prores_ks", "-profile:v", "1"],
    "ProRes422": ["-c:v", "prores_ks", "-profile:v", "2"],
    "ProRes422HQ": ["-c:v", "prores_ks", "-profile:v", "3"],
    "DNxHRLB": ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"],
    "DNxHRSQ": ["-c:v", "dnxhd", "-profile:v", "dnxhr_sq", "-pix_fmt", "yuv422p"],
    "DNxHRHQ": ["-c:v", "dnxhd", "-profile:v", "dnxhr_hq", "-pix_fmt", "yuv422p"],
}


@dataclass
class RenderJob:
    settings: dict[str, Any]
    fmt: str
    codec: str
    timeline: FakeTimeline
    frame_rate: str
    proc: subprocess.Popen[bytes] | None = None
    started: float | None = None
    state: str = "Ready"
    error: str | None = None


def timeline_rate(text: str) -> Fraction:
    value = Fraction(text)
    ntsc = Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001)
    return ntsc if value.denominator != 1 and abs(ntsc - value) < Fraction(1, 500) else value


def start_ffmpeg(job: RenderJob, b: Behaviour) -> subprocess.Popen[bytes]:
    """Render the way Resolve would: the timeline's rate, the requested size, a real file."""
    s = job.settings
    item = job.timeline.items[0]
    rate = timeline_rate(job.frame_rate)
    frames = round(int(item.props["Frames"]) * rate / timeline_rate(item.props["FPS"]))
    width, height = int(s["FormatWidth"]), int(s["FormatHeight"])
    if b.render == "wrong_size":
        height //= 2
    ext = "mxf" if job.fmt.startswith("mxf") else job.fmt
    out = os.path.join(s["TargetDir"], f"{s['CustomName']}.{ext}")
    if s.get("ReplaceExistingFilesInPlace") is not False and os.path.exists(out):
        os.unlink(out)
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-n"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={rate}"]
    if s.get("ExportAudio") and int(item.props.get("Audio Ch") or 0) > 0:
        argv += [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-ac",
            "2",
            "-c:a",
            "pcm_s16le",
            "-map",
            "0:v",
            "-map",
            "1:a",
        ]
    video = _FFMPEG_VIDEO.get(job.codec, ["-c:v", "unsupported-by-double"])
    # -t rather than -frames:v: FFmpeg's MXF muxer drops the tail of an
    # audio+video file cut by a frame count.
    argv += [
        "-t",
        f"{float(frames / rate):.6f}",
        *video,
        "-timecode",
        job.timeline.start_tc,
        "-f",
        ext,
        out,
    ]
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
