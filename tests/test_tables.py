"""The contract's tables: profile frame sizes, result status and exit codes, probe facts.

No processes here: each table is checked against the rules it publishes, with
hypothesis for the properties that must hold for any input.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from proxx.contract.errors import ExitCode, FailureReason
from proxx.contract.profiles import (
    CODECS,
    PROFILES,
    Engine,
    FrameSize,
)
from proxx.contract.results import ClipResult, build_result, job_status

FFMPEG_PROFILES = [p for p in PROFILES.values() if p.engine is Engine.FFMPEG]


# -- profile tables ------------------------------------------------------------------------------


def test_ffmpeg_profiles_have_encoder_settings_for_their_codecs() -> None:
    from workers.expect import EXPECTED_CODEC
    from workers.ffmpeg.args import _VIDEO

    for p in FFMPEG_PROFILES:
        assert p.name in _VIDEO and all(c in EXPECTED_CODEC for c in p.codecs), p.name
    assert {c for p in FFMPEG_PROFILES for c in p.codecs} == set(CODECS)


@given(
    scale=st.sampled_from([p.size for p in PROFILES.values()]),
    width=st.integers(2, 8192),
    height=st.integers(2, 4320),
)
def test_frame_sizes_are_even_positive_and_never_upscaled(
    scale: FrameSize, width: int, height: int
) -> None:
    w, h = scale.target(width, height)
    assert w % 2 == 0 and h % 2 == 0 and w >= 2 and h >= 2
    assert w <= max(2, width + 1) and h <= max(2, height + 1)
    if scale.kind == "height":
        assert h <= max(2, int(scale.value))


def test_frame_size_examples() -> None:
    assert PROFILES["proxy_h264_low"].size.target(1920, 1080) == (960, 540)
    assert PROFILES["proxy_h264_quarter"].size.target(3840, 2160) == (960, 540)
    assert PROFILES["proxy_h264_720"].size.target(3840, 2160) == (1280, 720)
    assert PROFILES["proxy_h264_720"].size.target(640, 360) == (640, 360)  # no upscale


# -- result status and exit codes -----------------------------------------------------------------


def _clip(status: str, reason_: FailureReason | None = None, system: bool = False) -> ClipResult:
    return ClipResult(
        source_path="/s.mov",
        output_path="/o.mov",
        status=status,
        engine="ffmpeg",
        failure_reason=reason_,
        system_error=system,
    )


@pytest.mark.parametrize(
    ("clips", "status", "code"),
    [
        (["COMPLETED", "COMPLETED"], "COMPLETED", ExitCode.COMPLETED),
        ([("FAILED", FailureReason.EXECUTION_ERROR), "SKIPPED"], "FAILED", ExitCode.EXECUTION),
        (
            ["COMPLETED", ("FAILED", FailureReason.OUTPUT_MISSING), "SKIPPED"],
            "PARTIAL",
            ExitCode.PARTIAL,
        ),
        ([("FAILED", FailureReason.ENGINE_UNAVAILABLE)], "FAILED", ExitCode.SYSTEM),
        ([("FAILED", FailureReason.EXECUTION_ERROR, True)], "FAILED", ExitCode.SYSTEM),
        (["COMPLETED", ("FAILED", FailureReason.INTERRUPTED)], "PARTIAL", ExitCode.INTERRUPTED),
        ([("FAILED", FailureReason.WORKER_CRASHED)], "FAILED", ExitCode.EXECUTION),
        ([("FAILED", FailureReason.TIMEOUT)], "FAILED", ExitCode.EXECUTION),
    ],
)
def test_status_and_exit_code_follow_the_clips(clips: list[Any], status: str, code: int) -> None:
    built = [_clip(c) if isinstance(c, str) else _clip(*c) for c in clips]
    result = build_result(
        job_id="j",
        jobspec_version="1.0.0",
        started=datetime.now(UTC) - timedelta(seconds=1),
        clips=built,
        fingerprint="sha256:" + "0" * 64,
        jobspec_path="/j.json",
    )
    assert (result.status, result.exit_code()) == (status, code)
    assert job_status(built) == status
    assert result.total_clips == len(clips)
    assert result.successful_clips + result.failed_clips + result.skipped_clips == len(clips)
    assert result.started_at.endswith("Z") and result.ended_at.endswith("Z")


def test_validation_and_system_errors_map_to_1_and_4() -> None:
    kw: dict[str, Any] = {
        "job_id": "j",
        "jobspec_version": None,
        "clips": [],
        "started": datetime.now(timezone(timedelta(hours=2))),
        "fingerprint": "sha256:" + "0" * 64,
        "jobspec_path": None,
    }
    assert build_result(validation_error="bad", **kw).exit_code() == ExitCode.VALIDATION
    system = build_result(system_error="ffprobe missing", **kw)
    assert (system.status, system.exit_code()) == ("FAILED", ExitCode.SYSTEM)
    assert system.started_at.endswith("Z")


# -- probe facts (what routing and verification decide on) ----------------------------------------

_probe_text = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        ["0/0", "1/0", "25/1", "24000/1001", "-25/1", "4:3", "0:1", "90", "-90", "270.0", "junk"]
    ),
)


@given(
    rate=_probe_text,
    avg=_probe_text,
    sar=_probe_text,
    rotation=_probe_text,
    duration=_probe_text,
    nb=_probe_text,
)
# Found by this test: float("INFINITY") parses, and rounding it overflows.
@example(rate=None, avg=None, sar=None, rotation="INFINITY", duration=None, nb=None)
@example(rate="inf/1", avg="nan", sar="1e999:1", rotation="-inf", duration="1e999", nb="nan")
def test_probe_parsing_never_raises_on_odd_values(
    rate: str | None,
    avg: str | None,
    sar: str | None,
    rotation: str | None,
    duration: str | None,
    nb: str | None,
) -> None:
    from proxx.content.media import parse_probe_json

    facts = parse_probe_json(
        "/x.mov",
        {
            "format": {"duration": duration},
            "streams": [
                {
                    "codec_type": "video",
                    "width": 1920,
                    "height": 1080,
                    "r_frame_rate": rate,
                    "avg_frame_rate": avg,
                    "sample_aspect_ratio": sar,
                    "nb_frames": nb,
                    "side_data_list": [{"rotation": rotation}],
                    "tags": {"DURATION": duration},
                }
            ],
        },
    )
    w, h = facts.display_size()
    assert w > 0 and h > 0
    assert facts.video is not None
    for r in (facts.video.frame_rate, facts.video.avg_frame_rate):
        assert r is None or Fraction(r) > 0
    count = facts.frame_count_at_rate()
    assert count is None or isinstance(count, int)


@pytest.mark.parametrize(
    ("stream", "shown"),
    [
        ({}, (1920, 1080)),
        ({"side_data_list": [{"rotation": -90}]}, (1080, 1920)),
        ({"side_data_list": [{"rotation": 180}]}, (1920, 1080)),
        ({"tags": {"rotate": "270"}}, (1080, 1920)),
        ({"sample_aspect_ratio": "4:3", "width": 1440}, (1920, 1080)),
        ({"sample_aspect_ratio": "1:1"}, (1920, 1080)),
        ({"sample_aspect_ratio": "0:1"}, (1920, 1080)),  # "unknown" in FFmpeg's words
    ],
)
def test_display_size(stream: dict[str, Any], shown: tuple[int, int]) -> None:
    from proxx.content.media import parse_probe_json

    raw = {"codec_type": "video", "width": 1920, "height": 1080, "r_frame_rate": "25/1", **stream}
    assert parse_probe_json("/x", {"streams": [raw]}).display_size() == shown
