"""`probe(path)`: a media file's facts, read through libav in the calling process.

The one door to `proxx.content.libav`: callers get `ProbeFacts` (proxx.content.media)
without importing PyAV themselves, and the facts' model never imports the reader that
fills it (media ← libav ← probe, no cycle).
"""

from __future__ import annotations

from proxx.content.media import ProbeFacts


def probe(path: str, *, count_frames: bool = False) -> ProbeFacts:
    """Read `path` in-process through libav (PyAV): no ffprobe process per file.

    `count_frames` counts the video packets when the container declares no
    frame count (MXF). The import is deferred: PyAV loads FFmpeg's libraries
    (~0.2 s), which only the worker processes that probe should pay for.
    """
    from proxx.content import libav

    return libav.probe(path, count_frames=count_frames)
