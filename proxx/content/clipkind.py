"""Which probed files `proxx plan` takes as clips: routing, minus stills and audio-only files.

A job would render a still (FFmpeg decodes a PNG as a one-frame video) and reject an
audio-only file with "no video stream"; a plan leaves both out and says what they
are, so a camera card's thumbnails and separate sound are listed, not planned.
Runs in the probe worker (`workers.plan_probe`), beside the routing it refines.
"""

from __future__ import annotations

from proxx.content.media import ProbeFacts
from proxx.content.routing import RouteDecision, route_source

STILL = "a still image"
AUDIO_ONLY = "audio only"


def route_for_plan(path: str) -> RouteDecision:
    """route_source's decision, with stills and audio-only files turned into rejections."""
    decision = route_source(path)
    facts = decision.facts
    if facts is None or not facts.ok:
        return decision
    why = not_a_clip(facts)
    if why is None:
        return decision
    return RouteDecision(path, None, why, facts)


def not_a_clip(facts: ProbeFacts) -> str | None:
    """Why a readable file is no clip to proxy (a still, sound alone); None: it is one."""
    formats = (facts.format_name or "").split(",")
    if facts.video is not None and any(f == "image2" or f.endswith("_pipe") for f in formats):
        codec = facts.video.codec_name or "?"
        return f"{STILL} ({codec}, demuxer {facts.format_name}), not a clip"
    if facts.video is None and facts.audio:
        n = len(facts.audio)
        return f"{AUDIO_ONLY} ({n} audio stream{'s' if n > 1 else ''}, no video): nothing to proxy"
    return None
