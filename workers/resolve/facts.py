"""What a Resolve clip run works from: how it fails, what Resolve will render from,
and so what the proxy must be."""

from __future__ import annotations

from fractions import Fraction

from proxx.content.jobplan import JobPlan
from proxx.content.media import ProbeFacts
from proxx.contract.errors import FailureReason
from proxx.contract.profiles import FORCED_RATES, PROFILES

from ..expect import Expected, retime_timecode
from . import api


class Failed(Exception):
    """A clip failure: the reason, the words for the result, and whether the host is at fault."""

    def __init__(self, reason: FailureReason, detail: str, system: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.system = reason, detail, system


def expected_proxy(plan: JobPlan, facts: ProbeFacts, item: api.MediaPoolItem) -> Expected:
    """What verification must find in the proxy Resolve renders of `item`."""
    src = source_info(facts, item)
    w, h = PROFILES[plan.proxy_profile].size.target(src.width, src.height)
    src_rate = src.rate
    assert src_rate is not None  # source_info fails the clip otherwise
    rate = FORCED_RATES.get(plan.fps_mode, src_rate)
    frames = None if src.frames is None else round(src.frames * rate / src_rate)
    # Resolve renders its Main 1 bus: a stereo mix whenever the source has sound.
    audio = (2,) if src.audio_channels else ()
    # ±1 frame: how Resolve counts a RAW clip's frames is not something
    # Proxx could check against a real install (docs/ROUTING.md).
    return Expected(
        plan.codec,
        w,
        h,
        rate,
        frames,
        False,
        audio,
        retime_timecode(src.timecode, src_rate, rate),
    )


def source_info(facts: ProbeFacts, item: api.MediaPoolItem) -> api.ClipInfo:
    """What Resolve will render from: its own clip properties, else ffprobe's facts."""
    got, video = api.clip_info(item), facts.video
    width, height = (
        (got.width, got.height) if got.width else ((video.width, video.height) if video else (0, 0))
    )
    rate = got.rate or (Fraction(video.frame_rate) if video and video.frame_rate else None)
    for missing, prop in ((width <= 0 or height <= 0, "Resolution"), (rate is None, "FPS")):
        if missing:
            raise Failed(
                FailureReason.EXECUTION_ERROR,
                f"neither Resolve (GetClipProperty("
                f"{prop!r}) = {got.raw[prop]!r}) nor ffprobe reports the clip's "
                f"{'frame size' if prop == 'Resolution' else 'frame rate'}",
            )
    assert rate is not None
    return api.ClipInfo(
        width,
        height,
        rate,
        got.frames if got.frames is not None else facts.frame_count(),
        got.audio_channels
        if got.audio_channels is not None
        else sum(a.channels or 0 for a in facts.audio),
        got.timecode or facts.timecode,
        got.raw,
    )
