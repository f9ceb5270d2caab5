"""The supervisor moves names; workers handle content (issue: isolation, all the way).

Hostile JobSpecs and media, hung engines, faults of the watch root and a
kill -9 at every step of filing a job: each ends with every JobSpec in
completed/ or failed/ with a result beside it, the good jobs completed, the
runner alive (or exited cleanly where stated), and no process left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.watch_helpers import (
    Launcher,
    assert_gone,
    assert_session_empty,
    drop,
    ffmpeg_procs,
    listing,
    result,
    session_procs,
    spec,
    specs_in,
    wait_for,
)
from proxx.watch.folder import result_beside
from testkit import run_cli, spec_dict

DEEP = 1000  # json.loads gives up (RecursionError) long before this in one process


def _deep_object() -> bytes:
    return ('{"a":' * DEEP + "1" + "}" * DEEP).encode()


def _hostile(out: Path, tiny: Path) -> dict[str, bytes]:
    meta = json.dumps(spec([tiny], out)).encode()[:-1]
    deep_meta = meta + b', "user_metadata": {"x": ' + b"[" * DEEP + b"]" * DEEP + b"}}"
    utf16 = json.dumps(spec([tiny], out, output_name_template="u16_{source_name}"))
    return {
        "nested_object.json": _deep_object(),
        "nested_array.json": ("[" * DEEP + "]" * DEEP).encode(),
        "nested_metadata.json": deep_meta,
        "nul_bytes.json": b'{"jobspec_version": "1.0.0\x00", "sources": ["\x00"]}',
        "utf16.json": utf16.encode("utf-16"),
        ("L" * 235) + ".json": json.dumps(spec([tiny], out, output_name_template="l235")).encode(),
        ("M" * 250) + ".json": json.dumps(spec([tiny], out, output_name_template="m250")).encode(),
    }


def _put(directory: Path, name: str, data: bytes) -> None:
    tmp = directory / f".{uuid.uuid4().hex}.tmp"  # a short temp name: NAME may be 250 bytes
    tmp.write_bytes(data)
    os.rename(tmp, directory / name)


def _every_spec_has_its_result(root: Path, names: list[str]) -> None:
    for name in names:
        state = "completed" if (root / "completed" / name).exists() else "failed"
        assert (root / state / name).exists(), (name, listing(root))
        res = json.loads(Path(result_beside(str(root / state / name))).read_text())
        assert res["_metadata"]["final_jobspec_path"] == str(root / state / name)


def test_control_a_deep_jobspec_crashes_an_in_process_parser() -> None:
    """The hostile input below is real: parsed in the supervisor it would raise."""
    with pytest.raises(RecursionError):
        json.loads(_deep_object())


@pytest.mark.slow
@pytest.mark.parametrize("where", ["pending", "running"])
def test_hostile_jobspecs_fail_alone_and_the_good_job_completes(
    root: Path, out: Path, tiny: Path, launcher: Launcher, where: str
) -> None:
    hostile = _hostile(out, tiny)
    for name, data in hostile.items():
        # In running/ with no lock held: left there by a dead runner.
        _put(root / where, name, data)
    drop(root, "good.json", spec([tiny], out, output_name_template="good"))

    watch = launcher.cli(root, "--once", "--max-workers", "2", "--poll-seconds", "0.1")
    assert watch.wait() == 0, watch.log()

    assert specs_in(root, "completed")[:1] == ["good.json"] or "good.json" in specs_in(
        root, "completed"
    ), listing(root)
    assert (out / "good.mov").is_file()
    _every_spec_has_its_result(root, [*hostile, "good.json"])
    assert specs_in(root, "running") == [] and specs_in(root, "pending") == []
    assert "Traceback" not in watch.log()
    if where == "pending":
        for name in ("nested_object", "nested_array", "nested_metadata"):
            res = result(root, "failed", name)
            assert "nested too deeply" in res["validation_error"], res
        assert "not UTF-8" in result(root, "failed", "utf16")["validation_error"]
        # Long names: the valid ones render like any other job.
        assert (out / "l235.mov").is_file() and (out / "m250.mov").is_file()
    else:
        for name in hostile:
            state = "completed" if (root / "completed" / name).exists() else "failed"
            res = json.loads(Path(result_beside(str(root / state / name))).read_text())
            assert res["_recovery"]["reason"] == "runner interrupted"
    assert_session_empty(watch)


@pytest.mark.slow
def test_a_source_whose_probe_blocks_costs_only_its_job(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    fifo = tmp_path / "nobody_writes"
    os.mkfifo(fifo)
    concat = tmp_path / "hang.ffconcat"
    concat.write_text(f"ffconcat version 1.0\nfile {fifo.name}\n")
    drop(root, "a_hang.json", spec([concat], out, output_name_template="hang"))
    drop(root, "b_good.json", spec([tiny], out, output_name_template="good"))

    watch = launcher.cli(root, "--max-workers", "2", "--poll-seconds", "0.1")
    wait_for(
        lambda: specs_in(root, "completed") == ["b_good.json"], "the good job", on_fail=watch.log
    )
    assert specs_in(root, "running") == ["a_hang.json"]
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    res = result(root, "failed", "a_hang")
    assert res["status"] == "FAILED" and res["interrupted"], res
    assert specs_in(root, "running") == []
    assert_session_empty(watch)


def _shim(bin_dir: Path, body: str) -> dict[str, str]:
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "ffmpeg"
    shim.write_text(f"#!/bin/bash\n{body}\n")
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


REAL_FFMPEG = "/usr/bin/ffmpeg"


@pytest.mark.slow
def test_an_ffmpeg_that_hangs_on_version_fails_the_job_and_leaves_nothing(
    tmp_path: Path, tiny: Path, out: Path
) -> None:
    env = _shim(
        tmp_path / "bin", f'[ "$1" = -version ] && exec sleep 1000\nexec {REAL_FFMPEG} "$@"'
    )
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out)))
    proc = run_cli("run", str(job), env=env, timeout=120)
    assert proc.returncode == 4, proc.stderr
    res = json.loads(proc.stdout)
    [clip] = res["clips"]
    assert clip["failure_reason"] == "engine_unavailable"
    assert "-version` did not finish: timed out" in clip["failure_detail"]
    assert os.listdir(out) == []
    assert _sleepers() == []


def _sleepers() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if argv[:2] == [b"sleep", b"1000"]:
                found.append(pid)
    return found


@pytest.mark.slow
def test_an_ffmpeg_printing_garbage_for_its_version_still_renders(
    tmp_path: Path, tiny: Path, out: Path
) -> None:
    env = _shim(
        tmp_path / "bin",
        f"[ \"$1\" = -version ] && printf 'ffmpeg version \\xff\\xfe\\x80 x\\n' && exit 0\n"
        f'exec {REAL_FFMPEG} "$@"',
    )
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out)))
    proc = run_cli("run", str(job), env=env)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["status"] == "COMPLETED"
    assert "\ufffd" in res["_metadata"]["engine_versions"]["ffmpeg"]
    assert "not UTF-8" in proc.stderr


@pytest.mark.slow
def test_an_ffmpeg_that_exits_0_without_writing_is_output_missing(
    tmp_path: Path, tiny: Path, out: Path
) -> None:
    env = _shim(tmp_path / "bin", f'[ "$1" = -version ] && exec {REAL_FFMPEG} -version\nexit 0')
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out)))
    proc = run_cli("run", str(job), env=env)
    assert proc.returncode == 2, proc.stderr
    [clip] = json.loads(proc.stdout)["clips"]
    assert clip["failure_reason"] == "output_missing"
    assert "not created" in clip["failure_detail"]


@pytest.mark.slow
def test_a_proxx_folder_in_the_working_directory_shadows_nothing(
    tmp_path: Path, tiny: Path, out: Path
) -> None:
    # `cd /srv && proxx watch proxx`: the watch folder is named like the package.
    cwd = tmp_path / "srv"
    root = cwd / "proxx"
    for state in ("pending", "running", "completed", "failed"):
        (root / state).mkdir(parents=True)
    (cwd / "workers").mkdir()
    (cwd / "workers" / "__init__.py").write_text("raise SystemExit('shadowed workers')\n")
    drop(root, "a.json", spec([tiny], out))
    console = Path(sys.executable).parent / "proxx"  # the installed entry point
    proc = subprocess.run(
        [str(console), "watch", "proxx", "--once"],
        cwd=cwd,
        timeout=120,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert specs_in(root, "completed") == ["a.json"], (listing(root), proc.stderr)


# 252 bytes, multibyte: its staged result and sidecar names are shortened with a hash.
LONG_NAME = "é" * 120 + "L" * 7 + ".json"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a.json", LONG_NAME], ids=["short", "252-byte"])
@pytest.mark.parametrize("step", ["staged", "linked", "moved"])
def test_a_kill_9_at_any_step_of_filing_leaves_the_pair_together(
    root: Path, out: Path, tiny: Path, launcher: Launcher, step: str, name: str
) -> None:
    _put(root / "pending", name, json.dumps(spec([tiny], out)).encode())
    dying = launcher.driver(root, "workers.main:worker_main", "--die-after-step", step)
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
    res = json.loads(Path(final_result).read_text())
    assert res["status"] == "COMPLETED" and (out / "tiny_proxy.mov").is_file()
    assert res["job_id"] == claimed_id  # the result written before the kill, not a new one
    assert res["_metadata"]["final_jobspec_path"] == str(root / "completed" / name)
    assert_session_empty(again)


@pytest.mark.slow
def test_sighup_is_a_graceful_stop(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    drop(root, "a.json", spec([long_clip], out, output_name_template="long"))
    watch = launcher.cli(root, "--poll-seconds", "0.1")
    wait_for(
        lambda: any(n.endswith(".partial") for n in os.listdir(out)),
        "the render",
        on_fail=watch.log,
    )
    watch.send(signal.SIGHUP)
    assert watch.wait(timeout=30) == 0, watch.log()
    res = result(root, "failed", "a")
    assert "SIGHUP" in res["clips"][0]["failure_detail"]
    assert specs_in(root, "running") == []
    assert_session_empty(watch)


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
def test_the_supervisor_itself_never_runs_an_engine(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    env = _shim(tmp_path / "bin", f'echo "$PPID $*" >> {calls}\nexec {REAL_FFMPEG} "$@"')
    for name in ("ffprobe",):
        shim = tmp_path / "bin" / name
        shim.write_text(
            f'#!/bin/bash\necho "$PPID {name} $*" >> {calls}\nexec /usr/bin/{name} "$@"\n'
        )
        shim.chmod(0o755)
    drop(root, "a.json", spec([tiny], out))
    watch = launcher.cli(root, "--once", env=env)
    assert watch.wait() == 0, watch.log()
    assert specs_in(root, "completed") == ["a.json"]
    lines = calls.read_text().splitlines()
    assert lines, "control: the shims were used"
    parents = {int(line.split()[0]) for line in lines}
    assert watch.pid not in parents, lines


@pytest.mark.slow
def test_sigkill_of_proxx_run_leaves_no_process(tmp_path: Path, long_clip: Path, out: Path) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(long_clip)], out)))
    cli = subprocess.Popen(
        [sys.executable, "-m", "proxx", "run", str(job)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        encoder = wait_for(lambda: ffmpeg_procs(str(out)), "the FFmpeg rendering")
        left = [p.pid for p in session_procs(cli.pid) if p.pid != cli.pid]
        assert encoder[0].pid in left and len(left) >= 2  # the worker and its FFmpeg
        cli.kill()
        cli.wait()
        assert_gone(left, "every process `proxx run` started")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cli.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_recovered_job_whose_every_clip_was_published_is_filed_completed(
    root: Path, out: Path, tiny: Path, clip: Callable[..., Path], launcher: Launcher
) -> None:
    # The runner died after publishing both proxies but before filing the job.
    sources = [tiny, clip("tiny_b.mov")]
    _put(root / "running", "a.json", json.dumps(spec(sources, out)).encode())
    for source in sources:
        (out / f"{source.stem}_proxy.mov").write_bytes(b"published before the crash")
    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()
    assert listing(root)["completed"] == ["a.json", "a.result.json"], listing(root)
    res = result(root, "completed", "a")
    assert res["status"] == "COMPLETED" and res["_recovery"]["reason"] == "runner interrupted"
    assert [c["status"] for c in res["clips"]] == ["COMPLETED", "COMPLETED"]


@pytest.mark.parametrize("valid", [True, False], ids=["completed", "invalid"])
def test_proxx_run_returns_only_when_every_process_it_started_has_ended(
    tmp_path: Path, tiny: Path, out: Path, valid: bool
) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(spec_dict([str(tiny)], out) if valid else {"sources": []}))
    cli = subprocess.Popen(
        [sys.executable, "-m", "proxx", "run", str(job)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert cli.wait(timeout=120) == (0 if valid else 1)
    # Looked at the moment it returned: no worker, no FFmpeg, no `ffmpeg -version`.
    assert [p for p in session_procs(cli.pid) if p.state != "Z"] == []


@pytest.mark.slow
def test_an_ffmpeg_that_cannot_start_fails_each_job_as_engine_unavailable(
    root: Path, out: Path, tiny: Path, launcher: Launcher, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ffmpeg").write_text("#!/nonexistent/interpreter\n")  # exec fails: ENOENT
    (bin_dir / "ffmpeg").chmod(0o755)
    for i in range(3):
        drop(root, f"j{i}.json", spec([tiny], out, output_name_template=f"j{i}"))
    watch = launcher.cli(
        root, "--once", "--max-workers", "2", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    )
    assert watch.wait() == 0, watch.log()
    for i in range(3):
        [clip] = result(root, "failed", f"j{i}")["clips"]
        assert clip["failure_reason"] == "engine_unavailable", clip
        assert "cannot start" in clip["failure_detail"]
    # The workers themselves stay up: no crash, no respawn.
    assert "is dying" not in watch.log() and "died" not in watch.log()
    assert_session_empty(watch)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["pending", "running"])
def test_a_file_name_that_is_not_utf8_is_filed_with_a_result(
    root: Path, out: Path, tiny: Path, launcher: Launcher, where: str
) -> None:
    latin1 = os.fsdecode(b"caf\xe9.json")  # a Latin-1 name from an old SMB share
    _put(root / where, latin1, json.dumps(spec([tiny], out, output_name_template="cafe")).encode())
    drop(root, "good.json", spec([tiny], out, output_name_template="good"))
    watch = launcher.cli(root, "--once", "--poll-seconds", "0.1")
    assert watch.wait() == 0, watch.log()
    assert "good.json" in specs_in(root, "completed")
    shown = "caf\ufffd"
    assert (root / "failed" / f"{shown}.json").is_file(), listing(root)
    res = result(root, "failed", shown)
    assert res["status"] == "FAILED"
    assert "not UTF-8" in (res["validation_error"] or res["system_error"] or "")
    assert listing(root)["running"] == [] and "Traceback" not in watch.log()
