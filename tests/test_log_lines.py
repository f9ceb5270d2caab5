"""One log record, one line: file names are logged escaped (issue 18, point 4).

A JobSpec named with a newline and a fake record after it: the real `proxx watch`
runs it, and every line of its text log is a record of its own (the name shows
with `\\x0a`). Before, the name forged a whole ERROR line in the log.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit import ANY_ROOT, make_clip, run_cli, visible, write_spec

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

FORGED = "2026-01-01T00:00:00+0000 ERROR proxx.watch: FORGED"
RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} [A-Z]+ [\w.]+: ")


def test_a_newline_in_a_jobspec_name_cannot_forge_a_log_line(tmp_path: Path) -> None:
    root, out = tmp_path / "watch", tmp_path / "out"
    for d in ("pending", "running", "completed", "failed"):
        (root / d).mkdir(parents=True)
    out.mkdir()
    name = f"a\n{FORGED}\x1b[2K.json"
    write_spec(root / "pending" / name, [make_clip(tmp_path / "a.mov")], out)

    proc = run_cli("watch", str(root), "--once", "--poll-seconds", "0.1", *ANY_ROOT)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(RECORD.match(line) for line in lines), proc.stderr
    assert not any(line.startswith(FORGED) for line in lines)
    assert f"a\\x0a{FORGED}\\x1b[2K.json" in proc.stderr  # the name, shown escaped
    assert visible(root / "completed") == [name, name.removesuffix(".json") + ".result.json"]
