"""Ctrl-C and SIGTERM during `proxx run`: exit 5, an `interrupted` result, no encoder left.

The CLI is started in its own session, like a shell job; Ctrl-C is SIGINT to
the whole process group (what a terminal sends), SIGTERM goes to the proxx pid
only (what a process manager sends). Signals are sent mid-render: once the
clip's temporary `.partial` file exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import PROXX, spec_in


def start(spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PROXX, "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(
    predicate: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(
                f"proxx exited ({proc.returncode}) before the moment to signal it: "
                f"{proc.communicate()[1]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the moment to signal proxx")
        time.sleep(0.01)


def partial_exists(out: Path, stem: str) -> Callable[[], bool]:
    """FFmpeg has begun writing `stem`'s partial, in the job's private folder."""
    return lambda: any(out.glob(f".proxx.*.partial/.{stem}*.partial"))


def _through_fd(pid: str, arg: str) -> str:
    fd, _, rest = arg.removeprefix("/dev/fd/").partition("/")
    if not arg.startswith("/dev/fd/"):
        return arg
    try:
        return os.path.join(os.readlink(f"/proc/{pid}/fd/{fd}"), rest)
    except OSError:
        return arg


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line mentions `text` (our tmp path is unique)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().decode("utf-8", "replace").split("\0")
            # FFmpeg writes into the job's private folder through /dev/fd/N/NAME: its path.
            cmd = " ".join(_through_fd(pid, a) for a in args)
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(f"{pid}: {cmd}")
    return found


def children_of(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            out += [int(c) for c in fh.read().split()]
    return out


def worker_ignores_ctrl_c(proc: subprocess.Popen[str]) -> Callable[[], bool]:
    """True once proxx's worker (started through proxx.runtime.child) has set SIGINT to ignored:
    from then on a Ctrl-C reaches only the supervisor's handler, which decides."""

    def check() -> bool:
        try:
            for server in children_of(proc.pid):
                for worker in children_of(server):
                    with open(f"/proc/{worker}/status") as fh:
                        fields = dict(line.split(":", 1) for line in fh if ":" in line)
                    if int(fields["SigIgn"], 16) & (1 << (signal.SIGINT - 1)):
                        return True
        except (OSError, KeyError, ValueError):
            return False
        return False

    return check


def finish(proc: subprocess.Popen[str], signalled_at: float) -> tuple[dict[str, Any], str]:
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - signalled_at
    assert elapsed < 15, f"proxx took {elapsed:.1f} s to stop"  # generous: shared CI boxes
    result: dict[str, Any] = json.loads(out)  # stdout is still only the result JSON
    return result, err


def make_spec(tmp_path: Path, sources: list[Path], **overrides: Any) -> tuple[Path, Path]:
    return spec_in(
        tmp_path,
        sources,
        codec="prores422hq",
        proxy_profile="proxy_prores422hq_1080",
        output_name_template="{index}_{source_name}",
        **overrides,
    )


def long_clip(clip: Callable[..., Path]) -> Path:
    # ~4 s of ProRes HQ encoding at 640×360 on 2 cores: surely mid-render when signalled.
    return clip("long_640x360_10s.mov", size="640x360", seconds=10.0)


@pytest.mark.parametrize("how", ["ctrl-c-to-group", "sigterm-to-pid"])
def test_signal_mid_render_stops_everything_and_exits_5(
    how: str, tmp_path: Path, clip: Callable[..., Path]
) -> None:
    spec, out = make_spec(tmp_path, [long_clip(clip), clip()])
    proc = start(spec)
    wait_for(partial_exists(out, "001_"), proc)
    assert processes_mentioning(str(out)), "FFmpeg should be rendering now"
    signalled_at = time.monotonic()
    if how == "ctrl-c-to-group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    result, err = finish(proc, signalled_at)

    assert proc.returncode == 5, err
    assert result["status"] == "FAILED"
    assert (result["successful_clips"], result["failed_clips"], result["skipped_clips"]) == (
        0,
        1,
        1,
    )
    first, second = result["clips"]
    assert first["failure_reason"] == "interrupted"
    assert ("SIGINT" if how == "ctrl-c-to-group" else "SIGTERM") in first["failure_detail"]
    assert "did not stop in time" not in first["failure_detail"]  # FFmpeg stopped, not killed
    assert not os.path.lexists(first["output_path"]) and first["output_size_bytes"] is None
    assert second["status"] == "SKIPPED" and not os.path.lexists(second["output_path"])
    leftovers = [n for n in os.listdir(out) if not n.startswith(".")]
    assert leftovers == []
    if first["partial_output_path"] is not None:  # kept for diagnosis: hidden and reported
        assert os.path.basename(first["partial_output_path"]).startswith(".")
    assert processes_mentioning(str(out)) == []  # no encoder survives
    assert "interrupted" in err


def test_interrupt_after_a_completed_clip_is_still_exit_5(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    spec, out = make_spec(tmp_path, [clip(), long_clip(clip)])
    proc = start(spec)
    wait_for(partial_exists(out, "002_"), proc)
    signalled_at = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    result, err = finish(proc, signalled_at)
    assert proc.returncode == 5, err  # interrupted wins over PARTIAL (3)
    assert result["status"] == "PARTIAL"
    done, stopped = result["clips"]
    assert done["status"] == "COMPLETED" and os.path.getsize(done["output_path"]) > 0
    assert stopped["failure_reason"] == "interrupted"
    assert not os.path.lexists(stopped["output_path"])
    assert processes_mentioning(str(out)) == []


def many_sources(tmp_path: Path, clip: Callable[..., Path], n: int) -> list[Path]:
    """Enough sources that probing them takes seconds: time to signal mid-validation."""
    media = tmp_path / "media"
    media.mkdir()
    for i in range(n):
        (media / f"c{i:02d}.mov").symlink_to(clip())
    return sorted(media.iterdir())


@pytest.mark.parametrize("how", ["ctrl-c-to-group", "sigterm-to-pid"])
def test_signal_during_validation_is_exit_5_and_blames_no_source(
    how: str, tmp_path: Path, clip: Callable[..., Path]
) -> None:
    spec, out = make_spec(tmp_path, many_sources(tmp_path, clip, 20))
    proc = start(spec)
    wait_for(worker_ignores_ctrl_c(proc), proc)  # still probing: the worker boots at once
    signalled_at = time.monotonic()
    if how == "ctrl-c-to-group":
        os.killpg(proc.pid, signal.SIGINT)  # also reaches any ffprobe in proxx's group
    else:
        os.kill(proc.pid, signal.SIGTERM)
    result, err = finish(proc, signalled_at)
    # A probe killed by the Ctrl-C must not read as "unsupported or damaged source".
    assert result["validation_error"] is None, result["validation_error"]
    assert [n for n in os.listdir(out) if not n.startswith(".")] == []
    # The stop lands while sources are probed (validation stops between probes) or,
    # on a fast machine, as clip 1 starts: either way the job says it was interrupted.
    assert proc.returncode == 5, (err, result["clips"][:1])
    assert result["status"] == "FAILED" and result["successful_clips"] == 0
    if result["interrupted"] is not None:
        assert "received" in result["interrupted"] and result["clips"] == []
    else:
        assert [c["failure_reason"] for c in result["clips"]][:1] == ["interrupted"]
        assert {c["status"] for c in result["clips"][1:]} == {"SKIPPED"}
    assert processes_mentioning(str(out)) == []


def test_ctrl_c_while_the_worker_pool_starts_still_prints_a_result(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    spec, out = make_spec(tmp_path, many_sources(tmp_path, clip, 5))
    proc = start(spec)

    def worker_started() -> bool:  # the worker process, started through proxx.runtime.child
        for child in children_of(proc.pid):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as fh:
                    if b"proxx.runtime.child" in fh.read():
                        return True
            except OSError:
                pass
        return False

    wait_for(worker_started, proc, timeout=30)
    signalled_at = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    out_text, err = proc.communicate(timeout=30)
    assert time.monotonic() - signalled_at < 10
    # A worker killed mid-start by the Ctrl-C once made proxx exit 1 with no JSON.
    result = json.loads(out_text)
    assert proc.returncode == 5, (err, result["clips"][:1])
    assert result["validation_error"] is None
    assert os.listdir(out) == []
