"""`proxx remainder`: the rest of an unfinished job, with the names the job would have given.

Most cases use results written here (the logic is about which clips remain
and how they are named); one test takes a real PARTIAL `proxx run` through
remainder, validate and run. The watch-folder story (SIGTERM mid-job) is in
integration/test_remainder_watch.py.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxx.content.plan import output_names, resolve_sources
from proxx.content.spec import fingerprint, load_spec
from proxx.contract.results import NO_FINGERPRINT
from proxx.remainder import RemainderRefused, remainder
from testkit import (
    ffprobe_video,
    identity,
    remainder_planned,
    run_cli,
    spec_dict,
    spec_in,
    truncated_copy,
    visible,
)


def write_job(
    folder: Path,
    sources: list[str],
    statuses: list[str] | None,
    *,
    result_extra: dict[str, Any] | None = None,
    jobspec_at: Path | None = None,
    **overrides: Any,
) -> tuple[Path, dict[str, Any]]:
    """A JobSpec and a result for it (as Proxx writes them); returns the result path."""
    obj = spec_dict(sources, folder / "out", **overrides)
    spec_path = jobspec_at or folder / "job.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(obj))
    spec = load_spec(spec_path.read_bytes())
    base = spec_path.parent
    if base.name in ("failed", "completed"):  # a watch folder: sources resolve at its root
        base = base.parent
    absolute = resolve_sources(spec, str(base))
    outs = output_names(spec, absolute)
    clips = [
        {"source_path": s, "output_path": str(folder / "out" / n), "status": st}
        for s, n, st in zip(absolute, outs, statuses or [], strict=False)
    ]
    done = sum(c["status"] == "COMPLETED" for c in clips)
    res: dict[str, Any] = {
        "job_id": "0123456789ab",
        "status": "PARTIAL" if done else "FAILED",
        "clips": clips,
        "validation_error": None,
        "jobspec_fingerprint": fingerprint(obj),
        "_metadata": {"jobspec_path": str(spec_path)},
    }
    res.update(result_extra or {})
    result_path = spec_path.with_name(spec_path.stem + ".result.json")
    result_path.write_text(json.dumps(res))
    return result_path, obj


SRC = ["cam/A.mov", "cam/B.mov", "cam/C.mov"]


def indexed_job(folder: Path, statuses: list[str], **extra: Any) -> tuple[Path, dict[str, Any]]:
    """The SRC job, its outputs named {index}_{source_name}, with these clip statuses."""
    return write_job(folder, SRC, statuses, output_name_template="{index}_{source_name}", **extra)


def test_partial_with_index_keeps_numbers_in_jobspec_1_1_0(tmp_path: Path) -> None:
    path, obj = indexed_job(
        tmp_path, ["COMPLETED", "FAILED", "SKIPPED"], user_metadata={"project": "X", "day": 1}
    )
    rem = remainder(str(path))
    new = rem.spec
    assert new["jobspec_version"] == "1.1.0"
    assert new["sources"] == [str(tmp_path / "cam/B.mov"), str(tmp_path / "cam/C.mov")]
    assert (new["source_indices"], new["source_count"]) == ([2, 3], 3)
    # Every other field is the original's, created_at and user_metadata included.
    assert {
        k: v
        for k, v in new.items()
        if k not in ("jobspec_version", "sources", "source_indices", "source_count")
    } == {k: v for k, v in obj.items() if k not in ("jobspec_version", "sources")}
    spec = load_spec(rem.to_json().encode())
    assert output_names(spec, list(spec.sources)) == ["002_B.mov", "003_C.mov"]
    assert [(c.number, c.status) for c in rem.clips] == [(2, "FAILED"), (3, "SKIPPED")]


def test_padding_of_a_long_job_is_kept(tmp_path: Path) -> None:
    sources = [f"cam/{i}.mov" for i in range(1, 1201)]
    statuses = ["COMPLETED"] * 1199 + ["FAILED"]
    path, _ = write_job(tmp_path, sources, statuses, output_name_template="{index}")
    spec = load_spec(remainder(str(path)).to_json().encode())
    assert output_names(spec, list(spec.sources)) == ["1200.mov"]
    # Control: renumbered from 1, the same clip would be 001.
    assert output_names(
        load_spec(
            json.dumps(spec_dict(["/x/1200.mov"], "/o", output_name_template="{index}")).encode()
        ),
        ["/x/1200.mov"],
    ) == ["001.mov"]


def test_first_clip_failed_stays_1_0_0(tmp_path: Path) -> None:
    path, obj = indexed_job(tmp_path, ["FAILED", "SKIPPED", "SKIPPED"])
    new = remainder(str(path)).spec
    assert new == {**obj, "sources": [str(tmp_path / s) for s in SRC]}


def test_without_index_in_the_template_stays_1_0_0(tmp_path: Path) -> None:
    path, obj = write_job(tmp_path, SRC, ["COMPLETED", "FAILED", "SKIPPED"])
    new = remainder(str(path)).spec
    assert new == {**obj, "sources": [str(tmp_path / s) for s in SRC[1:]]}


def test_interrupted_before_any_clip_ran_keeps_every_source(tmp_path: Path) -> None:
    path, _ = write_job(
        tmp_path,
        SRC,
        None,
        output_name_template="{index}",
        result_extra={
            "interrupted": "proxx run received SIGTERM while probing sources; nothing was executed"
        },
    )
    rem = remainder(str(path))
    assert len(rem.clips) == 3 and rem.spec["jobspec_version"] == "1.0.0"
    assert {c.status for c in rem.clips} == {"not run"}


def test_a_watch_job_that_never_reached_a_worker_remains_whole(tmp_path: Path) -> None:
    # Cancelled in the queue or requeued at launch: the runner never read the JobSpec,
    # so its result has no fingerprint and no clips. It used to be refused as "not
    # the JobSpec this result was made from".
    root = tmp_path / "watch"
    path, _ = write_job(
        tmp_path,
        SRC,
        None,
        jobspec_at=root / "failed" / "job.json",
        result_extra={
            "jobspec_fingerprint": NO_FINGERPRINT,
            "interrupted": "Slurm requeued job 7 after node node3 failed at launch; "
            "cancelled, not run; nothing was executed",
            "_metadata": {
                "jobspec_path": str(root / "running" / "job.json"),
                "final_jobspec_path": str(root / "failed" / "job.json"),
            },
        },
    )
    rem = remainder(str(path))
    assert rem.spec["sources"] == [str(root / s) for s in SRC]
    assert {c.status for c in rem.clips} == {"not run"}
    # control: a result that has clips must still match the JobSpec's fingerprint
    res = json.loads(path.read_text())
    res["clips"] = [{"source_path": str(root / s), "status": "FAILED"} for s in SRC]
    path.write_text(json.dumps(res))
    with pytest.raises(RemainderRefused, match="not the JobSpec this result was made from"):
        remainder(str(path))


def test_remainder_of_a_remainder(tmp_path: Path) -> None:
    path, _ = write_job(
        tmp_path,
        SRC[1:],
        ["COMPLETED", "FAILED"],
        jobspec_version="1.1.0",
        output_name_template="{index}_{source_name}",
        source_indices=[2, 3],
        source_count=3,
    )
    new = remainder(str(path)).spec
    assert (new["source_indices"], new["source_count"]) == ([3], 3)
    spec = load_spec(json.dumps(new).encode())
    assert output_names(spec, list(spec.sources)) == ["003_C.mov"]


def test_watch_folder_result_resolves_sources_at_the_watch_root(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    path, _ = write_job(
        tmp_path,
        SRC,
        ["COMPLETED", "FAILED", "SKIPPED"],
        jobspec_at=root / "failed" / "job.json",
        result_extra={
            "_metadata": {
                "jobspec_path": str(root / "running" / "job.json"),
                "final_jobspec_path": str(root / "failed" / "job.json"),
            }
        },
    )
    assert remainder(str(path)).spec["sources"] == [str(root / s) for s in SRC[1:]]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("completed", "is COMPLETED: every clip was rendered and verified, nothing remains"),
        ("validation", "failed validation, so nothing ran"),
        ("edited", "is not the JobSpec this result was made from"),
        ("gone", "cannot find the original JobSpec"),
        ("not_a_result", "is not a Proxx result"),
        ("other_sources", "but the JobSpec's source 2 resolves to"),
    ],
)
@pytest.mark.e2e
def test_refusals_say_why(tmp_path: Path, case: str, expected: str) -> None:
    statuses = ["COMPLETED"] * 3 if case == "completed" else ["COMPLETED", "FAILED", "SKIPPED"]
    extra: dict[str, Any] = {"status": "COMPLETED"} if case == "completed" else {}
    if case == "validation":
        extra = {"validation_error": "output already exists (Proxx never overwrites): /o/x"}
    path, obj = write_job(tmp_path, SRC, statuses, result_extra=extra)
    if case == "edited":
        (tmp_path / "job.json").write_text(json.dumps({**obj, "codec": "hevc"}))
    elif case == "gone":
        (tmp_path / "job.json").unlink()
    elif case == "not_a_result":
        path.write_text(json.dumps({"hello": 1}))
    elif case == "other_sources":
        res = json.loads(path.read_text())
        res["clips"][1]["source_path"] = "/elsewhere/B.mov"
        path.write_text(json.dumps(res))
    with pytest.raises(RemainderRefused) as info:
        remainder(str(path))
    assert expected in str(info.value)
    proc = run_cli("remainder", str(path))
    assert proc.returncode == 1 and proc.stdout == ""
    assert expected in proc.stderr


@pytest.mark.e2e
def test_cli_writes_with_o_and_never_overwrites(tmp_path: Path) -> None:
    path, _ = indexed_job(tmp_path, ["COMPLETED", "FAILED", "SKIPPED"])
    printed = run_cli("remainder", str(path))
    assert printed.returncode == 0, printed.stderr
    assert "2 of 3 clip(s) remain" in printed.stderr and "002_B.mov" in printed.stderr
    target = tmp_path / "rest.json"
    wrote = run_cli("remainder", str(path), "-o", str(target))
    assert wrote.returncode == 0, wrote.stderr
    assert wrote.stdout == "" and json.loads(target.read_text()) == json.loads(printed.stdout)
    target.write_text("mine")
    again = run_cli("remainder", str(path), "-o", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert target.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["job.json", "job.result.json", "rest.json"]
    nowhere = run_cli("remainder", str(path), "-o", str(tmp_path / "no" / "such" / "x.json"))
    assert nowhere.returncode == 1 and "cannot write" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def test_real_partial_run_then_remainder_renders_the_rest_under_the_original_names(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    good = clip("faststart.mov", extra=["-movflags", "+faststart"])
    cam = tmp_path / "cam"
    cam.mkdir()
    shutil.copy(good, cam / "A.mov")
    truncated_copy(good, cam / "B.mov")  # probes fine, fails to render
    shutil.copy(good, cam / "C.mov")
    spec_path, out = spec_in(tmp_path, SRC, output_name_template="{index}_{source_name}")
    first = run_cli("run", str(spec_path))
    assert first.returncode == 3, first.stderr
    result_path = tmp_path / "job.result.json"
    result_path.write_text(first.stdout)
    original = json.loads(first.stdout)
    assert [c["status"] for c in original["clips"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    done = Path(original["clips"][0]["output_path"])
    before = identity(done)

    rest = tmp_path / "rest.json"
    planned = remainder_planned(result_path, rest)
    assert planned == [c["output_path"] for c in original["clips"][1:]]

    shutil.copy(good, cam / "B.mov")  # the operator replaces the damaged source
    second = run_cli("run", str(rest))
    assert second.returncode == 0, second.stderr
    assert visible(out) == ["001_A.mov", "002_B.mov", "003_C.mov"]
    for c in original["clips"]:
        assert ffprobe_video(c["output_path"])["codec_name"] == "h264"
    assert identity(done) == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    total=st.integers(1, 1500),
    data=st.data(),
    template=st.sampled_from(
        [
            "{index}",
            "{index}_{source_name}",
            "{source_name}_{codec}",
            "p{index}-{date}{time}",
            "{source_name}",
        ]
    ),
)
def test_remainder_names_are_the_original_names(
    tmp_path_factory: pytest.TempPathFactory, total: int, data: st.DataObject, template: str
) -> None:
    # What runs produce: some COMPLETED, then one FAILED, the rest SKIPPED.
    done = data.draw(st.integers(0, total - 1))
    statuses = ["COMPLETED"] * done + ["FAILED"] + ["SKIPPED"] * (total - done - 1)
    folder = tmp_path_factory.mktemp("prop")
    sources = [f"cam/clip{i}.mov" for i in range(total)]
    path, _ = write_job(folder, sources, statuses, output_name_template=template)
    original = [Path(c["output_path"]).name for c in json.loads(path.read_text())["clips"]]
    spec = load_spec(remainder(str(path)).to_json().encode())
    assert output_names(spec, list(spec.sources)) == original[done:]
