"""Media dropped into a watch folder is said once, with the command that makes it a job,
and is never moved, deleted or opened by the runner (it finds media by name only)."""

from __future__ import annotations

import json
import logging
import os
import shlex
from pathlib import Path

import pytest

from proxx.watch.misplaced import MisplacedWarner, find_misplaced
from testkit import ANY_ROOT, make_clip, run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def watch_folder(root: Path) -> Path:
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    return root


def identity(path: Path) -> tuple[int, int, int, bytes]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns, path.read_bytes()


def test_media_in_pending_is_reported_once_and_its_command_makes_the_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, out = watch_folder(tmp_path / "watch"), tmp_path / "proxies"
    out.mkdir()
    media = make_clip(root / "pending" / "A001_C001.mov")
    before = identity(media)
    warner = MisplacedWarner(str(root), min_interval_s=0.0)
    with caplog.at_level(logging.WARNING, logger="proxx.watch"):
        warner.check()
        warner.check()
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith(f"misplaced file {media} will never be taken: a media file")
    status = run_cli("status", "--json", str(root))
    listed = {m["path"]: m["reason"] for m in json.loads(status.stdout)["misplaced"]}
    assert list(listed) == [str(media)] and listed[str(media)] in message
    ran = run_cli("watch", str(root), "--once")  # the runner itself: logs it, takes nothing
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.count(f"misplaced file {media}") == 1
    assert identity(media) == before and os.listdir(root / "failed") == []
    # The command it gives, with the preset filled in, turns the file into a job.
    command = shlex.split(listed[str(media)].split("`")[1])
    assert command[:2] == ["proxx", "plan"]
    preset = tmp_path / "show.toml"
    preset.write_text(f'proxy_profile = "proxy_h264_low"\noutput_dir = "{out}"\n')
    args = [str(preset) if a == "PRESET.toml" else a for a in command[2:]]
    planned = run_cli("plan", *args, *ANY_ROOT)  # the roots the runner below is given
    assert planned.returncode == 0, planned.stderr
    assert run_cli("watch", str(root), "--once", *ANY_ROOT).returncode == 0
    assert os.listdir(out) == ["A001_C001_proxy.mov"]
    assert identity(media) == before  # rendered from where it lay, still untouched


def test_media_is_found_by_name_in_root_pending_and_its_sub_folders_never_opened(
    tmp_path: Path,
) -> None:
    root = watch_folder(tmp_path / "watch")
    (root / "B.MXF").write_bytes(b"stand-in")
    (root / "pending" / "media").mkdir()
    (root / "pending" / "media" / "C.braw").write_bytes(b"stand-in")
    os.mkfifo(root / "pending" / "D.mov")  # opening it would block the runner for good
    (root / "pending" / "notes.txt").write_bytes(b"call the lab")
    (root / "completed" / "E.mov").write_bytes(b"Proxx's folders are not looked at")
    found = {os.path.relpath(m.path, root): m.reason for m in find_misplaced(str(root))}
    assert sorted(found) == ["B.MXF", "pending/D.mov", "pending/media/C.braw"]
    assert all("--into " + str(root) in why for why in found.values())
