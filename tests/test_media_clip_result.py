"""What a hard-kind clip's result records, and that the render is byte-identical (issue 13).

The facts compared on both sides (frames, rate, timecode, reel, audio channels),
the proxy's hash, and interlaced/variable-rate renders repeated run to run and
with other FFmpeg filter thread counts.
Made with FFmpeg, rendered by the real `proxx run`, checked with the system `ffprobe`
and FFmpeg's filters (see tests/media_kinds_helpers.py).
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

from testkit import ffprobe, video
from tests.media_kinds_helpers import (
    H264,
    INTERLACED,
    LAVFI_50P,
    VFR,
    made,
    run_job,
    timecode,
)


# -- what the clip result records --------------------------------------------------------
def test_the_result_records_compared_facts_and_the_proxy_hash(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    src = made(
        clip_cache,
        "facts_src.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=30000/1001:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=1",
        "-filter_complex",
        "[2:a]aformat=channel_layouts=5.1[s]",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "[s]",
        *H264,
        "-c:a",
        "pcm_s16le",
        "-timecode",
        "01:00:00;00",
        "-metadata:s:v:0",
        "reel_name=B007",
    )

    clip = run_job(tmp_path, src, codec="prores_proxy", proxy_profile="proxy_prores_proxy")

    out = Path(clip["output_path"])
    assert clip["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    info = ffprobe(out, "-count_packets")
    want = {
        "frames": int(video(info)["nb_read_packets"]),
        "frame_rate": "30000/1001",
        "timecode": "01:00:00;00",
        "reel_name": "B007",
        "audio_channels": [1, 6],
    }
    for side in ("source", "proxy"):
        got = clip["fidelity"][side]
        assert {k: got[k] for k in want} == want, side
    assert [s["channels"] for s in info["streams"] if s["codec_type"] == "audio"] == [1, 6]
    assert timecode(info) == "01:00:00;00"


def test_hard_kinds_render_byte_identically_run_to_run(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    src = made(
        clip_cache,
        "interlaced_h264-tff.mov",
        "-f",
        "lavfi",
        "-i",
        LAVFI_50P,
        "-vf",
        "tinterlace=interleave_top,setfield=tff",
        *INTERLACED["h264-tff"][2],
        "-timecode",
        "10:00:00:00",
    )
    vfr = made(
        clip_cache,
        "vfr_rate-change.mp4",
        "-f",
        "lavfi",
        "-i",
        VFR["rate-change"][0],
        "-vf",
        VFR["rate-change"][1],
        "-frames:v",
        "69",
        "-fps_mode",
        "passthrough",
        "-video_track_timescale",
        "600",
        *H264,
    )
    for source in (src, vfr):
        clips = [run_job(tmp_path, source, name=f"{source.stem}_{i}") for i in range(2)]
        hashes = {c["output_sha256"] for c in clips}
        assert len(hashes) == 1, source
        # The filters (bwdif is slice-threaded) give the same bytes whatever
        # thread count FFmpeg picks from the machine's cores.
        argv = shlex.split(clips[0]["ffmpeg_command"])
        for threads in ("1", "3"):
            out = tmp_path / f"{source.stem}_ft{threads}.mov"
            subprocess.run([argv[0], "-filter_threads", threads, *argv[1:-1], str(out)], check=True)
            assert hashlib.sha256(out.read_bytes()).hexdigest() in hashes, (source, threads)
