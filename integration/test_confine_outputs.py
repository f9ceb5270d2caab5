"""Issue 18, findings 2 and 6: a user who can write the output folder cannot redirect a
render, have a link published as a proxy, or pass a file off as one a job published.

The intruder is a real second unprivileged user (made by the fixture, removed after):
the runner is root here, and only another uid shows what file modes keep out.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.watch_folder import drop, make_root, put, result, spec
from integration.watch_helpers import Launcher
from testkit import PROXX, spec_dict


@pytest.fixture
def intruder() -> Iterator[pwd.struct_passwd]:
    name = f"proxx-x{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the intruder can reach (pytest's own are root's alone), removed after."""
    base = Path(tempfile.mkdtemp(prefix="proxx-confine-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def as_user(user: pwd.struct_passwd, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), user=user.pw_uid, group=user.pw_gid, capture_output=True, text=True
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_link_planted_at_a_clips_temporary_name_redirects_nothing(
    shared: Path, tmp_path: Path, clip: Callable[..., Path], intruder: pwd.struct_passwd
) -> None:
    out = shared / "out"
    out.mkdir()
    out.chmod(0o777)  # shared with the intruder (no sticky bit: links in it are followed)
    vault = shared / "vault"  # a folder only the runner (root) may enter
    vault.mkdir(mode=0o700)
    slow = clip("race_640x360_3s.mov", size="640x360", seconds=3.0)
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            spec_dict(
                [str(slow), str(clip())],
                out,
                codec="prores422hq",
                proxy_profile="proxy_prores422hq_1080",
                output_name_template="{index}_{source_name}",
            )
        )
    )
    planted: dict[str, subprocess.CompletedProcess[str]] = {}

    def plant() -> None:
        # While clip 1 renders, the job id is in the private folder's name (and in
        # running/'s sidecar in a watch folder): the intruder aims at clip 2's old name.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # `.proxx.JOBID.partial/` (Proxx before issue 18: `.NAME.JOBID.partial`).
            private = [n for n in os.listdir(out) if n.endswith(".partial")]
            if private:
                job_id = private[0].removesuffix(".partial").rsplit(".", 1)[-1]
                name = f".002_clip.mov.{job_id}.partial"
                planted["link"] = as_user(
                    intruder, "ln", "-s", str(vault / "made"), str(out / name)
                )
                planted["inside"] = as_user(intruder, "touch", str(out / private[0] / "x"))
                return
            time.sleep(0.005)

    thread = threading.Thread(target=plant, daemon=True)
    thread.start()
    proc = subprocess.run(
        [*PROXX, "run", str(job)], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    thread.join()

    assert planted, "the intruder never saw the job rendering: the test proved nothing"
    assert planted["link"].returncode == 0, planted["link"].stderr  # it got its link in
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["status"] == "COMPLETED"
    assert os.listdir(vault) == []  # nothing created where the link pointed
    for c in res["clips"]:
        final = Path(c["output_path"])
        assert stat.S_ISREG(final.lstat().st_mode)  # a regular file, never a link
        assert sha256(final) == c["output_sha256"]
    assert planted["inside"].returncode != 0  # and nothing into the job's private folder
    assert "Permission denied" in planted["inside"].stderr
    # What is left: the two proxies and the intruder's own link, untouched.
    assert sorted(os.listdir(out)) == sorted(
        [".002_clip.mov." + res["job_id"] + ".partial", "001_race_640x360_3s.mov", "002_clip.mov"]
    )


def test_proxies_follow_the_runners_umask(tmp_path: Path, clip: Callable[..., Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(clip())], out)))
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        for name in os.listdir(out):
            (out / name).unlink()
        proc = subprocess.run(
            ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *PROXX, "run", str(job)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        (final,) = out.iterdir()
        assert stat.S_IMODE(final.stat().st_mode) == mode


@pytest.mark.parametrize("stranger", ["text file", "link to a real proxy"])
def test_recovery_does_not_count_a_strangers_file_at_the_output_name(
    tmp_path: Path, clip: Callable[..., Path], launcher: Launcher, stranger: str
) -> None:
    root = make_root(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # A dead runner's claim (no lock held) of a job that rendered nothing, and a file
    # someone else put at its first output name.
    put(root / "running", "dup.json", json.dumps(spec([str(clip())], out)).encode())
    final = out / "clip_proxy.mov"
    if stranger == "text file":
        final.write_bytes(b"not a proxy, only 33 bytes long!\n")
    else:
        real = tmp_path / "real.mov"
        real.write_bytes(clip().read_bytes())
        final.symlink_to(real)

    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()

    res = result(root, "failed", "dup")
    assert res["status"] == "FAILED"
    (c,) = res["clips"]
    assert (c["status"], c["failure_reason"]) == ("FAILED", "validation_error")
    assert "this job did not publish" in c["failure_detail"]
    kind = "a symbolic link" if stranger != "text file" else "a regular file of 33 bytes"
    assert kind in c["failure_detail"]
    assert os.path.lexists(final)  # left as it was


def test_a_completed_job_leaves_no_private_folder_or_record(
    tmp_path: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    # The control for the test above, where recovery counts a clip the job itself
    # published (its record names the file), is test_watch_recovery.py's kill -9 test:
    # its clip 1 is COMPLETED after recovery.
    root = make_root(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    drop(root, "ok.json", spec([str(clip())], out))
    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()
    assert result(root, "completed", "ok")["status"] == "COMPLETED"
    assert os.listdir(out) == ["clip_proxy.mov"]  # the record and the private folder went
