"""No overwrite, even in a race: a file that appears at the final name mid-render wins.

Validation refuses outputs that already exist; this covers the window after
it. A thread plays the intruder: the moment the clip's `.partial` appears, it
puts something at the final name. Publication must refuse to replace it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import PROXX, spec_dict


def intrude_when_rendering(
    out: Path, final: Path, make: Callable[[Path], None], done: threading.Event
) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not done.is_set():
            if any(n.endswith(".partial") for n in os.listdir(out)):
                make(final)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def write_file(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"another system's proxy, not to be touched")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("intruder", ["file", "symlink"])
def test_output_appearing_mid_render_is_never_replaced(
    intruder: str, tmp_path: Path, clip: Callable[..., Path]
) -> None:
    src = clip("race_640x360_3s.mov", size="640x360", seconds=3.0)
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "elsewhere.mov"  # where a symlink intruder points
    write_file(target)
    target_digest = digest(target)
    spec = tmp_path / "job.json"
    spec.write_text(
        json.dumps(
            spec_dict(
                [str(src), str(clip())],
                out,
                codec="prores422hq",
                proxy_profile="proxy_prores422hq_1080",
                output_name_template="{index}_{source_name}",
            )
        )
    )
    final = out / "001_race_640x360_3s.mov"

    def make(path: Path) -> None:
        if intruder == "file":
            write_file(path)
        else:
            path.symlink_to(target)

    done = threading.Event()
    thread = intrude_when_rendering(out, final, make, done)
    proc = subprocess.run(
        [*PROXX, "run", str(spec)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    done.set()
    thread.join()
    result: dict[str, Any] = json.loads(proc.stdout)

    assert os.path.lexists(final), "the intruder never got in: the test proved nothing"
    assert proc.returncode == 2, proc.stderr
    assert result["status"] == "FAILED"
    first, second = result["clips"]
    assert first["status"] == "FAILED" and first["output_size_bytes"] is None
    assert "appeared at the final name" in first["failure_detail"]
    assert second["status"] == "SKIPPED"
    # The intruder is exactly as it was put there.
    if intruder == "file":
        assert not final.is_symlink()
        assert final.read_bytes() == b"another system's proxy, not to be touched"
    else:
        assert final.is_symlink() and os.readlink(final) == str(target)
        assert digest(target) == target_digest
    # The verified render is kept under its temporary name, and reported.
    kept = first["partial_output_path"]
    assert kept is not None and os.path.basename(kept).startswith(".")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", kept],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(probe.stdout)["streams"][0]["codec_name"] == "prores"
    # It sits in the job's private folder, the one other name in the output folder.
    private = os.path.dirname(kept)
    assert sorted(os.listdir(out)) == sorted([final.name, os.path.basename(private)])
    assert os.listdir(private) == [os.path.basename(kept)]  # no publication record left
