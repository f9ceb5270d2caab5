"""What a proxy must be, whichever engine renders it: the facts verification checks.

Shared by the FFmpeg and Resolve engines (and verification), so neither engine
imports the other's modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from proxx.content.colour import Colour

# What ffprobe must report for the proxy: codec_name and, where it tells
# profiles apart, the profile string.
EXPECTED_CODEC: dict[str, tuple[str, str | None]] = {
    "h264": ("h264", None),
    "hevc": ("hevc", None),
    "prores_proxy": ("prores", "Proxy"),
    "prores_lt": ("prores", "LT"),
    "prores422": ("prores", "Standard"),
    "prores422hq": ("prores", "HQ"),
    "dnxhr_lb": ("dnxhd", "DNXHR LB"),
    "dnxhr_sq": ("dnxhd", "DNXHR SQ"),
    "dnxhr_hq": ("dnxhd", "DNXHR HQ"),
}


@dataclass(frozen=True)
class Expected:
    """What verification must find in the rendered file."""

    codec: str
    width: int
    height: int
    rate: Fraction
    frames: int | None
    # True when `frames` must match exactly: the source's frames are counted (not
    # estimated) at a constant rate that is kept, so one missing frame is damage.
    frames_exact: bool
    audio_channels: tuple[int, ...]
    timecode: str | None
    reel_name: str | None = None  # compared where the container carries it (MOV)
    progressive: bool = False  # an interlaced source: the proxy must not be flagged interlaced
    # The colour the proxy must state, field by field (None: not compared; Resolve's
    # RAW renders, whose colour Resolve's project decides: docs/MEDIA.md §5a).
    colour: Colour | None = None
    # How the proxy differs from its source on purpose (recorded in the clip result).
    notes: tuple[str, ...] = ()


def fps_text(rate: Fraction) -> str:
    """A rate as the clip result's notes say it: 25, 23.976 (both engines' notes)."""
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}"


def retime_timecode(tc: str | None, src_rate: Fraction, rate: Fraction) -> str | None:
    """Carry the start timecode over; re-express it in frames of a forced rate."""
    if not tc:
        return None
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    if rate == src_rate:
        return tc
    h, m, s, f = (int(p) for p in parts)
    src_fps = round(src_rate)
    dst_fps = round(rate)
    frames = round(Fraction(f, max(1, src_fps)) * dst_fps)
    frames = min(frames, dst_fps - 1)
    return f"{h:02d}:{m:02d}:{s:02d}:{frames:02d}"
