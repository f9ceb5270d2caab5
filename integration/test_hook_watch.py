"""`proxx watch --on-job-end PROGRAM` (issue 19, point 6): the real CLI, real kill -9.

The program runs once per filed job with the result's path and the PROXX_*
variables; its failure is logged and changes nothing; a runner killed -9 after
filing, while the program runs, runs it again at its next start (at least once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop, prores, result, specs_in
from integration.watch_helpers import Launcher
from testkit import ANY_ROOT


def _program(tmp_path: Path, body: str) -> tuple[Path, Path]:
    """A hook that appends one line per call to calls.txt, then runs `body`."""
    calls = tmp_path / "calls.txt"
    hook = tmp_path / "hook.sh"
    hook.write_text(
        "#!/bin/bash\n"
        f'echo "$PROXX_JOB_ID $PROXX_JOB_STATUS $PROXX_JOBSPEC_PATH $1" >> {calls}\n{body}\n'
    )
    hook.chmod(0o755)
    return hook, calls


def _ious(root: Path) -> list[str]:
    return [n for n in os.listdir(root / "running") if n.endswith(".hook")]


def _once(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxx", "watch", str(root), "--once", *ANY_ROOT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_program_runs_once_per_filed_job_with_its_result(
    tmp_path: Path, root: Path, out: Path, medium_clip: Path
) -> None:
    hook, calls = _program(tmp_path, "echo notified")
    drop(root, "good.json", prores([medium_clip], out))
    drop(root, "bad.json", {**prores([medium_clip], out), "codec": "vp9"})

    proc = _once(root, "--on-job-end", str(hook))

    assert proc.returncode == 0, proc.stderr
    lines = sorted(calls.read_text().splitlines())
    assert len(lines) == 2
    for state, stem in (("completed", "good"), ("failed", "bad")):
        res = result(root, state, stem)
        spec = root / state / f"{stem}.json"
        expected = f"{res['job_id']} {res['status']} {spec} {root / state / f'{stem}.result.json'}"
        assert expected in lines
    assert "--on-job-end" in proc.stderr and "succeeded: notified" in proc.stderr
    assert _ious(root) == []


def test_a_failing_program_is_logged_and_changes_nothing(
    tmp_path: Path, root: Path, out: Path, medium_clip: Path
) -> None:
    hook, _calls = _program(tmp_path, "echo 'slack said 500'; echo again >&2; exit 3")
    drop(root, "good.json", prores([medium_clip], out))

    proc = _once(root, "--on-job-end", str(hook))

    assert proc.returncode == 0, proc.stderr
    assert specs_in(root, "completed") == ["good.json"]
    assert "failed (exit code 3): slack said 500 | again" in proc.stderr
    assert result(root, "completed", "good")["status"] == "COMPLETED"
    assert _ious(root) == []


def test_a_runner_killed_after_filing_runs_the_program_again_at_restart(
    tmp_path: Path, root: Path, out: Path, medium_clip: Path, launcher: Launcher
) -> None:
    # The first call hangs (the runner is killed -9 meanwhile); the second returns.
    first = tmp_path / "first"
    hook, calls = _program(tmp_path, f"[ -e {first} ] && exit 0\ntouch {first}\nexec sleep 600")
    drop(root, "good.json", prores([medium_clip], out))
    watch = launcher.cli(root, "--poll-seconds", "0.2", "--on-job-end", str(hook))
    wait_for(lambda: calls.exists(), "the program to be called", on_fail=watch.log)
    assert _ious(root) != []  # owed until the program ends

    watch.send(signal.SIGKILL)
    watch.wait(timeout=30)
    proc = _once(root, "--on-job-end", str(hook))

    assert proc.returncode == 0, proc.stderr
    job_id = result(root, "completed", "good")["job_id"]
    assert [line.split()[0] for line in calls.read_text().splitlines()] == [job_id, job_id]
    assert "owed" in proc.stderr and _ious(root) == []
    assert json.loads((root / "completed" / "good.result.json").read_text())["job_id"] == job_id
