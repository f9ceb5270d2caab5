"""`proxx probe` probes in a worker under a deadline: a hostile file costs its own row.

Real worker processes, a real FIFO behind a concat list (the probe blocks
forever), a real SIGSEGV. The control: the same concat list, probed in this
process, is still blocked when the probe limit has passed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.fake_workers import TRIGGER
from integration.processes import all_procs
from integration.watch_helpers import REPO
from proxx.contract.deadlines import Deadlines
from proxx.runtime.probing import probe_files
from testkit import run_cli

SHORT = Deadlines(accept=20.0, probe=lambda _n: 2.0)


@pytest.fixture
def hang(tmp_path: Path) -> Path:
    """A concat list whose one entry is a FIFO nobody writes: opening it blocks."""
    fifo = tmp_path / "nobody_writes"
    os.mkfifo(fifo)
    concat = tmp_path / "hang.ffconcat"
    concat.write_text(f"ffconcat version 1.0\nfile {fifo.name}\n")
    return concat


@pytest.fixture
def new_children() -> Callable[[], list[str]]:
    """Children of this process started during the test and still alive. Older ones are
    not the probe's: an xdist worker that ran a `spawn`-context test before holds
    multiprocessing's resource tracker for good (CI once failed four tests on it)."""
    before = {p.pid for p in all_procs() if p.ppid == os.getpid()}

    def alive() -> list[str]:
        return [
            f"{p.pid} {' '.join(p.argv)[:80]}"
            for p in all_procs()
            if p.ppid == os.getpid() and p.pid not in before
        ]

    return alive


def test_a_probe_that_blocks_is_one_rejected_row_and_the_next_file_is_still_answered(
    hang: Path, tiny: Path, new_children: Callable[[], list[str]]
) -> None:
    rows = probe_files([str(hang), str(tiny)], deadlines=SHORT)

    assert [r.path for r in rows] == [str(hang), str(tiny)]
    assert rows[0].engine is None
    assert "no answer within 2 s" in rows[0].reason and "killed" in rows[0].reason
    assert rows[1].engine == "ffmpeg", rows[1].reason
    assert new_children() == []  # both workers are gone (the blocked one was killed)


def test_control_the_same_file_probed_in_process_is_still_blocked_after_the_limit(
    hang: Path,
) -> None:
    from proxx.content.routing import route_source

    done = threading.Event()

    def probe() -> None:
        route_source(str(hang))
        done.set()

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    assert not done.wait(3.0)  # without the worker, `proxx probe` would hang here
    # Unblock the daemon thread: a writer opens the FIFO and closes it at once.
    os.close(os.open(hang.parent / "nobody_writes", os.O_WRONLY))
    thread.join(10.0)


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("probe_crashes_on_trigger", "was killed by SIGSEGV while probing this file"),
        ("probe_raises_on_trigger", "failed on this file: RuntimeError: libav said something new"),
    ],
)
def test_a_probe_that_ends_its_worker_is_one_row_saying_why(
    tmp_path: Path,
    tiny: Path,
    monkeypatch: pytest.MonkeyPatch,
    new_children: Callable[[], list[str]],
    target: str,
    words: str,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the fake target lives in integration/
    crash = tmp_path / f"{TRIGGER}.mov"
    crash.write_bytes(tiny.read_bytes())

    rows = probe_files(
        [str(tiny), str(crash), str(tiny)],
        deadlines=SHORT,
        target=f"integration.fake_workers:{target}",
    )

    assert [r.engine for r in rows] == ["ffmpeg", None, "ffmpeg"]
    assert words in rows[1].reason
    assert new_children() == []


def test_a_request_larger_than_one_pipe_frame_is_split_and_every_file_answered(
    tmp_path: Path, new_children: Callable[[], list[str]]
) -> None:
    # 300 paths of ~4000 bytes: 1.2 MB of names, past the pipe's 1 MiB frame cap.
    deep = str(tmp_path) + ("/" + "d" * 200) * 19
    paths = [f"{deep}/missing{i:03d}.mov" for i in range(300)]
    assert sum(len(p) for p in paths) > 1 << 20

    rows = probe_files(paths)

    assert [r.path for r in rows] == paths
    assert all(r.engine is None and "No such file or directory" in r.reason for r in rows), [
        r.reason for r in rows if "No such file" not in r.reason
    ][:1]
    assert new_children() == []


def test_no_worker_can_start_is_said_for_every_file(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import proxx.runtime.probing as probing

    def no_fork(*_a: object) -> object:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(probing, "spawn", no_fork)
    rows = probe_files([str(tiny), str(tiny)])
    assert [r.engine for r in rows] == [None, None]
    assert all("could not start a probe worker" in r.reason for r in rows)


def test_a_name_that_is_not_utf8_is_probed_like_any_other(tmp_path: Path, tiny: Path) -> None:
    latin1 = os.path.join(os.fsencode(tmp_path), b"caf\xe9.mov")
    with open(latin1, "wb") as fh:
        fh.write(tiny.read_bytes())
    odd = os.fsdecode(latin1)  # as Python hands such a name over (surrogate escapes)

    rows = probe_files([str(tiny), odd])

    assert [(r.path, r.engine) for r in rows] == [(str(tiny), "ffmpeg"), (odd, "ffmpeg")]
    proc = run_cli("probe", "--json", odd)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["path"] == odd  # byte for byte, as JSON escapes it


def test_a_path_longer_than_path_max_gets_its_row_and_is_never_sent(
    tmp_path: Path, tiny: Path
) -> None:
    long = str(tmp_path) + ("/" + "d" * 200) * 30 + "/x.mov"  # > 4096 bytes

    rows = probe_files([long, str(tiny)])

    assert rows[0].path == long and rows[0].engine is None
    assert "longer than 4096 bytes" in rows[0].reason
    assert rows[1].engine == "ffmpeg"


def test_a_worker_that_cannot_start_fails_every_file_once_with_its_own_words(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    started = time.monotonic()

    rows = probe_files(
        [str(tiny)] * 5, deadlines=SHORT, target="integration.fake_workers:probe_cannot_start"
    )

    assert [r.engine for r in rows] == [None] * 5
    words = "the probe worker could not start: ImportError: no PyAV on this box"
    assert all(words in r.reason for r in rows), rows[0].reason
    assert time.monotonic() - started < 10  # one failed start, not one per file
