"""`proxx status FOLDER`: what a watch folder holds, read from disk only.

Works without a running supervisor (and across hosts): counts per state,
running jobs with age, owner and whether their runner is alive, the most
recent failures with their reasons, JobSpec-looking files that will never be
taken (misplaced), and partial renders left by finished jobs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from proxx.slurm import sidecar as slurm_record
from proxx.watch.claims import try_lock
from proxx.watch.folder import STATES, Layout, is_candidate
from proxx.watch.misplaced import find_misplaced

RECENT_FAILURES = 10
# Partials: results are Proxx's own files, yet a folder can hold years of them;
# read the most recent ones, each up to a size no honest result reaches.
MAX_RESULTS_READ = 1000
MAX_RESULT_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # all results together: status stays a quick look


def folder_status(root: str) -> dict[str, Any]:
    layout = Layout(os.path.abspath(root))
    counts = {state: _count(layout.dir(state)) for state in STATES}
    return {
        "folder": layout.root,
        "counts": counts,
        "running": [_running(layout, n) for n in _jobs(layout.dir("running"))],
        "recent_failures": _failures(layout),
        "misplaced": [{"path": m.path, "reason": m.reason} for m in find_misplaced(layout.root)],
        "partials": leftover_partials(layout),
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
        with open(layout.sidecar(name), "rb") as fh:
            owner = json.loads(fh.read(64 * 1024))  # Proxx's own few hundred bytes
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
                r = json.loads(fh.read(64 * 1024 * 1024))  # results are Proxx's own: bounded
            if not isinstance(r, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, RecursionError):
            out.append({"result": path, "status": None, "reason": "unreadable result file"})
            continue
        out.append(
            {
                "result": path,
                "job_id": r.get("job_id"),
                "status": r.get("status"),
                "ended_at": r.get("ended_at"),
                "reason": _reason(r),
            }
        )
    return out


def leftover_partials(layout: Layout) -> list[dict[str, Any]]:
    """`.NAME.JOBID.partial` files of finished jobs, in the output folders those jobs used.

    Only partials whose job is finished (its result is in completed/ or failed/)
    are listed: nothing will write or read them again, so they are safe to
    remove. A running job's partial is never listed.
    """
    seen = _Finished()
    budget = MAX_TOTAL_BYTES
    for path in _recent_results(layout):
        if budget <= 0:
            break
        r, budget = _read_bounded(path, budget)
        if isinstance(r, dict) and isinstance(r.get("clips"), list):
            seen.add(path, r)
    found = []
    for folder in sorted(seen.folders):
        found += _finished_partials(folder, seen)
    return found


@dataclass
class _Finished:
    """What finished jobs' results say: their ids, the partials they name, their folders."""

    jobs: dict[str, str] = field(default_factory=dict)  # job id → result file
    named: dict[str, str] = field(default_factory=dict)  # partial a result names → result file
    folders: set[str] = field(default_factory=set)  # output folders the jobs wrote to

    def add(self, path: str, r: dict[str, Any]) -> None:
        if isinstance(r.get("job_id"), str):
            self.jobs[r["job_id"]] = path
        for clip in r["clips"]:
            if not isinstance(clip, dict):
                continue
            out, partial = clip.get("output_path"), clip.get("partial_output_path")
            if isinstance(out, str) and os.path.isabs(out):
                self.folders.add(os.path.dirname(out))
            if isinstance(partial, str) and os.path.isabs(partial):
                self.named[partial] = path  # a recovered job names its runner's partial
                self.folders.add(os.path.dirname(partial))


def _read_bounded(path: str, budget: int) -> tuple[Any, int]:
    """The JSON at `path` (None if unreadable or too large) and the byte budget left."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(min(MAX_RESULT_BYTES, budget) + 1)
        budget -= len(data)
        r = json.loads(data) if len(data) <= MAX_RESULT_BYTES and budget >= 0 else None
    except (OSError, ValueError):
        return None, budget
    return r, budget


def _finished_partials(folder: str, seen: _Finished) -> list[dict[str, Any]]:
    """The partials in `folder` that belong to a finished job, by name."""
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if e.name.startswith(".") and e.name.endswith(".partial")]
    except OSError:
        return []
    found = []
    for e in sorted(entries, key=lambda e: e.name):
        job_id = e.name[: -len(".partial")].rsplit(".", 1)[-1]
        result = seen.named.get(e.path) or seen.jobs.get(job_id)
        if result is None:
            continue  # not a finished job's (a running job's, or another tool's)
        try:
            size = e.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        found.append({"path": e.path, "size_bytes": size, "job_id": job_id, "result": result})
    return found


def _recent_results(layout: Layout) -> list[str]:
    found = []
    for state in ("completed", "failed"):
        try:
            with os.scandir(layout.dir(state)) as it:
                for e in it:
                    if e.name.endswith(".result.json") and not e.name.startswith("."):
                        try:
                            found.append((e.stat().st_mtime, e.path))
                        except OSError:
                            continue
        except FileNotFoundError:
            continue
    return [p for _m, p in sorted(found, reverse=True)[:MAX_RESULTS_READ]]


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
    lines += [_running_line(job) for job in status["running"]]
    lines += _failure_lines(status["recent_failures"])
    if status["misplaced"]:
        lines.append(f"misplaced (never taken): {len(status['misplaced'])}")
        for m in status["misplaced"]:
            lines.append(f"  {m['path']}: {m['reason']}")
    lines += _partial_lines(status["partials"])
    return "\n".join(lines)


def _running_line(job: dict[str, Any]) -> str:
    alive = "" if job["runner_alive"] else "  [runner dead: will be recovered]"
    if job.get("slurm_job_id"):
        alive = f"  [Slurm job {job['slurm_job_id']}" + (
            "]"
            if job["runner_alive"]
            else ": runner dead; a --executor slurm runner re-attaches to it]"
        )
    note = f"  ({job['note']})" if job.get("note") else ""
    return (
        f"  running {job['jobspec']}: job {job['job_id']}, worker {job['worker_id']}"
        f" on {job['host']} pid {job['runner_pid']}, {job['age_seconds']} s{note}"
        f"{alive}"
    )


def _failure_lines(failures: list[dict[str, Any]]) -> list[str]:
    if not failures:
        return []
    lines = ["recent failures:"]
    for f in failures:
        lines.append(f"  {os.path.basename(f['result'])}: {f['status']}: {f['reason']}")
    if any(
        f["status"] == "PARTIAL" or str(f["reason"]).startswith(("interrupted", "recovered"))
        for f in failures
    ):
        # Something ran and something did not: the rest can be resubmitted as its own job.
        lines.append(
            "  (resubmit what did not complete: proxx remainder failed/JOB.result.json"
            " -o pending/JOB-rest.json)"
        )
    return lines


def _partial_lines(partials: list[dict[str, Any]]) -> list[str]:
    if not partials:
        return []
    total = sum(p["size_bytes"] for p in partials)
    lines = [
        f"leftover partial renders of finished jobs: {len(partials)}, "
        f"{total} bytes (safe to remove; see docs/OPERATIONS.md)"
    ]
    for p in partials:
        lines.append(f"  {p['path']}: {p['size_bytes']} bytes, job {p['job_id']}")
    return lines
