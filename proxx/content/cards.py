"""Camera folders and cards → candidate clips, by names alone (`proxx plan`'s first step).

A camera card holds far more than clips: metadata sidecars, thumbnails, the
camera's own low-resolution proxies, index files, and clips spanned over
several files. This module walks SOURCE folders (never following a link,
never opening a file) and decides from the layout which files stand for a
clip and which are left out, each with its reason. Whether a candidate is
media at all is the probe's question, asked in a worker (`workers.plan_probe`).

Order is bytewise path order within a folder, so the same tree always gives
the same list.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from proxx.contract.fsutil import is_utf8

# Files a camera or an OS writes beside clips; never media. Lower-case extension → what it is.
SIDECARS: dict[str, str] = {
    ".xml": "clip metadata (XML)",
    ".thm": "thumbnail",
    ".bim": "Sony clip metadata",
    ".cpf": "Canon XF clip metadata",
    ".cif": "Canon XF clip information",
    ".mif": "Canon XF index",
    ".rmd": "RED look metadata",
    ".rtn": "RED thumbnail",
    ".ppn": "Panasonic P2 proxy index",
    ".smi": "Sony clip metadata (SMIL)",
    ".sidecar": "Blackmagic RAW sidecar",
    ".ale": "Avid log exchange",
    ".cube": "LUT",
    ".xmp": "XMP metadata",
    ".mhl": "ASC MHL checksum list",
    ".md5": "checksum list",
    ".txt": "text",
    ".bin": "camera status/index file",
    ".bdm": "AVCHD index",
    ".bdmv": "AVCHD index",
    ".cpi": "AVCHD clip information",
    ".clpi": "AVCHD clip information",
    ".mpl": "AVCHD playlist",
    ".mpls": "AVCHD playlist",
    ".ini": "settings",
    ".log": "log",
}
SPAN = re.compile(r"^(?P<clip>.+)_(?P<n>\d{3})\.r3d$", re.IGNORECASE)
# A numbered frame of an image sequence (ARRIRAW, CinemaDNG): name, number, extension.
FRAME = re.compile(r"^(?P<stem>.*?)(?P<n>\d+)\.(?P<ext>ari|dng)$", re.IGNORECASE)
# The folder a card keeps its clips in, with the siblings the camera also writes:
# XDCAM (Clip/, Sub/, Edit/ …) and Sony XAVC (PRIVATE/M4ROOT/CLIP, SUB, THMBNL …).
CLIP_DIR, CAMERA_PROXY_DIR = "clip", "sub"


@dataclass(frozen=True)
class Candidate:
    """A file that stands for one clip (a RED clip's first span stands for all of them)."""

    path: str
    roll: str  # the camera roll (card or folder) it belongs to: `--split-by folder`
    layout: str  # how it was found, for the table: "RED .RDC (3 spans)", "AVCHD", …
    mtime_ns: int


@dataclass(frozen=True)
class LeftOut:
    path: str
    reason: str


@dataclass
class Scan:
    candidates: list[Candidate] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)


def scan_sources(sources: list[str]) -> Scan:
    """Every SOURCE in the order given: a file stands for itself, a folder for its clips."""
    out = Scan()
    for source in sources:
        path = os.path.abspath(source)
        try:
            st = os.lstat(path)
        except OSError as exc:
            out.left_out.append(LeftOut(path, f"cannot read: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(path, os.path.dirname(path), out)
        else:
            _file(path, st, os.path.dirname(path), "", out)
    return out


def _walk(directory: str, base: str, out: Scan) -> None:
    """A folder, depth first, each level in bytewise name order. Layouts are recognised
    from the names below `base` (the SOURCE folder's parent) only: a folder called
    `private` above what the operator named is not a card's."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        out.left_out.append(LeftOut(directory, f"cannot list the folder: {exc.strerror or exc}"))
        return
    if _is_rdc(directory):
        _red_clip(directory, entries, out)
        return
    sequences = _sequences(entries)
    for entry in entries:
        if entry.name in sequences:
            out.left_out.append(LeftOut(entry.path, sequences[entry.name]))
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            out.left_out.append(LeftOut(entry.path, f"cannot read: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(entry.path, base, out)
            continue
        parts = _lower_parts(entry.path, base)
        structure = _card_structure(entry.path, parts)
        if structure is not None:
            out.left_out.append(LeftOut(entry.path, structure))
        else:
            roll = _roll_of(entry.path, len(parts))
            _file(entry.path, st, roll, _layout_of(parts), out)


def _file(path: str, st: os.stat_result, roll: str, layout: str, out: Scan) -> None:
    reason = _not_a_clip(path, st)
    if reason is not None:
        out.left_out.append(LeftOut(path, reason))
    else:
        out.candidates.append(Candidate(path, roll, layout, st.st_mtime_ns))


def _not_a_clip(path: str, st: os.stat_result) -> str | None:
    """Why a file is left out by its name and type alone; None: ask the probe."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link: Proxx plans no links (name the file it points to)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device)"
    if name.startswith("._"):
        return "macOS resource fork (._*), not media"
    if name.startswith("."):
        return "hidden file (.DS_Store and the like), not media"
    if ext in SIDECARS:
        return f"sidecar: {SIDECARS[ext]}, not media"
    if not is_utf8(path):
        return "the path is not UTF-8, which a JobSpec (JSON text) cannot name: rename it"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return None


def _card_structure(path: str, parts: list[str]) -> str | None:
    """Files a card layout keeps outside its clip folder (proxies, thumbnails, indexes)."""
    parent = os.path.dirname(path)
    if "bdmv" in parts and parts[-2] != "stream":
        return "AVCHD card structure (clips are in BDMV/STREAM/), not a clip"
    if parts[-2] == CAMERA_PROXY_DIR and _has_sibling(parent, CLIP_DIR):
        return "the camera's own proxy (SUB/ beside CLIP/): Proxx proxies the clip in CLIP/"
    if "m4root" in parts and parts[-2] != CLIP_DIR and _has_sibling(parent, CLIP_DIR):
        return "Sony card structure (clips are in M4ROOT/CLIP/), not a clip"
    if "contents" in parts and not any(p.startswith("clips") for p in parts):
        return "Canon XF card structure (clips are in CONTENTS/CLIPS001/), not a clip"
    xf = _canon_xf_audio(parts)
    if xf is not None:
        return xf
    return None


def _canon_xf_audio(parts: list[str]) -> str | None:
    """Canon XF keeps each audio channel in its own MXF (AA0001A1.MXF): not a clip."""
    if len(parts) < 3 or not parts[-3].startswith("clips") or "contents" not in parts:
        return None
    clip, name = parts[-2], parts[-1]
    if re.fullmatch(re.escape(clip) + r"a\d+\.mxf", name):
        return f"Canon XF audio track of clip {clip.upper()} (its own MXF), not a clip"
    return None


def _layout_of(parts: list[str]) -> str:
    if "bdmv" in parts:
        return "AVCHD BDMV/STREAM"
    if "m4root" in parts:
        return "Sony XAVC M4ROOT/CLIP"
    if parts[-2] == CLIP_DIR:
        return "XDCAM Clip/"
    if "contents" in parts:
        return "Canon XF CONTENTS/CLIPS"
    return ""


def _roll_of(path: str, depth: int) -> str:
    """The camera roll a file belongs to: the card's root folder, or the file's folder.

    A card root is the folder above PRIVATE/ (AVCHD, Sony XAVC), CONTENTS/ (Canon
    XF), AVCHD/ or BDMV/ (AVCHD without PRIVATE/) or Clip/ (XDCAM); a RED clip's roll
    is its .RDM folder (above the .RDC). Only the last `depth` names are looked at.
    """
    parts = path.split(os.sep)
    lower = [p.lower() for p in parts]
    first = len(parts) - depth
    for marker in ("private", "contents", "avchd", "bdmv"):
        if marker in lower[first:-1]:
            return os.sep.join(parts[: lower.index(marker, first)]) or os.sep
    if lower[-2] == CLIP_DIR:
        return os.sep.join(parts[:-2]) or os.sep
    return os.path.dirname(path)


def _red_clip(rdc: str, entries: list[os.DirEntry[str]], out: Scan) -> None:
    """A RED .RDC folder is one clip: its first span (_001.R3D) stands for every span."""
    spans: dict[int, os.DirEntry[str]] = {}
    for entry in entries:
        match = SPAN.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            why = _not_a_clip(entry.path, entry.stat(follow_symlinks=False)) or (
                "not a span of the RED clip (X_001.R3D, X_002.R3D …); "
                "Proxx reads only the clip's spans from an .RDC folder"
            )
            out.left_out.append(LeftOut(entry.path, why))
        else:
            spans[int(match["n"])] = entry
    if not spans:
        out.left_out.append(LeftOut(rdc, "RED .RDC folder without any _001.R3D span"))
        return
    numbers = sorted(spans)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(f"_{n:03d}.R3D" for n in missing)
        for n in numbers:
            out.left_out.append(
                LeftOut(spans[n].path, f"RED clip is incomplete: span(s) {shown} missing")
            )
        return
    first = spans[1]
    for n in numbers[1:]:
        out.left_out.append(
            LeftOut(
                spans[n].path,
                f"span {n} of {len(numbers)} of the RED clip in {os.path.basename(rdc)}: "
                f"Resolve reads every span from the first ({first.name})",
            )
        )
    layout = f"RED .RDC ({len(numbers)} span{'s' if len(numbers) > 1 else ''})"
    mtime = max(spans[n].stat(follow_symlinks=False).st_mtime_ns for n in numbers)
    roll = os.path.dirname(rdc)
    out.candidates.append(Candidate(first.path, roll, layout, mtime))


def _sequences(entries: list[os.DirEntry[str]]) -> dict[str, str]:
    """Frames of image sequences in one folder (two or more numbered .ari/.dng files of one
    stem), each with the reason it is left out: a JobSpec names clips, not frames, and
    planning each frame as a clip would make thousands of one-frame proxies."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        match = FRAME.match(entry.name)
        if match is not None:
            groups.setdefault((match["stem"], match["ext"].lower()), []).append(entry.name)
    reasons: dict[str, str] = {}
    for (stem, ext), names in groups.items():
        if len(names) < 2:
            continue
        why = (
            f"a frame of the image sequence {stem}*.{ext} ({len(names)} frames): Proxx plans "
            "movie files, not frame sequences (render it in Resolve, or plan a movie of it)"
        )
        reasons.update(dict.fromkeys(names, why))
    return reasons


def _is_rdc(directory: str) -> bool:
    return directory.lower().endswith(".rdc")


def _has_sibling(directory: str, name: str) -> bool:
    """Whether `directory`'s parent holds a folder called `name` (any case)."""
    parent = os.path.dirname(directory)
    try:
        with os.scandir(parent) as it:
            return any(e.name.lower() == name and e.is_dir(follow_symlinks=False) for e in it)
    except OSError:
        return False


def _lower_parts(path: str, base: str) -> list[str]:
    """The names of `path` below `base`, lower-case (at least two: a file and its folder)."""
    rel = os.path.relpath(path, base).lower().split(os.sep)
    return ["", *rel] if len(rel) < 2 else rel
