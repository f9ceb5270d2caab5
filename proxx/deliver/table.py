"""One row per clip: source and proxy facts side by side, each difference named.

Pure: built from the result and the worker's looks, so the same inputs give the
same rows (and so the same HTML and CSV bytes).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fractions import Fraction

from proxx.contract.deliverables import FileLook
from proxx.contract.results import (
    MAX_RESULT_BYTES,
    ClipResult,
    JobResult,
    MediaFacts,
    clip_seconds,
)
from proxx.deliver.looks import Ask

# What relinking depends on; frame size differs on purpose (a proxy is smaller).
RELINK_FACTS = ("frames", "frame rate", "field order", "timecode", "reel", "audio")
FACTS = (*RELINK_FACTS, "frame size")


class ReportRefused(Exception):
    """The result cannot be reported on; the message says why."""


@dataclass(frozen=True)
class Fact:
    name: str
    source: str
    proxy: str
    differs: bool


@dataclass(frozen=True)
class Row:
    number: int
    name: str
    clip: ClipResult
    facts: list[Fact]
    source_png: str | None
    proxy_png: str | None
    picture_errors: list[str]
    disk_sha256: str | None  # the published proxy's bytes now (None: not read)
    problems: list[str]  # why this clip is marked at the top (empty: it is fine)

    @property
    def proxy_name(self) -> str:
        return os.path.basename(self.clip.output_path or "")


def read_result(path: str) -> JobResult:
    """A Proxx result, read bounded and never blocking (a FIFO is refused, not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ReportRefused(f"cannot open {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReportRefused(f"{path} is not a regular file")
        data = fh.read(MAX_RESULT_BYTES + 1)
    if len(data) > MAX_RESULT_BYTES:
        raise ReportRefused(f"{path} is larger than {MAX_RESULT_BYTES} bytes; not a result")
    try:
        return JobResult.model_validate_json(data)
    except ValueError as exc:
        first = str(exc).splitlines()[:3]
        raise ReportRefused(f"{path} is not a Proxx result: {' '.join(first)}") from None


def picture_time(clip: ClipResult) -> str:
    """The documented frame: the source's middle frame (frame ⌊frames/2⌋), as seconds."""
    facts = clip.fidelity.source if clip.fidelity else None
    if facts is None or not facts.frames or not facts.frame_rate:
        return "0"
    at = Fraction(facts.frames // 2) / Fraction(facts.frame_rate)
    return f"{at.numerator}/{at.denominator}"


def asks_for(result: JobResult) -> list[Ask]:
    """What to look at: each clip's source, then its published proxy (hashed too)."""
    asks: list[Ask] = []
    for clip in result.clips:
        at, seconds = picture_time(clip), clip_seconds(clip)
        asks.append(Ask(clip.source_path, at, seconds))
        if clip.status == "COMPLETED" and clip.output_path:
            asks.append(Ask(clip.output_path, at, seconds, sha256=True))
    return asks


def rows_for(result: JobResult, looks: list[FileLook]) -> list[Row]:
    """`looks` answers `asks_for(result)`, in the same order."""
    it = iter(looks)
    rows = []
    for number, clip in enumerate(result.clips, 1):
        source = next(it)
        proxy = next(it) if clip.status == "COMPLETED" and clip.output_path else None
        rows.append(_row(number, clip, source, proxy))
    return rows


def _row(number: int, clip: ClipResult, source: FileLook, proxy: FileLook | None) -> Row:
    fid = clip.fidelity
    facts = _facts(fid.source if fid else None, fid.proxy if fid else None, source, proxy)
    errors = [f"source: {source.error}"] if source.error else []
    if proxy is not None and proxy.error:
        errors.append(f"proxy: {proxy.error}")
    disk = proxy.sha256 if proxy else None
    return Row(
        number=number,
        name=os.path.basename(clip.source_path),
        clip=clip,
        facts=facts,
        source_png=source.png,
        proxy_png=proxy.png if proxy else None,
        picture_errors=errors,
        disk_sha256=disk,
        problems=_problems(clip, facts, proxy),
    )


def _problems(clip: ClipResult, facts: list[Fact], proxy: FileLook | None) -> list[str]:
    if clip.status != "COMPLETED":
        why = clip.failure_reason.value if clip.failure_reason else "not rendered"
        detail = f" — {clip.failure_detail}" if clip.failure_detail else ""
        return [f"{clip.status}: {why}{detail}"]
    out = [f"{f.name} differs: {f.source} → {f.proxy}" for f in facts if f.differs]
    if proxy is not None and clip.output_sha256 is None:
        out.append("the result records no output_sha256 for this proxy")
    elif proxy is not None and proxy.sha256 is None:
        out.append("the proxy could not be read now: " + (proxy.error or "unknown"))
    elif proxy is not None and proxy.sha256 != clip.output_sha256:
        out.append("the proxy's bytes no longer match output_sha256 in the result")
    return out


def _facts(
    src: MediaFacts | None, dst: MediaFacts | None, s_look: FileLook, d_look: FileLook | None
) -> list[Fact]:
    pairs = [(_shown(src, name), _shown(dst, name)) for name in RELINK_FACTS]
    pairs.append((_size(s_look), _size(d_look)))
    facts = []
    for name, (a, b) in zip(FACTS, pairs, strict=True):
        compared = dst is not None and name in RELINK_FACTS
        facts.append(Fact(name, a, b, differs=compared and a != b))
    return facts


def _shown(facts: MediaFacts | None, name: str) -> str:
    if facts is None:
        return "—"
    value: object = {
        "frames": facts.frames,
        "frame rate": facts.frame_rate,
        "field order": facts.field_order,
        "timecode": facts.timecode,
        "reel": facts.reel_name,
        "audio": _audio(facts.audio_channels),
    }[name]
    return "—" if value is None or value == "" else str(value)


def _audio(channels: list[int]) -> str:
    if not channels:
        return "none"
    streams = "1 stream" if len(channels) == 1 else f"{len(channels)} streams"
    return f"{streams}: " + "+".join(str(c) for c in channels) + " ch"


def _size(look: FileLook | None) -> str:
    if look is None or look.width is None:
        return "—"
    return f"{look.width}×{look.height}"
