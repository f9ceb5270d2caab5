"""A clip's progress from real FFmpeg's `-progress` report (issue 19, point 1).

The fraction is output media time over the proxy's expected duration. Checked
against the frames FFmpeg had written at the same report (the truth for media
time: frames ÷ the proxy's expected frame count), at 25, 50 and 75 %, for a
forced rate and an interlaced source; the control shows that frames over source
frames (the peers' measure) would be off by the forced rate's factor.
ProRes is intra-only: no encoder lookahead between the frames counted and the
packets written.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.contract.protocol import ClipFinished, ClipProgress, FromWorker, StartJob
from workers.context import JobContext
from workers.ffmpeg import progress
from workers.jobrun import run_request

PRORES = {"codec": "prores_proxy", "container": "mov", "proxy_profile": "proxy_prores_proxy"}
Sample = tuple[float, int]  # (fraction reported, frames written by then)


@pytest.fixture
def samples(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Sample]]:
    """Every report the reader completes, with FFmpeg asked to report every 20 ms
    (its default is 500 ms: a tiny clip would render between two reports)."""
    seen: list[Sample] = []
    finish = progress.ProgressReader._finish_block

    def spy(reader: progress.ProgressReader) -> None:
        finish(reader)
        if reader.media_seconds is not None and reader.frames is not None and reader.expected:
            seen.append((reader.media_seconds / reader.expected, reader.frames))

    monkeypatch.setattr(progress.ProgressReader, "_finish_block", spy)
    monkeypatch.setattr(progress, "PROGRESS_ARGS", ("-progress", "pipe:1", "-stats_period", "0.02"))
    yield seen


def _run(spec: Path, context: JobContext) -> list[FromWorker]:
    sent: list[FromWorker] = []
    req = StartJob(
        job_id="j1", kind="run", jobspec_path=str(spec), base_dir=str(spec.parent), worker_id=0
    )
    run_request(req, sent.append, context)
    return sent


def _near(seen: list[Sample], target: float) -> Sample:
    return min(seen, key=lambda s: abs(s[0] - target))


def _interlaced(tmp_path: Path) -> Path:
    src = tmp_path / "interlaced.mov"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi"),
            *("-i", "testsrc2=size=320x180:rate=50:duration=12"),
            *("-vf", "tinterlace=interleave_top,setfield=tff"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            *("-flags", "+ildct+ilme", "-x264-params", "tff=1", str(src)),
        ],
        check=True,
    )
    return src


@pytest.mark.parametrize(
    ("source_kind", "fps_mode", "out_rate"),
    [("progressive", "force_50", 50), ("interlaced", "preserve_source", 25)],
)
def test_progress_is_output_media_time_against_the_proxys_expected_duration(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
    samples: list[Sample],
    source_kind: str,
    fps_mode: str,
    out_rate: int,
) -> None:
    seconds = 12
    if source_kind == "interlaced":
        src = _interlaced(tmp_path)
    else:
        src = clip("p25.mov", size="320x180", rate="25", seconds=seconds)
    expected_frames = seconds * out_rate

    sent = _run(job([src], fps_mode=fps_mode, **PRORES), stop_pipe[0])

    (finished,) = [m for m in sent if isinstance(m, ClipFinished)]
    assert finished.clip.status == "COMPLETED", finished.clip.failure_detail
    for target in (0.25, 0.5, 0.75):
        fraction, frames = _near(samples, target)
        assert abs(fraction - target) < 0.1, samples  # FFmpeg reported near there
        assert abs(fraction - frames / expected_frames) <= 0.05, (target, fraction, frames)
    assert _near(samples, 1.0)[0] == pytest.approx(1.0, abs=0.05)
    if fps_mode == "force_50":
        # The control: frames over the source's frames would say 200 % at the end.
        assert _near(samples, 1.0)[1] / (seconds * 25) == pytest.approx(2.0, abs=0.1)
    reports = [m for m in sent if isinstance(m, ClipProgress)]
    assert reports and all(0 <= m.fraction <= 1 and m.index == 0 for m in reports)


def test_a_clips_result_records_its_render_speed_and_average_fps(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    src = clip("p25.mov", size="320x180", rate="25", seconds=4)

    sent = _run(job([src], fps_mode="force_50", **PRORES), stop_pipe[0])

    (finished,) = [m for m in sent if isinstance(m, ClipFinished)]
    result = finished.clip
    assert result.status == "COMPLETED", result.failure_detail
    assert result.render_speed is not None and result.render_speed > 0
    assert result.average_fps is not None and result.average_fps > 0
    # Frames per second over media seconds per second is the proxy's own rate.
    assert result.average_fps / result.render_speed == pytest.approx(50, rel=0.05)


def test_reports_reach_the_supervisor_at_most_once_a_second(
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    context, parent = stop_pipe
    t0 = time.monotonic()
    sent = sum(context.progress(0, i / 10_000, i / 100) for i in range(10_000))
    elapsed = time.monotonic() - t0

    assert 1 <= sent <= 1 + int(elapsed / progress_interval())
    received = 0
    while parent.poll():
        parent.recv_bytes()
        received += 1
    assert received == sent


def progress_interval() -> float:
    from workers.context import PROGRESS_INTERVAL_S

    return PROGRESS_INTERVAL_S


def test_the_reader_takes_microseconds_from_either_key_and_ignores_garbage(
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    reader = progress.ProgressReader(0, 10.0, stop_pipe[0])
    reader.feed(b"frame=N/A\nout_time_us=N/A\nprogress=continue\n")
    assert (reader.blocks, reader.media_seconds) == (1, None)
    reader.feed(b"frame=50\nout_time_ms=2500000\nprog")  # a block split across reads
    reader.feed(b"ress=continue\n" + b"x" * 10_000)  # and a line that is not FFmpeg's
    assert (reader.blocks, reader.media_seconds, reader.frames) == (2, 2.5, 50)
    reader.feed(b"\nout_time_us=5000000\nprogress=end\n")
    assert reader.media_seconds == 5.0
