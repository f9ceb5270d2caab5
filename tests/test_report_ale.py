"""`proxx report --ale`: an Avid ALE written by OpenTimelineIO's ALE adapter, read back by it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest

from tests.report_jobs import demo_result, report

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

__all__ = ["demo_result"]  # a module fixture, used by name


def read_ale(path: Path) -> list[Any]:
    return list(otio.adapters.read_from_file(str(path), adapter_name="ale").find_clips())


def test_the_ale_reads_back_with_the_clips_timecodes(demo_result: Path, tmp_path: Path) -> None:
    pal, ntsc = tmp_path / "25.ale", tmp_path / "23976.ale"
    proc = report(demo_result, "--ale", pal, "--ale-rate", "25")
    assert proc.returncode == 0, proc.stderr
    assert "ALE: left out A001_C002_street_proxy.mov: 23.976 fps, not 25" in proc.stderr
    clips = read_ale(pal)
    assert [c.name for c in clips] == ["A001_C001_sunrise", "B001_C001_interview"]
    assert [c.media_reference.target_url for c in clips] == [
        "A001_C001_sunrise_proxy.mov",
        "B001_C001_interview_proxy.mov",
    ]
    assert [c.metadata["ALE"]["Tape"] for c in clips] == ["A001", "B001"]
    starts = [otio.opentime.to_timecode(c.source_range.start_time, 25) for c in clips]
    ends = [otio.opentime.to_timecode(c.source_range.end_time_exclusive(), 25) for c in clips]
    assert starts == ["01:00:00:00", "10:00:00:00"]
    assert ends == ["01:00:02:00", "10:00:02:00"]  # 50 frames each, End exclusive
    assert "FPS\t25\n" in pal.read_text()

    proc = report(demo_result, "--ale", ntsc, "--ale-rate", "24000/1001")
    assert proc.returncode == 0, proc.stderr
    (street,) = read_ale(ntsc)
    rate = street.source_range.start_time.rate
    assert street.name == "A001_C002_street" and street.metadata["ALE"]["Tape"] == "A001"
    assert otio.opentime.to_timecode(street.source_range.start_time, rate) == "01:02:10:12"
    assert street.source_range.duration.to_frames() == 48
    assert "FPS\t23.976\n" in ntsc.read_text()


def test_mixed_rates_are_refused_without_a_chosen_rate(demo_result: Path, tmp_path: Path) -> None:
    ale = tmp_path / "job.ale"
    proc = report(demo_result, "--ale", ale)
    assert proc.returncode == 1
    assert "the proxies have 2 frame rates (23.976, 25)" in proc.stderr
    assert not ale.exists()
    wrong = report(demo_result, "--ale", ale, "--ale-rate", "30")
    assert wrong.returncode == 1 and "no completed proxy is at 30 fps" in wrong.stderr


def test_the_ale_lists_only_completed_proxies(tmp_path: Path, demo_result: Path) -> None:
    result = json.loads(demo_result.read_text())
    failed = result["clips"][2]
    failed.update(status="FAILED", failure_reason="execution_error", failure_detail="test")
    edited = tmp_path / "edited.result.json"
    edited.write_text(json.dumps(result))
    ale = tmp_path / "job.ale"
    proc = report(edited, "--ale", ale, "--ale-rate", "25")
    assert proc.returncode == 0, proc.stderr
    assert [c.name for c in read_ale(ale)] == ["A001_C001_sunrise"]


def test_a_rate_without_an_ale_is_refused(demo_result: Path) -> None:
    proc = report(demo_result, "--ale-rate", "25")
    assert proc.returncode == 1 and "give --ale FILE" in proc.stderr and proc.stdout == ""
