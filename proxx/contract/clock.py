"""UTC timestamps in one format everywhere in results and logs; durations by the
monotonic clock.

A wall clock can be stepped (NTP after a boot, an operator, a VM restored): a job
timed by it once read `duration_seconds: -10797.1`. `utc_now()` therefore returns an
`Instant`, a UTC datetime that also holds the monotonic clock's reading, and
`elapsed` measures between two of them by that reading.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Instant(datetime):
    """A UTC datetime taken together with `time.monotonic()` (its `mono`)."""

    mono: float


def utc_now() -> datetime:
    mono = time.monotonic()
    now = datetime.now(UTC)
    instant = Instant(
        now.year, now.month, now.day, now.hour, now.minute, now.second, now.microsecond, UTC
    )
    instant.mono = mono
    return instant


def elapsed(start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end`: by the monotonic clock when both were taken by
    `utc_now()` in this process; else (a start read back from a file, e.g. a Slurm
    job's submission) by the wall clock, never below zero."""
    if isinstance(start, Instant) and isinstance(end, Instant):
        return end.mono - start.mono
    return max(0.0, (end - start).total_seconds())


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
