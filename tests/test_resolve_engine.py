"""The Resolve engine rendering against a test double of Resolve's raw API.

Renders are real files written by FFmpeg, verified by the engine exactly like
FFmpeg outputs; an image sequence is imported as its whole contiguous run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.content.probe import probe
from proxx.contract.naming import partial_path, record_path
from testkit import ffprobe_video, redcode
from tests.resolve_double import Behaviour, FakeResolve
from tests.resolve_jobs import leftovers, plan_for
from workers.context import JobContext
from workers.resolve.api import media_spec
from workers.resolve.engine import ResolveEngine

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def stream_profile(path: str) -> str:
    return str(ffprobe_video(path)["profile"])


# -- rendering -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codec", "container", "profile", "codec_name", "profile_name"),
    [
        ("prores_proxy", "mov", "proxy_prores_proxy_resolve", "prores", "Proxy"),
        ("prores422", "mov", "proxy_prores422_resolve", "prores", "Standard"),
        ("prores422hq", "mov", "proxy_prores_hq_resolve", "prores", "HQ"),
        ("dnxhr_hq", "mxf", "proxy_dnxhr_hq_resolve", "dnxhd", "DNXHR HQ"),
    ],
)
def test_a_raw_clip_renders_verifies_and_publishes(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
    codec: str,
    container: str,
    profile: str,
    codec_name: str,
    profile_name: str,
) -> None:
    fake = FakeResolve()
    plan = plan_for(
        [redcode(tmp_path / "A001_C001.R3D")],
        tmp_path / "out",
        codec=codec,
        container=container,
        profile=profile,
    )
    engine = make_engine(fake)

    result = engine.render(plan, plan.clips[0], stop_pipe[0])

    assert (result.status, result.failure_detail) == ("COMPLETED", None)
    assert (result.engine, result.ffmpeg_command, engine.command_for(plan, plan.clips[0])) == (
        "resolve",
        None,
        None,
    )
    out = plan.clips[0].output_path
    # Beside the proxy, the job's private folder keeps its publication record until the
    # job ends (workers/jobrun.py removes both).
    partial = partial_path(out, plan.job_id)
    private = os.path.dirname(partial)
    assert leftovers(tmp_path / "out") == sorted([os.path.basename(private), os.path.basename(out)])
    assert os.listdir(private) == [os.path.basename(record_path(partial))]
    assert result.output_size_bytes == os.path.getsize(out)
    facts = probe(out, count_frames=container == "mxf")
    assert facts.video is not None
    assert (facts.video.codec_name, stream_profile(out)) == (codec_name, profile_name)
    assert (facts.video.width, facts.video.height, facts.video.frame_rate) == (640, 360, "25")
    assert facts.frame_count() == 10
    assert [a.channels for a in facts.audio] == [2]
    assert facts.timecode == "01:00:00:00"
    assert engine.versions() == {"resolve": "DaVinci Resolve Studio 19.1.3.7"}
    assert fake.pm.projects == {}  # the throw-away project is gone from Resolve


def test_frame_size_and_forced_rate_come_from_resolves_clip_properties(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    clip = {
        "Resolution": "4096x2160",
        "FPS": "23.976",
        "Frames": "24",
        "Audio Ch": "0",
        "Start TC": "14:02:11:23",
    }
    plan = plan_for([redcode(tmp_path / "B002_C007.R3D")], tmp_path / "out", fps_mode="force_25")

    result = make_engine(FakeResolve(Behaviour(clip=clip))).render(
        plan, plan.clips[0], stop_pipe[0]
    )

    assert result.status == "COMPLETED", result.failure_detail
    facts = probe(plan.clips[0].output_path)
    assert facts.video is not None
    assert (facts.video.width, facts.video.height, facts.video.frame_rate) == (2048, 1080, "25")
    assert facts.frame_count() == 25  # one second of picture, conformed to 25 fps
    assert facts.audio == []
    assert facts.timecode == "14:02:11:24"


# -- image sequences ---------------------------------------------------------------------
def test_a_frame_of_an_image_sequence_imports_its_whole_contiguous_run(tmp_path: Path) -> None:
    for n in (7, 8, 9, 10, 12):  # 11 is missing: 12 starts another run
        (tmp_path / f"A002_C003_{n:06d}.dng").write_bytes(b"II*\x00")

    spec = media_spec(str(tmp_path / "A002_C003_000009.dng"))

    assert spec == {
        "FilePath": str(tmp_path / "A002_C003_%06d.dng"),
        "StartIndex": 7,
        "EndIndex": 10,
    }
    assert media_spec(str(tmp_path / "A001_C001_0001.R3D")) == str(tmp_path / "A001_C001_0001.R3D")
