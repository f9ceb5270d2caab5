"""Jobs whose runner died: `running/` files whose lock is free, and stranded results.

The supervisor finds them by name and lock only. A job whose result was
already staged is filed with that result; any other is handed to a worker
(`StartJob(kind="recover")`), which reads its JobSpec and accounts for the
proxies that were published — the supervisor never parses it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time

from proxx.contract.fsutil import fit_name, move_no_replace
from proxx.watch.claims import Claim, try_lock
from proxx.watch.filing import read_result
from proxx.watch.folder import (
    STAGED,
    Layout,
    is_candidate,
    read_sidecar,
    result_beside,
    stem_of,
)

log = logging.getLogger("proxx.watch.recovery")
REASON = "runner interrupted"
STRANDED_AFTER_S = 30.0  # a result alone in running/ this long belongs to no live move
# A temp file (`.NAME.PID.tmp`, proxx.contract.fsutil.write_atomic) lives milliseconds
# before its rename; one this old was left by a writer killed mid-write.
STALE_TEMP_S = 3600.0


def orphans(layout: Layout, own: set[str]) -> list[Claim]:
    """Lock every `running/` JobSpec not ours whose lock is free: their runner is dead."""
    found = []
    with os.scandir(layout.running) as it:
        names = sorted(e.name for e in it if is_candidate(e.name) and e.name not in own)
    for name in names:
        path = os.path.join(layout.running, name)
        fd = try_lock(path)
        if fd is not None:
            found.append(Claim(name=name, path=path, fd=fd))
    return found


def stranded_results(layout: Layout) -> list[str]:
    """Results in running/ whose JobSpec has left (a kill -9 between the final moves).

    A staged result (`.NAME.INODE.staged.json`) belongs to the JobSpec in running/
    with that inode; one an earlier Proxx staged (`NAME.result.json`) to the JobSpec
    whose name the layout shortens to it.
    """
    with os.scandir(layout.running) as it:
        entries = [e.name for e in it]
    specs = [n for n in entries if is_candidate(n)]
    inodes = set()
    for n in specs:
        with contextlib.suppress(OSError):
            inodes.add(str(os.lstat(os.path.join(layout.running, n)).st_ino))
    legacy = {os.path.basename(layout.legacy_staged_result(n)) for n in specs}
    return sorted(
        os.path.join(layout.running, n)
        for n in entries
        if (n.startswith(".") and n.endswith(STAGED) and _staged_inode(n) not in inodes)
        or (not n.startswith(".") and n.endswith(".result.json") and n not in legacy)
    )


def _staged_inode(name: str) -> str:
    return name[: -len(STAGED)].rsplit(".", 1)[-1]


def file_stranded(layout: Layout, path: str) -> tuple[str, str] | None:
    """Put a stranded result beside its JobSpec (never over another file).

    Returns (where it is now, the running/ name of its JobSpec), or None when it
    must wait (it may belong to a move in progress) or names no JobSpec.
    """
    result = read_result(path)
    final = result.metadata.final_jobspec_path if result else None
    if result is None or final is None or result.metadata.jobspec_path is None:
        return None
    if os.path.dirname(final) not in (layout.dir("completed"), layout.dir("failed")):
        log.warning(
            "%s names %s as its JobSpec's place, outside completed/ and failed/; left in place",
            path,
            final,
        )
        return None
    name = os.path.basename(result.metadata.jobspec_path)
    target = result_beside(final)
    with contextlib.suppress(OSError):
        if os.path.samefile(path, target):  # the move had finished but for one unlink
            os.unlink(path)
            return target, name
    with contextlib.suppress(OSError):
        # A result written by an older Proxx that died between its two moves.
        if time.time() - os.lstat(path).st_mtime < STRANDED_AFTER_S:
            return None
    return _move_beside(path, final, result.job_id, name)


def _move_beside(path: str, final: str, job_id: str, name: str) -> tuple[str, str] | None:
    """Beside its JobSpec, or under a name with the job id when that place is taken."""
    stem = stem_of(os.path.basename(final))
    for candidate in (
        result_beside(final),
        os.path.join(os.path.dirname(final), fit_name(f"{stem}.{job_id}", ".result.json")),
    ):
        try:
            move_no_replace(path, candidate)
            return candidate, name
        except FileExistsError:
            continue
    log.warning("%s: its place beside %s is taken twice over; left in place", path, final)
    return None


def remove_stale_temps(layout: Layout, now: float | None = None) -> list[str]:
    """Remove temp files a runner killed mid-write left in running/; their names.

    Age decides, not the PID in the name: the watch folder may be shared by
    runners on several hosts, where a PID says nothing.
    """
    now = time.time() if now is None else now
    removed = []
    with os.scandir(layout.running) as it:
        temps = [e for e in it if e.name.startswith(".") and e.name.endswith(".tmp")]
    for e in temps:
        with contextlib.suppress(OSError):
            st = e.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_TEMP_S:
                os.unlink(e.path)
                removed.append(e.name)
    return removed


def remove_lone_job_files(layout: Layout, now: float | None = None) -> list[str]:
    """Remove owner sidecars and cancel requests whose JobSpec has left running/; their names.

    The runner that files a job removes both right after the pair's moves; a kill -9
    in between left them for good. One whose JobSpec is not in running/ (by the names
    the layout derives, shortening included) and that has sat there
    STRANDED_AFTER_S belongs to no live job: a job of the same name claimed since
    writes its sidecar anew, so it is too young to be taken for a lone one.
    """
    now = time.time() if now is None else now
    with os.scandir(layout.running) as it:
        names = [e.name for e in it]
    specs = [n for n in names if is_candidate(n)]
    live = {os.path.basename(layout.sidecar(n)) for n in specs}
    for n in specs:
        job_id = read_sidecar(layout, n).get("job_id")
        if isinstance(job_id, str) and job_id:
            live.add(os.path.basename(layout.cancel_request(n, job_id)))
    removed = []
    for name in names:
        if not name.startswith(".") or not name.endswith((".owner", ".cancel")):
            continue
        if name in live:
            continue
        path = os.path.join(layout.running, name)
        with contextlib.suppress(OSError):
            st = os.lstat(path)  # again just before: a fresh one is never taken
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > STRANDED_AFTER_S:
                os.unlink(path)
                removed.append(name)
    return removed
