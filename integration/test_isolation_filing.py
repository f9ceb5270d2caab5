"""Isolation: faults while filing a job, and faults of the watch root.

A kill -9 at every step of filing a job, a recovered job whose proxies were all
published, a full disk under the watch root and a watch root deleted under the
runner: every JobSpec ends beside its result, or the runner exits with a clear error,
and no process is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.watch_folder import drop, listing, put, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from proxx.contract.naming import partial_path, private_dir, record_path
from proxx.watch.folder import result_beside
from testkit import held_ffmpeg
from workers.private import Record, write_record

# 252 bytes, multibyte: its staged result and sidecar names are shortened with a hash.
LONG_NAME = "é" * 120 + "L" * 7 + ".json"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a.json", LONG_NAME], ids=["short", "252-byte"])
@pytest.mark.parametrize("step", ["staged", "linked", "moved"])
def test_a_kill_9_at_any_step_of_filing_leaves_the_pair_together(
    root: Path, out: Path, tiny: Path, launcher: Launcher, step: str, name: str
) -> None:
    put(root / "pending", name, json.dumps(spec([tiny], out)).encode())
    dying = launcher.driver(root, "proxx_workers.main:worker_main", "--die-after-step", step)
    assert dying.wait() == -signal.SIGKILL, dying.log()
    assert specs_in(root, "completed") + specs_in(root, "running") in ([name], [])
    [claimed_id] = re.findall(r"job (\w+) \(.*\): claimed", dying.log())

    again = launcher.cli(root, "--once", "--poll-seconds", "0.1")
    assert again.wait() == 0, again.log()
    final_result = result_beside(str(root / "completed" / name))
    assert listing(root)["completed"] == sorted([name, os.path.basename(final_result)]), listing(
        root
    )
    assert listing(root)["running"] == [] and listing(root)["failed"] == []
    # Nothing hidden either: before, a kill after the moves left the owner sidecar for good.
    assert os.listdir(root / "running") == []
    res = json.loads(Path(final_result).read_text())
    assert res["status"] == "COMPLETED" and (out / "tiny_proxy.mov").is_file()
    assert res["job_id"] == claimed_id  # the result written before the kill, not a new one
    assert res["_metadata"]["final_jobspec_path"] == str(root / "completed" / name)
    assert_session_empty(again)


@pytest.mark.slow
def test_a_recovered_job_whose_every_clip_was_published_is_filed_completed(
    root: Path, out: Path, tiny: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    # The runner died after publishing both proxies but before filing the job: its
    # sidecar names the job, whose private folder holds a record of each publication.
    sources = [tiny, clip("tiny_b.mov")]
    put(root / "running", "a.json", json.dumps(spec(sources, out)).encode())
    put(root / "running", ".a.json.owner", json.dumps({"job_id": "0123456789ab"}).encode())
    private = Path(private_dir(str(out), "0123456789ab"))
    private.mkdir(mode=0o700)
    fd = os.open(private, os.O_RDONLY | os.O_DIRECTORY)
    for source in sources:
        final = out / f"{source.stem}_proxy.mov"
        final.write_bytes(b"published before the crash")
        st = final.stat()
        partial = partial_path(str(final), "0123456789ab")
        record = Record(str(final), None, st.st_size, st.st_dev, st.st_ino)
        write_record(fd, os.path.basename(record_path(partial)), record)
    os.close(fd)
    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()
    assert listing(root)["completed"] == ["a.json", "a.result.json"], listing(root)
    res = result(root, "completed", "a")
    assert res["status"] == "COMPLETED" and res["_recovery"]["reason"] == "runner interrupted"
    assert [c["status"] for c in res["clips"]] == ["COMPLETED", "COMPLETED"]
    # Without the records the same files are strangers' (test_confine_outputs.py).


@pytest.mark.slow
def test_a_deleted_watch_root_is_a_clear_fatal_error(root: Path, launcher: Launcher) -> None:
    watch = launcher.cli(root, "--poll-seconds", "0.1")
    wait_for(lambda: "watching" in watch.log(), "the runner to start", on_fail=watch.log)
    for state in ("pending", "running", "completed", "failed"):
        (root / state).rmdir()
    root.rmdir()
    assert watch.wait(timeout=30) == 1, watch.log()
    assert "has disappeared" in watch.log() and "Traceback" not in watch.log()
    assert_session_empty(watch)


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}): needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.slow
def test_disk_full_on_the_watch_root_keeps_the_job_claimed_until_space_returns(
    tmp_path: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    mount = tmp_path / "small"
    with _tmpfs(mount, "512k"):
        root = mount / "watch"
        for state in ("pending", "running", "completed", "failed"):
            (root / state).mkdir(parents=True)
        watch = launcher.cli(root, "--poll-seconds", "0.1")
        wait_for(lambda: "watching" in watch.log(), "the runner to start", on_fail=watch.log)
        drop(root, "a.json", spec([tiny], out))
        filler = mount / "filler"
        with open(filler, "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        wait_for(
            lambda: "cannot write its result" in watch.log(), "the full disk", on_fail=watch.log
        )
        assert specs_in(root, "running") == ["a.json"] and watch.alive()
        filler.unlink()
        wait_for(
            lambda: specs_in(root, "completed") == ["a.json"],
            "the job to be filed",
            on_fail=watch.log,
        )
        assert result(root, "completed", "a")["status"] == "COMPLETED"
        assert watch.log().count("cannot write its result") == 1
        watch.send(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0, watch.log()
        assert_session_empty(watch)


@pytest.mark.slow
def test_a_watch_root_remounted_read_only_mid_job_stalls_calmly(
    tmp_path: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    # Before: EROFS was no stall; the failed filing released the claim, and the runner
    # re-recovered its own job hundreds of times a second until the root was writable.
    mount = tmp_path / "ro"
    with _tmpfs(mount, "4m"):
        root = mount / "watch"
        for state in ("pending", "running", "completed", "failed"):
            (root / state).mkdir(parents=True)
        watch = launcher.cli(root, "--poll-seconds", "0.1", env=held_ffmpeg(tmp_path))
        wait_for(lambda: "watching" in watch.log(), "the runner to start", on_fail=watch.log)
        drop(root, "a.json", spec([tiny], out))
        wait_for((tmp_path / "rendering").exists, "the render to start", on_fail=watch.log)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        (tmp_path / "go").touch()
        wait_for(lambda: "cannot write its result" in watch.log(), "the stall", on_fail=watch.log)
        assert specs_in(root, "running") == ["a.json"] and watch.alive()
        [claimed_id] = re.findall(r"job (\w+) \(a.json\): claimed", watch.log())
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        wait_for(
            lambda: specs_in(root, "completed") == ["a.json"],
            "the job to be filed",
            on_fail=watch.log,
        )
        res = result(root, "completed", "a")
        assert res["status"] == "COMPLETED" and res["job_id"] == claimed_id
        assert "Read-only file system" in watch.log()
        assert watch.log().count("cannot write its result") == 1
        assert "recovered" not in watch.log() and "Traceback" not in watch.log()
        watch.send(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0, watch.log()
        assert_session_empty(watch)
