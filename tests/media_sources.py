"""Source kinds for the picture-choice and colour tests (issue 21), made with FFmpeg.

The checks on them use the system `ffprobe` and a box walk written here, never
Proxx's own probe: `colr` reads the MOV/MP4 `colr` box of a file's first video
sample description, independently of `proxx.content.quicktime`.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

from testkit import run_cli

H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        capture_output=True,
    )


def lavfi(size: str = "640x360", rate: str = "25", seconds: float = 0.4) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(kind, whole box) for each box in `data` (32-bit sizes: the files made here)."""
    out, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size < 8:
            break
        out.append((kind, data[at : at + size]))
        at += size
    return out


def udta_first(source: Path, target: Path) -> Path:
    """`source` with its moov/udta moved before the tracks: libav then makes the cover
    picture stream 0, ahead of the real video (as some taggers write MP4s).

    FFmpeg's MP4 muxer writes cover art in udta after the traks, and mdat before moov,
    so reordering moov's children moves no media and the chunk offsets stay right."""
    out = b""
    for kind, box in _boxes(source.read_bytes()):
        if kind == b"moov":
            kids = _boxes(box[8:])
            order = [kids[0], *(k for k in kids if k[0] == b"udta")]
            order += [k for k in kids[1:] if k[0] != b"udta"]
            assert kids[0][0] == b"mvhd" and len(order) == len(kids)
            box = box[:8] + b"".join(b for _, b in order)
        out += box
    target.write_bytes(out)
    return target


def cover_first_mp4(folder: Path, size: str = "640x360") -> Path:
    """An H.264 + AAC MP4 whose cover art (MJPEG, attached_pic) is stream 0."""
    plain, cover = folder / "plain.mp4", folder / "cover.jpg"
    ffmpeg(*lavfi(size, seconds=1), "-f", "lavfi", "-i", "sine=duration=1", *H264, str(plain))
    ffmpeg("-f", "lavfi", "-i", "color=red:size=64x64", "-frames:v", "1", str(cover))
    tagged = folder / "tagged.mp4"
    ffmpeg(
        *("-i", str(plain), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy"),
        *("-disposition:v:1", "attached_pic", str(tagged)),
    )
    return udta_first(tagged, folder / "cover_first.mp4")


def colr(path: Path) -> tuple[int, int, int] | None:
    """The (primaries, transfer, matrix) codes of the first video track's `colr` box."""
    top = dict(_boxes(path.read_bytes()))
    if b"moov" not in top:
        return None
    stack = [top[b"moov"][8:]]
    while stack:
        for kind, box in _boxes(stack.pop()):
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                stack.append(box[8:])
            elif kind == b"stsd":  # the video track's is the one with a colr box
                at = box.find(b"colr")
                if at > 0 and box[at + 4 : at + 8] in (b"nclc", b"nclx"):
                    codes = struct.unpack(">HHH", box[at + 8 : at + 14])
                    return codes[0], codes[1], codes[2]
    return None


def probe_json(path: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_format",
            *extra,
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def moving_video(path: Path) -> dict[str, Any]:
    """The one video stream ffprobe reports without the attached_pic disposition."""
    (stream,) = [
        s
        for s in probe_json(path, "-count_frames")["streams"]
        if s["codec_type"] == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    found: dict[str, Any] = stream
    return found


def colour_of(path: Path) -> tuple[str, str, str, str]:
    """ffprobe's (primaries, transfer, matrix, range) for the file's moving picture."""
    v = moving_video(path)
    return (
        v.get("color_primaries", "unknown"),
        v.get("color_transfer", "unknown"),
        v.get("color_space", "unknown"),
        v.get("color_range", "unknown"),
    )


def job(folder: Path, sources: list[Path], **spec: Any) -> Path:
    out = folder / "out"
    out.mkdir(exist_ok=True)
    doc = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": [str(s) for s in sources],
        "output_dir": str(out),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
        **spec,
    }
    path = folder / "job.json"
    path.write_text(json.dumps(doc))
    return path


def run(folder: Path, sources: list[Path], **spec: Any) -> dict[str, Any]:
    """`proxx run` of a job of `sources`; it must complete."""
    proc = run_cli("run", str(job(folder, sources, **spec)))
    result: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, (result["validation_error"], result["clips"], proc.stderr)
    return result
