"""The open-file limit, checked once at start-up against what the runner will hold.

A runner holds, for each worker, its claim's lock, its socket, its stderr pipe and
its pidfd (4 fds, measured with `--max-workers 1, 2, 4`), and briefly a few more
while it starts one; itself an epoll fd, a signal pipe, stdio, and the files and
folders it opens while filing. With `ulimit -n 22` and 4 workers it once died of
EMFILE inside `selectors`, mid-run and again on every restart: now it refuses to
start, saying the number it needs.
"""

from __future__ import annotations

import resource

BASE_FDS = 32  # stdio, epoll, signal pipe, a filing's files and folders, outscan's child
PER_WORKER_FDS = 8  # 4 held (lock, socket, stderr pipe, pidfd), 4 while one is started


def needed(workers: int) -> int:
    return BASE_FDS + PER_WORKER_FDS * workers


def fd_limit_problem(workers: int) -> str | None:
    """Why this process cannot run `workers` workers within its open-file limit, if so."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = needed(workers)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    return (
        f"the open-file limit (ulimit -n) is {soft}; {workers} worker(s) need at least "
        f"{need} ({BASE_FDS} + {PER_WORKER_FDS} a worker): raise it (`ulimit -n {need}`, "
        "or LimitNOFILE= in the service unit) or run fewer workers"
    )
