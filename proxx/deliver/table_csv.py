"""The report's table as CSV, for spreadsheets: one line per clip, the same facts."""

from __future__ import annotations

import csv
import io

from proxx.deliver.table import FACTS, Row


def render_csv(rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    head = ["clip", "name", "status", "failure_reason", "failure_detail", "source_path"]
    head += ["output_path"]
    for fact in FACTS:
        key = fact.replace(" ", "_")
        head += [f"source_{key}", f"proxy_{key}", f"{key}_differs"]
    head += ["output_sha256", "file_matches_sha256", "problems"]
    writer.writerow(head)
    for row in rows:
        c = row.clip
        line = [str(row.number), row.name, c.status]
        line += [c.failure_reason.value if c.failure_reason else "", c.failure_detail or ""]
        line += [c.source_path, c.output_path or ""]
        for f in row.facts:
            line += [f.source, f.proxy, "yes" if f.differs else "no"]
        matches = "" if c.output_sha256 is None else _yes(row.disk_sha256 == c.output_sha256)
        line += [c.output_sha256 or "", matches, "; ".join(row.problems)]
        writer.writerow(line)
    return out.getvalue().encode("utf-8")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
