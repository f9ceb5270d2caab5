"""Filing a job's JobSpec and result together, on filesystems with and without hard links."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proxx.contract.results import JobResult, not_started
from proxx.watch.folder import Layout, finish


def _claimed(tmp_path: Path) -> tuple[Layout, str]:
    layout = Layout(str(tmp_path))
    for state in ("pending", "running", "completed", "failed"):
        os.makedirs(layout.dir(state))
    spec = Path(layout.running) / "a.json"
    spec.write_text("{}")
    return layout, str(spec)


def _result(path: str) -> JobResult:
    return not_started("job1", path, datetime(2026, 1, 1, tzinfo=UTC), validation_error="x")


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_the_pair_lands_together_and_nothing_stays_in_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: bool
) -> None:
    layout, spec = _claimed(tmp_path)
    if not links:  # vfat, some FUSE/SMB mounts

        def no_link(*_a: object, **_k: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    (Path(layout.dir("failed")) / "a.json").write_text("an earlier job's")  # name taken
    final = finish(layout, spec, _result(spec), state="failed")
    assert final == os.path.join(layout.dir("failed"), "a-1.json")
    assert sorted(os.listdir(layout.dir("failed"))) == ["a-1.json", "a-1.result.json", "a.json"]
    assert os.listdir(layout.running) == []
    assert (Path(layout.dir("failed")) / "a.json").read_text() == "an earlier job's"
