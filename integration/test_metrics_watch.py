"""--metrics-file under a worker crash: the replaced worker and the failure reason are counted."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from integration import fake_workers
from integration.watch_folder import drop, drop_named, spec
from integration.watch_helpers import Launcher


def test_a_crashed_worker_counts_as_a_restart_and_a_worker_crashed_failure(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    drop(
        root,
        "a_crash.json",
        spec([tiny], out, output_name_template=f"{fake_workers.TRIGGER}_{{index}}"),
    )
    drop_named(root, "b_good", tiny, out)
    prom = tmp_path / "proxx.prom"
    watch = launcher.driver(root, "segfault_on_job", "--once", "--metrics-file", str(prom))
    assert watch.wait() == 0, watch.log()

    values = {
        (s.name, s.labels.get("reason", s.labels.get("state", ""))): s.value
        for fam in text_string_to_metric_families(prom.read_text())
        for s in fam.samples
    }
    assert values[("proxx_worker_restarts_total", "")] == 1.0
    assert values[("proxx_jobs_failed_total", "worker_crashed")] == 1.0
    assert values[("proxx_jobs_completed_total", "")] == 1.0
    assert values[("proxx_jobs", "failed")] == 1.0 and values[("proxx_jobs", "completed")] == 1.0
