"""Engine routing: which engine renders a source, and why (deterministic, no override).

The order follows RAW_DETECTION.md: magic bytes first (cheap, and the only
signal for files libav cannot open), then what the probe reports, then the
extension — only for formats with no public signature, and only when the
content does not contradict the name. Whatever FFmpeg decodes goes to
FFmpeg; a file that is neither decodable nor recognisably RAW is rejected as
damaged or unsupported, never handed to Resolve on a guess.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from proxx.content import pictures
from proxx.content.media import ProbeFacts, StreamFacts
from proxx.content.probe import probe
from proxx.content.raw_signatures import Signature, sniff
from proxx.contract.errors import MixedEngineError, ValidationError
from proxx.contract.profiles import Engine

NEEDS_RESOLVE = "requires DaVinci Resolve"
REJECTED = "unsupported or damaged source"

BRAW_FOURCCS = frozenset({"brxq", "brst", "brvn", "brvm", "brhq", "brlt", "brvl"})
PRORES_RAW_FOURCCS = {"aprn": "ProRes RAW", "aprh": "ProRes RAW HQ"}


@dataclass(frozen=True)
class _ByName:
    format: str
    # What a genuine file of this kind looks like, so a contradiction shows:
    # "quicktime" parses as a movie; "magic" always starts with its signature
    # (so reaching the name rule means it is missing); None: nothing public.
    structure: str | None


_BY_EXTENSION: dict[str, _ByName] = {
    ".nev": _ByName("Nikon N-RAW", "quicktime"),
    ".braw": _ByName("Blackmagic RAW", "quicktime"),
    ".crm": _ByName("Canon Cinema RAW Light", "quicktime"),
    ".vraw": _ByName("Panasonic V-RAW", None),
    ".arx": _ByName("ARRIRAW HDE", None),
    ".r3d": _ByName("REDCODE", "magic"),
    ".ari": _ByName("ARRIRAW", "magic"),
}
_MAGIC_TEXT = {".r3d": "RED1/RED2 at byte 4", ".ari": "ARRI 12 34 56 78 at byte 0"}


@dataclass(frozen=True)
class RouteDecision:
    path: str
    engine: Engine | None  # None: neither decodable nor a recognised RAW format
    reason: str
    facts: ProbeFacts | None


def route_source(path: str) -> RouteDecision:
    """Decide one source's engine from its bytes, then (only if needed) the probe."""
    try:
        # A FIFO or device would block the read (and libav) forever.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _reject(path, f"{REJECTED}: not a regular file")
        signature, size = sniff(path)
    except OSError as exc:
        return _reject(path, f"{REJECTED}: cannot read the file: {exc.strerror or exc}")
    if signature is not None:
        return _by_signature(path, signature)
    if size == 0:
        return _reject(path, f"{REJECTED}: the file is empty (0 bytes)")
    return route_probed(path, probe(path))


def route_probed(path: str, facts: ProbeFacts) -> RouteDecision:
    """Decide from the probe's facts (and the extension) once no magic bytes matched."""
    video = facts.video
    raw = _raw_in_probe(facts, video) if video is not None else None
    if raw is not None:
        return RouteDecision(path, Engine.RESOLVE, raw, facts)
    if video is not None and video.codec_name:
        return _ffmpeg(path, facts, video)
    named = _by_extension(path, facts, video)
    if named is not None:
        return named
    if not facts.ok:
        return _reject(path, f"{REJECTED}: {facts.error}", facts)
    if video is None and facts.covers:
        cover = facts.covers[0]
        return _reject(
            path,
            f"unsupported source: no moving picture (its only video, stream {cover.index}, "
            f"is an attached {cover.codec_name or 'picture'} cover or thumbnail)",
            facts,
        )
    if video is None:
        return _reject(path, "unsupported source: no video stream", facts)
    return _reject(
        path,
        f"{REJECTED}: FFmpeg cannot decode its video (fourcc {video.codec_tag_string or '?'}) "
        "and it carries no camera RAW signature",
        facts,
    )


def _by_signature(path: str, sig: Signature) -> RouteDecision:
    if not sig.movie:
        return _reject(path, f"{sig.signal}: {sig.format}, not a movie clip Proxx can render")
    # The file is not probed: the bytes decided, and libav would fail or mislead
    # (REDCODE and .ari do not open; a DNG probes as a plain TIFF).
    facts = ProbeFacts(path=path, ok=False, error=f"not probed: {sig.signal} decided the engine")
    return RouteDecision(path, Engine.RESOLVE, f"{sig.signal}: {sig.format} {NEEDS_RESOLVE}", facts)


def _raw_in_probe(facts: ProbeFacts, video: StreamFacts) -> str | None:
    tag = (video.codec_tag_string or "").strip()
    if video.codec_name == "prores_raw":
        # FFmpeg >= 8 (PyAV's bundled libav) decodes it, but only to undebayered sensor data.
        kind = PRORES_RAW_FOURCCS.get(tag, "ProRes RAW")
        fourcc = f" (fourcc {tag})" if tag in PRORES_RAW_FOURCCS else ""
        return f"codec prores_raw{fourcc}: {kind} {NEEDS_RESOLVE} (FFmpeg has no debayer)"
    if video.codec_name:
        return None
    if tag in PRORES_RAW_FOURCCS:
        return f"fourcc {tag}: {PRORES_RAW_FOURCCS[tag]} {NEEDS_RESOLVE}"
    if tag in BRAW_FOURCCS:
        return f"fourcc {tag}: Blackmagic RAW {NEEDS_RESOLVE}"
    if tag == "CRAW":
        return f"fourcc CRAW: Canon Cinema RAW Light {NEEDS_RESOLVE}"
    if "mxf" in (facts.format_name or "").split(",") and video.width == 0 and video.height == 0:
        return (
            f"MXF video with no codec FFmpeg knows and no frame size: {_mxf_raw(facts)} "
            f"{NEEDS_RESOLVE}"
        )
    return None


def _mxf_raw(facts: ProbeFacts) -> str:
    company = facts.format_tags.get("company_name", "")
    product = facts.format_tags.get("product_name", "")
    camera = f" ({' '.join(p for p in (company, product) if p)})" if company or product else ""
    if "arri" in company.lower():
        return f"ARRIRAW/ARRICORE in MXF{camera}"
    if "sony" in company.lower():
        return f"Sony X-OCN/RAW in MXF{camera}"
    return f"camera RAW in MXF (ARRIRAW or Sony X-OCN){camera}"


STILL = (
    "proxies are for moving pictures; for a still, use the file itself (NLEs link "
    "stills directly) or render a movie from it first"
)


def _ffmpeg(path: str, facts: ProbeFacts, video: StreamFacts) -> RouteDecision:
    if facts.still:
        # An NLE attaches a proxy only to a clip (Premiere refuses stills), and a
        # one-frame "proxy" at a guessed rate has nothing to relink to.
        return _reject(
            path, f"unsupported source: a still image ({facts.format_name}); {STILL}", facts
        )
    refused = pictures.refusal(facts.format_name, video.codec_name)
    if refused is not None:
        # Before the rest: FFmpeg "decodes" a text file (tty/ansi) into frames.
        return _reject(path, f"unsupported source: {refused}", facts)
    if video.width <= 0 or video.height <= 0:
        return _reject(path, f"{REJECTED}: {video.codec_name} video reports no frame size", facts)
    if video.frame_rate is None:
        return _reject(path, f"{REJECTED}: {video.codec_name} video reports no frame rate", facts)
    tag = video.codec_tag_string
    fourcc = f" (fourcc {tag})" if tag and tag.isprintable() and "[" not in tag else ""
    reason = f"codec {video.codec_name}{fourcc}: FFmpeg decodes it"
    return RouteDecision(path, Engine.FFMPEG, reason, facts)


def _by_extension(path: str, facts: ProbeFacts, video: StreamFacts | None) -> RouteDecision | None:
    """The name rule, reached only when nothing in the content identified the file."""
    ext = os.path.splitext(path)[1].lower()
    named = _BY_EXTENSION.get(ext)
    if named is None:
        return None
    if named.structure == "magic":
        return _reject(
            path,
            f"{REJECTED}: extension {ext} ({named.format}) but the file lacks "
            f"its signature ({_MAGIC_TEXT[ext]})",
            facts,
        )
    if named.structure == "quicktime" and not facts.ok:
        return _reject(
            path,
            f"{REJECTED}: extension {ext} ({named.format}) means a QuickTime-"
            f"structured file, but this one does not parse ({facts.error})",
            facts,
        )
    if facts.ok and video is None:
        return _reject(
            path,
            f"{REJECTED}: extension {ext} ({named.format}) but the file has no video stream",
            facts,
        )
    return RouteDecision(
        path,
        Engine.RESOLVE,
        f"extension {ext}: {named.format} {NEEDS_RESOLVE} "
        "(no public probe signature; FFmpeg cannot decode it)",
        facts,
    )


def _reject(path: str, reason: str, facts: ProbeFacts | None = None) -> RouteDecision:
    return RouteDecision(path, None, reason, facts)


def route_job(decisions: list[RouteDecision]) -> tuple[Engine, str]:
    """The job's single engine and the reason; raises if any source can't go or engines mix."""
    bad = [d for d in decisions if d.engine is None]
    if bad:
        raise ValidationError("; ".join(f"{d.path}: {d.reason}" for d in bad))
    engines = {d.engine for d in decisions}
    if len(engines) > 1:
        groups = []
        for engine in (Engine.RESOLVE, Engine.FFMPEG):
            members = [f"{d.path} ({d.reason})" for d in decisions if d.engine is engine]
            groups.append(f"{engine.value}: {', '.join(members)}")
        raise MixedEngineError(
            "camera RAW and non-RAW sources cannot share a job; split it by engine — "
            + "; ".join(groups)
        )
    job_engine = decisions[0].engine
    assert job_engine is not None
    reasons = list(dict.fromkeys(d.reason for d in decisions))
    if len(decisions) == 1:
        return job_engine, reasons[0]
    scope = f"all {len(decisions)} sources" if len(reasons) == 1 else f"{len(decisions)} sources"
    return job_engine, f"{'; '.join(reasons)} ({scope})"
