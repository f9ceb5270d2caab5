"""`proxx report` as named steps: read the result, look at its files, write what was asked.

Every deliverable asked for is tried, each refusal said: one that cannot be
made (an ALE of mixed rates) does not stop the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from proxx.contract.fsutil import write_new
from proxx.contract.results import JobResult
from proxx.deliver.looks import look_at
from proxx.deliver.table import ReportRefused, Row, asks_for, read_result, rows_for

EXIT_WRITTEN, EXIT_REFUSED, EXIT_MARKED = 0, 1, 3


@dataclass(frozen=True)
class Asked:
    result: str
    html: str | None = None
    csv: str | None = None
    mhl: bool = False
    ale: str | None = None
    ale_rate: str | None = None


@dataclass
class Outcome:
    exit_code: int = EXIT_WRITTEN
    said: list[str] = field(default_factory=list)
    html_stdout: bytes | None = None

    def refuse(self, why: str) -> None:
        self.said.append(why)
        self.exit_code = EXIT_REFUSED


def make(asked: Asked) -> Outcome:
    out = Outcome()
    try:
        result = read_result(asked.result)
    except ReportRefused as exc:
        out.refuse(str(exc))
        return out
    rows = rows_for(result, look_at(asks_for(result))) if _needs_looks(asked) else []
    if asked.html or not (asked.csv or asked.mhl or asked.ale):
        from proxx.deliver.html import render

        _write(out, asked.html, render(result, rows), "HTML report")
    if asked.csv:
        from proxx.deliver.table_csv import render_csv

        _write(out, asked.csv, render_csv(rows), "CSV")
    if asked.mhl:
        _mhl(out, rows, result.job_id)
    if asked.ale:
        _ale(out, asked, result)
    marked = [r for r in rows if r.problems]
    for r in marked:
        out.said.append(f"clip {r.number} {r.name}: {'; '.join(r.problems)}")
    for r in rows:  # a picture that could not be made is said, not only left blank
        out.said += [f"clip {r.number} {r.name}: {e}" for e in r.picture_errors]
    if out.exit_code == EXIT_WRITTEN and (marked or result.status != "COMPLETED"):
        out.exit_code = EXIT_MARKED
    return out


def _needs_looks(asked: Asked) -> bool:
    return bool(asked.html or asked.csv or asked.mhl or not asked.ale)


def _write(out: Outcome, path: str | None, data: bytes, what: str) -> None:
    if path is None:
        out.html_stdout = data
        return
    try:
        write_new(os.path.abspath(path), data)
    except FileExistsError:
        out.refuse(f"{path} already exists (or is a link): the {what} was not written")
    except OSError as exc:
        out.refuse(f"cannot write the {what} to {path}: {exc.strerror}")
    else:
        out.said.append(f"{what}: {path}")


def _mhl(out: Outcome, rows: list[Row], job_id: str) -> None:
    from proxx.deliver.mhl import write_mhl

    try:
        gen = write_mhl(rows, job_id)
    except ReportRefused as exc:
        out.refuse(f"no ASC MHL: {exc}")
        return
    there = ", this job's, already in the history: none added" if gen.existing else ""
    out.said.append(
        f"ASC MHL generation {gen.sequence}: {gen.path} ({len(gen.files)} proxies{there})"
    )


def _ale(out: Outcome, asked: Asked, result: JobResult) -> None:
    try:
        from proxx.deliver.ale import render_ale

        ale = render_ale(result, asked.ale_rate)
    except ImportError:
        out.refuse("no ALE: opentimelineio is not installed (pip install 'proxx[deliver]')")
        return
    except ReportRefused as exc:
        out.refuse(f"no ALE: {exc}")
        return
    for line in ale.left_out:
        out.said.append(f"ALE: left out {line}")
    _write(out, asked.ale, ale.text, f"ALE ({len(ale.written)} clips at {ale.rate} fps)")
