"""Misplaced JobSpecs are named with a reason; what intake takes (or ignores by rule) is not."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from proxx.watch.misplaced import MAX_WARNINGS, MisplacedWarner, find_misplaced
from testkit import run_cli

JOB = b'{"jobspec_version": "1.0.0"}'


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "watch"
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    return root


def found(root: Path) -> dict[str, str]:
    return {os.path.relpath(m.path, root): m.reason for m in find_misplaced(str(root))}


def test_each_kind_of_misplaced_file_is_named_with_its_reason(tmp_path: Path) -> None:
    root = folder(tmp_path)
    (root / "in_root.json").write_bytes(JOB)
    (root / "pending" / "upper.JSON").write_bytes(JOB)
    (root / "pending" / "noext").write_bytes(b"\n  " + JOB)
    (root / "pending" / "job.txt").write_bytes(JOB)
    (root / "pending" / "old.result.json").write_bytes(JOB)
    (root / "pending" / "batch").mkdir()
    (root / "pending" / "batch" / "nested.json").write_bytes(JOB)
    (root / "Pending").mkdir()
    (root / "Pending" / "wrong_case_dir.json").write_bytes(JOB)
    got = found(root)
    assert set(got) == {
        "in_root.json",
        "pending/upper.JSON",
        "pending/noext",
        "pending/job.txt",
        "pending/old.result.json",
        "pending/batch/nested.json",
        "Pending/wrong_case_dir.json",
    }
    assert "in the watch root" in got["in_root.json"]
    assert "'.JSON' is not '.json'" in got["pending/upper.JSON"]
    assert "rename it to upper.json" in got["pending/upper.JSON"]
    assert "no extension" in got["pending/noext"] and "noext.json" in got["pending/noext"]
    assert "'.txt'" in got["pending/job.txt"]
    assert "result" in got["pending/old.result.json"]
    assert "sub-folder pending/batch/" in got["pending/batch/nested.json"]
    assert "in Pending/" in got["Pending/wrong_case_dir.json"]


def test_what_intake_takes_or_ignores_by_rule_is_not_misplaced(tmp_path: Path) -> None:
    root = folder(tmp_path)
    (root / "pending" / "good.json").write_bytes(JOB)  # taken by intake
    (root / "pending" / ".writing.json").write_bytes(JOB)  # Maildir: in progress
    (root / "pending" / "x.json.tmp").write_bytes(JOB)
    (root / "pending" / "notes.txt").write_bytes(b"call the lab")  # not JSON at all
    (root / "pending" / "empty").write_bytes(b"")
    (root / "README").write_bytes(b"# watch folder")
    (root / "kept.result.json").write_bytes(JOB)  # a result someone saved: Proxx's output
    (root / "failed" / "j.json").write_bytes(JOB)  # Proxx's own folders are not looked at
    os.mkfifo(root / "pending" / "fifo")  # never opened: a read would block
    assert found(root) == {}
    # Control: the same content in the wrong place is found.
    (root / "good.json").write_bytes(JOB)
    assert list(found(root)) == ["good.json"]


@pytest.mark.e2e
def test_status_lists_misplaced_files_in_text_and_json(tmp_path: Path) -> None:
    root = folder(tmp_path)
    (root / "job.json").write_bytes(JOB)
    (root / "pending" / "Job2.JSON").write_bytes(JOB)
    as_json = run_cli("status", "--json", str(root))
    assert as_json.returncode == 0, as_json.stderr
    listed = {m["path"]: m["reason"] for m in json.loads(as_json.stdout)["misplaced"]}
    assert set(listed) == {str(root / "job.json"), str(root / "pending" / "Job2.JSON")}
    text = run_cli("status", str(root)).stdout
    assert "misplaced (never taken): 2" in text
    assert f"{root / 'job.json'}: in the watch root" in text
    assert "0 pending" in text  # the count stays honest: these are not pending jobs


def test_warner_warns_once_per_file_and_caps_a_flood(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = folder(tmp_path)
    (root / "a.json").write_bytes(JOB)
    warner = MisplacedWarner(str(root), min_interval_s=0.0)
    with caplog.at_level(logging.WARNING, logger="proxx.watch"):
        warner.check()
        warner.check()
    assert [r.getMessage() for r in caplog.records] == [
        f"misplaced file {root / 'a.json'} will never be taken: in the watch root; JobSpecs "
        "are taken from pending/ only: move it into pending/ (as NAME.json)"
    ]
    caplog.clear()
    (root / "logs").mkdir()
    for i in range(MAX_WARNINGS + 5):
        (root / "logs" / f"{i}.json").write_bytes(b"{}")
    with caplog.at_level(logging.WARNING, logger="proxx.watch"):
        warner.check()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == MAX_WARNINGS + 1
    assert messages[-1].startswith("… and 5 more misplaced files")
    # Gone, then back: warned again.
    (root / "a.json").unlink()
    warner.check()
    (root / "a.json").write_bytes(JOB)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="proxx.watch"):
        warner.check()
    assert len(caplog.records) == 1 and "a.json" in caplog.records[0].getMessage()
