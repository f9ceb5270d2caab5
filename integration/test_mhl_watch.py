"""`proxx watch --mhl` (issue 23, item 2): the real CLI, real FFmpeg, real kill -9.

Each job filed with a COMPLETED clip gets one ASC MHL generation in its output
folder, listing its COMPLETED proxies only, checked by the `ascmhl` package's own
commands; a job killed -9 between filing and the generation gets it at the next
start; a failing action is logged and changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from integration.processes import wait_for
from integration.watch_folder import drop, result, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import ANY_ROOT, run_cli, spec_dict, truncated_copy
from tests.test_mhl_links import _mhl
from tests.test_report_mhl import XSD, ascmhl, hashed

LOCK = ".proxx-mhl.lock"


def _once(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxx", "watch", str(root), "--once", *ANY_ROOT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _ious(root: Path) -> list[str]:
    return [n for n in os.listdir(root / "running") if n.endswith(".mhl")]


def _generations(out: Path) -> list[Path]:
    return sorted((out / "ascmhl").glob("*.mhl")) if (out / "ascmhl").exists() else []


@contextlib.contextmanager
def _holding_lock(out: Path) -> Iterator[None]:
    """The folder's MHL lock, held by the test: an MHL process waits for it."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_two_jobs_into_one_folder_give_two_generations_that_verify(
    root: Path, out: Path, clip: Callable[..., Path], tmp_path: Path
) -> None:
    whole = clip("whole.mov", extra=["-movflags", "+faststart"])
    cut = truncated_copy(whole, tmp_path / "cut.mov")
    drop(root, "one.json", spec_dict([str(clip("a.mov"))], out))
    # PARTIAL: b.mov is published, cut.mov fails; only b's proxy is listed.
    drop(root, "two.json", spec_dict([str(clip("b.mov")), str(cut)], out))
    drop(root, "bad.json", {**spec_dict([str(clip("c.mov"))], out), "codec": "vp9"})

    proc = _once(root, "--mhl", "--max-workers", "2")

    assert proc.returncode == 0, proc.stderr
    assert specs_in(root, "completed") == ["one.json"]
    assert specs_in(root, "failed") == ["bad.json", "two.json"]
    assert result(root, "failed", "two")["status"] == "PARTIAL"
    gens = _generations(out)
    assert [g.name[:5] for g in gens] == ["0001_", "0002_"], proc.stderr
    assert sorted(sorted(hashed(g)) for g in gens) == [["a_proxy.mov"], ["b_proxy.mov"]]
    for g in gens:
        schema = ascmhl("xsd_schema_check", g, "--xsd_file", XSD / "ASCMHL.xsd")
        assert schema.returncode == 0, schema.stderr
    chain = out / "ascmhl" / "ascmhl_chain.xml"
    combined = XSD / "ASCMHLDirectory__combined.xsd"
    schema = ascmhl("xsd_schema_check", chain, "--directory_file", "--xsd_file", combined)
    assert schema.returncode == 0, schema.stderr
    # The failed clip's kept partial is not sealed (nor should it be): left out here.
    verified = ascmhl("verify", out, "-i", ".proxx.*.partial")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert proc.stderr.count(f"--mhl into {out} succeeded") == 2
    bad_id = result(root, "failed", "bad")["job_id"]  # nothing published: no action
    assert not [line for line in proc.stderr.splitlines() if f"job {bad_id}: --mhl" in line]
    assert _ious(root) == []

    proxy = out / "b_proxy.mov"
    data = bytearray(proxy.read_bytes())
    data[-100] ^= 0xFF
    proxy.write_bytes(bytes(data))
    tampered = ascmhl("verify", out, "-i", ".proxx.*.partial")
    assert tampered.returncode != 0
    assert "hash mismatch" in tampered.stdout + tampered.stderr
    assert "b_proxy.mov" in tampered.stdout + tampered.stderr


def test_a_runner_killed_before_the_generation_writes_it_at_restart(
    root: Path, out: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    drop(root, "good.json", spec_dict([str(clip("a.mov"))], out))
    with _holding_lock(out):
        watch = launcher.cli(root, "--poll-seconds", "0.2", "--mhl")
        wait_for(
            lambda: any("proxx_workers.mhl" in p.argv for p in watch.procs()),
            "the MHL process to wait for the folder's lock",
            on_fail=watch.log,
        )
        assert specs_in(root, "completed") == ["good.json"]
        assert _ious(root) != []  # owed until the action ends
        watch.send(signal.SIGKILL)
        watch.wait(timeout=30)
        assert_session_empty(watch)  # the report and its MHL process died with it
    assert _generations(out) == []

    proc = _once(root, "--mhl")

    assert proc.returncode == 0, proc.stderr
    job_id = result(root, "completed", "good")["job_id"]
    assert f"job {job_id}: running --mhl into {out} it was owed (runner died)" in proc.stderr
    (gen,) = _generations(out)
    assert list(hashed(gen)) == ["a_proxy.mov"]
    verified = ascmhl("verify", out)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert _ious(root) == []


def test_a_failing_mhl_is_logged_once_and_the_job_stays_completed(
    root: Path, out: Path, clip: Callable[..., Path], tmp_path: Path
) -> None:
    (out / "ascmhl").mkdir()  # a history without its chain file: ascmhl refuses it
    drop(root, "good.json", spec_dict([str(clip("a.mov"))], out))
    hook = tmp_path / "hook.sh"
    calls = tmp_path / "calls.txt"
    hook.write_text(f'#!/bin/bash\necho "$PROXX_JOB_ID" >> {calls}\n')
    hook.chmod(0o755)

    proc = _once(root, "--mhl", "--on-job-end", str(hook))

    assert proc.returncode == 0, proc.stderr
    res = result(root, "completed", "good")
    assert res["status"] == "COMPLETED"
    failed = [line for line in proc.stderr.splitlines() if "--mhl" in line]
    assert len(failed) == 1, proc.stderr
    assert f"job {res['job_id']}: --mhl into {out} failed (exit code 1)" in failed[0]
    assert "NoMHLChain" in failed[0]
    assert calls.read_text().split() == [res["job_id"]]  # the other action ran all the same
    assert _ious(root) == [] and not [n for n in os.listdir(root / "running") if "hook" in n]
    assert list((out / "ascmhl").iterdir()) == []


def test_a_runner_killed_after_the_generation_writes_no_second_one_at_restart(
    root: Path, out: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    """Killed -9 between the generation's publication and the IOU's removal: the
    restart replays the action (at least once), and the job's generation, which names
    the job, is found instead of a duplicate written."""
    drop(root, "good.json", spec_dict([str(clip("a.mov"))], out))
    # A slow loop: the IOU outlives the action by up to one poll, the window to kill in.
    watch = launcher.cli(root, "--poll-seconds", "4", "--mhl")
    wait_for(lambda: _generations(out) != [], "the generation", timeout=120, on_fail=watch.log)
    watch.send(signal.SIGKILL)
    watch.wait(timeout=30)
    assert _ious(root) != [], "killed too late: the IOU was already paid"
    (gen,) = _generations(out)
    before = gen.read_bytes()

    proc = _once(root, "--mhl")

    assert proc.returncode == 0, proc.stderr
    job_id = result(root, "completed", "good")["job_id"]
    assert f"job {job_id}: running --mhl into {out} it was owed (runner died)" in proc.stderr
    assert _generations(out) == [gen] and gen.read_bytes() == before
    assert "this job's, already in the history: none added" in proc.stderr
    verified = ascmhl("verify", out)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert _ious(root) == []


def test_status_lists_a_killed_appends_private_folder_until_the_next_append(
    root: Path, out: Path, clip: Callable[..., Path]
) -> None:
    drop(root, "good.json", spec_dict([str(clip("a.mov"))], out))
    assert _once(root, "--mhl").returncode == 0
    proxy = out / "a_proxy.mov"
    killed = _mhl(out, proxy, job_id="by-hand", wrap=("kill", str(out / "ascmhl")))
    assert killed.returncode == -9
    (left,) = [p for p in out.iterdir() if p.name.startswith(".proxx-mhl.") and p.is_dir()]

    shown = json.loads(run_cli("status", str(root), "--json").stdout)["partials"]
    assert [(p["path"], p["job_id"]) for p in shown] == [(str(left), None)]
    assert shown[0]["size_bytes"] > 0  # its copy of the history
    assert f"{left}: " in run_cli("status", str(root)).stdout
    with _holding_lock(out):  # an append under way: its folder is not a leftover
        assert json.loads(run_cli("status", str(root), "--json").stdout)["partials"] == []

    again = _mhl(out, proxy, job_id="by-hand")

    assert again.returncode == 0, again.stderr
    assert not left.exists()
    assert json.loads(run_cli("status", str(root), "--json").stdout)["partials"] == []
