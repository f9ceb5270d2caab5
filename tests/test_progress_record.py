"""One progress record per job, and stalls named (issue 19, points 2 and 4).

The tracker alone, fed messages and times: what the record says at each step
of a two-clip job, and when a render counts as stalled (never while it moves).
"""

from __future__ import annotations

from datetime import UTC, datetime

from proxx.contract.deadlines import Deadlines
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import (
    ClipFinished,
    ClipProgress,
    ClipStarted,
    JobNote,
    JobPlanned,
    PhaseStarted,
    PlannedClip,
    StartJob,
)
from proxx.contract.results import ClipResult
from proxx.runtime.tracker import JobTracker, SendCancel
from testkit import PROGRESS_KEYS

T0 = 1000.0
WALL = datetime(2026, 12, 7, 3, 0, 0, tzinfo=UTC)
REQ = StartJob(job_id="j1", kind="run", jobspec_path="/w/a.json", base_dir="/w", worker_id=0)
# A 30 s clip and a 10 s one: the first is three quarters of the job.
PLANNED = JobPlanned(
    job_id="j1",
    jobspec_version="1.0.0",
    fingerprint="sha256:" + "1" * 64,
    engine="ffmpeg",
    routing_reason="r",
    clips=[
        PlannedClip(index=i, source_path=f"/s/{i}.mov", output_path=f"/o/{i}.mov", duration=d)
        for i, d in enumerate((30.0, 10.0))
    ],
)


def _tracker(stall: float = 300.0) -> JobTracker:
    t = JobTracker(REQ, Deadlines(stall=stall), T0, worker_id=0)
    t.on_message(PhaseStarted(job_id="j1", phase="read"), T0)
    t.on_message(PLANNED, T0 + 0.1)
    return t


def _start(t: JobTracker, index: int, now: float) -> None:
    t.on_message(ClipStarted(job_id="j1", index=index, started_at="x", ffmpeg_command=None), now)


def _progress(t: JobTracker, index: int, media: float, duration: float, now: float) -> None:
    t.on_message(
        ClipProgress(job_id="j1", index=index, fraction=media / duration, media_seconds=media),
        now,
    )


def _finish(t: JobTracker, index: int, now: float) -> None:
    clip = ClipResult(
        source_path=f"/s/{index}.mov", output_path=f"/o/{index}.mov", status="COMPLETED", engine="f"
    )
    t.on_message(ClipFinished(job_id="j1", clip=clip, index=index), now)


def test_the_record_has_exactly_the_keys_and_says_nothing_it_does_not_know() -> None:
    t = JobTracker(REQ, Deadlines(), T0, worker_id=0)

    record = t.progress_record(T0 + 1.5, WALL).model_dump()

    assert set(record) == PROGRESS_KEYS
    assert record == {
        "phase": "accept",
        "clip": None,
        "clips": None,
        "clip_fraction": None,
        "job_fraction": None,
        "speed": None,
        "eta_seconds": None,
        "updated_at": "2026-12-07T02:59:58.500Z",
        "seconds_since_progress": 1.5,
    }


def test_the_job_fraction_weighs_clips_by_their_media_seconds() -> None:
    t = _tracker()
    _start(t, 0, T0 + 1)
    _progress(t, 0, 15.0, 30.0, T0 + 6)  # half of the long clip: 3 s of render, 5x

    r = t.progress_record(T0 + 6, WALL)
    assert (r.phase, r.clip, r.clips, r.clip_fraction) == ("render", 1, 2, 0.5)
    assert r.job_fraction == 0.375  # 15 of 40 media seconds, not half of one of two clips
    assert r.speed == 3.0  # 15 media seconds in 5 s of render
    assert r.eta_seconds == round(25.0 / 3.0, 1)  # 25 media seconds left at 3x

    t.on_message(PhaseStarted(job_id="j1", phase="verify", basis=30.0), T0 + 11)
    t.on_message(PhaseStarted(job_id="j1", phase="publish", basis=30.0), T0 + 12)
    r = t.progress_record(T0 + 12, WALL)
    assert (r.phase, r.speed, r.eta_seconds) == ("publish", None, None)
    _finish(t, 0, T0 + 13)
    r = t.progress_record(T0 + 13, WALL)
    assert (r.phase, r.clip, r.clip_fraction, r.job_fraction) == ("finish", 1, 1.0, 0.75)


def test_the_job_fraction_reaches_one_only_when_the_last_proxy_is_published() -> None:
    t = _tracker()
    _start(t, 0, T0 + 1)
    _finish(t, 0, T0 + 2)
    _start(t, 1, T0 + 3)
    _progress(t, 1, 10.0, 10.0, T0 + 5)  # FFmpeg wrote it all: not yet verified or published

    r = t.progress_record(T0 + 5, WALL)
    assert (r.clip, r.clip_fraction) == (2, 1.0)
    assert r.job_fraction is not None and r.job_fraction < 1.0

    _finish(t, 1, T0 + 6)
    assert t.progress_record(T0 + 6, WALL).job_fraction == 1.0


def test_no_eta_before_the_render_has_two_seconds_behind_it() -> None:
    t = _tracker()
    _start(t, 0, T0 + 1)
    _progress(t, 0, 9.0, 30.0, T0 + 2)  # a first second says little about the rest

    r = t.progress_record(T0 + 2, WALL)
    assert (r.speed, r.eta_seconds) == (None, None)
    assert r.clip_fraction == 0.3


def test_seconds_since_progress_counts_from_the_last_step_forward() -> None:
    t = _tracker()
    _start(t, 0, T0 + 1)
    _progress(t, 0, 6.0, 30.0, T0 + 4)
    _progress(t, 0, 6.0, 30.0, T0 + 8)  # a report that did not move is no progress

    r = t.progress_record(T0 + 10, WALL)
    assert r.seconds_since_progress == 6.0
    assert r.updated_at == "2026-12-07T02:59:54.000Z"


def test_a_render_that_stands_still_for_the_limit_is_cancelled_as_timeout() -> None:
    t = _tracker(stall=60.0)
    _start(t, 0, T0 + 1)
    _progress(t, 0, 3.0, 30.0, T0 + 5)

    assert t.next_deadline() == T0 + 65
    assert t.due(T0 + 64.9) == []
    assert t.due(T0 + 65) == [
        SendCancel("no progress for 60 s in phase render", discard_partial=True)
    ]
    assert t.stop is not None and t.stop.failure is FailureReason.TIMEOUT


def test_a_slow_render_that_keeps_moving_is_never_cancelled() -> None:
    t = _tracker(stall=60.0)
    _start(t, 0, T0 + 1)
    # A media second every 58 s (1/58 x real time), for 14.5 minutes: inside the
    # clip's own render limit (300 + 20 x 30 s), which still applies.
    for step in range(1, 16):
        now = T0 + 1 + 58 * step
        assert t.due(now - 0.5) == []
        _progress(t, 0, float(step), 30.0, now)
    assert t.stop is None


def test_waiting_in_line_for_resolve_stops_the_stall_clock() -> None:
    t = _tracker(stall=60.0)
    _start(t, 0, T0 + 1)
    t.on_message(JobNote(job_id="j1", note="waiting for Resolve", waiting=True), T0 + 2)

    assert t.due(T0 + 500) == []
    t.on_message(JobNote(job_id="j1", note="Resolve is ours"), T0 + 500)
    assert t.due(T0 + 559) == []
    assert t.due(T0 + 560) == [
        SendCancel("no progress for 60 s in phase render", discard_partial=True)
    ]
