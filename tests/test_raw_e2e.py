"""Camera RAW through the real CLI on a host without DaVinci Resolve (like this one).

A RAW job must validate, route to Resolve, and then fail as a system error
naming exactly what is missing — never fall back to FFmpeg, never leave a
file behind. A job mixing RAW and non-RAW sources is refused before anything
runs, saying which source needs which engine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import noise, redcode, run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

RESOLVE_SPEC: dict[str, Any] = {
    "codec": "prores_proxy",
    "container": "mov",
    "proxy_profile": "proxy_prores_proxy_resolve",
}


def test_a_raw_job_validates_and_routes_to_resolve(
    tmp_path: Path,
    job: Callable[..., Path],
) -> None:
    r3d = redcode(tmp_path / "A001_C001_0101AB_001.R3D")

    proc = run_cli("validate", "--json", str(job([r3d], **RESOLVE_SPEC)))

    # Routed to Resolve, which this host lacks: exit 4 with `run`'s exact reason.
    assert proc.returncode == 4, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["execution_engine"], report["engine_routing_reason"]) == (
        "resolve",
        "magic RED2 at byte 4: REDCODE requires DaVinci Resolve",
    )
    assert report["valid"] is False and "fusionscript" in report["system_error"]
    assert proc.stderr.count(report["system_error"]) == 1


def test_a_raw_job_without_resolve_fails_engine_unavailable_exit_4(
    tmp_path: Path,
    job: Callable[..., Path],
) -> None:
    r3d = redcode(tmp_path / "A001_C001_0101AB_001.R3D")

    proc = run_cli("run", str(job([r3d], **RESOLVE_SPEC)), env={"RESOLVE_SCRIPT_LIB": ""})

    assert proc.returncode == 4, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["status"], result["execution_engine"]) == ("FAILED", "resolve")
    assert result["engine_routing_reason"] == (
        "magic RED2 at byte 4: REDCODE requires DaVinci Resolve"
    )
    [clip] = result["clips"]
    assert (clip["status"], clip["engine"], clip["failure_reason"], clip["ffmpeg_command"]) == (
        "FAILED",
        "resolve",
        "engine_unavailable",
        None,
    )
    assert clip["failure_detail"] == (
        "DaVinci Resolve's scripting library fusionscript was not found: RESOLVE_SCRIPT_LIB is "
        "not set and no file exists at /opt/resolve/libs/Fusion/fusionscript.so, "
        "/home/resolve/libs/Fusion/fusionscript.so. Install DaVinci Resolve Studio on this host, "
        "or set RESOLVE_SCRIPT_LIB to the full path of its fusionscript library"
    )
    assert "fusionscript was not found" in proc.stderr
    assert os.listdir(tmp_path / "out") == []


def test_a_broken_resolve_library_is_named_in_the_failure(
    tmp_path: Path,
    job: Callable[..., Path],
) -> None:
    lib = tmp_path / "fusionscript.so"
    lib.write_bytes(b"\x7fELF" + noise(2048))
    r3d = redcode(tmp_path / "A001_C001_0101AB_001.R3D")

    proc = run_cli("run", str(job([r3d], **RESOLVE_SPEC)), env={"RESOLVE_SCRIPT_LIB": str(lib)})

    assert proc.returncode == 4, proc.stderr
    [clip] = json.loads(proc.stdout)["clips"]
    assert clip["failure_reason"] == "engine_unavailable"
    assert clip["failure_detail"].startswith(
        f"could not load DaVinci Resolve's scripting library {lib}: "
    )


def test_a_mixed_raw_and_non_raw_job_fails_validation_naming_each_source(
    tmp_path: Path,
    job: Callable[..., Path],
    clip: Callable[..., Path],
) -> None:
    r3d = redcode(tmp_path / "A001_C001_0101AB_001.R3D")
    mov = clip("e2e_h264.mov")

    proc = run_cli(
        "run", str(job([r3d, mov], output_name_template="{index}_{source_name}", **RESOLVE_SPEC))
    )

    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["status"], result["clips"], result["successful_clips"]) == ("FAILED", [], 0)
    assert result["validation_error"] == (
        "camera RAW and non-RAW sources cannot share a job; split it by engine — resolve: "
        f"{r3d} (magic RED2 at byte 4: REDCODE requires DaVinci Resolve); ffmpeg: {mov} "
        "(codec h264 (fourcc avc1): FFmpeg decodes it)"
    )
    assert os.listdir(tmp_path / "out") == []


def test_a_raw_source_with_an_ffmpeg_profile_is_refused_before_running(
    tmp_path: Path,
    job: Callable[..., Path],
) -> None:
    r3d = redcode(tmp_path / "A001_C001_0101AB_001.R3D")

    proc = run_cli("run", str(job([r3d])))  # proxy_h264_low renders with FFmpeg

    assert proc.returncode == 1, proc.stderr
    error = json.loads(proc.stdout)["validation_error"]
    assert "renders with ffmpeg, but the sources route to resolve" in error
