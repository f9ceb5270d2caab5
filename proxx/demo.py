"""`proxx demo`: make sample camera-like clips with FFmpeg, write a JobSpec, render it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from proxx.errors import SystemError_

SAMPLES = (
    # name, size, rate, timecode, audio channels
    ("A001_C001_sunrise", "1280x720", "25", "01:00:00:00", 2),
    ("A001_C002_street", "1920x1080", "24000/1001", "01:02:10:12", 2),
    ("B001_C001_interview", "1280x720", "25", "10:00:00:00", 1),
)


def make_sample(path: Path, size: str, rate: str, timecode: str, channels: int,
                seconds: float = 2.0) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemError_("ffmpeg not found on PATH: install FFmpeg (apt-get install ffmpeg)")
    layout = "stereo" if channels == 2 else "mono"
    argv = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-filter_complex", f"[1:a]aformat=channel_layouts={layout}[a]",
        "-map", "0:v", "-map", "[a]", "-c:v", "prores_ks", "-profile:v", "3",
        "-c:a", "pcm_s24le", "-timecode", timecode,
        "-metadata:s:v:0", f"reel_name={path.stem.split('_')[0]}", str(path),
    ]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def write_demo(root: Path) -> Path:
    media, proxies = root / "camera", root / "proxies"
    media.mkdir(parents=True, exist_ok=True)
    proxies.mkdir(parents=True, exist_ok=True)
    for leftover in proxies.iterdir():  # a demo re-run starts clean: these are ours
        leftover.unlink()
    for name, size, rate, tc, ch in SAMPLES:
        target = media / f"{name}.mov"
        if not target.exists():
            make_sample(target, size, rate, tc, ch)
    spec = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": [f"camera/{name}.mov" for name, *_ in SAMPLES],
        "output_dir": os.path.abspath(proxies),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
        "user_metadata": {"project": "proxx demo"},
    }
    spec_path = root / "demo_job.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    return spec_path
