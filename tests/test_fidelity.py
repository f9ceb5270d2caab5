"""What a proxy keeps of its source, checked with ffprobe directly (not Proxx's own probe).

preserve_source: frame count, exact frame rate, start timecode (and reel_name
in MOV), audio channel layout per stream (mono, stereo, 5.1, none).
force_<rate>: the exact rational rate and a frame count that matches the duration.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from proxx.contract.profiles import FORCED_RATES, fps_label
from testkit import ffprobe, run_cli, video


def channels(info: dict[str, Any]) -> list[int]:
    return [s["channels"] for s in info["streams"] if s["codec_type"] == "audio"]


def timecode(info: dict[str, Any]) -> str | None:
    for s in info["streams"]:
        if "timecode" in s.get("tags", {}):
            return str(s["tags"]["timecode"])
    tc = info["format"].get("tags", {}).get("timecode")
    return None if tc is None else str(tc)


def reel(info: dict[str, Any]) -> str | None:
    for s in info["streams"]:
        if "reel_name" in s.get("tags", {}):
            return str(s["tags"]["reel_name"])
    return None


def render(job: Callable[..., Path], sources: list[Path], **overrides: Any) -> dict[str, Any]:
    proc = run_cli("run", str(job(sources, **overrides)))
    result: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, (result["validation_error"], result["clips"])
    return result


PRESERVE = {
    "h264-mov-stereo-reel": (
        {"rate": "25", "audio_channels": 2, "timecode": "01:00:00:00", "reel": "A001"},
        {"codec": "h264", "container": "mov", "proxy_profile": "proxy_h264_low"},
        ("h264", (32, 18)),
    ),
    "h264-mp4-mono-23.976": (
        {"rate": "24000/1001", "audio_channels": 1, "timecode": "00:59:59:12"},
        {"codec": "h264", "container": "mp4", "proxy_profile": "proxy_h264_quarter"},
        ("h264", (16, 8)),
    ),
    "prores-mov-5.1-29.97-dropframe": (
        {"rate": "30000/1001", "audio_channels": 6, "timecode": "01:00:00;00", "reel": "B007"},
        {"codec": "prores_proxy", "container": "mov", "proxy_profile": "proxy_prores_proxy"},
        ("prores", (32, 18)),
    ),
    "hevc-mp4-no-audio-no-timecode": (
        {"rate": "25", "audio_channels": 0, "timecode": None},
        {"codec": "hevc", "container": "mp4", "proxy_profile": "proxy_hevc_low"},
        ("hevc", (32, 18)),
    ),
    "dnxhr-mxf-stereo": (
        {"size": "640x360", "rate": "25", "audio_channels": 2, "timecode": "10:00:00:00"},
        {"codec": "dnxhr_lb", "container": "mxf", "proxy_profile": "proxy_dnxhr_lb"},
        ("dnxhd", (320, 180)),
    ),
    "dnxhr-mov-5.1-50fps": (
        {
            "size": "640x360",
            "rate": "50",
            "audio_channels": 6,
            "timecode": "23:59:59:49",
            "reel": "C003",
        },
        {"codec": "dnxhr_sq", "container": "mov", "proxy_profile": "proxy_dnxhr_sq_1080"},
        ("dnxhd", (640, 360)),  # 1080 high, never upscaled
    ),
}


@pytest.mark.parametrize("case", list(PRESERVE), ids=list(PRESERVE))
def test_preserve_source_keeps_frames_rate_timecode_and_audio(
    case: str, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    source_kw, spec_kw, (codec_name, size) = PRESERVE[case]
    src = clip(f"fidelity_{case}.mov", **source_kw)
    result = render(job, [src], **spec_kw)
    out = result["clips"][0]["output_path"]
    assert out.endswith("." + spec_kw["container"])
    before, after = ffprobe(src, "-count_packets"), ffprobe(out, "-count_packets")
    v_in, v_out = video(before), video(after)

    assert v_out["codec_name"] == codec_name
    assert (v_out["width"], v_out["height"]) == size
    assert v_out["r_frame_rate"] == v_in["r_frame_rate"]
    assert Fraction(v_out["r_frame_rate"]) == Fraction(str(source_kw["rate"]))
    assert int(v_out["nb_read_packets"]) == int(v_in["nb_read_packets"])
    assert (
        channels(after)
        == channels(before)
        == ([source_kw["audio_channels"]] if source_kw["audio_channels"] else [])
    )
    assert timecode(after) == timecode(before) == source_kw["timecode"]
    if spec_kw["container"] == "mov":
        assert reel(after) == source_kw.get("reel")


@pytest.mark.parametrize("mode", list(FORCED_RATES))
def test_forced_rates_are_exact(
    mode: str, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    src = clip("fidelity_rate_source.mov", rate="25", seconds=1.0, timecode="01:00:00:00")
    result = render(
        job,
        [src],
        proxy_profile="proxy_h264_quarter",
        output_name_template="{source_name}_{fps}",
        fps_mode=mode,
    )
    out = result["clips"][0]["output_path"]
    assert out.endswith(f"_{fps_label(mode)}.mov")
    info = ffprobe(out, "-count_packets")
    v = video(info)
    rate = FORCED_RATES[mode]
    assert v["r_frame_rate"] == f"{rate.numerator}/{rate.denominator}"
    assert v["avg_frame_rate"] == v["r_frame_rate"]  # constant rate, no drift
    frames = int(v["nb_read_packets"])
    assert frames == round(Fraction(1) * rate)  # one second of source
    assert abs(Fraction(v["duration"]) - frames / rate) < Fraction(1, 1000)
    assert abs(frames / rate - 1) <= 1 / rate  # the same second of picture
    assert timecode(info) == "01:00:00:00"
    assert channels(info) == [2]


def test_forcing_a_drop_frame_source_to_25(
    clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    src = clip(
        "fidelity_prores-mov-5.1-29.97-dropframe.mov",
        rate="30000/1001",
        audio_channels=6,
        timecode="01:00:00;00",
        reel="B007",
    )
    result = render(job, [src], fps_mode="force_25")
    info = ffprobe(result["clips"][0]["output_path"], "-count_packets")
    v_in = video(ffprobe(src, "-count_packets"))
    assert video(info)["r_frame_rate"] == "25/1"
    expected = round(int(v_in["nb_read_packets"]) * Fraction(25) / Fraction(30000, 1001))
    assert int(video(info)["nb_read_packets"]) == expected
    assert timecode(info) == "01:00:00:00"  # re-expressed at 25 fps, non-drop
    assert channels(info) == [6]


def _made(cache: Path, name: str, args: list[str]) -> Path:
    path = cache / name
    if not path.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(path)], check=True)
    return path


def test_mkv_whose_audio_outlasts_the_picture(clip_cache: Path, job: Callable[..., Path]) -> None:
    # Matroska declares no frame count, and its file duration is the audio's (1.5 s):
    # the expected count must come from the video stream, or a good clip fails verification.
    src = _made(
        clip_cache,
        "audio_longer.mkv",
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x36:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000:duration=1.5",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    )
    result = render(job, [src])
    frames = int(
        video(ffprobe(result["clips"][0]["output_path"], "-count_packets"))["nb_read_packets"]
    )
    # 25 or 26: the video starts 21 ms after the audio (AAC priming), and a constant-rate
    # output may hold the first picture for that gap.
    assert frames in (25, 26)


def test_variable_rate_source_becomes_constant_rate_of_the_same_length(
    clip_cache: Path, job: Callable[..., Path]
) -> None:
    # Like phone footage: 25 frames with a 6-frame hole in the timestamps (1.24 s).
    src = _made(
        clip_cache,
        "vfr.mp4",
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x36:rate=25:duration=1",
            "-vf",
            "setpts='if(lt(N,12),N,N+6)/25/TB'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    )
    v_in = video(ffprobe(src, "-count_packets"))
    assert (v_in["r_frame_rate"], v_in["avg_frame_rate"]) == ("25/1", "625/31")
    result = render(job, [src])
    v_out = video(ffprobe(result["clips"][0]["output_path"], "-count_packets"))
    assert v_out["r_frame_rate"] == v_out["avg_frame_rate"] == "25/1"
    assert int(v_out["nb_read_packets"]) == 31  # 1.24 s at 25 fps: the hole is held, not cut


@pytest.mark.parametrize(
    ("name", "size", "args", "expected"),
    [
        # A phone's portrait clip: landscape pixels plus a 90° display matrix.
        ("rotated.mov", "128x72", ["-c", "copy", "-metadata:s:v:0", "rotate=90"], (36, 64)),
        # Anamorphic HDV-style pixels (4:3 wide): 144×108 shows as 192×108.
        (
            "anamorphic.mov",
            "144x108",
            ["-vf", "setsar=4/3", "-c:v", "libx264", "-preset", "ultrafast"],
            (96, 54),
        ),
    ],
    ids=["rotated-portrait", "anamorphic"],
)
def test_proxies_keep_the_picture_shape_as_displayed(
    name: str,
    size: str,
    args: list[str],
    expected: tuple[int, int],
    clip: Callable[..., Path],
    clip_cache: Path,
    job: Callable[..., Path],
) -> None:
    plain = clip(f"shape_{size}.mov", size=size, audio_channels=0)
    src = _made(clip_cache, name, ["-i", str(plain), *args])
    result = render(job, [src])
    v = video(ffprobe(result["clips"][0]["output_path"], "-count_packets"))
    assert (v["width"], v["height"]) == expected
    assert v.get("sample_aspect_ratio", "1:1") == "1:1"
    assert not v.get("side_data_list")  # upright pixels, no rotation left for players to apply
