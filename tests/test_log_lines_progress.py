"""One line per event on stderr (issue 19, point 7), through the real `proxx run`.

An FFmpeg stand-in fails with a three-line stderr: the result keeps it whole;
on stderr it is folded into one line in the text format, and under
`--log-format json` every stderr line (progress, log records and the closing
messages) is one JSON object, naming the job and worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from testkit import run_cli

STDERR = "[h264 @ 0x1] error while decoding MB 3 4\\nInvalid data found\\nConversion failed!"


def _failing_ffmpeg(tmp_path: Path) -> dict[str, str]:
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text(
        '#!/bin/bash\n[ "$1" = -version ] && exec /usr/bin/ffmpeg "$@"\n'
        f'printf "{STDERR}\\n" >&2\nexit 1\n'
    )
    shim.chmod(0o755)
    return {"PATH": f"{shim.parent}:{os.environ['PATH']}"}


def test_json_logs_parse_line_by_line_and_name_the_job(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    env = _failing_ffmpeg(tmp_path)
    spec = job([clip("a.mov")])

    proc = run_cli("--log-format", "json", "run", str(spec), "--progress", "line", env=env)

    assert proc.returncode == 2
    res = json.loads(proc.stdout)
    assert res["clips"][0]["failure_detail"].count("\n") >= 2  # kept whole in the result
    records = [json.loads(line) for line in proc.stderr.splitlines()]  # each one parses
    closing = [r for r in records if str(r.get("msg", "")).startswith("proxx: ")]
    assert closing and all(r["job_id"] == res["job_id"] for r in closing)
    assert all(r["worker_id"] == res["worker_id"] for r in closing)
    assert any(r.get("event") == "progress" for r in records)  # the line became JSON lines
    assert any("Conversion failed!" in str(r.get("msg")) for r in records if "msg" in r)


def test_text_logs_fold_a_multi_line_stderr_into_one_line(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    env = _failing_ffmpeg(tmp_path)

    proc = run_cli("run", str(job([clip("a.mov")])), env=env)

    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith(("20", "proxx: ")) for line in lines), lines
    folded = [line for line in lines if "Invalid data found" in line]
    assert folded and all(
        "error while decoding MB 3 4 | Invalid data found | Conversion failed!" in line
        for line in folded
    )
