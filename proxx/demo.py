"""`proxx demo`: make sample camera-like clips with FFmpeg, write a JobSpec, render it.

Each run works in a folder of its own, `DIR/run-N`, created by that run (an
exclusive mkdir), so the demo never removes, replaces or reuses a file it did
not make in this very run: whatever else DIR holds — the user's files, an
earlier run, a damaged sample — is left exactly as it is. Samples are made
fresh each run and probed before use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from proxx.contract.errors import SystemError_

SAMPLES = (
    # name, size, rate, timecode, audio channels
    ("A001_C001_sunrise", "1280x720", "25", "01:00:00:00", 2),
    ("A001_C002_street", "1920x1080", "24000/1001", "01:02:10:12", 2),
    ("B001_C001_interview", "1280x720", "25", "10:00:00:00", 1),
)


def lavfi_argv(
    path: Path,
    *,
    size: str,
    rate: str,
    seconds: float,
    video_codec: Sequence[str],
    audio_layout: str | None = "stereo",
    audio_codec: str | None = None,
    timecode: str | None = None,
    reel: str | None = None,
    extra: Sequence[str] = (),
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """FFmpeg's argv for a sample clip made from lavfi sources (no input files needed).

    The picture is testsrc2 (moving, so every frame differs), the sound a 440 Hz
    tone in `audio_layout` (none when None). The one maker of generated media:
    the demo, the tests (testkit) and the benchmarks all build on it.
    """
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio_layout:
        tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
        mix = f"[1:a]aformat=channel_layouts={audio_layout}[a]"
        argv += ["-f", "lavfi", "-i", tone, "-filter_complex", mix, "-map", "0:v", "-map", "[a]"]
    argv += video_codec
    if audio_layout and audio_codec:
        argv += ["-c:a", audio_codec]
    if timecode:
        argv += ["-timecode", timecode]
    if reel:
        argv += ["-metadata:s:v:0", f"reel_name={reel}"]
    return [*argv, *extra, str(path)]


def make_sample(
    path: Path, size: str, rate: str, timecode: str, channels: int, seconds: float = 2.0
) -> None:
    """A camera-like sample: ProRes 422 HQ, 24-bit PCM, start timecode, reel name."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemError_("ffmpeg not found on PATH: install FFmpeg (apt-get install ffmpeg)")
    argv = lavfi_argv(
        path,
        size=size,
        rate=rate,
        seconds=seconds,
        video_codec=["-c:v", "prores_ks", "-profile:v", "3"],
        audio_layout="stereo" if channels == 2 else "mono",
        audio_codec="pcm_s24le",
        timecode=timecode,
        reel=path.stem.split("_")[0],  # A001_C001_sunrise: reel A001, as a camera names it
        ffmpeg=ffmpeg,
    )
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def verify_sample(path: Path, size: str, channels: int, seconds: float = 2.0) -> None:
    """The sample FFmpeg just wrote has the picture, sound and length asked for."""
    ffprobe = shutil.which("ffprobe") or "ffprobe"
    out = subprocess.run(
        [ffprobe, "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        info = json.loads(out.stdout)
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        ok = (
            f"{video['width']}x{video['height']}" == size
            and audio["channels"] == channels
            and abs(float(info["format"]["duration"]) - seconds) < 0.1
        )
    except (ValueError, KeyError, StopIteration):
        ok = False
    if not ok:
        raise SystemError_(
            f"the sample FFmpeg made at {path} does not probe as expected "
            f"({out.stderr.strip() or 'wrong streams or length'})"
        )


RUN_DIR = re.compile(r"run-([0-9]{1,9})")


def new_run_dir(root: Path) -> Path:
    """DIR/run-N for the first N above every existing run-N: a folder only this run owns."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for e in os.scandir(root) if (m := RUN_DIR.fullmatch(e.name))]
    n = max(taken, default=0) + 1
    while True:
        run = root / f"run-{n}"
        try:
            run.mkdir()  # exclusive: a name that exists (even appearing now) is never reused
        except FileExistsError:
            n += 1
            continue
        return run


def write_demo(root: Path) -> Path:
    run = new_run_dir(root)
    media, proxies = run / "camera", run / "proxies"
    media.mkdir()
    proxies.mkdir()
    for name, size, rate, tc, ch in SAMPLES:
        target = media / f"{name}.mov"
        make_sample(target, size, rate, tc, ch)
        verify_sample(target, size, ch)
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
    spec_path = run / "demo_job.json"
    with open(spec_path, "x") as fh:
        fh.write(json.dumps(spec, indent=2) + "\n")
    return spec_path
