"""`proxx cancel FOLDER NAME` on a folder with two live runners (issue 19, point 5).

Both runners busy with one job each; a third job waits in pending/. Cancelling
the pending one files it at once and it never starts; cancelling the running
ones (one by job id, one by name) stops each on the runner that holds it,
leaves no FFmpeg and no partial render, files the pair in failed/ with the clip
`cancelled`; `proxx cancel` waits for that and says where it was filed; the
runners carry on. A runner that cannot act in time (stopped with SIGSTOP) makes
`proxx cancel` give up after --wait-seconds, saying so (exit 4); a job that ends
on its own before its runner sees the request is told apart (exit 3).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integration.processes import wait_for
from integration.watch_folder import drop, partial_paths, partials, prores, result, specs_in
from integration.watch_helpers import Launcher, Watch
from testkit import finish_cli, run_cli, start_cli


def _running(root: Path) -> dict[str, dict[str, Any]]:
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    return {job["jobspec"]: job for job in status["running"] if job["job_id"]}


def _private_folders(out: Path) -> list[str]:
    return [n for n in os.listdir(out) if n.startswith(".proxx.")]


def _encoders(*watches: Watch) -> list[str]:
    return [" ".join(p.argv) for w in watches for p in w.procs() if "ffmpeg" in " ".join(p.argv)]


def _freeze_encoders(*watches: Watch) -> None:
    """SIGSTOP each watch's FFmpeg: its render cannot end before the cancel reaches it,
    however loaded the machine (a 180 s clip renders in ~8 s, as long as a few CLI
    calls take under load). The worker's stop still ends it: TERM, then KILL after
    the grace."""

    def pids() -> list[int]:
        return [
            p.pid
            for w in watches
            for p in w.procs()
            if p.argv and os.path.basename(p.argv[0]) == "ffmpeg"
        ]

    wait_for(lambda: len(pids()) == len(watches), "each runner's FFmpeg running")
    for pid in pids():
        os.kill(pid, signal.SIGSTOP)


def test_cancel_a_pending_and_two_running_jobs_on_a_two_runner_folder(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    runners = [launcher.cli(root, "--poll-seconds", "0.2") for _ in range(2)]
    # Both up before the jobs come, so the two renders start together: a runner that
    # started seconds before the other could finish its job, and take c, meanwhile.
    wait_for(lambda: all("watching" in r.log() for r in runners), "both runners up")
    for name in ("a", "b"):
        drop(root, f"{name}.json", prores([long_clip], out, output_name_template=f"{name}_x"))
    wait_for(lambda: len(partials(out)) == 2, "both jobs rendering", on_fail=runners[0].log)
    _freeze_encoders(*runners)  # both runners stay busy: c stays pending
    drop(root, "c.json", prores([long_clip], out, output_name_template="c_x"))
    running = _running(root)
    assert set(running) == {"a.json", "b.json"}

    pending = run_cli("cancel", str(root), "c.json")
    by_id = run_cli("cancel", str(root), running["a.json"]["job_id"])
    by_name = run_cli("cancel", str(root), "b.json")

    assert pending.returncode == 0 and "before it started" in pending.stderr, pending.stderr
    assert by_id.returncode == 0 and by_name.returncode == 0, by_id.stderr + by_name.stderr
    for said, name in ((by_id, "a"), (by_name, "b")):  # it waited for the pair to be filed
        assert f"cancelled job {running[f'{name}.json']['job_id']} ({name}.json)" in said.stderr
        assert f"FAILED, filed as {root / 'failed' / name}.result.json" in said.stderr
    assert len(specs_in(root, "failed")) == 3
    c = result(root, "failed", "c")
    assert c["interrupted"] == "cancelled by proxx cancel before it started"
    # Nothing ran; its clip is listed (by a short-lived worker) as not started.
    assert [cl["status"] for cl in c["clips"]] == ["SKIPPED"], c["clips"]
    assert c["clips"][0]["failure_detail"].startswith("not started: "), c["clips"]
    assert not (out / "c_x.mov").exists()
    for name in ("a", "b"):
        (clip,) = result(root, "failed", name)["clips"]
        assert (clip["status"], clip["failure_reason"]) == ("FAILED", "cancelled"), clip
        assert not (out / f"{name}_x.mov").exists()
        # Its partial render is gone, and the result names none.
        assert clip["partial_output_path"] is None, clip
        assert "partial render was removed" in clip["failure_detail"], clip
    assert partial_paths(out) == [] and _private_folders(out) == []
    assert specs_in(root, "running") == [] and specs_in(root, "pending") == []
    wait_for(lambda: not _encoders(*runners), "no FFmpeg left")
    assert all(r.alive() for r in runners)  # one job stopped, not the runner
    missing = run_cli("cancel", str(root), "nope.json")
    assert missing.returncode == 1 and "no pending or running job named 'nope.json'" in (
        missing.stderr
    )


def test_cancel_gives_up_after_wait_seconds_when_the_runner_does_not_act(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a.json", prores([long_clip], out, output_name_template="a_x"))
    runner = launcher.cli(root, "--poll-seconds", "0.2")
    wait_for(lambda: partials(out), "job a rendering", on_fail=runner.log)
    job_id = _running(root)["a.json"]["job_id"]
    _freeze_encoders(runner)  # the render cannot end on its own meanwhile
    os.kill(runner.pid, signal.SIGSTOP)  # the runner cannot act
    try:
        late = run_cli("cancel", str(root), "a.json", "--wait-seconds", "1")
    finally:
        os.kill(runner.pid, signal.SIGCONT)

    assert late.returncode == 4, late.stderr
    request = root / "running" / f".a.json.{job_id}.cancel"
    assert (
        f"runner pid {runner.pid} on {os.uname().nodename} was asked to cancel job {job_id} "
        f"(a.json) and has not filed it within 1 s; the request stays in force ({request})"
    ) in late.stderr
    # The request stands: once it can, the runner cancels the job.
    wait_for(lambda: specs_in(root, "failed") == ["a.json"], "job a filed", on_fail=runner.log)
    (clip,) = result(root, "failed", "a")["clips"]
    assert clip["failure_reason"] == "cancelled"
    assert partial_paths(out) == [] and _private_folders(out) == [], (clip, runner.log())
    wait_for(lambda: not request.exists(), "the request removed once the job is filed")


def test_cancel_of_a_job_that_completes_first_says_so(
    root: Path, out: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    source = clip("mid.mov", size="640x360", seconds=120.0)  # a few seconds' render
    drop(root, "a.json", prores([source], out, output_name_template="a_x"))
    runner = launcher.cli(root, "--poll-seconds", "0.2")
    seen: dict[str, dict[str, Any]] = {}

    def rendering() -> bool:  # one look gives both the job id and that it still renders
        seen.update(_running(root) if partials(out) else {})
        return "a.json" in seen

    wait_for(rendering, "job a rendering", on_fail=runner.log)
    os.kill(runner.pid, signal.SIGSTOP)  # the worker finishes; the runner is not looking
    job_id = seen["a.json"]["job_id"]
    try:
        # Its job done: the proxy published and the private folder tidied away, which the
        # worker does just before it reports the job's end (a cancel read before that report
        # would still stop the job between its last clip and its end).
        wait_for(
            lambda: (
                (out / "a_x.mov").exists()
                and not any(n.startswith(".proxx.") for n in os.listdir(out))
            ),
            "a's proxy published and its private folder gone",
        )
        time.sleep(0.5)  # the report on its way into the pipe (not a timing assertion)
        waiting = start_cli("cancel", str(root), job_id, "--wait-seconds", "60")
        wait_for(lambda: any(n.endswith(".cancel") for n in os.listdir(root / "running")), "asked")
    finally:
        os.kill(runner.pid, signal.SIGCONT)
    done = finish_cli(waiting)

    assert done.returncode == 3, done.stderr
    assert (
        f"job {job_id} (a.json) ended before the cancel took: COMPLETED, filed as "
        f"{root / 'completed' / 'a.result.json'}"
    ) in done.stderr
    assert result(root, "completed", "a")["status"] == "COMPLETED"
