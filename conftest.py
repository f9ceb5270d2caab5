"""Fixtures shared by tests/ and integration/: tiny real media, JobSpecs, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROXX = [sys.executable, "-m", "proxx"]


def make_clip(
    path: Path,
    *,
    size: str = "64x36",
    rate: str = "25",
    seconds: float = 1.0,
    vcodec: list[str] | None = None,
    audio_channels: int = 2,
    timecode: str | None = "01:00:00:00",
    reel: str | None = None,
    extra: list[str] | None = None,
) -> Path:
    """A tiny real clip made by FFmpeg's lavfi sources (milliseconds to make)."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio_channels:
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[audio_channels]
        argv += ["-f", "lavfi", "-i",
                 f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                 "-filter_complex", f"[1:a]aformat=channel_layouts={layout}[a]",
                 "-map", "0:v", "-map", "[a]"]
    argv += vcodec or ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio_channels:
        argv += ["-c:a", "pcm_s16le" if path.suffix in (".mov", ".mxf") else "aac"]
    if timecode:
        argv += ["-timecode", timecode]
    if reel:
        argv += ["-metadata:s:v:0", f"reel_name={reel}"]
    argv += [*(extra or []), str(path)]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return path


def spec_dict(sources: list[str], output_dir: Path | str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": sources,
        "output_dir": str(output_dir),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
    }
    spec.update(overrides)
    return spec


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PROXX, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture
def clip(clip_cache: Path) -> Callable[..., Path]:
    """clip(name, **make_clip kwargs) → a cached tiny clip (copy it before damaging it)."""

    def factory(name: str = "clip.mov", **kwargs: Any) -> Path:
        path = clip_cache / name
        if not path.exists():
            make_clip(path, **kwargs)
        return path

    return factory


@pytest.fixture
def job(tmp_path: Path) -> Callable[..., Path]:
    """job(sources, **overrides) → path of a JobSpec in tmp_path (outputs in tmp_path/out)."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)

    def factory(sources: list[str | Path], name: str = "job.json", **overrides: Any) -> Path:
        spec = spec_dict([str(s) for s in sources], out, **overrides)
        path = tmp_path / name
        path.write_text(json.dumps(spec))
        return path

    return factory
