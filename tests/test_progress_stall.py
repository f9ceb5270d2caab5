"""Stalls named, not guessed (issue 19, point 4): a stand-in FFmpeg in a real worker.

A stand-in that reports progress and then stands still is cancelled as
`timeout`, naming the limit and the last line it printed, and leaves no
process and no partial render (nor the job's private folder); one that is
slow but keeps moving for longer than the limit is never stopped and completes
(the control). Through the real `proxx run --stall-seconds`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit import run_cli

STALL_S = 3.0
VERSION = '[ "$1" = -version ] && exec /usr/bin/ffmpeg "$@"'


def _run_with_stand_in(tmp_path: Path, spec: Path, script: str) -> tuple[int, dict[str, Any]]:
    """`proxx run --stall-seconds 3` with an `ffmpeg` stand-in first on PATH."""
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/bash\n{VERSION}\n{script}\n")
    shim.chmod(0o755)
    env = {"PATH": f"{shim.parent}:{os.environ['PATH']}"}
    proc = run_cli("run", str(spec), "--stall-seconds", f"{STALL_S:g}", env=env)
    return proc.returncode, json.loads(proc.stdout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_render_whose_progress_stands_still_is_cancelled_as_timeout(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    pid_file = tmp_path / "stand_in.pid"
    code, res = _run_with_stand_in(
        tmp_path,
        job([clip("a.mov")]),
        f"echo $$ > {pid_file}\n"
        'echo half a render > "${@: -1}"\n'  # the partial: FFmpeg's last argument
        "echo out_time_us=200000; echo progress=continue\n"
        "echo 'rtsp://cam: connection timed out, retrying' >&2\n"
        "exec sleep 600",
    )

    (result,) = res["clips"]
    assert (code, res["status"], result["failure_reason"]) == (2, "FAILED", "timeout")
    assert "no progress for 3 s in phase render" in result["failure_detail"]
    assert "its last line: rtsp://cam: connection timed out, retrying" in result["failure_detail"]
    assert not _alive(int(pid_file.read_text()))  # the stand-in (now `sleep`) is gone
    assert not (tmp_path / "out" / "a_proxy.mov").exists()
    # Its partial went, and with it the job's private folder; the result names none.
    assert os.listdir(tmp_path / "out") == []
    assert result["partial_output_path"] is None
    assert "its partial render was removed" in result["failure_detail"]


def test_a_slow_render_that_keeps_moving_past_the_limit_is_never_stopped(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
) -> None:
    # A step forward every 0.3 s for 4.5 s (longer than the 3 s limit), then the real
    # render: slow, never still.
    code, res = _run_with_stand_in(
        tmp_path,
        job([clip("a.mov")]),
        "for i in $(seq 1 15); do echo out_time_us=$((i * 40000)); echo progress=continue; "
        "sleep 0.3; done\n"
        'exec /usr/bin/ffmpeg "$@"',
    )

    (result,) = res["clips"]
    assert (code, res["status"], result["failure_reason"]) == (0, "COMPLETED", None), result
    assert (tmp_path / "out" / "a_proxy.mov").is_file()
    assert result["duration_seconds"] > STALL_S
