"""The in-process probe: one file read through libav (PyAV) into `ProbeFacts`.

Imported only by `proxx.content.probe`, inside the worker processes that probe:
loading FFmpeg's libraries costs ~0.2 s once per process, after which a probe
of a small file costs a few milliseconds (an ffprobe process cost ~100 ms).
A crash inside libav on a hostile file takes down that worker only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from fractions import Fraction

import av
import av.error
from av.codec.context import CodecContext
from av.container import InputContainer
from av.stream import Discard, Disposition, Stream

from proxx.content import quicktime
from proxx.content.colour import Colour, from_codes
from proxx.content.media import ProbeFacts, StreamFacts, matroska_span

# PyAV 19 dropped `av.open(metadata_errors=...)` and decodes tags with surrogateescape;
# earlier releases decode strictly unless told "replace". Both end as the same text:
# a tag that is not UTF-8 keeps its valid part and U+FFFD for each bad byte (`_text`).
_PYAV_MAJOR = int(av.__version__.split(".", 1)[0])
_OPEN_OPTIONS: dict[str, str] = {} if _PYAV_MAJOR >= 19 else {"metadata_errors": "replace"}
# Typed loosely on purpose: each PyAV's stubs know only their own keywords.
_open: Callable[..., InputContainer] = av.open

# AVFieldOrder, in FFmpeg's names as ffprobe prints them.
_FIELD_ORDER = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
_COVER = Disposition.attached_pic | Disposition.timed_thumbnails | Disposition.still_image


def probe(path: str, *, count_frames: bool = False) -> ProbeFacts:
    try:
        container = _open(path, **_OPEN_OPTIONS)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        return ProbeFacts(path=path, ok=False, error=f"could not read the file: {_why(exc)}")
    try:
        return _facts(path, container, count_frames)
    except av.error.FFmpegError as exc:
        return ProbeFacts(path=path, ok=False, error=f"could not read the file: {_why(exc)}")
    finally:
        container.close()


def _tags(raw: dict[str, str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: str) -> str:
    # Lone surrogates (PyAV 19's escapes) cannot be written as UTF-8 JSON: back to bytes,
    # then decoded as earlier PyAV releases did.
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None)
    return str(text) if text else str(exc) or type(exc).__name__


def _facts(path: str, container: InputContainer, count_frames: bool) -> ProbeFacts:
    format_name = container.format.name
    qt_tracks = quicktime.tracks(path) if _is_quicktime(format_name) else []
    streams = [_stream(s, qt_tracks) for s in container.streams]
    if not streams:
        return ProbeFacts(path=path, ok=False, error="no audio or video streams")
    probed = ProbeFacts(path=path, ok=True, streams=streams)
    facts = probed.video  # the rule for which stream is the picture lives in ProbeFacts
    video = container.streams[facts.index] if facts is not None else None
    if video is not None and facts is not None and facts.codec_name:
        _count(container, video, facts, quicktime=bool(qt_tracks), count_frames=count_frames)
    duration = container.duration
    return ProbeFacts(
        path=path,
        ok=True,
        format_name=format_name,
        duration=None if duration is None else duration / av.time_base,
        format_tags=_tags(container.metadata),
        streams=streams,
    )


def _is_quicktime(format_name: str) -> bool:
    return "mov" in format_name.split(",")


def _stream(s: Stream, qt_tracks: list[quicktime.Track]) -> StreamFacts:
    ctx = s.codec_context  # None for a codec FFmpeg does not know
    tags = _tags(s.metadata)
    start = _seconds(s.start_time, s.time_base)
    facts = StreamFacts(
        codec_type=s.type,
        index=s.index,
        cover=bool(s.disposition & _COVER),
        codec_name=ctx.name if ctx is not None else None,
        codec_tag_string=_fourcc(ctx.codec_tag) if ctx is not None else None,
        profile=s.profile if ctx is not None else None,
        nb_frames=s.frames or None,
        duration=_seconds(s.duration, s.time_base) or matroska_span(tags.get("DURATION"), start),
        start_time=start,
        tags=tags,
    )
    if s.type == "video":
        _video(s, facts, None if facts.cover else _qt_track(s, qt_tracks))
    elif s.type == "audio" and ctx is not None:
        facts.channels = _channels(ctx)
        facts.sample_rate = int(ctx.sample_rate)  # type: ignore[attr-defined]
    return facts


def _channels(ctx: CodecContext) -> int:
    if _PYAV_MAJOR != 18:
        return int(ctx.channels)  # type: ignore[attr-defined]
    # PyAV 18.x: an AudioLayout's dealloc frees the channel map it shares with libav (a
    # custom-order layout: 7.1 or 6.1 read from a MOV `chan` atom, say), libav frees it
    # again at close, and the heap is corrupt (SIGABRT). So the layout is read once and
    # never freed: one small object per audio stream probed, on PyAV 18 only, which
    # CPython 3.11 needs (19 is 3.12+; 17 lacks field_order). requirements/README.md.
    layout = ctx.layout  # type: ignore[attr-defined]
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(layout))
    return int(layout.nb_channels)


def _video(s: Stream, facts: StreamFacts, track: quicktime.Track | None) -> None:
    ctx = s.codec_context
    rate, avg = _rate(s.base_rate), _rate(s.average_rate)
    facts.frame_rate = rate or avg
    facts.avg_frame_rate = avg
    if track is not None:
        facts.rotation = track.rotation
        if ctx is None:  # a codec FFmpeg does not know: the sample description says
            facts.codec_tag_string = track.fourcc
            facts.width, facts.height = track.width, track.height
    if ctx is None:
        return
    facts.width, facts.height = int(ctx.width), int(ctx.height)  # type: ignore[attr-defined]
    facts.pix_fmt = ctx.pix_fmt  # type: ignore[attr-defined]
    facts.colour = _colour(ctx, track)
    if facts.pix_fmt:
        components = av.VideoFormat(facts.pix_fmt).components
        facts.bit_depth = max((c.bits for c in components), default=None)
        facts.alpha = any(c.is_alpha for c in components)
    facts.field_order = _FIELD_ORDER.get(int(ctx.field_order))  # type: ignore[attr-defined]
    sar = ctx.sample_aspect_ratio  # type: ignore[attr-defined]
    facts.sample_aspect_ratio = str(sar) if sar and sar > 0 and sar != 1 else None


def _colour(ctx: object, track: quicktime.Track | None) -> Colour:
    """The stream's colour: the codec's header as libav reads it, else the `colr` box.

    libav fills these from the bitstream (H.264/HEVC VUI, the ProRes frame
    header) and, for MOV/MP4, usually from the `colr` box too; a field the
    stream leaves unstated is taken from `colr` explicitly, so the rule does
    not depend on which libav the wheel bundles.
    """
    colour = from_codes(
        int(ctx.color_primaries),  # type: ignore[attr-defined]
        int(ctx.color_trc),  # type: ignore[attr-defined]
        int(ctx.colorspace),  # type: ignore[attr-defined]
        int(ctx.color_range),  # type: ignore[attr-defined]
    )
    # Matrix code 0 is RGB; on a YUV picture it is an unset field, not a statement.
    if colour.matrix == "gbr" and not str(ctx.pix_fmt or "").startswith("gbr"):  # type: ignore[attr-defined]
        colour = colour.model_copy(update={"matrix": None})
    if track is None or track.colr is None:
        return colour
    box = from_codes(*track.colr, 0)
    return Colour(
        primaries=colour.primaries or box.primaries,
        transfer=colour.transfer or box.transfer,
        matrix=colour.matrix or box.matrix,
        range=colour.range,
    )


def _qt_track(s: Stream, qt_tracks: list[quicktime.Track]) -> quicktime.Track | None:
    # libav makes one stream per QuickTime track, in file order (cover art from
    # `udta` is not a track); a handler that is not video means the two lists do
    # not line up, and nothing is taken.
    covers = sum(1 for o in s.container.streams if o.index < s.index and o.disposition & _COVER)
    at = s.index - covers
    track = qt_tracks[at] if at < len(qt_tracks) else None
    return track if track is not None and track.handler == "vide" else None


def _count(
    container: InputContainer, v: Stream, facts: StreamFacts, *, quicktime: bool, count_frames: bool
) -> None:
    """Frame counts that need more than the header: edit lists and undeclared counts.

    A copy-trimmed MOV/MP4 (`ffmpeg -ss … -c copy`, phone trims) keeps the
    GOP's leading frames and an edit list that hides them; libav flags those
    index entries "discard". Then the packets are read (not decoded) to count
    the pictures a player shows and the span they cover: a trim that cut a
    B-frame leaves a hole, which a constant-rate render fills.
    """
    entries = v.index_entries if quicktime else None
    hidden = sum(1 for e in entries if e.is_discard) if entries is not None else 0
    # An edit that ends early drops the tail from libav's index without a flag.
    cut_tail = entries is not None and 0 < len(entries) < (facts.nb_frames or 0)
    edited = bool(hidden) or cut_tail
    if not edited and not (count_frames and facts.nb_frames is None):
        return
    if edited and entries is not None and not _reorders(v):
        # No frame reordering (ProRes, DNxHR, intra-only camera codecs): the index's
        # decode times are the presentation times, so a 40 GB camera trim costs
        # nothing to count. Reordered video (phones' H.264/HEVC) reads its packets.
        pts = [e.timestamp for e in entries if not e.is_discard]
    else:
        pts = _shown_pts(container, v)
    if not edited:
        facts.nb_frames = len(pts) or None
        return
    facts.hidden_frames = (facts.nb_frames or 0) - len(pts)
    facts.shown_frames = len(pts)
    rate = Fraction(facts.frame_rate) if facts.frame_rate else None
    if pts and rate and v.time_base:
        span = (max(pts) - min(pts)) * v.time_base * rate
        facts.edit_frames = round(span) + 1


def _reorders(v: Stream) -> bool:
    ctx = v.codec_context
    return ctx is None or bool(ctx.has_b_frames)  # type: ignore[attr-defined]


def _shown_pts(container: InputContainer, v: Stream) -> list[int]:
    """Presentation times of the packets a player shows (read, not decoded)."""
    for other in container.streams:
        if other.index != v.index:
            other.discard = Discard.all  # libav then skips their data instead of reading it
    return [p.pts for p in container.demux(v) if p.size and not p.is_discard and p.pts is not None]


def _fourcc(tag: str | None) -> str | None:
    """The codec tag as ffprobe prints it: printable, else "[0][0][0][0]"-style bytes."""
    if not tag:
        return None
    if tag.isprintable() and "\0" not in tag:
        return tag
    return "".join(c if c.isprintable() and c != "\0" else f"[{ord(c)}]" for c in tag)


def _rate(v: Fraction | None) -> str | None:
    return str(v) if v else None


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or not time_base:
        return None
    return float(value * time_base)
