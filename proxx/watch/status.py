"""`proxx status FOLDER`: what a watch folder holds, read from disk only.

Works without a running supervisor (and across hosts): counts per state,
running jobs with age, owner and whether their runner is alive, the most
recent failures with their reasons, JobSpec-looking files that will never be
taken (misplaced), and partial renders left by finished jobs.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proxx.contract.clock import iso
from proxx.contract.naming import is_mhl_private
from proxx.contract.progress import ProgressRecord, describe, from_file
from proxx.contract.results import JobResult
from proxx.slurm import sidecar as slurm_record
from proxx.watch import drain
from proxx.watch.claims import try_lock
from proxx.watch.filing import read_result
from proxx.watch.folder import STATES, Layout, is_candidate, read_sidecar
from proxx.watch.misplaced import find_misplaced
from proxx.watch.outscan import FOLDER_S, Listing, scan

RECENT_FAILURES = 10
QUEUE_SHOWN = 20  # pending JobSpecs listed, in claim order
# Partials: results are Proxx's own files, yet a folder can hold years of them;
# read the most recent ones, each up to a size no honest result reaches.
MAX_RESULTS_READ = 1000
LOOK_RESULT_BYTES = 16 * 1024 * 1024  # each: a larger one is skipped, uncharged
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # all results together: status stays a quick look


def folder_status(root: str) -> dict[str, Any]:
    layout = Layout(os.path.abspath(root))
    counts = {state: _count(layout.dir(state)) for state in STATES}
    return {
        "folder": layout.root,
        "counts": counts,
        "drain": _drain(layout.root),
        "pending": _queue(layout),
        "running": [_running(layout, n) for n in _jobs(layout.dir("running"))],
        "recent_failures": _failures(layout),
        "misplaced": [{"path": m.path, "reason": m.reason} for m in find_misplaced(layout.root)],
        **_partials_and_unknown(layout),
    }


def _drain(root: str) -> dict[str, str] | None:
    since = drain.in_force(root)
    if since is None:
        return None
    return {"since": iso(datetime.fromtimestamp(since, UTC)), "marker": drain.marker(root)}


def _queue(layout: Layout) -> list[dict[str, Any]]:
    """Pending JobSpecs in the order runners claim them (sorted names), the first
    QUEUE_SHOWN, each with its age (names and stat only)."""
    now = time.time()
    queue = []
    for name in _jobs(layout.pending)[:QUEUE_SHOWN]:
        try:
            age: float | None = round(
                now - os.lstat(os.path.join(layout.pending, name)).st_mtime, 1
            )
        except OSError:
            age = None
        queue.append({"jobspec": name, "age_seconds": age})
    return queue


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
    owner = read_sidecar(layout, name)
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
        "progress": _progress(owner.get("progress")),
    }


def _progress(info: object) -> dict[str, Any] | None:
    record = from_file(info, datetime.now(UTC)) if info is not None else None
    return None if record is None else record.model_dump()


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
    out: list[dict[str, Any]] = []
    for _mtime, path in sorted(results, reverse=True)[:RECENT_FAILURES]:
        r = read_result(path)
        if r is None:
            out.append({"result": path, "status": None, "reason": "unreadable result file"})
            continue
        out.append(
            {
                "result": path,
                "job_id": r.job_id,
                "status": r.status,
                "ended_at": r.ended_at,
                "reason": _reason(r),
            }
        )
    return out


def _partials_and_unknown(layout: Layout) -> dict[str, list[dict[str, Any]]]:
    partials, silent = leftover_partials(layout)
    why = f"did not answer within {FOLDER_S:g} s (a dead mount?); its partials are not known"
    return {
        "partials": partials,
        "partials_unknown": [{"folder": f, "reason": why} for f in silent],
    }


def leftover_partials(layout: Layout) -> tuple[list[dict[str, Any]], list[str]]:
    """`.NAME.JOBID.partial` files of finished jobs, in the output folders those jobs used;
    and the output folders that did not answer (listed in a child: proxx.watch.outscan).

    Only partials whose job is finished (its result is in completed/ or failed/)
    are listed: nothing will write or read them again, so they are safe to
    remove. A running job's partial is never listed.
    """
    seen = _Finished()
    budget = MAX_TOTAL_BYTES
    for path, size in _recent_results(layout):
        if size > LOOK_RESULT_BYTES:
            continue  # no honest result is this large: not worth the budget
        budget -= size
        if budget < 0:
            break
        if (r := read_result(path, LOOK_RESULT_BYTES)) is not None:
            seen.add(path, r)
    folders = sorted(seen.folders)
    listed, silent = scan(folders) if folders else ({}, [])
    found = []
    for folder in folders:
        found += _finished_partials(folder, listed.get(folder, []), seen)
    return found, silent


@dataclass
class _Finished:
    """What finished jobs' results say: their ids, the partials they name, their folders."""

    jobs: dict[str, str] = field(default_factory=dict)  # job id → result file
    named: dict[str, str] = field(default_factory=dict)  # partial a result names → result file
    folders: set[str] = field(default_factory=set)  # output folders the jobs wrote to

    def add(self, path: str, r: JobResult) -> None:
        self.jobs[r.job_id] = path
        for clip in r.clips:
            if clip.output_path and os.path.isabs(clip.output_path):
                self.folders.add(os.path.dirname(clip.output_path))
            partial = clip.partial_output_path
            if partial and os.path.isabs(partial):
                self.named[partial] = path  # a recovered job names its runner's partial
                self.folders.add(os.path.dirname(partial))


def _finished_partials(folder: str, listing: Listing, seen: _Finished) -> list[dict[str, Any]]:
    """The partials in `folder` that belong to a finished job, by name."""
    found = []
    for name, size in listing:
        path = os.path.join(folder, name)
        if is_mhl_private(name):
            # No job's: an ASC MHL append killed mid-way left it; the next one sweeps it.
            found.append({"path": path, "size_bytes": size, "job_id": None, "result": None})
            continue
        job_id = name[: -len(".partial")].rsplit(".", 1)[-1]
        result = seen.named.get(path) or seen.jobs.get(job_id)
        if result is None:
            continue  # not a finished job's (a running job's, or another tool's)
        found.append({"path": path, "size_bytes": size, "job_id": job_id, "result": result})
    return found


def _recent_results(layout: Layout) -> list[tuple[str, int]]:
    """The newest results in completed/ and failed/ (at most MAX_RESULTS_READ), with sizes."""
    found = []
    for state in ("completed", "failed"):
        try:
            with os.scandir(layout.dir(state)) as it:
                for e in it:
                    if e.name.endswith(".result.json") and not e.name.startswith("."):
                        with contextlib.suppress(OSError):
                            st = e.stat(follow_symlinks=False)
                            found.append((st.st_mtime, e.path, st.st_size))
        except FileNotFoundError:
            continue
    return [(p, size) for _m, p, size in sorted(found, reverse=True)[:MAX_RESULTS_READ]]


def _reason(r: JobResult) -> str | None:
    if r.validation_error or r.system_error:
        return r.validation_error or r.system_error
    if r.recovery is not None:
        return f"recovered: {r.recovery.reason}"
    for clip in r.clips:
        if clip.status == "FAILED":
            reason = clip.failure_reason.value if clip.failure_reason else None
            return f"{reason}: {clip.failure_detail}"
    return None


def render_text(status: dict[str, Any]) -> str:
    c = status["counts"]
    lines = [f"{status['folder']}: " + ", ".join(f"{c[s]} {s}" for s in STATES)]
    if status.get("drain"):
        lines.append(
            f"drain in force since {status['drain']['since']}: runners finish what they run, "
            f"claim nothing more and exit (lift it: proxx drain {status['folder']} --off)"
        )
    lines += [_running_line(job) for job in status["running"]]
    if status["pending"]:
        more = status["counts"]["pending"] - len(status["pending"])
        lines.append(
            "pending, in claim order:"
            + (f" (first {QUEUE_SHOWN} of {more + QUEUE_SHOWN})" if more > 0 else "")
        )
        lines += [f"  {p['jobspec']}: waiting {p['age_seconds']} s" for p in status["pending"]]
    lines += _failure_lines(status["recent_failures"])
    if status["misplaced"]:
        lines.append(f"misplaced (never taken): {len(status['misplaced'])}")
        for m in status["misplaced"]:
            lines.append(f"  {m['path']}: {m['reason']}")
    lines += _partial_lines(status["partials"])
    for u in status["partials_unknown"]:
        lines.append(f"output folder {u['folder']}: {u['reason']}")
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
    progress = job.get("progress")
    shown = f"  {describe(ProgressRecord(**progress))}" if progress else ""
    return (
        f"  running {job['jobspec']}: job {job['job_id']}, worker {job['worker_id']}"
        f" on {job['host']} pid {job['runner_pid']}, {job['age_seconds']} s{shown}{note}"
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
        whose = f"job {p['job_id']}" if p["job_id"] else "a killed ASC MHL append's copy"
        lines.append(f"  {p['path']}: {p['size_bytes']} bytes, {whose}")
    return lines
