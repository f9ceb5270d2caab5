"""Colour as a file states it, and what each FFmpeg encoder can write of it (docs/MEDIA.md §6).

Values are FFmpeg's names, as ffprobe prints them (ITU-T H.273 codes), so a
result reads like the probe an operator runs. `None` means unstated
(unspecified, unknown or reserved): nothing is guessed from the frame size.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

# H.273 code → FFmpeg name, for the codes FFmpeg's setparams filter can set.
PRIMARIES = {
    1: "bt709",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "jedec-p22",
}
TRANSFERS = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
MATRICES = {
    0: "gbr",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}
RANGES = {1: "tv", 2: "pc"}
# ffprobe's spellings of "not stated".
_UNSTATED = frozenset({"unknown", "unspecified", "reserved", ""})
UNKNOWN = "unknown"  # setparams's name for code 2, unspecified
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})

# FFmpeg 5.1's prores_aw (the Proxy and LT profiles) writes only these codes in the
# ProRes frame header, and 0 for any other (ffprobe then reads matrix `gbr`, transfer
# `reserved`). Where H.273 defines another code as the same function, that code is
# written instead: matrix 5 and 6 are both BT.601's; transfer 6, 14 and 15 are BT.709's.
_PRORES_AW_PRIMARIES = frozenset(
    {"bt709", "bt470bg", "smpte170m", "bt2020", "smpte431", "smpte432"}
)
_PRORES_AW_TRANSFERS = frozenset({"bt709", "smpte2084", "arib-std-b67"})
_PRORES_AW_MATRICES = frozenset({"bt709", "smpte170m", "bt2020nc"})
_SAME_MATRIX = {"bt470bg": "smpte170m"}
_SAME_TRANSFER = {"smpte170m": "bt709", "bt2020-10": "bt709", "bt2020-12": "bt709"}


class Colour(BaseModel):
    """A picture's colour description; every FFmpeg profile writes limited ("tv") range."""

    model_config = ConfigDict(frozen=True)

    primaries: str | None = None
    transfer: str | None = None
    matrix: str | None = None
    range: str | None = None

    @property
    def stated(self) -> bool:
        return any(v is not None for v in (self.primaries, self.transfer, self.matrix))


def from_codes(primaries: int, transfer: int, matrix: int, range_: int) -> Colour:
    """libav's integer codes; 2 (unspecified) and codes setparams cannot set read as None.

    Matrix 0 is RGB (`gbr`) only for an RGB picture; in a YUV stream it is what an
    unset field reads as, so it is taken as unstated there (see `libav`)."""
    return Colour(
        primaries=PRIMARIES.get(primaries),
        transfer=TRANSFERS.get(transfer),
        matrix=MATRICES.get(matrix),
        range=RANGES.get(range_),
    )


def from_names(primaries: object, transfer: object, matrix: object, range_: object) -> Colour:
    """ffprobe's JSON names; its "unknown"/"reserved" read as None."""

    def name(v: object) -> str | None:
        return None if v is None or str(v) in _UNSTATED else str(v)

    return Colour(
        primaries=name(primaries), transfer=name(transfer), matrix=name(matrix), range=name(range_)
    )


def setparams(colour: Colour) -> str | None:
    """The filter that tags every frame with `colour` (None when nothing is stated).

    FFmpeg 5.1's encoders take colour from the frames, not from `-colorspace`
    and friends: a source whose decoder leaves the frames untagged (colour only
    in the MOV `colr` box) or whose tags the filter graph drops would otherwise
    give an untagged proxy. Range is left to FFmpeg's pixel-format conversion:
    a full-range source is converted to limited range, and tagged so.
    """
    parts = []
    if colour.primaries:
        parts.append(f"color_primaries={colour.primaries}")
    if colour.transfer:
        parts.append(f"color_trc={colour.transfer}")
    if colour.matrix:
        parts.append(f"colorspace={colour.matrix}")
    return "setparams=" + ":".join(parts) if parts else None


class Carried(NamedTuple):
    """What the filter graph tags (`written`; "unknown" clears a value the encoder cannot
    write), what the proxy then states (`expected`), and the notes saying why they differ."""

    written: Colour
    expected: Colour
    notes: tuple[str, ...]


def carried(source: Colour, encoder: str, container: str) -> Carried:
    """The colour a proxy made by `encoder` in `container` gets, and what differs and why."""
    values = {"primaries": source.primaries, "transfer": source.transfer, "matrix": source.matrix}
    notes: list[str] = []
    if encoder == "prores_aw":
        _prores_aw(values, notes)
    elif container == "mxf":
        # FFmpeg's MXF muxer has one label for BT.601's matrix (read back as bt470bg)
        # and writes BT.601's transfer as BT.709's (measured, FFmpeg 5.1).
        _equivalent(values, notes, "matrix", {"smpte170m": "bt470bg"})
        _equivalent(values, notes, "transfer", {"smpte170m": "bt709"})
    written = Colour(**values)
    stated = {k: (None if v == UNKNOWN else v) for k, v in values.items()}
    if stated["matrix"] is None and (encoder == "dnxhd" or container == "mxf"):
        # DNxHR's frame header and FFmpeg's MXF muxer always state a matrix: BT.709's
        # unless told otherwise (measured, FFmpeg 5.1). Proxx does not tag it so.
        notes.append(
            "colour matrix: the source states none, but a DNxHR header or an MXF "
            "descriptor always states one, so the proxy says bt709"
        )
        stated["matrix"] = "bt709"
    if source.range == "pc":
        notes.append(
            "full-range source converted to limited range (tv): every FFmpeg profile's "
            "pixel format is limited-range"
        )
    return Carried(written, Colour(**stated, range="tv"), tuple(notes))


def _prores_aw(values: dict[str, str | None], notes: list[str]) -> None:
    """prores_aw's header: equivalents where H.273 has them, else the value is dropped."""
    _equivalent(values, notes, "matrix", _SAME_MATRIX)
    _equivalent(values, notes, "transfer", _SAME_TRANSFER)
    writable = {
        "primaries": _PRORES_AW_PRIMARIES,
        "transfer": _PRORES_AW_TRANSFERS,
        "matrix": _PRORES_AW_MATRICES,
    }
    for field, ok in writable.items():
        value = values[field]
        if value is not None and value not in ok:
            notes.append(
                f"colour {field} {value} not kept: the ProRes encoder of this profile "
                "(prores_aw) has no code for it; the proxy states none"
            )
            values[field] = UNKNOWN  # the decoded frames' value would be written as 0


def _equivalent(
    values: dict[str, str | None], notes: list[str], field: str, same: dict[str, str]
) -> None:
    value = values[field]
    if value in same:
        notes.append(_same(field, value, same[value]))
        values[field] = same[value]


def _same(field: str, value: str, written: str) -> str:
    return (
        f"colour {field} {value} written as {written} (ITU-T H.273 defines both as the "
        "same function; this encoder or container has a code for the second only)"
    )
