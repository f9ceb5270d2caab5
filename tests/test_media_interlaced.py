"""Interlaced sources get a progressive proxy from their first fields (issue 13).

H.264 and ProRes, top and bottom field first, at reduced size and full height;
the first-field choice is checked by PSNR against the 50p original.
Made with FFmpeg, rendered by the real `proxx run`, checked with the system `ffprobe`
and FFmpeg's filters (see tests/media_kinds_helpers.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit import ffprobe, video
from tests.media_kinds_helpers import INTERLACED, LAVFI_50P, ffmpeg, made, run_job, timecode


def _psnr(proxy: str, truth: Path, frames: str, size: tuple[int, int]) -> float:
    """Mean PSNR of the proxy against every other frame of the 50p original, scaled alike."""
    w, h = size
    log = ffmpeg(
        "-i",
        proxy,
        "-i",
        str(truth),
        "-lavfi",
        f"[1:v]select='{frames}',setpts=N/25/TB,scale={w}:{h}:flags=bicubic[t];"
        "[0:v]format=yuv420p[p];[p][t]psnr",
        "-f",
        "null",
        "-",
    )
    match = re.search(r"average:([0-9.]+)", log)
    assert match, log
    return float(match.group(1))


@pytest.mark.parametrize("kind", list(INTERLACED))
@pytest.mark.parametrize(
    ("codec", "profile", "size"),
    [
        ("h264", "proxy_h264_low", (320, 180)),  # reduced size
        ("prores422", "proxy_prores422_1080", (640, 360)),  # full height (never upscaled)
    ],
    ids=["half", "full-height"],
)
def test_an_interlaced_source_gets_a_progressive_proxy_from_its_first_fields(
    clip_cache: Path,
    tmp_path: Path,
    kind: str,
    codec: str,
    profile: str,
    size: tuple[int, int],
) -> None:
    mode, flag, encoder = INTERLACED[kind]
    truth = made(clip_cache, "truth_50p.mkv", "-f", "lavfi", "-i", LAVFI_50P, "-c:v", "ffv1")
    src = made(
        clip_cache,
        f"interlaced_{kind}.mov",
        "-f",
        "lavfi",
        "-i",
        LAVFI_50P,
        "-vf",
        f"tinterlace={mode},setfield={flag}",
        *encoder,
        "-timecode",
        "10:00:00:00",
    )
    v_in = video(ffprobe(src))
    assert v_in["field_order"] not in ("progressive", "unknown")

    clip = run_job(tmp_path, src, codec=codec, proxy_profile=profile)

    out = clip["output_path"]
    v_out = video(ffprobe(out, "-count_packets"))
    assert v_out["field_order"] == "progressive"
    assert (v_out["width"], v_out["height"]) == size
    assert v_out["r_frame_rate"] == v_in["r_frame_rate"] == "25/1"
    assert int(v_out["nb_read_packets"]) == int(v_in["nb_frames"]) == 25
    assert timecode(ffprobe(out)) == "10:00:00:00"
    # Each proxy frame shows its first field's instant (50p frame 2n), not the
    # second's (2n+1), and not both blended: scaling the woven fields (or the
    # wrong parity) scores the same or better against the odd frames.
    first, second = (_psnr(out, truth, sel, size) for sel in ("not(mod(n\\,2))", "mod(n\\,2)"))
    assert first > second + 3, (first, second)
