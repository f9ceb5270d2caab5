"""`proxx plan`'s decisions: SOURCE folders → clips (probed in workers) → JobSpecs.

No printing and no writing here (`proxx.cli.plan` does both). The command reads
names only: the folder walk and the card layouts are names and `lstat`s
(`proxx.content.cards`); every question about a file's content goes to a probe
worker under the probe limit (`proxx.runtime.probing`), as `proxx probe` does.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proxx.content.cards import Candidate, LeftOut, scan_sources
from proxx.content.plan import output_names
from proxx.content.preset import INDEXED_TEMPLATE, Fields
from proxx.content.spec import JOBSPEC_VERSION, validate_model
from proxx.contract.errors import ValidationError
from proxx.contract.naming import check_component
from proxx.contract.profiles import PROFILES, Engine
from proxx.contract.protocol import ProbeDecision

PLAN_PROBE_TARGET = "proxx_workers.plan_probe:plan_probe_main"
SPEC_ORDER = (
    "output_dir",
    "output_name_template",
    "codec",
    "container",
    "fps_mode",
    "proxy_profile",
    "user_metadata",
)
Prober = Callable[[list[str]], list[ProbeDecision]]


@dataclass(frozen=True)
class Clip:
    path: str
    roll: str
    layout: str
    engine: str
    reason: str
    mtime_ns: int


@dataclass
class Job:
    """One JobSpec to write: its file name (without .json), clips, and what it says."""

    name: str
    clips: list[Clip]
    spec: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    refusal: str | None = None  # why it cannot be written, with the fix


@dataclass
class Plan:
    jobs: list[Job]
    left_out: list[LeftOut]


def build_plan(
    sources: list[str],
    fields: Fields,
    *,
    created_at: str | None,
    split_by_folder: bool,
    name: str | None,
    prober: Prober,
) -> Plan:
    scan = scan_sources(sources)
    clips, left_out = _probed(_unique(scan.candidates, scan.left_out), prober)
    left_out = scan.left_out + left_out
    if split_by_folder:
        groups = _by_roll(clips)
        jobs = [
            Job(_job_name(os.path.basename(roll) or "root"), members) for roll, members in groups
        ]
        _refuse_duplicate_names(jobs)
    else:
        jobs = [Job(_job_name(name or _default_name(sources)), clips)]
    for job in jobs:
        if job.refusal is None:
            _settle(job, fields, created_at)
    return Plan(jobs, left_out)


def _unique(candidates: list[Candidate], left_out: list[LeftOut]) -> list[Candidate]:
    """A file reached from two SOURCEs is planned once, where it was first found."""
    seen: set[str] = set()
    out = []
    for c in candidates:
        if c.path in seen:
            left_out.append(LeftOut(c.path, "already planned (named by an earlier SOURCE)"))
            continue
        seen.add(c.path)
        out.append(c)
    return out


def _probed(candidates: list[Candidate], prober: Prober) -> tuple[list[Clip], list[LeftOut]]:
    decisions = prober([c.path for c in candidates]) if candidates else []
    clips, left_out = [], []
    for c, d in zip(candidates, decisions, strict=True):
        if d.engine is None:
            left_out.append(LeftOut(c.path, d.reason))
        else:
            clips.append(Clip(c.path, c.roll, c.layout, d.engine, d.reason, c.mtime_ns))
    return clips, left_out


def _by_roll(clips: list[Clip]) -> list[tuple[str, list[Clip]]]:
    """Clips grouped by camera roll, rolls in the order their first clip was found."""
    groups: dict[str, list[Clip]] = {}
    for clip in clips:
        groups.setdefault(clip.roll, []).append(clip)
    return list(groups.items())


def _default_name(sources: list[str]) -> str:
    first = os.path.abspath(sources[0])
    return os.path.splitext(os.path.basename(first))[0] or "plan"


def _job_name(name: str) -> str:
    return name.removesuffix(".json")


def _refuse_duplicate_names(jobs: list[Job]) -> None:
    seen: dict[str, Job] = {}
    for job in jobs:
        key = unicodedata.normalize("NFC", job.name).casefold()
        if key in seen:
            other = seen[key]
            job.refusal = (
                f"two camera rolls are both named {job.name!r} ({other.clips[0].roll} and "
                f"{job.clips[0].roll}), so their JobSpecs would share a name; "
                "fix: plan each in its own `proxx plan … --name NAME`"
            )
        seen[key] = job


def _settle(job: Job, fields: Fields, created_at: str | None) -> None:
    """The job's JobSpec, or why there is none (with the fix)."""
    try:
        check_component(job.name, f"{job.name}.json")
    except ValidationError as exc:
        job.refusal = f"JobSpec name: {exc}; fix: choose another with --name"
        return
    job.refusal = _engine_refusal(job.clips, fields.values.get("proxy_profile", ""))
    if job.refusal is not None:
        return
    values = fields.values
    spec: dict[str, Any] = {  # the JobSpec's own field order (README "JobSpec")
        "jobspec_version": JOBSPEC_VERSION,
        "created_at": created_at or _newest(job.clips),
        "sources": [c.path for c in job.clips],
        **{k: values[k] for k in SPEC_ORDER if k in values},
    }
    if not spec.get("user_metadata"):
        spec.pop("user_metadata", None)
    try:
        job.outputs = _names(spec, fields.template_given)
    except ValidationError as exc:
        job.refusal = f"{exc}; fix: {_fix_for(str(exc), fields.template_given)}"
        return
    job.spec = spec


def _engine_refusal(clips: list[Clip], profile_name: str) -> str | None:
    if not clips:
        return "no clip to plan: every file was left out (see why below)"
    engines = sorted({c.engine for c in clips})
    if len(engines) > 1:
        raw = [c.path for c in clips if c.engine == Engine.RESOLVE.value]
        return (
            f"camera RAW ({len(raw)} clip(s), e.g. {raw[0]}) and other media cannot share a "
            "job (one engine per job); fix: plan them apart — `--split-by folder` when each "
            "camera roll is one kind, else one `proxx plan` per kind, the RAW one with a "
            "_resolve profile"
        )
    profile = PROFILES.get(profile_name)
    if profile is not None and profile.engine.value != engines[0]:
        wanted = [p.name for p in PROFILES.values() if p.engine.value == engines[0]]
        return (
            f"profile {profile_name!r} renders with {profile.engine.value}, but these clips "
            f"route to {engines[0]}; fix: a {engines[0]} profile ({', '.join(wanted[:3])}, …)"
        )
    return None


def _names(spec: dict[str, Any], template_given: bool) -> list[str]:
    """The outputs' names; the default template falls back to {index}_… on a collision."""
    try:
        return output_names(validate_model(spec), spec["sources"])
    except ValidationError as exc:
        if template_given or "resolve to output name" not in str(exc):
            raise
    spec["output_name_template"] = INDEXED_TEMPLATE
    return output_names(validate_model(spec), spec["sources"])


def _fix_for(reason: str, template_given: bool) -> str:
    if "resolve to output name" in reason or "needs {index}" in reason:
        return "put {index} in --template (e.g. '{index}_{source_name}_proxy')"
    if "output_dir" in reason:
        return "give an absolute, existing --output-dir (or output_dir in the preset)"
    return "change the option or preset field it names"


def _newest(clips: list[Clip]) -> str:
    """created_at from the newest clip's mtime (whole seconds, UTC): never the clock."""
    newest = max(c.mtime_ns for c in clips) // 1_000_000_000
    return datetime.fromtimestamp(newest, UTC).isoformat().replace("+00:00", "Z")
