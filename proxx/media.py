"""ffprobe, once per file, parsed into the facts Proxx decides on.

Shared by routing (supervisor side) and output verification (worker side):
both must read a file the same way.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from proxx.errors import SystemError_

PROBE_TIMEOUT_S = 60


class StreamFacts(BaseModel):
    codec_type: str
    codec_name: str | None = None
    codec_tag_string: str | None = None
    width: int = 0
    height: int = 0
    frame_rate: str | None = None  # exact "num/den", None when unknown or 0/0
    avg_frame_rate: str | None = None  # differs from frame_rate in variable-rate video
    nb_frames: int | None = None
    duration: float | None = None  # the stream's own, when the container says (not audio's)
    channels: int | None = None
    sample_rate: int | None = None
    pix_fmt: str | None = None
    rotation: int = 0  # display matrix, degrees: phones film portrait as rotated landscape
    sample_aspect_ratio: str | None = None  # "4/3" for anamorphic HDV; None when square
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
        return next((s for s in self.streams if s.codec_type == "video"), None)

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
        """Frames in the video stream: the container's count, else duration × rate.

        The video stream's own duration comes before the file's: a file's duration
        includes audio that runs longer than the picture (common in MKV).
        """
        v = self.video
        if v is None:
            return None
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
        """True when frame_count() is the container's own count of a constant-rate stream."""
        return self.video is not None and bool(self.video.nb_frames) and not self.variable_rate

    def frame_count_at_rate(self) -> int | None:
        """Frames a constant-rate render at `frame_rate` yields from this stream.

        The stream's own count for constant-rate video; for variable-rate video
        its duration × rate (FFmpeg fills the gaps to keep the rate constant).
        """
        v = self.video
        if v is not None and v.frame_rate and self.variable_rate:
            duration = v.duration or self.duration
            if duration:
                return round(Fraction(duration) * Fraction(v.frame_rate))
        return self.frame_count()


def ffprobe_path() -> str:
    path = shutil.which("ffprobe")
    if path is None:
        raise SystemError_(
            "ffprobe not found on PATH: install FFmpeg (Debian: apt-get install ffmpeg)"
        )
    return path


def probe(path: str, *, count_frames: bool = False) -> ProbeFacts:
    argv = [ffprobe_path(), "-v", "error", "-of", "json", "-show_streams", "-show_format"]
    if count_frames:
        argv.append("-count_packets")
    argv.append(path)
    proc = _start_shielded(argv)
    try:
        stdout, stderr_bytes = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return ProbeFacts(path=path, ok=False, error=f"ffprobe timed out after {PROBE_TIMEOUT_S} s")
    stderr = stderr_bytes.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        last = stderr.splitlines()[-1] if stderr else f"exit code {proc.returncode}"
        return ProbeFacts(path=path, ok=False, error=f"ffprobe could not read the file: {last}")
    try:
        raw = json.loads(stdout or b"{}")
    except json.JSONDecodeError as exc:
        return ProbeFacts(path=path, ok=False, error=f"ffprobe printed invalid JSON: {exc}")
    return parse_probe_json(path, raw)


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(137)

    return preexec


def _start_shielded(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start ffprobe out of reach of a terminal's Ctrl-C.

    Ctrl-C goes to the whole foreground process group, and a probe killed by it
    would read as "unsupported or damaged source": the supervisor decides what a
    Ctrl-C means, and a probe takes milliseconds. The own process group is not
    enough alone: subprocess applies it only after unblocking signals in the
    child, so SIGINT stays blocked across the spawn (and exec keeps it blocked).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        # PDEATHSIG: a probe hung on a FIFO or a dead mount dies with its worker.
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, process_group=0,
                                preexec_fn=_die_with_parent(os.getpid()))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
    return StreamFacts(
        codec_type=str(s.get("codec_type", "unknown")),
        codec_name=s.get("codec_name"),
        codec_tag_string=s.get("codec_tag_string"),
        width=_int(s.get("width")) or 0,
        height=_int(s.get("height")) or 0,
        frame_rate=_rate(rate),
        avg_frame_rate=_rate(avg),
        nb_frames=frames,
        duration=_float(s.get("duration")) or _clock(tags.get("DURATION")),
        channels=_int(s.get("channels")),
        sample_rate=_int(s.get("sample_rate")),
        pix_fmt=s.get("pix_fmt"),
        rotation=_rotation(s, tags),
        sample_aspect_ratio=_aspect(s.get("sample_aspect_ratio")),
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
    except (TypeError, ValueError):
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


def _clock(v: str | None) -> float | None:
    """Matroska's per-stream DURATION tag, HH:MM:SS.fffffffff, in seconds."""
    if not v:
        return None
    parts = v.split(":")
    try:
        h, m, sec = (float(p) for p in parts) if len(parts) == 3 else (0.0, 0.0, float(v))
    except ValueError:
        return None
    return h * 3600 + m * 60 + sec
