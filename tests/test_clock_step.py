"""A wall clock stepped back mid-job never gives a negative duration (finding 11, issue 18).

Before, `duration_seconds` was ended_at − started_at, and a clock stepped back 3 h
mid-job gave -10 797 s. The step is simulated in-process (the wall clock that
`utc_now` reads jumps back 3 h; the monotonic clock runs on, as when NTP or an
operator steps the system clock): stepping this machine's clock would disturb
everything else on it, and libfaketime (tried) breaks `time.sleep` in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proxx.contract import clock
from proxx.contract.results import not_started


class _SteppedBack(datetime):
    @classmethod
    def now(cls, tz: object = None) -> _SteppedBack:
        real = datetime.now(UTC) - timedelta(hours=3)
        return cls.fromtimestamp(real.timestamp(), UTC)


def test_a_wall_clock_stepped_back_mid_job_leaves_the_duration_true(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = clock.utc_now()
    monkeypatch.setattr(clock, "datetime", _SteppedBack)  # the step, mid-job
    result = not_started("j", "/x.json", started, validation_error="x")
    assert result.ended_at < result.started_at  # the wall clock did step back
    assert 0 <= result.duration_seconds < 60, result.duration_seconds


def test_control_a_start_read_back_from_a_file_is_timed_by_the_wall_clock() -> None:
    # A Slurm job's submission time comes from its sidecar: no monotonic reading.
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert clock.elapsed(start, start + timedelta(seconds=90)) == 90
    assert clock.elapsed(start, start - timedelta(hours=3)) == 0  # never negative
