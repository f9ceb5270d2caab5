"""`proxx status` lists pending JobSpecs in claim order, up to a limit (issue 19, point 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration.watch_folder import make_root
from testkit import run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def test_pending_jobs_are_listed_in_the_order_runners_claim_them(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    names = [f"job_{i:02d}.json" for i in range(25)]
    for name in reversed(names):  # created newest-first: the order is the names', not age
        (root / "pending" / name).write_text("{}")
    (root / "pending" / ".hidden.json").write_text("{}")  # never taken: not listed

    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    text = run_cli("status", str(root)).stdout

    assert [p["jobspec"] for p in status["pending"]] == names[:20]
    assert all(p["age_seconds"] >= 0 for p in status["pending"])
    assert "pending, in claim order: (first 20 of 25)" in text
    assert text.index("job_00.json") < text.index("job_19.json")
    assert "job_20.json" not in text and ".hidden.json" not in text
