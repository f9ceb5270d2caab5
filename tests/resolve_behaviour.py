"""What the Resolve double offers and how it behaves: its render formats and codecs,
the value each call answers when it fails, the clip it reports, and `Behaviour`,
a test's choice of failures and render outcome (tests/resolve_double.py).

The codec and format names below are the shape Resolve uses (description →
name); the exact strings vary by Resolve version and OS, which is why the
engine discovers them instead of hard-coding them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RENDER_FORMATS: dict[str, str] = {
    "QuickTime": "mov",
    "MP4": "mp4",
    "MXF OP-Atom": "mxf",
    "MXF OP1A": "mxf",
    "TIFF": "tif",
}
_PRORES = {
    "Apple ProRes 422 Proxy": "ProRes422P",
    "Apple ProRes 422 LT": "ProRes422LT",
    "Apple ProRes 422": "ProRes422",
    "Apple ProRes 422 HQ": "ProRes422HQ",
    "Apple ProRes 4444": "ProRes4444",
    "Apple ProRes 4444 XQ": "ProRes4444XQ",
}
_DNXHR = {
    "DNxHR LB": "DNxHRLB",
    "DNxHR SQ": "DNxHRSQ",
    "DNxHR HQ": "DNxHRHQ",
    "DNxHR HQX 10-bit": "DNxHRHQX_10",
    "DNxHR 444 10-bit": "DNxHR444_10",
}
RENDER_CODECS: dict[str, dict[str, str]] = {
    "mov": {"H.264": "H264", "H.265": "H265", **_PRORES, **_DNXHR},
    "mxf": {"XDCAM MPEG2": "MPEG2", **_DNXHR},
    "mp4": {"H.264": "H264", "H.265": "H265"},
}
# The return value each call gives when it fails, as Resolve gives it.
FAILURE_RETURNS: dict[str, Any] = {
    "GetProjectManager": None,
    "CreateProject": None,
    "CloseProject": False,
    "DeleteProject": False,
    "GetMediaPool": None,
    "ImportMedia": [],
    "CreateTimelineFromClips": None,
    "SetStartTimecode": False,
    "SetSetting": False,
    "SetCurrentTimeline": False,
    "GetRenderFormats": {},
    "GetRenderCodecs": {},
    "SetCurrentRenderFormatAndCodec": False,
    "SetCurrentRenderMode": False,
    "SetRenderSettings": False,
    "AddRenderJob": "",
    "StartRendering": False,
    "GetRenderJobStatus": None,
    "DeleteRenderJob": False,
}
DEFAULT_CLIP: dict[str, str] = {
    "Resolution": "640x360",
    "FPS": "25",
    "Frames": "10",
    "Audio Ch": "2",
    "Start TC": "01:00:00:00",
}
RenderOutcome = Literal["complete", "failed", "never", "wrong_size", "no_file"]


@dataclass
class Behaviour:
    """How the double's Resolve behaves; the default renders everything correctly."""

    fail: frozenset[str] = frozenset()  # calls that answer their failure value
    product: str = "DaVinci Resolve Studio"
    version: str = "19.1.3.7"
    clip: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CLIP))
    render: RenderOutcome = "complete"
    codecs: dict[str, dict[str, str]] = field(default_factory=lambda: dict(RENDER_CODECS))
    add_job_empty_times: int = 0  # AddRenderJob answers "" this many times first
    render_seconds: float = 0.0  # a render takes at least this long
    session_log: str | None = None  # "open/close pid time" lines: who drove Resolve when
