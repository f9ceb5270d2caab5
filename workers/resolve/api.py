"""DaVinci Resolve's scripting API: loading `fusionscript`, and the slice of it Proxx calls.

The Protocols below name exactly the calls the Resolve engine makes, typed
the way Resolve behaves rather than the way the public stubs say: every call
can answer None, False, "" or [] instead of raising. A test checks both the
`fusionscript-stubs` package and the test double against them.

The environment variables only locate the library (as Blackmagic's own
`DaVinciResolveScript.py` does); they never change what Proxx executes.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any, Protocol, cast

LIBRARY_ENV = "RESOLVE_SCRIPT_LIB"
DEFAULT_LIBRARIES: dict[str, tuple[str, ...]] = {
    "linux": (
        "/opt/resolve/libs/Fusion/fusionscript.so",
        "/home/resolve/libs/Fusion/fusionscript.so",
    ),
    "darwin": (
        "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/"
        "fusionscript.so",
    ),
    "win32": (r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll",),
}
SEQUENCE_EXTENSIONS = (".dng", ".ari", ".arx")  # one file per frame
RenderSettings = Mapping[str, str | int | float | bool]
# A path, or an image sequence as {"FilePath", "StartIndex", "EndIndex"}.
MediaSpec = str | dict[str, str | int]


class ResolveUnavailable(Exception):
    """Resolve cannot be reached; the message tells the operator what to fix."""


class MediaPoolItem(Protocol):
    def GetName(self) -> str: ...
    def GetClipProperty(self, propertyName: str) -> str | dict[str, Any] | None: ...


class Timeline(Protocol):
    def SetStartTimecode(self, timecode: str) -> bool: ...


class MediaPool(Protocol):
    def ImportMedia(self, items: list[MediaSpec]) -> list[MediaPoolItem] | None: ...
    def CreateTimelineFromClips(self, name: str, clips: list[MediaPoolItem]) -> Timeline | None: ...


class Project(Protocol):
    def GetMediaPool(self) -> MediaPool | None: ...
    def SetSetting(self, settingName: str, settingValue: str) -> bool: ...
    def SetCurrentTimeline(self, timeline: Timeline) -> bool: ...
    def GetRenderFormats(self) -> dict[str, str] | None: ...
    def GetRenderCodecs(self, renderFormat: str) -> dict[str, str] | None: ...
    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool: ...
    def SetCurrentRenderMode(self, renderMode: int) -> bool: ...
    def SetRenderSettings(self, settings: RenderSettings) -> bool: ...
    def AddRenderJob(self) -> str | None: ...
    def StartRendering(self, jobIds: list[str], isInteractiveMode: bool = False) -> bool: ...
    def IsRenderingInProgress(self) -> bool: ...
    def GetRenderJobStatus(self, jobId: str) -> dict[str, Any] | None: ...
    def StopRendering(self) -> None: ...
    def DeleteRenderJob(self, jobId: str) -> bool: ...


class ProjectManager(Protocol):
    def CreateProject(self, projectName: str) -> Project | None: ...
    def CloseProject(self, project: Project) -> bool: ...
    def DeleteProject(self, projectName: str) -> bool: ...


class Resolve(Protocol):
    def GetProjectManager(self) -> ProjectManager | None: ...
    def GetProductName(self) -> str | None: ...
    def GetVersionString(self) -> str | None: ...


class Fusionscript(Protocol):
    def scriptapp(self, app: str) -> Resolve | None: ...


_loaded: dict[str, Fusionscript] = {}


def library_path(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str:
    """Where fusionscript is: RESOLVE_SCRIPT_LIB if set (and only then), else the OS default."""
    configured = env.get(LIBRARY_ENV)
    if configured:
        if not os.path.isfile(configured):
            raise ResolveUnavailable(
                f"{LIBRARY_ENV}={configured} does not exist: point it at DaVinci Resolve's "
                "fusionscript library (Linux: /opt/resolve/libs/Fusion/fusionscript.so), or unset "
                "it to use the default location"
            )
        return configured
    defaults = DEFAULT_LIBRARIES.get(platform, DEFAULT_LIBRARIES["linux"])
    for candidate in defaults:
        if os.path.isfile(candidate):
            return candidate
    raise ResolveUnavailable(
        "DaVinci Resolve's scripting library fusionscript was not found: "
        f"{LIBRARY_ENV} is not set and no file exists at {', '.join(defaults)}. Install "
        f"DaVinci Resolve Studio on this host, or set {LIBRARY_ENV} to the full path of its "
        "fusionscript library"
    )


def load_fusionscript(path: str) -> Fusionscript:
    """Load the native module directly: the shipped loader script needs `imp` (gone in 3.12)."""
    if path in _loaded:
        return _loaded[path]
    loader = importlib.machinery.ExtensionFileLoader("fusionscript", path)
    spec = importlib.util.spec_from_file_location("fusionscript", path, loader=loader)
    if spec is None:
        raise ResolveUnavailable(f"{path} is not a loadable Python extension module")
    try:
        module: ModuleType = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except (ImportError, OSError) as exc:
        raise ResolveUnavailable(
            f"could not load DaVinci Resolve's scripting library {path}: {exc}. Check that it "
            "belongs to a DaVinci Resolve Studio install for this OS and CPU, and that "
            f"{LIBRARY_ENV} points at fusionscript itself"
        ) from exc
    if not callable(getattr(module, "scriptapp", None)):
        raise ResolveUnavailable(
            f"{path} loaded but has no scriptapp(): not Resolve's fusionscript"
        )
    _loaded[path] = cast(Fusionscript, module)
    return _loaded[path]


def scriptapp() -> Resolve | None:
    """One connection attempt to the local Resolve (None: not answering)."""
    return load_fusionscript(library_path()).scriptapp("Resolve")


class Stopped(Exception):
    """A stop request arrived while waiting for Resolve to answer."""


NOT_ANSWERING = (
    "DaVinci Resolve did not answer on this host: fusionscript.scriptapp('Resolve') returned "
    "None for {seconds:g} s. Fix one of: (1) start DaVinci Resolve Studio (headless: "
    "`/opt/resolve/bin/resolve -nogui`) and wait until it has finished starting; "
    "(2) in Resolve, Preferences → System → General → 'External scripting using' must be "
    "Local, then restart Resolve; (3) use DaVinci Resolve Studio — the free edition does not "
    "allow external scripting"
)


def connect(
    attempt: Callable[[], Resolve | None], timeout_s: float, wait: Callable[[float], str | None]
) -> Resolve:
    """Ask until Resolve answers: it serves scripting only once fully started.

    `wait` sleeps and returns a stop reason, if any (raised as Stopped).
    A missing library is not waited for: `attempt` raises ResolveUnavailable.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        app = attempt()
        if app is not None:
            return app
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ResolveUnavailable(NOT_ANSWERING.format(seconds=timeout_s))
        stop = wait(min(1.0, remaining))
        if stop is not None:
            raise Stopped(stop)


def product(app: Resolve) -> str:
    return f"{app.GetProductName() or ''} {app.GetVersionString() or ''}".strip()


def require_studio(app: Resolve) -> None:
    """External scripting is a Studio feature; Proxx does not drive the free edition."""
    if "studio" not in str(app.GetProductName() or "").lower():
        raise ResolveUnavailable(
            f"connected to {product(app) or 'an unnamed Resolve'}, which is not DaVinci Resolve "
            "Studio: external scripting is a Studio feature (the free edition drops it entirely "
            "from 21.1). Install and run DaVinci Resolve Studio on this host"
        )


# -- render format and codec discovery ------------------------------------------------
# Resolve's names for formats and codecs vary by version, OS and licence, so
# Proxx asks Resolve what it offers and matches descriptions by their words
# ("Apple ProRes 422 HQ" → prores422hq) instead of hard-coding identifiers.
_CODEC_WORDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "prores_proxy": (frozenset({"prores", "proxy"}), frozenset({"4444", "xq", "raw"})),
    "prores_lt": (frozenset({"prores", "lt"}), frozenset({"4444", "xq", "raw"})),
    "prores422": (
        frozenset({"prores", "422"}),
        frozenset({"proxy", "lt", "hq", "4444", "xq", "raw"}),
    ),
    "prores422hq": (frozenset({"prores", "422", "hq"}), frozenset({"4444", "xq", "raw"})),
    "dnxhr_lb": (frozenset({"dnxhr", "lb"}), frozenset()),
    "dnxhr_sq": (frozenset({"dnxhr", "sq"}), frozenset()),
    "dnxhr_hq": (frozenset({"dnxhr", "hq"}), frozenset()),
}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def pick_render_format(formats: Mapping[str, str], container: str) -> tuple[str, str] | None:
    """(label, format name) of the render format writing `container` files, if offered.

    GetRenderFormats maps label → extension-like name ("QuickTime" → "mov");
    for MXF, OP1A (one file, video and audio) is preferred over OP-Atom.
    """
    found = [
        (label, ext)
        for label, ext in formats.items()
        if str(ext).lower().split("_")[0] == container
    ]
    if container == "mxf":
        op1a = [f for f in found if "op1a" in _words(f[0]) or "op1a" in _words(f[1])]
        found = op1a or found
    return found[0] if len(found) == 1 else None


def pick_codec(codecs: Mapping[str, str], codec: str) -> str | None:
    """The codec name whose description matches the JobSpec codec, if exactly one does."""
    need, refuse = _CODEC_WORDS[codec]
    found = [
        name
        for description, name in codecs.items()
        if need <= _words(str(description)) and not refuse & _words(str(description))
    ]
    return found[0] if len(found) == 1 else None


# -- Resolve's value conventions -----------------------------------------------------------
@dataclass(frozen=True)
class ClipInfo:
    """A media pool clip as Resolve describes it; None/0 where it does not say."""

    width: int
    height: int
    rate: Fraction | None
    frames: int | None
    audio_channels: int | None
    timecode: str | None
    raw: dict[str, str]  # the property texts, for messages


def clip_info(item: MediaPoolItem) -> ClipInfo:
    raw: dict[str, str] = {}
    for name in ("Resolution", "FPS", "Frames", "Audio Ch", "Start TC"):
        value = item.GetClipProperty(name)
        # Some Resolve versions answer numbers (FPS 23.976) where most answer text.
        raw[name] = str(value).strip() if isinstance(value, str | int | float) else ""
    size = re.fullmatch(r"(\d+)\s*[x×]\s*(\d+)", raw["Resolution"])
    return ClipInfo(
        width=int(size[1]) if size else 0,
        height=int(size[2]) if size else 0,
        rate=parse_rate(raw["FPS"]),
        frames=int(raw["Frames"]) if raw["Frames"].isdigit() else None,
        audio_channels=int(raw["Audio Ch"]) if raw["Audio Ch"].isdigit() else None,
        timecode=raw["Start TC"] or None,
        raw=raw,
    )


def media_spec(path: str) -> MediaSpec:
    """ImportMedia's item: a path, or for one frame of an image sequence its whole run.

    The run is the contiguous block of frame numbers around this frame with
    the same prefix, padding and extension, as Resolve's {FilePath: "name_%06d.dng",
    StartIndex, EndIndex} form names it.
    """
    directory, name = os.path.split(path)
    m = re.fullmatch(r"(.*?)(\d+)(\.[^.]+)", name)
    if m is None or m[3].lower() not in SEQUENCE_EXTENSIONS:
        return path
    prefix, digits, suffix = m[1], m[2], m[3]
    pattern = re.compile(f"{re.escape(prefix)}(\\d{{{len(digits)}}}){re.escape(suffix)}")
    numbers = {int(f[1]) for f in map(pattern.fullmatch, os.listdir(directory or ".")) if f}
    first = last = int(digits)
    while first - 1 in numbers:
        first -= 1
    while last + 1 in numbers:
        last += 1
    return {
        "FilePath": os.path.join(directory, f"{prefix}%0{len(digits)}d{suffix}"),
        "StartIndex": first,
        "EndIndex": last,
    }


def parse_rate(text: str) -> Fraction | None:
    """Resolve's FPS text ("23.976", "25", "29.97 DF") as an exact rate."""
    m = re.match(r"\d+(\.\d+)?", text)
    if m is None or float(m[0]) <= 0:
        return None
    value = Fraction(m[0])
    ntsc = Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001)
    if value.denominator != 1 and abs(ntsc - value) < Fraction(1, 500):
        return ntsc
    return value


def rate_text(rate: Fraction) -> str:
    """A rate as Resolve's timelineFrameRate setting writes it ("23.976", "25")."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")
