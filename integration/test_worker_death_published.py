"""A worker killed right after it published a clip, before it reported it (issue 18, 7).

The fake worker is the real one, except that it kills itself with SIGKILL the
moment it would send the ClipFinished of its job's first clip: the proxy is at
its final name and its publication record written, the supervisor has heard
nothing of it. The runner must not call that clip crashed: a fresh worker
looks at what the job published (its records) and the clip is COMPLETED. A
stranger's file or a link at the name, the same death otherwise, is not this
job's proxy: `validation_error`, never COMPLETED.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from integration import fake_workers
from integration.watch_folder import drop, result, spec, specs_in
from integration.watch_helpers import Launcher, Watch, assert_session_empty
from proxx.contract.errors import ExitCode
from proxx.contract.results import JobResult

NAME = "job"


def _run(root: Path, out: Path, tiny: Path, launcher: Launcher, target: str) -> Watch:
    template = f"{fake_workers.TRIGGER}_{{index}}"
    drop(root, f"{NAME}.json", spec([tiny, tiny], out, output_name_template=template))
    spawns = root.parent / "spawns.log"
    watch = launcher.driver(root, target, "--once", env={"FAKE_WORKER_LOG": str(spawns)})
    assert watch.wait() == 0, watch.log()
    # The worker did die at that point (the second worker did the recovery look).
    assert spawns.read_text().count("misbehave") == 1, spawns.read_text()
    assert specs_in(root, "failed") == [f"{NAME}.json"], watch.log()
    assert_session_empty(watch)
    return watch


def _outputs(out: Path) -> tuple[Path, Path]:
    return out / f"{fake_workers.TRIGGER}_001.mov", out / f"{fake_workers.TRIGGER}_002.mov"


@pytest.mark.slow
def test_a_clip_published_before_the_worker_died_is_completed(
    root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    watch = _run(root, out, tiny, launcher, "die_after_publish")
    res = result(root, "failed", NAME)
    first, second = res["clips"]
    final, other = _outputs(out)

    assert first["status"] == "COMPLETED", (first, watch.log())
    assert first["output_sha256"] == hashlib.sha256(final.read_bytes()).hexdigest()
    assert first["output_size_bytes"] == final.stat().st_size
    assert first["engine"] == "ffmpeg" and first["started_at"]
    assert "published (verified) before the worker process" in first["failure_detail"]
    assert "SIGKILL" in first["failure_detail"]
    # The clip it never got to: the death, as before.
    assert second["status"] == "FAILED" and second["failure_reason"] == "worker_crashed"
    assert "SIGKILL" in second["failure_detail"]
    assert not other.exists()
    assert res["status"] == "PARTIAL"
    assert JobResult.model_validate(res).exit_code() is ExitCode.PARTIAL


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("die_after_publish_stranger_file", "a regular file"),
        ("die_after_publish_stranger_link", "a symbolic link"),
    ],
)
def test_a_strangers_file_at_the_name_after_the_death_is_not_completed(
    target: str, kind: str, root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    watch = _run(root, out, tiny, launcher, target)
    res = result(root, "failed", NAME)
    first, second = res["clips"]
    final, other = _outputs(out)

    assert first["status"] == "FAILED", (first, watch.log())
    assert first["failure_reason"] == "validation_error"
    assert "did not publish" in first["failure_detail"] and kind in first["failure_detail"]
    assert first["output_sha256"] is None
    assert second["status"] == "SKIPPED"
    assert res["status"] == "FAILED"
    assert JobResult.model_validate(res).exit_code() is ExitCode.EXECUTION
    # What sits at the name is left exactly as it was put there.
    if target.endswith("link"):
        assert final.is_symlink() and final.resolve() == root.parent / fake_workers.ASIDE
    else:
        assert final.read_bytes() == b"a stranger's file, not this job's proxy"
    assert not other.exists()
