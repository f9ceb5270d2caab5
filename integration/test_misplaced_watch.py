"""`proxx watch` warns once per misplaced JobSpec, leaves it alone, and takes the real ones."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop_named, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import spec_dict


def test_each_misplaced_file_is_warned_once_across_many_scans(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    body = json.dumps(spec_dict([str(tiny)], out)).encode()
    misplaced = {
        root / "in_root.json": body,
        root / "pending" / "upper.JSON": body,
        root / "pending" / "noext": body,
    }
    for path, data in misplaced.items():
        path.write_bytes(data)
    watch = launcher.cli(root, "--poll-seconds", "0.1")
    warning = "misplaced file {} will never be taken"
    wait_for(
        lambda: all(warning.format(p) in watch.log() for p in misplaced),
        "a warning for each misplaced file",
        on_fail=watch.log,
    )
    # Two real jobs dropped one after the other: the runner scans many times meanwhile.
    drop_named(root, "first", tiny, out)
    wait_for(lambda: specs_in(root, "completed") == ["first.json"], "first job", on_fail=watch.log)
    drop_named(root, "second", tiny, out)
    wait_for(lambda: len(specs_in(root, "completed")) == 2, "second job", on_fail=watch.log)
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    assert_session_empty(watch)

    log = watch.log()
    for path, data in misplaced.items():
        assert log.count(warning.format(path)) == 1, log
        assert path.read_bytes() == data  # warned about, never moved or changed
    assert "misplaced file" not in "\n".join(  # control: real jobs are never called misplaced
        line for line in log.splitlines() if "first.json" in line or "second.json" in line
    )


def test_misplaced_warning_in_json_logs(root: Path, launcher: Launcher) -> None:
    (root / "pending" / "job.JSON").write_text("{}")
    watch = launcher.cli(root, "--once", env={"PROXX_LOG_FORMAT": "json"})
    assert watch.wait() == 0, watch.log()
    lines = [json.loads(line) for line in watch.log().splitlines() if line.startswith("{")]
    warned = [o for o in lines if o.get("state") == "misplaced"]
    assert len(warned) == 1, watch.log()
    assert warned[0]["jobspec"] == str(root / "pending" / "job.JSON")
    assert "rename it to job.json" in warned[0]["reason"]
