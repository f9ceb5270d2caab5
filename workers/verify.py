"""Output verification: a proxy counts only if it probes as what was asked for."""

from __future__ import annotations

import os
from fractions import Fraction

from proxx.media import probe
from workers.ffmpeg_args import EXPECTED_CODEC, Expected

FRAME_TOLERANCE = 1  # forced-rate conversion (or an estimated source count) may be ±1


def verify_output(path: str, exp: Expected, container: str) -> str | None:
    """None when the file is what was asked for; otherwise what is wrong with it."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return "output file was not created"
    if size == 0:
        return "output file is empty (0 bytes)"
    facts = probe(path, count_frames=container == "mxf")
    if not facts.ok:
        return f"output does not probe: {facts.error}"
    video = facts.video
    if video is None:
        return "output has no video stream"
    problems: list[str] = []
    want_codec, _ = EXPECTED_CODEC[exp.codec]
    if video.codec_name != want_codec:
        problems.append(f"codec is {video.codec_name}, expected {want_codec}")
    if (video.width, video.height) != (exp.width, exp.height):
        problems.append(
            f"frame size is {video.width}×{video.height}, expected {exp.width}×{exp.height}"
        )
    if video.frame_rate is None or Fraction(video.frame_rate) != exp.rate:
        problems.append(f"frame rate is {video.frame_rate}, expected {exp.rate}")
    got = facts.frame_count()
    if exp.frames is not None and (got is None or abs(got - exp.frames) > _tolerance(exp)):
        problems.append(
            f"has {got} frames, expected {exp.frames} (source damaged or truncated?)"
        )
    channels = tuple(a.channels or 0 for a in facts.audio)
    if channels != exp.audio_channels:
        problems.append(f"audio channels are {list(channels)}, expected {list(exp.audio_channels)}")
    if exp.timecode and facts.timecode is None:
        problems.append(f"start timecode {exp.timecode} is missing")
    return "; ".join(problems) or None


def _tolerance(exp: Expected) -> int:
    return 0 if exp.frames_exact else FRAME_TOLERANCE
