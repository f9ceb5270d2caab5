"""Stopping `proxx watch`: SIGTERM/SIGINT interrupt running jobs cleanly; fatal errors exit 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from integration import fake_workers
from integration.processes import ffmpeg_procs, wait_for
from integration.watch_folder import (
    drop,
    drop_named,
    failed_clip,
    listing,
    partials,
    prores,
    result,
    spec,
    specs_in,
)
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import ANY_ROOT


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_interrupts_running_jobs_and_leaves_pending_alone(
    sig: signal.Signals,
    root: Path,
    out: Path,
    tiny: Path,
    long_clip: Path,
    launcher: Launcher,
) -> None:
    drop(root, "a1.json", prores([long_clip], out, output_name_template="a1_{source_name}"))
    drop(root, "a2.json", prores([long_clip], out, output_name_template="a2_{source_name}"))
    waiting = {n: drop_named(root, n, tiny, out).read_bytes() for n in ("c1", "c2")}
    watch = launcher.cli(root, "--max-workers", "2", "--poll-seconds", "0.2")

    wait_for(
        lambda: len(partials(out)) == 2 and len(ffmpeg_procs(str(out))) == 2,
        "both long jobs to be rendering",
        on_fail=watch.log,
    )
    if sig is signal.SIGINT:
        os.killpg(watch.pid, sig)  # Ctrl-C: the whole foreground process group gets it
    else:
        watch.send(sig)  # systemd's stop: the main process gets it
    assert watch.wait(timeout=30) == 0, watch.log()

    assert listing(root)["running"] == []
    assert specs_in(root, "failed") == ["a1.json", "a2.json"]
    for name in ("a1", "a2"):
        res = result(root, "failed", name)
        assert res["status"] == "FAILED"
        clip = failed_clip(res)
        assert clip["failure_reason"] == "interrupted"
        assert sig.name in clip["failure_detail"]
        assert not (out / f"{name}_long.mov").exists()  # nothing at the final name
    # Jobs not yet claimed stay exactly as they were, for the next start.
    assert specs_in(root, "pending") == ["c1.json", "c2.json"]
    for name, data in waiting.items():
        assert (root / "pending" / f"{name}.json").read_bytes() == data
    assert specs_in(root, "completed") == []
    assert f"received {sig.name}" in watch.log()
    # Results are written only after each FFmpeg has exited: none may be left now.
    assert ffmpeg_procs(str(out)) == []
    assert_session_empty(watch)


def test_job_stopped_between_two_clips_names_the_next_clip_interrupted(
    root: Path, out: Path, tiny: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    # A stop that lands after clip 1 was published and before clip 2 started.
    sources = [tiny, clip("tiny_b.mov"), clip("tiny_c.mov")]
    drop(
        root, "a.json", spec(sources, out, output_name_template=f"{{index}}_{fake_workers.TRIGGER}")
    )
    watch = launcher.driver(root, "stop_between_clips_on_job", "--poll-seconds", "0.2")
    wait_for(lambda: "clip 1 reported" in watch.log(), "clip 1 to be reported", on_fail=watch.log)
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()

    res = result(root, "failed", "a")
    assert res["status"] == "PARTIAL"
    assert [c["status"] for c in res["clips"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    stopped = failed_clip(res)
    assert stopped["failure_reason"] == "interrupted"
    assert "SIGTERM" in stopped["failure_detail"]
    assert_session_empty(watch)


def test_sigterm_while_idle_exits_0(root: Path, launcher: Launcher) -> None:
    watch = launcher.cli(root, "--max-workers", "2", "--poll-seconds", "0.2")
    wait_for(lambda: len(watch.workers()) == 2, "two workers to start", on_fail=watch.log)
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    assert_session_empty(watch)


def test_sigterm_to_an_idle_worker_stops_nothing_and_the_next_job_runs(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    watch = launcher.cli(root, "--max-workers", "1", "--poll-seconds", "0.2")
    drop(root, "a.json", spec([tiny], out, output_name_template="a"))
    wait_for(lambda: specs_in(root, "completed") == ["a.json"], "job a", on_fail=watch.log)
    [worker] = watch.workers()  # idle now, waiting for its next job

    for _ in range(200):  # more than one read of the wakeup pipe holds
        os.kill(worker.pid, signal.SIGTERM)
    drop(root, "b.json", spec([tiny], out, output_name_template="b"))
    wait_for(lambda: len(specs_in(root, "completed")) == 2, "job b", on_fail=watch.log)

    b = result(root, "completed", "b")
    assert b["status"] == "COMPLETED" and b["interrupted"] is None
    assert b["worker_started_at"] == result(root, "completed", "a")["worker_started_at"]
    assert "SIGTERM received while idle: no job is running, nothing stopped" in watch.log()
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    assert_session_empty(watch)


def _watch_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxx", "watch", *args, *ANY_ROOT],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_missing_watch_folder_exits_1_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    proc = _watch_cli(str(missing), "--once")
    assert proc.returncode == 1
    assert str(missing) in proc.stderr and "does not exist" in proc.stderr
    assert proc.stdout == ""
    assert not missing.exists()  # not created behind the operator's back


def test_watch_folder_that_is_a_file_exits_1(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = _watch_cli(str(not_a_dir))  # not --once: must not wait for a signal either
    assert proc.returncode == 1
    assert "not a folder" in proc.stderr


def test_sigterm_while_probing_a_claimed_job_leaves_the_rest_pending(
    root: Path,
    out: Path,
    tiny: Path,
    launcher: Launcher,
) -> None:
    # 40 sources a job: probing one takes seconds, so the stop lands mid-validation.
    for i in range(8):
        drop(root, f"j{i}.json", spec([tiny] * 40, out, output_name_template=f"j{i}_{{index}}"))
    watch = launcher.cli(root, "--max-workers", "1", "--poll-seconds", "0.2")
    wait_for(lambda: listing(root)["running"] != [], "a job to be claimed", on_fail=watch.log)
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=60) == 0, watch.log()

    assert listing(root)["running"] == []
    stopped = specs_in(root, "failed")
    # Only the job being probed (or, on a fast machine, already rendering) is stopped;
    # claiming on after the stop once failed every pending job in turn.
    assert stopped == ["j0.json"], stopped
    res = result(root, "failed", "j0")
    assert res["interrupted"] is not None or failed_clip(res)["failure_reason"] == "interrupted"
    assert specs_in(root, "pending") == [f"j{i}.json" for i in range(1, 8)]
    assert_session_empty(watch)
