"""Copy-trimmed sources and MOV/MP4 edit lists (docs/MEDIA.md; issue 13).

Trims at and off keyframes (with a B-frame hole), an edit list that ends early,
a ProRes clip trimmed at both ends, empty and absent edit lists, and a picture
that starts after the sound (MOV keeps an edit list, MXF holds frames).
Made with FFmpeg, rendered by the real `proxx run`, checked with the system `ffprobe`
and FFmpeg's filters (see tests/media_kinds_helpers.py).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from testkit import ffprobe, video
from tests.media_kinds_helpers import H264, ffmpeg, made, run_job, timecode

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def packets(path: Path | str) -> int:
    return int(video(ffprobe(path, "-count_packets"))["nb_read_packets"])


def shown_pts(path: Path) -> list[int]:
    """Timestamps of the pictures ffprobe decodes (edit list applied), in stream units."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # A frame with side data prints extra (empty) columns: the pts is the first.
    firsts = (line.split(",")[0] for line in out.split())
    return sorted(int(x) for x in firsts if x.lstrip("-").isdigit())


def timeline_frames(path: Path) -> int:
    """Frames from the first to the last shown picture at the stream's rate (holes counted)."""
    v = video(ffprobe(path))
    pts = shown_pts(path)
    step = Fraction(v["time_base"]) ** -1 / Fraction(v["r_frame_rate"])
    return round((pts[-1] - pts[0]) / step) + 1


# -- edit lists --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gop_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2 s at 25 fps, a keyframe every 12 frames, B-frames, timecode and sound (MOV and MP4)."""
    cache = tmp_path_factory.mktemp("gop")
    base = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=2",
        *H264,
        "-g",
        "12",
        "-bf",
        "2",
        "-timecode",
        "01:00:00:00",
    ]
    return {
        "mov": made(cache, "gop.mov", *base, "-c:a", "pcm_s16le"),
        "mp4": made(cache, "gop.mp4", *base, "-c:a", "aac"),
    }


TRIMS = {
    # Like an iPhone trim or a lossless cutter: 1.2 s is not a keyframe (0.96 s is).
    "start": ["-ss", "1.2"],
    # Start and end both mid-GOP; cutting the end in decode order drops a B-frame
    # whose picture lies inside the kept range: a hole the proxy must fill.
    "start-and-end": ["-ss", "0.3", "-t", "1.0"],
}


@pytest.mark.parametrize("ext", ["mov", "mp4"])
@pytest.mark.parametrize("trim", list(TRIMS))
def test_a_copy_trimmed_clip_gets_the_frames_a_player_shows(
    gop_sources: dict[str, Path],
    tmp_path: Path,
    ext: str,
    trim: str,
) -> None:
    cut = tmp_path / f"cut_{trim}.{ext}"
    ffmpeg("-loglevel", "error", *TRIMS[trim], "-i", str(gop_sources[ext]), "-c", "copy", str(cut))
    stored = int(video(ffprobe(cut))["nb_frames"])
    shown = len(shown_pts(cut))
    assert shown < stored  # control: the edit list really hides frames here

    clip = run_job(tmp_path, cut)

    proxy = Path(clip["output_path"])
    assert packets(proxy) == timeline_frames(cut) == timeline_frames(proxy)
    assert video(ffprobe(proxy))["r_frame_rate"] == "25/1"
    assert timecode(ffprobe(proxy)) == timecode(ffprobe(cut)) == "01:00:00:00"
    assert clip["fidelity"]["source"]["frames"] == clip["fidelity"]["proxy"]["frames"]
    assert any("edit list" in n for n in clip["fidelity"]["notes"])
    if trim == "start":
        assert packets(proxy) == shown == 20  # 0.8 s at 25 fps, no hole


def _empty_elst(src: Path, dst: Path) -> Path:
    """`src` with its video edit list emptied (entry count 0: the box stays, with no edits)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    assert at > 0 and int.from_bytes(data[at + 8 : at + 12], "big") == 1
    data[at + 8 : at + 12] = (0).to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def test_an_edit_list_that_ends_early_hides_the_tail(
    gop_sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    # The same 2 s clip, its edit shortened to 1 s: what an NLE's "trim end" exports.
    data = bytearray(gop_sources["mov"].read_bytes())
    at = data.find(b"elst")
    duration = int.from_bytes(data[at + 12 : at + 16], "big")
    data[at + 12 : at + 16] = (duration // 2).to_bytes(4, "big")
    src = tmp_path / "tail_cut.mov"
    src.write_bytes(bytes(data))
    shown = len(shown_pts(src))
    assert (int(video(ffprobe(src))["nb_frames"]), shown) == (50, 25)

    clip = run_job(tmp_path, src)

    assert packets(clip["output_path"]) == shown
    assert clip["fidelity"]["proxy"]["frames"] == 25


def test_a_camera_prores_clip_trimmed_at_both_ends_by_its_edit_list(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    # Intra-only (ProRes): Proxx counts from the index, without reading the packets.
    src = made(
        clip_cache,
        "prores_edit.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=25:duration=2",
        "-c:v",
        "prores_ks",
        "-profile:v",
        "0",
        "-use_editlist",
        "1",
        "-timecode",
        "01:00:00:00",
    )
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    data[at + 12 : at + 16] = (1000).to_bytes(4, "big")  # 1 s (movie timescale 1000) …
    data[at + 16 : at + 20] = (5 * 512).to_bytes(4, "big")  # … from frame 5 (12800 / 25)
    trimmed = tmp_path / "prores_trimmed.mov"
    trimmed.write_bytes(bytes(data))
    shown = len(shown_pts(trimmed))
    assert (int(video(ffprobe(trimmed))["nb_frames"]), shown) == (50, 25)

    clip = run_job(tmp_path, trimmed, codec="prores_proxy", proxy_profile="proxy_prores_proxy")

    assert packets(clip["output_path"]) == shown
    assert clip["fidelity"]["source"]["frames"] == 25


def test_an_empty_or_absent_edit_list_means_every_stored_frame(
    gop_sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    absent = tmp_path / "no_edit_list.mp4"
    ffmpeg(
        "-loglevel",
        "error",
        "-i",
        str(gop_sources["mp4"]),
        "-c",
        "copy",
        "-use_editlist",
        "0",
        str(absent),
    )
    empty = _empty_elst(gop_sources["mov"], tmp_path / "empty_edit_list.mov")
    for source in (absent, empty):
        assert int(video(ffprobe(source))["nb_frames"]) == 50
        clip = run_job(tmp_path, source, name=source.stem)
        assert packets(clip["output_path"]) == 50
        assert clip["fidelity"]["notes"] == []


@pytest.mark.parametrize(
    ("container", "codec", "profile", "frames"),
    [
        ("mov", "h264", "proxy_h264_low", 25),  # the proxy keeps its own edit list
        ("mxf", "dnxhr_lb", "proxy_dnxhr_lb", 35),  # no edit lists: 10 held frames, sync kept
    ],
)
def test_a_picture_that_starts_after_the_sound_keeps_its_place(
    tmp_path: Path,
    clip_cache: Path,
    container: str,
    codec: str,
    profile: str,
    frames: int,
) -> None:
    # A MOV "empty edit": sound from 0 s, picture from 0.4 s (pre-roll audio).
    pic = made(
        clip_cache,
        "late_pic.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=512x288:rate=25:duration=1",
        *H264,
    )
    snd = made(
        clip_cache, "late_snd.wav", "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=1.4"
    )
    src = made(
        clip_cache,
        "late_start.mov",
        "-itsoffset",
        "0.4",
        "-i",
        str(pic),
        "-i",
        str(snd),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        "-timecode",
        "01:00:00:00",
    )
    assert float(video(ffprobe(src))["start_time"]) == pytest.approx(0.4)

    clip = run_job(tmp_path, src, codec=codec, container=container, proxy_profile=profile)

    proxy = ffprobe(clip["output_path"], "-count_packets")
    assert int(video(proxy)["nb_read_packets"]) == frames
    (audio,) = [s for s in proxy["streams"] if s["codec_type"] == "audio"]
    picture_start = float(video(proxy)["start_time"]) + (frames - 25) / 25
    # The picture still starts 0.4 s after the sound: lip sync as in the source.
    assert picture_start - float(audio["start_time"]) == pytest.approx(0.4, abs=0.001)
