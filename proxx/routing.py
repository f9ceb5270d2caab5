"""Engine routing: which engine renders a source, and why (deterministic, no override)."""

from __future__ import annotations

from dataclasses import dataclass

from proxx.errors import MixedEngineError, ValidationError
from proxx.media import ProbeFacts, probe
from proxx.profiles import Engine


@dataclass(frozen=True)
class RouteDecision:
    path: str
    engine: Engine | None  # None: neither decodable nor a recognised RAW format
    reason: str
    facts: ProbeFacts | None


def route_source(path: str) -> RouteDecision:
    facts = probe(path)
    if not facts.ok:
        return RouteDecision(path, None, f"unsupported or damaged source: {facts.error}", facts)
    video = facts.video
    if video is None:
        return RouteDecision(path, None, "unsupported source: no video stream", facts)
    if video.codec_name is None:
        return RouteDecision(
            path, None, "unsupported or damaged source: FFmpeg cannot decode its video", facts
        )
    return RouteDecision(path, Engine.FFMPEG, f"codec {video.codec_name!r} decodes with FFmpeg", facts)


def route_job(decisions: list[RouteDecision]) -> tuple[Engine, str]:
    """The job's single engine and the reason; raises if any source can't go or engines mix."""
    bad = [d for d in decisions if d.engine is None]
    if bad:
        raise ValidationError("; ".join(f"{d.path}: {d.reason}" for d in bad))
    engines = {d.engine for d in decisions}
    if len(engines) > 1:
        listing = "; ".join(f"{d.path} → {d.engine} ({d.reason})" for d in decisions)
        raise MixedEngineError(
            f"sources need different engines; split the job by engine: {listing}"
        )
    first = decisions[0]
    assert first.engine is not None
    reason = first.reason if len(decisions) == 1 else f"{first.reason} (all {len(decisions)} sources)"
    return first.engine, reason
