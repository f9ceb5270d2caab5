"""The Slurm step's fence (workers/fence.py): a step whose spool the supervisor revoked
stops, and publishes nothing the filed result does not account for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proxx.contract.protocol import ClipStarted, decode_for_supervisor
from proxx.slurm.spool import revoked_path, spool_path
from testkit import spec_dict
from workers.context import JobContext
from workers.fence import Fence, publish_fenced
from workers.publish import PublishError

DEADLINE_S = 120.0  # a test deadline, not a speed claim


@pytest.fixture
def context() -> Iterator[JobContext]:
    yield JobContext(None)


def test_the_fence_holds_while_the_spool_is_its_own_and_is_lost_once_renamed(
    tmp_path: Path,
) -> None:
    spool = tmp_path / ".job.json.spool"
    fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fence = Fence(fd, str(spool))
        assert fence.check() is None  # control: its own spool
        os.rename(spool, tmp_path / ".job.json.revoked")
        assert "revoked" in (fence.check() or "")
        spool.write_bytes(b"")  # a later step's spool under the same name
        assert fence.check() is not None  # lost for good
        assert "another step" in (Fence(fd, str(spool)).check() or "")
    finally:
        os.close(fd)


def test_a_fence_lost_during_the_rename_moves_the_proxy_back_to_its_partial_name(
    tmp_path: Path, context: JobContext
) -> None:
    partial, final = tmp_path / ".a.partial", tmp_path / "a.mov"
    partial.write_bytes(b"proxy")
    answers = iter([None, "fenced: revoked meanwhile"])
    context.fence = lambda: next(answers)
    with pytest.raises(PublishError) as err:
        publish_fenced(context, str(partial), str(final))
    assert "moved back to the partial name" in err.value.detail
    assert not final.exists() and partial.read_bytes() == b"proxy"


def test_a_fence_lost_before_the_rename_publishes_nothing_and_an_intact_one_publishes(
    tmp_path: Path, context: JobContext
) -> None:
    partial, final = tmp_path / ".a.partial", tmp_path / "a.mov"
    partial.write_bytes(b"proxy")
    context.fence = lambda: "fenced: gone"
    with pytest.raises(PublishError, match="stopped before publication: fenced"):
        publish_fenced(context, str(partial), str(final))
    assert not final.exists()
    context.fence, context.fenced, context.reason = (lambda: None), None, None
    assert publish_fenced(context, str(partial), str(final)) == 5  # control
    assert final.read_bytes() == b"proxy"


def _clip_started(spool: Path, index: int) -> bool:
    try:
        lines = spool.read_bytes().splitlines()
    except FileNotFoundError:
        return False
    msgs = [decode_for_supervisor(line) for line in lines]
    return any(isinstance(m, ClipStarted) and m.index == index for m in msgs)


def test_a_step_whose_spool_is_revoked_mid_job_stops_and_publishes_no_later_clip(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    src = clip("fence.mov", size="320x180", seconds=20.0)
    sources = []
    for name in ("a", "b", "c"):
        sources.append(tmp_path / f"{name}.mov")
        os.link(src, sources[-1])
    out, running = tmp_path / "out", tmp_path / "running"
    out.mkdir()
    running.mkdir()
    claim = running / "job.json"
    claim.write_text(json.dumps(spec_dict([str(s) for s in sources], out)))
    spool = Path(spool_path(str(claim)))
    argv = [sys.executable, "-P", "-m", "proxx_workers.slurm_step", "--spool", str(spool)]
    argv += ["--job-id", "abc", "--jobspec", str(claim), "--base-dir", str(tmp_path)]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/"
    )
    try:
        deadline_ok = _wait(lambda: _clip_started(spool, 1) or proc.poll() is not None)
        assert deadline_ok and proc.poll() is None, "clip 2 never started"
        os.rename(spool, revoked_path(str(claim)))  # what the supervisor does on NODE_FAIL
        at_revocation = _published(out)  # a, and b if it was quicker than us
        _, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err.decode()
    assert "fenced" in err.decode()
    assert "c_proxy.mov" not in at_revocation  # c starts only after b ended
    assert _published(out) == at_revocation  # nothing published after the revocation


def _published(out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out) if not n.startswith("."))


def _wait(cond: Callable[[], bool]) -> bool:
    import time

    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False
