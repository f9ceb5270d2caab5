"""The relink report as one self-contained HTML page: no network, pictures embedded.

Deterministic: everything on the page comes from the result and the files' looks
(no clock, no host name of the machine making the report), so the same result gives
the same bytes. A Content-Security-Policy allows nothing but inline style and
`data:` pictures: even a crafted file name cannot make the page reach out.
"""

from __future__ import annotations

from html import escape

from proxx.contract.results import JobResult
from proxx.deliver.table import Row

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
dl.job{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:0 0 1em}
dt{color:#666}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
.marks{padding:.6em 1em;border-radius:6px;margin:0 0 1em}
.marks.bad{background:#fde8e8;border:2px solid #c0392b}
.marks.ok{background:#e6f4ea;border:2px solid #2e7d32}
.marks h2{font-size:1.1em;margin:0}
table.clips{border-collapse:collapse;width:100%}
table.clips>thead th{text-align:left;border-bottom:2px solid #999;padding:.3em}
tr.clip>td{vertical-align:top;border-bottom:1px solid #ccc;padding:.4em}
tr.clip.bad>td:first-child{border-left:6px solid #c0392b}
tr.clip.ok>td:first-child{border-left:6px solid #2e7d32}
img{display:block;background:#000}
table.facts td,table.facts th{padding:0 .5em;text-align:left;font-weight:normal;white-space:nowrap}
td.differs{background:#fde8e8;font-weight:bold;color:#c0392b}
.sha{font-family:ui-monospace,monospace;font-size:.8em;word-break:break-all;max-width:18em}
.sha small{word-break:normal}
.status-COMPLETED{color:#2e7d32}.status-FAILED,.status-SKIPPED,.status-PARTIAL{color:#c0392b}
"""


def render(result: JobResult, rows: list[Row]) -> bytes:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>Proxx relink report: job {_e(result.job_id)}</title>",
        f"<style>{STYLE}</style></head><body>",
        _job(result),
        _marks(result, rows),
        _table(rows),
        "</body></html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")


def _e(value: object) -> str:
    return escape("—" if value is None else str(value), quote=True)


def _job(r: JobResult) -> str:
    meta = r.metadata
    versions = ", ".join(f"{k} {v}" for k, v in sorted(meta.engine_versions.items()))
    items = [
        ("status", f'<span class="status-{_e(r.status)}">{_e(r.status)}</span>'),
        (
            "clips",
            _e(
                f"{r.total_clips} total, {r.successful_clips} completed, "
                f"{r.failed_clips} failed, {r.skipped_clips} skipped"
            ),
        ),
        ("started", _e(r.started_at)),
        ("ended", _e(f"{r.ended_at} ({r.duration_seconds:g} s)")),
        ("host", _e(meta.host)),
        ("JobSpec", _e(meta.final_jobspec_path or meta.jobspec_path)),
        ("engine", _e(f"{r.execution_engine or '—'}: {r.engine_routing_reason or '—'}")),
        ("versions", _e(f"proxx {meta.proxx_version}" + (f", {versions}" if versions else ""))),
        ("fingerprint", _e(r.jobspec_fingerprint)),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return f'<h1>Relink report: job {_e(r.job_id)}</h1>\n<dl class="job">{rows}</dl>'


def _marks(result: JobResult, rows: list[Row]) -> str:
    """At the top, before any row: every clip that failed or whose facts differ."""
    job_level = [result.validation_error, result.system_error, result.interrupted]
    notes = [f'<li class="mark">{_e(n)}</li>' for n in job_level if n]
    for row in rows:
        if row.problems:
            link = f'<a href="#clip-{row.number}">{row.number}. {_e(row.name)}</a>'
            notes.append(f'<li class="mark">{link}: {_e("; ".join(row.problems))}</li>')
    if not notes:
        title = f"All {len(rows)} clips completed and match their sources"
        return f'<section id="marks" class="marks ok"><h2>{_e(title)}</h2></section>'
    bad = sum(bool(r.problems) for r in rows)
    title = f"{bad} of {len(rows)} clips need a look" if rows else "The job rendered nothing"
    return (
        f'<section id="marks" class="marks bad"><h2>{_e(title)}</h2>'
        f"<ul>{''.join(notes)}</ul></section>"
    )


def _table(rows: list[Row]) -> str:
    head = (
        "<thead><tr><th>clip</th><th>source</th><th>proxy</th><th>facts</th>"
        "<th>output_sha256</th></tr></thead>"
    )
    return (
        f'<table class="clips" id="clips">{head}<tbody>{"".join(map(_row, rows))}</tbody></table>'
    )


def _row(row: Row) -> str:
    c = row.clip
    state = "bad" if row.problems else "ok"
    why = f"<br>{_e(c.failure_reason.value)}: {_e(c.failure_detail)}" if c.failure_reason else ""
    first = (
        f"<td><b>{row.number}. {_e(row.name)}</b><br>"
        f'<span class="status-{_e(c.status)}">{_e(c.status)}</span>{why}'
        f"<br>→ {_e(row.proxy_name or '—')}</td>"
    )
    pictures = _img(row.source_png, "source") + _img(row.proxy_png, "proxy")
    errors = "".join(f"<br><small>{_e(e)}</small>" for e in row.picture_errors)
    return (
        f'<tr class="clip {state}" id="clip-{row.number}" data-status="{_e(c.status)}">'
        f'{first}{pictures}<td>{_facts(row)}{errors}</td><td class="sha">{_sha(row)}</td></tr>'
    )


def _img(png: str | None, which: str) -> str:
    if png is None:
        return f'<td class="{which}">no picture</td>'
    src = f"data:image/png;base64,{png}"
    return f'<td class="{which}"><img class="thumb {which}" alt="{which}" src="{src}"></td>'


def _facts(row: Row) -> str:
    head = "<tr><th></th><th>source</th><th>proxy</th></tr>"
    body = ""
    for f in row.facts:
        mark = ' class="differs"' if f.differs else ""
        body += f"<tr><th>{_e(f.name)}</th><td>{_e(f.source)}</td><td{mark}>{_e(f.proxy)}</td></tr>"
    notes = row.clip.fidelity.notes if row.clip.fidelity else []
    noted = "".join(f"<br><small>{_e(n)}</small>" for n in notes)
    return f'<table class="facts">{head}{body}</table>{noted}'


def _sha(row: Row) -> str:
    sha = row.clip.output_sha256
    if sha is None:
        return "—"
    if row.disk_sha256 == sha:
        return f"{_e(sha)}<br><small>the file on disk matches</small>"
    return f'{_e(sha)}<br><small class="differs">the file on disk does not match</small>'
