"""Byte-level camera RAW signatures: decided from a file's first bytes, without ffprobe.

These formats either have no container FFmpeg recognises (REDCODE, ARRIRAW
frames) or look like an ordinary file to ffprobe (CinemaDNG is a TIFF, Canon
Cinema RAW Light an ISO-BMFF movie), so their magic bytes are the reliable
signal — and reading 16 bytes is far cheaper than starting ffprobe.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

HEADER_BYTES = 16
DNG_VERSION_TAG = 50706
_TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_ARRI_MAGIC = b"ARRI\x12\x34\x56\x78"
_REDCODE_MAGIC = (b"RED1", b"RED2")
_MAX_IFD_ENTRIES = 4096  # a real IFD0 has a few dozen; more means garbage


@dataclass(frozen=True)
class Signature:
    """A recognised camera RAW signature.

    `movie` is False for a file that carries a RAW signature but is not a
    clip Proxx can render (a Canon CR3 still shares Cinema RAW Light's brand).
    """

    format: str
    signal: str
    movie: bool = True


def sniff(path: str) -> tuple[Signature | None, int]:
    """The RAW signature at the start of `path` (or None) and the file's size.

    Raises OSError when the file cannot be read.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEADER_BYTES)
        return _match(fh, head, os.path.splitext(path)[1].lower()), size


def _match(fh: BinaryIO, head: bytes, ext: str) -> Signature | None:
    if head[4:8] in _REDCODE_MAGIC:
        magic = head[4:8].decode("ascii")
        return Signature("REDCODE", f"magic {magic} at byte 4")
    if head[:8] == _ARRI_MAGIC:
        return Signature("ARRIRAW", "magic ARRI 12 34 56 78 at byte 0")
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        if ext == ".crm":
            return Signature("Canon Cinema RAW Light", "ftyp brand 'crx ' in a .crm file")
        return Signature(
            "Canon CR3 still or renamed Cinema RAW Light clip",
            f"ftyp brand 'crx ' with extension {ext or '(none)'} instead of .crm",
            movie=False,
        )
    order = _TIFF_HEADERS.get(head[:4])
    if order is not None and _has_dng_version(fh, head, order):
        return Signature("CinemaDNG", f"TIFF with IFD0 tag {DNG_VERSION_TAG} (DNGVersion)")
    return None


def _has_dng_version(fh: BinaryIO, head: bytes, order: str) -> bool:
    """Whether IFD0 carries DNGVersion; a plain TIFF (or a broken IFD) is not DNG."""
    (ifd,) = struct.unpack(order + "I", head[4:8])
    fh.seek(ifd)
    raw_count = fh.read(2)
    if len(raw_count) != 2:
        return False
    (count,) = struct.unpack(order + "H", raw_count)
    if count > _MAX_IFD_ENTRIES:
        return False
    entries = fh.read(12 * count)
    for i in range(len(entries) // 12):
        (tag,) = struct.unpack(order + "H", entries[12 * i : 12 * i + 2])
        if tag == DNG_VERSION_TAG:
            return True
    return False
