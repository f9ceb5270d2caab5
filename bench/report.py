"""The printed report: targets and ratios first, absolute times second, then details."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One measurement. `value` is the ratio (or the measured figure) checked against `target`."""

    section: str
    name: str
    value: str = ""
    pairs: str = ""  # range of the per-pair ratios (or of the samples)
    target: str = ""
    met: bool | None = None
    proxx: str = ""  # absolute, Proxx side (median)
    bare: str = ""  # absolute, bare-FFmpeg side (median)
    noise: str = ""  # spread of the repeats, each side
    n: str = ""


@dataclass
class Detail:
    """A figure that explains a row: where the time (or memory) goes."""

    section: str
    name: str
    value: str
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: list[Detail] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # every sample, for --json
    errors: list[str] = field(default_factory=list)

    def row(self, **kw: Any) -> Row:
        r = Row(**kw)
        self.rows.append(r)
        return r

    def detail(self, section: str, name: str, value: str, note: str = "") -> None:
        self.details.append(Detail(section, name, value, note))


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["ffmpeg", "-version"], capture_output=True, text=True, check=False
        ).stdout
        ffmpeg = out.splitlines()[0].split(" Copyright")[0] if out else "missing"
    except OSError:
        ffmpeg = "missing"
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": model,
        "ffmpeg": ffmpeg,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "proxx": git_state(),
    }


def git_state() -> str:
    """HEAD of the tree being measured, and whether proxx/ or workers/ had local changes."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--", "proxx", "workers"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head}{' + local changes in proxx/ workers/' if dirty.strip() else ''}"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render(report: Report, header: dict[str, str]) -> str:
    out = [
        "Proxx benchmarks: Proxx against the bare-FFmpeg floor",
        "  " + "  ".join(f"{k}: {v}" for k, v in header.items()),
        "",
    ]
    verdict = {True: "yes", False: "NO", None: "—"}
    targeted = [r for r in report.rows if r.value]
    if targeted:
        out.append("RATIOS AND TARGETS (medians; 'range' = min–max over the interleaved pairs)")
        out += _table(
            ["measurement", "value", "range", "target", "met"],
            [
                [f"{r.section}: {r.name}", r.value, r.pairs, r.target, verdict[r.met]]
                for r in targeted
            ],
            right={1, 2},
        )
        out.append("")
    absolute = [r for r in report.rows if r.proxx or r.bare]
    if absolute:
        out.append("ABSOLUTE (medians; 'noise' = (max−min)/median of the repeats, Proxx / bare)")
        out += _table(
            ["measurement", "Proxx", "bare FFmpeg", "noise", "n"],
            [[f"{r.section}: {r.name}", r.proxx, r.bare, r.noise, r.n] for r in absolute],
            right={1, 2},
        )
        out.append("")
    if report.details:
        out.append("WHERE THE TIME AND MEMORY GO")
        out += _table(
            ["measurement", "value", "note"],
            [[f"{d.section}: {d.name}", d.value, d.note] for d in report.details],
            right={1},
        )
        out.append("")
    for err in report.errors:
        out.append(f"ERROR: {err}")
    return "\n".join(out).rstrip() + "\n"
