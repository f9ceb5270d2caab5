"""A render's progress, read from FFmpeg's machine-readable `-progress` output.

FFmpeg writes `key=value` lines to the pipe and closes each block with
`progress=continue` (or `progress=end`). A clip's fraction is the output media
time (`out_time_us`; `out_time_ms` is microseconds too, despite its name) over
the output's expected duration: never output frames over source frames, which
a forced rate or a field-rate deinterlace would scale.

Reading costs the render nothing: FFmpeg writes a block every half second, the
worker reads it from a pipe it already selects on, and the report to the
supervisor is rate-limited in `JobContext.progress`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..context import JobContext

# Global options, before everything else in the executed argv: the machine-readable
# report on stdout (which FFmpeg does not otherwise use here).
PROGRESS_ARGS = ("-progress", "pipe:1")
# A progress line is short ("out_time_us=123456789"); anything longer is not one.
MAX_LINE_BYTES = 4096


def with_progress(argv: list[str]) -> list[str]:
    """The argv FFmpeg is run with: `argv` plus the progress report."""
    return [argv[0], *PROGRESS_ARGS, *argv[1:]]


@dataclass(frozen=True)
class RenderStats:
    """What a finished (or stopped) render measured, for the clip's result."""

    render_speed: float | None  # output media seconds per wall second (× real time)
    average_fps: float | None  # output frames per wall second


class ProgressReader:
    """Fed FFmpeg's stdout in chunks as they arrive; reports each block it completes."""

    def __init__(self, index: int, expected_seconds: float | None, context: JobContext):
        self.index, self.expected, self.context = index, expected_seconds, context
        self.started = time.monotonic()
        self.media_seconds: float | None = None
        self.frames: int | None = None
        self.blocks = 0
        self._partial = b""
        self._block: dict[str, str] = {}

    def feed(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial = b""  # not FFmpeg's report; never let it grow
        for line in lines:
            key, sep, value = line.decode("utf-8", "replace").strip().partition("=")
            if not sep:
                continue
            if key == "progress":
                self._finish_block()
            else:
                self._block[key] = value

    def _finish_block(self) -> None:
        block, self._block = self._block, {}
        self.blocks += 1
        micros = _number(block.get("out_time_us", block.get("out_time_ms")))
        if micros is not None and micros >= 0:
            self.media_seconds = micros / 1e6
        frames = _number(block.get("frame"))
        if frames is not None and frames >= 0:
            self.frames = int(frames)
        if self.media_seconds is not None and self.expected:
            fraction = self.media_seconds / self.expected
            self.context.progress(self.index, fraction, self.media_seconds)

    def stats(self) -> RenderStats:
        wall = time.monotonic() - self.started
        if wall <= 0:
            return RenderStats(None, None)
        speed = None if self.media_seconds is None else round(self.media_seconds / wall, 3)
        fps = None if self.frames is None else round(self.frames / wall, 2)
        return RenderStats(speed, fps)


def _number(text: str | None) -> float | None:
    """A value FFmpeg wrote, or None for its "N/A" (no frame out yet) and anything else."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None
