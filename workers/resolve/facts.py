"""What a Resolve clip run works from: how it fails, what Resolve will render from,
and so what the proxy must be."""

from __future__ import annotations

from fractions import Fraction

from proxx.content.jobplan import JobPlan
from proxx.content.media import ProbeFacts
from proxx.contract.errors import FailureReason
from proxx.contract.profiles import FORCED_RATES, PROFILES
from proxx.contract.results import MediaFacts

from ..expect import Expected, fps_text, retime_timecode
from ..verify import media_facts
from . import api


class Failed(Exception):
    """A clip failure: the reason, the words for the result, and whether the host is at fault."""

    def __init__(self, reason: FailureReason, detail: str, system: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.system = reason, detail, system


# Camera RAW states no colour (its look is developed by Resolve's colour science), so
# there is no source colour a proxy could be held to; what Resolve tags depends on the
# project's and render's colour settings, which Proxx does not set (docs/MEDIA.md §5a).
RAW_COLOUR_NOTE = (
    "colour: a camera RAW source states none; the proxy's colour is what Resolve's "
    "project and render settings make it, recorded here, not compared"
)


def expected_proxy(plan: JobPlan, src: api.ClipInfo) -> Expected:
    """What verification must find in the proxy Resolve renders of the clip `src` describes."""
    w, h = PROFILES[plan.proxy_profile].size.target(src.width, src.height)
    src_rate = src.rate
    assert src_rate is not None  # source_info fails the clip otherwise
    rate = FORCED_RATES.get(plan.fps_mode, src_rate)
    frames = None if src.frames is None else round(src.frames * rate / src_rate)
    # Resolve renders its Main 1 bus: a stereo mix whenever the source has sound.
    audio = (2,) if src.audio_channels else ()
    timecode = retime_timecode(src.timecode, src_rate, rate)
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
        timecode,
        notes=_notes(src, rate, timecode),
    )


def _notes(src: api.ClipInfo, rate: Fraction, timecode: str | None) -> tuple[str, ...]:
    """How the proxy differs from its source on purpose (the clip result's fidelity.notes)."""
    assert src.rate is not None
    notes = []
    if src.audio_channels and src.audio_channels != 2:
        notes.append(
            f"audio: Resolve renders its Main 1 bus, a stereo mix of the source's "
            f"{src.audio_channels} channel(s)"
        )
    if rate != src.rate:
        notes.append(f"frame rate forced from {fps_text(src.rate)} to {fps_text(rate)} fps")
    if timecode and timecode != src.timecode:
        notes.append(
            f"start timecode {src.timecode} re-expressed as {timecode} at {fps_text(rate)} fps"
        )
    return (*notes, RAW_COLOUR_NOTE)


def source_facts(facts: ProbeFacts, src: api.ClipInfo) -> MediaFacts:
    """The source side of the clip's fidelity: what Resolve renders from (`src`, its clip
    properties, the probe's facts where it says nothing), and what only the probe can
    tell (field order, reel, colour) when libav reads the file at all. Resolve gives one
    channel count for the whole clip, so its audio is one entry.

    Field order: progressive unless the probe states another. Camera RAW is whole sensor
    frames (none of the formats routed here records fields), and Resolve reports none;
    left unstated, every RAW clip's report would mark "field order differs"."""
    probed = media_facts(facts)
    return probed.model_copy(
        update={
            "field_order": probed.field_order or "progressive",
            "frames": src.frames,
            "frame_rate": None if src.rate is None else str(src.rate),
            "average_frame_rate": None,
            "timecode": src.timecode,
            "audio_channels": [src.audio_channels] if src.audio_channels else [],
        }
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
