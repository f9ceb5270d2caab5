"""Lip sync: every FFmpeg profile keeps the source's A/V offset (docs/MEDIA.md §3b, issue 21).

Each source is a marker clip (tests/media_sync.py): one-frame white flashes and
beeps starting at the same instants. The proxy is rendered by the real `proxx run`,
and source and proxy are measured alike with the system ffmpeg (never Proxx's code):
beep onset minus flash instant, to one audio sample. The control shows the
measurement sees an offset: a source whose beeps come 2 frames late measures
+80 ms, and its proxy keeps that too (Proxx keeps sync as it is; it does not fix it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxx.contract.profiles import PROFILES, Engine
from tests.media_sources import run
from tests.media_sync import LATE_BEEPS, VARIANTS, Marked, beep_starts, marked_source, offsets

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

# The promise: the proxy's sound is where the source's is against the picture, to
# within this (a 48 kHz sample is 0.021 ms; measured: 0 on every profile).
SYNC_BOUND = 0.0005
# (codec, container) per FFmpeg profile: the container each is most used in.
CONTAINERS = {"h264": "mp4", "hevc": "mp4", "dnxhr_lb": "mxf"}
FFMPEG_PROFILES = [p for p in PROFILES.values() if p.engine is Engine.FFMPEG]
# A 23.976 AAC MP4 with B-frames (encoder priming and an edit list), and an MPEG-TS
# whose AAC starts 1024 samples before its picture (a start between two frames).
PER_PROFILE = ("23.976-mp4-aac", "mpegts-start-11.4")


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("markers")
    kinds: dict[str, Marked] = {**VARIANTS, "late-beeps": LATE_BEEPS}
    return {name: marked_source(folder, name, kind) for name, kind in kinds.items()}


def proxies(tmp: Path, sources: list[Path], profile: str, container: str) -> list[Path]:
    codec = PROFILES[profile].codecs[0]
    result: dict[str, Any] = run(
        tmp, sources, codec=codec, container=container, proxy_profile=profile
    )
    return [Path(c["output_path"]) for c in result["clips"]]


def assert_in_sync(source: Path, proxy: Path) -> None:
    before, after = offsets(source), offsets(proxy)
    moved = [b - a for a, b in zip(before, after, strict=True)]
    assert all(abs(m) <= SYNC_BOUND for m in moved), (
        f"{proxy.name}: sound moved {[round(m * 1000, 2) for m in moved]} ms against "
        f"the picture (source {before}, proxy {after})"
    )


def test_control_the_measurement_sees_beeps_two_frames_late(
    tmp_path: Path, markers: dict[str, Path]
) -> None:
    source = markers["late-beeps"]
    # Made with the beeps 2 frames (80 ms) after the flashes: measured so, to a sample.
    assert offsets(source) == pytest.approx([0.08, 0.08], abs=1 / 48000)
    assert beep_starts(LATE_BEEPS) == [51840, 147840]  # 1.08 s and 3.08 s
    # Its proxy is as late, not corrected: the rule is "the source's sync", not "zero".
    (proxy,) = proxies(tmp_path, [source], "proxy_h264_low", "mp4")
    assert offsets(proxy) == pytest.approx([0.08, 0.08], abs=SYNC_BOUND)
    assert_in_sync(source, proxy)
    # The check fails on sound moved by 2 frames: held against the in-sync 25p source
    # (the same clip but for its beeps), this proxy is 80 ms off.
    with pytest.raises(AssertionError, match=r"sound moved \[80.0, 80.0\] ms"):
        assert_in_sync(markers["25p-mov-pcm"], proxy)


def test_control_the_markers_are_in_sync_in_every_source(markers: dict[str, Path]) -> None:
    # The variants themselves: flash and beep at one instant, whatever the container,
    # rate, codec, start time or pre-roll (edit lists and MPEG-TS starts applied).
    for name in VARIANTS:
        assert offsets(markers[name]) == pytest.approx([0, 0], abs=1 / 48000), name


@pytest.mark.parametrize("profile", [p.name for p in FFMPEG_PROFILES])
def test_every_profile_keeps_the_sources_lip_sync(
    tmp_path: Path, markers: dict[str, Path], profile: str
) -> None:
    container = CONTAINERS.get(PROFILES[profile].codecs[0], "mov")
    sources = [markers[name] for name in PER_PROFILE]
    for source, proxy in zip(sources, proxies(tmp_path, sources, profile, container), strict=True):
        assert_in_sync(source, proxy)


@pytest.mark.parametrize(
    ("profile", "container"),
    [("proxy_h264_low", "mov"), ("proxy_prores_proxy", "mov"), ("proxy_dnxhr_lb", "mxf")],
    ids=["edit-list-mov-aac", "edit-list-mov-pcm", "mxf-held-frames"],
)
def test_every_kind_of_source_keeps_its_lip_sync(
    tmp_path: Path, markers: dict[str, Path], profile: str, container: str
) -> None:
    # A MOV/MP4 proxy starts a late picture with an edit list; MXF has none and holds
    # the first picture instead: both keep the sound in its place.
    sources = [markers[name] for name in VARIANTS]
    for source, proxy in zip(sources, proxies(tmp_path, sources, profile, container), strict=True):
        assert_in_sync(source, proxy)
