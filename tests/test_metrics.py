"""The metrics file parses as Prometheus text format and says what the runner did."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from proxx.contract.progress import ProgressRecord
from proxx.watch.metrics import MetricsSnapshot, render, write
from testkit import ANY_ROOT, run_cli, spec_dict


def parse(text: str) -> dict[str, Any]:
    """name → {frozenset(labels) → value}, plus the declared type under 'type:NAME'."""
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        out[f"type:{family.name}"] = family.type
        for s in family.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


def snapshot(folder: str = "/srv/watch") -> MetricsSnapshot:
    return MetricsSnapshot(
        folder=folder,
        jobs={"pending": 3, "running": 1, "completed": 10, "failed": 2},
        completed_total=10,
        failed_total={"validation_error": 1, "worker_crashed": 1},
        worker_restarts=1,
        last_scan_timestamp=1_780_000_000.5,
        oldest_pending_age_seconds=42.25,
        written_timestamp=1_780_000_001.0,
    )


def test_render_parses_with_the_prometheus_parser() -> None:
    m = parse(render(snapshot()))
    f = ("watch_folder", "/srv/watch")
    assert m["proxx_jobs"] == {
        frozenset({f, ("state", s)}): float(n)
        for s, n in {"pending": 3, "running": 1, "completed": 10, "failed": 2}.items()
    }
    assert m["type:proxx_jobs"] == "gauge"
    assert m["proxx_jobs_completed_total"] == {frozenset({f}): 10.0}
    assert m["type:proxx_jobs_completed"] == "counter"
    assert m["proxx_jobs_failed_total"] == {
        frozenset({f, ("reason", "validation_error")}): 1.0,
        frozenset({f, ("reason", "worker_crashed")}): 1.0,
    }
    assert m["proxx_worker_restarts_total"] == {frozenset({f}): 1.0}
    assert m["proxx_last_scan_timestamp_seconds"] == {frozenset({f}): 1_780_000_000.5}
    assert m["proxx_oldest_pending_age_seconds"] == {frozenset({f}): 42.25}


def test_label_values_are_escaped() -> None:
    odd = 'C:\\watch "night"\nshift'
    m = parse(render(snapshot(odd)))
    assert m["proxx_jobs_completed_total"] == {frozenset({("watch_folder", odd)}): 10.0}


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "proxx.prom"
    target.write_text("old")
    write(str(target), snapshot())
    assert target.read_text() == render(snapshot())
    assert os.listdir(tmp_path) == ["proxx.prom"]


def test_watch_writes_the_metrics_file(tmp_path: Path, clip: Any) -> None:
    root = tmp_path / "watch"
    (root / "pending").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    good = spec_dict([str(clip())], tmp_path / "out")
    (root / "pending" / "a_good.json").write_text(json.dumps(good))
    (root / "pending" / "b_bad.json").write_text(json.dumps({**good, "codec": "vp9"}))
    prom = tmp_path / "textfile" / "proxx.prom"
    prom.parent.mkdir()
    proc = run_cli("watch", str(root), *ANY_ROOT, "--once", "--metrics-file", str(prom))
    assert proc.returncode == 0, proc.stderr
    m = parse(prom.read_text())
    f = ("watch_folder", str(root))
    assert m["proxx_jobs_completed_total"] == {frozenset({f}): 1.0}
    assert m["proxx_jobs_failed_total"] == {frozenset({f, ("reason", "validation_error")}): 1.0}
    jobs = {dict(k)["state"]: v for k, v in m["proxx_jobs"].items()}
    assert jobs == {"pending": 0.0, "running": 0.0, "completed": 1.0, "failed": 1.0}
    assert m["proxx_worker_restarts_total"] == {frozenset({f}): 0.0}
    assert next(iter(m["proxx_last_scan_timestamp_seconds"].values())) > 1.7e9
    assert os.listdir(prom.parent) == ["proxx.prom"]


def test_running_jobs_show_their_progress_and_phase_and_media_seconds_count() -> None:
    record = ProgressRecord(
        phase="render",
        clip=2,
        clips=3,
        clip_fraction=0.5,
        job_fraction=0.4,
        speed=2.0,
        eta_seconds=30.0,
        updated_at="2026-12-07T03:00:00.000Z",
        seconds_since_progress=0.0,
    )
    s = dataclasses.replace(snapshot(), running={"abc123": record}, media_seconds_total=90.5)

    m = parse(render(s))

    labels = frozenset({("watch_folder", "/srv/watch"), ("job_id", "abc123"), ("phase", "render")})
    assert m["proxx_job_progress_ratio"] == {labels: 0.4}
    assert m["proxx_job_clip_progress_ratio"] == {labels: 0.5}
    assert m["proxx_media_rendered_seconds_total"] == {
        frozenset({("watch_folder", "/srv/watch")}): 90.5
    }
    assert m["type:proxx_media_rendered_seconds"] == "counter"
