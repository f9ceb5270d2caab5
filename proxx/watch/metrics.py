"""Prometheus text format for node_exporter's textfile collector (`watch --metrics-file`).

The file is rewritten atomically (temp, fsync, rename), so the collector never
reads half of it; point `--metrics-file` into the collector's directory with a
`.prom` name (the temp name is a dot-file ending `.tmp`, which it skips). Every
series carries a `watch_folder` label, so several runners on one host (one
file each) never collide. Counters count since the runner started; Prometheus
handles their reset at a restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxx.contract.fsutil import write_atomic
from proxx.contract.progress import ProgressRecord
from proxx.watch.folder import STATES, is_candidate


@dataclass(frozen=True)
class MetricsSnapshot:
    folder: str
    jobs: Mapping[str, int]  # state folder → JobSpecs in it
    completed_total: int
    failed_total: Mapping[str, int]  # failure reason → failed jobs
    worker_restarts: int
    last_scan_timestamp: float | None  # Unix time of the runner's last scan of pending/
    oldest_pending_age_seconds: float  # 0 when nothing is pending
    written_timestamp: float = field(default_factory=time.time)
    running: Mapping[str, ProgressRecord] = field(default_factory=dict)  # by job id
    media_seconds_total: float = 0.0  # media seconds of the clips this runner completed


_HELP = {
    "proxx_jobs": ("gauge", "JobSpecs in each state folder of the watch folder."),
    "proxx_jobs_completed_total": ("counter", "Jobs this runner finished COMPLETED."),
    "proxx_jobs_failed_total": ("counter", "Jobs this runner moved to failed/, by failure reason."),
    "proxx_worker_restarts_total": ("counter", "Worker processes replaced after they died."),
    "proxx_last_scan_timestamp_seconds": ("gauge", "Unix time of the last scan of pending/."),
    "proxx_oldest_pending_age_seconds": (
        "gauge",
        "Age of the oldest JobSpec in pending/ (0 if none).",
    ),
    "proxx_metrics_written_timestamp_seconds": ("gauge", "Unix time this file was written."),
    "proxx_job_progress_ratio": (
        "gauge",
        "A running job's media seconds done over its media seconds (0-1), in its phase.",
    ),
    "proxx_job_clip_progress_ratio": ("gauge", "A running job's current clip, done (0-1)."),
    "proxx_media_rendered_seconds_total": (
        "counter",
        "Media seconds of the clips this runner rendered, verified and published.",
    ),
}


def render(s: MetricsSnapshot) -> str:
    folder = f'watch_folder="{_escape(s.folder)}"'
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    for state in sorted(s.jobs):
        samples["proxx_jobs"].append(f'{{{folder},state="{_escape(state)}"}} {s.jobs[state]}')
    samples["proxx_jobs_completed_total"].append(f"{{{folder}}} {s.completed_total}")
    for reason in sorted(s.failed_total):
        samples["proxx_jobs_failed_total"].append(
            f'{{{folder},reason="{_escape(reason)}"}} {s.failed_total[reason]}'
        )
    samples["proxx_worker_restarts_total"].append(f"{{{folder}}} {s.worker_restarts}")
    if s.last_scan_timestamp is not None:
        samples["proxx_last_scan_timestamp_seconds"].append(
            f"{{{folder}}} {s.last_scan_timestamp:.3f}"
        )
    samples["proxx_oldest_pending_age_seconds"].append(
        f"{{{folder}}} {s.oldest_pending_age_seconds:.3f}"
    )
    samples["proxx_metrics_written_timestamp_seconds"].append(
        f"{{{folder}}} {s.written_timestamp:.3f}"
    )
    for job_id in sorted(s.running):
        r = s.running[job_id]
        labels = f'{{{folder},job_id="{_escape(job_id)}",phase="{_escape(r.phase)}"}}'
        samples["proxx_job_progress_ratio"].append(f"{labels} {r.job_fraction or 0.0:.4f}")
        samples["proxx_job_clip_progress_ratio"].append(f"{labels} {r.clip_fraction or 0.0:.4f}")
    samples["proxx_media_rendered_seconds_total"].append(
        f"{{{folder}}} {s.media_seconds_total:.3f}"
    )
    lines = []
    for name, (kind, text) in _HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{sample}" for sample in samples[name]]
    return "\n".join(lines) + "\n"


def write(path: str, snapshot: MetricsSnapshot) -> None:
    write_atomic(path, render(snapshot).encode("utf-8"))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class MetricsFile:
    """Turns the runner's counters into a snapshot, written at most every interval.

    With no path it does nothing, so the runner calls it unconditionally.
    """

    root: str
    path: str | None
    min_interval_s: float = 1.0
    _last_write: float = float("-inf")

    def update(
        self,
        completed: int,
        failed_by_reason: Mapping[str, int],
        worker_restarts: int,
        *,
        running: Mapping[str, ProgressRecord] | None = None,
        media_seconds: float = 0.0,
        force: bool = False,
    ) -> None:
        """Call after each scan of pending/ (force: at shutdown, whatever the interval)."""
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval_s:
            return
        self._last_write = now
        scanned_at = time.time()
        counts, oldest = folder_counts(self.root)
        write(
            os.path.abspath(self.path),
            MetricsSnapshot(
                folder=self.root,
                jobs=counts,
                completed_total=completed,
                failed_total=dict(failed_by_reason),
                worker_restarts=worker_restarts,
                last_scan_timestamp=scanned_at,
                oldest_pending_age_seconds=max(0.0, scanned_at - oldest) if oldest else 0.0,
                running=dict(running or {}),
                media_seconds_total=media_seconds,
            ),
        )


def folder_counts(root: str) -> tuple[dict[str, int], float | None]:
    """JobSpecs per state folder, and the oldest pending one's mtime (names and stat only)."""
    counts = {}
    oldest: float | None = None
    for state in STATES:
        n = 0
        try:
            with os.scandir(os.path.join(root, state)) as it:
                for e in it:
                    if not is_candidate(e.name):
                        continue
                    n += 1
                    if state == "pending":
                        try:
                            mtime = e.stat(follow_symlinks=False).st_mtime
                        except OSError:
                            continue
                        oldest = mtime if oldest is None else min(oldest, mtime)
        except OSError:
            pass
        counts[state] = n
    return counts, oldest
