"""Variable-rate sources become a standard constant rate of the same length (issue 13).

Rate changes, jitter and long freezes, rendered for real, and docs/MEDIA.md's rule
for picking the rate (never a rate guessed from a timebase).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from testkit import ffprobe, video
from tests.media_kinds_helpers import H264, VFR, made, run_job

STANDARD = [
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
]


def _expected_rate(v: dict[str, Any]) -> Fraction:
    """docs/MEDIA.md's VFR rule, from ffprobe's numbers."""
    nominal, average = Fraction(v["r_frame_rate"]), Fraction(v["avg_frame_rate"])
    if nominal == average or nominal in STANDARD:
        return nominal
    return min(STANDARD, key=lambda r: (abs(r - average), r))


@pytest.mark.parametrize("kind", list(VFR))
def test_a_variable_rate_source_becomes_a_standard_constant_rate_of_the_same_length(
    clip_cache: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    lavfi, setpts, frames = VFR[kind]
    src = made(
        clip_cache,
        f"vfr_{kind}.mp4",
        "-f",
        "lavfi",
        "-i",
        lavfi,
        "-vf",
        setpts,
        "-frames:v",
        str(frames),
        "-fps_mode",
        "passthrough",
        "-video_track_timescale",
        "600",
        *H264,
    )
    v_in = video(ffprobe(src, "-count_packets"))
    assert int(v_in["nb_read_packets"]) == frames
    duration = Fraction(v_in["duration"])

    clip = run_job(tmp_path, src)

    v_out = video(ffprobe(clip["output_path"], "-count_packets"))
    rate = Fraction(v_out["r_frame_rate"])
    assert rate == Fraction(v_out["avg_frame_rate"]) == _expected_rate(v_in)  # constant
    assert rate in STANDARD  # never an exotic rate from a timebase
    assert abs(int(v_out["nb_read_packets"]) - duration * rate) <= 1  # same duration
    if Fraction(v_in["r_frame_rate"]) != Fraction(v_in["avg_frame_rate"]):
        assert any("variable frame rate" in n for n in clip["fidelity"]["notes"])


def test_the_vfr_rule_never_keeps_a_rate_guessed_from_a_timebase() -> None:
    # libav's guess for a 30→24 fps phone clip can be the timebase multiple 120;
    # the average (≈ 27.7) decides, among standard rates only. (A real file whose
    # guess is 120 could not be made here: FFmpeg 5.1 and 8 both guess 30 for ours.)
    from proxx.content.media import parse_probe_json

    facts = parse_probe_json(
        "/m/phone.mov",
        {
            "streams": [
                {
                    "codec_type": "video",
                    "codec_name": "hevc",
                    "width": 1920,
                    "height": 1080,
                    "r_frame_rate": "120/1",
                    "avg_frame_rate": "1035/37",
                    "duration": "2.466667",
                    "nb_frames": "69",
                }
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "2.466667"},
        },
    )

    assert facts.conform_rate() == Fraction(30000, 1001)
    assert facts.frame_count_at_rate(facts.conform_rate()) == 74
