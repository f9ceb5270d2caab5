"""`proxx demo` works in a run folder of its own and never touches anything else.

The folder it is pointed at holds what issue 11 found destroyed or tripped
over: a user's file where the proxies used to go, a sub-folder there, and a
damaged (truncated) sample left by an earlier run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxx.demo import SAMPLES, new_run_dir
from testkit import ffprobe_video, identity, make_clip, run_cli, truncated_copy

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def snapshot(folder: Path) -> dict[str, tuple[int, int, str] | None]:
    out: dict[str, tuple[int, int, str] | None] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), folder)] = None
        for f in filenames:
            path = os.path.join(dirpath, f)
            out[os.path.relpath(path, folder)] = identity(path)
    return out


def test_demo_leaves_foreign_files_and_earlier_runs_alone(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "proxies" / "sub").mkdir(parents=True)
    (d / "proxies" / "mine.txt").write_text("keep\n")
    # An earlier run whose 1080p sample was cut short (a crash, a full disk).
    earlier = d / "run-1" / "camera"
    earlier.mkdir(parents=True)
    whole = tmp_path / "whole.mov"
    make_clip(whole, extra=["-movflags", "+faststart"])
    truncated_copy(whole, earlier / "A001_C002_street.mov")
    before = snapshot(d)

    proc = run_cli("demo", "--dir", str(d), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(d / "run-1") == {
        k.removeprefix("run-1/"): v for k, v in before.items() if k.startswith("run-1/")
    }
    assert {k: v for k, v in snapshot(d).items() if not k.startswith("run-2")} == before
    run = d / "run-2"
    assert f"proxies in {run / 'proxies'}" in proc.stderr
    proxies = sorted(os.listdir(run / "proxies"))
    assert proxies == sorted(f"{name}_proxy.mov" for name, *_ in SAMPLES)
    for name, size, *_ in SAMPLES:
        video = ffprobe_video(run / "proxies" / f"{name}_proxy.mov")
        w, h = (int(x) for x in size.split("x"))
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", w // 2, h // 2)
    assert sorted(os.listdir(run)) == ["camera", "demo_job.json", "demo_job.result.json", "proxies"]


def test_run_folders_are_new_and_never_reused(tmp_path: Path) -> None:
    (tmp_path / "run-3").mkdir()
    (tmp_path / "run-7").write_text("a file of the user's named like a run")
    (tmp_path / "run-x").mkdir()
    assert new_run_dir(tmp_path) == tmp_path / "run-8"
    assert new_run_dir(tmp_path) == tmp_path / "run-9"
    assert (tmp_path / "run-7").read_text().startswith("a file")
    fresh = tmp_path / "nothing-here-yet"
    assert new_run_dir(fresh) == fresh / "run-1"


def test_demo_into_a_file_is_refused_with_a_message(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("mine")
    proc = run_cli("demo", "--dir", str(target))
    assert proc.returncode != 0
    assert "afile" in proc.stderr and target.read_text() == "mine"
