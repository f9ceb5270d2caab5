"""One progress record per job, the same wherever it is shown (issue 19).

`JobProgress` is pure: the tracker feeds it the worker's messages and the
monotonic time, and asks it for a `ProgressRecord` with the wall-clock time of
the asking. A job's fraction is media seconds done over the job's media seconds,
so a long clip weighs more than a short one; where a clip's duration is unknown
(it never is for FFmpeg after probing) every clip weighs the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from proxx.contract.clock import iso

# A speed (and so an ETA) needs this much render time behind it: the first
# moments of a render (opening the source, filling the encoder's lookahead) say
# nothing about the rest, and an ETA from them is the "hours for a 3-minute job".
MIN_SPEED_BASIS_S = 2.0
# Below 1: a job's fraction reaches 1 only when its last proxy is published.
_NOT_YET_DONE = 0.999


class ProgressRecord(BaseModel):
    """Exactly the keys `proxx status --json`, `proxx run --progress jsonl` and the
    status file carry; fractions are 0–1, times in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: str  # the deadlines' phase names (accept … render, verify, publish, finish)
    clip: int | None  # 1-based; None before the job knows its clips
    clips: int | None
    clip_fraction: float | None
    job_fraction: float | None
    speed: float | None  # × real time, of the clip being rendered
    eta_seconds: float | None  # null until a speed has MIN_SPEED_BASIS_S behind it
    updated_at: str  # UTC ISO 8601: when the record last moved
    seconds_since_progress: float


@dataclass
class _Clip:
    duration: float | None
    fraction: float = 0.0
    done: bool = False


@dataclass
class JobProgress:
    """How far one job has got, from its messages; `now` is always monotonic."""

    started: float
    phase: str = "accept"
    clips: list[_Clip] = field(default_factory=list)
    current: int | None = None  # position in `clips`
    render_started: float | None = None
    render_media: float | None = None  # media seconds of the current clip rendered
    moved_at: float = 0.0

    def __post_init__(self) -> None:
        self.moved_at = self.started

    def planned(self, durations: list[float | None]) -> None:
        self.clips = [_Clip(d) for d in durations]

    def entered(self, phase: str, now: float) -> None:
        if phase != self.phase:
            self.phase, self.moved_at = phase, now

    def clip_started(self, position: int, now: float) -> None:
        self.phase, self.moved_at = "render", now
        if 0 <= position < len(self.clips):
            self.current, self.render_started, self.render_media = position, now, None

    def advanced(
        self, position: int, fraction: float, media_seconds: float | None, now: float
    ) -> None:
        """A report from the engine; only a step forward counts as progress."""
        if position != self.current or self.current is None:
            return
        clip = self.clips[position]
        if fraction > clip.fraction:
            clip.fraction, self.moved_at = min(fraction, 1.0), now
        if media_seconds is not None:
            self.render_media = media_seconds

    def clip_finished(self, position: int, completed: bool, now: float) -> None:
        self.current = self.render_started = self.render_media = None
        if 0 <= position < len(self.clips) and completed:
            self.clips[position].fraction, self.clips[position].done = 1.0, True
            self.moved_at = now

    def speed(self, now: float) -> float | None:
        """Media seconds per wall second in the current clip's render."""
        if self.render_started is None or self.current is None or self.phase != "render":
            return None
        elapsed = now - self.render_started
        media = self.render_media
        if media is None:
            duration = self.clips[self.current].duration
            media = None if duration is None else duration * self.clips[self.current].fraction
        if media is None or media <= 0 or elapsed < MIN_SPEED_BASIS_S:
            return None
        return media / elapsed

    def job_fraction(self) -> float | None:
        if not self.clips:
            return None
        known = all(c.duration for c in self.clips)
        weights = [(c.duration or 0.0) if known else 1.0 for c in self.clips]
        done = sum(w * c.fraction for w, c in zip(weights, self.clips, strict=True))
        fraction = done / sum(weights)
        if not all(c.done for c in self.clips):
            fraction = min(fraction, _NOT_YET_DONE)
        return fraction

    def eta(self, now: float) -> float | None:
        speed = self.speed(now)
        if speed is None or not all(c.duration for c in self.clips):
            return None
        left = sum((c.duration or 0.0) * (1.0 - c.fraction) for c in self.clips)
        return left / speed

    def record(self, now: float, wall: datetime) -> ProgressRecord:
        position = self.current
        if position is None:
            # Between clips (or after the last): the last clip that finished.
            position = max((i for i, c in enumerate(self.clips) if c.done), default=None)
        since = max(0.0, now - self.moved_at)
        return ProgressRecord(
            phase=self.phase,
            clip=None if position is None else position + 1,
            clips=len(self.clips) or None,
            clip_fraction=None if position is None else _round(self.clips[position].fraction),
            job_fraction=_round(self.job_fraction()),
            speed=_round(self.speed(now)),
            eta_seconds=_round(self.eta(now), 1),
            updated_at=iso(wall - timedelta(seconds=since)),
            seconds_since_progress=round(since, 1),
        )


def describe(record: ProgressRecord) -> str:
    """One line: clip i/n and its percent, the job's percent, phase, speed, ETA."""
    parts = []
    if record.clip is not None and record.clips is not None:
        clip = f"clip {record.clip}/{record.clips}"
        if record.clip_fraction is not None:
            clip += f" {100 * record.clip_fraction:.0f}%"
        parts.append(clip)
    if record.job_fraction is not None:
        parts.append(f"job {100 * record.job_fraction:.1f}%")
    parts.append(record.phase)
    if record.speed is not None:
        parts.append(f"{record.speed:.2f}x")
    parts.append(f"ETA {_clock(record.eta_seconds)}")
    if record.seconds_since_progress >= 10:
        parts.append(f"(no progress for {record.seconds_since_progress:.0f} s)")
    return "  ".join(parts)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def from_file(info: object, now: datetime) -> ProgressRecord | None:
    """A record as a status file keeps it, its `seconds_since_progress` counted to `now`
    from `updated_at` (the file is rewritten only when the record moves); None if it is
    not one (an older runner's file, a torn one)."""
    try:
        record = ProgressRecord.model_validate(info)
        updated = datetime.fromisoformat(record.updated_at)
    except ValueError:
        return None
    since = max(0.0, (now - updated).total_seconds())
    return record.model_copy(update={"seconds_since_progress": round(since, 1)})


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
