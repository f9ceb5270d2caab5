"""An Avid Log Exchange (ALE) of a job's proxies, written by OpenTimelineIO's ALE adapter.

One line per completed proxy: Name (the camera clip's name), Tape (its reel), Start
and End (the proxy's own start timecode, End exclusive as Avid counts it), Duration,
FPS and Source File (the proxy's file name, what Avid links to). An ALE has one
frame rate in its heading, so a job whose proxies have several rates gets one ALE
per rate, chosen with `--ale-rate`: timecodes are never converted between rates.
Made from the result alone (its verified proxy facts): no media is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from proxx.contract.results import ClipResult, JobResult
from proxx.deliver.table import ReportRefused


@dataclass(frozen=True)
class AleOut:
    text: bytes
    rate: str  # as in the heading (FPS)
    written: list[str]  # proxy file names, one line each
    left_out: list[str]  # "name: why", for the completed proxies not in this ALE


def fps_label(rate: str) -> str:
    """Avid's name for a rate: 25, 23.976, 29.97 (an NTSC rate to three decimals)."""
    r = Fraction(rate)
    return str(r.numerator) if r.denominator == 1 else f"{float(r):.3f}".rstrip("0")


def render_ale(result: JobResult, rate: str | None = None) -> AleOut:
    import opentimelineio as otio  # the extra `proxx[deliver]`

    done = [(c, f) for c in result.clips if c.status == "COMPLETED" and (f := _facts(c))]
    if not done:
        raise ReportRefused("the job has no completed proxy with verified facts: no ALE")
    rates = sorted({fps_label(f.frame_rate) for _, f in done}, key=float)
    chosen = _choose(rates, rate)
    # OTIO's timecode needs the exact rate (24000/1001, not 23.976); every proxy here has it.
    fps = float(Fraction(next(f.frame_rate for _, f in done if fps_label(f.frame_rate) == chosen)))
    clips, left_out = [], []
    for c, f in done:
        name = os.path.basename(c.output_path or "")
        if fps_label(f.frame_rate) != chosen:
            left_out.append(f"{name}: {fps_label(f.frame_rate)} fps, not {chosen}")
        elif not f.timecode:
            left_out.append(f"{name}: the proxy has no start timecode")
        else:
            clips.append(_clip(otio, c, f, fps, chosen))
    if not clips:
        raise ReportRefused(f"no completed proxy at {chosen} fps has a timecode: no ALE")
    collection = otio.schema.SerializableCollection(name=result.job_id, children=clips)
    collection.metadata["ALE"] = {"columns": list(COLUMNS)}
    text = otio.adapters.write_to_string(collection, adapter_name="ale", fps=fps)
    # The adapter heads the file with the float it counted in (23.976023976023978); Avid
    # names a rate as 23.976, which the adapter reads back as exactly 24000/1001.
    written = f"\nFPS\t{fps}\n"
    if written not in text:
        raise ReportRefused(f"the ALE adapter wrote no FPS heading line {written.strip()!r}")
    text = text.replace(written, f"\nFPS\t{chosen}\n", 1)
    return AleOut(text.encode("utf-8"), chosen, [c.name for c in clips], left_out)


COLUMNS = ("Name", "Tape", "Start", "End", "Duration", "FPS", "Source File")


def _choose(rates: list[str], asked: str | None) -> str:
    if asked is not None:
        label = fps_label(asked) if "/" in asked else asked
        if label not in rates:
            raise ReportRefused(
                f"no completed proxy is at {asked} fps (they are: {', '.join(rates)})"
            )
        return label
    if len(rates) > 1:
        raise ReportRefused(
            f"the proxies have {len(rates)} frame rates ({', '.join(rates)}) and an ALE holds "
            "one: write one per rate with --ale-rate RATE"
        )
    return rates[0]


@dataclass(frozen=True)
class _Facts:
    frame_rate: str
    frames: int
    timecode: str | None
    reel: str | None


def _facts(clip: ClipResult) -> _Facts | None:
    """The proxy's verified facts (the ALE describes the file Avid links to)."""
    proxy = clip.fidelity.proxy if clip.fidelity else None
    if proxy is None or not proxy.frame_rate or proxy.frames is None:
        return None
    return _Facts(proxy.frame_rate, proxy.frames, proxy.timecode, proxy.reel_name)


def _clip(otio: Any, clip: ClipResult, facts: _Facts, fps: float, label: str) -> Any:
    start = otio.opentime.from_timecode(facts.timecode, fps)
    duration = otio.opentime.RationalTime(facts.frames, fps)
    name = os.path.basename(clip.output_path or "")
    stem = os.path.splitext(os.path.basename(clip.source_path))[0]
    return otio.schema.Clip(
        name=stem,
        media_reference=otio.schema.ExternalReference(target_url=name),
        source_range=otio.opentime.TimeRange(start, duration),
        metadata={"ALE": {"Tape": facts.reel or "", "FPS": label}},
    )
