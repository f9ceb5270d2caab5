"""The crash matrix: a worker (or its FFmpeg) dies, hangs or babbles; the runner carries on.

Each case ends with the one affected job in failed/ with the documented
failure_reason and the signal or exit code in failure_detail, the other jobs
completed, the supervisor alive (exit 0 at the end) and no process left over.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from integration import fake_workers
from integration.processes import (
    assert_gone,
    assert_no_ffmpeg,
    ffmpeg_procs,
    is_python,
    proc_info,
    wait_for,
)
from integration.watch_folder import (
    done_count,
    drop,
    drop_named,
    failed_clip,
    listing,
    partials,
    prores,
    result,
    results,
    spec,
    specs_in,
)
from integration.watch_helpers import Launcher, Watch, assert_session_empty

QUICK = ["b1", "b2", "b3"]


def _drop_quick(root: Path, out: Path, tiny: Path, names: list[str] = QUICK) -> None:
    for name in names:
        drop_named(root, name, tiny, out)


def _assert_quick_completed(root: Path, out: Path, names: list[str] = QUICK) -> None:
    done = results(root, "completed")
    assert sorted(done) == sorted(names)
    for name in names:
        assert done[name]["status"] == "COMPLETED"
        assert (out / f"{name}_tiny.mov").is_file()


def _rendering_ffmpeg(watch: Watch, out: Path) -> int:
    """Wait until FFmpeg writes a .partial in `out`; return that FFmpeg's pid."""
    wait_for(lambda: partials(out), "a .partial render in the output folder", on_fail=watch.log)
    procs = wait_for(lambda: ffmpeg_procs(str(out)), "the FFmpeg writing it", on_fail=watch.log)
    assert len(procs) == 1, procs
    return procs[0].pid


# -- real workers, real FFmpeg -------------------------------------------------------
@pytest.mark.slow
def test_kill_9_real_worker_mid_clip(
    root: Path, out: Path, tiny: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a_long.json", prores([long_clip], out))
    _drop_quick(root, out, tiny)
    watch = launcher.cli(root, "--once", "--max-workers", "1", "--poll-seconds", "0.2")

    ffmpeg = proc_info(_rendering_ffmpeg(watch, out))
    assert ffmpeg is not None
    worker = proc_info(ffmpeg.ppid)
    assert worker is not None and is_python(worker)
    assert worker.sid == watch.pid and worker.ppid == watch.pid  # started via proxx.runtime.child
    assert worker.pid in {w.pid for w in watch.workers()}
    os.kill(worker.pid, signal.SIGKILL)
    # PR_SET_PDEATHSIG: the encoder dies with its worker (it would render for many
    # more seconds on its own).
    assert_gone([ffmpeg.pid], "FFmpeg to die with its worker")

    assert watch.wait() == 0, watch.log()
    res = result(root, "failed", "a_long")
    assert res["status"] == "FAILED" and res["worker_id"] == 0
    clip = failed_clip(res)
    assert clip["failure_reason"] == "worker_crashed"
    assert "SIGKILL" in clip["failure_detail"]
    assert not (out / "long_proxy.mov").exists()  # nothing at the final name
    # FFmpeg had started writing before the kill: its partial render is kept and reported.
    left = clip["partial_output_path"]
    assert left and Path(left).is_file() and Path(left).parent.parent == out  # private folder
    assert Path(left).name.startswith(".long_proxy.mov.") and left.endswith(".partial")

    # The replacement worker (a new start time, same slot) ran the rest.
    _assert_quick_completed(root, out)
    for name in QUICK:
        later = result(root, "completed", name)
        assert later["worker_id"] == 0
        assert later["worker_started_at"] > res["worker_started_at"]
    assert listing(root)["running"] == []
    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)


@pytest.mark.slow
def test_kill_9_ffmpeg_mid_clip(
    root: Path, out: Path, tiny: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a_long.json", prores([long_clip], out))
    _drop_quick(root, out, tiny)
    watch = launcher.cli(root, "--once", "--max-workers", "1", "--poll-seconds", "0.2")

    os.kill(_rendering_ffmpeg(watch, out), signal.SIGKILL)

    assert watch.wait() == 0, watch.log()
    res = result(root, "failed", "a_long")
    clip = failed_clip(res)
    assert clip["failure_reason"] == "execution_error"
    assert "SIGKILL" in clip["failure_detail"]
    assert clip["exit_code"] == -signal.SIGKILL
    assert not (out / "long_proxy.mov").exists()
    # The partial render is kept for diagnosis, and reported.
    assert clip["partial_output_path"] and Path(clip["partial_output_path"]).is_file()
    # The worker survived its encoder: the same worker ran the rest.
    _assert_quick_completed(root, out)
    for name in QUICK:
        assert result(root, "completed", name)["worker_started_at"] == res["worker_started_at"]
    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)


@pytest.mark.slow
def test_real_worker_past_its_clip_timeout_is_stopped_with_timeout(
    root: Path, out: Path, tiny: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a_long.json", prores([long_clip], out))
    _drop_quick(root, out, tiny, ["b1"])
    # The short limit applies to the long clip only (see driver_main).
    watch = launcher.driver(root, "proxx_workers.main:worker_main", "--once", "--clip-timeout", "3")

    assert watch.wait() == 0, watch.log()
    clip = failed_clip(result(root, "failed", "a_long"))
    assert clip["failure_reason"] == "timeout"
    # Reported by the worker, which stopped its FFmpeg itself (not killed by the pool).
    assert clip["failure_detail"].startswith("stopped: clip exceeded its 3 s time limit")
    assert not (out / "long_proxy.mov").exists()
    _assert_quick_completed(root, out, ["b1"])
    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)


# -- fake workers ---------------------------------------------------------------------
MISBEHAVING = [
    # (target, what failure_detail must say)
    ("exit_on_job", f"exited with code {fake_workers.EXIT_CODE}"),
    ("segfault_on_job", "SIGSEGV"),
    ("garbage_framed_on_job", "invalid message"),
    ("garbage_raw_on_job", "unreadable"),
    # Causes, not codes: the exception's last line travels as the worker's last words.
    ("raise_on_job", "(RuntimeError: the engine exploded in a way nobody tried)"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("target", "detail"), MISBEHAVING, ids=[t for t, _ in MISBEHAVING])
def test_misbehaving_worker_fails_only_its_job_and_is_replaced(
    target: str,
    detail: str,
    root: Path,
    out: Path,
    tiny: Path,
    launcher: Launcher,
    tmp_path: Path,
) -> None:
    spawns = tmp_path / "spawns.log"
    drop(root, "a.json", spec([tiny], out, output_name_template=f"a_{fake_workers.TRIGGER}"))
    _drop_quick(root, out, tiny)
    watch = launcher.driver(
        root,
        target,
        "--max-workers",
        "2",
        "--poll-seconds",
        "0.2",
        env={"FAKE_WORKER_LOG": str(spawns)},
    )

    wait_for(lambda: done_count(root) == 4, "all four jobs to finish", on_fail=watch.log)
    # Two workers at start, plus exactly one replacement for the one that went bad.
    wait_for(
        lambda: spawns.exists() and len(spawns.read_text().splitlines()) == 3,
        "the misbehaving worker to be replaced",
        on_fail=lambda: spawns.read_text(),
    )
    assert watch.alive()
    watch.send(signal.SIGTERM)
    assert watch.wait() == 0, watch.log()

    res = result(root, "failed", "a")
    assert res["status"] == "FAILED"
    clip = failed_clip(res)
    assert clip["failure_reason"] == "worker_crashed"
    assert detail in clip["failure_detail"]
    assert not (out / f"a_{fake_workers.TRIGGER}.mov").exists()
    _assert_quick_completed(root, out)
    assert len(spawns.read_text().splitlines()) == 3
    assert listing(root)["running"] == []
    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)


@pytest.mark.slow
def test_hung_worker_is_killed_on_sigterm_and_its_job_interrupted(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    drop(root, "a.json", spec([tiny], out, output_name_template=f"a_{fake_workers.TRIGGER}"))
    _drop_quick(root, out, tiny, ["b1"])
    marks = tmp_path / "fake_workers.log"
    watch = launcher.driver(
        root,
        "hang_on_job",
        "--max-workers",
        "2",
        "--poll-seconds",
        "0.2",
        env={"FAKE_WORKER_LOG": str(marks)},
    )

    wait_for(
        lambda: specs_in(root, "completed") == ["b1.json"],
        "b1 to complete beside it",
        on_fail=watch.log,
    )
    # On a loaded box a's worker may still be probing: the test is about its hang.
    wait_for(lambda: marks.exists() and "misbehave" in marks.read_text(), "a to hang")
    assert specs_in(root, "running") == ["a.json"]
    watch.send(signal.SIGTERM)
    # The hung worker ignores CancelJob and SIGTERM: the pool's grace runs out, then
    # SIGKILL. (The 90 s deadline is a test bound, not a claim about speed.)
    assert watch.wait() == 0, watch.log()

    clip = failed_clip(result(root, "failed", "a"))
    assert clip["failure_reason"] == "interrupted"
    assert "SIGTERM" in clip["failure_detail"] and "SIGKILL" in clip["failure_detail"]
    assert listing(root)["running"] == []
    assert_session_empty(watch)


@pytest.mark.slow
def test_hung_worker_past_its_clip_timeout_fails_with_timeout(
    root: Path, out: Path, tiny: Path, long_clip: Path, launcher: Launcher
) -> None:
    # A long source, so that the driver's short limit applies to it (not to the tiny jobs).
    drop(root, "a.json", spec([long_clip], out, output_name_template=f"a_{fake_workers.TRIGGER}"))
    _drop_quick(root, out, tiny, ["b1", "b2"])
    watch = launcher.driver(
        root, "hang_on_job", "--once", "--max-workers", "1", "--clip-timeout", "1"
    )

    assert watch.wait() == 0, watch.log()
    clip = failed_clip(result(root, "failed", "a"))
    assert clip["failure_reason"] == "timeout"
    assert "1 s time limit" in clip["failure_detail"] and "SIGKILL" in clip["failure_detail"]
    # One worker: the jobs after it ran on its replacement.
    _assert_quick_completed(root, out, ["b1", "b2"])
    assert_session_empty(watch)


@pytest.mark.slow
def test_worker_dying_at_boot_is_respawned_with_backoff_not_in_a_tight_loop(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    spawns = tmp_path / "spawns.log"
    drop(root, "a.json", spec([tiny], out))
    watch = launcher.driver(
        root,
        "die_at_boot",
        "--max-workers",
        "2",
        "--poll-seconds",
        "0.1",
        env={"FAKE_WORKER_LOG": str(spawns)},
    )
    # The job is handed to a worker that dies before it is ready: it fails, and says why
    # (before reading the JobSpec: the job-level error says it, and a short-lived lister
    # named its clip from the JobSpec, not started).
    wait_for(lambda: specs_in(root, "failed") == ["a.json"], "the job to fail", on_fail=watch.log)
    res = result(root, "failed", "a")
    assert res["status"] == "FAILED"
    assert [(c["status"], c["failure_detail"][:13]) for c in res["clips"]] == [
        ("SKIPPED", "not started: ")
    ], res["clips"]
    assert res["system_error"].startswith("worker_crashed: ")
    assert f"exited with code {fake_workers.BOOT_EXIT_CODE}" in res["system_error"]

    time.sleep(4.0)  # an observation window, not a timing assertion
    count = len(spawns.read_text().splitlines())
    # Exponential back-off from 0.5 s: a handful of attempts in 4 s, not hundreds —
    # and more than the initial two: it did keep trying.
    assert 3 <= count <= 12, count
    assert watch.alive(), watch.log()
    watch.send(signal.SIGTERM)
    assert watch.wait() == 0, watch.log()
    assert_session_empty(watch)
