"""JobSpec-looking files and media that intake will never take, and why: nothing is ignored
in silence.

Intake takes `pending/*.json` only (dot-files, `*.tmp`, `*.partial` and
`*.result.json` are not JobSpecs). A file an operator meant as a job but put
in the watch root, named `JOB.JSON`, left without an extension, or put in a
sub-folder of pending/ would wait forever; this module finds those. It reads
names, and at most PEEK_BYTES of a file whose name alone does not tell.

Media dropped where a job was meant (the first thing a watch-folder user of other
tools tries: their folders take media plus a preset) is found by its extension
alone — the supervisor never opens media — and reported with the one command
that turns it into a job. It is never moved or deleted.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
import time
from dataclasses import dataclass, field

from proxx.watch.folder import STATES, is_candidate

log = logging.getLogger("proxx.watch")
PEEK_BYTES = 64
MAX_ENTRIES = 10_000  # per folder: a bound on the work one look may cost
MAX_PEEKS = 256  # per look; files already judged are remembered by the warner
MAX_WARNINGS = 20  # new misplaced files named one by one in the log per look


# Extensions of the clips Proxx renders (lower-case): a name, not a probe, decides here.
MEDIA_EXTENSIONS = frozenset(
    {
        ".mov", ".mp4", ".m4v", ".mxf", ".mts", ".m2ts", ".avi", ".mkv", ".webm", ".mpg",
        ".mpeg", ".ts", ".dv", ".3gp", ".r3d", ".braw", ".ari", ".arx", ".crm", ".nev",
        ".vraw", ".dng",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Misplaced:
    path: str
    reason: str


def find_misplaced(
    root: str,
    peeked: dict[tuple[str, int, int], bool] | None = None,
) -> list[Misplaced]:
    """Every JSON-looking file under watch root `root` that intake will never take."""
    peeks = _Peeker(peeked if peeked is not None else {})
    found = _in_root(root, peeks) + _in_pending(os.path.join(root, "pending"), peeks)
    found += _media(root)
    return sorted(found, key=lambda m: m.path)


def _media(root: str) -> list[Misplaced]:
    """Media files in the watch root, in pending/ and one folder down in pending/."""
    pending = os.path.join(root, "pending")
    places = [root, pending]
    places += [e.path for e in _entries(pending) if _is_dir(e) and not is_candidate(e.name)]
    return [
        Misplaced(e.path, media_reason(e.path, root))
        for place in places
        for e in _entries(place)
        if is_media_name(e.name) and not _is_dir(e)
    ]


def is_media_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS


def media_reason(path: str, root: str) -> str:
    """What a media file in the watch folder is told: intake takes JobSpecs, and the
    one command that writes one for it (a preset per show: docs/PLANNING.md)."""
    command = shlex.join(["proxx", "plan", path, "--preset", "PRESET.toml", "--into", root])
    return (
        "a media file; the watch folder takes JobSpecs, not media (it is left where it "
        f"is): to make it a job, `{command}`"
    )


def _in_root(root: str, peeks: _Peeker) -> list[Misplaced]:
    """JSON files in the watch root, or one folder down in a folder that is not a state."""
    found: list[Misplaced] = []
    for entry in _entries(root):
        if entry.name in STATES:
            continue
        if _is_dir(entry):  # e.g. Pending/ or jobs/: one level, as an operator would nest
            found += _inside(
                entry,
                peeks,
                f"in {entry.name}/, which Proxx does not read; move it "
                "into pending/ (as NAME.json)",
            )
        elif _looks_like_json(entry, peeks):
            found.append(
                Misplaced(
                    entry.path,
                    "in the watch root; JobSpecs are taken from "
                    "pending/ only: move it into pending/ (as NAME.json)",
                )
            )
    return found


def _in_pending(pending: str, peeks: _Peeker) -> list[Misplaced]:
    """Files in pending/ that intake passes over, and JSON files in its sub-folders."""
    found: list[Misplaced] = []
    for entry in _entries(pending):
        if _is_dir(entry) and not is_candidate(entry.name):
            found += _inside(
                entry,
                peeks,
                f"in the sub-folder pending/{entry.name}/; only files "
                "directly in pending/ are taken: move it up one level",
            )
            continue
        reason = _pending_reason(entry, peeks)
        if reason is not None:
            found.append(Misplaced(entry.path, reason))
    return found


def _inside(folder: os.DirEntry[str], peeks: _Peeker, reason: str) -> list[Misplaced]:
    """The JSON-looking files directly in `folder`, each misplaced for `reason`."""
    return [Misplaced(e.path, reason) for e in _entries(folder.path) if _looks_like_json(e, peeks)]


def _pending_reason(entry: os.DirEntry[str], peeks: _Peeker) -> str | None:
    name = entry.name
    if is_candidate(name) or name.startswith(".") or name.endswith((".tmp", ".partial")):
        return None  # taken, or deliberately not a JobSpec (in-progress or Proxx's own)
    if name.endswith(".result.json"):
        return (
            "named like a result (*.result.json), which intake never takes as a JobSpec: "
            "rename it, e.g. to " + name[: -len(".result.json")] + ".json"
        )
    stem, ext = os.path.splitext(name)
    if ext.lower() == ".json":
        return (
            f"extension {ext!r} is not '.json' (intake is case-sensitive): rename it to {stem}.json"
        )
    if not _looks_like_json(entry, peeks):
        return None
    if not ext:
        return f"no extension, but the content looks like JSON: rename it to {name}.json"
    return (
        f"extension {ext!r}, but the content looks like JSON: if it is a JobSpec, "
        f"rename it to {stem}.json"
    )


def _entries(directory: str) -> list[os.DirEntry[str]]:
    out: list[os.DirEntry[str]] = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if len(out) >= MAX_ENTRIES:
                    break
                if not entry.name.startswith("."):  # dot-files are in-progress by the rules
                    out.append(entry)
    except OSError:
        return []
    return out


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _looks_like_json(entry: os.DirEntry[str], peeks: _Peeker) -> bool:
    lower = entry.name.lower()
    if lower.endswith(".result.json"):
        return False  # a result kept beside the folder: Proxx's output, not a job
    if lower.endswith(".json"):
        return True
    if is_media_name(entry.name):
        return False  # never opened: the supervisor does not read media (see _media)
    return peeks.starts_like_json(entry)


@dataclass
class _Peeker:
    """Reads the first bytes of regular files, at most MAX_PEEKS per look, remembered by
    (path, size, mtime) so a file is read once however often the folder is looked at."""

    cache: dict[tuple[str, int, int], bool]
    budget: int = MAX_PEEKS

    def starts_like_json(self, entry: os.DirEntry[str]) -> bool:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return False  # never open a FIFO or device: a read could block the runner
        key = (entry.path, st.st_size, st.st_mtime_ns)
        if key in self.cache:
            return self.cache[key]
        if self.budget <= 0:
            return False
        self.budget -= 1
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                head = os.read(fd, PEEK_BYTES)
            finally:
                os.close(fd)
        except OSError:
            return False
        looks = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        self.cache[key] = looks
        return looks


@dataclass
class MisplacedWarner:
    """Logs a warning once per misplaced file (again only if it comes back after leaving)."""

    root: str
    min_interval_s: float = 1.0
    warned: set[tuple[str, str]] = field(default_factory=set)
    _peeked: dict[tuple[str, int, int], bool] = field(default_factory=dict)
    _last: float = float("-inf")

    def check(self) -> list[Misplaced]:
        now = time.monotonic()
        if now - self._last < self.min_interval_s:
            return []
        self._last = now
        found = find_misplaced(self.root, self._peeked)
        current = {(m.path, m.reason) for m in found}
        new = [m for m in found if (m.path, m.reason) not in self.warned]
        for m in new[:MAX_WARNINGS]:
            log.warning(
                "misplaced file %s will never be taken: %s",
                m.path,
                m.reason,
                extra={"jobspec": m.path, "state": "misplaced", "reason": m.reason},
            )
        if len(new) > MAX_WARNINGS:  # a folder of unrelated JSON must not flood the log
            log.warning(
                "… and %d more misplaced files: `proxx status %s` lists them all",
                len(new) - MAX_WARNINGS,
                self.root,
            )
        self.warned = current
        if len(self._peeked) > 4 * MAX_ENTRIES:  # stale (path, size, mtime) keys pile up
            self._peeked.clear()
        return found
