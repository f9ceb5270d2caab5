"""Engine routing from real signatures: which engine renders each file, and the reason given.

RAW fixtures carry the real markers: a tiny MOV made by FFmpeg whose sample
description is patched to a RAW fourcc, files starting with REDCODE/ARRI
magic, a real TIFF given a DNGVersion tag, a Canon `crx ` ISO-BMFF file.
MXF camera RAW cannot be made here, so its ffprobe JSON (in the shape FFmpeg
5.1 prints it, per RAW_DETECTION.md) goes through `parse_probe_json`.
Everything that is not camera RAW, whole jobs and `proxx probe`:
test_routing_outcomes.py.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxx.content import routing
from proxx.content.media import parse_probe_json
from proxx.content.routing import route_probed, route_source
from proxx.contract.profiles import Engine
from testkit import PRORES, canon_crx, noise, redcode, route_of

Clip = Callable[..., Path]
SILENT: dict[str, Any] = {"audio_channels": 0, "timecode": None}


def prores_mov(clip: Clip) -> Path:
    return clip("prores_silent.mov", vcodec=PRORES, **SILENT)


def with_fourcc(src: Path, dst: Path, fourcc: str) -> Path:
    """Copy `src` with its video sample description's fourcc replaced (a real stsd patch)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"stsd")
    assert at > 0 and data[at + 16 : at + 20] == b"apco", "expected a ProRes Proxy stsd entry"
    data[at + 16 : at + 20] = fourcc.encode("ascii")
    dst.write_bytes(bytes(data))
    return dst


def tiff_with_dng_tag(tiff: Path, dst: Path) -> Path:
    """A real (FFmpeg-written) TIFF with DNGVersion 1.4.0.0 added to a rewritten IFD0."""
    data = bytearray(tiff.read_bytes())
    order = {b"II": "<", b"MM": ">"}[bytes(data[:2])]
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    entries = [bytes(data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]) for i in range(count)]
    entries.append(struct.pack(order + "HHI4s", 50706, 1, 4, bytes([1, 4, 0, 0])))
    entries.sort(key=lambda e: struct.unpack(order + "H", e[:2])[0])
    new_ifd = len(data) + len(data) % 2
    data += b"\0" * (new_ifd - len(data))
    data += struct.pack(order + "H", len(entries)) + b"".join(entries) + b"\0\0\0\0"
    struct.pack_into(order + "I", data, 4, new_ifd)
    dst.write_bytes(bytes(data))
    return dst


def arri(dst: Path) -> Path:
    dst.write_bytes(b"ARRI\x12\x34\x56\x78" + noise(4088))
    return dst


def mxf_json(company: str, product: str, video: dict[str, Any]) -> dict[str, Any]:
    """ffprobe -of json -show_streams -show_format, as FFmpeg 5.1 prints camera MXF."""
    return {
        "streams": [
            {
                "index": 0,
                "codec_type": "video",
                "codec_tag_string": "[0][0][0][0]",
                "codec_tag": "0x0000",
                "r_frame_rate": "24/1",
                "avg_frame_rate": "24/1",
                "time_base": "1/24",
                "duration": "10.000000",
                "tags": {"timecode": "11:22:33:00"},
                **video,
            },
            {
                "index": 1,
                "codec_type": "audio",
                "codec_name": "pcm_s24le",
                "codec_tag_string": "[0][0][0][0]",
                "sample_rate": "48000",
                "channels": 1,
            },
        ],
        "format": {
            "filename": "clip.mxf",
            "nb_streams": 2,
            "format_name": "mxf",
            "format_long_name": "MXF (Material eXchange Format)",
            "duration": "10.000000",
            "tags": {
                "company_name": company,
                "product_name": product,
                "operational_pattern_ul": "060e2b34.04010101.0d010201.01010900",
            },
        },
    }


# -- camera RAW → Resolve --------------------------------------------------------------
@pytest.mark.parametrize(
    ("fourcc", "name", "reason"),
    [
        # PyAV's libav (FFmpeg >= 8) knows the ProRes RAW codec; it still needs Resolve.
        (
            "aprn",
            "A001_C001.mov",
            "codec prores_raw (fourcc aprn): ProRes RAW requires DaVinci "
            "Resolve (FFmpeg has no debayer)",
        ),
        (
            "aprh",
            "A001_C002.mov",
            "codec prores_raw (fourcc aprh): ProRes RAW HQ requires DaVinci "
            "Resolve (FFmpeg has no debayer)",
        ),
        ("brxq", "A001_0001.braw", "fourcc brxq: Blackmagic RAW requires DaVinci Resolve"),
        ("brst", "A001_0002.braw", "fourcc brst: Blackmagic RAW requires DaVinci Resolve"),
        ("brvn", "A001_0003.braw", "fourcc brvn: Blackmagic RAW requires DaVinci Resolve"),
        ("brvm", "A001_0004.braw", "fourcc brvm: Blackmagic RAW requires DaVinci Resolve"),
        ("brhq", "A001_0005.braw", "fourcc brhq: Blackmagic RAW requires DaVinci Resolve"),
        ("brlt", "A001_0006.braw", "fourcc brlt: Blackmagic RAW requires DaVinci Resolve"),
        ("brvl", "A001_0007.braw", "fourcc brvl: Blackmagic RAW requires DaVinci Resolve"),
        ("CRAW", "A001C001.mov", "fourcc CRAW: Canon Cinema RAW Light requires DaVinci Resolve"),
    ],
)
def test_raw_fourccs_in_quicktime_go_to_resolve(
    clip: Clip,
    tmp_path: Path,
    fourcc: str,
    name: str,
    reason: str,
) -> None:
    path = with_fourcc(prores_mov(clip), tmp_path / name, fourcc)

    decision = route_source(str(path))

    assert (decision.engine, decision.reason) == (Engine.RESOLVE, reason)
    assert decision.facts is not None and decision.facts.video is not None
    assert (decision.facts.video.width, decision.facts.video.height) == (64, 36)


@pytest.mark.parametrize(
    ("make", "name", "reason"),
    [
        (
            lambda p: redcode(p, b"RED2"),
            "A001_C001_0101AB_001.R3D",
            "magic RED2 at byte 4: REDCODE requires DaVinci Resolve",
        ),
        (
            lambda p: redcode(p, b"RED1"),
            "legacy.r3d",
            "magic RED1 at byte 4: REDCODE requires DaVinci Resolve",
        ),
        # The bytes decide, whatever the name says.
        (
            lambda p: redcode(p, b"RED2"),
            "renamed.mov",
            "magic RED2 at byte 4: REDCODE requires DaVinci Resolve",
        ),
        (
            arri,
            "A001C001_230101_R1AB.0000001.ari",
            "magic ARRI 12 34 56 78 at byte 0: ARRIRAW requires DaVinci Resolve",
        ),
        (
            canon_crx,
            "A001C001_230101AB_CANON.CRM",
            "ftyp brand 'crx ' in a .crm file: Canon Cinema RAW Light requires DaVinci Resolve",
        ),
    ],
)
def test_magic_bytes_decide_without_probing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], Path],
    name: str,
    reason: str,
) -> None:
    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was probed although the magic bytes decide")

    monkeypatch.setattr(routing, "probe", no_probe)
    path = make(tmp_path / name)

    assert route_of(path) == (Engine.RESOLVE, reason)


def test_cinemadng_is_a_tiff_with_the_dngversion_tag(
    clip: Clip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clip(
        "frame.tif",
        size="64x36",
        audio_channels=0,
        timecode=None,
        vcodec=["-c:v", "tiff"],
        extra=["-frames:v", "1"],
    )
    dng = tiff_with_dng_tag(frame, tmp_path / "A001_C001_000001.dng")

    # A plain TIFF is a single image: FFmpeg decodes it, Proxx renders movies only …
    engine, reason = route_of(frame)
    assert engine is None and "tiff_pipe is not on Proxx's list of movie formats" in reason
    # … the same picture with IFD0 tag 50706 is CinemaDNG, decided from the bytes alone.
    monkeypatch.setattr(routing, "probe", None)
    assert route_of(dng) == (
        Engine.RESOLVE,
        "TIFF with IFD0 tag 50706 (DNGVersion): CinemaDNG requires DaVinci Resolve",
    )


@pytest.mark.parametrize(
    ("company", "product", "reason"),
    [
        (
            "ARRI",
            "ALEXA 35",
            "MXF video with no codec FFmpeg knows and no frame size: ARRIRAW/"
            "ARRICORE in MXF (ARRI ALEXA 35) requires DaVinci Resolve",
        ),
        (
            "Sony",
            "VENICE 2",
            "MXF video with no codec FFmpeg knows and no frame size: Sony X-OCN/RAW "
            "in MXF (Sony VENICE 2) requires DaVinci Resolve",
        ),
    ],
)
def test_camera_raw_in_mxf_goes_to_resolve(company: str, product: str, reason: str) -> None:
    facts = parse_probe_json("/media/A001C001.mxf", mxf_json(company, product, {}))

    decision = route_probed("/media/A001C001.mxf", facts)

    assert (decision.engine, decision.reason) == (Engine.RESOLVE, reason)


def test_the_same_cameras_prores_in_mxf_goes_to_ffmpeg() -> None:
    video = {
        "codec_name": "prores",
        "codec_tag_string": "[0][0][0][0]",
        "width": 3840,
        "height": 2160,
        "profile": "HQ",
    }
    facts = parse_probe_json("/media/A002C001.mxf", mxf_json("ARRI", "ALEXA 35", video))

    decision = route_probed("/media/A002C001.mxf", facts)

    assert (decision.engine, decision.reason) == (Engine.FFMPEG, "codec prores: FFmpeg decodes it")


def test_prores_raw_decoded_by_a_newer_ffmpeg_still_goes_to_resolve() -> None:
    raw = {
        "streams": [
            {
                "codec_type": "video",
                "codec_name": "prores_raw",
                "codec_tag_string": "aprh",
                "width": 5760,
                "height": 3240,
                "pix_fmt": "bayer_rggb16le",
                "r_frame_rate": "25/1",
            }
        ],
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "4.0"},
    }

    decision = route_probed("/media/clip.mov", parse_probe_json("/media/clip.mov", raw))

    assert (decision.engine, decision.reason) == (
        Engine.RESOLVE,
        "codec prores_raw (fourcc aprh): ProRes RAW HQ requires DaVinci Resolve (FFmpeg has no "
        "debayer)",
    )


@pytest.mark.parametrize(
    ("fourcc", "reason"),
    [
        ("aprn", "fourcc aprn: ProRes RAW requires DaVinci Resolve"),
        ("aprh", "fourcc aprh: ProRes RAW HQ requires DaVinci Resolve"),
    ],
)
def test_prores_raw_seen_by_an_older_ffmpeg_goes_by_its_fourcc(fourcc: str, reason: str) -> None:
    # FFmpeg < 8 (Debian's 5.1 ffprobe) has no prores_raw codec: no codec_name.
    raw = {
        "streams": [
            {
                "codec_type": "video",
                "codec_tag_string": fourcc,
                "width": 5760,
                "height": 3240,
                "r_frame_rate": "25/1",
            }
        ],
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "4.0"},
    }

    decision = route_probed("/media/clip.mov", parse_probe_json("/media/clip.mov", raw))

    assert (decision.engine, decision.reason) == (Engine.RESOLVE, reason)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "A001.nev",
            "extension .nev: Nikon N-RAW requires DaVinci Resolve (no public probe "
            "signature; FFmpeg cannot decode it)",
        ),
        (
            "A001.braw",
            "extension .braw: Blackmagic RAW requires DaVinci Resolve (no public probe "
            "signature; FFmpeg cannot decode it)",
        ),
    ],
)
def test_the_name_decides_a_movie_ffmpeg_cannot_decode_only_for_raw_extensions(
    clip: Clip,
    tmp_path: Path,
    name: str,
    reason: str,
) -> None:
    undecodable = with_fourcc(prores_mov(clip), tmp_path / "unknown.mov", "zzzz")

    assert route_of(shutil.copyfile(undecodable, tmp_path / name)) == (Engine.RESOLVE, reason)
    # The same bytes under an ordinary name are not RAW: FFmpeg cannot read them.
    assert route_of(undecodable) == (
        None,
        "unsupported or damaged source: FFmpeg cannot decode its video (fourcc zzzz) and "
        "it carries no camera RAW signature",
    )


def test_a_format_with_no_public_signature_goes_by_name(tmp_path: Path) -> None:
    path = tmp_path / "P001.vraw"
    path.write_bytes(noise(8192))

    assert route_of(path) == (
        Engine.RESOLVE,
        "extension .vraw: Panasonic V-RAW requires DaVinci "
        "Resolve (no public probe signature; FFmpeg cannot decode it)",
    )
