"""From a parsed JobSpec to an executable JobPlan: every filesystem and routing check.

Everything that can be known before execution is checked here, so a job
that starts has no validation surprise left (except an output that appears
during the render, which publication refuses).
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.media import ProbeFacts
from proxx.content.routing import RouteDecision, route_job, route_source
from proxx.content.spec import JobSpec
from proxx.contract.errors import Interrupted, SystemError_, ValidationError
from proxx.contract.naming import render
from proxx.contract.profiles import (
    CONTAINER_RATES,
    FORCED_RATES,
    MIN_FRAME,
    PROFILES,
    Engine,
    fps_label,
)


@dataclass(frozen=True)
class Planned:
    plan: JobPlan
    routing_reason: str


def resolve_sources(spec: JobSpec, base_dir: str) -> list[str]:
    return [os.path.normpath(os.path.join(base_dir, s)) for s in spec.sources]


def output_names(spec: JobSpec, sources: list[str]) -> list[str]:
    # JobSpec 1.1.0 may carry each source's number in the job it came from (a
    # remainder), so {index} names match that job's; 1.0.0 numbers 1..N.
    numbers, count = spec.index_numbers()
    width = max(3, len(str(count)))
    created = spec.created
    names = []
    for i, src in enumerate(sources):
        stem, ext = os.path.splitext(os.path.basename(src))
        values = {
            "source_name": stem,
            "source_ext": ext.lstrip("."),
            "index": f"{numbers[i]:0{width}d}",
            "codec": spec.codec,
            "profile": spec.proxy_profile,
            "fps": fps_label(spec.fps_mode),
            "date": created.strftime("%Y%m%d"),
            "time": created.strftime("%H%M%S"),
        }
        names.append(render(spec.output_name_template, values, spec.container))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = unicodedata.normalize("NFC", name).casefold()
        if key in seen:
            j = seen[key]
            raise ValidationError(
                f"sources[{j}] and sources[{i}] both resolve to output name {names[j]!r}"
                + ("" if names[j] == name else f" / {name!r} (same name ignoring case)")
            )
        seen[key] = i
    return names


def check_sources(sources: list[str]) -> None:
    problems: dict[str, list[str]] = {
        "missing": [],
        "unreadable": [],
        "a directory": [],
        "not a regular file": [],
        "path unusable": [],
    }
    for src in sources:
        try:
            st = os.stat(src)
        except (FileNotFoundError, NotADirectoryError):
            problems["missing"].append(_shown(src))
            continue
        except PermissionError:
            problems["unreadable"].append(_shown(src))
            continue
        except OSError as exc:  # name too long, symlink loop …: the JobSpec's path is bad
            problems["path unusable"].append(f"{_shown(src)} ({exc.strerror})")
            continue
        if stat.S_ISDIR(st.st_mode):
            problems["a directory"].append(_shown(src))
        elif not stat.S_ISREG(st.st_mode):
            problems["not a regular file"].append(_shown(src))
        elif not os.access(src, os.R_OK):
            problems["unreadable"].append(_shown(src))
    parts = [f"source {kind}: {_listed(paths)}" for kind, paths in problems.items() if paths]
    if problems["a directory"] or any(_FRAME_PATTERN.search(p) for p in problems["missing"]):
        parts.append(SEQUENCES)
    if parts:
        raise ValidationError("; ".join(parts))


# Paths a source problem lists by name; the rest are counted. 10 000 missing sources
# (the documented maximum) would be megabytes of message, result and stderr.
LISTED = 20


def _listed(paths: list[str]) -> str:
    if len(paths) <= LISTED:
        return ", ".join(paths)
    return f"{', '.join(paths[:LISTED])} and {len(paths) - LISTED} more ({len(paths)} in all)"


# A numbered-frame pattern as FFmpeg's image2 demuxer takes it: %d, %06d …
_FRAME_PATTERN = re.compile(r"%0?\d*d")
SEQUENCES = (
    "image sequences (a folder of frames or a %06d pattern) are not sources: proxies are "
    "for movie clips; render the sequence to a movie clip first and submit that"
)


def _shown(path: str, limit: int = 300) -> str:
    """A path for a message: whole unless absurdly long (a 10 000-char name stays readable)."""
    if len(path) <= limit:
        return path
    return f"{path[: limit // 2]}…{path[-limit // 2 :]} ({len(path)} characters)"


def check_output_dir(path: str) -> None:
    if not os.path.exists(path):
        raise ValidationError(f"output_dir {path} does not exist")
    if not os.path.isdir(path):
        raise ValidationError(f"output_dir {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValidationError(f"output_dir {path} is not writable by this user")


def plan_job(
    spec: JobSpec,
    base_dir: str,
    job_id: str,
    stop: Callable[[], str | None] = lambda: None,
) -> Planned:
    """Check the JobSpec against the filesystem and route it; raise on any problem."""
    sources = resolve_sources(spec, base_dir)
    check_sources(sources)
    check_output_dir(spec.output_dir)
    outputs = _new_outputs(spec, sources)
    decisions = route_all(sources, stop)
    engine, reason = route_job(decisions)
    profile = PROFILES[spec.proxy_profile]
    if profile.engine is not engine:
        raise ValidationError(
            f"profile {profile.name!r} renders with {profile.engine.value}, but the sources "
            f"route to {engine.value} ({reason}); pick a {engine.value} profile"
        )
    plan = JobPlan(
        job_id=job_id,
        engine=engine,
        codec=spec.codec,
        container=spec.container,
        fps_mode=spec.fps_mode,
        proxy_profile=spec.proxy_profile,
        clips=_clips(spec, sources, outputs, decisions),
    )
    return Planned(plan=plan, routing_reason=reason)


def _new_outputs(spec: JobSpec, sources: list[str]) -> list[str]:
    """Each source's output path; none may exist yet (Proxx never overwrites)."""
    outputs = [os.path.join(spec.output_dir, n) for n in output_names(spec, sources)]
    existing = [o for o in outputs if os.path.lexists(o)]
    if existing:
        raise ValidationError(
            f"output already exists (Proxx never overwrites): {', '.join(existing)}"
        )
    return outputs


def _clips(
    spec: JobSpec, sources: list[str], outputs: list[str], decisions: list[RouteDecision]
) -> list[ClipPlan]:
    clips = []
    for i, (src, out, dec) in enumerate(zip(sources, outputs, decisions, strict=True)):
        if dec.facts is None:
            raise SystemError_(f"{src}: no probe facts for a routed source")
        _check_frame_size(spec, src, dec.facts)
        _check_audio(spec, src, dec.facts)
        clips.append(ClipPlan(index=i, source_path=src, output_path=out, source=dec.facts))
    return clips


def route_all(sources: list[str], stop: Callable[[], str | None]) -> list[RouteDecision]:
    """Route every source in order; `stop()` is asked before each (a stop, or None).

    Probing is in-process (PyAV) and takes about a millisecond a file, so one at
    a time: no threads in a worker (they would complicate what it starts with
    PR_SET_PDEATHSIG). A probe that hangs (a FIFO, a dead mount) is the probe
    phase's deadline to end, which kills this worker.
    """
    decisions = []
    for src in sources:
        reason = stop()
        if reason is not None:
            raise Interrupted(f"{reason} while probing sources; nothing was executed")
        decisions.append(route_source(src))
    return decisions


# FFmpeg's AAC encoder (the audio of H.264/HEVC proxies) knows a layout for 1–8 and for
# 16 channels in one stream; any other count fails when the encoder opens. Said here,
# before anything renders, with the profiles that keep any count (PCM).
AAC_CHANNELS = frozenset([*range(1, 9), 16])


def _check_audio(spec: JobSpec, src: str, facts: ProbeFacts) -> None:
    if PROFILES[spec.proxy_profile].engine is not Engine.FFMPEG or spec.codec not in (
        "h264",
        "hevc",
    ):
        return
    for i, stream in enumerate(facts.audio):
        if (stream.channels or 1) not in AAC_CHANNELS:
            raise ValidationError(
                f"{src}: audio stream {i} has {stream.channels} channels; the AAC audio of "
                f"{spec.codec} proxies carries 1–8 or 16 channels a stream; use a ProRes or "
                "DNxHR profile (PCM keeps any channel count)"
            )


def _check_frame_size(spec: JobSpec, src: str, facts: ProbeFacts) -> None:
    video = facts.video
    if PROFILES[spec.proxy_profile].engine is not Engine.FFMPEG or video is None:
        return
    if video.width <= 0 or video.height <= 0 or video.frame_rate is None:
        raise ValidationError(f"{src}: video stream reports no frame size or frame rate")
    # The rate the proxy will have: a forced one, else the source's conform rate
    # (a VFR source's standard rate), not its raw nominal guess.
    rate = FORCED_RATES.get(spec.fps_mode) or facts.conform_rate() or Fraction(video.frame_rate)
    rates = CONTAINER_RATES.get(spec.container)
    if rates is not None and rate not in rates:
        raise ValidationError(
            f"{src}: {spec.container} cannot carry {rate} fps (FFmpeg writes MXF only at "
            f"broadcast rates); use fps_mode force_<rate> or another container"
        )
    minimum = MIN_FRAME.get(spec.codec)
    if minimum is None:
        return
    w, h = PROFILES[spec.proxy_profile].size.target(*facts.display_size())
    if w < minimum[0] or h < minimum[1]:
        raise ValidationError(
            f"{src}: profile {spec.proxy_profile!r} would render {w}×{h}, but {spec.codec} "
            f"needs at least {minimum[0]}×{minimum[1]}; use a larger source or another codec"
        )
