"""Output verification: a proxy counts only if it probes as what was asked for.

Values are compared, not just present: codec and profile, frame size, exact
rate, frame count, start timecode, reel name (MOV), channels per audio
stream, a progressive flag for a deinterlaced source, and the colour
(primaries, transfer, matrix, range) the profile carries. The compared facts
of source and proxy go into the clip result, so an operator sees at a glance
that a proxy will relink.
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction

from proxx.content.colour import Colour
from proxx.content.media import INTERLACED, ProbeFacts
from proxx.content.probe import probe
from proxx.contract.results import Fidelity, MediaFacts

from .expect import EXPECTED_CODEC, Expected

FRAME_TOLERANCE = 1  # forced-rate conversion (or an estimated source count) may be ±1
_HASH_CHUNK = 1 << 20


def verify_output(path: str, exp: Expected, container: str) -> str | None:
    """None when the file is what was asked for; otherwise what is wrong with it."""
    return check_output(path, exp, container)[0]


def check_output(path: str, exp: Expected, container: str) -> tuple[str | None, ProbeFacts | None]:
    """What is wrong with the file (None: nothing), and its probed facts when it probes."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return "output file was not created", None
    if size == 0:
        return "output file is empty (0 bytes)", None
    facts = probe(path, count_frames=container == "mxf")
    if not facts.ok:
        return f"output does not probe: {facts.error}", None
    if facts.video is None:
        return "output has no video stream", facts
    return "; ".join(_problems(facts, exp, container)) or None, facts


def _problems(facts: ProbeFacts, exp: Expected, container: str) -> list[str]:
    video = facts.video
    assert video is not None
    problems: list[str] = []
    want_codec, want_profile = EXPECTED_CODEC[exp.codec]
    if video.codec_name != want_codec:
        problems.append(f"codec is {video.codec_name}, expected {want_codec}")
    elif want_profile is not None and video.profile != want_profile:
        problems.append(f"{want_codec} profile is {video.profile}, expected {want_profile}")
    if (video.width, video.height) != (exp.width, exp.height):
        problems.append(
            f"frame size is {video.width}×{video.height}, expected {exp.width}×{exp.height}"
        )
    if video.frame_rate is None or Fraction(video.frame_rate) != exp.rate:
        problems.append(f"frame rate is {video.frame_rate}, expected {exp.rate}")
    got = facts.frame_count()
    if exp.frames is not None and (got is None or abs(got - exp.frames) > _tolerance(exp)):
        problems.append(f"has {got} frames, expected {exp.frames} (source damaged or truncated?)")
    channels = tuple(a.channels or 0 for a in facts.audio)
    if channels != exp.audio_channels:
        problems.append(f"audio channels are {list(channels)}, expected {list(exp.audio_channels)}")
    if exp.timecode and facts.timecode != exp.timecode:
        problems.append(
            f"start timecode is {facts.timecode}, expected {exp.timecode}"
            if facts.timecode
            else f"start timecode {exp.timecode} is missing"
        )
    if exp.reel_name and container == "mov" and facts.reel_name != exp.reel_name:
        problems.append(f"reel name is {facts.reel_name}, expected {exp.reel_name}")
    if exp.progressive and video.field_order in INTERLACED:
        problems.append(f"flagged interlaced ({video.field_order}), expected progressive")
    if exp.colour is not None:
        problems += _colour_problems(video.colour, exp.colour)
    return problems


def _colour_problems(got: Colour, want: Colour) -> list[str]:
    """Each colour field by value; an unstated one must stay unstated (nothing guessed).

    A range the proxy leaves unstated is limited: H.264 and HEVC define an absent
    video_full_range_flag as 0, and x264/x265 omit it when no other colour is stated.
    """
    problems = []
    for field in ("primaries", "transfer", "matrix", "range"):
        have, should = getattr(got, field), getattr(want, field)
        if field == "range" and have is None:
            have = "tv"
        if have != should:
            problems.append(
                f"colour {field} is {have or 'unstated'}, expected {should or 'unstated'}"
            )
    return problems


def _tolerance(exp: Expected) -> int:
    return 0 if exp.frames_exact else FRAME_TOLERANCE


def media_facts(facts: ProbeFacts) -> MediaFacts:
    video = facts.video
    return MediaFacts(
        frames=facts.frame_count(),
        frame_rate=video.frame_rate if video is not None else None,
        average_frame_rate=video.avg_frame_rate if facts.variable_rate and video else None,
        field_order=video.field_order if video is not None else None,
        timecode=facts.timecode,
        reel_name=facts.reel_name,
        audio_channels=[a.channels or 0 for a in facts.audio],
        color_primaries=video.colour.primaries if video is not None else None,
        color_transfer=video.colour.transfer if video is not None else None,
        color_space=video.colour.matrix if video is not None else None,
        color_range=video.colour.range if video is not None else None,
    )


def fidelity(source: ProbeFacts | MediaFacts, proxy: ProbeFacts | None, exp: Expected) -> Fidelity:
    """Source and proxy side by side, with the documented differences (VFR, interlace…).

    `source` is the source's probe, or the facts already drawn from it: Resolve's
    RAW sources mostly do not probe, and what Resolve renders from is its own clip
    properties (workers/resolve/facts.py `source_facts`).
    """
    return Fidelity(
        source=source if isinstance(source, MediaFacts) else media_facts(source),
        proxy=media_facts(proxy) if proxy is not None else None,
        notes=list(exp.notes),
    )


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
