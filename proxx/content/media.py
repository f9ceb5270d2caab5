"""The facts Proxx decides on about one media file, read once per file.

Shared by routing, planning and output verification (all in worker
processes): they must read a file the same way. `proxx.content.probe` reads it
in-process through libav (`proxx.content.libav`); `parse_probe_json` reads ffprobe's JSON, for
facts recorded elsewhere (tests of camera files that cannot be made here).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from proxx.content.colour import Colour, from_names
from proxx.contract.profiles import FORCED_RATES

# The rates a variable-frame-rate source may be conformed to (docs/MEDIA.md, §VFR):
# the broadcast rates, never one derived from a timebase.
STANDARD_RATES: tuple[Fraction, ...] = tuple(sorted(FORCED_RATES.values()))
INTERLACED = frozenset({"tt", "bb", "tb", "bt"})
# libav's demuxers for a single picture file (`png_pipe`, `tiff_pipe`, …) and for
# numbered frames (`image2`): a still, not a moving picture (docs/MEDIA.md §9).
IMAGE_DEMUXER = "image2"


class StreamFacts(BaseModel):
    codec_type: str
    index: int = 0  # the stream's index in the file: what `-map 0:N` names
    # Cover art or a thumbnail (an attached picture, by disposition): a picture the
    # file carries, not its moving picture (MP4/M4V/MKV cover art is MJPEG or PNG).
    cover: bool = False
    codec_name: str | None = None
    codec_tag_string: str | None = None
    width: int = 0
    height: int = 0
    frame_rate: str | None = None  # exact "num/den", None when unknown or 0/0
    avg_frame_rate: str | None = None  # differs from frame_rate in variable-rate video
    nb_frames: int | None = None
    duration: float | None = None  # the stream's own, when the container says (not audio's)
    start_time: float | None = None  # seconds; a MOV empty edit starts video after audio
    channels: int | None = None
    sample_rate: int | None = None
    pix_fmt: str | None = None
    bit_depth: int | None = None  # bits per sample of the pixel format (8, 10, 12 …)
    alpha: bool = False  # the pixel format has an alpha plane (ProRes 4444, PNG …)
    colour: Colour = Colour()  # from the stream, else the container (a MOV `colr` box)
    rotation: int = 0  # display matrix, degrees: phones film portrait as rotated landscape
    sample_aspect_ratio: str | None = None  # "4/3" for anamorphic HDV; None when square
    profile: str | None = None  # "Proxy", "HQ", "DNXHR LB", "High", …
    field_order: str | None = None  # "progressive", or interlaced "tt" "bb" "tb" "bt"
    # Copy-trimmed MOV/MP4: stored frames the edit list hides, the pictures a player
    # shows, and the span those cover at `frame_rate` (a cut B-frame leaves a hole).
    hidden_frames: int = 0
    shown_frames: int | None = None
    edit_frames: int | None = None
    tags: dict[str, str] = {}


class ProbeFacts(BaseModel):
    """What ffprobe said about one file; `error` set when it could not read it."""

    path: str
    ok: bool
    error: str | None = None
    format_name: str | None = None
    duration: float | None = None
    format_tags: dict[str, str] = {}
    streams: list[StreamFacts] = []

    @property
    def video(self) -> StreamFacts | None:
        """The moving picture: the first video stream that is not a cover or thumbnail."""
        return next((s for s in self.streams if s.codec_type == "video" and not s.cover), None)

    @property
    def covers(self) -> list[StreamFacts]:
        return [s for s in self.streams if s.codec_type == "video" and s.cover]

    @property
    def still(self) -> bool:
        """A picture file (PNG, TIFF, JPEG, DPX, EXR …), read by an image demuxer."""
        name = self.format_name or ""
        return name == IMAGE_DEMUXER or name.endswith("_pipe")

    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, in square pixels.

        Anamorphic pixels are widened (1440×1080 at 4:3 shows as 1920×1080), and
        FFmpeg applies the display matrix when decoding, so a 90°-rotated
        1920×1080 stream renders as 1080×1920. Proxies are square-pixel.
        """
        v = self.video
        if v is None:
            return 0, 0
        width = v.width
        if v.sample_aspect_ratio is not None:
            width = max(1, round(v.width * Fraction(v.sample_aspect_ratio)))
        return (v.height, width) if v.rotation % 180 == 90 else (width, v.height)

    @property
    def audio(self) -> list[StreamFacts]:
        return [s for s in self.streams if s.codec_type == "audio"]

    @property
    def timecode(self) -> str | None:
        """Start timecode from the video stream, a tmcd/data stream or the container."""
        for s in self.streams:
            if "timecode" in s.tags:
                return s.tags["timecode"]
        return self.format_tags.get("timecode")

    @property
    def reel_name(self) -> str | None:
        for s in self.streams:
            if "reel_name" in s.tags:
                return s.tags["reel_name"]
        return None

    def frame_count(self) -> int | None:
        """Frames in the video stream as a player shows them.

        With an edit list that hides frames, the span of the shown pictures;
        else the container's count; else duration × rate. The video stream's
        own duration comes before the file's: a file's duration includes audio
        that runs longer than the picture (common in MKV).
        """
        v = self.video
        if v is None:
            return None
        if v.edit_frames:
            return v.edit_frames
        if v.nb_frames:
            return v.nb_frames
        duration = v.duration or self.duration
        if duration and v.frame_rate:
            return round(Fraction(duration) * Fraction(v.frame_rate))
        return None

    @property
    def variable_rate(self) -> bool:
        """Variable frame rate (phones, screen captures): the average is not the rate."""
        v = self.video
        if v is None or v.frame_rate is None or v.avg_frame_rate is None:
            return False
        return Fraction(v.avg_frame_rate) != Fraction(v.frame_rate)

    @property
    def frame_count_exact(self) -> bool:
        """True when frame_count() is counted (not estimated) for a constant-rate stream."""
        v = self.video
        return v is not None and bool(v.nb_frames or v.edit_frames) and not self.variable_rate

    @property
    def interlaced(self) -> bool:
        v = self.video
        return v is not None and v.field_order in INTERLACED

    def conform_rate(self) -> Fraction | None:
        """The constant rate a `preserve_source` proxy of this source has.

        A constant-rate source keeps its rate, whatever it is. A variable-rate
        one keeps its nominal rate when that is a standard rate (phone jitter,
        a freeze); otherwise (a rate change makes libav's guess a timebase
        multiple such as 120) it gets the standard rate nearest its average.
        """
        v = self.video
        if v is None or v.frame_rate is None:
            return None
        rate = Fraction(v.frame_rate)
        if not self.variable_rate or rate in STANDARD_RATES:
            return rate
        avg = Fraction(v.avg_frame_rate or v.frame_rate)
        return min(STANDARD_RATES, key=lambda r: (abs(r - avg), r))

    def video_lead(self) -> Fraction:
        """How long after the earliest audio/video stream the picture starts (≥ 0 s)."""
        v = self.video
        if v is None or v.start_time is None:
            return Fraction(0)
        starts = [
            s.start_time
            for s in self.streams
            if s.codec_type in ("audio", "video") and s.start_time is not None
        ]
        return max(Fraction(0), Fraction(v.start_time) - Fraction(min(starts)))

    def duration_of_video(self) -> Fraction | None:
        v = self.video
        duration = (v.duration if v is not None else None) or self.duration
        return Fraction(duration) if duration else None

    def frame_count_at_rate(self, rate: Fraction | None = None) -> int | None:
        """Frames a constant-rate render at `rate` (default: the stream's) yields.

        The stream's own count for constant-rate video; for variable-rate video
        its duration × rate (FFmpeg fills the gaps to keep the rate constant).
        """
        v = self.video
        if v is None or v.frame_rate is None:
            return None
        src_rate = Fraction(v.frame_rate)
        rate = src_rate if rate is None else rate
        duration = self.duration_of_video()
        if self.variable_rate and duration:
            return round(duration * rate)
        frames = self.frame_count()
        return None if frames is None else round(frames * rate / src_rate)


def parse_probe_json(path: str, raw: dict[str, Any]) -> ProbeFacts:
    fmt = raw.get("format") or {}
    streams = [_stream(s, count=s.get("nb_read_packets")) for s in raw.get("streams") or []]
    if not fmt and not streams:
        return ProbeFacts(path=path, ok=False, error="ffprobe found no container or streams")
    return ProbeFacts(
        path=path,
        ok=True,
        format_name=fmt.get("format_name"),
        duration=_float(fmt.get("duration")),
        format_tags={str(k): str(v) for k, v in (fmt.get("tags") or {}).items()},
        streams=streams,
    )


def _stream(s: dict[str, Any], count: Any) -> StreamFacts:
    rate, avg = s.get("r_frame_rate"), s.get("avg_frame_rate")
    if s.get("codec_type") == "video" and s.get("avg_frame_rate") not in (None, "0/0"):
        rate = s["avg_frame_rate"] if rate in (None, "0/0") else rate
    frames = _int(s.get("nb_frames")) or _int(count)
    tags = {str(k): str(v) for k, v in (s.get("tags") or {}).items()}
    start = _float(s.get("start_time"))
    disposition = s.get("disposition") or {}
    return StreamFacts(
        codec_type=str(s.get("codec_type", "unknown")),
        index=_int(s.get("index")) or 0,
        cover=any(disposition.get(k) for k in COVER_DISPOSITIONS),
        codec_name=s.get("codec_name"),
        codec_tag_string=s.get("codec_tag_string"),
        width=_int(s.get("width")) or 0,
        height=_int(s.get("height")) or 0,
        frame_rate=_rate(rate),
        avg_frame_rate=_rate(avg),
        nb_frames=frames,
        duration=_float(s.get("duration")) or matroska_span(tags.get("DURATION"), start),
        start_time=start,
        channels=_int(s.get("channels")),
        sample_rate=_int(s.get("sample_rate")),
        pix_fmt=s.get("pix_fmt"),
        colour=from_names(
            s.get("color_primaries"),
            s.get("color_transfer"),
            s.get("color_space"),
            s.get("color_range"),
        ),
        rotation=_rotation(s, tags),
        sample_aspect_ratio=_aspect(s.get("sample_aspect_ratio")),
        profile=s.get("profile"),
        field_order=s.get("field_order"),
        tags=tags,
    )


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _rotation(s: dict[str, Any], tags: dict[str, str]) -> int:
    """Clockwise display rotation in degrees, normalised to 0, 90, 180 or 270."""
    raw: Any = tags.get("rotate")
    for side in s.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            raw = side["rotation"]
    try:
        return round(float(raw)) % 360 if raw is not None else 0
    except (TypeError, ValueError, OverflowError):  # "INFINITY" parses as a float
        return 0


def _aspect(v: Any) -> str | None:
    """ffprobe's "4:3" sample aspect ratio as "4/3"; None when square, 0:1 or unknown."""
    value = _rate(str(v).replace(":", "/")) if v else None
    return None if value in (None, "1") else value


def _rate(v: Any) -> str | None:
    """ffprobe's "num/den" as an exact reduced fraction; None for 0/0, x/0 or junk."""
    try:
        value = Fraction(str(v))
    except (ValueError, ZeroDivisionError):
        return None
    return str(value) if value > 0 else None


COVER_DISPOSITIONS = ("attached_pic", "timed_thumbnails", "still_image")


def matroska_span(v: str | None, start: float | None) -> float | None:
    """How long a Matroska stream lasts, from its DURATION tag and its start.

    FFmpeg's Matroska muxer writes DURATION as the time the stream *ends*
    (its last timestamp plus that frame's duration), counted from the file's
    zero: a picture that starts 0.5 s after the sound and ends at 2.5 s shows
    2 s of frames, not 2.5. A stream that ends early has an early DURATION.
    """
    end = matroska_duration(v)
    if end is None:
        return None
    span = end - (start or 0.0)
    return span if span > 0 else None


def matroska_duration(v: str | None) -> float | None:
    """Matroska's per-stream DURATION tag, HH:MM:SS.fffffffff, in seconds."""
    if not v:
        return None
    parts = v.split(":")
    try:
        h, m, sec = (float(p) for p in parts) if len(parts) == 3 else (0.0, 0.0, float(v))
    except ValueError:
        return None
    return h * 3600 + m * 60 + sec
