"""Verification compares values, and no ffprobe runs on the per-clip path.

The files checked are real FFmpeg renders that differ from what was asked in
one fact each; a control render that matches passes, so each rejection is the
fact's doing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from proxx.content.colour import Colour
from testkit import make_clip, run_cli
from workers.expect import Expected
from workers.verify import check_output, verify_output

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

EXPECTED = Expected(
    codec="prores_proxy",
    width=64,
    height=36,
    rate=Fraction(25),
    frames=25,
    frames_exact=True,
    audio_channels=(2,),
    timecode="01:00:00:00",
    reel_name="A001",
)


def render(
    path: Path,
    *,
    timecode: str = "01:00:00:00",
    reel: str = "A001",
    profile: str = "0",
    layout: str = "stereo",
) -> Path:
    """A one-second ProRes clip that matches EXPECTED except where an argument says."""
    return make_clip(
        path,
        vcodec=["-c:v", "prores_aw", "-profile:v", profile],
        audio_channels={"mono": 1, "stereo": 2}[layout],
        timecode=timecode,
        reel=reel,
    )


def test_a_matching_render_passes_and_reports_its_facts(tmp_path: Path) -> None:
    problem, facts = check_output(str(render(tmp_path / "ok.mov")), EXPECTED, "mov")
    assert problem is None
    assert facts is not None and facts.timecode == "01:00:00:00" and facts.reel_name == "A001"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"timecode": "01:00:00:01"}, "start timecode is 01:00:00:01, expected 01:00:00:00"),
        ({"reel": "B002"}, "reel name is B002, expected A001"),
        ({"layout": "mono"}, "audio channels are [1], expected [2]"),
        ({"profile": "1"}, "prores profile is LT, expected Proxy"),
    ],
)
def test_one_wrong_fact_fails_verification_naming_it(
    tmp_path: Path,
    kwargs: dict[str, str],
    problem: str,
) -> None:
    path = render(tmp_path / "wrong.mov", **kwargs)
    assert verify_output(str(path), EXPECTED, "mov") == problem


def test_the_reel_is_compared_only_where_the_container_carries_one(tmp_path: Path) -> None:
    path = render(tmp_path / "other_reel.mov", reel="B002")
    # MXF and MP4 have no reel name field, so Proxx does not write one there.
    assert verify_output(str(path), EXPECTED, "mp4") is None


def test_no_ffprobe_runs_for_a_job(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    # PATH holds ffmpeg and nothing else: probing sources and verifying proxies
    # happen in-process (PyAV), so a job completes without ffprobe.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None
    (bin_dir / "ffmpeg").symlink_to(ffmpeg)
    spec = job(
        [clip("noprobe_a.mov", timecode="02:00:00:00", reel="R9"), clip("noprobe_b.mov")],
        output_name_template="{index}_{source_name}",
    )

    proc = run_cli("run", str(spec), env={"PATH": str(bin_dir)})

    result = json.loads(proc.stdout)
    assert proc.returncode == 0, (result["validation_error"], result["clips"])
    assert [c["status"] for c in result["clips"]] == ["COMPLETED", "COMPLETED"]
    first = result["clips"][0]["fidelity"]["proxy"]
    assert (first["timecode"], first["reel_name"]) == ("02:00:00:00", "R9")
    assert all(os.path.getsize(c["output_path"]) == c["output_size_bytes"] for c in result["clips"])


def _tagged(path: Path, matrix: str) -> Path:
    tags = f"setparams=color_primaries=bt709:color_trc=bt709:colorspace={matrix}"
    return make_clip(
        path, vcodec=["-c:v", "prores_aw", "-profile:v", "0", "-vf", tags], reel="A001"
    )


def test_colour_is_compared_by_value(tmp_path: Path) -> None:
    bt709 = Colour(primaries="bt709", transfer="bt709", matrix="bt709", range="tv")
    exp = dataclasses.replace(EXPECTED, colour=bt709)
    # The control: the same render with the expected matrix passes.
    assert verify_output(str(_tagged(tmp_path / "ok.mov", "bt709")), exp, "mov") is None
    wrong = _tagged(tmp_path / "wrong.mov", "smpte170m")
    assert verify_output(str(wrong), exp, "mov") == "colour matrix is smpte170m, expected bt709"
    untagged = render(tmp_path / "untagged.mov")
    assert verify_output(str(untagged), exp, "mov") == (
        "colour primaries is unstated, expected bt709; colour transfer is unstated, "
        "expected bt709; colour matrix is unstated, expected bt709"
    )
