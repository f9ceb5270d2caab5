"""Which picture a proxy is made from, how many frames it has, and what is not a clip.

Issue 21: a cover picture stored before the real video, a Matroska/WebM picture
that starts after the sound, still images and image sequences. Every source is
made here with FFmpeg; proxies are checked with the system ffprobe (`-count_frames`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit import run_cli
from tests.media_sources import H264, cover_first_mp4, ffmpeg, job, lavfi, moving_video, run

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

# (codec, container, profile): one per encoder family and container kind.
PROFILES = [
    ("h264", "mp4", "proxy_h264_low"),
    ("prores_proxy", "mov", "proxy_prores_proxy"),
    ("dnxhr_lb", "mxf", "proxy_dnxhr_lb"),
]


@pytest.mark.parametrize(("codec", "container", "profile"), PROFILES)
def test_a_cover_picture_before_the_video_is_not_the_picture(
    tmp_path: Path, codec: str, container: str, profile: str
) -> None:
    source = cover_first_mp4(tmp_path)
    assert moving_video(source)["index"] == 1  # the premise: ffprobe lists the cover first

    clip = run(tmp_path, [source], codec=codec, container=container, proxy_profile=profile)[
        "clips"
    ][0]

    assert "-map 0:1 " in clip["ffmpeg_command"] and "0:v:0" not in clip["ffmpeg_command"]
    proxy = moving_video(Path(clip["output_path"]))
    assert (proxy["r_frame_rate"], int(proxy["nb_read_frames"])) == ("25/1", 25)
    assert (proxy["width"], proxy["height"]) == (320, 180)  # half of 640×360, not of 64×64


def test_a_file_whose_only_video_is_a_cover_is_refused_at_validation(tmp_path: Path) -> None:
    cover = tmp_path / "cover.jpg"
    ffmpeg("-f", "lavfi", "-i", "color=red:size=64x64", "-frames:v", "1", str(cover))
    song = tmp_path / "song.m4a"
    ffmpeg(
        *("-f", "lavfi", "-i", "sine=duration=1", "-i", str(cover), "-map", "0", "-map", "1"),
        *("-c:a", "aac", "-c:v", "copy", "-disposition:v:0", "attached_pic", str(song)),
    )

    proc = run_cli("validate", str(job(tmp_path, [song])))

    assert proc.returncode == 1
    assert "no moving picture (its only video, stream 1, is an attached mjpeg cover" in proc.stderr


# A picture that starts 0.5 s after the sound, 2 s long (50 frames at 25 fps).
LATE = {
    "mkv": [*H264, "-c:a", "aac"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"],
    "ts": [*H264, "-c:a", "aac"],
}


@pytest.mark.parametrize("kind", sorted(LATE))
@pytest.mark.parametrize(
    ("codec", "profile"), [("h264", "proxy_h264_low"), ("prores_lt", "proxy_prores_lt")]
)
def test_a_picture_that_starts_after_the_sound_counts_the_frames_shown(
    tmp_path: Path, kind: str, codec: str, profile: str
) -> None:
    source = tmp_path / f"late.{kind}"
    ffmpeg(
        *("-itsoffset", "0.5", *lavfi("128x72", seconds=2), "-f", "lavfi"),
        *("-i", "sine=duration=2.5", "-map", "0", "-map", "1", *LATE[kind], str(source)),
    )
    shown = int(moving_video(source)["nb_read_frames"])
    assert shown == 50

    clip = run(tmp_path, [source], codec=codec, proxy_profile=profile)["clips"][0]

    proxy = moving_video(Path(clip["output_path"]))
    assert int(proxy["nb_read_frames"]) == shown
    assert clip["fidelity"]["source"]["frames"] == clip["fidelity"]["proxy"]["frames"] == shown


STILLS: dict[str, list[str]] = {
    "png": ["-c:v", "png"],
    "tif": ["-c:v", "tiff"],
    "jpg": ["-c:v", "mjpeg"],
    "dpx": ["-c:v", "dpx"],
}


@pytest.mark.parametrize("ext", sorted(STILLS))
def test_a_still_image_is_refused_at_validation(tmp_path: Path, ext: str) -> None:
    still = tmp_path / f"frame.{ext}"
    ffmpeg(*lavfi("64x36"), "-frames:v", "1", *STILLS[ext], "-update", "1", str(still))

    proc = run_cli("validate", str(job(tmp_path, [still])))

    assert proc.returncode == 1, proc.stderr
    assert "a still image" in proc.stderr and "proxies are for moving pictures" in proc.stderr


def test_control_a_one_frame_movie_is_a_clip(tmp_path: Path) -> None:
    # The same single JPEG picture in a movie container is a (one-frame) clip.
    clip = tmp_path / "one.mov"
    ffmpeg(*lavfi("64x36"), "-frames:v", "1", "-c:v", "mjpeg", str(clip))

    proc = run_cli("validate", str(job(tmp_path, [clip])))

    assert proc.returncode == 0, proc.stderr


def _sequence(folder: Path) -> Path:
    folder.mkdir()
    ffmpeg(*lavfi("64x36", seconds=0.2), "-c:v", "png", str(folder / "f_%06d.png"))
    assert len(list(folder.iterdir())) == 5
    return folder


@pytest.mark.parametrize("form", ["folder", "pattern"])
def test_image_sequences_are_refused_with_the_reason(tmp_path: Path, form: str) -> None:
    frames = _sequence(tmp_path / "seq")
    source = frames if form == "folder" else frames / "f_%06d.png"

    proc = run_cli("validate", str(job(tmp_path, [source])))

    assert proc.returncode == 1
    assert "image sequences (a folder of frames or a %06d pattern) are not sources" in proc.stderr
    # One frame of it, named directly, is a still: refused for that reason instead.
    single = run_cli("validate", str(job(tmp_path, [frames / "f_000001.png"])))
    assert single.returncode == 1 and "a still image (png_pipe)" in single.stderr


def test_a_missing_source_without_a_frame_pattern_gets_no_sequence_text(tmp_path: Path) -> None:
    proc = run_cli("validate", str(job(tmp_path, [tmp_path / "gone.mov"])))
    assert proc.returncode == 1 and "source missing" in proc.stderr
    assert "image sequences" not in proc.stderr
