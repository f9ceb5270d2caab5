"""`proxx watch --once` over a folder of quick jobs: every job exactly once, in sorted order."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from integration.processes import assert_no_ffmpeg
from integration.watch_folder import drop_named, listing, results, specs_in
from integration.watch_helpers import Launcher, assert_session_empty, claimed_order


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_twenty_quick_jobs_each_run_exactly_once_in_sorted_order(
    workers: int, root: Path, out: Path, tiny: Path, launcher: Launcher
) -> None:
    # Unpadded numbers: sorted filename order (job0, job1, job10, …, job19, job2, …)
    # differs from numeric order, and the files are dropped in a shuffled order.
    names = [f"job{i}" for i in range(20)]
    dropped = names[:]
    random.Random(3).shuffle(dropped)
    for name in dropped:
        drop_named(root, name, tiny, out)

    watch = launcher.cli(root, "--once", "--max-workers", str(workers), "--poll-seconds", "0.2")
    assert watch.wait() == 0, watch.log()

    state = listing(root)
    assert state["pending"] == [] and state["running"] == [], state
    assert specs_in(root, "failed") == [], watch.log()
    done = results(root, "completed")
    assert sorted(done) == sorted(names)  # no `-1` suffix: nothing was finished twice
    assert len(state["completed"]) == 2 * len(names)  # each JobSpec and its result, nothing else

    mode = "sequential" if workers == 1 else "parallel"
    for name, res in done.items():
        assert res["status"] == "COMPLETED"
        assert res["worker_id"] in range(workers)
        assert res["concurrency_mode"] == mode
        assert res["_metadata"]["final_jobspec_path"] == str(root / "completed" / f"{name}.json")
        assert [c["output_path"] for c in res["clips"]] == [str(out / f"{name}_tiny.mov")]
        assert res["clips"][0]["output_size_bytes"] == os.path.getsize(out / f"{name}_tiny.mov")

    # Each proxy exists exactly once under its final name; no temporaries are left.
    assert sorted(os.listdir(out)) == sorted(f"{n}_tiny.mov" for n in names)

    # Claimed in sorted filename order, each exactly once.
    assert claimed_order(watch.log()) == [f"{n}.json" for n in sorted(names)]
    if workers == 1:
        by_start = sorted(done, key=lambda n: done[n]["started_at"])
        assert by_start == sorted(names)
        assert len({r["worker_started_at"] for r in done.values()}) == 1  # one worker, no respawn
    else:
        # Both idle workers get a job on the first scan.
        assert {r["worker_id"] for r in done.values()} == {0, 1}

    assert_no_ffmpeg(str(out))
    assert_session_empty(watch)


def test_once_on_an_empty_folder_creates_the_layout_and_exits_0(
    tmp_path: Path, launcher: Launcher
) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    watch = launcher.cli(root, "--once")
    assert watch.wait() == 0, watch.log()
    assert listing(root) == {"pending": [], "running": [], "completed": [], "failed": []}
    assert_session_empty(watch)
