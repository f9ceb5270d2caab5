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
# x265 3.5 refuses a picture under 16×16 ("Image size is too small"; measured).
MIN_FRAME: dict[str, tuple[int, int]] = {
    "hevc": (16, 16),
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
            (24, 1),
            (24000, 1001),
            (25, 1),
            (30, 1),
            (30000, 1001),
            (48, 1),
            (48000, 1001),
            (50, 1),
            (60, 1),
            (60000, 1001),
            (72, 1),
            (75, 1),
            (90, 1),
            (96, 1),
            (100, 1),
            (120, 1),
            (120000, 1001),
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


# What an operator reads for each pixel format and each numbered profile.
_PIX_FMT_TEXT = {"yuv420p": "8-bit 4:2:0", "yuv422p": "8-bit 4:2:2", "yuv422p10le": "10-bit 4:2:2"}
_PRORES_PROFILE_TEXT = {"0": "Proxy", "1": "LT", "2": "422", "3": "422 HQ"}
# Encoder-private parameters (`-x264-params`, `-x265-params`) in words.
PARAM_TEXT = {
    "sliced-threads=1": "one slice per thread",
    "cpu-independent=1": "CPU-independent",
}


@dataclass(frozen=True)
class VideoEncoder:
    """One FFmpeg profile's video-encoder arguments; its published quality text is derived
    from the same fields, so the table cannot say something other than what runs.

    `threads` is fixed per profile and never follows the core count, the load or
    --max-workers: x264 and x265 give different bytes for different thread counts
    (docs/BENCHMARKS.md). For libx265 it is the thread-pool size and `frame_threads`
    its frame parallelism; for every other encoder it is `-threads:v`. `params` are
    encoder-private `key=value` settings (`-x264-params`, or after x265's threading).
    """

    encoder: str
    pix_fmt: str
    threads: int
    profile: str | None = None
    preset: str | None = None
    crf: int | None = None
    frame_threads: int | None = None
    params: tuple[str, ...] = ()
    tag: str | None = None

    def __post_init__(self) -> None:
        if self.threads < 1 or (self.frame_threads is not None) != (self.encoder == "libx265"):
            raise ValueError(f"{self.encoder}: threads must be ≥ 1; frame_threads is x265's only")

    def argv(self) -> tuple[str, ...]:
        args = ["-c:v", self.encoder]
        if self.profile is not None:
            args += ["-profile:v", self.profile]
        if self.preset is not None:
            args += ["-preset", self.preset]
        if self.crf is not None:
            args += ["-crf", str(self.crf)]
        args += ["-pix_fmt", self.pix_fmt]
        if self.encoder == "libx265":
            threading = f"pools={self.threads}:frame-threads={self.frame_threads}"
            args += ["-x265-params", ":".join(("log-level=error", threading, *self.params))]
        else:
            args += ["-threads:v", str(self.threads)]
            if self.params:
                args += [f"-{self.encoder.removeprefix('lib')}-params", ":".join(self.params)]
        if self.tag is not None:
            args += ["-tag:v", self.tag]
        return tuple(args)

    def describe(self) -> str:
        parts = [self.encoder]
        if self.profile is not None:
            name = _PRORES_PROFILE_TEXT.get(
                self.profile, self.profile.replace("_", " ").upper().replace("DNXHR", "DNxHR")
            )
            parts[0] += f" profile {self.profile} ({name})"
        if self.crf is not None:
            parts[0] += f" CRF {self.crf}"
        if self.preset is not None:
            parts.append(f"preset {self.preset}")
        parts.append(_PIX_FMT_TEXT.get(self.pix_fmt, self.pix_fmt))
        if self.frame_threads is not None:
            parts.append(
                f"pool of {self.threads} thread{'s' * (self.threads > 1)}, "
                f"{self.frame_threads} frame thread{'s' * (self.frame_threads > 1)}"
                " (fixed)"
            )
        else:
            parts.append(f"{self.threads} encoder thread{'s' * (self.threads > 1)} (fixed)")
        parts += [PARAM_TEXT.get(p, p) for p in self.params]
        if self.tag is not None:
            parts.append(f"tag {self.tag}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Profile:
    """A proxy profile. `encoding` is the FFmpeg encoder (its arguments) or, for Resolve,
    the render preset Resolve applies, in words."""

    name: str
    engine: Engine
    codecs: tuple[str, ...]
    size: FrameSize
    encoding: VideoEncoder | str
    audio: str

    @property
    def quality(self) -> str:
        return self.encoding if isinstance(self.encoding, str) else self.encoding.describe()

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
_RESOLVE_AUDIO = (
    "PCM 48 kHz (Resolve's default for the codec); Resolve's stereo mix when the source has sound"
)

# Encoder threading, fixed per encoder; measured in docs/BENCHMARKS.md (bench/threads.py).
# Threads that share one frame (x264 slices, x265 wavefront rows with one frame thread)
# meet at every frame and gave one hash in every run. Frame threading does not:
# x264 `-threads:v 2` gave 8 different outputs in 40 runs, x265 `frame-threads=3` 4 in 40.
# x264's cpu-independent mode gives the same bytes at every SIMD level at no measured cost.
X264_THREADS = 4
X264_PARAMS = ("sliced-threads=1", "cpu-independent=1")
X265_POOL, X265_FRAME_THREADS = 4, 1
# ProRes and DNxHR are intra-only: byte-identical at 1, 2, 4 and 8 threads, so the count
# is set for speed on a big box (a 1080p prores_ks frame is slow) and fixed anyway.
INTRA_THREADS = 8

_X264 = VideoEncoder(
    "libx264", "yuv420p", X264_THREADS, preset="veryfast", crf=23, params=X264_PARAMS
)
_X265 = VideoEncoder(
    "libx265",
    "yuv420p",
    X265_POOL,
    preset="fast",
    crf=28,
    frame_threads=X265_FRAME_THREADS,
    tag="hvc1",
)


def _prores(encoder: str, profile: int) -> VideoEncoder:
    return VideoEncoder(encoder, "yuv422p10le", INTRA_THREADS, profile=str(profile))


def _dnxhr(profile: str) -> VideoEncoder:
    return VideoEncoder("dnxhd", "yuv422p", INTRA_THREADS, profile=profile)


_PROFILES: tuple[Profile, ...] = (
    Profile("proxy_h264_low", Engine.FFMPEG, ("h264",), HALF, _X264, _AAC),
    Profile("proxy_h264_quarter", Engine.FFMPEG, ("h264",), QUARTER, _X264, _AAC),
    Profile("proxy_h264_720", Engine.FFMPEG, ("h264",), H720, _X264, _AAC),
    Profile("proxy_h264_540", Engine.FFMPEG, ("h264",), H540, _X264, _AAC),
    Profile("proxy_hevc_low", Engine.FFMPEG, ("hevc",), HALF, _X265, _AAC),
    # prores_aw for the proxy tiers: ~2.5× faster than prores_ks here and just as
    # byte-stable (bench/encoders.py); prores_ks keeps 422/HQ, where its rate
    # control and quality matter more than speed.
    Profile(
        "proxy_prores_proxy", Engine.FFMPEG, ("prores_proxy",), HALF, _prores("prores_aw", 0), _PCM
    ),
    Profile("proxy_prores_lt", Engine.FFMPEG, ("prores_lt",), HALF, _prores("prores_aw", 1), _PCM),
    Profile(
        "proxy_prores422_1080", Engine.FFMPEG, ("prores422",), H1080, _prores("prores_ks", 2), _PCM
    ),
    Profile(
        "proxy_prores422hq_1080",
        Engine.FFMPEG,
        ("prores422hq",),
        H1080,
        _prores("prores_ks", 3),
        _PCM,
    ),
    Profile("proxy_dnxhr_lb", Engine.FFMPEG, ("dnxhr_lb",), HALF, _dnxhr("dnxhr_lb"), _PCM),
    Profile("proxy_dnxhr_sq_1080", Engine.FFMPEG, ("dnxhr_sq",), H1080, _dnxhr("dnxhr_sq"), _PCM),
    Profile("proxy_dnxhr_hq_1080", Engine.FFMPEG, ("dnxhr_hq",), H1080, _dnxhr("dnxhr_hq"), _PCM),
    Profile(
        "proxy_prores_proxy_resolve",
        Engine.RESOLVE,
        ("prores_proxy",),
        H1080,
        "Resolve ProRes Proxy",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores_lt_resolve",
        Engine.RESOLVE,
        ("prores_lt",),
        H1080,
        "Resolve ProRes LT",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores422_resolve",
        Engine.RESOLVE,
        ("prores422",),
        H1080,
        "Resolve ProRes 422",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_prores_hq_resolve",
        Engine.RESOLVE,
        ("prores422hq",),
        H1080,
        "Resolve ProRes 422 HQ",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_lb_resolve",
        Engine.RESOLVE,
        ("dnxhr_lb",),
        H1080,
        "Resolve DNxHR LB",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_sq_resolve",
        Engine.RESOLVE,
        ("dnxhr_sq",),
        H1080,
        "Resolve DNxHR SQ",
        _RESOLVE_AUDIO,
    ),
    Profile(
        "proxy_dnxhr_hq_resolve",
        Engine.RESOLVE,
        ("dnxhr_hq",),
        H1080,
        "Resolve DNxHR HQ",
        _RESOLVE_AUDIO,
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in _PROFILES}


def allowed_pairs_text() -> str:
    return "; ".join(f"{c} → {'/'.join(cs)}" for c, cs in CODEC_CONTAINERS.items())
