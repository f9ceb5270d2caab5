"""Every audio layout a camera or recorder writes probes, renders and verifies with its
channels kept, on whichever PyAV this interpreter installed from the lock.

PyAV 17.1.x and 18.x abort the interpreter reading the channel count of an 8-channel
stream (requirements/README.md); this file is what shows the locked releases do not.
It runs in the full suite and in every interpreter's compatibility tier (`./dev matrix`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testkit import PRORES, ffprobe, run_cli, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

# The named layouts libav knows that sources carry, one stream each.
LAYOUTS = [
    "mono", "stereo", "2.1", "3.0", "4.0", "quad", "5.0", "5.1", "5.1(side)", "6.0",
    "hexagonal", "6.1", "7.0", "7.1", "7.1(wide)", "7.1(wide-side)", "octagonal",
    "hexadecagonal",
]  # fmt: skip
COUNTS = list(range(1, 17))  # one stream, no layout named: what a field recorder writes
MONO_STREAMS = [2, 4, 8, 16]  # the same channels as separate mono streams (MXF, broadcast)
# AAC (the audio of H.264/HEVC proxies) carries 1–8 or 16 channels in a stream; the
# counts between have no layout FFmpeg's encoder knows, and are refused at validation.
AAC_REFUSED = list(range(9, 16))


def _make(path: Path, audio: list[str], maps: list[str]) -> Path:
    argv = [
        "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x36:r=25:d=0.2",
        *audio, "-map", "0:v", *maps, *PRORES, "-c:a", "pcm_s16le", "-t", "0.2", str(path),
    ]  # fmt: skip
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return path


def one_stream_layout(folder: Path, layout: str) -> Path:
    name = layout.replace("(", "_").replace(")", "")
    src = ["-f", "lavfi", "-i", f"anullsrc=channel_layout={layout}:r=48000"]
    return _make(folder / f"layout_{name}.mov", src, ["-map", "1:a"])


def one_stream_count(folder: Path, count: int) -> Path:
    expr = "|".join(f"sin({440 + 40 * c}*2*PI*t)" for c in range(count))
    src = ["-f", "lavfi", "-i", f"aevalsrc={expr}:s=48000:d=0.2"]
    return _make(folder / f"count_{count:02d}.mov", src, ["-map", "1:a"])


def mono_streams(folder: Path, count: int) -> Path:
    src = ["-f", "lavfi", "-i", "sine=f=440:r=48000:d=0.2"]
    return _make(folder / f"mono_x{count:02d}.mov", src, ["-map", "1:a"] * count)


def channels_of(path: Path | str) -> list[int]:
    """Channels per audio stream, read by the system ffprobe (not Proxx's probe)."""
    return [int(s["channels"]) for s in ffprobe(path)["streams"] if s["codec_type"] == "audio"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("layouts")
    made = {f"layout {n}": one_stream_layout(folder, n) for n in LAYOUTS}
    made |= {f"{n} channels": one_stream_count(folder, n) for n in COUNTS}
    made |= {f"{n} mono streams": mono_streams(folder, n) for n in MONO_STREAMS}
    return made


def test_the_sources_have_the_channels_they_are_named_for(sources: dict[str, Path]) -> None:
    # Control: the generator made what each test below claims to render.
    assert channels_of(sources["layout 7.1"]) == [8]
    assert channels_of(sources["layout hexadecagonal"]) == [16]
    assert channels_of(sources["12 channels"]) == [12]
    assert channels_of(sources["8 mono streams"]) == [1] * 8


def render(tmp_path: Path, sources: list[Path], **spec: str) -> dict[str, object]:
    out = tmp_path / "out"
    out.mkdir()
    job = write_spec(tmp_path / "job.json", sources, out, **spec)
    ran = run_cli("run", str(job), timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result: dict[str, object] = json.loads(ran.stdout)
    return result


def test_every_layout_renders_to_pcm_with_its_channels(
    tmp_path: Path, sources: dict[str, Path]
) -> None:
    result = render(
        tmp_path,
        list(sources.values()),
        codec="prores_proxy",
        proxy_profile="proxy_prores_proxy",
        output_name_template="{source_name}_proxy",
    )
    clips = result["clips"]
    assert isinstance(clips, list) and len(clips) == len(sources)
    for clip in clips:
        assert clip["status"] == "COMPLETED", clip
        assert channels_of(clip["output_path"]) == channels_of(clip["source_path"]), clip


def test_aac_proxies_keep_every_layout_aac_can_carry(
    tmp_path: Path, sources: dict[str, Path]
) -> None:
    refused = {f"{n} channels" for n in AAC_REFUSED}
    kept = [p for name, p in sources.items() if name not in refused]
    result = render(tmp_path, kept, codec="h264", proxy_profile="proxy_h264_low")
    clips = result["clips"]
    assert isinstance(clips, list) and len(clips) == len(kept)
    for clip in clips:
        assert clip["status"] == "COMPLETED", clip
        assert channels_of(clip["output_path"]) == channels_of(clip["source_path"]), clip


@pytest.mark.parametrize("count", AAC_REFUSED[:1] + AAC_REFUSED[-1:])
def test_a_count_aac_cannot_carry_is_refused_before_rendering(
    tmp_path: Path, sources: dict[str, Path], count: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    job = write_spec(tmp_path / "job.json", [sources[f"{count} channels"]], out)
    ran = run_cli("validate", str(job))
    assert ran.returncode == 1
    assert f"{count} channels" in ran.stderr and "PCM" in ran.stderr, ran.stderr
    assert list(out.iterdir()) == []
