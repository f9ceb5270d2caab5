"""The locale never decides how file names are read (finding 11 of issue 18).

Under `LC_ALL=C PYTHONUTF8=0` Python reads names as ASCII: a JobSpec named
`café.json` stayed in pending/ for good, a traceback on every scan. Proxx now runs
in Python's UTF-8 mode (it re-executes itself with `-X utf8`, its workers too).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit import ANY_ROOT, make_clip, run_cli, visible, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

C_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}


def test_a_non_ascii_jobspec_name_is_run_under_the_c_locale(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out.mkdir()
    write_spec(root / "pending" / "café.json", [make_clip(tmp_path / "é.mov")], out)

    proc = run_cli("watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT, env=C_LOCALE)

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert visible(root / "completed") == ["café.json", "café.result.json"]
    result = json.loads((root / "completed" / "café.result.json").read_text("utf-8"))
    assert result["status"] == "COMPLETED"
    assert result["_metadata"]["jobspec_path"] == str(root / "running" / "café.json")
    assert visible(out) == ["é_proxy.mov"]


def test_run_reads_a_non_ascii_source_under_the_c_locale(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spec = write_spec(tmp_path / "jöb.json", [make_clip(tmp_path / "é.mov")], out)
    proc = run_cli("run", str(spec), env=C_LOCALE)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clips"][0]["source_path"] == str(tmp_path / "é.mov")
