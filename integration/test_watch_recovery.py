"""A runner killed with -9, and several runners on one folder: no job lost, none run twice."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.processes import assert_gone, assert_no_ffmpeg, ffmpeg_procs, wait_for
from integration.watch_folder import (
    drop,
    drop_named,
    listing,
    partials,
    prores,
    result,
    results,
    spec,
    specs_in,
)
from integration.watch_helpers import Launcher, assert_session_empty


def _owner_pid(root: Path, name: str) -> int | None:
    """The pid in the runner's `.NAME.owner` sidecar in running/, if there is one yet."""
    try:
        return int(json.loads((root / "running" / f".{name}.owner").read_text())["pid"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _finished_names(log: str) -> list[str]:
    """JobSpec names the runner logged moving to completed/ or failed/."""
    return re.findall(r"\(([^()]+\.json)\): \w+ .*→ (?:completed|failed)/", log)


@pytest.mark.slow
def test_kill_9_supervisor_mid_job_then_restart_recovers_every_clip(
    root: Path,
    out: Path,
    tiny: Path,
    long_clip: Path,
    clip: Callable[..., Path],
    launcher: Launcher,
) -> None:
    # Clip 1 is tiny (published before the kill), clip 2 long (the kill lands during it).
    sources = [tiny, long_clip, clip("tiny_b.mov")]
    drop(root, "job.json", prores(sources, out, output_name_template="{index}_{source_name}"))
    first, second, third = (out / "001_tiny.mov", out / "002_long.mov", out / "003_tiny_b.mov")
    watch = launcher.cli(root, "--poll-seconds", "0.2")

    wait_for(
        lambda: first.exists() and any(p.startswith(".002_long.mov.") for p in partials(out)),
        "clip 1 published and clip 2 rendering",
        on_fail=watch.log,
    )
    encoders = [p.pid for p in ffmpeg_procs(str(out))]
    assert len(encoders) == 1
    [claimed_id] = re.findall(r"job (\w+) \(job\.json\): claimed", watch.log())
    os.kill(watch.pid, signal.SIGKILL)
    assert watch.wait() == -signal.SIGKILL

    # Its worker sees the pipe close and stops its FFmpeg (which would otherwise
    # render for many more seconds); nothing of that runner survives.
    assert_gone(encoders, "the dead runner's FFmpeg to be stopped")
    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)
    assert specs_in(root, "running") == ["job.json"]
    assert not second.exists()

    again = launcher.cli(root, "--once")
    assert again.wait() == 0, again.log()
    assert "recovered job.json" in again.log()
    assert listing(root)["running"] == []  # the owner sidecar went too
    assert specs_in(root, "failed") == ["job.json"]
    res = result(root, "failed", "job")
    assert res["_recovery"]["reason"] == "runner interrupted"
    assert res["job_id"] == claimed_id  # logs before and after the crash correlate
    assert res["_recovery"]["original_path"] == str(root / "running" / "job.json")
    assert res["status"] == "PARTIAL"
    assert [c["status"] for c in res["clips"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    assert [c["output_path"] for c in res["clips"]] == [str(first), str(second), str(third)]
    done, interrupted, _ = res["clips"]
    assert done["output_size_bytes"] == first.stat().st_size > 0
    assert interrupted["failure_reason"] == "interrupted"
    left = interrupted["partial_output_path"]
    assert left and Path(left).is_file() and Path(left).name.startswith(".002_long.mov.")
    assert not second.exists() and not third.exists()  # nothing at the interrupted final name


@pytest.mark.slow
def test_two_runners_on_one_folder_run_each_of_200_jobs_exactly_once(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    renders = [f"r{i:02d}" for i in range(20)]
    invalid = [f"v{i:03d}" for i in range(140)]
    # Refused without a claim (no lock can be taken on them): both runners may try
    # the same entry at once, and still exactly one result must come of it.
    dirs = [f"d{i:02d}" for i in range(20)]
    links = [f"l{i:02d}" for i in range(20)]
    for name in invalid:  # quick jobs: validation fails before any worker is involved
        drop(root, f"{name}.json", spec([root / f"missing_{name}.mov"], out))
    for name in renders:
        drop_named(root, name, tiny, out)
    for name in dirs:
        (root / "pending" / f"{name}.json").mkdir()
    for name in links:
        (root / "pending" / f"{name}.json").symlink_to(tiny)
    a = launcher.cli(root, "--once", "--max-workers", "2", "--poll-seconds", "0.1")
    b = launcher.cli(root, "--once", "--max-workers", "2", "--poll-seconds", "0.1")
    assert a.wait() == 0, a.log()
    assert b.wait() == 0, b.log()

    state = listing(root)
    assert state["pending"] == [] and state["running"] == [], state
    # Exactly once: no `-1` pair (which a second finish would have made), nothing lost.
    assert specs_in(root, "completed") == [f"{n}.json" for n in renders]
    refused = dirs + links + invalid
    assert specs_in(root, "failed") == sorted(f"{n}.json" for n in refused)
    assert len(state["completed"]) + len(state["failed"]) == 2 * 200
    finished = Counter(_finished_names(a.log()) + _finished_names(b.log()))
    assert finished == Counter(f"{n}.json" for n in renders + refused)
    failed = results(root, "failed")  # every one has its result beside it
    for name in invalid:
        assert f"missing_{name}.mov" in failed[name]["validation_error"]
    for name in dirs:
        assert "directory" in failed[name]["validation_error"]
    for name in links:
        assert "symlink" in failed[name]["validation_error"]
    for res in results(root, "completed").values():
        assert res["status"] == "COMPLETED" and res["worker_id"] in (0, 1)
    assert sorted(os.listdir(out)) == sorted(f"{n}_tiny.mov" for n in renders)
    print(
        f"runner A finished {len(_finished_names(a.log()))}, "
        f"runner B {len(_finished_names(b.log()))}"
    )
    for w in (a, b):
        assert_session_empty(w)


@pytest.mark.slow
def test_two_runners_refusing_the_same_entries_write_one_result_each(
    root: Path, tiny: Path, launcher: Launcher
) -> None:
    # Entries that are refused, not claimed, take no lock: in lockstep, both runners
    # try the same ones. Each must still end up in failed/ once, with its result.
    names = [f"{kind}{i:03d}" for i in range(300) for kind in ("d", "l")]
    for name in names:
        path = root / "pending" / f"{name}.json"
        if name.startswith("d"):
            path.mkdir()
        else:
            path.symlink_to(tiny)
    runners = [launcher.cli(root, "--once", "--poll-seconds", "0.1") for _ in range(2)]
    for w in runners:
        assert w.wait() == 0, w.log()
    assert listing(root)["pending"] == [] and listing(root)["running"] == []
    assert sorted(os.listdir(root / "failed")) == sorted(
        [f"{n}.json" for n in names] + [f"{n}.result.json" for n in names]
    )
    finished = Counter(_finished_names(runners[0].log()) + _finished_names(runners[1].log()))
    assert finished == Counter(f"{n}.json" for n in names)


@pytest.mark.slow
def test_kill_9_one_of_two_runners_recovers_only_its_jobs(
    root: Path, out: Path, long_clip: Path, medium_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a_long.json", prores([long_clip], out))
    a = launcher.cli(root, "--max-workers", "1", "--poll-seconds", "0.2")
    wait_for(
        lambda: _owner_pid(root, "a_long.json") == a.pid and partials(out),
        "runner A to be rendering a_long",
        on_fail=a.log,
    )

    b = launcher.cli(root, "--max-workers", "1", "--poll-seconds", "0.2")
    drop(root, "b_medium.json", prores([medium_clip], out))
    wait_for(
        lambda: _owner_pid(root, "b_medium.json") == b.pid and len(partials(out)) == 2,
        "runner B to be rendering b_medium",
        on_fail=b.log,
    )
    # B has been scanning running/ all along, and left A's live job alone.
    assert specs_in(root, "running") == ["a_long.json", "b_medium.json"]
    assert "recovered" not in b.log()

    encoders = [p.pid for p in ffmpeg_procs("/.long_proxy.mov.")]
    assert len(encoders) == 1
    os.kill(a.pid, signal.SIGKILL)
    assert a.wait() == -signal.SIGKILL
    assert_gone(encoders, "the dead runner's FFmpeg to be stopped")

    wait_for(
        lambda: specs_in(root, "failed") == ["a_long.json"],
        "the survivor to recover A's job",
        on_fail=b.log,
    )
    wait_for(
        lambda: specs_in(root, "completed") == ["b_medium.json"],
        "the survivor's own job to complete",
        on_fail=b.log,
    )
    rec = result(root, "failed", "a_long")
    assert rec["_recovery"]["reason"] == "runner interrupted"
    assert [c["failure_reason"] for c in rec["clips"]] == ["interrupted"]
    assert not (out / "long_proxy.mov").exists()
    own = result(root, "completed", "b_medium")
    assert own["status"] == "COMPLETED" and own["_recovery"] is None
    assert (out / "medium_proxy.mov").is_file()
    assert "recovered a_long.json" in b.log()

    b.send(signal.SIGTERM)
    assert b.wait() == 0, b.log()
    assert listing(root)["running"] == []
    assert_no_ffmpeg(str(out))
    for w in (a, b):
        assert_session_empty(w)
