"""Issue 18, finding 1: only movies are rendered; a text file never becomes a proxy.

FFmpeg's `tty` demuxer draws any text file into video frames (codec `ansi`), and a
playlist reads further files by name. `proxx run` must refuse both before
rendering anything, with the reason in the result and on stderr; a real clip
still renders (the control), through the demuxer its probe saw (`-f`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit import run_cli, spec_in

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

SECRET = "root:$6$not-really-a-hash:19000:0:99999:7:::\nline two of the secret\n"


def refused(spec: Path) -> tuple[dict[str, object], str]:
    proc = run_cli("run", str(spec))
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "FAILED"
    return result, proc.stderr


@pytest.mark.parametrize("name", ["secret.asc", "notes.nfo", "banner.ans"])
def test_a_text_file_is_refused_not_drawn_into_a_proxy(tmp_path: Path, name: str) -> None:
    secret = tmp_path / name
    secret.write_text(SECRET)
    spec, out = spec_in(tmp_path, [secret])
    result, stderr = refused(spec)
    assert "demuxer tty is not on Proxx's list" in str(result["validation_error"])
    assert "demuxer tty" in stderr
    assert os.listdir(out) == []


def test_a_symlink_to_a_text_file_is_refused_the_same(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    link = tmp_path / "s.nfo"
    link.symlink_to(secret)
    spec, out = spec_in(tmp_path, [link])
    result, _ = refused(spec)
    assert "demuxer tty" in str(result["validation_error"])
    assert os.listdir(out) == []


def test_a_playlist_is_refused_even_when_it_names_a_real_clip(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    # Relative: FFmpeg's concat demuxer refuses absolute names in its safe mode anyway.
    (tmp_path / "a.mov").write_bytes(clip("a.mov").read_bytes())
    playlist = tmp_path / "list.ffconcat"
    playlist.write_text("ffconcat version 1.0\nfile a.mov\n")
    spec, out = spec_in(tmp_path, [playlist])
    result, _ = refused(spec)
    assert "demuxer concat is not on Proxx's list" in str(result["validation_error"])
    assert os.listdir(out) == []


def test_control_a_real_clip_renders_through_the_demuxer_its_probe_saw(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    spec, out = spec_in(tmp_path, [clip("a.mov")])
    proc = run_cli("run", str(spec))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "COMPLETED"
    argv = shlex.split(result["clips"][0]["ffmpeg_command"])
    i = argv.index("-i")
    assert argv[i - 4 : i] == ["-f", "mov", "-protocol_whitelist", "file"]
    assert os.listdir(out) == ["a_proxy.mov"]
