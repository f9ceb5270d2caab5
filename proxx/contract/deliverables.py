"""What `proxx report` asks a worker about media, and the answers (pipe messages, JSON).

The report command reads only Proxx's own result; the pictures, frame sizes and
hashes of the files it names come from a worker (`workers/looks.py`), one file at
a time under a deadline, as `proxx probe` does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

THUMB_WIDTH = 160  # pixels: a row's picture, small enough that a report stays light


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LookAsk(_Msg):
    path: str  # absolute, its bytes as Latin-1 (see proxx.runtime.probing.wire)
    at: str  # the picture to take: seconds from the first frame, exact "num/den"
    sha256: bool = False  # also hash the whole file (a proxy: compared with the result)


class LookFiles(_Msg):
    """Look at these files (the reply: one FileLook each, in order)."""

    type: Literal["look_files"] = "look_files"
    asks: list[LookAsk]


class FileLook(_Msg):
    type: Literal["file_look"] = "file_look"
    path: str  # as the request carried it
    width: int | None = None  # the first video stream's frame size
    height: int | None = None
    png: str | None = None  # base64 PNG, THUMB_WIDTH wide
    sha256: str | None = None  # hex, when asked
    error: str | None = None  # why there is no picture (or no hash)
