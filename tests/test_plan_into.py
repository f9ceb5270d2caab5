"""`proxx plan --into WATCH`: a runner never sees half a JobSpec, and takes the whole one.

The kernel's own record of what happened in pending/ (inotify) is the witness: a
JobSpec name that appears by creation could be read half-written; one that appears
by a rename is whole the instant it exists. No timing is involved: the events queue
until they are read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import struct
from pathlib import Path

import pytest

from testkit import ANY_ROOT, make_clip, run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

IN_MODIFY, IN_MOVED_TO, IN_CREATE = 0x2, 0x80, 0x100
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class Witness:
    """Every name created, modified or renamed into one folder, in order."""

    def __init__(self, folder: Path) -> None:
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        mask = IN_CREATE | IN_MODIFY | IN_MOVED_TO
        assert _libc.inotify_add_watch(self.fd, os.fsencode(folder), mask) >= 0

    def events(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return out
        finally:
            os.close(self.fd)
        pos = 0
        while pos < len(data):
            _wd, mask, _cookie, size = struct.unpack_from("iIII", data, pos)
            name = data[pos + 16 : pos + 16 + size].rstrip(b"\0").decode()
            out.append((name, mask & (IN_CREATE | IN_MODIFY | IN_MOVED_TO)))
            pos += 16 + size
        return out


def exposed(events: list[tuple[str, int]]) -> list[str]:
    """Names a runner could have read before they were whole: visible to intake (no
    dot-name) and created or written in place."""
    return sorted({n for n, m in events if not n.startswith(".") and m & (IN_CREATE | IN_MODIFY)})


def watch_folder(root: Path) -> Path:
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    return root


def test_into_renames_a_whole_jobspec_in_and_the_runner_renders_it(tmp_path: Path) -> None:
    watch, out, cam = watch_folder(tmp_path / "watch"), tmp_path / "proxies", tmp_path / "cam"
    out.mkdir()
    cam.mkdir()
    make_clip(cam / "A001.mov")
    witness = Witness(watch / "pending")
    done = run_cli(
        "plan", str(cam), "--profile", "proxy_h264_low", "--output-dir", str(out),
        "--into", str(watch), "--name", "day1", *ANY_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = witness.events()
    assert ("day1.json", IN_MOVED_TO) in events
    assert exposed(events) == []
    assert os.listdir(watch / "pending") == ["day1.json"]  # no temp left behind
    ran = run_cli("watch", str(watch), "--once", *ANY_ROOT)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((watch / "completed" / "day1.result.json").read_text())
    assert result["status"] == "COMPLETED"
    assert os.listdir(out) == ["A001_proxy.mov"]


def test_control_a_jobspec_written_in_place_is_seen_as_exposed(tmp_path: Path) -> None:
    """The witness catches what --into avoids: a plain write is visible while half-done."""
    pending = watch_folder(tmp_path / "watch") / "pending"
    witness = Witness(pending)
    (pending / "job.json").write_text("{}")
    assert exposed(witness.events()) == ["job.json"]


def test_into_refuses_a_folder_that_is_not_a_watch_folder(tmp_path: Path) -> None:
    cam = tmp_path / "cam"
    cam.mkdir()
    make_clip(cam / "A.mov")
    done = run_cli(
        "plan", str(cam), "--profile", "proxy_h264_low", "--output-dir", str(tmp_path),
        "--into", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert done.returncode == 1
    assert "not a watch folder" in done.stderr and "nowhere/pending is not a folder" in done.stderr


def test_into_refuses_what_the_runner_would_refuse_and_names_the_root_to_give(
    tmp_path: Path,
) -> None:
    """Sources or an output folder outside the watch folder's tree fail at the runner's
    validation (its default roots); `plan --into` says so before it writes anything, and
    with the roots the runner is started with, the job it writes completes there."""
    watch, out, cam = watch_folder(tmp_path / "watch"), tmp_path / "proxies", tmp_path / "cam"
    out.mkdir()
    cam.mkdir()
    make_clip(cam / "A001.mov")
    args = ("plan", str(cam), "--profile", "proxy_h264_low", "--output-dir", str(out),
            "--into", str(watch), "--name", "day1")  # fmt: skip

    bare = run_cli(*args)
    assert bare.returncode == 1, bare.stderr
    assert f"source {cam / 'A001.mov'} is outside the allowed source roots {watch}" in bare.stderr
    assert "start the runner with --source-root DIR" in bare.stderr
    sources_only = run_cli(*args, "--source-root", str(cam))
    assert sources_only.returncode == 1, sources_only.stderr
    assert f"output_dir {out} is outside the allowed output roots {watch}" in sources_only.stderr
    assert "start the runner with --output-root DIR" in sources_only.stderr
    assert os.listdir(watch / "pending") == []  # nothing written, nothing half-written

    roots = ("--source-root", str(cam), "--output-root", str(out))
    assert run_cli(*args, *roots).returncode == 0
    ran = run_cli("watch", str(watch), "--once", *roots)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((watch / "completed" / "day1.result.json").read_text())
    assert result["status"] == "COMPLETED" and os.listdir(out) == ["A001_proxy.mov"]


def test_roots_given_without_into_confine_the_plan_as_run_would(tmp_path: Path) -> None:
    out, cam = tmp_path / "proxies", tmp_path / "cam"
    out.mkdir()
    cam.mkdir()
    make_clip(cam / "A001.mov")
    base = ("plan", str(cam), "--profile", "proxy_h264_low", "--output-dir", str(out))
    assert run_cli(*base).returncode == 0  # no roots, no --into: not confined (as `run`)
    refused = run_cli(*base, "--source-root", str(tmp_path / "elsewhere"))
    assert refused.returncode == 1 and refused.stdout == ""
    assert "is outside the allowed source roots" in refused.stderr
