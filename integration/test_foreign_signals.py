"""An FFmpeg stopped by a signal the worker did not send: the clip was interrupted, not failed.

Slurm's scancel signals every process of a job, and may reach FFmpeg before the worker;
a person may kill an FFmpeg by its pid. FFmpeg then exits with 255, its answer to
SIGTERM. That is a stop, not a media error: the clip says `interrupted` (which a Slurm
runner then overlays with Slurm's own reason) and the job exits 5, like any interrupted
job. Before, the clip said `execution_error` (exit 2), and a scancel'd Slurm job reported
a media failure some of the time, depending on which process Slurm reached first.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from integration.processes import ffmpeg_procs, wait_for
from proxx.contract.errors import ExitCode
from testkit import finish_cli, run_cli, spec_dict, start_cli


def test_an_ffmpeg_sigtermed_from_outside_is_an_interrupted_clip_not_a_media_error(
    tmp_path: Path, long_clip: Path, tiny: Path, out: Path
) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(long_clip), str(tiny)], out)))
    cli = start_cli("run", str(job))
    # Once it writes its output FFmpeg has its signal handlers in place (before, SIGTERM
    # kills it outright: the same verdict, see the stand-ins below).
    wait_for(
        lambda: any(
            p.stat().st_size for p in out.glob(".proxx.*.partial/.long_proxy.mov.*.partial")
        ),
        "the first encode to write",
    )
    (encoder,) = ffmpeg_procs("/.long_proxy")

    os.kill(encoder.pid, signal.SIGTERM)  # to FFmpeg alone, as scancel's first signal may be
    done = finish_cli(cli)

    assert done.returncode == ExitCode.INTERRUPTED, done.stderr
    first, second = json.loads(done.stdout)["clips"]
    assert (first["status"], first["failure_reason"], first["exit_code"]) == (
        "FAILED",
        "interrupted",
        255,
    )
    assert first["failure_detail"] == (
        "FFmpeg was stopped by a signal the worker did not send (exit code 255, its answer to "
        "SIGINT or SIGTERM)"
    )
    assert not (out / "long_proxy.mov").exists()
    # As after any failed clip, the job ends there.
    assert second["status"] == "SKIPPED" and not (out / "tiny_proxy.mov").exists()


@pytest.mark.parametrize(
    ("ending", "reason", "detail"),
    [
        (
            "kill -TERM $$",  # before FFmpeg's handlers are in place
            "interrupted",
            "FFmpeg was stopped by a signal the worker did not send (killed by SIGTERM)",
        ),
        (
            "kill -HUP $$",  # FFmpeg does not catch SIGHUP
            "interrupted",
            "FFmpeg was stopped by a signal the worker did not send (killed by SIGHUP)",
        ),
        # The control: SIGKILL is what the OOM killer sends, so it stays a failure.
        ("kill -KILL $$", "execution_error", "FFmpeg killed by SIGKILL: (no stderr)"),
    ],
    ids=["sigterm", "sighup", "sigkill"],
)
def test_how_an_encoder_ended_by_a_signal_is_named(
    tmp_path: Path, tiny: Path, out: Path, ending: str, reason: str, detail: str
) -> None:
    # A stand-in on PATH: the real FFmpeg for its version check, then the signal.
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/bash\n[ "$1" = -version ] && exec /usr/bin/ffmpeg -version\n{ending}\n'
    )
    shim.chmod(0o755)
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out)))

    proc = run_cli("run", str(job), env={"PATH": f"{shim.parent}:{os.environ['PATH']}"})

    (clip,) = json.loads(proc.stdout)["clips"]
    assert (clip["failure_reason"], clip["failure_detail"]) == (reason, detail)
    expected = ExitCode.INTERRUPTED if reason == "interrupted" else ExitCode.EXECUTION
    assert proc.returncode == expected, proc.stderr
