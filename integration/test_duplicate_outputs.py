"""Two jobs that would write the same output never both render (issue 19, point 8).

Both are claimed at once (two workers); the one whose plan comes second fails at
once with `validation_error`, naming the job that holds the name, while the
other renders and publishes. Before, both rendered in full and the loser failed
only at publication, keeping a full-size partial.
"""

from __future__ import annotations

import os
from pathlib import Path

from integration.watch_folder import drop, prores, results
from integration.watch_helpers import Launcher


def test_the_second_job_writing_the_same_output_fails_at_once(
    root: Path, out: Path, long_clip: Path, launcher: Launcher
) -> None:
    for name in ("a", "b"):
        drop(root, f"{name}.json", prores([long_clip], out, output_name_template="same"))
    watch = launcher.cli(root, "--max-workers", "2", "--poll-seconds", "0.2", "--once")

    assert watch.wait(timeout=300) == 0, watch.log()
    done = results(root, "completed")
    failed = results(root, "failed")
    assert len(done) == 1 and len(failed) == 1, (done, failed)
    (winner,) = done.values()
    (loser,) = failed.values()
    held = f"output {out / 'same.mov'} is already being rendered by job {winner['job_id']} ("
    if loser["clips"]:  # it had got as far as starting FFmpeg
        (clip,) = loser["clips"]
        assert clip["failure_reason"] == "validation_error", clip
        assert held in clip["failure_detail"]
        # Stopped at once: it never wrote the proxy, at most the start of a partial.
        size = (out / "same.mov").stat().st_size
        partial = clip.get("partial_output_path")
        assert not partial or not os.path.exists(partial) or os.path.getsize(partial) < size / 4
    else:  # stopped before anything ran
        assert loser["validation_error"].startswith(held), loser
        assert loser["interrupted"] is None
    assert [n for n in os.listdir(root / "running")] == []
