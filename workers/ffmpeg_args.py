"""The FFmpeg argv for one clip, derived from profile, codec, container and fps mode.

Encoder settings are chosen for byte-identical output run to run (see
FFMPEG_FACTS.md): bitexact flags everywhere, x264/x265 single-threaded,
accurate-rounding scaler, no source metadata copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from proxx.media import ProbeFacts
from proxx.profiles import FORCED_RATES, PROFILES

# Each FFmpeg profile's video-encoder arguments, threading included: proxx/profiles.py owns them
# (two profiles of one codec may differ) and derives the published quality text from them.
_VIDEO: dict[str, list[str]] = {
    p.name: list(p.encoding.argv()) for p in PROFILES.values() if not isinstance(p.encoding, str)
}
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
AAC_BITRATE_PER_CHANNEL = 96_000


@dataclass(frozen=True)
class Expected:
    """What verification must find in the rendered file."""

    codec: str
    width: int
    height: int
    rate: Fraction
    frames: int | None
    # True when `frames` must match exactly: the source's container declares its
    # frame count and the rate is kept, so one missing frame is damage, not rounding.
    frames_exact: bool
    audio_channels: tuple[int, ...]
    timecode: str | None


def expected_output(codec: str, profile: str, fps_mode: str, source: ProbeFacts) -> Expected:
    video = source.video
    assert video is not None and video.frame_rate is not None
    width, height = PROFILES[profile].size.target(*source.display_size())
    src_rate = Fraction(video.frame_rate)
    rate = FORCED_RATES.get(fps_mode, src_rate)
    src_frames = source.frame_count_at_rate()
    frames = None if src_frames is None else round(src_frames * rate / src_rate)
    return Expected(
        codec=codec,
        width=width,
        height=height,
        rate=rate,
        frames=frames,
        frames_exact=source.frame_count_exact and rate == src_rate,
        audio_channels=tuple(a.channels or 0 for a in source.audio),
        timecode=retime_timecode(source.timecode, src_rate, rate),
    )


def build_argv(
    ffmpeg: str, source_path: str, temp_path: str, container: str, profile: str,
    fps_mode: str, codec: str, source: ProbeFacts,
) -> list[str]:
    exp = expected_output(codec, profile, fps_mode, source)
    filters = [f"scale={exp.width}:{exp.height}:flags=bicubic+accurate_rnd+full_chroma_int"]
    if fps_mode in FORCED_RATES:
        filters.append(f"fps={exp.rate.numerator}/{exp.rate.denominator}")
    filters.append("setsar=1")
    # -xerror: a damaged source (e.g. truncated, index intact) makes FFmpeg log an
    # error yet exit 0 with a short proxy; with it, FFmpeg stops and exits non-zero.
    argv = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-n", "-xerror",
        "-i", source_path,
        "-map", "0:v:0", "-map", "0:a?", "-map_metadata", "-1", "-map_chapters", "-1",
        "-vf", ",".join(filters), *_VIDEO[profile],
    ]
    if exp.timecode:
        argv += ["-timecode", exp.timecode]
        if source.reel_name and container == "mov":
            argv += ["-metadata:s:v:0", f"reel_name={source.reel_name}"]
    argv += _audio(codec, source)
    argv += [
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-f", container, temp_path,
    ]
    return argv


def _audio(codec: str, source: ProbeFacts) -> list[str]:
    if not source.audio:
        return []
    if codec in ("h264", "hevc"):
        args = ["-c:a", "aac", "-ar", "48000"]
        for i, stream in enumerate(source.audio):
            args += [f"-b:a:{i}", str(AAC_BITRATE_PER_CHANNEL * max(1, stream.channels or 1))]
        return args
    return ["-c:a", "pcm_s16le", "-ar", "48000"]


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
