"""`proxx status FOLDER`: what a watch folder holds, read from disk only.

Works without a running supervisor (and across hosts): counts per state,
running jobs with age, owner and whether their runner is alive, and the
most recent failures with their reasons.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from proxx.claims import try_lock
from proxx.slurm import sidecar as slurm_record
from proxx.watchfolder import STATES, Layout, is_candidate

RECENT_FAILURES = 10


def folder_status(root: str) -> dict[str, Any]:
    layout = Layout(os.path.abspath(root))
    counts = {state: _count(layout.dir(state)) for state in STATES}
    return {
        "folder": layout.root,
        "counts": counts,
        "running": [_running(layout, n) for n in _jobs(layout.dir("running"))],
        "recent_failures": _failures(layout),
    }


def _jobs(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as it:
            return sorted(e.name for e in it if is_candidate(e.name))
    except FileNotFoundError:
        return []


def _count(directory: str) -> int:
    return len(_jobs(directory))


def _running(layout: Layout, name: str) -> dict[str, Any]:
    path = os.path.join(layout.dir("running"), name)
    owner: dict[str, Any] = {}
    try:
        with open(os.path.join(layout.dir("running"), f".{name}.owner"), "rb") as fh:
            owner = json.loads(fh.read())
    except (OSError, ValueError):
        pass
    try:
        age = round(time.time() - os.stat(path).st_ctime, 1)  # rename into running/ sets ctime
    except OSError:
        age = None
    fd = try_lock(path)
    if fd is not None:
        os.close(fd)
    return {
        "jobspec": name,
        "age_seconds": age,
        "job_id": owner.get("job_id"),
        "worker_id": owner.get("worker_id"),
        "runner_pid": owner.get("pid"),
        "host": owner.get("host"),
        "note": owner.get("note"),
        # A free lock means the runner died: the next scan of any runner recovers it.
        "runner_alive": fd is None,
        # Submitted to Slurm: the job may run on without its runner (docs/SLURM.md).
        "slurm_job_id": slurm_job_id(path),
    }


def slurm_job_id(claim_path: str) -> str | None:
    record = slurm_record.read(claim_path)
    return record.slurm_job_id if record is not None else None


def _failures(layout: Layout) -> list[dict[str, Any]]:
    directory = layout.dir("failed")
    try:
        with os.scandir(directory) as it:
            results = [(e.stat().st_mtime, e.path) for e in it if e.name.endswith(".result.json")]
    except FileNotFoundError:
        return []
    out = []
    for _mtime, path in sorted(results, reverse=True)[:RECENT_FAILURES]:
        try:
            with open(path, "rb") as fh:
                r = json.loads(fh.read())
        except (OSError, ValueError):
            out.append({"result": path, "status": None, "reason": "unreadable result file"})
            continue
        out.append({"result": path, "job_id": r.get("job_id"), "status": r.get("status"),
                    "ended_at": r.get("ended_at"), "reason": _reason(r)})
    return out


def _reason(r: dict[str, Any]) -> str | None:
    for key in ("validation_error", "system_error"):
        if r.get(key):
            return str(r[key])
    if r.get("_recovery"):
        return f"recovered: {r['_recovery'].get('reason')}"
    for clip in r.get("clips") or []:
        if clip.get("status") == "FAILED":
            return f"{clip.get('failure_reason')}: {clip.get('failure_detail')}"
    return None


def render_text(status: dict[str, Any]) -> str:
    c = status["counts"]
    lines = [f"{status['folder']}: " + ", ".join(f"{c[s]} {s}" for s in STATES)]
    for job in status["running"]:
        alive = "" if job["runner_alive"] else "  [runner dead: will be recovered]"
        if job.get("slurm_job_id"):
            alive = f"  [Slurm job {job['slurm_job_id']}" + (
                "]" if job["runner_alive"] else
                ": runner dead; a --executor slurm runner re-attaches to it]")
        note = f"  ({job['note']})" if job.get("note") else ""
        lines.append(f"  running {job['jobspec']}: job {job['job_id']}, worker {job['worker_id']}"
                     f" on {job['host']} pid {job['runner_pid']}, {job['age_seconds']} s{note}"
                     f"{alive}")
    if status["recent_failures"]:
        lines.append("recent failures:")
        for f in status["recent_failures"]:
            lines.append(f"  {os.path.basename(f['result'])}: {f['status']}: {f['reason']}")
    return "\n".join(lines)
