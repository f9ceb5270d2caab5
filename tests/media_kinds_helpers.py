"""Shared by the hard-source-kind tests (tests/test_media_*.py, issue 13).

Each source is made with FFmpeg (tiny), rendered by the real `proxx run`,
and the proxy is checked against the source with the system `ffprobe` and
FFmpeg's own filters — never with Proxx's probe or verification code.
The rules checked are the ones docs/MEDIA.md documents.

Here: the FFmpeg runner and clip cache, the timecode reader, the one-clip job
runner, and the variable-rate and interlaced source recipes (each used by its own
module and by tests/test_media_clip_result.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from testkit import run_cli

H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str) -> str:
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", *args], capture_output=True, text=True, check=True
    )
    return proc.stderr


def made(cache: Path, name: str, *args: str) -> Path:
    path = cache / name
    if not path.exists():
        ffmpeg("-loglevel", "error", "-y", *args, str(path))
    return path


def timecode(info: dict[str, Any]) -> str | None:
    for s in info["streams"]:
        if "timecode" in s.get("tags", {}):
            return str(s["tags"]["timecode"])
    return None


def run_job(tmp: Path, source: Path, name: str = "job", **spec: Any) -> dict[str, Any]:
    out = tmp / f"{name}_out"
    out.mkdir()
    doc = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": [str(source)],
        "output_dir": str(out),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
        **spec,
    }
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(doc))
    proc = run_cli("run", str(path))
    result: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, (result["validation_error"], result["clips"])
    clip: dict[str, Any] = result["clips"][0]
    return clip


# -- variable frame rate -----------------------------------------------------------------
VFR = {
    # A phone clip whose rate changes: 45 frames at 30 fps, then 24 frames at 24 fps.
    "rate-change": (
        "testsrc2=size=128x72:rate=30:duration=3",
        "settb=1/600,setpts='if(lt(N,45),N*20,900+(N-45)*25)'",
        69,
    ),
    # Timestamps wobbling ±4 ms around 30 fps.
    "jitter": (
        "testsrc2=size=128x72:rate=30:duration=1",
        "settb=1/600,setpts='N*20+if(N,if(mod(N,3),2,-2),0)'",
        30,
    ),
    # A screen capture that freezes: 15 frames, nothing for 1 s, 15 frames.
    "long-freeze": (
        "testsrc2=size=128x72:rate=30:duration=1",
        "settb=1/600,setpts='if(lt(N,15),N*20,600+N*20)'",
        30,
    ),
}

# -- interlaced ----------------------------------------------------------------------------
INTERLACED = {
    # (tinterlace mode, field flag, encoder options): 50p → 25i, first field = frame 2n
    "h264-tff": (
        "interleave_top",
        "tff",
        [*H264, "-flags", "+ildct+ilme", "-x264-params", "tff=1"],
    ),
    "h264-bff": (
        "interleave_bottom",
        "bff",
        [*H264, "-flags", "+ildct+ilme", "-x264-params", "bff=1"],
    ),
    "prores-tff": (
        "interleave_top",
        "tff",
        ["-c:v", "prores_ks", "-profile:v", "2", "-flags", "+ildct"],
    ),
    "prores-bff": (
        "interleave_bottom",
        "bff",
        ["-c:v", "prores_ks", "-profile:v", "2", "-flags", "+ildct"],
    ),
}
LAVFI_50P = "testsrc2=size=640x360:rate=50:duration=1"
