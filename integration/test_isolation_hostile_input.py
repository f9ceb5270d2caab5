"""Isolation: hostile JobSpecs, names and media cost only their own job.

The supervisor moves names; workers handle content. JobSpecs nested past any
parser's depth, NUL bytes, UTF-16, 250-byte names, names that are not UTF-8 and a
source whose probe blocks: each ends in completed/ or failed/ with a result beside
it, the good job completes, the runner lives on and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from integration.processes import wait_for
from integration.watch_folder import drop, listing, put, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from proxx.watch.folder import result_beside

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
        put(root / where, name, data)
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


@pytest.mark.slow
@pytest.mark.parametrize("where", ["pending", "running"])
def test_a_file_name_that_is_not_utf8_is_filed_with_a_result(
    root: Path, out: Path, tiny: Path, launcher: Launcher, where: str
) -> None:
    latin1 = os.fsdecode(b"caf\xe9.json")  # a Latin-1 name from an old SMB share
    put(root / where, latin1, json.dumps(spec([tiny], out, output_name_template="cafe")).encode())
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
