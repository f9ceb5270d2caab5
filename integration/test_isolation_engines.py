"""Isolation: a broken FFmpeg fails its jobs, never the runner; only workers run it.

FFmpeg stand-ins on PATH that hang on -version, print garbage for it, exit 0 without
writing, or cannot start at all: each is a clear result for its job and leaves no
process behind. And the supervisor itself never runs an engine.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

from integration.watch_folder import drop, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import run_cli, spec_dict


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
    # The shim notes its pid ($$ is kept by exec): the sleeper is then looked for by that
    # pid alone, never as "any `sleep 1000` on the machine" (another run of this suite on
    # a shared box has its own one alive for up to 10 s).
    pids = tmp_path / "sleepers"
    env = _shim(
        tmp_path / "bin",
        f'[ "$1" = -version ] && echo $$ >> {pids} && exec sleep 1000\nexec {REAL_FFMPEG} "$@"',
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
    started = [int(pid) for pid in pids.read_text().split()]
    assert started, "control: the hanging shim ran"
    assert _sleepers(started) == []


def _sleepers(pids: list[int]) -> list[int]:
    """Those of `pids` that are still a live `sleep 1000`."""
    found = []
    for pid in pids:
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
