"""The in-process probe (PyAV) reads what the system ffprobe reads, file by file.

PyAV bundles a newer libav than Debian's FFmpeg; the facts Proxx decides on
must agree anyway (where they differ on purpose, docs/ROUTING.md §1.1a says so).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxx.content import libav, quicktime
from proxx.content.media import STANDARD_RATES, parse_probe_json
from proxx.content.probe import probe
from testkit import H264, HEVC, ffprobe

KINDS: dict[str, dict[str, Any]] = {
    "h264-mov-tc-reel": {"vcodec": H264, "timecode": "01:00:00:00", "reel": "A001"},
    "prores-lt-5.1-dropframe": {
        "vcodec": ["-c:v", "prores_ks", "-profile:v", "1"],
        "rate": "30000/1001",
        "audio_channels": 6,
        "timecode": "01:00:00;00",
    },
    "dnxhr-mxf": {
        "vcodec": ["-c:v", "dnxhd", "-profile:v", "dnxhr_sq", "-pix_fmt", "yuv422p"],
        "size": "256x144",
        "timecode": "10:00:00:00",
    },
    "hevc-mp4-mono": {
        "vcodec": HEVC,
        "audio_channels": 1,
    },
    "interlaced-h264": {
        "vcodec": [*H264, "-flags", "+ildct+ilme", "-x264-params", "tff=1"],
        "size": "128x72",
        "rate": "50",
        "extra": ["-vf", "tinterlace=interleave_top,setfield=tff"],
    },
}
EXT = {"dnxhr-mxf": ".mxf", "hevc-mp4-mono": ".mp4"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_probe_agrees_with_ffprobe(clip: Callable[..., Path], kind: str) -> None:
    path = clip(f"probe_{kind}{EXT.get(kind, '.mov')}", **KINDS[kind])
    ref = ffprobe(path, "-count_packets")
    facts = probe(str(path))

    assert facts.ok
    (v_ref,) = [s for s in ref["streams"] if s["codec_type"] == "video"]
    v = facts.video
    assert v is not None
    assert (v.codec_name, v.width, v.height) == (
        v_ref["codec_name"],
        v_ref["width"],
        v_ref["height"],
    )
    assert v.profile == v_ref.get("profile")
    assert Fraction(v.frame_rate or 0) == Fraction(v_ref["r_frame_rate"])
    assert facts.frame_count() == int(v_ref["nb_read_packets"])
    assert v.field_order == v_ref.get("field_order", v.field_order)
    assert [a.channels for a in facts.audio] == [
        s["channels"] for s in ref["streams"] if s["codec_type"] == "audio"
    ]
    tags = [s.get("tags", {}) for s in ref["streams"]] + [ref["format"].get("tags", {})]
    assert facts.timecode == next((t["timecode"] for t in tags if "timecode" in t), None)
    assert facts.reel_name == next((t["reel_name"] for t in tags if "reel_name" in t), None)


@pytest.mark.parametrize(
    ("rotate", "shown"), [("90", (72, 128)), ("180", (128, 72)), ("270", (72, 128))]
)
def test_rotation_comes_from_the_track_header(
    clip: Callable[..., Path],
    tmp_path: Path,
    rotate: str,
    shown: tuple[int, int],
) -> None:
    plain = clip("probe_landscape.mov", size="128x72", audio_channels=0)
    path = tmp_path / f"rotated_{rotate}.mov"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={rotate}",
            str(path),
        ],
        check=True,
    )
    ref = ffprobe(path, "-count_packets")
    (v_ref,) = [s for s in ref["streams"] if s["codec_type"] == "video"]
    (side,) = [d for d in v_ref["side_data_list"] if "rotation" in d]

    facts = probe(str(path))

    assert facts.video is not None
    assert facts.video.rotation % 180 == abs(int(side["rotation"])) % 180
    assert facts.display_size() == shown


def test_a_file_libav_cannot_open_is_described_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "noise.mov"
    path.write_bytes(bytes(range(256)) * 64)

    facts = probe(str(path))

    assert (facts.ok, facts.error) == (
        False,
        "could not read the file: Invalid data found when processing input",
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_quicktime_reader_never_raises_on_damaged_boxes(
    clip: Callable[..., Path],
    tmp_path: Path,
    data: st.DataObject,
) -> None:
    # libav reads the same file in-process; this pure-Python reader must turn any
    # damage into "no facts", never into an exception that fails the job oddly.
    original = clip("probe_fuzz.mov", audio_channels=1).read_bytes()
    moov = original.find(b"moov") - 4
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(moov, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(moov, len(blob)))
    path = tmp_path / "damaged.mov"
    path.write_bytes(bytes(blob[:cut]))

    found = quicktime.tracks(str(path))

    assert all(t.rotation in (0, 90, 180, 270) for t in found)


def _trimmed_by_edit_list(src: Path, dst: Path, skip: int, keep_ms: int) -> Path:
    """`src` (an FFmpeg MOV at 25 fps, mdhd timescale 12800) whose edit list now skips
    `skip` frames and lasts `keep_ms` ms: what an NLE's lossless trim writes."""
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    assert at > 0 and int.from_bytes(data[at + 8 : at + 12], "big") == 1
    data[at + 12 : at + 16] = keep_ms.to_bytes(4, "big")
    data[at + 16 : at + 20] = (skip * 512).to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def test_an_intra_only_trim_is_counted_from_the_index_without_reading_packets(
    clip: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prores = clip(
        "probe_prores_edit.mov",
        seconds=2.0,
        audio_channels=2,
        vcodec=["-c:v", "prores_ks", "-profile:v", "0", "-use_editlist", "1"],
    )
    trimmed = _trimmed_by_edit_list(prores, tmp_path / "trimmed.mov", skip=5, keep_ms=1000)
    shown = int(
        next(s for s in ffprobe_frames(trimmed)["streams"] if s["codec_type"] == "video")[
            "nb_read_frames"
        ]
    )
    assert shown == 25  # control: the edit list hides 25 of the 50 stored frames

    def no_reading(*args: object) -> list[int]:
        raise AssertionError("packets were read for an intra-only clip")

    monkeypatch.setattr(libav, "_shown_pts", no_reading)
    facts = probe(str(trimmed))

    assert facts.video is not None
    assert (facts.video.nb_frames, facts.frame_count()) == (50, shown)


def ffprobe_frames(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-of", "json", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@given(
    nominal=st.fractions(min_value=1, max_value=240, max_denominator=1001),
    average=st.fractions(min_value=1, max_value=240, max_denominator=1001),
)
def test_the_vfr_rule_gives_the_source_rate_or_a_standard_one(
    nominal: Fraction,
    average: Fraction,
) -> None:
    facts = parse_probe_json(
        "/m/x.mov",
        {
            "streams": [
                {
                    "codec_type": "video",
                    "codec_name": "h264",
                    "width": 64,
                    "height": 36,
                    "r_frame_rate": str(nominal),
                    "avg_frame_rate": str(average),
                }
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"},
        },
    )

    rate = facts.conform_rate()

    if nominal == average or nominal in STANDARD_RATES:
        assert rate == nominal  # constant rate, or a standard nominal rate: kept
    else:
        assert rate in STANDARD_RATES  # never a rate read off a timebase
        assert all(abs(rate - average) <= abs(r - average) for r in STANDARD_RATES)


@pytest.mark.e2e
def test_tags_that_are_not_utf8_read_the_same_on_every_pyav(tmp_path: Path) -> None:
    # PyAV 19 escapes bad bytes as surrogates, earlier releases replace them when asked:
    # both must give the same facts (surrogates cannot even be written as JSON).
    clip = tmp_path / "bad_tags.mov"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=s=64x36:d=0.2",
            "-c:v",
            "libx264",
            "-metadata",
            "title=bad\udcff\udcfe",
            str(clip),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    facts = probe(str(clip))
    assert facts.ok, facts.error
    assert facts.format_tags["title"] == "bad\ufffd\ufffd"
    json.dumps(facts.model_dump(mode="json"), ensure_ascii=False).encode()
