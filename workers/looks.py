"""The worker behind `proxx report`: a picture, the frame size and a hash of each file.

Started through the trampoline like any worker (`proxx.deliver.looks` names it
by string), so a file that hangs (a FIFO, a dead mount) or crashes libav costs
this process, under a deadline, never the command that asked.

The picture is the first frame shown at or after the asked time (the report asks
for the source's middle frame, the same time in source and proxy): decoding is
exact in FFmpeg's software decoders and the scaler is fixed (bicubic, RGB24), so
the same file gives the same PNG bytes on every run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from fractions import Fraction
from multiprocessing.connection import Connection

import av
import av.error
from av.container import InputContainer
from av.video.frame import VideoFrame

from proxx.contract.deliverables import THUMB_WIDTH, FileLook, LookAsk, LookFiles
from proxx.contract.protocol import MAX_MESSAGE_BYTES, WorkerReady, encode

_HASH_CHUNK = 1 << 20


def looks_main(conn: Connection) -> None:
    """Say ready, then answer one LookFiles with a FileLook per file, each as it is known."""
    conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    request = LookFiles.model_validate_json(conn.recv_bytes(MAX_MESSAGE_BYTES))
    for ask in request.asks:
        conn.send_bytes(look(ask).model_dump_json().encode())


def look(ask: LookAsk) -> FileLook:
    path = os.fsdecode(ask.path.encode("latin-1"))  # any name, byte for byte
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block libav forever
            return FileLook(path=ask.path, error="not a regular file")
    except OSError as exc:
        return FileLook(path=ask.path, error=f"cannot read it: {exc.strerror}")
    digest = _sha256(path) if ask.sha256 else None
    try:
        with av.open(path, metadata_errors="replace") as container:
            width, height, png = _picture(container, Fraction(ask.at))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        return FileLook(path=ask.path, sha256=digest, error=f"no picture: {exc}")
    return FileLook(path=ask.path, width=width, height=height, png=png, sha256=digest, error=None)


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _picture(container: InputContainer, at: Fraction) -> tuple[int, int, str]:
    """The frame size of the first video stream and its picture at `at`, as base64 PNG."""
    if not container.streams.video:
        raise ValueError("the file has no video stream")
    video = container.streams.video[0]
    base = video.time_base or Fraction(1, 1)
    start = video.start_time or 0
    target = start + int(at / base)  # in the stream's ticks
    if target > start:
        container.seek(target, stream=video, backward=True, any_frame=False)
    chosen: VideoFrame | None = None
    for frame in container.decode(video):
        chosen = frame
        if frame.pts is not None and frame.pts >= target:
            break
    if chosen is None:
        raise ValueError("no frame could be decoded")
    return chosen.width, chosen.height, _png(chosen, video.sample_aspect_ratio)


def _png(frame: VideoFrame, sar: Fraction | None) -> str:
    """`frame` scaled to THUMB_WIDTH (its shown aspect kept, height even), as base64 PNG."""
    shown = frame.width * (sar or Fraction(1, 1))
    height = max(2, round(THUMB_WIDTH * frame.height / shown / 2) * 2)
    rgb = frame.reformat(width=THUMB_WIDTH, height=height, format="rgb24", interpolation="BICUBIC")
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height, encoder.pix_fmt = THUMB_WIDTH, height, "rgb24"
    encoder.time_base = Fraction(1, 25)
    encoder.flags |= av.codec.context.Flags.bitexact
    data = b"".join(bytes(p) for p in [*encoder.encode(rgb), *encoder.encode(None)])
    return base64.b64encode(data).decode("ascii")
