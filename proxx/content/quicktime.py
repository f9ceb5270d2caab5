"""QuickTime facts libav does not hand to Python: a video track's fourcc, size, rotation, `colr`.

PyAV exposes no codec context (hence no fourcc) for a codec FFmpeg does not
know, yet that fourcc is the routing signal for Blackmagic RAW and Canon RAW
in a movie; and it exposes the display matrix only on decoded frames, while
decoding a 4K frame just to learn that a phone clip is portrait costs far more
than the probe. Both sit in the `moov` box, so this walks it: top-level boxes
by seeking (the `moov` of a camera file is often at its end), then only the
boxes on the path to each track's `tkhd` and `stsd`. The `colr` box of the
video sample description is read too: the container's statement of colour,
used where the stream's own header states none.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}
_MAX_MOOV = 64 << 20  # a real moov of a long clip is a few MB; more means garbage


@dataclass(frozen=True)
class Track:
    handler: str  # "vide", "soun", "tmcd", …
    fourcc: str | None  # first sample description's format
    rotation: int  # clockwise degrees from the tkhd matrix, 0/90/180/270
    width: int = 0  # a video sample description's stored size
    height: int = 0
    # The `colr` box's H.273 codes (primaries, transfer, matrix), nclc or nclx.
    colr: tuple[int, int, int] | None = None


def tracks(path: str) -> list[Track]:
    """Tracks of a QuickTime/ISO-BMFF file in file order; [] when it is not one or is damaged."""
    try:
        with open(path, "rb") as fh:
            moov = _find_moov(fh)
    except OSError:
        return []
    if moov is None:
        return []
    found = []
    for kind, body in _boxes(moov):
        if kind == b"trak":
            found.append(_track(body))
    return found


def _find_moov(fh: BinaryIO) -> bytes | None:
    offset = 0
    while True:
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header[:8])
        start = 8
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack(">Q", header[8:16])
            start = 16
        if size < start:  # 0 = "to the end of the file": only legal for the last box
            return None
        if kind == b"moov":
            if size > _MAX_MOOV:
                return None
            fh.seek(offset + start)
            return fh.read(size - start)
        offset += size


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        start = 8
        if size == 1 and at + 16 <= len(data):
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
            start = 16
        if size < start or at + size > len(data):
            break
        out.append((kind, data[at + start : at + size]))
        at += size
    return out


def _track(trak: bytes) -> Track:
    handler, fourcc, rotation, width, height = "", None, 0, 0, 0
    colr: tuple[int, int, int] | None = None
    stack = [trak]
    while stack:
        for kind, body in _boxes(stack.pop()):
            if kind in _CONTAINERS:
                stack.append(body)
            elif kind == b"tkhd":
                rotation = _rotation(body)
            elif kind == b"hdlr" and len(body) >= 12 and not handler:
                # mdia's handler (the media type) comes before minf's data handler.
                handler = body[8:12].decode("latin-1")
            elif kind == b"stsd" and len(body) >= 16:
                fourcc = body[12:16].decode("latin-1")
                if len(body) >= 44:  # entry header, then a video description's fields
                    width, height = struct.unpack(">HH", body[40:44])
                colr = _colr(body)
    return (
        Track(handler, fourcc, rotation, width, height, colr)
        if handler == "vide"
        else Track(handler, fourcc, rotation)
    )


_VIDEO_ENTRY_FIELDS = 8 + 16 + 70  # stsd's version and count, the entry's header, video fields


def _colr(stsd: bytes) -> tuple[int, int, int] | None:
    """The first sample description's `colr` (nclc/nclx) codes; None without one."""
    if len(stsd) < 12:
        return None
    (entry_size,) = struct.unpack(">I", stsd[8:12])
    entry_end = min(len(stsd), 8 + entry_size)
    for kind, body in _boxes(stsd[_VIDEO_ENTRY_FIELDS:entry_end]):
        if kind == b"colr" and len(body) >= 10 and body[:4] in (b"nclc", b"nclx"):
            primaries, transfer, matrix = struct.unpack(">HHH", body[4:10])
            return primaries, transfer, matrix
    return None


def _rotation(tkhd: bytes) -> int:
    """Clockwise rotation of the display matrix (QuickTime's a, b, c, d in 16.16)."""
    version = tkhd[0] if tkhd else 0
    at = 4 + (32 if version == 1 else 20) + 16  # flags, times/ids/duration, layer…volume
    if len(tkhd) < at + 36:
        return 0
    a, b = struct.unpack(">ii", tkhd[at : at + 8])
    if a == 0 and b == 0:
        return 0
    # QuickTime stores the matrix that maps stored pixels to the display, so a
    # clockwise turn has b < 0; ffmpeg writes `-metadata:s:v rotate=90` that way.
    return round(-math.degrees(math.atan2(b, a)) / 90) * 90 % 360
