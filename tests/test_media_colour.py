"""Colour carried into every FFmpeg profile's proxy, checked with ffprobe and the `colr` box.

Issue 21: FFmpeg 5.1's encoders take colour from the frames, so a proxy of a
BT.601 source came out as matrix `gbr`, transfer `reserved` (prores_aw), and
one of a ProRes file stating colour only in its `colr` box came out untagged.
Each source is made here; each proxy is read with the system ffprobe (for
ProRes that is the frame header) and, in MOV/MP4, with a `colr` box walk
written in tests/media_sources.py — neither is Proxx's probe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.media_sources import H264, colour_of, colr, ffmpeg, lavfi, run

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

HEVC10 = ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1"]
HEVC10 += ["-x265-params", "log-level=error"]
# What each source states: (primaries, transfer, matrix, range).
SOURCES: dict[str, tuple[list[str], str, tuple[str, str, str, str]]] = {
    "dslr-mjpeg-full-range": (
        [*lavfi(), "-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-q:v", "3"],
        "mov",
        ("bt470bg", "smpte170m", "bt470bg", "pc"),
    ),
    "pal-dv": (
        [*lavfi("720x576"), "-c:v", "dvvideo", "-pix_fmt", "yuv420p"],
        "mov",
        ("bt470bg", "bt709", "smpte170m", "unknown"),  # DV states no range
    ),
    "ntsc-dv": (
        [*lavfi("720x480", "30000/1001"), "-c:v", "dvvideo", "-pix_fmt", "yuv411p"],
        "mov",
        ("smpte170m", "smpte170m", "smpte170m", "unknown"),
    ),
    "hlg-hevc-10bit": (
        [*lavfi(), *HEVC10],
        "mov",
        ("bt2020", "arib-std-b67", "bt2020nc", "tv"),
    ),
    "prores4444-alpha": (
        [*lavfi(), "-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le"],
        "mov",
        ("bt709", "bt709", "bt709", "tv"),
    ),
}
# (codec, container, profile): every FFmpeg encoder family, both prores_aw tiers.
PROFILES = [
    ("h264", "mov", "proxy_h264_low"),
    ("hevc", "mp4", "proxy_hevc_low"),
    ("prores_proxy", "mov", "proxy_prores_proxy"),
    ("prores_lt", "mov", "proxy_prores_lt"),
    ("prores422", "mov", "proxy_prores422_1080"),
    ("dnxhr_lb", "mxf", "proxy_dnxhr_lb"),
]
# Where an encoder or container has no code for a value, the proxy states the
# value H.273 defines as the same function (docs/MEDIA.md §6).
AW_SAME = {"bt470bg": "smpte170m"}, {"smpte170m": "bt709"}
MXF_SAME = {"smpte170m": "bt470bg"}, {"smpte170m": "bt709"}
FIELDS = ("color_primaries", "color_transfer", "color_space", "color_range")
CODES = {"bt709": 1, "bt470bg": 5, "smpte170m": 6, "bt2020": 9, "bt2020nc": 9, "arib-std-b67": 18}


def expected(states: tuple[str, str, str, str], profile: str, container: str) -> tuple[str, ...]:
    primaries, transfer, matrix, _ = states
    same = AW_SAME if profile in ("proxy_prores_proxy", "proxy_prores_lt") else None
    same = MXF_SAME if container == "mxf" else same
    if same is not None:
        matrix, transfer = same[0].get(matrix, matrix), same[1].get(transfer, transfer)
    return primaries, transfer, matrix, "tv"  # every profile is limited range


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("colour_sources")
    made = {}
    for name, (args, ext, states) in SOURCES.items():
        primaries, transfer, matrix, range_ = states
        path = folder / f"{name}.{ext}"
        ranged = [] if range_ == "unknown" else ["-color_range", range_]
        # The frames carry the tags (an encoder writes its header from them) and the
        # output options set the container's (`colr`).
        frames = f"setparams=color_primaries={primaries}:color_trc={transfer}:colorspace={matrix}"
        ffmpeg(
            *args,
            *("-vf", frames),
            *("-color_primaries", primaries, "-color_trc", transfer, "-colorspace", matrix),
            *ranged,
            str(path),
        )
        assert colour_of(path) == states  # the premise, as ffprobe reads the source
        made[name] = path
    untagged = folder / "untagged.mov"
    ffmpeg(*lavfi(), "-c:v", "prores_aw", "-profile:v", "0", str(untagged))
    colr_only = folder / "colr-only-bt709.mov"
    ffmpeg(
        *("-i", str(untagged), "-c", "copy", "-color_primaries", "bt709", "-color_trc", "bt709"),
        *("-colorspace", "bt709", str(colr_only)),
    )
    # The premise: ffprobe (5.1) reads the ProRes header, which states nothing; only colr does.
    assert colour_of(colr_only)[:3] == ("unknown", "unknown", "unknown")
    assert colr(colr_only) == (1, 1, 1)
    made["colr-only-bt709"] = colr_only
    return made


STATES = {**{n: s for n, (_, _, s) in SOURCES.items()}, "colr-only-bt709": ("bt709",) * 3 + ("tv",)}


@pytest.mark.parametrize(("codec", "container", "profile"), PROFILES)
def test_every_profile_writes_the_source_colour(
    tmp_path: Path, sources: dict[str, Path], codec: str, container: str, profile: str
) -> None:
    result = run(
        tmp_path,
        list(sources.values()),
        codec=codec,
        container=container,
        proxy_profile=profile,
    )
    clips: dict[str, dict[str, Any]] = {Path(c["source_path"]).stem: c for c in result["clips"]}
    wrong: dict[str, object] = {}
    for name, clip in clips.items():
        want = expected(STATES[name], profile, container)
        proxy = Path(clip["output_path"])
        got = colour_of(proxy)
        box = colr(proxy) if container != "mxf" else None
        if got != want:
            wrong[name] = (got, want)
        if container != "mxf" and box != tuple(CODES[v] for v in want[:3]):
            wrong[f"{name} colr"] = (box, want)
        recorded = clip["fidelity"]["proxy"]
        shown = tuple(recorded.get(k) for k in FIELDS)
        if shown != want:
            wrong[f"{name} recorded"] = (shown, want)
    assert not wrong


def test_the_clip_result_says_what_a_profile_cannot_keep(
    tmp_path: Path, sources: dict[str, Path]
) -> None:
    picked = [
        sources["prores4444-alpha"],
        sources["hlg-hevc-10bit"],
        sources["dslr-mjpeg-full-range"],
    ]
    result = run(tmp_path, picked, codec="prores_proxy", proxy_profile="proxy_prores_proxy")
    notes = {
        Path(c["source_path"]).stem: " | ".join(c["fidelity"]["notes"]) for c in result["clips"]
    }

    assert "alpha not kept" in notes["prores4444-alpha"]
    assert "colour matrix bt470bg written as smpte170m" in notes["dslr-mjpeg-full-range"]
    assert "full-range source converted to limited range" in notes["dslr-mjpeg-full-range"]
    assert "bit" not in notes["hlg-hevc-10bit"]  # 10-bit ProRes keeps 10 bits

    (tmp_path / "h264").mkdir()
    h264 = run(tmp_path / "h264", [sources["hlg-hevc-10bit"]], proxy_profile="proxy_h264_low")
    (note,) = h264["clips"][0]["fidelity"]["notes"]
    assert note.startswith("10-bit source rendered at 8 bits (yuv420p) (arib-std-b67: may band)")
    assert colour_of(Path(h264["clips"][0]["output_path"]))[:3] == STATES["hlg-hevc-10bit"][:3]


def test_control_an_untagged_source_gives_an_untagged_proxy(tmp_path: Path) -> None:
    source = tmp_path / "untagged.mov"
    ffmpeg(*lavfi(), *H264, str(source))
    assert colour_of(source)[:3] == ("unknown",) * 3

    clip = run(tmp_path, [source])["clips"][0]

    assert colour_of(Path(clip["output_path"]))[:3] == ("unknown",) * 3  # nothing guessed
    assert "setparams" not in clip["ffmpeg_command"]


@pytest.mark.parametrize(
    ("profile", "codec", "primaries"),
    [
        ("proxy_prores_proxy", "prores_proxy", "unknown"),
        ("proxy_prores422_1080", "prores422", "film"),
    ],
)
def test_a_value_an_encoder_has_no_code_for_is_cleared_and_named(
    tmp_path: Path, profile: str, codec: str, primaries: str
) -> None:
    # prores_aw has no code for "film" primaries (H.273 8) and would write 0, "reserved";
    # prores_ks (the control) writes it.
    source = tmp_path / "film.mov"
    tags = "setparams=color_primaries=film:color_trc=bt709:colorspace=bt709"
    ffmpeg(*lavfi(), "-vf", tags, *H264, "-color_primaries", "film", str(source))
    assert colour_of(source)[0] == "film"

    clip = run(tmp_path, [source], codec=codec, proxy_profile=profile)["clips"][0]

    assert colour_of(Path(clip["output_path"]))[:3] == (primaries, "bt709", "bt709")
    lost = "colour primaries film not kept: the ProRes encoder of this profile (prores_aw)"
    assert any(n.startswith(lost) for n in clip["fidelity"]["notes"]) == (primaries == "unknown")
