"""Routing of what is not camera RAW (FFmpeg decodes it, or it is rejected), of whole
jobs, and `proxx probe`'s report of it. Camera RAW → Resolve: test_routing.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxx.content.media import parse_probe_json
from proxx.content.routing import RouteDecision, route_job, route_probed
from proxx.contract.errors import MixedEngineError, ValidationError
from proxx.contract.profiles import Engine
from testkit import (
    H264,
    HEVC,
    PRORES,
    canon_crx,
    noise,
    redcode,
    route_of,
    run_cli,
    spec_dict,
)

Clip = Callable[..., Path]
DNXHR = ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"]


# -- everything FFmpeg decodes → FFmpeg -------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs", "reason"),
    [
        ("h264.mp4", {"vcodec": H264}, "codec h264 (fourcc avc1): FFmpeg decodes it"),
        ("hevc.mov", {"vcodec": HEVC}, "codec hevc (fourcc hvc1): FFmpeg decodes it"),
        ("prores.mov", {"vcodec": PRORES}, "codec prores (fourcc apco): FFmpeg decodes it"),
        (
            "prores.mxf",
            {"vcodec": ["-c:v", "prores", "-profile:v", "0"]},
            "codec prores (fourcc apco): FFmpeg decodes it",
        ),
        ("dnxhr.mxf", {"vcodec": DNXHR, "size": "256x144"}, "codec dnxhd: FFmpeg decodes it"),
        (
            "dnxhr.mov",
            {"vcodec": DNXHR, "size": "256x144"},
            "codec dnxhd (fourcc AVdh): FFmpeg decodes it",
        ),
    ],
)
def test_decodable_standard_files_go_to_ffmpeg(
    clip: Clip,
    name: str,
    kwargs: dict[str, Any],
    reason: str,
) -> None:
    assert route_of(clip(f"route_{name}", **kwargs)) == (Engine.FFMPEG, reason)


@pytest.mark.parametrize(
    "name", ["A001 ProRes RAW.mov", "A001_0001.braw", "clip.vraw", "clip.nev", "C0001.crm"]
)
def test_content_beats_a_lying_name(clip: Clip, tmp_path: Path, name: str) -> None:
    # One public sample library has an iPhone HEVC clip named "… ProRes RAW …".
    hevc = clip("route_iphone.mov", vcodec=HEVC)

    assert route_of(shutil.copyfile(hevc, tmp_path / name)) == (
        Engine.FFMPEG,
        "codec hevc (fourcc hvc1): FFmpeg decodes it",
    )


# -- neither decodable nor RAW → rejected, never sent to Resolve -------------------------
def test_a_truncated_mp4_is_rejected_as_damaged(clip: Clip, tmp_path: Path) -> None:
    whole = clip("route_whole.mp4", vcodec=H264).read_bytes()
    path = tmp_path / "phone.mp4"
    path.write_bytes(whole[: len(whole) // 2])

    assert route_of(path) == (
        None,
        "unsupported or damaged source: could not read the file: "
        "Invalid data found when processing input",
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "noise.mov",
            "unsupported or damaged source: could not read the file: "
            "Invalid data found when processing input",
        ),
        (
            "noise.braw",
            "unsupported or damaged source: extension .braw (Blackmagic RAW) means a "
            "QuickTime-structured file, but this one does not parse (could not read the file: "
            "Invalid data found when processing input)",
        ),
        (
            "noise.R3D",
            "unsupported or damaged source: extension .r3d (REDCODE) but the file lacks "
            "its signature (RED1/RED2 at byte 4)",
        ),
        (
            "noise.ari",
            "unsupported or damaged source: extension .ari (ARRIRAW) but the file lacks its "
            "signature (ARRI 12 34 56 78 at byte 0)",
        ),
    ],
)
def test_random_bytes_are_rejected_whatever_their_name(
    tmp_path: Path,
    name: str,
    reason: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(noise(65536))  # seed 0: libav finds no stream in it

    assert route_of(path) == (None, reason.format(path=path))


@pytest.mark.e2e
def test_noise_that_libav_takes_for_h263_is_refused_before_render(tmp_path: Path) -> None:
    # About one 64 KiB draw in a thousand is a raw H.263 stream to libav, with a frame
    # size (seed 1297 is one). The raw H.263 demuxer is not on the allow-list of movie
    # formats (proxx.content.pictures), so the job fails validation, publishing nothing.
    source = tmp_path / "noise.mov"
    source.write_bytes(noise(65536, seed=1297))
    engine, reason = route_of(source)
    assert engine is None and "demuxer h263 is not on Proxx's list" in reason
    (tmp_path / "out").mkdir()
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(spec_dict([str(source)], tmp_path / "out")))

    proc = run_cli("run", str(spec))

    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert "demuxer h263" in result["validation_error"]
    assert os.listdir(tmp_path / "out") == []


def test_an_empty_file_is_rejected_even_with_a_raw_name(tmp_path: Path) -> None:
    path = tmp_path / "P001.vraw"
    path.write_bytes(b"")

    assert route_of(path) == (None, "unsupported or damaged source: the file is empty (0 bytes)")


def test_a_canon_cr3_still_is_not_a_clip(tmp_path: Path) -> None:
    assert route_of(canon_crx(tmp_path / "IMG_0001.CR3")) == (
        None,
        "ftyp brand 'crx ' with extension .cr3 instead of .crm: Canon CR3 still or renamed "
        "Cinema RAW Light clip, not a movie clip Proxx can render",
    )


def test_audio_only_missing_and_special_files_are_rejected(clip: Clip, tmp_path: Path) -> None:
    wav = tmp_path / "room_tone.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=0.2",
            str(wav),
        ],
        check=True,
    )

    fifo = tmp_path / "capture.mov"
    os.mkfifo(fifo)

    assert route_of(wav) == (None, "unsupported source: no video stream")
    assert route_of(fifo) == (None, "unsupported or damaged source: not a regular file")
    assert route_of(tmp_path) == (None, "unsupported or damaged source: not a regular file")
    assert route_of(tmp_path / "gone.braw") == (
        None,
        "unsupported or damaged source: cannot read the file: No such file or directory",
    )


@pytest.mark.parametrize(
    ("video", "reason"),
    [
        (
            {"width": 0, "height": 0},
            "unsupported or damaged source: h264 video reports no frame size",
        ),
        (
            {"r_frame_rate": "0/0", "avg_frame_rate": "0/0"},
            "unsupported or damaged source: h264 video reports no frame rate",
        ),
    ],
)
def test_decodable_video_without_size_or_rate_is_rejected(
    video: dict[str, Any],
    reason: str,
) -> None:
    stream = {
        "codec_type": "video",
        "codec_name": "h264",
        "codec_tag_string": "avc1",
        "width": 1920,
        "height": 1080,
        "r_frame_rate": "25/1",
        "avg_frame_rate": "25/1",
        **video,
    }
    raw = {"streams": [stream], "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}}

    decision = route_probed("/media/x.mp4", parse_probe_json("/media/x.mp4", raw))

    assert (decision.engine, decision.reason) == (None, reason)


# -- the job's engine --------------------------------------------------------------------
def _d(path: str, engine: Engine | None, reason: str) -> RouteDecision:
    return RouteDecision(path, engine, reason, None)


def test_a_job_mixing_raw_and_non_raw_names_which_source_goes_where() -> None:
    decisions = [
        _d("/m/A001.R3D", Engine.RESOLVE, "magic RED2 at byte 4: REDCODE requires DaVinci Resolve"),
        _d("/m/B001.mov", Engine.FFMPEG, "codec prores (fourcc apcn): FFmpeg decodes it"),
    ]

    with pytest.raises(MixedEngineError) as err:
        route_job(decisions)

    assert str(err.value) == (
        "camera RAW and non-RAW sources cannot share a job; split it by engine — resolve: "
        "/m/A001.R3D (magic RED2 at byte 4: REDCODE requires DaVinci Resolve); ffmpeg: "
        "/m/B001.mov (codec prores (fourcc apcn): FFmpeg decodes it)"
    )


def test_a_rejected_source_fails_the_job_naming_it() -> None:
    decisions = [
        _d("/m/a.mp4", Engine.FFMPEG, "codec h264 (fourcc avc1): FFmpeg decodes it"),
        _d("/m/b.mp4", None, "unsupported or damaged source: the file is empty (0 bytes)"),
    ]

    with pytest.raises(
        ValidationError,
        match=r"^/m/b\.mp4: unsupported or damaged source: the "
        r"file is empty \(0 bytes\)$",
    ):
        route_job(decisions)


def test_the_job_reason_covers_every_source() -> None:
    same = [
        _d(f"/m/{n}.braw", Engine.RESOLVE, "fourcc brxq: Blackmagic RAW requires DaVinci Resolve")
        for n in "ab"
    ]
    mixed = [
        *same,
        _d("/m/c.braw", Engine.RESOLVE, "fourcc brst: Blackmagic RAW requires DaVinci Resolve"),
    ]

    assert route_job(same) == (
        Engine.RESOLVE,
        "fourcc brxq: Blackmagic RAW requires DaVinci Resolve (all 2 sources)",
    )
    assert route_job(mixed) == (
        Engine.RESOLVE,
        "fourcc brxq: Blackmagic RAW requires DaVinci Resolve; fourcc brst: "
        "Blackmagic RAW requires DaVinci Resolve (3 sources)",
    )


# -- proxx probe -------------------------------------------------------------------------
def test_proxx_probe_lists_engine_and_reason_per_file(clip: Clip, tmp_path: Path) -> None:
    r3d = redcode(tmp_path / "A001.R3D")
    mov = clip("route_report.mov", vcodec=PRORES)

    proc = run_cli("probe", "--json", "A001.R3D", str(mov), "missing.mov", cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr  # one file is rejected
    assert json.loads(proc.stdout) == [
        {
            "path": str(r3d),
            "engine": "resolve",
            "reason": "magic RED2 at byte 4: REDCODE requires DaVinci Resolve",
        },
        {
            "path": str(mov),
            "engine": "ffmpeg",
            "reason": "codec prores (fourcc apco): FFmpeg decodes it",
        },
        {
            "path": str(tmp_path / "missing.mov"),
            "engine": None,
            "reason": "unsupported or damaged source: cannot read the file: No such file or "
            "directory",
        },
    ]
