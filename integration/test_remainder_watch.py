"""The operator's story: `proxx watch` stopped mid-job, then `proxx remainder` finishes it.

A 3-clip job with `{index}` names is interrupted while clip 2 renders: by
SIGTERM (systemd's stop), or by kill -9 and a restart that recovers it. The
remainder JobSpec goes into pending/, a new runner renders it, and in the end
the three proxies carry the original job's names, each probes as the
requested codec and size, and clip 1's proxy is the very file the first
runner published.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.processes import assert_no_ffmpeg, ffmpeg_procs, wait_for
from integration.watch_folder import drop, partials, prores, result, specs_in
from integration.watch_helpers import Launcher, Watch, assert_session_empty
from testkit import ffprobe_video, identity, remainder_planned, run_cli, visible

# Long enough that SIGTERM lands while clip 2 renders (seconds of work), short
# enough that the remainder renders it in full without slowing the suite much.
MID = {"size": "640x360", "seconds": 80.0}


@pytest.fixture
def at_clip_2(
    root: Path, out: Path, tiny: Path, clip: Callable[..., Path], launcher: Launcher
) -> Watch:
    """`proxx watch` of a three-clip job (tiny, MID, tiny): clip 1 published, clip 2 rendering."""
    sources = [tiny, clip("mid.mov", **MID), clip("tiny_b.mov")]
    drop(root, "day1.json", prores(sources, out, output_name_template="{index}_{source_name}"))
    watch = launcher.cli(root, "--poll-seconds", "0.2")
    wait_for(
        lambda: (
            (out / "001_tiny.mov").exists()
            and any(p.startswith(".002_mid.mov.") for p in partials(out))
        ),
        "clip 1 published and clip 2 rendering",
        on_fail=watch.log,
    )
    return watch


def _finish_with_remainder(
    root: Path, out: Path, launcher: Launcher, tmp_path: Path, interrupted: dict[str, Any]
) -> None:
    """From the interrupted job's result to the full set of proxies under the original names."""
    first, second, third = out / "001_tiny.mov", out / "002_mid.mov", out / "003_tiny_b.mov"
    assert [c["status"] for c in interrupted["clips"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    assert interrupted["clips"][1]["failure_reason"] == "interrupted"
    assert not second.exists() and not third.exists()
    published = identity(first)

    rest = tmp_path / "day1-rest.json"
    planned = remainder_planned(root / "failed" / "day1.result.json", rest)
    assert planned == [str(second), str(third)]
    new = json.loads(rest.read_text())
    assert (new["jobspec_version"], new["source_indices"], new["source_count"]) == (
        "1.1.0",
        [2, 3],
        3,
    )

    drop(root, "day1-rest.json", rest.read_bytes())
    again = launcher.cli(root, "--once", "--poll-seconds", "0.2")
    assert again.wait() == 0, again.log()
    assert specs_in(root, "completed") == ["day1-rest.json"]
    done = result(root, "completed", "day1-rest")
    assert done["status"] == "COMPLETED"
    assert [c["output_path"] for c in done["clips"]] == [str(second), str(third)]

    assert visible(out) == ["001_tiny.mov", "002_mid.mov", "003_tiny_b.mov"]
    for proxy, (w, h) in ((first, (32, 18)), (second, (320, 180)), (third, (32, 18))):
        video = ffprobe_video(proxy)
        assert (video["codec_name"], video["width"], video["height"]) == ("prores", w, h)
    assert identity(first) == published  # clip 1 was never rendered again or replaced
    assert ffmpeg_procs(str(out)) == []


@pytest.mark.slow
def test_sigterm_mid_job_then_remainder_gives_the_full_set_under_the_original_names(
    root: Path, out: Path, launcher: Launcher, tmp_path: Path, at_clip_2: Watch
) -> None:
    watch = at_clip_2
    watch.send(signal.SIGTERM)
    assert watch.wait(timeout=30) == 0, watch.log()
    assert_session_empty(watch)
    res = result(root, "failed", "day1")

    # The leftover partial of clip 2 is listed by `proxx status`, with its job.
    status = json.loads(run_cli("status", "--json", str(root)).stdout)
    left = [p for p in status["partials"] if Path(p["path"]).name.startswith(".002_mid.mov.")]
    assert len(left) == 1 and left[0]["job_id"] == res["job_id"] and left[0]["size_bytes"] > 0
    _finish_with_remainder(root, out, launcher, tmp_path, res)


@pytest.mark.slow
def test_kill_9_mid_job_recovery_then_remainder_gives_the_full_set(
    root: Path, out: Path, launcher: Launcher, tmp_path: Path, at_clip_2: Watch
) -> None:
    watch = at_clip_2
    os.kill(watch.pid, signal.SIGKILL)
    assert watch.wait() == -signal.SIGKILL
    assert_no_ffmpeg(str(out))  # the dead runner's worker stops its FFmpeg
    recover = launcher.cli(root, "--once")  # recovery moves the job to failed/
    assert recover.wait() == 0, recover.log()
    res = result(root, "failed", "day1")
    assert res["_recovery"] is not None
    _finish_with_remainder(root, out, launcher, tmp_path, res)
