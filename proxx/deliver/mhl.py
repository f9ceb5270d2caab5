"""An ASC MHL generation for a job's published proxies (`proxx report --mhl`).

Written by the ASC's own implementation, in a process of its own
(`python -P -m proxx_workers.mhl`, its own process group) under a deadline: hashing
reads every proxy. Before that, the report's worker has hashed each proxy with
SHA-256; a proxy whose bytes no longer match the result's `output_sha256` is refused
here, and the MHL process checks again around its own hashing (workers/mhl.py), so an
MHL never seals a file other than the one Proxx verified.

With the job's id, the append is idempotent: a second report of the same job (a
job-end action replayed after a kill) answers the job's generation already in the
history instead of adding another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

from proxx.contract.deadlines import Deadlines
from proxx.contract.lifetime import die_with_parent
from proxx.contract.results import clip_seconds
from proxx.deliver.table import ReportRefused, Row

MHL_MODULE = "proxx_workers.mhl"


@dataclass(frozen=True)
class Generation:
    path: str  # the .mhl file written
    sequence: int  # its number in the folder's history (1: the first)
    files: list[str]
    existing: bool = False  # the job's generation was in the history already: none added


def write_mhl(
    rows: list[Row], job_id: str | None = None, *, deadlines: Deadlines | None = None
) -> Generation:
    files = _published(rows)
    root = os.path.dirname(files[0][1])
    seconds = sum(clip_seconds(r.clip) or 60.0 for r in rows if r.clip.status == "COMPLETED")
    limit = (deadlines or Deadlines()).limit("verify", seconds)
    job = ["--job", job_id] if job_id else []  # the append is then idempotent per job
    pairs = [x for pair in files for x in pair]
    argv = [sys.executable, "-P", "-m", MHL_MODULE, root, *job, *pairs]
    parent = os.getpid()
    proc = subprocess.Popen(
        argv,
        cwd="/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
        # Killed with the report (`watch --mhl` kills its report at the deadline, or
        # dies itself): no generation is appended after whoever asked for it is gone.
        preexec_fn=lambda: die_with_parent(parent),
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ReportRefused(f"ascmhl did not finish within {limit:g} s; it was killed") from None
    if proc.returncode != 0:
        why = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise ReportRefused(f"ascmhl failed (exit {proc.returncode}): {why[0]}")
    answer = json.loads(out)
    return Generation(
        str(answer["generation"]),
        int(answer["sequence"]),
        [p for _, p in files],
        bool(answer.get("existing", False)),
    )


def _published(rows: list[Row]) -> list[tuple[str, str]]:
    """(SHA-256, path) of the completed clips' proxies: one folder, as the result has them."""
    done = [r for r in rows if r.clip.status == "COMPLETED" and r.clip.output_path]
    if not done:
        raise ReportRefused("the job published no proxy: there is nothing to list in an MHL")
    folders = {os.path.dirname(r.clip.output_path or "") for r in done}
    if len(folders) != 1:
        raise ReportRefused(f"the proxies are in several folders: {sorted(folders)}")
    unhashed = [r.proxy_name for r in done if r.clip.output_sha256 is None]
    if unhashed:
        # A result from before every engine recorded the hash (Resolve's, until issue
        # 21): nothing says which bytes were verified, so there is nothing to seal by.
        raise ReportRefused(
            f"the result records no output_sha256 for these proxies: {', '.join(unhashed)}; "
            "without the verified bytes' hash an MHL cannot seal them (render them again)"
        )
    changed = [r.proxy_name for r in done if r.disk_sha256 != r.clip.output_sha256]
    if changed:
        raise ReportRefused(
            "these proxies' bytes no longer match output_sha256 in the result (or could "
            f"not be read): {', '.join(changed)}; an MHL would seal the wrong files"
        )
    return [(r.clip.output_sha256 or "", r.clip.output_path or "") for r in done]
