"""What `proxx watch` takes from pending/, when, and what it refuses (with a result saying why)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.watch_folder import drop, drop_named, listing, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty


@pytest.mark.slow
def test_jobspec_written_slowly_in_place_is_taken_only_when_complete(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    watch = launcher.cli(root, "--poll-seconds", "0.1")
    wait_for(lambda: "watching" in watch.log(), "the runner to start", on_fail=watch.log)

    data = json.dumps(spec([tiny], out), indent=2).encode()
    chunks = [data[i * len(data) // 4 : (i + 1) * len(data) // 4] for i in range(4)]
    # A producer copying in place: the runner scans the half-written file many
    # times (every 0.1 s) while each pause stays well inside the settle interval.
    with open(root / "pending" / "slow.json", "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            time.sleep(0.5)

    wait_for(
        lambda: specs_in(root, "completed") + specs_in(root, "failed"),
        "the job to finish",
        on_fail=watch.log,
    )
    assert specs_in(root, "failed") == [], result(root, "failed", "slow")
    res = result(root, "completed", "slow")
    assert res["status"] == "COMPLETED" and res["validation_error"] is None
    assert (root / "completed" / "slow.json").read_bytes() == data
    watch.send(signal.SIGTERM)
    assert watch.wait() == 0, watch.log()
    assert_session_empty(watch)


@pytest.mark.slow
def test_junk_in_pending_fails_with_a_reason_and_the_runner_carries_on(
    tmp_path: Path, root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    pending = root / "pending"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(spec([tiny], out)))
    expected = {  # name in pending/ → what its validation_error must say
        "bad_json": "invalid JSON",
        "empty": "invalid JSON",
        "binary": "not UTF-8",
        "array": "JSON object, not a JSON array",
        "huge": "limit",
        "link": "symlink",
        "x": "directory",
        "fifo": "FIFO",
    }
    drop(root, "bad_json.json", b'{"jobspec_version": "1.0.0", "sources": [')
    drop(root, "empty.json", b"")
    drop(root, "binary.json", bytes(range(256)) * 64)
    drop(root, "array.json", b"[1, 2, 3]")
    with open(pending / ".huge.json.tmp", "wb") as fh:  # 70 MB (over 64 MiB), renamed in whole
        fh.write(b'{"padding": "')
        fh.write(b"x" * (70 << 20))
        fh.write(b'"}')
    os.rename(pending / ".huge.json.tmp", pending / "huge.json")
    os.symlink(elsewhere, pending / "link.json")
    (pending / "x.json").mkdir()
    os.mkfifo(pending / "fifo.json")

    watch = launcher.cli(root, "--poll-seconds", "0.1")
    wait_for(
        lambda: len(specs_in(root, "failed")) == len(expected),
        "every junk entry to fail",
        on_fail=lambda: f"{listing(root)}\n{watch.log()}",
    )
    assert specs_in(root, "pending") == []
    wrong = {}
    for name, fragment in expected.items():
        res = result(root, "failed", name)
        if res["status"] != "FAILED" or fragment not in (res["validation_error"] or ""):
            wrong[name] = res["validation_error"]
    assert not wrong, wrong
    # What was refused was moved as it is: the symlink (not its target), the directory.
    assert (root / "failed" / "link.json").is_symlink()
    assert elsewhere.read_text() == json.dumps(spec([tiny], out))
    assert (root / "failed" / "x.json").is_dir()
    assert (root / "failed" / "huge.json").stat().st_size > 70 << 20

    # The runner is unharmed: a valid job dropped afterwards completes.
    drop_named(root, "valid", tiny, out)
    wait_for(
        lambda: specs_in(root, "completed") == ["valid.json"],
        "the valid job to complete",
        on_fail=watch.log,
    )
    assert result(root, "completed", "valid")["status"] == "COMPLETED"
    assert watch.alive()
    watch.send(signal.SIGTERM)
    assert watch.wait() == 0, watch.log()
    assert listing(root)["running"] == []
    assert_session_empty(watch)


def test_dot_files_temporaries_and_results_in_pending_are_left_alone(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    ignored = {
        ".hidden.json": b"{not json",
        "upload.json.tmp": b"{not json",
        "copy.json.partial": b"{not json",
        "old.result.json": b"{not json",
        "job.tmp": b"{}",
        "notes.txt": b"hello",
    }
    for name, data in ignored.items():
        (root / "pending" / name).write_bytes(data)
    drop_named(root, "valid", tiny, out)

    watch = launcher.cli(root, "--once", "--poll-seconds", "0.1")
    assert watch.wait() == 0, watch.log()  # --once does not wait for the ignored files
    assert specs_in(root, "completed") == ["valid.json"]
    assert specs_in(root, "failed") == []
    assert sorted(os.listdir(root / "pending")) == sorted(ignored)
    for name, data in ignored.items():
        assert (root / "pending" / name).read_bytes() == data
    assert_session_empty(watch)


def test_a_name_already_taken_gets_a_suffix_and_nothing_is_overwritten(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    old = {}
    for state, stem in (("completed", "dup"), ("failed", "bad")):
        for name in (f"{stem}.json", f"{stem}.result.json"):
            path = root / state / name
            path.write_text(f"earlier {name}\n")
            old[path] = path.read_bytes()
    drop_named(root, "dup", tiny, out)
    drop(root, "bad.json", spec([root / "missing.mov"], out))

    watch = launcher.cli(root, "--once", "--poll-seconds", "0.1")
    assert watch.wait() == 0, watch.log()
    for path, data in old.items():
        assert path.read_bytes() == data
    assert specs_in(root, "completed") == ["dup-1.json", "dup.json"]
    assert specs_in(root, "failed") == ["bad-1.json", "bad.json"]
    done = result(root, "completed", "dup-1")
    assert done["status"] == "COMPLETED"
    assert done["_metadata"]["final_jobspec_path"] == str(root / "completed" / "dup-1.json")
    bad = result(root, "failed", "bad-1")
    assert bad["_metadata"]["final_jobspec_path"] == str(root / "failed" / "bad-1.json")
    assert "missing.mov" in bad["validation_error"]
    assert json.loads((root / "completed" / "dup-1.json").read_text())["sources"] == [str(tiny)]
    assert_session_empty(watch)


@pytest.mark.slow
def test_once_waits_for_a_name_still_settling_though_a_later_name_was_claimed(
    root: Path, launcher: Launcher
) -> None:
    """`--once` exits only when pending/ is empty, not when its last pass claimed the
    last name. `a.json` (not a JSON object: it waits out the settle interval) sorts
    before `b.json` (refused at once in its worker); b's result arrives while a still
    settles, and the runner used to exit right then, leaving a in pending/."""
    (root / "pending" / "a.json").write_text("[1]")
    (root / "pending" / "b.json").write_text("{}")
    watch = launcher.cli(root, "--once", "--max-workers", "1", "--poll-seconds", "5")
    assert watch.wait() == 0, watch.log()
    assert specs_in(root, "pending") == [], listing(root)
    assert specs_in(root, "failed") == ["a.json", "b.json"], listing(root)
    assert "JobSpec" in result(root, "failed", "a")["validation_error"]
    assert_session_empty(watch)
