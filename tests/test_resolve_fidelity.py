"""What a Resolve clip result records: the published bytes' SHA-256 and the fidelity block.

The same function hashes and publishes for both engines (workers/fence.py
`publish_hashed`), so a Resolve proxy's `output_sha256` is the file's and its
publication record (what recovery reads) carries it; the fidelity block is built by
workers/verify.py `fidelity`, the source side from what Resolve renders from (its
clip properties: a RAW stand-in does not probe). Colour is recorded, not compared
(docs/MEDIA.md §5a).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.content.probe import probe
from proxx.contract.naming import partial_path, record_path
from proxx.contract.results import MediaFacts
from testkit import redcode
from tests.resolve_double import Behaviour, FakeResolve
from tests.resolve_jobs import plan_for, render_red
from workers.context import JobContext
from workers.private import open_private, read_record
from workers.resolve.engine import ResolveEngine

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

RAW_COLOUR_NOTE = (
    "colour: a camera RAW source states none; the proxy's colour is what Resolve's "
    "project and render settings make it, recorded here, not compared"
)


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_resolve_proxy_records_its_sha256_and_its_fidelity(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    plan, result = render_red(make_engine(), tmp_path, stop_pipe[0])

    assert result.status == "COMPLETED", result.failure_detail
    out = plan.clips[0].output_path
    assert result.output_sha256 == sha256(out)
    fid = result.fidelity
    assert fid is not None
    # The source as Resolve reports it (the double's clip: 640x360, 25 fps, 10 frames,
    # 2 channels, 01:00:00:00); the R3D stand-in does not probe: no reel, no colour, and
    # RAW's own field order (whole frames).
    assert fid.source == MediaFacts(
        frames=10,
        frame_rate="25",
        field_order="progressive",
        timecode="01:00:00:00",
        audio_channels=[2],
    )
    assert fid.proxy is not None
    assert (fid.proxy.frames, fid.proxy.frame_rate, fid.proxy.timecode) == (
        10,
        "25",
        "01:00:00:00",
    )
    assert (fid.proxy.audio_channels, fid.proxy.field_order) == ([2], "progressive")
    # The proxy's colour is recorded as it probes (whatever Resolve tagged), not compared.
    video = probe(out).video
    assert video is not None
    assert (
        fid.proxy.color_primaries,
        fid.proxy.color_transfer,
        fid.proxy.color_space,
        fid.proxy.color_range,
    ) == (video.colour.primaries, video.colour.transfer, video.colour.matrix, video.colour.range)
    assert fid.notes == [RAW_COLOUR_NOTE]
    # Recovery's evidence: the publication record names the same bytes.
    partial = partial_path(out, plan.job_id)
    fd = open_private(os.path.dirname(partial), create=False)
    try:
        record = read_record(fd, os.path.basename(record_path(partial)))
    finally:
        os.close(fd)
    assert record is not None
    assert (record.output_path, record.sha256) == (out, result.output_sha256)


def test_the_notes_say_what_resolve_changes_on_purpose(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    clip = {
        "Resolution": "4096x2160",
        "FPS": "23.976",
        "Frames": "24",
        "Audio Ch": "4",
        "Start TC": "14:02:11:23",
    }
    plan = plan_for([redcode(tmp_path / "B002_C007.R3D")], tmp_path / "out", fps_mode="force_25")

    result = make_engine(FakeResolve(Behaviour(clip=clip))).render(
        plan, plan.clips[0], stop_pipe[0]
    )

    assert result.status == "COMPLETED", result.failure_detail
    assert result.fidelity is not None
    source, proxy = result.fidelity.source, result.fidelity.proxy
    assert (source.frames, source.frame_rate, source.audio_channels) == (24, "24000/1001", [4])
    assert proxy is not None
    assert (proxy.frames, proxy.frame_rate, proxy.audio_channels) == (25, "25", [2])
    assert result.fidelity.notes == [
        "audio: Resolve renders its Main 1 bus, a stereo mix of the source's 4 channel(s)",
        "frame rate forced from 23.976 to 25 fps",
        "start timecode 14:02:11:23 re-expressed as 14:02:11:24 at 25 fps",
        RAW_COLOUR_NOTE,
    ]


def test_a_render_that_fails_verification_keeps_its_fidelity_and_no_sha256(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    engine = make_engine(FakeResolve(Behaviour(render="wrong_size")))

    plan, result = render_red(engine, tmp_path, stop_pipe[0])

    assert (result.status, result.failure_reason) == ("FAILED", "output_missing")
    assert result.output_sha256 is None
    assert result.fidelity is not None and result.fidelity.proxy is not None
    assert result.fidelity.source.frames == result.fidelity.proxy.frames == 10
    assert not os.path.exists(plan.clips[0].output_path)
