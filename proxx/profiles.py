"""The published tables: codecs, containers, frame-rate modes and proxy profiles.

Everything a JobSpec may name is listed here, so validation, the docs
(`proxx profiles`) and the engines all read one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Literal


class Engine(StrEnum):
    FFMPEG = "ffmpeg"
    RESOLVE = "resolve"


CODECS: tuple[str, ...] = (
    "h264",
    "hevc",
    "prores_proxy",
    "prores_lt",
    "prores422",
    "prores422hq",
    "dnxhr_lb",
    "dnxhr_sq",
    "dnxhr_hq",
)
CONTAINERS: tuple[str, ...] = ("mp4", "mov", "mxf")

# FFmpeg 5.1's mp4 muxer refuses ProRes and PCM, so ProRes is mov-only; DNxHR
# lives in mov or mxf (broadcast delivery).
CODEC_CONTAINERS: dict[str, tuple[str, ...]] = {
    "h264": ("mp4", "mov"),
    "hevc": ("mp4", "mov"),
    "prores_proxy": ("mov",),
    "prores_lt": ("mov",),
    "prores422": ("mov",),
    "prores422hq": ("mov",),
    "dnxhr_lb": ("mov", "mxf"),
    "dnxhr_sq": ("mov", "mxf"),
    "dnxhr_hq": ("mov", "mxf"),
}

# Encoders refuse frames below these sizes (FFmpeg's dnxhd: "at least 256x120");
# found at validation, not by a failed render.
MIN_FRAME: dict[str, tuple[int, int]] = {
    "dnxhr_lb": (256, 120),
    "dnxhr_sq": (256, 120),
    "dnxhr_hq": (256, 120),
}

# Exact rational rates: the NTSC family is n*1000/1001, never 23.976 rounded.
FORCED_RATES: dict[str, Fraction] = {
    "force_23_976": Fraction(24000, 1001),
    "force_24": Fraction(24),
    "force_25": Fraction(25),
    "force_29_97": Fraction(30000, 1001),
    "force_30": Fraction(30),
    "force_48": Fraction(48),
    "force_50": Fraction(50),
    "force_59_94": Fraction(60000, 1001),
    "force_60": Fraction(60),
}
PRESERVE_SOURCE = "preserve_source"

# Frame rates a container can carry. FFmpeg 5.1's MXF muxer knows only the
# SMPTE content-package rates and refuses others ("Unsupported frame rate"), so
# a preserve_source job of a 12 or 15 fps clip into MXF is refused at validation.
CONTAINER_RATES: dict[str, frozenset[Fraction]] = {
    "mxf": frozenset(
        Fraction(n, d)
        for n, d in (
            (24, 1), (24000, 1001), (25, 1), (30, 1), (30000, 1001), (48, 1), (48000, 1001),
            (50, 1), (60, 1), (60000, 1001), (72, 1), (75, 1), (90, 1), (96, 1), (100, 1),
            (120, 1), (120000, 1001),
        )
    ),
}
FPS_MODES: tuple[str, ...] = (PRESERVE_SOURCE, *FORCED_RATES)


def fps_label(fps_mode: str) -> str:
    """The `{fps}` naming token: decided by the JobSpec alone, never by a probe."""
    if fps_mode == PRESERVE_SOURCE:
        return "source"
    return fps_mode.removeprefix("force_").replace("_", ".")


@dataclass(frozen=True)
class FrameSize:
    """How a proxy's frame size derives from the source's.

    `scale` multiplies both sides; `height` fixes the height and keeps the
    aspect ratio. Both round to even numbers (4:2:0 and 4:2:2 need it) and
    never upscale.
    """

    kind: Literal["scale", "height"]
    value: Fraction

    def describe(self) -> str:
        if self.kind == "scale":
            return {Fraction(1, 2): "half size", Fraction(1, 4): "quarter size"}.get(
                self.value, f"{self.value}× size"
            )
        return f"{int(self.value)} px high (aspect kept, never upscaled)"

    def target(self, width: int, height: int) -> tuple[int, int]:
        if self.kind == "scale":
            factor = min(self.value, Fraction(1))
        else:
            factor = min(Fraction(int(self.value), height), Fraction(1))
        return _even(width * factor), _even(height * factor)


def _even(x: Fraction) -> int:
    return max(2, round(x / 2) * 2)


@dataclass(frozen=True)
class Profile:
    name: str
    engine: Engine
    codecs: tuple[str, ...]
    size: FrameSize
    quality: str
    audio: str

    def row(self) -> dict[str, str]:
        return {
            "profile": self.name,
            "engine": self.engine.value,
            "codecs": ", ".join(self.codecs),
            "frame_size": self.size.describe(),
            "quality": self.quality,
            "audio": self.audio,
        }


HALF = FrameSize("scale", Fraction(1, 2))
QUARTER = FrameSize("scale", Fraction(1, 4))
H1080 = FrameSize("height", Fraction(1080))
H720 = FrameSize("height", Fraction(720))
H540 = FrameSize("height", Fraction(540))

_AAC = "AAC-LC 48 kHz, 96 kb/s per channel, source channel count"
_PCM = "PCM 16-bit 48 kHz, source channel count"
_X264 = "x264 CRF 23, preset veryfast, single-threaded (byte-stable)"
_RESOLVE_AUDIO = (
    "PCM 48 kHz (Resolve's default for the codec); Resolve's stereo mix when the source has sound"
)

_PROFILES: tuple[Profile, ...] = (
    Profile("proxy_h264_low", Engine.FFMPEG, ("h264",), HALF, _X264, _AAC),
    Profile("proxy_h264_quarter", Engine.FFMPEG, ("h264",), QUARTER, _X264, _AAC),
    Profile("proxy_h264_720", Engine.FFMPEG, ("h264",), H720, _X264, _AAC),
    Profile("proxy_h264_540", Engine.FFMPEG, ("h264",), H540, _X264, _AAC),
    Profile(
        "proxy_hevc_low",
        Engine.FFMPEG,
        ("hevc",),
        HALF,
        "x265 CRF 28, preset fast, no thread pool (byte-stable), tag hvc1",
        _AAC,
    ),
    Profile(
        "proxy_prores_proxy", Engine.FFMPEG, ("prores_proxy",), HALF, "prores_aw proxy (fast)", _PCM
    ),
    Profile("proxy_prores_lt", Engine.FFMPEG, ("prores_lt",), HALF, "prores_aw LT (fast)", _PCM),
    Profile("proxy_prores422_1080", Engine.FFMPEG, ("prores422",), H1080, "prores_ks 422", _PCM),
    Profile(
        "proxy_prores422hq_1080", Engine.FFMPEG, ("prores422hq",), H1080, "prores_ks 422 HQ", _PCM
    ),
    Profile("proxy_dnxhr_lb", Engine.FFMPEG, ("dnxhr_lb",), HALF, "DNxHR LB 8-bit 4:2:2", _PCM),
    Profile("proxy_dnxhr_sq_1080", Engine.FFMPEG, ("dnxhr_sq",), H1080, "DNxHR SQ 8-bit", _PCM),
    Profile("proxy_dnxhr_hq_1080", Engine.FFMPEG, ("dnxhr_hq",), H1080, "DNxHR HQ 8-bit", _PCM),
    Profile(
        "proxy_prores_proxy_resolve",
        Engine.RESOLVE,
        ("prores_proxy",),
        H1080,
        "Resolve ProRes Proxy",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores_lt_resolve", Engine.RESOLVE, ("prores_lt",), H1080, "Resolve ProRes LT",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores422_resolve", Engine.RESOLVE, ("prores422",), H1080, "Resolve ProRes 422",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores_hq_resolve", Engine.RESOLVE, ("prores422hq",), H1080, "Resolve ProRes 422 HQ",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_lb_resolve", Engine.RESOLVE, ("dnxhr_lb",), H1080, "Resolve DNxHR LB",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_sq_resolve", Engine.RESOLVE, ("dnxhr_sq",), H1080, "Resolve DNxHR SQ",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_hq_resolve", Engine.RESOLVE, ("dnxhr_hq",), H1080, "Resolve DNxHR HQ",
        _RESOLVE_AUDIO,
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in _PROFILES}


def allowed_pairs_text() -> str:
    return "; ".join(f"{c} → {'/'.join(cs)}" for c, cs in CODEC_CONTAINERS.items())
