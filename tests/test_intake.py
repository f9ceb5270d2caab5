"""The watch folder's name policy, alone and fast: what is a candidate, when a file is
complete, and that every name the runner derives fits in 255 bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxx.contract.fsutil import NAME_MAX, fit_name
from proxx.watch.claims import claim
from proxx.watch.folder import FatalWatchError, Layout, is_candidate
from proxx.watch.intake import Intake, balanced_object

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
OBJECTS = st.dictionaries(st.text(max_size=6), JSON, max_size=5)


def test_candidates_are_json_files_that_are_not_hidden_or_results() -> None:
    assert is_candidate("a.json")
    for name in (".a.json", "a.result.json", "a.json.tmp", "a.partial", "a.JSON", "a"):
        assert not is_candidate(name), name


@given(OBJECTS, st.sampled_from([None, 2]))
@settings(deadline=None, max_examples=60)  # a loaded CI box must not make it flaky
def test_a_complete_object_is_complete_and_no_prefix_of_it_is(
    obj: dict[str, Any], indent: int | None
) -> None:
    text = json.dumps(obj, indent=indent).encode()
    assert balanced_object(text + b"\n")
    for cut in range(1, len(text)):
        assert not balanced_object(text[:cut]), text[:cut]


def test_hostile_bytes_are_judged_without_recursion_or_error() -> None:
    assert not balanced_object(b"[" * (1 << 20))
    assert balanced_object(b"{" * 5000 + b"}" * 5000)  # complete; invalid is the worker's call
    assert not balanced_object(b"\xff\xfe{\x00}")
    assert not balanced_object(b"")


@given(st.text(min_size=1, max_size=300).filter(lambda s: "/" not in s and "\x00" not in s))
@settings(deadline=None, max_examples=200)
def test_every_derived_name_fits_in_255_bytes(name: str) -> None:
    layout = Layout("/w")
    spec = name[:200] + ".json"
    paths = [
        layout.sidecar(spec),
        layout.staged_result(spec, 18446744073709551615),
        layout.legacy_staged_result(spec),
        *layout.final_pair("failed", spec, 7),
    ]
    for path in paths:
        assert len(os.path.basename(path).encode("utf-8", "surrogateescape")) <= NAME_MAX, path


def test_shortened_names_stay_distinct() -> None:
    a, b = "x" * 250 + "a", "x" * 250 + "b"
    assert fit_name(a, ".result.json") != fit_name(b, ".result.json")
    assert fit_name("short", ".json") == "short.json"


def test_a_file_still_being_written_waits_and_a_finished_one_goes(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    os.makedirs(layout.pending)
    intake = Intake(layout)
    half = Path(layout.pending) / "half.json"
    half.write_text('{"sources": ["a.mov"')
    whole = Path(layout.pending) / "whole.json"
    whole.write_text('{"sources": ["a.mov"]}\n')
    assert intake.scan() == ["half.json", "whole.json"]
    assert not intake.ready("half.json")
    assert intake.ready("whole.json")
    os.utime(half, (1, 1))  # unchanged for long enough: hand it on (its error is the worker's)
    assert intake.ready("half.json")


def test_staged_names_are_unique_per_claimed_file_even_for_crafted_names() -> None:
    # A name crafted to be another's shortened form shared its staged result before.
    layout = Layout("/w")
    long_name = "x" * 300 + ".json"
    crafted = layout.legacy_staged_result(long_name).split("/")[-1].replace(".result", "")
    assert layout.legacy_staged_result(crafted) == layout.legacy_staged_result(long_name)
    assert layout.staged_result(crafted, 12) != layout.staged_result(long_name, 13)
    assert layout.staged_result(long_name, 12).endswith(".12.staged.json")


def _swap_for_a_link(folder: Path, target: Path) -> None:
    os.rename(folder, folder.with_name(folder.name + ".old"))
    folder.symlink_to(target)


def test_a_pending_folder_swapped_for_a_link_is_never_read_through(tmp_path: Path) -> None:
    """Between two looks, pending/ becomes a link to another folder: the intake, which
    opened pending/ once, neither lists nor claims that folder's files."""
    layout = Layout(str(tmp_path))
    layout.ensure()
    other = tmp_path / "other"
    other.mkdir()
    (other / "victim.json").write_text("{}\n")
    intake = Intake(layout)
    assert intake.scan() == []  # pending/ is opened here
    _swap_for_a_link(Path(layout.pending), other)
    try:
        assert intake.scan() == []
        assert intake.take("victim.json") is None
        assert os.listdir(other) == ["victim.json"] and os.listdir(layout.running) == []
        with pytest.raises(FatalWatchError, match=r"is a symbolic link|has become a symbolic"):
            layout.check()
    finally:
        intake.close()


def test_control_an_intake_reading_by_path_would_take_the_other_folders_file(
    tmp_path: Path,
) -> None:
    """What the pinned folder prevents: the same swap, read by path, takes the file."""
    layout = Layout(str(tmp_path))
    layout.ensure()
    other = tmp_path / "other"
    other.mkdir()
    (other / "victim.json").write_text("{}\n")
    _swap_for_a_link(Path(layout.pending), other)
    got = claim(os.path.join(layout.pending, "victim.json"), layout.running)
    assert got is not None and os.listdir(layout.running) == ["victim.json"]
    got.release()


def test_a_state_folder_that_is_a_link_or_was_replaced_is_fatal(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path / "w"))
    os.makedirs(layout.root)
    (tmp_path / "elsewhere").mkdir()
    Path(layout.dir("failed")).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FatalWatchError, match=r"failed is a symbolic link \(to .*elsewhere\)"):
        layout.ensure()
    os.unlink(layout.dir("failed"))
    layout.ensure()
    os.rename(layout.dir("completed"), tmp_path / "moved")
    os.makedirs(layout.dir("completed"))  # a folder again, but not the runner's
    with pytest.raises(FatalWatchError, match="completed was replaced by another folder"):
        layout.check()
